"""The admin's patient page (`/admin/patients/<id>/`): alerts and recommendations first, the
decrypted profile, the latest readings, a 30-day chart, goals once the goals app has them.
Superusers and the patient's clinicians only; others 404; every view logged."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import care
from accounts.models import AccessLog, CareTeam
from metrics import services
from tests.accounts.factories import ClinicianFactory
from tests.healthtrack.roles import SECRET_HISTORY, SECRET_MESSAGE, build_world, health_rows
from tests.insights.factories import AlertFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


def url(user) -> str:
    return reverse("admin:patient_page", args=[user.pk])


def test_caring_clinician_sees_alerts_first_then_the_rest(client, world):
    client.force_login(world.caring)
    response = client.get(url(world.patient))
    assert response.status_code == 200
    body = response.content.decode()
    order = [
        body.index("Open alerts"),
        body.index("Recommendations"),
        body.index("Profile"),
        body.index("Latest readings"),
        body.index("Last 30 days"),
    ]
    assert order == sorted(order)
    # Decrypted for permitted staff: profile and insight messages.
    assert SECRET_HISTORY in body and "1971-07-29" in body and SECRET_MESSAGE in body
    assert "4,321 steps" in body and "71 bpm" in body and "Watch p" in body


def test_open_alerts_are_the_unreviewed_ones_newest_first(client, world):
    older = AlertFactory(
        user=world.patient, title="Older alert", created_at=timezone.now() - timedelta(days=2)
    )
    newer = AlertFactory(user=world.patient, title="Newer alert")
    reviewed = AlertFactory(
        user=world.patient,
        title="Reviewed alert",
        reviewed_at=timezone.now(),
        reviewed_by=world.caring,
    )
    client.force_login(world.caring)
    response = client.get(url(world.patient))
    shown = [a.pk for a in response.context["open_alerts"]]
    assert shown.index(newer.pk) < shown.index(older.pk)
    assert reviewed.pk not in shown
    assert "Reviewed alert" not in response.content.decode()


def test_chart_is_inline_svg_from_the_daily_rollups(client, world):
    day = timezone.now().astimezone(UTC) - timedelta(days=3)
    services.metric_create(
        user=world.patient, metric_type="resting_heart_rate", value=64, recorded_at=day
    )
    client.force_login(world.caring)
    body = client.get(url(world.patient)).content.decode()
    main = body.split('id="content-main"')[1].split("<!-- END Content -->")[0]
    assert main.count('<svg class="chart-svg"') == 2
    assert "Steps per day" in main and "Resting heart rate" in main
    assert f"<title>{day.day} {day:%b}: 64 bpm</title>" in main
    assert "<script" not in main and 'style="' not in main


def test_goals_section_only_when_the_goals_app_has_its_model(client, world, monkeypatch):
    from healthtrack import patient_page

    client.force_login(world.caring)
    body = client.get(url(world.patient)).content.decode()
    assert ('id="goals-h"' in body) is (patient_page.goal_model() is not None)

    class FakeGoals:
        class objects:  # noqa: N801 (stands in for a manager)
            @staticmethod
            def filter(**kwargs):
                assert kwargs == {"user_id": world.patient.pk}
                return FakeGoals.objects

            @staticmethod
            def order_by(*args):
                return ["Walk 8,000 steps a day", "Reach 75 kg"]

            by_priority = None

    monkeypatch.setattr(patient_page, "goal_model", lambda: FakeGoals)
    body = client.get(url(world.patient)).content.decode()
    assert 'id="goals-h"' in body and "Walk 8,000 steps a day" in body


def test_superuser_sees_any_patient(client, world):
    client.force_login(world.superuser)
    assert client.get(url(world.patient)).status_code == 200
    assert client.get(url(world.stranger)).status_code == 200


@pytest.mark.parametrize("who", ["other_doctor", "staff", "grant_holder_in_group"])
def test_other_staff_get_404(client, world, who):
    if who == "grant_holder_in_group":
        viewer = care.clinician_enable_admin(user=world.grant_holder)
    else:
        viewer = getattr(world, who)
    client.force_login(viewer)
    assert client.get(url(world.patient)).status_code == 404
    assert client.get(reverse("admin:patient_page", args=[999_999])).status_code == 404
    assert not AccessLog.objects.filter(actor=viewer).exists()


def test_a_clinician_not_in_the_admin_group_gets_404(client, world):
    doctor = ClinicianFactory()  # staff, role clinician, not in "Clinicians"
    care.care_team_add(clinician=doctor, patient=world.patient)
    client.force_login(doctor)
    assert client.get(url(world.patient)).status_code == 404


def test_clinician_after_the_care_team_ended_gets_404(client, world):
    care.care_team_end(membership=CareTeam.objects.get(clinician=world.caring))
    client.force_login(world.caring)
    assert client.get(url(world.patient)).status_code == 404


@pytest.mark.parametrize("who", ["patient", "anonymous"])
def test_patients_and_anonymous_are_sent_to_the_login(client, world, who):
    if who == "patient":
        client.force_login(world.patient)
    response = client.get(url(world.patient))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_each_view_is_logged_with_the_request_id(client, world):
    client.force_login(world.caring)
    client.get(url(world.patient), HTTP_X_REQUEST_ID="patient-page-1")
    row = AccessLog.objects.filter(actor=world.caring).get()
    assert (row.owner_id, row.via, row.object_type) == (world.patient.pk, "admin", "accounts.user")
    assert row.request_id == "patient-page-1" and row.endpoint.startswith("GET /admin/patients/")


def test_page_is_never_cached(client, world):
    client.force_login(world.caring)
    response = client.get(url(world.patient))
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_user_change_list_links_each_patient_to_the_page(client, world):
    client.force_login(world.caring)
    body = client.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert f'href="{url(world.patient)}"' in body
    assert url(world.stranger) not in body


def test_query_count_does_not_grow_with_the_data(client, world):
    client.force_login(world.caring)
    with CaptureQueriesContext(connection) as few:
        client.get(url(world.patient))
    for n in range(3):
        health_rows(world.patient, tag=f"more{n}", days_ago=n + 1)
    with CaptureQueriesContext(connection) as many:
        client.get(url(world.patient))
    assert len(many.captured_queries) == len(few.captured_queries)
