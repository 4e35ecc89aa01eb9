"""The measurement lists answer from pages kept under the owner's data version (issue 15):
the lifecycle jobs, which move and delete rows outside the metrics services, replace it too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from healthtrack.lifecycle import retention, services
from tests.lifecycle.data import month_of_samples, months_ago

pytestmark = pytest.mark.django_db


def test_archive_restore_and_retention_are_each_seen_by_the_next_list_read(
    user, django_capture_on_commit_callbacks
):
    client = APIClient()
    client.force_authenticate(user)

    def listed() -> int:
        response = client.get("/api/v1/health-metrics?limit=100")
        assert response.status_code == 200
        return len(response.json()["results"])

    year, month = months_ago(6)
    made = month_of_samples(user, year, month)
    assert listed() == listed() == len(made)  # the second from the kept page
    with django_capture_on_commit_callbacks(execute=True):
        retention.run_archive()
    assert listed() == 0
    with django_capture_on_commit_callbacks(execute=True):
        services.archive_restore(user_id=user.pk, first=(year, month), last=(year, month))
    assert listed() == listed() == len(made)
    with django_capture_on_commit_callbacks(execute=True):
        retention.apply_retention(now=timezone.now() + timedelta(days=3650))
    assert listed() == 0
