"""Subscriptions, events and deliveries.

Delivery is at least once: a delivery row is written in the transaction that recorded the
event, and published through the outbox (`healthtrack.core.outbox`) to the Celery task
`webhooks.deliver`. A failed attempt (no 2xx within the timeout, or an address that no longer
passes the URL rules) is tried again after an exponential backoff with jitter, by the beat task
`webhooks.retry_due`, until WEBHOOKS_RETRY_HOURS after the event; then it is given up.
WEBHOOKS_DISABLE_AFTER_FAILURES failed attempts in a row (no success between) disable the
subscription and the app's owner is e-mailed.

Ordering: each subscription numbers its events (`sequence`, strictly increasing in the order
the events were committed for that patient). First attempts are published in that order, but
a retried delivery arrives after later ones: receivers order by `sequence` and drop an
`event_id` they have already seen."""

from __future__ import annotations

import http.client
import json
import logging
import random
import secrets
import socket
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import mail_admins, send_mail
from django.db import transaction
from django.utils import timezone

from accounts.models import ConnectedApp
from healthtrack.core.outbox import enqueue_on_commit
from healthtrack.core.prepared import prepared_cursor
from healthtrack.webhooks import signing, urlcheck
from healthtrack.webhooks.models import WebhookDelivery, WebhookSubscription

logger = logging.getLogger(__name__)
Status = WebhookDelivery.Status

# Event type -> the scope the app must hold for it.
EVENTS = {
    "observation.created": "patient/Observation.rs",
    "observation.deleted": "patient/Observation.rs",
    "alert.raised": "patient/Observation.rs",
    "goal.achieved": "patient/Goal.rs",
    "import.finished": "patient/Observation.rs",
}
BACKOFF_BASE_SECONDS = 30
# A delivery whose first attempt never ran (a lost task) is picked up by `retry_due` after this.
FIRST_ATTEMPT_GRACE = timedelta(minutes=5)
BACKOFF_CAP_SECONDS = 6 * 3600


class SubscriptionInvalid(ValueError):
    pass


def _scopes(connected_app: ConnectedApp) -> set[str]:
    return set(connected_app.scope.split())


@transaction.atomic
def subscription_create(
    *, connected_app: ConnectedApp, url: str, events: list[str]
) -> WebhookSubscription:
    """Check the URL and the events against the app's consent; the secret is on the returned
    object (show it to the app once)."""
    if connected_app.revoked_at is not None:
        raise SubscriptionInvalid("The patient disconnected this app.")
    unknown = sorted(set(events) - set(EVENTS))
    if not events or unknown:
        raise SubscriptionInvalid(f"Unknown event types: {', '.join(unknown) or '(none given)'}.")
    missing = sorted({EVENTS[e] for e in events} - _scopes(connected_app))
    if missing:
        raise SubscriptionInvalid(f"The app lacks the scope {', '.join(missing)}.")
    try:
        urlcheck.check(url)
    except urlcheck.UnsafeURL as exc:
        raise SubscriptionInvalid(str(exc)) from exc
    return WebhookSubscription.objects.create(
        connected_app=connected_app,
        url=url,
        events=sorted(set(events)),
        secret=secrets.token_urlsafe(32),
    )


# The check every measurement write makes (`receivers.on_changes_recorded`): plain SQL, as
# the ORM's building of this join cost more than the query.
_HAS_SUBSCRIPTIONS_SQL = """
SELECT 1 FROM webhooks_webhooksubscription s
JOIN accounts_connectedapp a ON a.id = s.connected_app_id
WHERE a.patient_id = %s AND a.revoked_at IS NULL AND s.disabled_at IS NULL
LIMIT 1
"""


#: A measurement write's question, answered in the change feed's statement
#: (`healthtrack.changes.services.record_upserts`' `ask`): whether the patient has a live
#: subscription; `receivers.on_changes_recorded` then runs no statement of its own.
SUBSCRIBED = "webhooks.subscribed"
_SUBSCRIBED_SQL = f"SELECT EXISTS ({_HAS_SUBSCRIPTIONS_SQL})"  # noqa: S608


def subscribed_question(patient_id: int) -> tuple[str, list]:
    return _SUBSCRIBED_SQL, [patient_id]


def has_subscriptions(*, patient_id: int) -> bool:
    """Whether the patient has a live subscription (of an app they have not disconnected)."""
    with prepared_cursor() as cursor:
        cursor.execute(_HAS_SUBSCRIPTIONS_SQL, [patient_id])
        return cursor.fetchone() is not None


def event_record(*, patient_id: int, event_type: str, data: dict) -> list[WebhookDelivery]:
    """One delivery per live subscription of the patient's connected apps that asked for the
    event, in the caller's transaction; each published through the outbox after commit."""
    deliveries = []
    with transaction.atomic():
        subscriptions = (
            WebhookSubscription.objects.select_for_update()
            .filter(
                connected_app__patient_id=patient_id,
                connected_app__revoked_at__isnull=True,
                disabled_at__isnull=True,
            )
            .select_related("connected_app")
            .order_by("pk")
        )
        for subscription in subscriptions:
            if event_type not in subscription.events:
                continue
            if EVENTS[event_type] not in _scopes(subscription.connected_app):
                continue
            delivery = WebhookDelivery(
                subscription=subscription,
                event_type=event_type,
                sequence=0,
                payload={},
                next_attempt_at=timezone.now() + FIRST_ATTEMPT_GRACE,
            )
            delivery.sequence = subscription.next_sequence
            delivery.payload = {
                "id": str(delivery.event_id),
                "type": event_type,
                "sequence": delivery.sequence,
                "occurred_at": timezone.now().isoformat(),
                "patient": f"user-{patient_id}",
                "data": data,
            }
            delivery.save()
            subscription.next_sequence += 1
            subscription.save(update_fields=["next_sequence"])
            enqueue_on_commit("webhooks.deliver", {"delivery_id": delivery.pk})
            deliveries.append(delivery)
    return deliveries


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that passed the URL check, whatever DNS says now."""

    def __init__(self, host, port, *, ip, timeout):
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self):
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, *, ip, timeout):
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self):
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    scheme, host, port, ip = urlcheck.check(url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = cls(host, port, ip=ip, timeout=settings.WEBHOOKS_TIMEOUT_SECONDS)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(4096)  # the answer is not used; never read much of it
        return response.status
    finally:
        connection.close()


def backoff_seconds(attempts: int) -> float:
    """Exponential (30 s, 1 min, 2 min, … capped at 6 h) with ±50 % jitter."""
    base = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)
    return base * random.uniform(0.5, 1.5)


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()


def attempt(*, delivery_id: int, now: datetime | None = None) -> str:
    """One attempt at a pending delivery of a live subscription; returns its status after."""
    now = now or timezone.now()
    delivery = WebhookDelivery.objects.select_related("subscription__connected_app").get(
        pk=delivery_id
    )
    subscription = delivery.subscription
    if delivery.status != Status.PENDING or subscription.disabled_at is not None:
        return delivery.status
    body = body_of(delivery)
    code, error = None, ""
    if len(body) > settings.WEBHOOKS_MAX_BODY_BYTES:
        error = "payload larger than WEBHOOKS_MAX_BODY_BYTES"
    else:
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HealthTrack-Webhooks/1",
            "HealthTrack-Event": delivery.event_type,
            "HealthTrack-Delivery": str(delivery.event_id),
            signing.HEADER: signing.sign(
                secret=subscription.secret, timestamp=timestamp, body=body
            ),
        }
        try:
            code = _post(subscription.url, body, headers)
        except urlcheck.UnsafeURL as exc:
            error = str(exc)
        except (OSError, http.client.HTTPException) as exc:
            error = type(exc).__name__
    return _record(delivery, code=code, error=error, now=now)


@transaction.atomic
def _record(delivery: WebhookDelivery, *, code: int | None, error: str, now: datetime) -> str:
    subscription = WebhookSubscription.objects.select_for_update().get(pk=delivery.subscription_id)
    delivery.attempts += 1
    delivery.last_status_code = code
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
            Status.SUCCEEDED,
            now,
            None,
        )
        delivery.last_error = ""
        subscription.consecutive_failures = 0
    else:
        delivery.last_error = (error or f"HTTP {code}")[:200]
        retry_at = now + timedelta(seconds=backoff_seconds(delivery.attempts))
        if retry_at > delivery.created_at + timedelta(hours=settings.WEBHOOKS_RETRY_HOURS):
            delivery.status, delivery.next_attempt_at = Status.FAILED, None
        else:
            delivery.next_attempt_at = retry_at
        subscription.consecutive_failures += 1
        if (
            subscription.disabled_at is None
            and subscription.consecutive_failures >= settings.WEBHOOKS_DISABLE_AFTER_FAILURES
        ):
            subscription.disabled_at = now
            subscription.disabled_reason = (
                f"{subscription.consecutive_failures} failed deliveries in a row"
            )
            transaction.on_commit(lambda: _tell_owner(subscription.pk), robust=True)
    delivery.save()
    subscription.save(update_fields=["consecutive_failures", "disabled_at", "disabled_reason"])
    return delivery.status


def _tell_owner(subscription_id: int) -> None:
    subscription = WebhookSubscription.objects.select_related(
        "connected_app__application__user"
    ).get(pk=subscription_id)
    application = subscription.connected_app.application
    subject = f"HealthTrack webhook disabled: {application.name}"
    body = (
        f"The webhook subscription {subscription.pk} of {application.name} to "
        f"{subscription.url} was disabled after {subscription.disabled_reason}. "
        "Fix the receiver, then ask for it to be enabled again; missed events can be replayed."
    )
    owner = application.user
    if owner is not None and owner.email:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [owner.email])
    else:
        mail_admins(subject, body)


def retry_due(*, now: datetime | None = None, batch: int = 200) -> int:
    """Attempt the pending deliveries whose retry time has come (beat, every minute)."""
    now = now or timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(
            status=Status.PENDING,
            next_attempt_at__lte=now,
            subscription__disabled_at__isnull=True,
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:batch]
    )
    for pk in ids:
        attempt(delivery_id=pk, now=now)
    return len(ids)


@transaction.atomic
def replay(*, deliveries) -> int:
    """Send these deliveries again (same event id and sequence, a fresh signature)."""
    count = 0
    for delivery in deliveries:
        delivery.created_at = timezone.now()  # a fresh 24 h of retries
        delivery.status = Status.PENDING
        delivery.next_attempt_at = delivery.created_at + FIRST_ATTEMPT_GRACE
        delivery.save(update_fields=["status", "next_attempt_at", "created_at"])
        enqueue_on_commit("webhooks.deliver", {"delivery_id": delivery.pk})
        count += 1
    return count


def replay_range(*, subscription: WebhookSubscription, start: datetime, end: datetime) -> int:
    return replay(
        deliveries=subscription.deliveries.filter(
            created_at__gte=start, created_at__lt=end
        ).order_by("sequence")
    )
