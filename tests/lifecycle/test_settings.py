"""The retention table and the archive storage from the environment (fresh interpreter)."""

from __future__ import annotations

import json

from tests.healthtrack.test_settings import run_python

LIFECYCLE_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.core.files.storage import storages
print(json.dumps({
    "table": settings.DATA_LIFECYCLE,
    "backend": type(storages["lifecycle_archive"]).__name__,
    "location": getattr(storages["lifecycle_archive"], "location", None),
}))
"""


def _probe(tmp_path, **env) -> dict:
    result = run_python(LIFECYCLE_PROBE, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_default_table_is_the_design_notes_and_the_archive_a_local_folder(tmp_path):
    values = _probe(tmp_path)
    assert values["table"] == {
        "raw_samples": {"hot": 90, "archive": 730, "delete_after": 2557},
        "hourly_rollups": {"hot": 90, "archive": 365, "delete_after": 730},
        "daily_rollups": {"hot": None, "archive": None, "delete_after": None},
        "insights": {"hot": 90, "archive": 365, "delete_after": 730},
        "share_grants": {"hot": 30, "archive": None, "delete_after": 30},
        "audit_logs": {"hot": 365, "archive": 2190, "delete_after": 2557},
        "change_feed": {"hot": None, "archive": None, "delete_after": 90},
    }
    assert values["backend"] == "ArchiveFileSystemStorage"
    assert values["location"] == str(tmp_path / "archive")


def test_each_value_and_an_s3_archive_come_from_the_environment(tmp_path):
    values = _probe(
        tmp_path,
        LIFECYCLE_RAW_SAMPLES_HOT_DAYS="120",
        AUDIT_RETENTION_DAYS="3000",
        LIFECYCLE_ARCHIVE_S3_BUCKET="archive-bucket",
    )
    assert values["table"]["raw_samples"]["hot"] == 120
    assert values["table"]["audit_logs"]["delete_after"] == 3000
    assert values["backend"] == "S3Storage"


def test_a_bad_value_stops_start_up_naming_it(tmp_path):
    result = run_python(LIFECYCLE_PROBE, tmp_path, LIFECYCLE_INSIGHTS_DELETE_AFTER_DAYS="0")
    assert result.returncode != 0
    assert "LIFECYCLE_INSIGHTS_DELETE_AFTER_DAYS must be at least 1" in result.stderr
    result = run_python(LIFECYCLE_PROBE, tmp_path, LIFECYCLE_HOURLY_ROLLUPS_DELETE_AFTER_DAYS="30")
    assert result.returncode != 0
    assert "delete_after is before hot" in result.stderr
