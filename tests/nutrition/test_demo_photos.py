"""Demo meal photos: drawn at seed time, stored through the photo service, idempotent."""

from __future__ import annotations

import random

import pytest

from accounts.demo import seed_demo
from nutrition import demo
from nutrition.models import MealPhoto, NutritionLog
from tests.accounts.factories import UserFactory
from tests.nutrition.photo_helpers import open_image, stored_files

pytestmark = pytest.mark.django_db


def seed(patient, capture, days: int = 3, rng_seed: int = 1) -> int:
    with capture(execute=True):  # the thumbnail tasks run on commit (eager Celery)
        return demo.seed(users={"patient": patient}, days=days, rng=random.Random(rng_seed))


def test_demo_gives_the_patients_latest_meals_photos_with_thumbnails(
    meal_photo_root, django_capture_on_commit_callbacks
):
    patient = UserFactory()

    seed(patient, django_capture_on_commit_callbacks)

    photos = list(MealPhoto.objects.select_related("log").order_by("-log__logged_at"))
    assert len(photos) == demo.DEMO_PHOTOS
    assert all(p.log.user_id == patient.pk for p in photos)
    assert all(p.log.meal_type in demo.PHOTO_MEALS for p in photos)
    # one photo per meal, and they are the latest main meals of the diary
    meals = {(p.log.logged_at, p.log.meal_type) for p in photos}
    assert len(meals) == demo.DEMO_PHOTOS
    latest = (
        NutritionLog.objects.filter(user=patient, meal_type__in=demo.PHOTO_MEALS)
        .order_by("-logged_at")
        .values_list("logged_at", "meal_type")
        .distinct()[: demo.DEMO_PHOTOS]
    )
    assert meals == set(latest)
    names = {str(p.relative_to(meal_photo_root)) for p in stored_files(meal_photo_root)}
    assert names == {p.image_name for p in photos} | {p.thumbnail_name for p in photos}
    for photo in photos:
        assert photo.thumbnail_name and photo.content_type == "image/jpeg"
        image = open_image((meal_photo_root / photo.image_name).read_bytes())
        assert image.size == demo.PHOTO_SIZE == (photo.width, photo.height)
        assert not image.getexif()
        assert len(image.getcolors(maxcolors=1 << 16) or ()) > 3  # a picture, not a blank


def test_seeding_again_adds_no_photo_and_no_file(
    meal_photo_root, django_capture_on_commit_callbacks
):
    patient = UserFactory()
    seed(patient, django_capture_on_commit_callbacks)
    files = stored_files(meal_photo_root)
    rows = list(MealPhoto.objects.values_list("pk", "image_name", "thumbnail_name"))

    assert seed(patient, django_capture_on_commit_callbacks, rng_seed=2) == 0

    assert stored_files(meal_photo_root) == files
    assert list(MealPhoto.objects.values_list("pk", "image_name", "thumbnail_name")) == rows


def test_seed_demo_loads_the_demo_photos(meal_photo_root, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        users = seed_demo(days=2)
    photos = MealPhoto.objects.filter(log__user=users["patient"])
    assert photos.count() == demo.DEMO_PHOTOS
    assert all(p.thumbnail_name for p in photos)


def test_the_drawn_plates_differ_from_meal_to_meal():
    pictures = {demo.plate_picture(random.Random(n)) for n in range(4)}
    assert len(pictures) == 4
