"""Stored files follow their rows: when a MealPhoto row is deleted, however (its diary entry
deleted, the account purged, a family member removed: all cascades), its files are removed
once the deletion is committed. A rolled-back deletion keeps them."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from nutrition.models import MealPhoto


@receiver(post_delete, sender=MealPhoto, dispatch_uid="nutrition.meal_photo_files")
def delete_meal_photo_files(sender, instance: MealPhoto, using: str, **kwargs) -> None:
    from nutrition.services import meal_photo_files_delete

    names = (instance.image_name, instance.thumbnail_name)
    transaction.on_commit(lambda: meal_photo_files_delete(*names), using=using, robust=True)
