from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from healthtrack.portability.models import ImportJob
from metrics.models import HealthMetric
from tests.portability.apple import WATCH, export_xml, export_zip, record

pytestmark = pytest.mark.django_db


def test_import_apple_health_command_imports_a_zip_with_a_progress_bar(user, tmp_path):
    lines = [
        record(
            "HeartRate",
            60 + i % 30,
            f"2026-03-02 10:{i:02d}:00 +0100",
            unit="count/min",
            source=WATCH,
        )
        for i in range(50)
    ]
    path = tmp_path / "export.zip"
    path.write_bytes(export_zip(export_xml(lines)))
    out = io.StringIO()

    call_command("import_apple_health", str(path), "--user", user.email.upper(), stdout=out)

    output = out.getvalue()
    assert "[" + "#" * 30 + "] 100.0% 50/50 records" in output
    assert "done: 50 created, 0 updated, 0 already stored, 0 errors." in output
    assert HealthMetric.objects.filter(user=user).count() == 50
    job = ImportJob.objects.get(user=user)
    assert (job.kind, job.status, job.processed) == ("apple_health", "done", 50)


def test_import_apple_health_command_needs_an_existing_file_and_user(user, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_apple_health", str(tmp_path / "nope.zip"), "--user", user.email)
    path = tmp_path / "export.xml"
    path.write_bytes(export_xml([]))
    with pytest.raises(CommandError, match="No active user"):
        call_command("import_apple_health", str(path), "--user", "nobody@example.org")
