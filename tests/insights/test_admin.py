from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.care import clinician_enable_admin
from insights.models import HealthInsight
from tests.accounts.factories import ClinicianFactory, UserFactory
from tests.insights.factories import AlertFactory, HealthInsightFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ALERTS = "/admin/insights/healthalert/"
INSIGHTS = "/admin/insights/healthinsight/"


@pytest.fixture
def superuser():
    return UserFactory(role="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def test_insight_change_list_and_change_page_open(admin_client, django_assert_max_num_queries):
    clinician = ClinicianFactory()
    for _ in range(5):
        HealthInsightFactory(kind="clinician_note", author=clinician)
    note = HealthInsightFactory()
    with django_assert_max_num_queries(12):
        assert admin_client.get(INSIGHTS).status_code == 200
    assert admin_client.get(INSIGHTS, {"q": note.title}).status_code == 200
    assert admin_client.get(f"{INSIGHTS}{note.pk}/change/").status_code == 200


def test_alert_list_shows_only_alerts_unreviewed_first_then_newest(admin_client, superuser):
    reviewed_new = AlertFactory(
        created_at=T0 + timedelta(hours=3), reviewed_at=T0, reviewed_by=superuser
    )
    open_old = AlertFactory(created_at=T0)
    open_new = AlertFactory(created_at=T0 + timedelta(hours=1))
    recommendation = HealthInsightFactory()
    response = admin_client.get(ALERTS)
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert [a.pk for a in shown] == [open_new.pk, open_old.pk, reviewed_new.pk]
    assert recommendation.pk not in [a.pk for a in shown]


def test_mark_reviewed_action_records_who_and_when(admin_client, superuser):
    alert = AlertFactory()
    response = admin_client.post(
        ALERTS, {"action": "mark_reviewed", "_selected_action": [alert.pk]}, follow=True
    )
    assert response.status_code == 200
    alert.refresh_from_db()
    assert alert.reviewed_by == superuser
    assert alert.reviewed_at is not None
    assert "1 alert(s) marked reviewed." in response.content.decode()


def test_admin_clinicians_see_only_their_patients_alerts(care):
    # Scoped by accounts.admin_access: staff, role clinician, in the "Clinicians" group.
    clinician = clinician_enable_admin(user=ClinicianFactory(is_staff=True))
    clinician.user_permissions.add(*Permission.objects.filter(content_type__app_label="insights"))
    patient, stranger = UserFactory(), UserFactory()
    care(clinician, patient)
    mine = AlertFactory(user=patient)
    AlertFactory(user=stranger)
    client = Client()
    client.force_login(clinician)
    response = client.get(ALERTS)
    assert response.status_code == 200
    assert [a.pk for a in response.context["cl"].result_list] == [mine.pk]
    assert HealthInsight.objects.alerts().count() == 2
