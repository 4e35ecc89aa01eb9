from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from healthtrack.lifecycle import archive, retention, services
from healthtrack.lifecycle.models import ArchivedMonth, RetentionJob
from metrics import services as metric_services
from metrics.models import HealthMetric
from tests.lifecycle.data import month_of_samples, months_ago, rollup_snapshot

pytestmark = pytest.mark.django_db


def test_archive_writes_one_verified_snappy_parquet_per_user_month_and_type(user, archive_root):
    year, month = months_ago(6)
    made = month_of_samples(user, year, month)
    rollups_before = rollup_snapshot(user)

    job = retention.run_archive()

    assert job.status == "done" and job.errors == []
    assert job.rows_archived == len(made) == job.rows_deleted
    assert not HealthMetric.objects.filter(user=user).exists()
    files = {a.data_type: a for a in ArchivedMonth.objects.for_user(user)}
    assert set(files) == {"steps", "heart_rate"}
    steps = files["steps"]
    path = archive_root / f"{user.pk}/{year}/{month:02d}/steps.parquet"
    assert steps.key == f"{user.pk}/{year}/{month:02d}/steps.parquet" and path.exists()
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == steps.sha256 and len(data) == steps.size_bytes
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.metadata.row_group(0).column(0).compression == "SNAPPY"
    assert parquet.metadata.num_rows == steps.rows == 12
    assert job.bytes_written == sum(a.size_bytes for a in files.values())
    # Daily and hourly rollups are not touched by the archive.
    assert rollup_snapshot(user) == rollups_before


def test_months_inside_the_hot_window_stay_hot(user):
    year, month = months_ago(1)
    made = month_of_samples(user, year, month, days=1)
    retention.run_archive()
    assert HealthMetric.objects.filter(user=user).count() == len(made)
    assert not ArchivedMonth.objects.exists()


def test_archived_notes_stay_ciphertext(user, archive_root):
    year, month = months_ago(6)
    month_of_samples(user, year, month, days=1)
    retention.run_archive()
    raw = (archive_root / f"{user.pk}/{year}/{month:02d}/heart_rate.parquet").read_bytes()
    assert b"dizzy" not in raw
    row = pq.read_table(io.BytesIO(raw)).to_pylist()[0]
    assert "notes" not in row
    token = row["notes_token"]
    from django.conf import settings

    assert Fernet(settings.FERNET_KEYS[0]).decrypt(token) == b"felt dizzy on day 0"


def test_a_crash_between_write_and_delete_leaves_every_row_hot_and_a_rerun_finishes(
    user, monkeypatch
):
    year, month = months_ago(5)
    made = month_of_samples(user, year, month)

    def crash(ids):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(archive, "_delete_hot_rows", crash)
    job = retention.run_archive()
    assert job.status == "failed" and job.errors[0]["error"] == "RuntimeError"
    assert HealthMetric.objects.filter(user=user).count() == len(made)
    assert not ArchivedMonth.objects.exists()

    monkeypatch.undo()
    again = retention.run_archive()
    assert again.status == "done" and again.rows_archived == len(made)
    assert not HealthMetric.objects.filter(user=user).exists()
    archived_ids = sorted(
        r["id"] for a in ArchivedMonth.objects.all() for r in archive.read_month(a)
    )
    assert archived_ids == sorted(m.pk for m in made)


def test_running_the_archive_twice_archives_nothing_more(user):
    year, month = months_ago(6)
    month_of_samples(user, year, month)
    retention.run_archive()
    before = list(ArchivedMonth.objects.values_list("key", "sha256", "rows"))
    second = retention.run_archive()
    assert second.rows_archived == 0 and second.status == "done"
    assert list(ArchivedMonth.objects.values_list("key", "sha256", "rows")) == before


def test_a_late_sample_for_an_archived_month_is_merged_into_its_file(user):
    year, month = months_ago(6)
    made = month_of_samples(user, year, month, days=1)
    retention.run_archive()
    late = metric_services.metric_create(
        user=user,
        metric_type="heart_rate",
        value=77,
        unit="bpm",
        recorded_at=made[0].recorded_at.replace(day=20),
        source_app="tests",
    )
    retention.run_archive()
    heart = ArchivedMonth.objects.get(user=user, data_type="heart_rate")
    assert heart.rows == 2
    assert {r["id"] for r in archive.read_month(heart)} == {made[-1].pk, late.pk}
    assert not HealthMetric.objects.filter(user=user).exists()


def test_a_file_changed_in_storage_is_refused_on_restore(user, archive_root):
    year, month = months_ago(6)
    month_of_samples(user, year, month, days=1)
    retention.run_archive()
    path = archive_root / f"{user.pk}/{year}/{month:02d}/steps.parquet"
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(archive.ArchiveVerificationError):
        services.archive_restore(user_id=user.pk, first=(year, month), last=(year, month))
    job = RetentionJob.objects.get(kind="restore")
    assert job.status == "failed" and "checksum" in job.errors[0]["error"]


def test_restore_brings_months_back_with_their_rollups_and_twice_adds_nothing(user):
    year, month = months_ago(6)
    made = month_of_samples(user, year, month)
    before = rollup_snapshot(user)
    original = {m.pk: (m.value, m.notes, m.created_at, m.metadata) for m in made}
    retention.run_archive()

    call_command(
        "restore_archive",
        user=str(user.pk),
        first=f"{year}-{month:02d}",
        last=f"{year}-{month:02d}",
    )

    restored = {
        m.pk: (m.value, m.notes, m.created_at, m.metadata)
        for m in HealthMetric.objects.filter(user=user)
    }
    assert restored == original
    assert rollup_snapshot(user) == before
    job = RetentionJob.objects.get(kind="restore")
    assert (job.status, job.rows_restored) == ("done", len(made))
    assert ArchivedMonth.objects.filter(restored_at__isnull=False).count() == 2

    services.archive_restore(user_id=user.pk, first=(year, month), last=(year, month))
    assert HealthMetric.objects.filter(user=user).count() == len(made)
    assert RetentionJob.objects.filter(kind="restore").first().rows_restored == 0
    # A restored month stays hot for the hold period: the nightly archive leaves it.
    retention.run_archive()
    assert HealthMetric.objects.filter(user=user).count() == len(made)


def test_restore_command_explains_bad_arguments(user):
    with pytest.raises(CommandError, match="not a month"):
        call_command("restore_archive", user=str(user.pk), first="2025-13", last="2025-06")
    with pytest.raises(CommandError, match="before"):
        call_command("restore_archive", user=str(user.pk), first="2025-06", last="2025-01")
    with pytest.raises(CommandError, match="No user"):
        call_command("restore_archive", user="nobody-here", first="2025-01", last="2025-01")


def test_restore_only_touches_the_users_own_months(user, other_user):
    year, month = months_ago(6)
    month_of_samples(user, year, month, days=1)
    month_of_samples(other_user, year, month, days=1)
    retention.run_archive()
    services.archive_restore(user_id=user.pk, first=(year, month), last=(year, month))
    assert HealthMetric.objects.filter(user=user).exists()
    assert not HealthMetric.objects.filter(user=other_user).exists()


def test_a_sample_changed_while_its_month_is_written_keeps_the_month_hot(user, monkeypatch):
    year, month = months_ago(6)
    made = month_of_samples(user, year, month, days=1)
    write = archive._write_verified

    def write_then_someone_edits(key, rows):
        result = write(key, rows)
        if key.endswith("heart_rate.parquet"):
            metric_services.metric_update(metric=made[-1], value=88)
        return result

    monkeypatch.setattr(archive, "_write_verified", write_then_someone_edits)
    job = retention.run_archive()
    assert job.status == "failed" and "rows changed" in job.errors[0]["error"]
    assert HealthMetric.objects.get(pk=made[-1].pk).value == 88
    assert not ArchivedMonth.objects.filter(data_type="heart_rate").exists()
    monkeypatch.undo()
    retention.run_archive()
    heart = ArchivedMonth.objects.get(data_type="heart_rate")
    assert [r["value"] for r in archive.read_month(heart)] == [88]


def test_a_sample_deleted_after_a_restore_is_not_brought_back_by_the_next_archive(user, settings):
    year, month = months_ago(6)
    made = month_of_samples(user, year, month, days=1)
    retention.run_archive()
    services.archive_restore(user_id=user.pk, first=(year, month), last=(year, month))
    metric_services.metric_delete(metric=HealthMetric.objects.get(pk=made[0].pk))
    services.archive_restore(user_id=user.pk, first=(year, month), last=(year, month))
    assert not HealthMetric.objects.filter(pk=made[0].pk).exists()

    settings.LIFECYCLE_RESTORE_HOLD_DAYS = 0
    retention.run_archive()
    archived_ids = {r["id"] for a in ArchivedMonth.objects.all() for r in archive.read_month(a)}
    assert archived_ids == {m.pk for m in made[1:]}


def test_restore_command_reports_a_damaged_file_without_a_traceback(user, archive_root):
    year, month = months_ago(6)
    month_of_samples(user, year, month, days=1)
    retention.run_archive()
    path = archive_root / f"{user.pk}/{year}/{month:02d}/steps.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(CommandError, match="ArchiveVerificationError"):
        call_command(
            "restore_archive",
            user=str(user.pk),
            first=f"{year}-{month:02d}",
            last=f"{year}-{month:02d}",
        )


def test_loading_the_app_does_not_load_pyarrow():
    """pyarrow (~60 MB) is loaded by the archive jobs only, not by every web or import
    process that imports the lifecycle module."""
    code = (
        "import os, sys, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'healthtrack.settings')\n"
        "django.setup()\n"
        "from django.urls import get_resolver\n"
        "get_resolver().url_patterns\n"
        "import healthtrack.lifecycle.archive, healthtrack.portability.export\n"
        "print('pyarrow' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "False", out.stderr
