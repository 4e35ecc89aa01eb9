"""Signed webhooks delivered to a real HTTP server on 127.0.0.1 (http.server in a thread):
signature, ordering by sequence, retries with backoff, giving up, disabling, URL rules."""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import ConnectedApp
from accounts.oauth import app_connection_approve, app_connection_revoke
from goals.services import goal_create
from healthtrack.portability.models import ImportJob
from healthtrack.portability.services import import_job_execute
from healthtrack.webhooks import services, signing
from healthtrack.webhooks.models import WebhookDelivery, WebhookSubscription
from metrics.models import HealthMetric
from metrics.services import device_sync, metric_create, metric_delete
from tests.accounts.factories import UserFactory
from tests.accounts.oauth_helpers import bearer, clinic_app, issued_token, public_app
from tests.goals.factories import days_ago, today
from tests.goals.factories import measure as goal_measure
from tests.insights.factories import AlertFactory
from tests.metrics.factories import BASE, DeviceFactory

pytestmark = pytest.mark.django_db
Status = WebhookDelivery.Status


class Receiver:
    """Answers each POST with the next code of `codes` (then 200) and keeps what it got."""

    def __init__(self, codes=()):
        self.codes = list(codes)
        self.received: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks?x=1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def payloads(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback_allowed(settings):
    settings.WEBHOOKS_REQUIRE_HTTPS = False
    settings.WEBHOOKS_ALLOWED_PRIVATE_ADDRESSES = ["127.0.0.1"]
    return settings


@pytest.fixture
def receiver():
    made = []

    def make(codes=()):
        made.append(Receiver(codes))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def connection(user):
    return app_connection_approve(
        application=public_app(),
        patient=user,
        approved_by=user,
        scopes=["patient/Observation.rs", "offline_access"],
    )


def measure(user, minute: int, commit):
    with commit(execute=True):
        return metric_create(
            user=user,
            metric_type="heart_rate",
            value=70,
            recorded_at=BASE + timedelta(minutes=minute),
        )


def test_a_new_measurement_is_delivered_signed_and_verifiable(
    user, connection, loopback_allowed, receiver, django_capture_on_commit_callbacks
):
    hook = receiver()
    sub = services.subscription_create(
        connected_app=connection, url=hook.url, events=["observation.created"]
    )
    metric = measure(user, 0, django_capture_on_commit_callbacks)

    assert len(hook.received) == 1
    headers, body = hook.received[0]
    assert headers["HealthTrack-Event"] == "observation.created"
    assert signing.verify(
        secret=sub.secret,
        header=headers[signing.HEADER],
        body=body,
        now=int(time.time()),
        window=300,
    )
    assert not signing.verify(
        secret="wrong", header=headers[signing.HEADER], body=body, now=int(time.time()), window=300
    )
    too_late = int(time.time()) + 301
    assert not signing.verify(
        secret=sub.secret, header=headers[signing.HEADER], body=body, now=too_late, window=300
    )
    payload = json.loads(body)
    assert payload["data"] == {"resourceType": "Observation", "id": f"metric-{metric.pk}"}
    assert payload["patient"] == f"user-{user.pk}" and "value" not in json.dumps(payload)
    assert WebhookDelivery.objects.get().status == Status.SUCCEEDED


def test_events_carry_increasing_sequences_in_commit_order_and_deletions_too(
    user, connection, loopback_allowed, receiver, django_capture_on_commit_callbacks
):
    hook = receiver()
    services.subscription_create(
        connected_app=connection,
        url=hook.url,
        events=["observation.created", "observation.deleted"],
    )
    first = measure(user, 0, django_capture_on_commit_callbacks)
    second = measure(user, 1, django_capture_on_commit_callbacks)
    first_id = first.pk
    with django_capture_on_commit_callbacks(execute=True):
        metric_delete(metric=first)

    got = [(p["sequence"], p["type"], p["data"]["id"]) for p in hook.payloads()]
    assert got == [
        (1, "observation.created", f"metric-{first_id}"),
        (2, "observation.created", f"metric-{second.pk}"),
        (3, "observation.deleted", f"metric-{first_id}"),
    ]


def test_a_device_sync_delivers_one_created_event_per_stored_sample_in_order(
    user, connection, loopback_allowed, receiver, django_capture_on_commit_callbacks
):
    # The change feed stores the sync's new ids as one span; the deliveries are per record.
    hook = receiver()
    services.subscription_create(
        connected_app=connection, url=hook.url, events=["observation.created"]
    )
    device = DeviceFactory(user=user)
    samples = [
        {
            "metric_type": "heart_rate",
            "value": 60 + i,
            "recorded_at": (BASE + timedelta(minutes=i)).isoformat(),
        }
        for i in range(5)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        device_sync(user=user, device=device, samples=samples, idempotency_key="one")

    ids = list(HealthMetric.objects.filter(user=user).order_by("pk").values_list("pk", flat=True))
    got = [(p["sequence"], p["type"], p["data"]["id"]) for p in hook.payloads()]
    assert got == [(n, "observation.created", f"metric-{pk}") for n, pk in enumerate(ids, 1)]


def test_a_receiver_failing_twice_gets_it_on_the_third_try_with_growing_delays(
    user, connection, loopback_allowed, receiver, django_capture_on_commit_callbacks
):
    hook = receiver(codes=[500, 503])
    services.subscription_create(
        connected_app=connection, url=hook.url, events=["observation.created"]
    )
    measure(user, 0, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    first_wait = delivery.next_attempt_at - timezone.now()

    assert services.retry_due(now=delivery.next_attempt_at - timedelta(seconds=1)) == 0
    assert services.retry_due(now=delivery.next_attempt_at) == 1
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code) == (2, 503)
    second_wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=14) <= first_wait <= timedelta(seconds=46)
    assert second_wait > first_wait - timedelta(seconds=1)

    services.retry_due(now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 3, 200)
    ids = {p["id"] for p in hook.payloads()}
    assert len(hook.received) == 3 and len(ids) == 1  # the same event each time


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    for attempts in range(1, 8):
        base = 30 * 2 ** (attempts - 1)
        assert base * 0.5 <= services.backoff_seconds(attempts) <= base * 1.5
    assert services.backoff_seconds(30) <= 6 * 3600 * 1.5
    assert len({services.backoff_seconds(3) for _ in range(20)}) > 1


def test_a_delivery_is_given_up_after_the_retry_period(
    user, connection, loopback_allowed, receiver, django_capture_on_commit_callbacks
):
    hook = receiver(codes=[500] * 3)
    services.subscription_create(
        connected_app=connection, url=hook.url, events=["observation.created"]
    )
    measure(user, 0, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    services.attempt(
        delivery_id=delivery.pk,
        now=delivery.created_at + timedelta(hours=23, minutes=59, seconds=45),
    )
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED and delivery.next_attempt_at is None


def test_repeated_failure_disables_the_subscription_and_mails_the_owner(
    user, loopback_allowed, receiver, django_capture_on_commit_callbacks
):
    loopback_allowed.WEBHOOKS_DISABLE_AFTER_FAILURES = 2
    owner = UserFactory(email="dev@example.org")
    app = clinic_app(owner, name="Clinic Hooks")
    connection = app_connection_approve(
        application=app, patient=user, approved_by=user, scopes=["patient/Observation.rs"]
    )
    hook = receiver(codes=[500] * 5)
    sub = services.subscription_create(
        connected_app=connection, url=hook.url, events=["observation.created"]
    )
    measure(user, 0, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.retry_due(now=timezone.now() + timedelta(hours=1))

    sub.refresh_from_db()
    assert sub.disabled_at is not None and sub.consecutive_failures == 2
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["dev@example.org"]
    assert "Clinic Hooks" in mail.outbox[0].subject
    measure(user, 1, django_capture_on_commit_callbacks)
    assert WebhookDelivery.objects.count() == 1  # no new deliveries to a disabled one


def test_replay_of_one_delivery_and_of_a_time_range(
    user, connection, loopback_allowed, receiver, django_capture_on_commit_callbacks
):
    hook = receiver()
    sub = services.subscription_create(
        connected_app=connection, url=hook.url, events=["observation.created"]
    )
    measure(user, 0, django_capture_on_commit_callbacks)
    measure(user, 1, django_capture_on_commit_callbacks)
    first = WebhookDelivery.objects.order_by("sequence").first()
    with django_capture_on_commit_callbacks(execute=True):
        services.replay(deliveries=[first])
    assert [p["sequence"] for p in hook.payloads()] == [1, 2, 1]
    with django_capture_on_commit_callbacks(execute=True):
        count = services.replay_range(
            subscription=sub,
            start=timezone.now() - timedelta(hours=1),
            end=timezone.now() + timedelta(hours=1),
        )
    assert count == 2
    assert [p["sequence"] for p in hook.payloads()][3:] == [1, 2]


def test_urls_must_be_https_and_public_when_subscribing(connection, settings):
    settings.WEBHOOKS_REQUIRE_HTTPS = True
    settings.WEBHOOKS_ALLOWED_PRIVATE_ADDRESSES = []
    for url, why in [
        ("http://example.org/hook", "https"),
        ("https://127.0.0.1/hook", "private, loopback"),
        ("https://10.1.2.3/hook", "private, loopback"),
        ("https://169.254.169.254/latest", "private, loopback"),
        ("https://[::1]/hook", "private, loopback"),
        ("ftp://example.org/", "https://"),
    ]:
        with pytest.raises(services.SubscriptionInvalid, match=why):
            services.subscription_create(
                connected_app=connection, url=url, events=["observation.created"]
            )


def test_unknown_events_and_missing_scopes_are_refused(user, loopback_allowed):
    connection = app_connection_approve(
        application=public_app(), patient=user, approved_by=user, scopes=["patient/Goal.rs"]
    )
    with pytest.raises(services.SubscriptionInvalid, match="Unknown event types: nope"):
        services.subscription_create(
            connected_app=connection, url="http://127.0.0.1:9/", events=["nope"]
        )
    with pytest.raises(services.SubscriptionInvalid, match="patient/Observation.rs"):
        services.subscription_create(
            connected_app=connection, url="http://127.0.0.1:9/", events=["observation.created"]
        )


def test_the_address_is_checked_again_at_delivery(
    user, connection, loopback_allowed, receiver, django_capture_on_commit_callbacks
):
    hook = receiver()
    services.subscription_create(
        connected_app=connection, url=hook.url, events=["observation.created"]
    )
    loopback_allowed.WEBHOOKS_ALLOWED_PRIVATE_ADDRESSES = []  # as if DNS now said loopback
    measure(user, 0, django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert hook.received == []
    assert delivery.status == Status.PENDING and "loopback" in delivery.last_error


def test_another_patients_measurements_are_not_sent(
    user, other_user, connection, loopback_allowed, receiver, django_capture_on_commit_callbacks
):
    hook = receiver()
    services.subscription_create(
        connected_app=connection, url=hook.url, events=["observation.created"]
    )
    measure(other_user, 0, django_capture_on_commit_callbacks)
    assert hook.received == []


def test_the_admin_lists_deliveries_with_status_codes_and_replays_a_selection(
    client, user, connection, loopback_allowed, receiver, django_capture_on_commit_callbacks
):
    hook = receiver(codes=[502])
    services.subscription_create(
        connected_app=connection, url=hook.url, events=["observation.created"]
    )
    measure(user, 0, django_capture_on_commit_callbacks)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get("/admin/webhooks/webhookdelivery/")
    assert page.status_code == 200
    assert b"502" in page.content and b"observation.created" in page.content
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/webhooks/webhookdelivery/",
            {"action": "replay", "_selected_action": [delivery.pk], "index": 0},
        )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code, len(hook.received)) == ("succeeded", 200, 2)
    secret_page = client.get(
        f"/admin/webhooks/webhooksubscription/{delivery.subscription_id}/change/"
    )
    assert delivery.subscription.secret.encode() not in secret_page.content


def test_the_verifier_in_the_developer_guide_accepts_our_signature_and_refuses_a_forgery():
    guide = (Path(settings.BASE_DIR) / "docs" / "developers.md").read_text()
    code = guide.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(code, scope)  # the guide's own example
    body = b'{"type":"observation.created"}'
    header = signing.sign(secret="k", timestamp=int(time.time()), body=body)
    assert scope["verify"]("k", header, body)
    assert not scope["verify"]("k", header, body + b" ")
    old = signing.sign(secret="k", timestamp=int(time.time()) - 301, body=body)
    assert not scope["verify"]("k", old, body)


def test_an_app_manages_its_subscriptions_with_its_oauth_token(user, loopback_allowed):
    app = public_app(name="Hook App")
    raw = issued_token(user, app, "patient/Observation.rs")
    client = Client()
    created = client.post(
        "/api/v1/webhooks",
        {"url": "http://127.0.0.1:9/in", "events": ["observation.created"]},
        content_type="application/json",
        **bearer(raw),
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert len(body["secret"]) > 30 and body["events"] == ["observation.created"]
    listed = client.get("/api/v1/webhooks", **bearer(raw)).json()
    assert [s["id"] for s in listed] == [body["id"]] and "secret" not in listed[0]
    assert client.get(f"/api/v1/webhooks/{body['id']}", **bearer(raw)).status_code == 200
    assert client.delete(f"/api/v1/webhooks/{body['id']}", **bearer(raw)).status_code == 204
    assert client.get("/api/v1/webhooks", **bearer(raw)).json() == []


def test_the_webhook_api_refuses_bad_urls_missing_scopes_and_other_apps(
    user, other_user, loopback_allowed
):
    app, other = public_app(name="One"), public_app(name="Two")
    raw = issued_token(user, app, "patient/Goal.rs")
    theirs = issued_token(other_user, other, "patient/Observation.rs")
    client = Client()
    post = {"url": "http://127.0.0.1:9/in", "events": ["observation.created"]}
    missing = client.post("/api/v1/webhooks", post, content_type="application/json", **bearer(raw))
    assert missing.status_code == 400 and "patient/Observation.rs" in str(missing.json())
    loopback_allowed.WEBHOOKS_ALLOWED_PRIVATE_ADDRESSES = []
    private = client.post(
        "/api/v1/webhooks", post, content_type="application/json", **bearer(theirs)
    )
    assert private.status_code == 400 and "loopback" in str(private.json())
    loopback_allowed.WEBHOOKS_ALLOWED_PRIVATE_ADDRESSES = ["127.0.0.1"]
    made = client.post("/api/v1/webhooks", post, content_type="application/json", **bearer(theirs))
    assert made.status_code == 201
    assert client.get(f"/api/v1/webhooks/{made.json()['id']}", **bearer(raw)).status_code == 404
    assert client.delete(f"/api/v1/webhooks/{made.json()['id']}", **bearer(raw)).status_code == 404


def test_the_webhook_api_takes_no_jwt_and_stops_when_the_app_is_disconnected(
    user, auth_client, loopback_allowed
):
    assert auth_client.get("/api/v1/webhooks").status_code == 401
    app = public_app(name="Gone")
    raw = issued_token(user, app, "patient/Observation.rs")
    connection = ConnectedApp.objects.get(application=app)
    app_connection_revoke(connection=connection, revoked_by=user)
    assert Client().get("/api/v1/webhooks", **bearer(raw)).status_code == 401


@pytest.fixture
def hooked(connection, loopback_allowed, receiver):
    """A subscription of the connected app to every event; returns its receiver."""
    hook = receiver()
    connection.scope = "patient/Observation.rs patient/Goal.rs"
    connection.save(update_fields=["scope"])
    services.subscription_create(
        connected_app=connection, url=hook.url, events=sorted(services.EVENTS)
    )
    return hook


def test_a_stored_alert_is_announced_once(user, hooked, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alert = AlertFactory(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        alert.is_read = True
        alert.save()
    assert [(p["type"], p["data"]) for p in hooked.payloads()] == [
        ("alert.raised", {"alert": alert.pk})
    ]


def test_a_goal_completed_by_a_measurement_is_announced(
    user, hooked, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        goal_measure(user, "weight", 80.0, days_ago(10))
        goal = goal_create(user=user, goal_type="weight", target_value=75, start_date=days_ago(10))
    with django_capture_on_commit_callbacks(execute=True):
        goal_measure(user, "weight", 74.8, today(), hour=0)
    goal.refresh_from_db()
    assert goal.status == "completed"
    achieved = [p for p in hooked.payloads() if p["type"] == "goal.achieved"]
    assert [p["data"] for p in achieved] == [{"resourceType": "Goal", "id": f"goal-{goal.pk}"}]


def test_a_finished_import_is_announced_with_its_status(
    user, hooked, django_capture_on_commit_callbacks
):
    job = ImportJob.objects.create(user=user, kind=ImportJob.Kind.CSV_METRICS)
    csv = "metric_type,value,unit,recorded_at\nsteps,1000,,2026-03-02T10:00:00Z\n"
    with django_capture_on_commit_callbacks(execute=True):
        import_job_execute(job=job, fileobj=io.BytesIO(csv.encode()))
    finished = [p for p in hooked.payloads() if p["type"] == "import.finished"]
    assert [p["data"] for p in finished] == [{"import": job.pk, "status": "done"}]


def test_a_delivery_whose_first_attempt_was_lost_is_picked_up_by_the_retry_job(
    user, connection, loopback_allowed, receiver
):
    hook = receiver()
    services.subscription_create(
        connected_app=connection, url=hook.url, events=["observation.created"]
    )
    # Recorded, but its publish (on commit) never runs: as if the task were lost.
    services.event_record(
        patient_id=user.pk, event_type="observation.created", data={"id": "metric-1"}
    )
    delivery = WebhookDelivery.objects.get()
    assert hook.received == [] and delivery.attempts == 0

    assert services.retry_due(now=timezone.now()) == 0
    assert services.retry_due(now=timezone.now() + services.FIRST_ATTEMPT_GRACE) == 1
    delivery.refresh_from_db()
    assert delivery.status == Status.SUCCEEDED and len(hook.received) == 1


def test_an_app_reads_its_delivery_log_and_replays_one_delivery_or_a_range(
    user, other_user, loopback_allowed, receiver, django_capture_on_commit_callbacks
):
    app = public_app(name="Log App")
    raw = issued_token(user, app, "patient/Observation.rs")
    hook = receiver(codes=(500,))
    client = Client()
    made = client.post(
        "/api/v1/webhooks",
        {"url": hook.url, "events": ["observation.created"]},
        content_type="application/json",
        **bearer(raw),
    ).json()
    measure(user, 0, django_capture_on_commit_callbacks)
    measure(user, 1, django_capture_on_commit_callbacks)
    log = client.get(f"/api/v1/webhooks/{made['id']}/deliveries", **bearer(raw))
    assert log.status_code == 200
    rows = log.json()
    assert [r["sequence"] for r in rows] == [2, 1]
    assert rows[1]["last_status_code"] == 500 and rows[1]["attempts"] == 1
    assert "payload" not in rows[0]  # the log says what happened, never what was sent

    first = rows[1]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        one = client.post(
            f"/api/v1/webhooks/{made['id']}/deliveries/{first}/replay",
            content_type="application/json",
            **bearer(raw),
        )
    assert one.status_code == 202 and one.json() == {"replayed": 1}
    assert [p["sequence"] for p in hook.payloads()][-1] == 1

    window = {
        "start": (timezone.now() - timedelta(hours=1)).isoformat(),
        "end": (timezone.now() + timedelta(hours=1)).isoformat(),
    }
    with django_capture_on_commit_callbacks(execute=True):
        both = client.post(
            f"/api/v1/webhooks/{made['id']}/replay",
            window,
            content_type="application/json",
            **bearer(raw),
        )
    assert both.status_code == 202 and both.json() == {"replayed": 2}
    backwards = client.post(
        f"/api/v1/webhooks/{made['id']}/replay",
        {"start": window["end"], "end": window["start"]},
        content_type="application/json",
        **bearer(raw),
    )
    assert backwards.status_code == 400 and "end" in backwards.json()

    # Another app (another patient's consent) sees none of it.
    theirs = issued_token(other_user, public_app(name="Other"), "patient/Observation.rs")
    assert (
        client.get(f"/api/v1/webhooks/{made['id']}/deliveries", **bearer(theirs)).status_code == 404
    )
    assert (
        client.post(
            f"/api/v1/webhooks/{made['id']}/deliveries/{first}/replay",
            content_type="application/json",
            **bearer(theirs),
        ).status_code
        == 404
    )


def test_the_bodyless_webhook_writes_refuse_fields_and_change_nothing(
    user, loopback_allowed, django_capture_on_commit_callbacks
):
    raw = issued_token(user, public_app(name="Strict App"), "patient/Observation.rs")
    client = Client()
    made = client.post(
        "/api/v1/webhooks",
        {"url": "http://127.0.0.1:9/in", "events": ["observation.created"]},
        content_type="application/json",
        **bearer(raw),
    ).json()
    refused = client.delete(
        f"/api/v1/webhooks/{made['id']}",
        {"colour": "red"},
        content_type="application/json",
        **bearer(raw),
    )
    assert refused.status_code == 400 and "unknown_field" in refused.json()
    assert WebhookSubscription.objects.filter(pk=made["id"]).exists()
    measure(user, 0, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(subscription_id=made["id"])
    attempts = delivery.attempts
    replay = client.post(
        f"/api/v1/webhooks/{made['id']}/deliveries/{delivery.pk}/replay",
        {"colour": "red"},
        content_type="application/json",
        **bearer(raw),
    )
    assert replay.status_code == 400 and "unknown_field" in replay.json()
    delivery.refresh_from_db()
    assert delivery.attempts == attempts
    empty = client.delete(
        f"/api/v1/webhooks/{made['id']}", content_type="application/json", **bearer(raw)
    )
    assert empty.status_code == 204
