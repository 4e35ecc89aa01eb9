"""Writes on the nutrition diary: keyword-only, typed, atomic.

Every write is checked by `nutrition.validation` (`clean_entry`, `clean_targets`) before it
touches the database, and announces the days it changed (`nutrition_changes_announce`): the
change feed inside its transaction (events for the entries written), the derived work (goals,
care programs, recommendations) enqueued after the commit through one outbox row.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction

from healthtrack.core import audit_rows
from healthtrack.core import days as calendar
from healthtrack.core.models import OutboxTask
from healthtrack.core.outbox import COVERED, enqueue_on_commit
from healthtrack.core.prepared import prepared_cursor
from nutrition import photos
from nutrition.catalogue import match_food
from nutrition.models import Food, MealPhoto, NutritionLog, NutritionTargets
from nutrition.signals import nutrition_changed, nutrition_committed
from nutrition.validation import AMOUNT_FIELDS, clean_entry, clean_targets

LOG_FIELDS = ("meal_type", "description", *AMOUNT_FIELDS, "logged_at", "food", "grams")

logger = logging.getLogger(__name__)

ANNOUNCE_TASK = "nutrition.announce_committed"

# How long a cached daily-totals answer may be served at most (accounts.api.readcache); every
# write to its inputs replaces the version first (`daily_cache_invalidate`).
DAILY_CACHE_TTL = 300


def daily_version_key(user_id: int) -> str:
    """The person's daily-totals version token: their cached `GET /nutrition-logs/daily`
    answers (accounts.api.readcache) are served only while it is unchanged."""
    return f"nutrition_daily:user:{user_id}:version"


def daily_cache_invalidate(user_id: int) -> None:
    """Drop the person's daily-totals version token, so that no daily answer computed before
    is served again. Called after the commit of every write to what the answer is computed
    from: the diary (`nutrition_changes_announce`), the person's own targets, their profile
    (`nutrition.receivers`) and their weight (wired by the project:
    `healthtrack/changes/receivers.py`). Redis down: nothing is served from it either."""
    try:
        cache.delete(daily_version_key(user_id))
    except Exception as exc:  # noqa: BLE001 - as the cache itself: never fails the write
        logger.warning("daily totals cache invalidation skipped: %s", type(exc).__name__)


def nutrition_changes_announce(
    *,
    user_id: int,
    days: set[date],
    tz: tzinfo | None = None,
    entry_ids: Iterable[int] | None = None,
) -> None:
    """In the writing transaction: `nutrition_changed` (the change feed records its events in
    it) and the outbox row of `nutrition_committed`, which is sent once the write has
    committed (`_follow_up_after_commit`). Both commit or roll back with the write.
    `tz`: the owner's zone when the caller has it (saves a query). `entry_ids`: the entries
    this write created or changed, whose rows its transaction holds (inserted, or locked for
    update); a deletion names none (its tombstone is its event). The change feed then records
    events for those alone; without them (a bulk load), for every entry of `days`."""
    extra: dict[str, Any] = {} if tz is None else {"tz": tz}
    if entry_ids is not None:
        extra["entry_ids"] = frozenset(entry_ids)
    # Filled by the change feed where its statement answers the follow-up's questions
    # (healthtrack.changes.receivers.on_nutrition_changed), for the receivers of
    # `nutrition_committed` when this write's own send sends it.
    facts: dict[str, Any] = {}
    nutrition_changed.send(
        sender=NutritionLog, user_id=user_id, days=set(days), facts=facts, **extra
    )
    enqueue_on_commit(
        ANNOUNCE_TASK,
        {"user_id": user_id, "days": sorted(day.isoformat() for day in days)},
        fast_path=functools.partial(_follow_up_after_commit, facts=facts, tz=tz),
        # Taken by deleting it in the follow-up's own transaction (one statement where the
        # shared send claims, then deletes): the write's transaction has no other row.
        alone=True,
    )
    transaction.on_commit(functools.partial(daily_cache_invalidate, user_id), robust=True)


def nutrition_changes_follow_up(*, user_id: int, days: list[date]) -> None:
    """The half of `nutrition_changes_announce` after the commit: `nutrition_committed` in a
    transaction of its own, whose receivers enqueue the derived work. Safe to run twice."""
    with transaction.atomic():
        nutrition_committed.send(sender=NutritionLog, user_id=user_id, days=set(days))


def _follow_up_after_commit(
    row: OutboxTask, *, facts: dict[str, Any] | None = None, tz: tzinfo | None = None
) -> str:
    """The announce row's fast path (`healthtrack.core.outbox`), run by the write's
    after-commit send: `nutrition_committed` at once, in the send's transaction, instead of a
    message to the worker whose task would only send it. The receivers' outbox rows are
    written in that transaction, which also deletes this row (COVERED): kept or lost
    together, so a crash before it commits leaves this row pending for the relay, which
    hands it to the worker's task. The row is sent alone (`outbox._send_alone`: taken by
    deleting it in that transaction): a receiver's error rolls the send back and leaves the
    row pending, for the relay and the task, which retries. Eager mode (no send
    transaction): in a transaction of its own.
    `facts` (what the write's change-feed statement answered for the receivers, if anything)
    and `tz` (the owner's zone, if the write had it) go with the signal: each saves a
    receiver a statement. The relay's task sends neither: its receivers ask."""
    days = {date.fromisoformat(day) for day in row.kwargs["days"]}
    user_id = row.kwargs["user_id"]
    if connection.in_atomic_block:
        extra: dict[str, Any] = {} if tz is None else {"tz": tz}
        if facts:
            extra["facts"] = facts
        nutrition_committed.send(sender=NutritionLog, user_id=user_id, days=days, **extra)
    else:
        nutrition_changes_follow_up(user_id=user_id, days=sorted(days))
    return COVERED


@transaction.atomic
def nutrition_log_create(
    *,
    user,
    meal_type: str,
    logged_at: datetime,
    description: str = "",
    calories: float | None = None,
    protein_g: float | None = None,
    carbs_g: float | None = None,
    fat_g: float | None = None,
    fiber_g: float | None = None,
    sugar_g: float | None = None,
    sodium_mg: float | None = None,
    water_ml: float | None = None,
    food: Food | None = None,
    grams: float | None = None,
) -> NutritionLog:
    """A new diary entry. With `food` + `grams` the nutrients come from the catalogue."""
    log = NutritionLog(
        user=user,
        meal_type=meal_type,
        logged_at=logged_at,
        description=description,
        calories=calories,
        protein_g=protein_g,
        carbs_g=carbs_g,
        fat_g=fat_g,
        fiber_g=fiber_g,
        sugar_g=sugar_g,
        sodium_mg=sodium_mg,
        water_ml=water_ml,
        food=food,
        grams=grams,
    )
    # A new entry has no photo: said here, so the audit entry's diff does not query for one.
    NutritionLog.photo.related.set_cached_value(log, None)
    clean_entry(log)
    if not _insert_with_entry(log):
        log.save()
    tz = calendar.zone_of(user)
    nutrition_changes_announce(
        user_id=log.user_id, days={calendar.day_of(log.logged_at, tz)}, tz=tz, entry_ids=[log.pk]
    )
    return log


@functools.cache
def _insert_sql() -> tuple[str, tuple]:
    """`_insert_with_entry`'s statement and the entry's columns it inserts, in order
    (`audit_rows.column_preparers`). Names from the models' metadata, values as parameters."""
    opening, fields = audit_rows.row_and_entry_sql(NutritionLog, "n")
    sql = f"{opening}SELECT n.id FROM n"  # noqa: S608 - names from the models' metadata
    return sql, fields


def _insert_with_entry(log: NutritionLog) -> bool:
    """Insert the new entry `log` and its audit entry in one statement on PostgreSQL (as a
    reading's write does, `metrics.services._insert_locked`): the audit entry is the one
    django-auditlog writes on the model's `post_save`, field for field, the encrypted
    description left out of its diff as registered (`healthtrack.core.audit_rows`); the
    description is encrypted as the ORM encrypts it (the field's own `get_db_prep_save`).
    False when this does not apply (not PostgreSQL, or auditlog would not write its entry
    that way): the caller saves through the ORM."""
    if connection.vendor != "postgresql":
        return False
    sql, fields = _insert_sql()
    row = audit_rows.column_values(fields, log)  # sets created_at / updated_at, as save()
    entry = audit_rows.created_entry(log)
    if entry is None:
        return False
    with prepared_cursor() as cursor:
        cursor.execute(sql, [*row, *entry])
        log.pk = cursor.fetchone()[0]
    log._state.adding = False
    log._state.db = connection.alias
    return True


@transaction.atomic
def nutrition_log_update(*, log: NutritionLog, **changes: Any) -> NutritionLog:
    """Change the given fields of an entry (a full replacement passes them all)."""
    unknown = set(changes) - set(LOG_FIELDS)
    if unknown:
        raise TypeError(f"Not a diary field: {', '.join(sorted(unknown))}")
    log = NutritionLog.objects.select_for_update().get(pk=log.pk)
    old_day = log.day
    for field, value in changes.items():
        setattr(log, field, value)
    clean_entry(log)
    log.save()
    nutrition_changes_announce(user_id=log.user_id, days={old_day, log.day}, entry_ids=[log.pk])
    return log


@transaction.atomic
def nutrition_log_delete(*, log: NutritionLog) -> None:
    user_id, day = log.user_id, log.day
    log.delete()
    # Its tombstone (post_delete) is the change feed's event: no other entry changed.
    nutrition_changes_announce(user_id=user_id, days={day}, entry_ids=())


# --- Quick logs (the insights app's quick log writes through these, then advises) -------------

DEFAULT_PORTION_G = 100.0


@transaction.atomic
def water_log_create(*, user, litres: float, logged_at: datetime) -> NutritionLog:
    """`litres` of water drunk at `logged_at`, as a diary drink."""
    return nutrition_log_create(
        user=user,
        meal_type="drink",
        logged_at=logged_at,
        description="Water",
        water_ml=round(litres * 1000, 1),
    )


def _catalogue_food(text: str) -> Food | None:
    """The catalogue `Food` for free text (rule: `nutrition.catalogue.match_food`), or None."""
    foods = {food.name: food for food in Food.objects.all()}
    name = match_food(text, foods)
    return foods.get(name) if name else None


@transaction.atomic
def food_log_create_from_text(
    *,
    user,
    meal_type: str,
    text: str,
    logged_at: datetime,
    grams: float | None = None,
    calories: float | None = None,
) -> NutritionLog:
    """A meal logged from free text.

    - `calories` given: a custom entry with those calories (the text is its description).
    - else the text must match a catalogue food (`nutrition.catalogue.match_food`): the entry
      is that food, `grams` of it (default 100 g), nutrients from the catalogue.
    - else nothing is logged: a ValidationError asks for `calories` (we do not guess)."""
    food = None
    if calories is None:
        food = _catalogue_food(text)
        if food is None:
            raise ValidationError(
                {
                    "calories": [
                        "No catalogue food matches this text; give calories to log it as "
                        "your own entry."
                    ]
                }
            )
        grams = DEFAULT_PORTION_G if grams is None else grams
    return nutrition_log_create(
        user=user,
        meal_type=meal_type,
        logged_at=logged_at,
        description=text,
        calories=calories if food is None else None,
        food=food,
        grams=grams if food is not None else None,
    )


@transaction.atomic
def nutrition_targets_set(
    *,
    user,
    calories: int | None = None,
    protein_g: float | None = None,
    water_ml: int | None = None,
) -> NutritionTargets:
    """Set (or clear, with None) a user's own daily targets."""
    targets, _ = NutritionTargets.objects.select_for_update().get_or_create(user=user)
    targets.calories, targets.protein_g, targets.water_ml = calories, protein_g, water_ml
    clean_targets(targets)
    targets.save()  # the daily answers are dropped after commit (nutrition.receivers)
    return targets


# --- Meal photos ------------------------------------------------------------------------------


def meal_photo_name_prefix(user_id: int) -> str:
    """What every stored photo name of `user_id`'s diary starts with (the account purge finds
    the audit entries of photos removed long before by it)."""
    return f"{user_id}/"


def _photo_name(log: NutritionLog, suffix: str, extension: str) -> str:
    # Random, and nothing of the uploaded file's name: names show up in storage listings.
    return f"{meal_photo_name_prefix(log.user_id)}{uuid.uuid4().hex}{suffix}.{extension}"


def meal_photo_files_delete(*names: str) -> None:
    """Remove stored photo files; a name already gone is fine (deletion may be retried)."""
    storage = photos.photo_storage()
    for name in names:
        if name:
            storage.delete(name)


@transaction.atomic
def meal_photo_set(*, log: NutritionLog, upload) -> MealPhoto:
    """Attach a photo to a diary entry, replacing the one it had. The upload is checked by
    content and re-encoded without metadata (`nutrition.photos.clean_image`) before anything
    is written; a refused file raises ValidationError and leaves no row and no file. The
    thumbnail is made by a Celery task after commit."""
    clean = photos.clean_image(upload)
    log = NutritionLog.objects.select_for_update().get(pk=log.pk)
    name = photos.photo_storage().save(
        _photo_name(log, "", clean.extension), ContentFile(clean.data)
    )
    try:
        MealPhoto.objects.filter(log=log).delete()  # its files go on commit (receivers)
        photo = MealPhoto.objects.create(
            log=log,
            image_name=name,
            content_type=clean.content_type,
            width=clean.width,
            height=clean.height,
            size_bytes=len(clean.data),
        )
    except BaseException:
        meal_photo_files_delete(name)
        raise
    # Through the outbox: the row commits with the photo, so a broker outage or a crash
    # right after the commit delays the thumbnail, never loses it.
    enqueue_on_commit(
        "nutrition.make_meal_photo_thumbnail",
        {"photo_id": photo.pk},
        dedupe_key=f"meal-photo-thumbnail:{photo.pk}",
    )
    return photo


@transaction.atomic
def meal_photo_delete(*, photo: MealPhoto) -> None:
    """Remove a diary entry's photo; its files are deleted on commit."""
    photo.delete()


def meal_photo_thumbnail_make(*, photo_id: int) -> bool:
    """Make the thumbnail of photo `photo_id` if it has none yet. Safe to run twice, late, or
    after the photo was deleted (then nothing is kept). Returns whether one was made."""
    photo = MealPhoto.objects.filter(pk=photo_id).first()
    if photo is None or photo.thumbnail_name:
        return False
    storage = photos.photo_storage()
    with storage.open(photo.image_name, "rb") as stored:
        data = stored.read()
    thumb = photos.thumbnail_bytes(data, size=settings.MEAL_PHOTO_THUMBNAIL_PX)
    name = storage.save(_photo_name(photo.log, "-thumb", "jpg"), ContentFile(thumb))
    with transaction.atomic():
        updated = MealPhoto.objects.filter(pk=photo_id, thumbnail_name="").update(
            thumbnail_name=name
        )
    if not updated:  # deleted meanwhile, or another run was first
        meal_photo_files_delete(name)
        return False
    return True
