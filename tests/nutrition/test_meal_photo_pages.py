"""Meal photos on the diary pages: add one from the entry's page, see it on the day, replace
and remove it; the page URLs that serve it check access like the API."""

from __future__ import annotations

import pytest

from nutrition import services
from nutrition.models import MealPhoto
from tests.accounts.care_factories import CareTeamFactory
from tests.accounts.factories import ClinicianFactory
from tests.accounts.family_factories import make_dependent
from tests.nutrition.factories import NutritionLogFactory
from tests.nutrition.photo_helpers import (
    MARKER,
    exif_with_gps,
    image_bytes,
    stored_files,
    upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def log(user):
    return NutritionLogFactory(user=user, description="Pasta")


def photo_page(log, suffix: str = "") -> str:
    return f"/nutrition/entries/{log.pk}/photo/{suffix}"


def test_the_entry_page_has_a_photo_upload_form(page_client, log):
    body = page_client.get(f"/nutrition/entries/{log.pk}/edit/").content.decode()
    assert 'enctype="multipart/form-data"' in body
    assert f'action="{photo_page(log)}"' in body and 'type="file"' in body
    assert 'accept="image/jpeg,image/png,image/webp,image/heic,image/heif"' in body


def test_uploading_a_photo_from_the_dashboard_stores_it_clean_and_shows_it_on_the_day(
    page_client, log, meal_photo_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = page_client.post(
            photo_page(log),
            {"photo": upload(image_bytes("JPEG", exif=exif_with_gps()))},
            follow=True,
        )
    assert "Photo added to your diary entry." in response.content.decode()
    photo = MealPhoto.objects.get(log=log)
    assert photo.thumbnail_name  # the task ran on commit
    for path in stored_files(meal_photo_root):
        assert MARKER.encode() not in path.read_bytes()
    day = page_client.get(f"/nutrition/{log.day.isoformat()}/").content.decode()
    assert f'src="{photo_page(log, "thumbnail/")}?v={photo.pk}"' in day
    thumb = page_client.get(photo_page(log, "thumbnail/"))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"


def test_a_renamed_text_file_is_refused_on_the_page_and_nothing_is_written(
    page_client, log, meal_photo_root
):
    response = page_client.post(
        photo_page(log), {"photo": upload(b"hello, not an image\n" * 10, "pic.jpg")}
    )
    assert response.status_code == 400
    assert "not a photo we accept" in response.content.decode()
    assert not MealPhoto.objects.exists() and stored_files(meal_photo_root) == []


def test_the_day_offers_to_add_a_photo_to_an_entry_without_one(page_client, log):
    body = page_client.get(f"/nutrition/{log.day.isoformat()}/").content.decode()
    assert f'href="/nutrition/entries/{log.pk}/edit/#photo"' in body


def test_removing_the_photo_from_the_page_deletes_its_file(
    page_client, log, meal_photo_root, django_capture_on_commit_callbacks
):
    services.meal_photo_set(log=log, upload=upload(image_bytes("PNG"), "a.png"))
    with django_capture_on_commit_callbacks(execute=True):
        response = page_client.post(photo_page(log, "delete/"))
    assert response.status_code == 302
    assert not MealPhoto.objects.exists() and stored_files(meal_photo_root) == []


def test_the_thumbnail_url_serves_the_photo_until_the_thumbnail_exists(page_client, log):
    services.meal_photo_set(log=log, upload=upload(image_bytes("PNG"), "a.png"))
    response = page_client.get(photo_page(log, "thumbnail/"))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


@pytest.mark.parametrize("suffix", ["", "thumbnail/"])
def test_someone_elses_photo_page_is_404_and_a_caring_clinician_may_see_it(
    client, log, other_user, user, suffix
):
    services.meal_photo_set(log=log, upload=upload(image_bytes("PNG"), "a.png"))
    client.force_login(other_user)
    assert client.get(photo_page(log, suffix)).status_code == 404
    assert client.post(photo_page(log), {"photo": upload(image_bytes("PNG"))}).status_code == 404
    assert client.post(photo_page(log, "delete/")).status_code == 404
    clinician = ClinicianFactory()
    client.force_login(clinician)
    assert client.get(photo_page(log, suffix)).status_code == 404
    CareTeamFactory(clinician=clinician, patient=user)
    assert client.get(photo_page(log, suffix)).status_code == 200
    assert client.post(photo_page(log, "delete/")).status_code == 404
    assert MealPhoto.objects.filter(log=log).exists()


@pytest.mark.parametrize("suffix", ["", "thumbnail/", "delete/"])
def test_logged_out_visitors_are_sent_to_log_in(client, log, suffix):
    response = client.get(photo_page(log, suffix))
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_a_family_manager_adds_and_removes_a_dependents_photo_and_stays_on_their_diary(
    page_client, user, meal_photo_root
):
    child = make_dependent(user)
    entry = NutritionLogFactory(user=child, description="Porridge")
    member = f"member={child.pk}"

    response = page_client.post(
        f"{photo_page(entry)}?{member}", {"photo": upload(image_bytes("PNG"), "m.png")}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/nutrition/{entry.day.isoformat()}/?{member}"
    assert MealPhoto.objects.get(log=entry).log.user_id == child.pk

    response = page_client.post(f"{photo_page(entry, 'delete/')}?{member}")
    assert response["Location"] == f"/nutrition/{entry.day.isoformat()}/?{member}"
    assert not MealPhoto.objects.filter(log=entry).exists()
