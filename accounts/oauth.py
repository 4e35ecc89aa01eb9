"""OAuth2 for third-party apps: consent, connections, revocation, and what a token reaches.

- A patient (or a family manager acting for them, `accounts.access.can_write`) approves an app
  on the consent page: `app_connection_approve` records a `ConnectedApp`, and the
  authorization code, then the tokens, are issued to that patient (`HealthTrackOAuth2Validator`).
- `app_connection_revoke` ends it: the row is marked revoked and the app's tokens for the
  patient are deleted, so its next request is 401.
- A token reaches `token_owner_ids`: for a patient's token that one patient (while the
  connection is live and `accounts.access` still lets them read it); for a clinic back-end's
  client-credentials token, the care-team patients of the clinician who owns the app.
- Every read through a token is written to the access log under the app's name
  (`app_read_record`), grants and revocations to the change log (auditlog on ConnectedApp).
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken
from oauth2_provider.oauth2_validators import OAuth2Validator

from accounts import access
from accounts.audit import _request_id
from accounts.models import AccessLog, ConnectedApp, User
from accounts.oauth_scopes import OFFLINE_ACCESS
from healthtrack.core.api.ratelimits import client_ip

# Recording every read would write on every request; once a minute is precise enough.
LAST_READ_RESOLUTION = timedelta(minutes=1)
CLIENT_CREDENTIALS = Application.GRANT_CLIENT_CREDENTIALS


def consent_subjects(user: User) -> list[User]:
    """Whom `user` may connect an app for: themself, then the members they manage."""
    others = (
        access.writable(User.objects.filter(deleted_at__isnull=True), user, owner_field=None)
        .exclude(pk=user.pk)
        .order_by("first_name", "pk")
    )
    return [user, *others]


@transaction.atomic
def app_connection_approve(
    *, application: Application, patient: User, approved_by: User, scopes: list[str]
) -> ConnectedApp:
    """Record that `approved_by` lets `application` use `scopes` on `patient`'s data (a new
    approval replaces the scopes of a live one)."""
    if not access.can_write(approved_by, patient.pk):
        raise PermissionDenied("You cannot connect apps for this person.")
    scope = " ".join(dict.fromkeys(scopes))
    live = (
        ConnectedApp.objects.select_for_update()
        .live()
        .filter(application=application, patient=patient)
        .first()
    )
    if live is not None:
        live.scope = scope
        live.approved_by = approved_by
        live.save(update_fields=["scope", "approved_by"])
        return live
    return ConnectedApp.objects.create(
        application=application, patient=patient, approved_by=approved_by, scope=scope
    )


@transaction.atomic
def app_connection_revoke(*, connection: ConnectedApp, revoked_by: User) -> None:
    """Disconnect the app from the patient: its tokens for them stop working at once."""
    connection = ConnectedApp.objects.select_for_update().get(pk=connection.pk)
    if connection.revoked_at is None:
        connection.revoked_at = timezone.now()
        connection.revoked_by = revoked_by
        connection.save(update_fields=["revoked_at", "revoked_by"])
    mine = {"application_id": connection.application_id, "user_id": connection.patient_id}
    for refresh in RefreshToken.objects.filter(**mine, revoked__isnull=True):
        refresh.revoke()
    AccessToken.objects.filter(**mine).delete()
    Grant.objects.filter(**mine).delete()


def has_live_connection(token: AccessToken) -> bool:
    """The patient has not disconnected the app the token was issued to."""
    return (
        ConnectedApp.objects.live()
        .filter(application_id=token.application_id, patient_id=token.user_id)
        .exists()
    )


def token_viewer(token: AccessToken) -> User | None:
    """The user a token acts as: the patient it was issued to, or, for a clinic back-end's
    client-credentials token, the clinician who owns the app. None when it may act no more."""
    if token.user_id is None:
        owner = token.application.user
        if token.application.authorization_grant_type != CLIENT_CREDENTIALS or not (
            access.is_clinician(owner)
        ):
            return None
        return owner
    return token.user if has_live_connection(token) else None


def token_owner_ids(viewer: User, token: AccessToken) -> list[int]:
    """Whose data `token` (acting as `viewer`) may read: always inside `accounts.access`."""
    if token.user_id is None:
        return list(access.care_team_patient_ids(viewer))
    return [viewer.pk] if access.can_read(viewer, viewer.pk) else []


def connection_touch(token: AccessToken) -> None:
    """Note when the app last read the patient's data (at most once a minute)."""
    now = timezone.now()
    ConnectedApp.objects.live().filter(
        application_id=token.application_id, patient_id=token.user_id
    ).exclude(last_read_at__gt=now - LAST_READ_RESOLUTION).update(last_read_at=now)


def app_read_record(*, request, token: AccessToken, owner_id: int) -> AccessLog:
    """One "Who saw my data" row for a read by an app, named after the app (the clinician who
    owns a clinic back-end is kept as the actor). Also the owner's own app: they gave it
    access, and they see each of its reads."""
    application = token.application
    return AccessLog.objects.create(
        actor=application.user if token.user_id is None else None,
        actor_label=f"{application.name} (app)"[:150],
        owner_id=owner_id,
        via=AccessLog.Via.APP,
        endpoint=f"{request.method} {request.path}"[:200],
        ip=client_ip(request),
        request_id=_request_id(request),
    )


class HealthTrackOAuth2Validator(OAuth2Validator):
    """django-oauth-toolkit's validator, plus: codes and tokens belong to the patient chosen on
    the consent page; refresh tokens only with `offline_access`; client credentials only for
    apps owned by a clinician (clinic back-ends)."""

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        patient = getattr(request, "patient", None)
        if patient is not None:
            request.user = patient
        return super().save_authorization_code(client_id, code, request, *args, **kwargs)

    def _save_bearer_token(self, token, request, *args, **kwargs):
        if OFFLINE_ACCESS not in token.get("scope", "").split():
            token.pop("refresh_token", None)
        result = super()._save_bearer_token(token, request, *args, **kwargs)
        if request.grant_type != "client_credentials" and request.user is not None:
            token["patient"] = f"user-{request.user.pk}"  # SMART launch context
        return result

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        if not super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs):
            return False
        if grant_type == "client_credentials":
            return access.is_clinician(client.user)
        return True
