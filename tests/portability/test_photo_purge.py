"""The purge after the deletion grace period treats meal photos like the user's other health
rows: their audit entries stay without values (no file name, size or entry id survives) and
their stored files (original and thumbnail) are deleted."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from accounts import family
from healthtrack.portability import services
from nutrition import services as nutrition_services
from nutrition.models import MealPhoto, NutritionLog
from tests.accounts.family_factories import make_dependent
from tests.nutrition.factories import NutritionLogFactory
from tests.nutrition.photo_helpers import image_bytes, stored_files, upload

pytestmark = pytest.mark.django_db


def photo_entries() -> list[LogEntry]:
    return list(LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(MealPhoto)))


def attach_photo(log: NutritionLog, capture, fmt: str = "JPEG") -> MealPhoto:
    with capture(execute=True):  # the thumbnail task runs on commit
        photo = nutrition_services.meal_photo_set(log=log, upload=upload(image_bytes(fmt)))
    photo.refresh_from_db()
    assert photo.thumbnail_name
    return photo


@pytest.fixture
def photographed(user, other_user, meal_photo_root, django_capture_on_commit_callbacks):
    """`user` with a current photo and one replaced before (its row gone, its audit entries
    left); `other_user` with a photo of their own."""
    capture = django_capture_on_commit_callbacks
    log = NutritionLogFactory(user=user)
    replaced = attach_photo(log, capture, "PNG")
    current = attach_photo(log, capture)
    other = attach_photo(NutritionLogFactory(user=other_user), capture)
    return {"replaced": replaced, "current": current, "other": other}


def names_of(photo: MealPhoto) -> set[str]:
    return {photo.image_name, photo.thumbnail_name}


def test_purge_scrubs_the_audit_entries_of_the_users_photos_like_their_other_rows(
    user, photographed, django_capture_on_commit_callbacks
):
    mine = names_of(photographed["replaced"]) | names_of(photographed["current"])
    about_mine = [
        e.pk
        for e in photo_entries()
        if any(name in str(e.changes) for name in names_of(photographed["current"]))
        or any(name in str(e.changes) for name in names_of(photographed["replaced"]))
    ]
    # created, replaced (deleted), created again
    assert len(about_mine) == 3

    with django_capture_on_commit_callbacks(execute=True):
        services.account_delete_and_purge(user=user)

    kept = LogEntry.objects.filter(pk__in=about_mine)
    assert kept.count() == 3  # the entries stay, like those of the user's measurements
    for entry in kept:
        assert entry.changes is None and entry.serialized_data is None
        assert entry.changes_text == "" and entry.object_repr == "meal photo (purged)"
    everything = str(list(LogEntry.objects.values_list("changes", "object_repr", "changes_text")))
    assert not any(name in everything for name in mine)
    # the same treatment as the diary entry the photo belonged to
    log_entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(NutritionLog),
        object_id=photographed["current"].log_id,
    )
    assert log_entries and all(e.changes is None for e in log_entries)


def test_purge_leaves_other_peoples_photo_entries_alone(
    user, photographed, django_capture_on_commit_callbacks
):
    other = photographed["other"]

    with django_capture_on_commit_callbacks(execute=True):
        services.account_delete_and_purge(user=user)

    (entry,) = [e for e in photo_entries() if e.object_id == other.pk]
    assert entry.changes["image_name"][1] == other.image_name
    assert entry.object_repr == str(other)


def test_purge_deletes_the_users_photo_files_and_keeps_everyone_elses(
    user, photographed, meal_photo_root, django_capture_on_commit_callbacks
):
    current, other = photographed["current"], photographed["other"]
    stored = {str(p.relative_to(meal_photo_root)) for p in stored_files(meal_photo_root)}
    assert stored == names_of(current) | names_of(other)  # the replaced files went already

    with django_capture_on_commit_callbacks(execute=True):
        services.account_delete_and_purge(user=user)

    stored = {str(p.relative_to(meal_photo_root)) for p in stored_files(meal_photo_root)}
    assert stored == names_of(other)
    assert list(MealPhoto.objects.all()) == [other]


def test_purging_a_removed_dependent_after_the_grace_period_removes_their_photos(
    user, settings, meal_photo_root, django_capture_on_commit_callbacks
):
    child = make_dependent(user, first_name="Ada", date_of_birth=date(2018, 5, 1))
    photo = attach_photo(NutritionLogFactory(user=child), django_capture_on_commit_callbacks)
    family.family_member_remove(manager=user, member=child)
    later = timezone.now() + timedelta(days=settings.ACCOUNT_PURGE_AFTER_DAYS + 1)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.deleted_accounts_purge(now=later) == 1

    assert stored_files(meal_photo_root) == []
    assert not MealPhoto.objects.exists()
    entries = photo_entries()
    assert entries and all(e.changes is None for e in entries)
    everything = str(list(LogEntry.objects.values_list("changes", "object_repr")))
    assert photo.image_name not in everything and photo.thumbnail_name not in everything
