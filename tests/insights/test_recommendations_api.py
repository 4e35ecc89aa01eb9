from __future__ import annotations

import socket
from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache

from accounts.models import AccessLog
from insights import cache as rec_cache
from insights import services
from insights.models import HealthInsight, RecommendationState
from metrics.services import metric_create
from nutrition.services import nutrition_log_create, nutrition_targets_set
from tests.accounts.factories import ClinicianFactory, UserFactory, client_for
from tests.insights.helpers import at, daily, low_steps, measure, utc_today

pytestmark = pytest.mark.django_db


def url(user, query: str = "") -> str:
    return f"/api/v1/recommendations/{user.pk}" + (f"?{query}" if query else "")


def get(client, user, query: str = "") -> dict:
    response = client.get(url(user, query))
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.fixture
def patient(user):
    low_steps(user)
    daily(user, "sleep", [300] * 4)
    return user


# --- the answer -----------------------------------------------------------------------------


def test_answer_shape_and_ranking(auth_client, patient):
    body = get(auth_client, patient)
    assert set(body) == {"user_id", "days", "generated_at", "cached", "recommendations"}
    assert body["user_id"] == patient.pk and body["days"] == 30 and body["cached"] is False
    recs = body["recommendations"]
    assert [r["rank"] for r in recs] == [1, 2]
    assert [r["type"] for r in recs] == ["low_steps", "insufficient_sleep"]
    assert set(recs[0]) == {
        "type",
        "rank",
        "title",
        "severity",
        "score",
        "reasoning",
        "actions",
        "related_metric",
        "data",
    }
    assert "2,000 steps" in recs[0]["reasoning"]


def test_at_most_five_are_returned(auth_client, user):
    low_steps(user)
    daily(user, "sleep", [300] * 4)
    daily(user, "resting_heart_rate", [95] * 10)
    daily(user, "weight", [100] * 4)
    for back in range(1, 5):
        nutrition_log_create(
            user=user,
            meal_type="lunch",
            logged_at=at(utc_today() - timedelta(days=back)),
            calories=4000,
            protein_g=5,
            water_ml=200,
        )
    recs = get(auth_client, user)["recommendations"]
    assert len(recs) == 5
    assert [r["rank"] for r in recs] == [1, 2, 3, 4, 5]


def test_a_miss_for_the_stored_window_stores_the_set(auth_client, patient):
    get(auth_client, patient)
    stored = HealthInsight.objects.for_user(patient.pk).recommendations().current()
    assert sorted(stored.values_list("insight_type", flat=True)) == [
        "insufficient_sleep",
        "low_steps",
    ]


def test_another_window_is_computed_but_not_stored(auth_client, patient):
    body = get(auth_client, patient, "days=7")
    assert body["days"] == 7 and body["recommendations"]
    assert not HealthInsight.objects.for_user(patient.pk).exists()


def test_no_data_gives_an_empty_list(auth_client, user):
    assert get(auth_client, user)["recommendations"] == []


# --- cache ----------------------------------------------------------------------------------


def test_second_read_is_a_cache_hit(auth_client, patient):
    first = get(auth_client, patient)
    with mock.patch.object(services, "recommendations_compute") as compute:
        second = get(auth_client, patient)
    compute.assert_not_called()
    assert second["cached"] is True
    assert {**second, "cached": False} == first
    assert cache.get(f"recommendations:user:{patient.pk}:days:30") is not None


def test_a_cached_own_read_needs_no_database_query(auth_client, patient, django_assert_num_queries):
    get(auth_client, patient)
    with django_assert_num_queries(0):
        assert get(auth_client, patient)["cached"] is True


def test_each_window_has_its_own_entry(auth_client, patient):
    get(auth_client, patient, "days=14")
    assert get(auth_client, patient, "days=30")["cached"] is False
    assert get(auth_client, patient, "days=14")["cached"] is True


def test_use_cache_false_computes_and_refreshes(auth_client, patient):
    get(auth_client, patient)
    body = get(auth_client, patient, "use_cache=false")
    assert body["cached"] is False
    assert get(auth_client, patient)["generated_at"] == body["generated_at"]


def test_a_metric_write_invalidates(auth_client, patient, django_capture_on_commit_callbacks):
    get(auth_client, patient)
    with django_capture_on_commit_callbacks(execute=True):
        daily(patient, "steps", [9000] * 5)  # the same days, now well above the bar
    assert cache.get(f"recommendations:user:{patient.pk}:days:30") is None
    body = get(auth_client, patient)
    assert body["cached"] is False
    assert [r["type"] for r in body["recommendations"]] == ["insufficient_sleep"]


def test_a_nutrition_write_invalidates(auth_client, patient, django_capture_on_commit_callbacks):
    get(auth_client, patient)
    with django_capture_on_commit_callbacks(execute=True):
        for back in range(1, 4):
            nutrition_log_create(
                user=patient,
                meal_type="drink",
                logged_at=at(utc_today() - timedelta(days=back)),
                water_ml=500,
            )
    body = get(auth_client, patient)
    assert body["cached"] is False
    assert "low_water_intake" in [r["type"] for r in body["recommendations"]]


def test_a_targets_change_invalidates(auth_client, patient, django_capture_on_commit_callbacks):
    get(auth_client, patient)
    with django_capture_on_commit_callbacks(execute=True):
        nutrition_targets_set(user=patient, water_ml=3000)
    assert get(auth_client, patient)["cached"] is False


def test_a_write_deletes_every_cached_window(
    auth_client, patient, django_capture_on_commit_callbacks
):
    for days in (7, 30, 365):
        get(auth_client, patient, f"days={days}")
    with django_capture_on_commit_callbacks(execute=True):
        measure(patient, "steps", 100, utc_today() - timedelta(days=1))
    for days in (7, 30, 365):
        assert cache.get(f"recommendations:user:{patient.pk}:days:{days}") is None
        assert get(auth_client, patient, f"days={days}")["cached"] is False


def test_a_profile_change_invalidates(auth_client, patient, django_capture_on_commit_callbacks):
    get(auth_client, patient)
    patient.last_login = patient.date_joined
    with django_capture_on_commit_callbacks(execute=True):
        patient.save(update_fields=["last_login"])  # not an input
    assert get(auth_client, patient)["cached"] is True
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.patch(
            f"/api/v1/users/{patient.pk}", {"height_cm": 150}, format="json"
        )
    assert response.status_code == 200, response.json()
    assert get(auth_client, patient)["cached"] is False


def test_invalidation_is_per_user(
    auth_client, patient, other_user, django_capture_on_commit_callbacks
):
    get(auth_client, patient)
    with django_capture_on_commit_callbacks(execute=True):
        measure(other_user, "steps", 100, utc_today())
    assert get(auth_client, patient)["cached"] is True


def test_an_answer_computed_across_a_write_is_not_served(auth_client, patient):
    """The write commits (and invalidates) while the answer is being computed: the answer is
    stored under the retired version token, so the next read is a miss."""
    real = services.recommendations_compute

    def compute_then_write(**kwargs):
        result = real(**kwargs)
        rec_cache.invalidate(patient.pk)  # what the write's commit does
        return result

    with mock.patch.object(services, "recommendations_compute", side_effect=compute_then_write):
        get(auth_client, patient)
    assert get(auth_client, patient)["cached"] is False


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_redis_down_still_answers_from_the_database(auth_client, patient, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.2,
                "SOCKET_TIMEOUT": 0.2,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    for _ in range(2):
        body = get(auth_client, patient)
        assert body["cached"] is False
        assert [r["type"] for r in body["recommendations"]] == ["low_steps", "insufficient_sleep"]
    staff = UserFactory(is_staff=True)
    response = client_for(staff).get("/api/v1/recommendations/cache-stats")
    assert response.status_code == 200
    assert response.json() == {"hits": 0, "misses": 0, "hit_ratio": None}


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, field",
    [
        ("days=0", "days"),
        ("days=366", "days"),
        ("days=abc", "days"),
        ("days=7.5", "days"),
        ("use_cache=maybe", "use_cache"),
    ],
)
def test_bad_parameters_are_400(auth_client, user, query, field):
    response = auth_client.get(url(user, query))
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("days", [1, 365])
def test_window_bounds_are_accepted(auth_client, user, days):
    assert get(auth_client, user, f"days={days}")["days"] == days


# --- who may read ---------------------------------------------------------------------------


def test_another_patient_gets_404(other_client, patient):
    assert other_client.get(url(patient)).status_code == 404
    assert other_client.get(url(patient, "days=0")).status_code == 404


def test_unknown_user_is_404(auth_client):
    assert auth_client.get("/api/v1/recommendations/999999").status_code == 404


def test_anonymous_is_401(api_client, patient):
    assert api_client.get(url(patient)).status_code == 401


def test_a_clinician_outside_the_care_team_gets_404(patient):
    assert client_for(ClinicianFactory()).get(url(patient)).status_code == 404


def test_staff_who_are_not_clinicians_get_404(patient):
    staff = UserFactory(is_staff=True, is_superuser=True)
    assert client_for(staff).get(url(patient)).status_code == 404


def test_a_care_team_clinician_reads_and_the_read_is_logged(
    clinician_client, clinician, patient, care_team
):
    body = get(clinician_client, patient)
    assert body["user_id"] == patient.pk and body["recommendations"]
    log = AccessLog.objects.get(actor=clinician, owner=patient)
    assert log.via == AccessLog.Via.CARE_TEAM


def test_own_reads_are_not_logged(auth_client, patient):
    get(auth_client, patient)
    assert not AccessLog.objects.exists()


# --- cache statistics -----------------------------------------------------------------------

STATS = "/api/v1/recommendations/cache-stats"


def test_staff_read_hit_and_miss_counters(auth_client, patient):
    get(auth_client, patient)
    get(auth_client, patient)
    get(auth_client, patient)
    get(auth_client, patient, "use_cache=false")  # not a lookup
    response = client_for(UserFactory(is_staff=True)).get(STATS)
    assert response.status_code == 200
    assert response.json() == {"hits": 2, "misses": 1, "hit_ratio": 0.6667}


def test_cache_stats_are_404_for_everyone_else(auth_client, api_client):
    assert auth_client.get(STATS).status_code == 404
    assert api_client.get(STATS).status_code == 401


def test_hits_and_misses_are_also_prometheus_counters(auth_client, patient):
    from healthtrack.core.counters import CACHE_HITS, CACHE_MISSES

    hits = CACHE_HITS.labels(cache="recommendations")._value.get()
    misses = CACHE_MISSES.labels(cache="recommendations")._value.get()
    get(auth_client, patient)
    get(auth_client, patient)
    assert CACHE_HITS.labels(cache="recommendations")._value.get() == hits + 1
    assert CACHE_MISSES.labels(cache="recommendations")._value.get() == misses + 1


# --- a miss and the stored set ---------------------------------------------------------------


def five_recommendations(user) -> None:
    low_steps(user)
    daily(user, "sleep", [300] * 4)
    daily(user, "resting_heart_rate", [95] * 10)
    daily(user, "weight", [100] * 4)
    for back in range(1, 5):
        nutrition_log_create(
            user=user,
            meal_type="lunch",
            logged_at=at(utc_today() - timedelta(days=back)),
            calories=4000,
            protein_g=5,
            water_ml=200,
        )


def test_the_stored_set_reads_back_as_the_computed_answer(user):
    five_recommendations(user)
    computed = services.recommendations_compute(user=user).payload()
    assert len(computed["recommendations"]) == 5
    assert services.stored_recommendations_payload(user=user, days=30) == computed


def test_a_miss_serves_the_stored_set_without_computing_it_again(auth_client, patient):
    computed = services.recommendations_compute(user=patient).payload()
    rec_cache.invalidate(patient.pk)  # the cached answer expired
    with mock.patch.object(
        services, "recommendations_compute", wraps=services.recommendations_compute
    ) as compute:
        body = get(auth_client, patient)
        # Another window is not stored: it is computed.
        assert get(auth_client, patient, "days=14")["days"] == 14
    assert compute.call_count == 1 and compute.call_args.kwargs["days"] == 14
    assert body["cached"] is False
    assert body["recommendations"] == computed["recommendations"]
    assert body["generated_at"] == computed["generated_at"]


def test_a_miss_after_a_write_computes_with_the_write(
    auth_client, patient, django_capture_on_commit_callbacks
):
    services.recommendations_compute(user=patient)
    with django_capture_on_commit_callbacks(execute=True):  # marks the change, drops the cache
        daily(patient, "steps", [12000] * 5)
    types = [r["type"] for r in get(auth_client, patient)["recommendations"]]
    assert "low_steps" not in types and "insufficient_sleep" in types


def test_a_stored_set_of_another_day_is_computed_again(auth_client, patient):
    services.recommendations_compute(user=patient, today=utc_today() - timedelta(days=1))
    rec_cache.invalidate(patient.pk)
    with mock.patch.object(
        services, "recommendations_compute", wraps=services.recommendations_compute
    ) as compute:
        get(auth_client, patient)
    compute.assert_called_once()


def test_a_reading_of_a_type_no_rule_reads_keeps_the_cached_answer(
    auth_client, patient, django_capture_on_commit_callbacks
):
    """Heart rate and glucose are not in the snapshot: such a write changes no
    recommendation, so the cached answer stays (and no recompute is queued); a weight (the
    targets read the latest one) still drops it."""
    first = get(auth_client, patient)
    with django_capture_on_commit_callbacks(execute=True):
        measure(patient, "blood_glucose", 120, utc_today() - timedelta(days=1))
        metric_create(
            user=patient,
            metric_type="heart_rate",
            value=70,
            unit="bpm",
            recorded_at=at(utc_today() - timedelta(days=2)),
        )
    again = get(auth_client, patient)
    assert again["cached"] is True and again["generated_at"] == first["generated_at"]
    assert not RecommendationState.objects.filter(
        user=patient, data_changed_at__isnull=False
    ).exists()
    with django_capture_on_commit_callbacks(execute=True):
        measure(patient, "weight", 70, utc_today() - timedelta(days=1))
    assert get(auth_client, patient)["cached"] is False
