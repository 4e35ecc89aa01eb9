"""The API, role by role, on one patient's objects (metrics, nutrition, insights, goals): the owner,
a clinician with and without the patient in care, a named-grant holder (steps, last 7 days),
the same after expiry or revocation, a superuser (the API has no superuser door), another
patient, anonymous. Someone else's data is 404, never 403; reads by anyone but the owner are
logged once per request."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts import sharing
from accounts.models import AccessLog
from goals.models import HealthGoal
from insights.models import HealthInsight
from metrics.models import HealthMetric
from nutrition.models import NutritionLog
from tests.healthtrack.roles import build_world, expire, reads_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


def endpoints(world) -> dict[str, str]:
    pid = world.patient.pk
    rows = world.rows
    return {
        "metrics list": f"/api/v1/health-metrics/user/{pid}",
        "metric": f"/api/v1/health-metrics/{rows[HealthMetric].pk}",
        "summary": f"/api/v1/health-metrics/summary?user_id={pid}",
        "aggregates": "/api/v1/health-metrics/aggregates?metric_type=steps&period=day"
        f"&user_id={pid}",
        "nutrition list": f"/api/v1/nutrition-logs/user/{pid}",
        "nutrition log": f"/api/v1/nutrition-logs/{rows[NutritionLog].pk}",
        "nutrition daily": f"/api/v1/nutrition-logs/daily?user_id={pid}",
        "insights list": f"/api/v1/health-insights/user/{pid}",
        "insight": f"/api/v1/health-insights/{rows[HealthInsight].pk}",
        "goals list": f"/api/v1/health-goals/user/{pid}",
        "goal": f"/api/v1/health-goals/{rows[HealthGoal].pk}",
    }


METRIC_ENDPOINTS = {"metrics list", "metric", "summary", "aggregates"}


def as_user(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_owner_reads_everything_and_is_not_logged(world):
    client = as_user(world.patient)
    for name, url in endpoints(world).items():
        assert client.get(url).status_code == 200, name
    assert not reads_of(world).exists()


def test_caring_clinician_reads_everything_and_each_request_is_logged_once(world):
    client = as_user(world.caring)
    for name, url in endpoints(world).items():
        before = reads_of(world).count()
        response = client.get(url, HTTP_X_REQUEST_ID=f"req-{name.replace(' ', '-')}")
        assert response.status_code == 200, name
        rows = reads_of(world).order_by("-id")
        assert rows.count() == before + 1, name
        row = rows.first()
        assert (row.actor_id, row.via) == (world.caring.pk, AccessLog.Via.CARE_TEAM), name
        assert row.request_id == f"req-{name.replace(' ', '-')}", name


def test_caring_clinician_cannot_write_the_patients_data(world):
    client = as_user(world.caring)
    metric = world.rows[HealthMetric]
    assert client.patch(f"/api/v1/health-metrics/{metric.pk}", {"value": 1}).status_code == 404
    assert client.delete(f"/api/v1/health-metrics/{metric.pk}").status_code == 404
    log = world.rows[NutritionLog]
    assert client.delete(f"/api/v1/nutrition-logs/{log.pk}").status_code == 404
    insight = world.rows[HealthInsight]
    response = client.patch(f"/api/v1/health-insights/{insight.pk}", {"is_read": True})
    assert response.status_code == 403
    assert HealthMetric.objects.filter(pk=metric.pk, value=4321).exists()


@pytest.mark.parametrize("who", ["other_doctor", "stranger", "superuser", "staff"])
def test_others_get_404_everywhere_and_nothing_is_logged(world, who):
    client = as_user(getattr(world, who))
    for name, url in endpoints(world).items():
        assert client.get(url).status_code == 404, name
    assert not reads_of(world).exists()


def test_anonymous_gets_401(world):
    for name, url in endpoints(world).items():
        assert as_user(None).get(url).status_code == 401, name


def test_grant_holder_reads_the_granted_types_in_the_window_only(world):
    client = as_user(world.grant_holder)
    urls = endpoints(world)
    listed = client.get(urls["metrics list"]).json()["results"]
    assert [m["id"] for m in listed] == [world.rows[HealthMetric].pk]
    assert client.get(urls["metric"]).status_code == 200
    heart = world.rows["heart_rate"]
    assert client.get(f"/api/v1/health-metrics/{heart.pk}").status_code == 404
    summary = client.get(urls["summary"]).json()
    assert list(summary["metrics"]) == ["steps"]
    assert summary["metrics"]["steps"]["latest"]["value"] == 4321
    assert [r["value"] for r in client.get(urls["aggregates"]).json()["results"]] == [4321]
    hr = client.get(urls["aggregates"].replace("steps", "heart_rate")).json()
    assert hr["results"] == []
    for name in set(urls) - METRIC_ENDPOINTS:
        assert client.get(urls[name]).status_code == 404, name
    via = set(reads_of(world).values_list("via", "share_grant_id"))
    assert via == {(AccessLog.Via.SHARE_GRANT, world.grant.pk)}


def test_grant_holder_gets_nothing_before_the_window(world):
    old = world.rows[HealthMetric]
    from datetime import timedelta

    from metrics import services

    services.metric_update(metric=old, recorded_at=old.recorded_at - timedelta(days=30))
    client = as_user(world.grant_holder)
    urls = endpoints(world)
    assert client.get(urls["metrics list"]).json()["results"] == []
    assert client.get(urls["metric"]).status_code == 404


@pytest.mark.parametrize("end", ["expired", "revoked"])
def test_grant_holder_gets_nothing_after_expiry_or_revocation(world, end):
    if end == "expired":
        expire(world.grant)
    else:
        sharing.share_grant_revoke(grant=world.grant)
    client = as_user(world.grant_holder)
    for name, url in endpoints(world).items():
        assert client.get(url).status_code == 404, name
    assert not reads_of(world).exists()


def test_care_team_reads_stop_when_the_care_team_ends(world):
    from accounts import care
    from accounts.models import CareTeam

    care.care_team_end(membership=CareTeam.objects.get(clinician=world.caring))
    client = as_user(world.caring)
    for name, url in endpoints(world).items():
        assert client.get(url).status_code == 404, name


def test_grant_holders_summary_and_aggregates_count_only_days_in_the_window(world):
    from datetime import timedelta

    from metrics import services

    steps = world.rows[HealthMetric]
    services.metric_create(
        user=world.patient,
        metric_type="steps",
        value=9999,
        recorded_at=steps.recorded_at - timedelta(days=20),
    )
    urls = endpoints(world)
    summary_url = urls["summary"] + "&days=30"
    owner = as_user(world.patient).get(summary_url).json()["metrics"]["steps"]
    assert (owner["count"], owner["max"]) == (2, 9999)
    shared = as_user(world.grant_holder).get(summary_url).json()["metrics"]["steps"]
    assert (shared["count"], [p["value"] for p in shared["series"]]) == (1, [4321])
    # A partial today is no finished day's maximum.
    assert shared["max"] == (None if shared["series"][0]["in_progress"] else 4321)
    values = [
        r["value"] for r in as_user(world.grant_holder).get(urls["aggregates"]).json()["results"]
    ]
    assert values == [4321]
