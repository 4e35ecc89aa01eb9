"""Meal photos in the user's data export: the ZIP format (`format=zip`) holds the JSON export and
the stored photos; the JSON names each diary entry's photo by its file in the archive."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts import family
from accounts.models import AccessLog
from healthtrack.portability import export, services
from healthtrack.portability.models import ImportJob
from healthtrack.portability.services import import_job_execute
from nutrition import services as nutrition_services
from nutrition.models import MealPhoto, NutritionLog
from tests.accounts.factories import UserFactory
from tests.accounts.family_factories import make_dependent
from tests.nutrition.factories import NutritionLogFactory
from tests.nutrition.photo_helpers import MARKER, exif_with_gps, image_bytes, upload
from tests.portability.data import populate
from tests.portability.test_round_trip import diary_of

pytestmark = pytest.mark.django_db


def content(response) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


def attach_photo(log: NutritionLog, capture, data: bytes | None = None) -> MealPhoto:
    data = data or image_bytes("JPEG", exif=exif_with_gps())
    with capture(execute=True):  # the thumbnail task runs on commit
        photo = nutrition_services.meal_photo_set(log=log, upload=upload(data))
    photo.refresh_from_db()
    return photo


@pytest.fixture
def photographed(user, other_user, meal_photo_root, django_capture_on_commit_callbacks):
    """`user`'s diary (populate) with a JPEG on its first entry and a PNG on its second;
    `other_user` has a photo too."""
    populate(user)
    populate(other_user)
    capture = django_capture_on_commit_callbacks
    first, second, _ = NutritionLog.objects.filter(user=user).order_by("logged_at", "id")
    jpeg = attach_photo(first, capture)
    png = attach_photo(second, capture, image_bytes("PNG", mode="RGBA"))
    attach_photo(NutritionLog.objects.filter(user=other_user).first(), capture)
    return {"jpeg": jpeg, "png": png}


def stored(meal_photo_root, name: str) -> bytes:
    return (meal_photo_root / name).read_bytes()


def zip_export(client, query: str = "") -> zipfile.ZipFile:
    response = client.get(f"/api/v1/export?format=zip{query}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"].startswith('attachment; filename="healthtrack-export-')
    assert response["Content-Disposition"].endswith('-with-photos.zip"')
    return zipfile.ZipFile(io.BytesIO(content(response)))


def test_zip_export_holds_the_json_export_and_the_stored_photos(
    auth_client, user, photographed, meal_photo_root
):
    jpeg, png = photographed["jpeg"], photographed["png"]

    archive = zip_export(auth_client)

    assert archive.testzip() is None
    assert sorted(archive.namelist()) == sorted(
        [
            "healthtrack-export.json",
            f"photos/{jpeg.log_id}.jpg",
            f"photos/{png.log_id}.png",
        ]
    )
    # The stored, metadata-free copies; not the thumbnails.
    assert archive.read(f"photos/{jpeg.log_id}.jpg") == stored(meal_photo_root, jpeg.image_name)
    assert archive.read(f"photos/{png.log_id}.png") == stored(meal_photo_root, png.image_name)
    assert MARKER.encode() not in archive.read(f"photos/{jpeg.log_id}.jpg")
    body = json.loads(archive.read("healthtrack-export.json"))
    plain = json.loads(content(auth_client.get("/api/v1/export?format=json")))
    body.pop("exported_at"), plain.pop("exported_at")
    assert body == plain
    assert body["user_id"] == user.pk and len(body["nutrition_logs"]) == 3


def test_json_export_names_each_entrys_photo_by_its_file_in_the_archive(auth_client, photographed):
    jpeg, png = photographed["jpeg"], photographed["png"]

    text = content(auth_client.get("/api/v1/export?format=json")).decode()

    rows = {row["id"]: row for row in json.loads(text)["nutrition_logs"]}
    assert rows[jpeg.log_id]["photo"] == {
        "file": f"photos/{jpeg.log_id}.jpg",
        "content_type": "image/jpeg",
        "width": jpeg.width,
        "height": jpeg.height,
        "size_bytes": jpeg.size_bytes,
        "created_at": jpeg.created_at.isoformat(),
    }
    assert rows[png.log_id]["photo"]["file"] == f"photos/{png.log_id}.png"
    assert [row["photo"] for row in rows.values()].count(None) == 1
    # Nothing of where or how the files are stored: no storage names, no URLs.
    for photo in (jpeg, png):
        assert photo.image_name not in text and photo.thumbnail_name not in text
    assert "http" not in text and "/photo/" not in text and "thumbnail" not in text


def test_csv_export_keeps_its_diary_columns(auth_client, photographed):
    response = auth_client.get("/api/v1/export?format=csv")
    archive = zipfile.ZipFile(io.BytesIO(content(response)))

    header = next(csv.reader(io.StringIO(archive.read("nutrition_logs.csv").decode())))
    assert header == export.NUTRITION_LOG_COLUMNS
    assert not any(name.startswith("photos/") for name in archive.namelist())


def test_zip_export_without_photos_holds_the_json_export_alone(auth_client, user):
    populate(user)

    archive = zip_export(auth_client)

    assert archive.namelist() == ["healthtrack-export.json"]
    body = json.loads(archive.read("healthtrack-export.json"))
    assert all(row["photo"] is None for row in body["nutrition_logs"])


def test_zip_export_is_streamed_in_pieces_smaller_than_a_photo(
    user, meal_photo_root, django_capture_on_commit_callbacks
):
    log = NutritionLogFactory(user=user)
    # Noise does not compress: the stored PNG is ~190 kB, three times the block size.
    big = attach_photo(
        log,
        django_capture_on_commit_callbacks,
        image_bytes("PNG", size=(256, 256), noise=True),
    )
    assert big.size_bytes > 2 * export.PHOTO_BLOCK_BYTES

    pieces = list(export.archive_chunks(user))

    assert len(pieces) > 3
    assert max(len(piece) for piece in pieces) <= export.PHOTO_BLOCK_BYTES + 1024
    archive = zipfile.ZipFile(io.BytesIO(b"".join(pieces)))
    assert archive.read(f"photos/{log.pk}.png") == stored(meal_photo_root, big.image_name)


def test_a_photo_missing_from_storage_is_left_out_of_a_valid_archive(
    user, meal_photo_root, django_capture_on_commit_callbacks
):
    kept = attach_photo(NutritionLogFactory(user=user), django_capture_on_commit_callbacks)
    lost = attach_photo(NutritionLogFactory(user=user), django_capture_on_commit_callbacks)
    (meal_photo_root / lost.image_name).unlink()

    archive = zipfile.ZipFile(io.BytesIO(b"".join(export.archive_chunks(user))))

    assert archive.testzip() is None
    assert sorted(archive.namelist()) == ["healthtrack-export.json", f"photos/{kept.log_id}.jpg"]


# --- who may export, and what is recorded -----------------------------------------------------


@pytest.fixture
def child_with_photo(user, meal_photo_root, django_capture_on_commit_callbacks):
    child = make_dependent(user, first_name="Ada", date_of_birth=date(2018, 5, 1))
    photo = attach_photo(NutritionLogFactory(user=child), django_capture_on_commit_callbacks)
    return child, photo


@pytest.mark.parametrize("query", ["&member={id}", "&user_id={id}"])
def test_a_family_manager_exports_a_dependents_photos(
    auth_client, user, photographed, child_with_photo, query
):
    child, photo = child_with_photo

    archive = zip_export(auth_client, query.format(id=child.pk))

    assert sorted(archive.namelist()) == ["healthtrack-export.json", f"photos/{photo.log_id}.jpg"]
    assert json.loads(archive.read("healthtrack-export.json"))["user_id"] == child.pk


def test_a_read_only_family_member_cannot_export_a_dependents_photos(user, child_with_photo):
    child, _ = child_with_photo
    doctor = UserFactory()
    family.family_access_grant(
        granted_by=user, email=doctor.email, role="read_only", member=child, relation="doctor"
    )
    client = APIClient()
    client.force_authenticate(doctor)
    for query in (f"&member={child.pk}", f"&user_id={child.pk}"):
        assert client.get(f"/api/v1/export?format=zip{query}").status_code == 404


def test_zip_export_of_another_users_data_is_404(auth_client, other_user, photographed):
    for query in (f"&user_id={other_user.pk}", f"&member={other_user.pk}"):
        response = auth_client.get(f"/api/v1/export?format=zip{query}")
        assert response.status_code == 404


def test_a_care_team_clinician_cannot_export_a_patients_photos(
    clinician_client, care_team, user, photographed
):
    assert clinician_client.get(f"/api/v1/export?format=zip&user_id={user.pk}").status_code == 404


def test_zip_export_needs_authentication():
    assert APIClient().get("/api/v1/export?format=zip").status_code == 401


@pytest.mark.parametrize("query", ["", "&member={id}"])
def test_zip_export_records_what_the_json_export_records(
    auth_client, user, child_with_photo, query
):
    child, _ = child_with_photo
    query = query.format(id=child.pk)

    def recorded(fmt: str) -> list[tuple]:
        before = set(AccessLog.objects.values_list("pk", flat=True))
        content(auth_client.get(f"/api/v1/export?format={fmt}{query}"))
        new = AccessLog.objects.exclude(pk__in=before).order_by("pk")
        return list(new.values_list("actor_id", "owner_id", "via"))

    assert recorded("zip") == recorded("json")


# --- importing it again ---------------------------------------------------------------------


def test_the_json_inside_the_zip_imports_like_the_json_export(
    auth_client, user, other_user, photographed
):
    archive = zip_export(auth_client)
    job = ImportJob.objects.create(user=other_user, kind=ImportJob.Kind.JSON_EXPORT)

    job = import_job_execute(job=job, fileobj=io.BytesIO(archive.read("healthtrack-export.json")))

    assert job.status == ImportJob.Status.DONE and job.error_count == 0, job.errors
    assert diary_of(other_user) >= diary_of(user)


def test_the_zip_export_uploaded_as_it_is_imports_its_json_and_skips_the_photos(
    auth_client, user, other_user, photographed, django_capture_on_commit_callbacks
):
    data = b"".join(export.archive_chunks(user))
    client = APIClient()
    client.force_authenticate(other_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/imports",
            {"file": SimpleUploadedFile("healthtrack-export-with-photos.zip", data)},
            format="multipart",
        )

    assert response.status_code == 202, response.content
    assert response.json()["kind"] == "json_export"  # told from the content
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert job.status == ImportJob.Status.DONE and job.error_count == 0, job.errors
    assert job.summary["skipped"]["photos (not imported)"] == 2
    assert diary_of(other_user) >= diary_of(user)
    # photos are not imported: other_user still has only their own one
    assert MealPhoto.objects.filter(log__user=other_user).count() == 1


def test_a_zip_without_the_export_json_is_refused_as_json_export(user):
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.writestr("notes.txt", "hello")
    job = ImportJob.objects.create(user=user, kind=ImportJob.Kind.JSON_EXPORT)

    job = import_job_execute(job=job, fileobj=io.BytesIO(sink.getvalue()))

    assert job.status == ImportJob.Status.FAILED
    assert "healthtrack-export.json" in job.errors[0]["message"]


def test_only_our_archive_is_told_apart_from_an_apple_health_zip(user):
    ours = b"".join(export.archive_chunks(user))[: services.SNIFF_BYTES]
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.writestr("apple_health_export/export.xml", "<HealthData/>")
    assert services.detect_kind(ours) == ImportJob.Kind.JSON_EXPORT
    assert services.detect_kind(sink.getvalue()) == ImportJob.Kind.APPLE_HEALTH


# --- the page and the schema ----------------------------------------------------------------


def test_your_data_page_offers_the_zip_with_photos(client, user):
    client.force_login(user)
    html = client.get("/settings/data/").content.decode()
    assert "/api/v1/export?format=zip" in html and "with photos" in html


def test_the_schema_describes_the_zip_export(auth_client):
    schema = auth_client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/export"]["get"]
    (fmt,) = [p for p in operation["parameters"] if p["name"] == "format"]
    assert "zip" in fmt["schema"]["enum"]
    assert operation["responses"]["200"]["content"]["application/zip"]["schema"] == {
        "type": "string",
        "format": "binary",
    }
