"""The user's export and erasure include archived months; key rotation covers archives."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command

from healthtrack.core.encryption import reset_key_caches
from healthtrack.lifecycle import archive, retention, services
from healthtrack.lifecycle.models import ArchivedMonth, RetentionJob
from healthtrack.portability import services as portability
from metrics.models import HealthMetric
from tests.lifecycle.data import month_of_samples, months_ago

pytestmark = pytest.mark.django_db


def _json_export(client) -> dict:
    response = client.get("/api/v1/export?format=json")
    assert response.status_code == 200
    return json.loads(b"".join(response.streaming_content))


def test_the_users_export_includes_archived_months_once(auth_client, user, other_user):
    year, month = months_ago(6)
    old = month_of_samples(user, year, month, days=2)
    recent = month_of_samples(user, *months_ago(0), days=1)
    month_of_samples(other_user, year, month, days=1)
    retention.run_archive()
    assert not HealthMetric.objects.filter(pk__in=[m.pk for m in old]).exists()

    body = _json_export(auth_client)
    assert sorted(m["id"] for m in body["metrics"]) == sorted(m.pk for m in old + recent)
    heart = next(m for m in body["metrics"] if m["id"] == old[4].pk)
    assert heart["notes"] == "felt dizzy on day 0"  # decrypted for the owner
    assert heart["metadata"] == {"position": "sitting"}
    assert heart["recorded_at"] == old[4].recorded_at.isoformat()

    # A restored month is in the hot table; it is exported once, not twice.
    services.archive_restore(user_id=user.pk, first=(year, month), last=(year, month))
    body = _json_export(auth_client)
    assert sorted(m["id"] for m in body["metrics"]) == sorted(m.pk for m in old + recent)


def test_erasure_deletes_the_archive_files_and_their_records(user, other_user, archive_root):
    year, month = months_ago(6)
    month_of_samples(user, year, month, days=1)
    month_of_samples(other_user, year, month, days=1)
    retention.run_archive()
    assert (archive_root / str(user.pk)).exists()

    result = portability.account_purge(user=user)

    assert result.deleted["lifecycle.archive_files"] == 2
    assert not list((archive_root / str(user.pk)).rglob("*.parquet"))
    assert not ArchivedMonth.objects.filter(user_id=user.pk).exists()
    assert ArchivedMonth.objects.filter(user=other_user).count() == 2
    assert list((archive_root / str(other_user.pk)).rglob("*.parquet"))


@pytest.fixture
def old_and_new_keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old]
    reset_key_caches()
    yield settings, old, new
    reset_key_caches()


def test_key_rotation_command_reencrypts_archived_notes(old_and_new_keys, user):
    settings, old, new = old_and_new_keys
    year, month = months_ago(6)
    month_of_samples(user, year, month, days=2)
    retention.run_archive()
    settings.FERNET_KEYS = [new, old]
    reset_key_caches()

    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "archive files: 1 re-encrypted, 1 already current" in out.getvalue()
    heart = ArchivedMonth.objects.get(data_type="heart_rate")
    for row in archive.read_month(heart):  # checksum recorded anew
        with pytest.raises(InvalidToken):
            Fernet(old).decrypt(row["notes_token"])
    assert RetentionJob.objects.get(kind="rotate_archive_keys").status == "done"

    # The old key can go: the archive still restores.
    settings.FERNET_KEYS = [new]
    reset_key_caches()
    services.archive_restore(user_id=user.pk, first=(year, month), last=(year, month))
    notes = set(
        HealthMetric.objects.filter(metric_type="heart_rate").values_list("notes", flat=True)
    )
    assert notes == {"felt dizzy on day 0", "felt dizzy on day 1"}
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "archive files: 0 re-encrypted, 2 already current" in out.getvalue()


def test_erasure_also_deletes_a_file_an_interrupted_archive_left(user, archive_root, monkeypatch):
    year, month = months_ago(6)
    month_of_samples(user, year, month, days=1)
    monkeypatch.setattr(archive, "_delete_hot_rows", lambda ids: 1 / 0)
    retention.run_archive()
    assert list((archive_root / str(user.pk)).rglob("*.parquet"))
    assert not ArchivedMonth.objects.exists()

    result = portability.account_purge(user=user)

    assert result.deleted["lifecycle.archive_files"] == 2
    assert not list((archive_root / str(user.pk)).rglob("*.parquet"))


def test_the_fhir_export_includes_archived_months_with_blood_pressure_pairs(auth_client, user):
    from fhir.resources.bundle import Bundle

    from metrics import services as metric_services

    year, month = months_ago(6)
    old = month_of_samples(user, year, month, days=1)
    moment = old[0].recorded_at
    for code, value in (("blood_pressure_systolic", 150), ("blood_pressure_diastolic", 95)):
        metric_services.metric_create(
            user=user, metric_type=code, value=value, unit="mmHg", recorded_at=moment
        )
    recent = month_of_samples(user, *months_ago(0), days=1)
    retention.run_archive()
    assert ArchivedMonth.objects.filter(user=user).count() == 4

    response = auth_client.get("/api/v1/export?format=fhir")
    document = json.loads(b"".join(response.streaming_content))
    Bundle.parse_obj(document)
    resources = [e["resource"] for e in document["entry"][1:]]
    ids = {int(r["identifier"][0]["value"]) for r in resources}
    assert {m.pk for m in old + recent} <= ids
    # The archived pair is one Observation with two components.
    assert len(resources) == len(old) + len(recent) + 1
    assert sum(1 for r in resources if "component" in r) == 1
