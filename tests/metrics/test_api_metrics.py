from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from metrics.models import DailyRollup, HealthMetric
from metrics.services import invalidate_summary_cache
from tests.metrics.factories import BASE, DeviceFactory, HealthMetricFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/health-metrics/"
GOOD = {"metric_type": "heart_rate", "value": 72, "recorded_at": "2026-03-02T10:00:00Z"}


def test_create_returns_201_with_the_public_fields(auth_client, user):
    device = DeviceFactory(user=user)
    payload = {
        **GOOD,
        "unit": "bpm",
        "end_at": "2026-03-02T10:01:00+00:00",
        "device": device.pk,
        "source_app": "Health",
        "external_id": "abc-1",
        "metadata": {"context": "resting"},
        "notes": "after coffee",
    }
    response = auth_client.post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {
        "id",
        "metric_type",
        "value",
        "unit",
        "recorded_at",
        "end_at",
        "device",
        "source_app",
        "external_id",
        "metadata",
        "notes",
        "created_at",
    }
    assert body["value"] == 72.0
    assert body["recorded_at"] == "2026-03-02T10:00:00Z"
    assert body["device"] == device.pk
    assert body["notes"] == "after coffee"
    metric = HealthMetric.objects.get(pk=body["id"])
    assert metric.user == user
    assert DailyRollup.objects.get(user=user, metric_type="heart_rate").value == 72.0


def test_notes_are_encrypted_at_rest(auth_client, user):
    from django.db import connection

    response = auth_client.post(URL, {**GOOD, "notes": "private words"}, format="json")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT notes FROM metrics_healthmetric WHERE id = %s", [response.json()["id"]]
        )
        raw = bytes(cursor.fetchone()[0])
    assert b"private words" not in raw


@pytest.mark.parametrize(
    "payload, stored, unit",
    [
        ({"metric_type": "weight", "value": 176, "unit": "lb"}, 79.83225712, "kg"),
        ({"metric_type": "blood_glucose", "value": 5, "unit": "mmol/L"}, 90.08, "mg/dL"),
        ({"metric_type": "body_temperature", "value": 100.4, "unit": "°F"}, 38.0, "°C"),
        ({"metric_type": "distance", "value": 2.5, "unit": "km"}, 2500.0, "m"),
        ({"metric_type": "steps", "value": "1200"}, 1200.0, "count"),
    ],
)
def test_create_converts_to_the_canonical_unit(auth_client, payload, stored, unit):
    response = auth_client.post(
        URL, {**payload, "recorded_at": "2026-03-02T10:00:00Z"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["value"] == pytest.approx(stored)
    assert response.json()["unit"] == unit


def _future(hours: float) -> str:
    return (timezone.now() + timedelta(hours=hours)).isoformat()


@pytest.mark.parametrize(
    "changes, field, fragment",
    [
        ({"metric_type": "mood"}, "metric_type", "Unknown metric type"),
        ({"metric_type": None}, "metric_type", "required"),
        ({"unit": "kg"}, "unit", "does not fit"),
        ({"value": 400}, "value", "plausible range"),
        ({"value": 5}, "value", "plausible range"),
        ({"value": "NaN"}, "value", "NaN"),
        ({"value": "Infinity"}, "value", "NaN"),
        ({"value": "-inf"}, "value", "NaN"),
        ({"value": "fast"}, "value", "number"),
        ({"value": True}, "value", "number"),
        ({"value": [70]}, "value", "number"),
        ({"value": None}, "value", "number"),
        ({"recorded_at": None}, "recorded_at", "required"),
        ({"recorded_at": "2026-03-02T10:00:00"}, "recorded_at", "timezone"),
        ({"recorded_at": "yesterday"}, "recorded_at", "ISO 8601"),
        ({"recorded_at": 1700000000}, "recorded_at", "ISO 8601"),
        ({"recorded_at": "FUTURE"}, "recorded_at", "future"),
        ({"end_at": "2026-03-02T09:59:00Z"}, "end_at", "before"),
        ({"end_at": "2026-03-02T10:05:00"}, "end_at", "timezone"),
        ({"end_at": "2026-03-04T10:00:00Z"}, "end_at", "24 hours"),
        ({"device": 999999}, "device", "Unknown device"),
        ({"metadata": [1, 2]}, "metadata", "object"),
        ({"external_id": "x" * 300}, "external_id", "255"),
        ({"notes": 5}, "notes", "string"),
    ],
)
def test_bad_input_is_400_with_a_field_message_and_writes_nothing(
    auth_client, changes, field, fragment
):
    payload = {**GOOD, **changes}
    if payload.get("recorded_at") == "FUTURE":
        payload["recorded_at"] = _future(1.5)
    response = auth_client.post(URL, payload, format="json")
    assert response.status_code == 400
    messages = response.json()[field]
    assert any(fragment in m for m in messages), messages
    assert not HealthMetric.objects.exists()
    assert not DailyRollup.objects.exists()


def test_an_unknown_field_is_400_naming_it_and_the_accepted_ones(auth_client):
    response = auth_client.post(URL, {**GOOD, "heartrate": 70}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "unknown_field": [
            "Unknown field: 'heartrate'. Accepted: device, end_at, external_id, metadata, "
            "metric_type, notes, recorded_at, source_app, unit, value."
        ]
    }
    assert not HealthMetric.objects.exists()


@pytest.mark.parametrize("body", ["null", "[]", '"text"'])
def test_a_body_that_is_not_an_object_is_400(auth_client, body):
    response = auth_client.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert not HealthMetric.objects.exists()


def test_missing_value_is_required(auth_client):
    response = auth_client.post(
        URL, {"metric_type": "steps", "recorded_at": GOOD["recorded_at"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["value"] == ["This field is required."]


def test_up_to_one_hour_in_the_future_is_accepted(auth_client):
    response = auth_client.post(URL, {**GOOD, "recorded_at": _future(0.9)}, format="json")
    assert response.status_code == 201


def test_range_is_checked_after_conversion(auth_client):
    # 1,200 lb is 544 kg, over the 500 kg limit; 1,000 lb (454 kg) is fine.
    base = {"metric_type": "weight", "unit": "lb", "recorded_at": GOOD["recorded_at"]}
    assert auth_client.post(URL, {**base, "value": 1200}, format="json").status_code == 400
    assert auth_client.post(URL, {**base, "value": 1000}, format="json").status_code == 201


def test_another_users_device_is_refused_as_unknown(auth_client, other_user):
    device = DeviceFactory(user=other_user)
    response = auth_client.post(URL, {**GOOD, "device": device.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["device"] == ["Unknown device."]


def test_error_messages_never_echo_the_submitted_value(auth_client):
    response = auth_client.post(URL, {**GOOD, "value": 987654}, format="json")
    assert "987654" not in response.content.decode()


def test_create_with_a_known_external_id_updates_in_place(auth_client, user):
    first = auth_client.post(URL, {**GOOD, "external_id": "s-1", "source_app": "A"}, format="json")
    again = auth_client.post(
        URL, {**GOOD, "value": 80, "external_id": "s-1", "source_app": "A"}, format="json"
    )
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert HealthMetric.objects.count() == 1
    assert HealthMetric.objects.get().value == 80
    assert DailyRollup.objects.get(user=user).value == 80
    # The same id from another source app is another sample.
    other = auth_client.post(URL, {**GOOD, "external_id": "s-1", "source_app": "B"}, format="json")
    assert other.status_code == 201
    assert HealthMetric.objects.count() == 2


def test_list_is_newest_first_and_only_own(auth_client, user, other_user):
    mine = [HealthMetricFactory(user=user) for _ in range(3)]
    HealthMetricFactory(user=other_user)
    response = auth_client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert [r["id"] for r in body["results"]] == [
        m.pk for m in sorted(mine, key=lambda m: m.recorded_at, reverse=True)
    ]
    assert set(body) == {"next", "previous", "results"}


def test_list_filters(auth_client, user):
    watch = DeviceFactory(user=user)
    HealthMetricFactory(user=user, recorded_at=BASE - timedelta(days=2))
    keep = HealthMetricFactory(user=user, recorded_at=BASE, device=watch, source_app="Health")
    HealthMetricFactory(user=user, metric_type="steps", unit="count", value=10, recorded_at=BASE)
    HealthMetricFactory(user=user, recorded_at=BASE + timedelta(hours=1), source_app="Other")
    query = {
        "metric_type": "heart_rate",
        "since": (BASE - timedelta(hours=1)).isoformat(),
        "until": (BASE + timedelta(minutes=30)).isoformat(),
        "source": "Health",
    }
    response = auth_client.get(URL, query)
    assert [r["id"] for r in response.json()["results"]] == [keep.pk]
    response = auth_client.get(URL, {"device": watch.pk})
    assert [r["id"] for r in response.json()["results"]] == [keep.pk]


@pytest.mark.parametrize(
    "query, field",
    [
        ({"metric_type": "mood"}, "metric_type"),
        ({"since": "not-a-date"}, "since"),
        ({"limit": 1001}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_list_rejects_bad_filters(auth_client, query, field):
    response = auth_client.get(URL, query)
    assert response.status_code == 400
    assert field in response.json()


def test_cursor_pagination_walks_every_row_once(auth_client, user):
    rows = [HealthMetricFactory(user=user) for _ in range(7)]
    # Two rows at the same instant must not be lost or repeated across pages.
    rows.append(HealthMetricFactory(user=user, recorded_at=rows[3].recorded_at))
    seen, url = [], URL + "?limit=3"
    while url:
        body = auth_client.get(url).json()
        assert len(body["results"]) <= 3
        seen += [r["id"] for r in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(m.pk for m in rows)
    assert len(seen) == len(set(seen))


def test_limit_up_to_1000(auth_client, user):
    HealthMetric.objects.bulk_create(
        [
            HealthMetric(
                user=user,
                metric_type="heart_rate",
                value=60,
                unit="bpm",
                recorded_at=BASE - timedelta(minutes=i),
            )
            for i in range(1001)
        ]
    )
    body = auth_client.get(URL, {"limit": 1000}).json()
    assert len(body["results"]) == 1000
    assert body["next"]


def test_user_path_lists_own_data_and_404s_for_others(auth_client, user, other_user):
    HealthMetricFactory(user=user)
    HealthMetricFactory(user=other_user)
    assert len(auth_client.get(f"{URL}user/{user.pk}").json()["results"]) == 1
    assert auth_client.get(f"{URL}user/{other_user.pk}").status_code == 404
    assert auth_client.get(f"{URL}user/999999").status_code == 404


def test_detail_get_put_patch_delete(auth_client, user):
    created = auth_client.post(URL, GOOD, format="json").json()
    url = f"{URL}{created['id']}"
    assert auth_client.get(url).json()["value"] == 72

    put = auth_client.put(
        url,
        {
            "metric_type": "weight",
            "value": 150,
            "unit": "lb",
            "recorded_at": "2026-03-03T08:00:00Z",
        },
        format="json",
    )
    assert put.status_code == 200, put.json()
    assert put.json()["value"] == pytest.approx(68.0388555)
    assert not DailyRollup.objects.filter(metric_type="heart_rate").exists()
    assert DailyRollup.objects.get(metric_type="weight").value == pytest.approx(68.0388555)

    patch = auth_client.patch(url, {"value": 70}, format="json")
    assert patch.status_code == 200
    assert patch.json()["value"] == 70 and patch.json()["unit"] == "kg"
    assert DailyRollup.objects.get(metric_type="weight").value == 70

    assert auth_client.delete(url).status_code == 204
    assert not HealthMetric.objects.exists()
    assert not DailyRollup.objects.exists()
    assert auth_client.get(url).status_code == 404


def test_patch_is_validated_as_a_whole_and_writes_nothing_on_error(auth_client, user):
    created = auth_client.post(URL, GOOD, format="json").json()
    url = f"{URL}{created['id']}"
    response = auth_client.patch(url, {"metric_type": "weight"}, format="json")
    # 72 bpm re-read as kg is plausible, so try an impossible end instead.
    response = auth_client.patch(
        url, {"end_at": "2026-03-01T00:00:00Z", "value": 90}, format="json"
    )
    assert response.status_code == 400
    assert "end_at" in response.json()
    metric = HealthMetric.objects.get()
    assert metric.value == 72 and metric.end_at is None


def test_put_requires_every_required_field(auth_client):
    created = auth_client.post(URL, GOOD, format="json").json()
    response = auth_client.put(f"{URL}{created['id']}", {"value": 60}, format="json")
    assert response.status_code == 400
    assert {"metric_type", "recorded_at"} <= set(response.json())


def test_other_users_measurement_is_404_on_every_method(auth_client, other_user):
    metric = HealthMetricFactory(user=other_user)
    url = f"{URL}{metric.pk}"
    assert auth_client.get(url).status_code == 404
    assert auth_client.put(url, GOOD, format="json").status_code == 404
    assert auth_client.patch(url, {"value": 1}, format="json").status_code == 404
    assert auth_client.delete(url).status_code == 404
    assert HealthMetric.objects.filter(pk=metric.pk, value=70).exists()


def test_anonymous_is_401(api_client):
    assert api_client.get(URL).status_code == 401
    assert api_client.post(URL, GOOD, format="json").status_code == 401


def test_list_and_detail_do_a_constant_number_of_queries(
    auth_client, user, django_assert_num_queries
):
    device = DeviceFactory(user=user)
    for _ in range(3):
        HealthMetricFactory(user=user, device=device, notes="n")
    with django_assert_num_queries(1):
        assert len(auth_client.get(URL).json()["results"]) == 3
    for _ in range(30):
        HealthMetricFactory(user=user, device=device, notes="n")
    # The factory writes rows directly; every write path replaces the owner's data version.
    invalidate_summary_cache(user.pk)
    with django_assert_num_queries(1):
        assert len(auth_client.get(URL).json()["results"]) == 33
    with django_assert_num_queries(0):  # the same page again: its rendered bytes, no SQL
        assert len(auth_client.get(URL).json()["results"]) == 33
    with django_assert_num_queries(1):  # the page: the owner is the signed-in user
        assert len(auth_client.get(f"{URL}user/{user.pk}").json()["results"]) == 33
    metric = HealthMetric.objects.first()
    with django_assert_num_queries(1):
        assert auth_client.get(f"{URL}{metric.pk}").status_code == 200


def test_jwt_authenticates_the_metrics_api(api_client, user):
    from tests.accounts.factories import PASSWORD

    token = api_client.post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    ).json()["access"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.post(URL, GOOD, format="json").status_code == 201
    assert len(api_client.get(URL).json()["results"]) == 1


def test_stored_times_are_utc(auth_client):
    response = auth_client.post(
        URL, {**GOOD, "recorded_at": "2026-03-02T12:00:00+02:00"}, format="json"
    )
    assert response.json()["recorded_at"] == "2026-03-02T10:00:00Z"
    assert HealthMetric.objects.get().recorded_at == datetime(2026, 3, 2, 10, tzinfo=UTC)
