from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from healthtrack.portability.models import ImportJob
from metrics.models import HealthMetric
from tests.portability.apple import WATCH, export_xml, export_zip, record

pytestmark = pytest.mark.django_db

CSV = (
    "metric_type,value,unit,recorded_at,end_at,source\n"
    "heart_rate,61,,2026-03-02T10:00:00Z,,Polar H10\n"
    "heart_rate,-5,,2026-03-02T10:01:00Z,,Polar H10\n"
)


def upload(client, content: bytes, name: str, **fields):
    return client.post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile(name, content), **fields},
        format="multipart",
    )


def test_upload_runs_the_import_and_reports_progress(
    auth_client, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(auth_client, CSV.encode(), "heart.csv")

    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    detail = auth_client.get(f"/api/v1/imports/{job_id}")
    assert detail.status_code == 200
    body = detail.json()
    assert {k: body[k] for k in ("id", "kind", "status", "total", "processed")} == {
        "id": job_id,
        "kind": "csv_metrics",
        "status": "done",
        "total": 2,
        "processed": 2,
    }
    assert body["errors"] == [
        {
            "line": 3,
            "field": "value",
            "message": "Outside the plausible range for heart rate: 20 to 250 bpm.",
        }
    ]
    assert body["summary"]["created"] == 1
    assert HealthMetric.objects.filter(user=user).count() == 1


def test_upload_is_stored_privately_and_deleted_when_the_job_is_done(
    auth_client, _private_media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(auth_client, CSV.encode(), "Dana's heart.csv")
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert job.status == "pending"
    assert job.file.name.startswith(f"private/imports/{job.user_id}/")
    assert "Dana" not in job.file.name and job.file.name.endswith(".csv")
    stored = _private_media / job.file.name
    assert stored.exists()

    for callback in callbacks:
        callback()

    job.refresh_from_db()
    assert job.status == "done"
    assert not stored.exists()
    assert job.file.name == ""


def test_kind_is_told_from_the_content(auth_client, django_capture_on_commit_callbacks):
    xml = export_xml(
        [record("HeartRate", 61, "2026-03-02 10:00:00 +0100", unit="count/min", source=WATCH)]
    )
    nutrition = b"meal_type,logged_at,water_ml\ndrink,2026-03-02T10:00:00Z,250\n"
    with django_capture_on_commit_callbacks(execute=True):
        kinds = [
            upload(auth_client, export_zip(xml), "upload.bin").json()["kind"],
            upload(auth_client, xml, "export.xml").json()["kind"],
            upload(auth_client, nutrition, "diary.csv").json()["kind"],
        ]
    assert kinds == ["apple_health", "apple_health", "csv_nutrition"]


def test_unknown_kind_is_400(auth_client):
    response = upload(auth_client, CSV.encode(), "heart.csv", kind="garmin")

    assert response.status_code == 400
    assert "kind" in response.json()
    assert not ImportJob.objects.exists()


def test_content_that_contradicts_the_kind_is_400(auth_client):
    response = upload(auth_client, CSV.encode(), "heart.csv", kind="apple_health")

    assert response.status_code == 400
    assert response.json() == {
        "kind": ["The file looks like a csv_metrics file, not apple_health."]
    }


def test_a_file_whose_kind_cannot_be_told_is_400(auth_client):
    response = upload(auth_client, b"hello,world\n1,2\n", "mystery.csv")

    assert response.status_code == 400
    assert response.json() == {"kind": ["Could not tell what kind of file this is; give `kind`."]}


def test_a_missing_file_is_400(auth_client):
    response = auth_client.post("/api/v1/imports/", {"kind": "csv_metrics"}, format="multipart")

    assert response.status_code == 400
    assert "file" in response.json()


def test_upload_over_the_declared_size_limit_is_413(auth_client, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 0.01  # about 10 KB (+ 64 KB multipart allowance)
    response = upload(auth_client, b"x" * 200_000, "big.csv")

    assert response.status_code == 413
    assert response.json() == {"detail": "The file is larger than the upload limit of 0.01 MB."}
    assert not ImportJob.objects.exists()


def test_upload_over_the_limit_within_the_multipart_allowance_is_stopped_while_read(
    auth_client, settings
):
    settings.IMPORT_MAX_UPLOAD_MB = 0.01
    response = upload(auth_client, CSV.encode() + b"#" * 20_000, "big.csv")

    assert response.status_code == 413
    assert not ImportJob.objects.exists()


def test_another_users_import_is_404(auth_client, other_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job_id = upload(auth_client, CSV.encode(), "heart.csv").json()["id"]

    assert other_client.get(f"/api/v1/imports/{job_id}").status_code == 404
    assert other_client.get("/api/v1/imports/").json()["results"] == []
    mine = auth_client.get("/api/v1/imports").json()["results"]
    assert [j["id"] for j in mine] == [job_id]


def test_imports_need_authentication():
    client = APIClient()
    assert client.get("/api/v1/imports/").status_code == 401
    assert upload(client, CSV.encode(), "heart.csv").status_code == 401


@pytest.mark.parametrize(
    ("kind", "header"),
    [
        ("csv_metrics", "metric_type,value,unit,recorded_at,end_at,source"),
        (
            "csv_nutrition",
            "meal_type,logged_at,description,calories,protein_g,carbs_g,fat_g,fiber_g,"
            "sugar_g,sodium_mg,water_ml,food,grams",
        ),
    ],
)
def test_csv_templates_download(auth_client, kind, header):
    response = auth_client.get(f"/api/v1/imports/templates/{kind}.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode() == header + "\r\n"


def test_unknown_template_is_404(auth_client):
    assert auth_client.get("/api/v1/imports/templates/garmin.csv").status_code == 404
