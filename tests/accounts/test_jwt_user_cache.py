"""The JWT user lookup is cached (accounts/api/jwt_authentication.py) without weakening checks."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.cache import cache
from django.db import router
from django.db.models import DEFERRED
from django.db.models.signals import post_init
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.api import jwt_authentication
from accounts.api.jwt_authentication import AuditedJWTAuthentication
from accounts.models import User
from accounts.services import user_soft_delete
from accounts.user_cache import to_cache, user_cache_key
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SECRET_HISTORY = "asthma since 2001"


@pytest.fixture
def patient():
    return UserFactory(medical_history=SECRET_HISTORY, date_of_birth=date(1985, 3, 14))


def bearer(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def test_a_jwt_request_caches_the_user_row_without_password_or_plaintext(patient):
    assert bearer(patient).get("/api/v1/users/me").status_code == 200
    cached = cache.get(user_cache_key(patient.pk))
    assert cached is not None
    assert patient.password not in cached
    assert SECRET_HISTORY not in cached and SECRET_HISTORY.encode() not in cached
    assert date(1985, 3, 14) not in cached
    assert not any(b"1985-03-14" in v for v in cached if isinstance(v, bytes))


def test_the_cached_user_is_the_same_user_encrypted_fields_included(patient):
    token = AccessToken.for_user(patient)
    AuditedJWTAuthentication().get_user(token)  # fills the cache
    cached_user = AuditedJWTAuthentication().get_user(token)
    assert cached_user.pk == patient.pk and cached_user.role == patient.role
    assert cached_user.email == patient.email
    assert cached_user.get_deferred_fields() == {"password"}
    assert cached_user.medical_history == SECRET_HISTORY
    assert cached_user.date_of_birth == date(1985, 3, 14)
    assert cached_user.check_password(PASSWORD)  # the deferred hash loads on access


def test_saving_a_cached_user_keeps_the_fields_that_were_not_loaded(patient):
    token = AccessToken.for_user(patient)
    AuditedJWTAuthentication().get_user(token)
    cached_user = AuditedJWTAuthentication().get_user(token)
    cached_user.height_cm = 181.0
    cached_user.save()
    patient.refresh_from_db()
    assert patient.height_cm == 181.0
    assert patient.medical_history == SECRET_HISTORY
    assert patient.check_password(PASSWORD)


def test_deactivating_a_user_refuses_their_token_on_the_next_request(patient):
    client = bearer(patient)
    assert client.get("/api/v1/users/me").status_code == 200
    patient.is_active = False
    patient.save()
    assert client.get("/api/v1/users/me").status_code == 401


def test_a_soft_deleted_user_is_refused_on_the_next_request(patient):
    client = bearer(patient)
    assert client.get("/api/v1/users/me").status_code == 200
    user_soft_delete(user=patient)
    assert client.get("/api/v1/users/me").status_code == 401


def test_a_deleted_user_row_is_refused_on_the_next_request(patient):
    client = bearer(patient)
    assert client.get("/api/v1/users/me").status_code == 200
    User.objects.filter(pk=patient.pk).get().delete()
    assert client.get("/api/v1/users/me").status_code == 401


def test_a_role_change_applies_on_the_next_request(patient):
    client = bearer(patient)
    assert client.get("/api/v1/users/me").json()["role"] == "patient"
    patient.role = User.Role.CLINICIAN
    patient.save()
    assert client.get("/api/v1/users/me").json()["role"] == "clinician"


def test_an_update_that_bypasses_save_applies_when_the_entry_expires(patient):
    """The documented bound: QuerySet.update() sends no signal, so the cached row answers
    until AUTH_USER_CACHE_SECONDS have passed (the expiry is simulated by removing it)."""
    client = bearer(patient)
    assert client.get("/api/v1/users/me").status_code == 200
    User.objects.filter(pk=patient.pk).update(is_active=False)
    assert client.get("/api/v1/users/me").status_code == 200
    cache.delete(user_cache_key(patient.pk))
    assert client.get("/api/v1/users/me").status_code == 401


def test_an_inactive_user_is_never_cached(patient):
    patient.is_active = False
    patient.save()
    assert bearer(patient).get("/api/v1/users/me").status_code == 401
    assert cache.get(user_cache_key(patient.pk)) is None


def test_the_cache_can_be_turned_off(patient, settings):
    settings.AUTH_USER_CACHE_SECONDS = 0
    assert bearer(patient).get("/api/v1/users/me").status_code == 200
    assert cache.get(user_cache_key(patient.pk)) is None


def test_a_cached_user_still_names_the_actor_of_audit_rows(patient):
    from auditlog.models import LogEntry

    client = bearer(patient)
    assert client.get("/api/v1/users/me").status_code == 200
    response = client.patch(f"/api/v1/users/{patient.pk}", {"height_cm": 175.5}, format="json")
    assert response.status_code == 200
    entry = LogEntry.objects.get_for_object(patient).order_by("-timestamp").first()
    assert entry is not None and entry.actor_id == patient.pk


def _from_db(values):
    row = [DEFERRED if i is None else values[i] for i in jwt_authentication._FROM_ENTRY]
    return User.from_db(router.db_for_read(User), None, row)


def test_the_user_built_from_a_cache_entry_is_the_one_from_db_builds(patient):
    values = [*to_cache(patient), []]
    built = jwt_authentication._user_from_row(values)
    assert jwt_authentication._PLAIN_ROW  # the light build is the one measured
    reference = _from_db(values)
    assert type(built) is User
    assert {k: v for k, v in built.__dict__.items() if k != "_state"} == {
        k: v for k, v in reference.__dict__.items() if k != "_state"
    }
    assert (built._state.adding, built._state.db) == (False, reference._state.db)
    assert built.get_deferred_fields() == {"password", "date_of_birth", "medical_history"}
    assert built.medical_history == SECRET_HISTORY  # deferred: read from the row on access
    assert built.check_password(PASSWORD)


def test_a_user_with_an_init_receiver_is_built_by_from_db(patient):
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=User)
    try:
        user = jwt_authentication._user_from_row([*to_cache(patient), []])
    finally:
        post_init.disconnect(receiver, sender=User)
    assert seen == [user] and user.pk == patient.pk
