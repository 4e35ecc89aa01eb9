"""Meal photos through the API: checked by content, stripped of EXIF/GPS, stored privately,
thumbnailed by a task, served only to those who may read the diary entry, and deleted with it."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from PIL import Image
from rest_framework.test import APIClient

from accounts import family
from accounts.models import FamilyMembership
from healthtrack.portability.services import account_delete_and_purge
from nutrition import photos, services, tasks
from nutrition.models import MealPhoto, NutritionLog
from tests.accounts.care_factories import CareTeamFactory
from tests.accounts.factories import ClinicianFactory, UserFactory
from tests.accounts.family_factories import make_dependent
from tests.nutrition.factories import NutritionLogFactory
from tests.nutrition.photo_helpers import (
    MARKER,
    exif_with_gps,
    image_bytes,
    open_image,
    stored_files,
    upload,
)

pytestmark = pytest.mark.django_db


def photo_url(log, suffix: str = "") -> str:
    return f"/api/v1/nutrition-logs/{log.pk}/photo{suffix}"


def post_photo(client, log, data: bytes, name: str = "meal.jpg", content_type="image/jpeg"):
    return client.post(
        photo_url(log), {"photo": upload(data, name, content_type)}, format="multipart"
    )


@pytest.fixture
def log(user):
    return NutritionLogFactory(user=user)


@pytest.fixture
def uploaded(auth_client, log, meal_photo_root, django_capture_on_commit_callbacks):
    """A JPEG with GPS EXIF uploaded to `log`, the thumbnail task run on commit."""
    with django_capture_on_commit_callbacks(execute=True):
        response = post_photo(auth_client, log, image_bytes("JPEG", exif=exif_with_gps()))
    assert response.status_code == 201, response.content
    return MealPhoto.objects.get(log=log)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def file_body(response) -> bytes:
    return b"".join(response.streaming_content)


# --- what is accepted ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type", "mode"),
    [("JPEG", "image/jpeg", "RGB"), ("PNG", "image/png", "RGBA"), ("WEBP", "image/webp", "RGB")],
)
def test_jpeg_png_and_webp_are_stored_in_their_own_format(
    auth_client, log, meal_photo_root, fmt, content_type, mode
):
    response = post_photo(auth_client, log, image_bytes(fmt, mode=mode), name="x.bin")
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == content_type
    assert (response.json()["width"], response.json()["height"]) == (64, 48)
    photo = MealPhoto.objects.get(log=log)
    (stored,) = stored_files(meal_photo_root)
    assert open_image(stored.read_bytes()).format == fmt
    assert photo.image_name.startswith(f"{log.user_id}/") and "x.bin" not in photo.image_name


def test_heic_is_recognised_by_its_brand_decoded_and_stored_as_jpeg_without_metadata(
    auth_client, log, meal_photo_root
):
    heic = image_bytes("HEIF", exif=exif_with_gps())
    assert heic[4:12] == b"ftypheic" and MARKER.encode() in heic
    response = post_photo(auth_client, log, heic, name="IMG_0001.HEIC", content_type="image/heic")
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == "image/jpeg"
    (stored,) = stored_files(meal_photo_root)
    data = stored.read_bytes()
    assert open_image(data).format == "JPEG"
    assert MARKER.encode() not in data and b"Exif" not in data


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "heic"),
        (b"\x00\x00\x00\x18ftypheix\x00\x00\x00\x00mif1heix", "heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "heic"),
        (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1", "heic"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", None),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", None),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isommp41", None),  # an MP4 video
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (b"GIF89a\x01\x00\x01\x00", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
    ],
)
def test_the_kind_of_file_is_told_by_its_first_bytes(head, kind):
    assert photos.sniff(head) == kind


# --- what is refused -------------------------------------------------------------------------


def test_a_text_file_named_jpg_is_refused_and_nothing_is_written(auth_client, log, meal_photo_root):
    text = b"Shopping list: eggs, milk, bread\n" * 20
    response = post_photo(auth_client, log, text, name="lunch.jpg", content_type="image/jpeg")
    assert response.status_code == 400
    assert "not a photo we accept" in response.json()["photo"][0]
    assert not MealPhoto.objects.exists()
    assert stored_files(meal_photo_root) == []


def test_a_file_with_a_jpeg_signature_but_no_image_is_refused_and_nothing_is_written(
    auth_client, log, meal_photo_root
):
    fake = b"\xff\xd8\xff\xe0" + b"not really a jpeg " * 50
    response = post_photo(auth_client, log, fake)
    assert response.status_code == 400
    assert "could not be read" in response.json()["photo"][0]
    assert not MealPhoto.objects.exists() and stored_files(meal_photo_root) == []


def test_a_transparent_palette_png_keeps_its_transparency(auth_client, log, meal_photo_root):
    image = Image.new("P", (8, 8), 0)
    image.info["transparency"] = 0
    out = io.BytesIO()
    image.save(out, format="PNG", transparency=0)
    assert post_photo(auth_client, log, out.getvalue(), name="p.png").status_code == 201
    (stored,) = stored_files(meal_photo_root)
    kept = open_image(stored.read_bytes())
    assert kept.mode == "RGBA" and kept.getpixel((0, 0))[3] == 0


def test_a_gif_is_refused(auth_client, log, meal_photo_root):
    response = post_photo(auth_client, log, image_bytes("GIF"), name="a.gif")
    assert response.status_code == 400
    assert stored_files(meal_photo_root) == []


def test_a_photo_over_the_size_limit_is_refused(auth_client, log, meal_photo_root, settings):
    data = image_bytes("PNG", size=(80, 80), noise=True)
    settings.MEAL_PHOTO_MAX_BYTES = len(data) - 1
    response = post_photo(auth_client, log, data, name="big.png")
    assert response.status_code == 400
    assert "too large" in response.json()["photo"][0]
    assert not MealPhoto.objects.exists() and stored_files(meal_photo_root) == []


def test_a_request_far_over_the_size_limit_is_refused_before_it_is_read(
    auth_client, log, meal_photo_root, settings
):
    settings.MEAL_PHOTO_MAX_BYTES = 1024
    data = image_bytes("PNG", size=(300, 300), noise=True)
    assert len(data) > 1024 + 64 * 1024
    response = post_photo(auth_client, log, data, name="big.png")
    assert response.status_code == 400 and "too large" in response.json()["photo"][0]
    assert stored_files(meal_photo_root) == []


def test_a_session_upload_far_over_the_limit_is_refused_before_the_csrf_check_reads_it(
    client, user, log, meal_photo_root, settings
):
    settings.MEAL_PHOTO_MAX_BYTES = 1024
    client.force_login(user)
    data = image_bytes("PNG", size=(300, 300), noise=True)
    response = client.post(photo_url(log), {"photo": upload(data, "big.png")})
    assert response.status_code == 400 and "too large" in response.json()["photo"][0]
    assert stored_files(meal_photo_root) == []


def test_a_photo_with_too_many_pixels_is_refused_before_decoding(
    auth_client, log, meal_photo_root, settings
):
    # A decompression bomb is a small file with huge dimensions: the header is enough.
    settings.MEAL_PHOTO_MAX_PIXELS = 64 * 48 - 1
    response = post_photo(auth_client, log, image_bytes("PNG"), name="bomb.png")
    assert response.status_code == 400
    assert "too many pixels" in response.json()["photo"][0]
    assert not MealPhoto.objects.exists() and stored_files(meal_photo_root) == []


def test_an_upload_without_a_file_is_refused(auth_client, log, meal_photo_root):
    response = auth_client.post(photo_url(log), {}, format="multipart")
    assert response.status_code == 400 and "photo" in response.json()


# --- metadata --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_and_gps_location_are_gone_from_the_stored_bytes(
    auth_client, log, meal_photo_root, fmt
):
    original = image_bytes(fmt, exif=exif_with_gps())
    assert MARKER.encode() in original
    assert open_image(original).getexif().get_ifd(0x8825)  # the GPS position is there
    assert post_photo(auth_client, log, original, name="x").status_code == 201
    (stored,) = stored_files(meal_photo_root)
    data = stored.read_bytes()
    assert MARKER.encode() not in data and b"PhoneMaker" not in data and b"Exif" not in data
    kept = open_image(data)
    assert dict(kept.getexif()) == {} and not kept.getexif().get_ifd(0x8825)
    assert "exif" not in kept.info and "xmp" not in kept.info


def test_the_exif_orientation_is_applied_to_the_pixels_before_it_is_dropped(
    auth_client, log, meal_photo_root
):
    # Orientation 6: the camera held sideways; the 64x48 sensor image is shown 48x64.
    original = image_bytes("JPEG", exif=exif_with_gps(orientation=6))
    response = post_photo(auth_client, log, original)
    assert (response.json()["width"], response.json()["height"]) == (48, 64)
    (stored,) = stored_files(meal_photo_root)
    assert open_image(stored.read_bytes()).size == (48, 64)


# --- thumbnail task --------------------------------------------------------------------------


def test_the_thumbnail_is_made_by_the_task_after_commit(uploaded, meal_photo_root, settings):
    uploaded.refresh_from_db()
    assert uploaded.thumbnail_name.endswith("-thumb.jpg")
    thumb = open_image((meal_photo_root / uploaded.thumbnail_name).read_bytes())
    assert thumb.format == "JPEG"
    assert max(thumb.size) <= settings.MEAL_PHOTO_THUMBNAIL_PX


def test_the_thumbnail_is_made_after_commit_not_before(auth_client, log, meal_photo_root):
    # Without the commit (callbacks not run) there is a photo and no thumbnail yet.
    assert post_photo(auth_client, log, image_bytes("JPEG")).status_code == 201
    photo = MealPhoto.objects.get(log=log)
    assert photo.thumbnail_name == "" and len(stored_files(meal_photo_root)) == 1


def test_a_large_photo_gets_a_small_thumbnail(user, log, meal_photo_root, settings):
    settings.MEAL_PHOTO_THUMBNAIL_PX = 32
    photo = services.meal_photo_set(log=log, upload=upload(image_bytes("PNG", size=(300, 200))))
    assert tasks.make_meal_photo_thumbnail(photo.pk) is True
    photo.refresh_from_db()
    assert open_image((meal_photo_root / photo.thumbnail_name).read_bytes()).size == (32, 21)


def test_the_thumbnail_task_is_idempotent(uploaded, meal_photo_root):
    uploaded.refresh_from_db()
    first = uploaded.thumbnail_name
    assert tasks.make_meal_photo_thumbnail(uploaded.pk) is False
    uploaded.refresh_from_db()
    assert uploaded.thumbnail_name == first and len(stored_files(meal_photo_root)) == 2


def test_the_thumbnail_task_for_a_deleted_photo_does_nothing(meal_photo_root):
    assert tasks.make_meal_photo_thumbnail(987654) is False
    assert stored_files(meal_photo_root) == []


# --- representation --------------------------------------------------------------------------


def test_the_diary_entry_carries_access_checked_photo_urls(auth_client, uploaded, log):
    body = auth_client.get(f"/api/v1/nutrition-logs/{log.pk}").json()
    assert body["photo"]["image_url"] == f"{photo_url(log, '/image')}?v={uploaded.pk}"
    assert body["photo"]["thumbnail_url"] == f"{photo_url(log, '/thumbnail')}?v={uploaded.pk}"
    listed = auth_client.get("/api/v1/nutrition-logs").json()["results"]
    assert listed[0]["photo"]["width"] == 64


def test_an_entry_without_a_photo_has_photo_null(auth_client, log):
    assert auth_client.get(f"/api/v1/nutrition-logs/{log.pk}").json()["photo"] is None


def test_thumbnail_url_is_null_until_the_task_has_run(auth_client, log, meal_photo_root):
    post_photo(auth_client, log, image_bytes("JPEG"))
    body = auth_client.get(photo_url(log)).json()
    assert body["thumbnail_url"] is None and body["image_url"]
    assert auth_client.get(photo_url(log, "/thumbnail")).status_code == 404


def test_the_diary_list_costs_no_extra_query_per_photo(
    auth_client, user, meal_photo_root, django_assert_max_num_queries
):
    for _ in range(3):
        entry = NutritionLogFactory(user=user)
        services.meal_photo_set(log=entry, upload=upload(image_bytes("JPEG")))
    with django_assert_max_num_queries(6):
        response = auth_client.get("/api/v1/nutrition-logs")
    assert [e["photo"] is not None for e in response.json()["results"]] == [True] * 3


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["/image", "/thumbnail", ""])
def test_the_owner_gets_the_photo(auth_client, uploaded, log, meal_photo_root, suffix):
    response = auth_client.get(photo_url(log, suffix))
    assert response.status_code == 200
    if suffix == "/image":
        assert response["Content-Type"] == "image/jpeg"
        assert "private" in response["Cache-Control"]
        assert file_body(response) == (meal_photo_root / uploaded.image_name).read_bytes()


@pytest.mark.parametrize("suffix", ["/image", "/thumbnail", ""])
def test_a_stranger_gets_404(other_client, uploaded, log, suffix):
    assert other_client.get(photo_url(log, suffix)).status_code == 404


@pytest.mark.parametrize("suffix", ["/image", "/thumbnail", ""])
def test_an_anonymous_visitor_is_refused(api_client, uploaded, log, suffix):
    assert api_client.get(photo_url(log, suffix)).status_code == 401


def test_a_stranger_cannot_upload_or_delete(other_client, uploaded, log, meal_photo_root):
    assert post_photo(other_client, log, image_bytes("PNG"), name="x.png").status_code == 404
    assert other_client.delete(photo_url(log)).status_code == 404
    assert MealPhoto.objects.get(log=log) == uploaded


def test_a_clinician_caring_for_the_patient_reads_but_cannot_change(
    user, uploaded, log, meal_photo_root
):
    clinician = ClinicianFactory()
    CareTeamFactory(clinician=clinician, patient=user)
    client = client_for(clinician)
    assert client.get(photo_url(log, "/image")).status_code == 200
    assert client.get(photo_url(log, "/thumbnail")).status_code == 200
    assert client.get(f"/api/v1/nutrition-logs/{log.pk}").json()["photo"]["image_url"]
    assert post_photo(client, log, image_bytes("PNG"), name="x.png").status_code == 404
    assert client.delete(photo_url(log)).status_code == 404
    assert MealPhoto.objects.get(log=log) == uploaded


def test_a_clinician_without_the_patient_in_care_gets_404(uploaded, log):
    client = client_for(ClinicianFactory())
    assert client.get(photo_url(log, "/image")).status_code == 404
    assert client.get(photo_url(log)).status_code == 404


def test_a_family_manager_uploads_and_reads_a_dependents_photo(user, meal_photo_root):
    dependent = make_dependent(user)
    entry = NutritionLogFactory(user=dependent)
    client = client_for(user)
    assert post_photo(client, entry, image_bytes("WEBP"), name="kid.webp").status_code == 201
    assert client.get(photo_url(entry, "/image")).status_code == 200


def test_a_read_only_family_member_reads_but_cannot_change(user, uploaded, log):
    reader = UserFactory()
    family.family_access_grant(
        granted_by=user, email=reader.email, role=FamilyMembership.Role.READ_ONLY
    )
    client = client_for(reader)
    assert client.get(photo_url(log, "/image")).status_code == 200
    assert client.delete(photo_url(log)).status_code == 404
    assert post_photo(client, log, image_bytes("PNG"), name="x.png").status_code == 404


def test_someone_elses_photo_read_is_in_the_access_log(user, uploaded, log):
    from accounts.models import AccessLog

    clinician = ClinicianFactory()
    CareTeamFactory(clinician=clinician, patient=user)
    client_for(clinician).get(photo_url(log, "/image"))
    assert AccessLog.objects.filter(actor=clinician, owner=user).exists()


# --- deletion --------------------------------------------------------------------------------


def test_deleting_the_photo_removes_its_files(
    auth_client, uploaded, log, meal_photo_root, django_capture_on_commit_callbacks
):
    assert len(stored_files(meal_photo_root)) == 2  # the photo and its thumbnail
    with django_capture_on_commit_callbacks(execute=True):
        assert auth_client.delete(photo_url(log)).status_code == 204
    assert not MealPhoto.objects.exists() and stored_files(meal_photo_root) == []
    assert auth_client.get(photo_url(log, "/image")).status_code == 404


def test_deleting_the_diary_entry_removes_its_photo_files(
    auth_client, uploaded, log, meal_photo_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert auth_client.delete(f"/api/v1/nutrition-logs/{log.pk}").status_code == 204
    assert stored_files(meal_photo_root) == []


def test_replacing_a_photo_removes_the_old_files(
    auth_client, uploaded, log, meal_photo_root, django_capture_on_commit_callbacks
):
    old = {uploaded.image_name, uploaded.thumbnail_name}
    with django_capture_on_commit_callbacks(execute=True):
        response = post_photo(auth_client, log, image_bytes("PNG"), name="new.png")
    assert response.status_code == 201
    photo = MealPhoto.objects.get(log=log)
    names = {str(p.relative_to(meal_photo_root)) for p in stored_files(meal_photo_root)}
    assert names == {photo.image_name, photo.thumbnail_name} and not names & old


def test_a_rolled_back_deletion_keeps_the_files(uploaded, meal_photo_root):
    from django.db import transaction

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        services.meal_photo_delete(photo=uploaded)
        raise Abort
    assert len(stored_files(meal_photo_root)) == 2 and MealPhoto.objects.exists()


def test_purging_the_account_removes_the_photo_files(
    user, uploaded, meal_photo_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        account_delete_and_purge(user=user)
    assert not NutritionLog.objects.exists() and not MealPhoto.objects.exists()
    assert stored_files(meal_photo_root) == []


# --- audit, schema, storage settings ---------------------------------------------------------


def test_the_photo_row_is_audited_without_file_contents(uploaded):
    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(MealPhoto), object_pk=str(uploaded.pk)
    )
    assert set(entry.changes_dict) <= {f.name for f in MealPhoto._meta.concrete_fields}
    assert MARKER not in str(entry.changes_dict)


def test_the_openapi_schema_describes_the_photo_endpoints(auth_client):
    schema = auth_client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    upload_op = paths["/api/v1/nutrition-logs/{id}/photo"]["post"]
    assert "multipart/form-data" in upload_op["requestBody"]["content"]
    assert {"get", "post", "delete"} <= set(paths["/api/v1/nutrition-logs/{id}/photo"])
    assert "/api/v1/nutrition-logs/{id}/photo/image" in paths
    assert "/api/v1/nutrition-logs/{id}/photo/thumbnail" in paths


def test_s3_settings_give_a_private_s3_storage(tmp_path):
    code = (
        "import django; django.setup();"
        "from django.core.files.storage import storages;"
        "s = storages['meal_photos'];"
        "print(type(s).__name__, s.bucket_name, s.default_acl, s.querystring_auth, s.location)"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "healthtrack.settings",
        "HEALTHTRACK_VAR_DIR": str(tmp_path),
        "MEAL_PHOTOS_S3_BUCKET": "meals",
        "MEAL_PHOTOS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "MEAL_PHOTOS_S3_ACCESS_KEY_ID": "test",
        "MEAL_PHOTOS_S3_SECRET_ACCESS_KEY": "test",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["S3Storage", "meals", "private", "True", "meal-photos"]
