from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from metrics.models import DailyRollup, Device, HealthMetric, IdempotencyRecord
from metrics.services import _record_sync, idempotency_records_purge
from tests.metrics.factories import BASE, DeviceFactory

pytestmark = pytest.mark.django_db


def sample(minute: int, value: float = 70, **extra) -> dict:
    at = BASE + timedelta(minutes=minute)
    return {"metric_type": "heart_rate", "value": value, "recorded_at": at.isoformat(), **extra}


@pytest.fixture
def watch(user):
    return DeviceFactory(user=user, device_type=Device.Type.APPLE_WATCH)


def sync(client, device, samples, **headers):
    return client.post(
        f"/api/v1/devices/{device.pk}/sync", {"samples": samples}, format="json", headers=headers
    )


def test_device_register_list_and_default_priorities(auth_client, user):
    expected = {
        "apple_watch": 100,
        "iphone": 80,
        "ipad": 70,
        "third_party_wearable": 50,
        "third_party_scale": 40,
        "manual_entry": 10,
    }
    for i, device_type in enumerate(expected):
        response = auth_client.post(
            "/api/v1/devices/",
            {"device_type": device_type, "name": f"d{i}", "identifier": f"id-{i}"},
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert response.json()["priority"] == expected[device_type]
    custom = auth_client.post(
        "/api/v1/devices",
        {"device_type": "iphone", "name": "x", "identifier": "id-x", "priority": 120},
        format="json",
    )
    assert custom.json()["priority"] == 120
    listed = auth_client.get("/api/v1/devices/").json()
    assert len(listed) == 7 and listed[0]["priority"] == 120


def test_device_identifier_is_unique_per_user(auth_client, other_client):
    body = {"device_type": "iphone", "name": "x", "identifier": "same"}
    assert auth_client.post("/api/v1/devices/", body, format="json").status_code == 201
    again = auth_client.post("/api/v1/devices/", body, format="json")
    assert again.status_code == 400 and "identifier" in again.json()
    assert other_client.post("/api/v1/devices/", body, format="json").status_code == 201


def test_device_rejects_unknown_type_and_bad_priority(auth_client):
    bad = auth_client.post(
        "/api/v1/devices/",
        {"device_type": "toaster", "name": "x", "identifier": "i", "priority": -1},
        format="json",
    )
    assert bad.status_code == 400
    assert {"device_type", "priority"} <= set(bad.json())


def test_device_detail_and_patch(auth_client, watch):
    url = f"/api/v1/devices/{watch.pk}"
    assert auth_client.get(url).json()["name"] == watch.name
    response = auth_client.patch(url, {"name": "Wrist", "priority": 90}, format="json")
    assert response.status_code == 200
    watch.refresh_from_db()
    assert (watch.name, watch.priority) == ("Wrist", 90)


def test_sync_stores_valid_samples_and_reports_each_invalid_one(auth_client, user, watch):
    samples = [
        sample(0),
        sample(1, value="NaN"),
        sample(2, value=500),
        {"metric_type": "heart_rate", "value": 60},
        sample(4, metric_type="mood"),
        "not an object",
        sample(6, value=80),
    ]
    response = sync(auth_client, watch, samples)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["counts"] == {"synced": 2, "created": 2, "updated": 0, "duplicates": 0, "errors": 5}
    errors = {(e["index"], e["field"]) for e in body["errors"]}
    assert errors == {
        (1, "value"),
        (2, "value"),
        (3, "recorded_at"),
        (4, "metric_type"),
        (5, "non_field_errors"),
    }
    assert all(set(e) == {"index", "field", "message"} for e in body["errors"])
    stored = HealthMetric.objects.filter(user=user)
    assert sorted(stored.values_list("value", flat=True)) == [70, 80]
    assert set(stored.values_list("device_id", flat=True)) == {watch.pk}
    assert DailyRollup.objects.get(user=user, metric_type="heart_rate").value == 75
    watch.refresh_from_db()
    assert watch.last_sync_at is not None


def test_sync_ignores_a_device_named_in_a_sample(auth_client, user, watch, other_user):
    foreign = DeviceFactory(user=other_user)
    sync(auth_client, watch, [sample(0, device=foreign.pk)])
    assert HealthMetric.objects.get().device_id == watch.pk


def test_retry_with_the_same_idempotency_key_returns_the_first_response(auth_client, watch):
    first = sync(auth_client, watch, [sample(0), sample(1)], **{"Idempotency-Key": "k1"})
    retry = sync(auth_client, watch, [sample(0), sample(1)], **{"Idempotency-Key": "k1"})
    assert retry.status_code == 200
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert HealthMetric.objects.count() == 2


def test_same_key_with_another_body_is_409(auth_client, watch):
    sync(auth_client, watch, [sample(0)], **{"Idempotency-Key": "k1"})
    response = sync(auth_client, watch, [sample(5)], **{"Idempotency-Key": "k1"})
    assert response.status_code == 409
    assert HealthMetric.objects.count() == 1


def test_without_a_key_the_body_hash_makes_a_retry_idempotent(auth_client, watch):
    batch = [sample(0, external_id="a"), sample(1, external_id="b")]
    first = sync(auth_client, watch, batch)
    HealthMetric.objects.filter(external_id="a").update(value=99)  # would show a rewrite
    retry = sync(auth_client, watch, batch)
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert HealthMetric.objects.get(external_id="a").value == 99


def test_keys_expire_after_24_hours(auth_client, watch):
    sync(auth_client, watch, [sample(0)], **{"Idempotency-Key": "k1"})
    IdempotencyRecord.objects.update(created_at=BASE - timedelta(days=2))
    again = sync(auth_client, watch, [sample(0)], **{"Idempotency-Key": "k1"})
    assert "Idempotent-Replayed" not in again.headers
    # The sample itself is already stored: a duplicate, not a second row.
    assert again.json()["counts"]["duplicates"] == 1
    assert HealthMetric.objects.count() == 1


def test_purge_drops_only_expired_records(auth_client, watch):
    sync(auth_client, watch, [sample(0)], **{"Idempotency-Key": "old"})
    sync(auth_client, watch, [sample(1)], **{"Idempotency-Key": "new"})
    IdempotencyRecord.objects.filter(key="old").update(created_at=BASE - timedelta(days=400))
    assert idempotency_records_purge() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_known_external_id_is_updated_in_place(auth_client, user, watch):
    sync(auth_client, watch, [sample(0, external_id="x1"), sample(1, external_id="x2")])
    response = sync(
        auth_client,
        watch,
        [
            sample(0, value=90, external_id="x1"),
            sample(1, external_id="x2"),
            sample(2, external_id="x3"),
        ],
    )
    assert response.json()["counts"] == {
        "synced": 2,
        "created": 1,
        "updated": 1,
        "duplicates": 1,
        "errors": 0,
    }
    assert HealthMetric.objects.count() == 3
    assert HealthMetric.objects.get(external_id="x1").value == 90
    assert DailyRollup.objects.get(user=user).value == pytest.approx((90 + 70 + 70) / 3)


def test_known_external_ids_are_found_per_device_among_many_stored(auth_client, user, watch):
    # Each id is looked up on its own (one index probe on PostgreSQL): the ids another device
    # of the person stored are not this device's, and a notes field loads decrypted.
    ring = DeviceFactory(user=user, device_type=Device.Type.OTHER, identifier="ring")
    sync(auth_client, ring, [sample(m, external_id=f"r{m}") for m in range(40)])
    stored = [sample(m, external_id=f"w{m}") for m in range(40)]
    stored[3]["notes"] = "felt dizzy"
    sync(auth_client, watch, stored)
    again = [sample(m, external_id=f"w{m}") for m in range(40)]
    again[3]["notes"] = "felt dizzy"
    again[5]["value"] = 95
    again += [sample(m, external_id=f"r{m}") for m in range(2)]  # the ring's ids, new here
    counts = sync(auth_client, watch, again).json()["counts"]
    assert counts == {"synced": 3, "created": 2, "updated": 1, "duplicates": 39, "errors": 0}
    assert HealthMetric.objects.get(device=watch, external_id="w5").value == 95
    assert HealthMetric.objects.filter(device=ring).count() == 40


def test_external_id_repeated_inside_a_batch_is_an_error(auth_client, watch):
    body = sync(auth_client, watch, [sample(0, external_id="x"), sample(1, external_id="x")]).json()
    assert body["counts"]["synced"] == 1
    assert body["errors"][0]["index"] == 1 and body["errors"][0]["field"] == "external_id"


def test_identical_samples_without_ids_count_as_duplicates(auth_client, watch):
    sync(auth_client, watch, [sample(0), sample(1)], **{"Idempotency-Key": "a"})
    body = sync(
        auth_client, watch, [sample(0), sample(1), sample(1), sample(2)], **{"Idempotency-Key": "b"}
    ).json()
    assert body["counts"]["created"] == 1
    assert body["counts"]["duplicates"] == 3
    assert HealthMetric.objects.count() == 3


def test_batch_over_5000_is_400_and_writes_nothing(auth_client, watch):
    response = sync(auth_client, watch, [sample(0)] * 5001)
    assert response.status_code == 400
    assert "5000" in response.json()["samples"][0]
    assert not HealthMetric.objects.exists()


def test_batch_of_5000_is_accepted(auth_client, watch):
    samples = [sample(i, value=60 + i % 40) for i in range(5000)]
    body = sync(auth_client, watch, samples).json()
    assert body["counts"]["created"] == 5000
    assert HealthMetric.objects.count() == 5000


@pytest.mark.parametrize("body", [{}, {"samples": "x"}, [1, 2], {"samples": None}])
def test_sync_needs_a_list_of_samples(auth_client, watch, body):
    response = auth_client.post(f"/api/v1/devices/{watch.pk}/sync", body, format="json")
    assert response.status_code == 400
    assert "samples" in response.json()


def test_another_users_device_is_404_for_detail_patch_and_sync(auth_client, other_user):
    device = DeviceFactory(user=other_user)
    url = f"/api/v1/devices/{device.pk}"
    assert auth_client.get(url).status_code == 404
    assert auth_client.patch(url, {"name": "mine"}, format="json").status_code == 404
    assert sync(auth_client, device, [sample(0)]).status_code == 404
    assert not HealthMetric.objects.exists()
    assert auth_client.get("/api/v1/devices/").json() == []


def test_sync_stores_every_field_including_encrypted_notes(auth_client, user, watch):
    extra = {
        "end_at": (BASE + timedelta(minutes=1)).isoformat(),
        "source_app": "Health",
        "external_id": "e-1",
        "metadata": {"motion": "walking", "n": [1, 2]},
        "notes": "felt dizzy",
        "unit": "bpm",
    }
    sync(auth_client, watch, [sample(0, **extra), sample(1)])
    metric = HealthMetric.objects.get(external_id="e-1")
    assert metric.notes == "felt dizzy"
    assert metric.metadata == {"motion": "walking", "n": [1, 2]}
    assert metric.end_at == BASE + timedelta(minutes=1)
    assert metric.created_at is not None
    assert HealthMetric.objects.get(external_id="").notes == ""
    listed = auth_client.get("/api/v1/health-metrics/").json()["results"]
    assert {r["notes"] for r in listed} == {"felt dizzy", ""}


def test_each_sync_is_recorded_in_the_audit_log_with_counts_only(auth_client, watch):
    from auditlog.models import LogEntry

    sync(auth_client, watch, [sample(0, value=123), sample(1, value="bad")])
    (entry,) = [e for e in LogEntry.objects.get_for_object(watch) if "sync" in e.changes_dict]
    assert '"created": 1' in entry.changes_dict["sync"][1]
    assert "123" not in str(entry.changes)


def test_a_sync_recorded_under_a_stored_key_raises_the_unique_error(user, watch):
    # What a concurrent twin meets when it commits second: the record's unique key refuses
    # it, and `device_sync` answers with the first response (the device's update with it).
    now = timezone.now()
    _record_sync(watch, key="k", request_hash="h", body={"counts": {"synced": 1}}, now=now)
    watch.refresh_from_db()
    assert watch.last_sync_at == now
    stored = IdempotencyRecord.objects.get(user=user, key="k")
    assert (stored.request_hash, stored.response) == ("h", {"counts": {"synced": 1}})
    with pytest.raises(IntegrityError), transaction.atomic():
        _record_sync(watch, key="k", request_hash="h", body={}, now=now)


def test_a_twin_that_loses_the_race_answers_with_the_first_response(user, watch, monkeypatch):
    # A concurrent twin looked for the record before the first sync committed (found none),
    # did its work, and met the record's unique key: it answers as the first did, or 409.
    from metrics import services

    first = services.device_sync(
        user=user, device=watch, samples=[sample(0)], idempotency_key="k"
    ).body
    stored_record = services._stored_record
    looks = []

    def not_yet_committed(user_id, key):
        looks.append(key)
        return None if len(looks) == 1 else stored_record(user_id, key)

    monkeypatch.setattr(services, "_stored_record", not_yet_committed)
    twin = services.device_sync(user=user, device=watch, samples=[sample(0)], idempotency_key="k")
    assert (twin.body, twin.replayed) == (first, True)
    assert looks == ["k", "k"]
    looks.clear()
    with pytest.raises(services.IdempotencyConflict):
        services.device_sync(user=user, device=watch, samples=[sample(9)], idempotency_key="k")
    assert HealthMetric.objects.count() == 1


def test_an_expired_record_is_replaced_by_the_new_sync(user, watch):
    from metrics import services

    services.device_sync(user=user, device=watch, samples=[sample(0)], idempotency_key="k")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(days=2))
    again = services.device_sync(user=user, device=watch, samples=[sample(3)], idempotency_key="k")
    assert not again.replayed
    (record,) = IdempotencyRecord.objects.filter(user=user, key="k")
    assert record.response == again.body and record.created_at > timezone.now() - timedelta(hours=1)


def test_the_sync_entry_is_the_one_auditlogs_log_create_writes(user, watch):
    from auditlog.context import set_actor
    from auditlog.models import LogEntry

    from metrics import services
    from tests.core.audit_entries import compared

    with set_actor(user, remote_addr="192.0.2.7", remote_port=4431):
        body = services.device_sync(
            user=user,
            device=watch,
            samples=[sample(0), sample(1, value="bad")],
            idempotency_key=None,
        ).body
        (entry,) = [e for e in LogEntry.objects.get_for_object(watch) if "sync" in e.changes_dict]
        expected = LogEntry.objects.log_create(
            watch, action=LogEntry.Action.UPDATE, changes=entry.changes
        )
    expected.refresh_from_db()
    assert compared(entry) == compared(expected)
    assert entry.changes == expected.changes
    assert entry.changes == {"sync": ["", json.dumps(body["counts"], sort_keys=True)]}
    assert (entry.object_pk, entry.object_id) == (str(watch.pk), watch.pk)
    assert entry.actor_id == user.pk and entry.remote_addr == "192.0.2.7"
    assert entry.remote_port == 4431 and entry.action == LogEntry.Action.UPDATE


def test_the_api_sync_entry_carries_the_request(auth_client, watch):
    from auditlog.models import LogEntry

    response = sync(auth_client, watch, [sample(0)])
    (entry,) = [e for e in LogEntry.objects.get_for_object(watch) if "sync" in e.changes_dict]
    assert entry.cid == response["X-Request-ID"]
    assert entry.remote_addr == "127.0.0.1"
