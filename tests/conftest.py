"""Fixtures shared by every app's tests: fast hashing, a clean cache, eager Celery, users."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from healthtrack.celery import app as celery_app
from tests.accounts.care_factories import CareTeamFactory
from tests.accounts.factories import ClinicianFactory, UserFactory


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Rate limits are off by default in tests; the rate-limit tests switch them on.
    settings.RATELIMIT_ENABLE = False
    celery_app.conf.task_always_eager = True
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def auth_client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def other_client(other_user):
    client = APIClient()
    client.force_authenticate(other_user)
    return client


@pytest.fixture
def clinician(db):
    """A clinician (role clinician, staff) with no patient yet."""
    return ClinicianFactory()


@pytest.fixture
def care_team(clinician, user):
    """`clinician` cares for `user` (an active care-team membership)."""
    return CareTeamFactory(clinician=clinician, patient=user)


@pytest.fixture
def clinician_client(clinician):
    client = APIClient()
    client.force_authenticate(clinician)
    return client
