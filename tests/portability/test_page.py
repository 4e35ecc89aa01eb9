from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from healthtrack.portability.models import ImportJob
from metrics.models import HealthMetric

pytestmark = pytest.mark.django_db

CSV = b"metric_type,value,unit,recorded_at,end_at,source\nsteps,900,,2026-03-02T08:00:00Z,,\n"


def test_your_data_page_offers_exports_report_and_import(client, user):
    client.force_login(user)
    response = client.get("/settings/data/")

    assert response.status_code == 200
    html = response.content.decode()
    for href in (
        "/api/v1/export?format=json",
        "/api/v1/export?format=csv",
        "/api/v1/export?format=fhir",
        "/api/v1/export/report",
        "/api/v1/imports/templates/csv_metrics.csv",
    ):
        assert href in html
    assert "No imports yet" in html
    assert not re.search(r"\sstyle\s*=", html) and not re.search(r"\son[a-z]+\s*=", html)


def test_importing_from_the_page_shows_the_job_with_its_progress(
    client, user, django_capture_on_commit_callbacks
):
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/settings/data/", {"file": SimpleUploadedFile("steps.csv", CSV), "kind": ""}
        )
    assert response.status_code == 302

    page = client.get("/settings/data/").content.decode()
    job = ImportJob.objects.get(user=user)
    assert job.status == "done"
    assert '<progress class="progress" max="1" value="1"' in page
    assert "1 added, 0 already there" in page
    assert 'http-equiv="refresh"' not in page  # nothing running
    assert HealthMetric.objects.filter(user=user).count() == 1


def test_a_running_import_refreshes_the_page(client, user):
    ImportJob.objects.create(user=user, kind="csv_metrics", status="running", total=10)
    client.force_login(user)
    page = client.get("/settings/data/").content.decode()
    assert '<meta http-equiv="refresh" content="3">' in page


def test_the_page_refuses_an_oversized_file(client, user, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 0.001
    client.force_login(user)
    response = client.post("/settings/data/", {"file": SimpleUploadedFile("big.csv", CSV * 50)})

    assert response.status_code == 400
    assert "larger than the upload limit" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_page_needs_a_login(client):
    assert client.get("/settings/data/").status_code == 302
