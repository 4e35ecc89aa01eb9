"""Writes on insights: keyword-only, typed, atomic."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from auditlog.context import disable_auditlog
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import connections, router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts import access
from healthtrack.core import days as calendar
from insights import advice, alerts, engine, snapshot_builder
from insights.alert_readings import alert_inputs
from insights.alerts import Alert
from insights.list_version import insights_changed
from insights.models import AlertAction, HealthInsight, RecommendationState
from insights.rules import Recommendation
from insights.validation import clean_note, clean_note_patient
from metrics.models import DailyRollup

User = get_user_model()
Kind = HealthInsight.Kind

logger = logging.getLogger(__name__)


def _jsonable(value):
    """`value` as it reads back from a JSONField (tuples become lists)."""
    return json.loads(json.dumps(value))


def _content(
    *, insight_type, severity, rank, score, title, message, actions, related_metric, data
) -> tuple:
    return (
        insight_type,
        severity,
        rank,
        None if score is None else round(score, 3),
        title,
        message,
        _jsonable(list(actions)),
        related_metric,
        _jsonable(data),
    )


def _row_content(row: HealthInsight) -> tuple:
    return _content(
        insight_type=row.insight_type,
        severity=row.severity,
        rank=row.rank,
        score=row.score,
        title=row.title,
        message=row.message,
        actions=row.actions,
        related_metric=row.related_metric,
        data=row.data,
    )


def _recommendation_content(rec: Recommendation, rank: int) -> tuple:
    return _content(
        insight_type=rec.type,
        severity=rec.severity,
        rank=rank,
        score=rec.score,
        title=rec.title,
        message=rec.reasoning,
        actions=rec.actions,
        related_metric=rec.related_metric,
        data=rec.data,
    )


@dataclass
class _Replacement:
    supersede: list[int]  # acknowledged rows kept as history
    delete: list[int]  # unacknowledged rows
    rows: list[HealthInsight]  # the new set (unsaved)


def _plan_replacement(
    *,
    user_id: int,
    current: list[HealthInsight],
    recommendations: Sequence[Recommendation],
    generated_at: datetime,
) -> _Replacement | None:
    """What replacing `current` by `recommendations` takes, or None when they are the same."""
    wanted = [_recommendation_content(rec, rank) for rank, rec in enumerate(recommendations, 1)]
    if [_row_content(row) for row in current] == wanted:
        return None
    read_before = {
        (row.insight_type, row.message)
        for row in current
        if row.is_read and row.acknowledged_at is None
    }
    generation = uuid.uuid4()
    return _Replacement(
        supersede=[row.pk for row in current if row.acknowledged_at is not None],
        delete=[row.pk for row in current if row.acknowledged_at is None],
        rows=[
            HealthInsight(
                user_id=user_id,
                kind=Kind.RECOMMENDATION,
                insight_type=rec.type,
                severity=rec.severity,
                rank=rank,
                score=round(rec.score, 3),
                title=rec.title,
                message=rec.reasoning,
                actions=_jsonable(list(rec.actions)),
                related_metric=rec.related_metric,
                data=_jsonable(rec.data),
                is_read=(rec.type, rec.reasoning) in read_before,
                generation=generation,
                created_at=generated_at,
            )
            for rank, rec in enumerate(recommendations, 1)
        ],
    )


def _apply_replacements(plans: Sequence[_Replacement], generated_at: datetime) -> None:
    supersede = [pk for plan in plans for pk in plan.supersede]
    delete = [pk for plan in plans for pk in plan.delete]
    rows = [row for plan in plans for row in plan.rows]
    with disable_auditlog():
        if supersede:
            HealthInsight.objects.filter(pk__in=supersede).update(superseded_at=generated_at)
        if delete:
            _delete_insights(delete)
        if rows:
            HealthInsight.objects.bulk_create(rows, batch_size=1000)


# The replaced rows and (a cascade, as Django's collector does it) any alert handling that
# names them, in one statement on PostgreSQL: the collector read the rows and their handling
# back first, three statements and most of a recommendations miss's ORM work (issue 15). No
# signal is sent for these deletions (auditlog is off for generated rows): the owners' list
# versions are retired here (`insights.list_version`, the owners the statement returns). The
# foreign key from AlertAction is checked at commit, so the order inside the statement does
# not matter.
_DELETE_INSIGHTS_SQL = (
    "WITH handling AS (DELETE FROM insights_alertaction WHERE alert_id = ANY(%s)) "
    "DELETE FROM insights_healthinsight WHERE id = ANY(%s) RETURNING user_id"
)


def _delete_insights(pks: list[int]) -> None:
    using = router.db_for_write(HealthInsight)
    if connections[using].vendor != "postgresql":
        HealthInsight.objects.filter(pk__in=pks).delete()
        return
    with connections[using].cursor() as cursor:
        cursor.execute(_DELETE_INSIGHTS_SQL, [list(pks), list(pks)])
        insights_changed((row[0] for row in cursor.fetchall()), using=using)


def _lock_users(user_ids: Sequence[int]) -> None:
    """Serialise concurrent recomputations for the same users (row locks on PostgreSQL, taken
    in id order so that two batches cannot deadlock; SQLite transactions are already
    exclusive here). In plain SQL on PostgreSQL (a recommendations miss runs it: the ORM's
    building cost more than the lock, issue 15)."""
    using = router.db_for_write(User)
    if connections[using].vendor == "postgresql":
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT id FROM accounts_user WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                [list(user_ids)],
            )
            cursor.fetchall()
        return
    list(
        User.objects.select_for_update()
        .filter(pk__in=list(user_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _current_sets(user_ids: Sequence[int]) -> dict[int, list[HealthInsight]]:
    """Each user's current generated recommendations (rank 1 first). On PostgreSQL through
    `raw()` (the same rows as the QuerySet, every field loaded and converted): compiling the
    QuerySet cost twice the rest on a recommendations miss (issue 15)."""
    found: dict[int, list[HealthInsight]] = {user_id: [] for user_id in user_ids}
    if connections[router.db_for_read(HealthInsight)].vendor == "postgresql":
        rows = HealthInsight.objects.raw(
            "SELECT * FROM insights_healthinsight WHERE user_id = ANY(%s) AND kind = %s "
            "AND superseded_at IS NULL ORDER BY user_id, rank, id",
            [list(user_ids), Kind.RECOMMENDATION.value],
        )
    else:
        rows = (
            HealthInsight.objects.filter(user_id__in=list(user_ids))
            .recommendations()
            .current()
            .order_by("user_id", "rank", "id")
        )
    for row in rows:
        found[row.user_id].append(row)
    return found


@transaction.atomic
def insights_replace_generated(
    *, user_id: int, recommendations: Sequence[Recommendation], generated_at: datetime
) -> list[HealthInsight]:
    """Make `recommendations` (best first; ranks 1..n by position) the user's current
    generated set, in one transaction.

    - Same content as the current set: nothing is written (the rows, their ids and their read
      and acknowledged flags stay), so running twice with the same input is a no-op.
    - Otherwise the current unacknowledged rows are deleted, the acknowledged ones are kept as
      history (`superseded_at = generated_at`), and the new set is created with one new
      `generation` id and `created_at = generated_at`. A recommendation whose type and message
      are unchanged keeps its `is_read` flag.

    Generated rows are derived data (recomputable from the audited measurements), so their
    churn is not written to the audit log; people's actions on them (`insight_mark`) are.
    Returns the current set, rank 1 first.
    """
    return _replace_generated(
        user_id=user_id, recommendations=recommendations, generated_at=generated_at
    )


def _replace_generated(
    *, user_id: int, recommendations: Sequence[Recommendation], generated_at: datetime
) -> list[HealthInsight]:
    # `insights_replace_generated`'s work, for a caller whose own transaction holds it (no
    # savepoint: an error fails that transaction anyway).
    _lock_users([user_id])
    current = _current_sets([user_id])[user_id]
    plan = _plan_replacement(
        user_id=user_id,
        current=current,
        recommendations=recommendations,
        generated_at=generated_at,
    )
    if plan is None:
        return current
    _apply_replacements([plan], generated_at)
    return plan.rows


@transaction.atomic
def insights_replace_generated_many(
    *, results: Mapping[int, Sequence[Recommendation]], generated_at: datetime
) -> int:
    """`insights_replace_generated` for many users (user id -> recommendations) in one
    transaction and a fixed number of queries (the nightly batch). Returns how many users'
    sets changed."""
    _lock_users(sorted(results))
    current = _current_sets(list(results))
    plans = [
        plan
        for user_id, recommendations in results.items()
        if (
            plan := _plan_replacement(
                user_id=user_id,
                current=current[user_id],
                recommendations=recommendations,
                generated_at=generated_at,
            )
        )
        is not None
    ]
    _apply_replacements(plans, generated_at)
    return len(plans)


@transaction.atomic
def alert_record(*, user_id: int, alert: Alert) -> tuple[HealthInsight, bool]:
    """Store `alert` for the user unless the same alert (type + dedupe key: the same reading
    or 7-day window) is already stored. Returns (the row, whether it was created)."""
    return HealthInsight.objects.get_or_create(
        user_id=user_id,
        kind=Kind.ALERT,
        insight_type=alert.type,
        dedupe_key=alert.dedupe_key,
        defaults={
            "severity": alert.severity,
            "title": alert.title,
            "message": alert.message,
            "related_metric": alert.related_metric,
            "data": _jsonable(
                {
                    **alert.data,
                    "recorded_at": alert.recorded_at.isoformat() if alert.recorded_at else None,
                }
            ),
        },
    )


@transaction.atomic
def insight_mark(
    *, insight: HealthInsight, read: bool | None = None, acknowledged: bool | None = None
) -> HealthInsight:
    """Set the read and acknowledged flags (None leaves one as it is). Acknowledging also marks
    read unless `read` says otherwise; the first acknowledgement's time is kept."""
    if acknowledged is True and read is None:
        read = True
    fields: list[str] = []
    if read is not None and insight.is_read != read:
        insight.is_read = read
        fields.append("is_read")
    if acknowledged is True and insight.acknowledged_at is None:
        insight.acknowledged_at = timezone.now()
        fields.append("acknowledged_at")
    elif acknowledged is False and insight.acknowledged_at is not None:
        insight.acknowledged_at = None
        fields.append("acknowledged_at")
    if fields:
        insight.save(update_fields=fields)
    return insight


@transaction.atomic
def alerts_mark_reviewed(*, alerts: QuerySet[HealthInsight], reviewer) -> int:
    """Record `reviewer` and now on every unreviewed alert of `alerts`; returns how many."""
    now = timezone.now()
    count = 0
    rows = HealthInsight.objects.filter(
        pk__in=alerts.values("pk"), kind=Kind.ALERT, reviewed_at__isnull=True
    ).select_for_update()
    for alert in rows:
        alert.reviewed_by = reviewer
        alert.reviewed_at = now
        alert.alert_status = HealthInsight.AlertStatus.ACKNOWLEDGED
        alert.snoozed_until = None
        alert.save(update_fields=["reviewed_by", "reviewed_at", "alert_status", "snoozed_until"])
        AlertAction.objects.create(
            alert=alert,
            actor=reviewer,
            actor_label=reviewer.get_username(),
            action=AlertAction.Action.ACKNOWLEDGE,
            note="Marked reviewed from the alerts list.",
            at=now,
        )
        count += 1
    return count


@transaction.atomic
def clinician_note_create(
    *,
    author,
    patient,
    title: str,
    message: str,
    severity: str = HealthInsight.Severity.LOW,
    related_metric: str = "",
) -> HealthInsight:
    """A clinician's note for a patient in their care (as `accounts.access` decides)."""
    if getattr(author, "role", None) != User.Role.CLINICIAN:
        raise PermissionDenied("Only clinicians may create insights.")
    clean_note_patient(author=author, patient=patient)
    if not access.can_read(author, patient.pk):
        raise PermissionDenied("This patient is not in your care.")
    note = HealthInsight(
        user=patient,
        kind=Kind.CLINICIAN_NOTE,
        insight_type=Kind.CLINICIAN_NOTE.value,
        severity=severity,
        title=title,
        message=message,
        related_metric=related_metric,
        author=author,
    )
    clean_note(note)
    note.save()
    return note


# --- computing and storing recommendations ------------------------------------------------


@dataclass(frozen=True)
class ComputedRecommendations:
    user_id: int
    days: int
    generated_at: datetime
    recommendations: list[Recommendation]
    stored: bool

    def payload(self) -> dict:
        """The API's answer (without `cached`), JSON-ready."""
        return {
            "user_id": self.user_id,
            "days": self.days,
            "generated_at": self.generated_at.isoformat(),
            "recommendations": [_jsonable(rec.as_dict()) for rec in self.recommendations],
        }


def recommendations_compute(
    *, user, days: int | None = None, today: date | None = None, store: bool | None = None
) -> ComputedRecommendations:
    """Build `user`'s snapshot (rollups, nutrition totals, targets, goal), run the engine and,
    for the stored window (`RECOMMENDATIONS_DEFAULT_DAYS`, unless `store` says otherwise), make
    the result the user's current generated set and record the computation in
    `RecommendationState`, in one transaction. Running it twice on the same data writes
    nothing the second time (see `insights_replace_generated`)."""
    days = snapshot_builder.default_days() if days is None else days
    if store is None:
        store = days == snapshot_builder.default_days()
    started = timezone.now()
    snapshot = snapshot_builder.build_snapshot(user=user, days=days, today=today)
    recommendations = engine.recommend(snapshot)
    if store:
        with transaction.atomic():
            _replace_generated(
                user_id=user.pk, recommendations=recommendations, generated_at=started
            )
            _state_upsert(
                user_id=user.pk,
                computed_at=started,
                computed_for=snapshot.today,
                valid_until=snapshot_builder.stable_until(snapshot),
            )
    return ComputedRecommendations(
        user_id=user.pk,
        days=days,
        generated_at=started,
        recommendations=recommendations,
        stored=store,
    )


def recommendations_compute_many(
    *, users, days: int | None = None, today: date | None = None
) -> int:
    """`recommendations_compute` (stored) for many users at once: the snapshots in a fixed
    number of queries, every set and state written in one transaction (the nightly batch).
    Returns how many users' sets changed."""
    days = snapshot_builder.default_days() if days is None else days
    users = list(users)
    if not users:
        return 0
    started = timezone.now()
    snapshots = snapshot_builder.build_snapshots(users=users, days=days, today=today)
    results = {pk: engine.recommend(snapshot) for pk, snapshot in snapshots.items()}
    with transaction.atomic():
        changed = insights_replace_generated_many(results=results, generated_at=started)
        _states_upsert(
            [
                RecommendationState(
                    user_id=pk,
                    computed_at=started,
                    computed_for=snapshot.today,
                    valid_until=snapshot_builder.stable_until(snapshot),
                )
                for pk, snapshot in snapshots.items()
            ],
            ["computed_at", "computed_for", "valid_until"],
        )
    return changed


def _states_upsert(states: list[RecommendationState], fields: list[str]) -> None:
    RecommendationState.objects.bulk_create(
        states,
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=fields,
        batch_size=500,
    )


def _state_upsert(**fields) -> None:
    """One user's `RecommendationState` row: `fields` set, created if missing (its other
    columns null), as `_states_upsert` does; in plain SQL on PostgreSQL (every computing
    recommendations miss writes it: the ORM's bulk_create cost more than the statement)."""
    user_id = fields.pop("user_id")
    using = router.db_for_write(RecommendationState)
    if connections[using].vendor != "postgresql":
        _states_upsert([RecommendationState(user_id=user_id, **fields)], list(fields))
        return
    names = [RecommendationState._meta.get_field(name).column for name in fields]
    columns = ", ".join(names)
    values = ", ".join(["%s"] * len(names))
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in names)
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO insights_recommendationstate (user_id, {columns}) "  # noqa: S608
            f"VALUES (%s, {values}) ON CONFLICT (user_id) DO UPDATE SET {updates}",
            [user_id, *fields.values()],
        )


_STATE_FIELDS = ("data_changed_at", "computed_at", "computed_for", "valid_until")


def _state_of(user_id: int) -> dict | None:
    """`user_id`'s `RecommendationState` as {field: value}, or None (plain SQL on
    PostgreSQL: read on every recommendations miss)."""
    using = router.db_for_read(RecommendationState)
    if connections[using].vendor != "postgresql":
        return RecommendationState.objects.filter(user_id=user_id).values(*_STATE_FIELDS).first()
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT data_changed_at, computed_at, computed_for, valid_until "
            "FROM insights_recommendationstate WHERE user_id = %s",
            [user_id],
        )
        row = cursor.fetchone()
    return dict(zip(_STATE_FIELDS, row, strict=True)) if row is not None else None


def recommendation_state_mark_changed(*, user_id: int, at: datetime | None = None) -> None:
    """Record that an input of `user_id`'s recommendations changed (called after commit)."""
    _state_upsert(user_id=user_id, data_changed_at=at or timezone.now())


def recommendation_state_due_by(*, user_id: int, day: date) -> None:
    """`user_id`'s stored set is to be recomputed on `day` at the latest (`valid_until`): for
    a write of data that no window holds before that day (called after commit). A person
    never computed has no state and is due anyway."""
    using = router.db_for_write(RecommendationState)
    if connections[using].vendor == "postgresql":
        # Plain SQL: on every diary write of today the ORM's update cost more than the statement.
        with connections[using].cursor() as cursor:
            cursor.execute(_DUE_BY_SQL, [day, user_id, day])
        return
    RecommendationState.objects.filter(user_id=user_id).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=day)
    ).update(valid_until=day)


_DUE_BY_SQL = (
    "UPDATE insights_recommendationstate SET valid_until = %s"
    " WHERE user_id = %s AND (valid_until IS NULL OR valid_until > %s)"
)


def recommendations_refresh_if_stale(*, user, today: date | None = None) -> bool:
    """Recompute `user`'s stored recommendations now when an input changed after they were
    computed, or a rule's window slid over their data (the debounced task may not have run
    yet), so no recommendation shown quotes a value older than the card beside it. Returns
    whether it recomputed; a failure is logged and the stored set is shown."""
    state = _state_of(user.pk)
    if state is None or state["computed_at"] is None:
        return False
    today = today or calendar.today(user)
    changed_at = state["data_changed_at"]
    changed = changed_at is not None and changed_at > state["computed_at"]
    slid = state["valid_until"] is not None and state["valid_until"] <= today
    if not (changed or slid):
        return False
    try:
        recommendations_compute(user=user, today=today)
    except Exception as error:  # showing the stored set beats failing the page
        logger.error(
            "insights: refreshing recommendations of user %s failed: %s",
            user.pk,
            type(error).__name__,
        )
        return False
    return True


# --- alerts on write ------------------------------------------------------------------------


def alerts_check(
    *, user_id: int, start: datetime, end: datetime, tz: tzinfo | None = None
) -> list[HealthInsight]:
    """Evaluate the alert rules on `user_id`'s readings recorded in [start, end] (a span a
    write touched) and on the 7-day blood-pressure average ending on `end`'s day (not after
    today), and record every alert not already stored. Returns the newly created alerts.
    `tz`: the owner's zone when the caller knows it (a write read it), else read here."""
    if tz is None:
        tz = calendar.zone_of(user_id)  # the owner's local days
    last_day = min(calendar.day_of(end, tz), calendar.today(tz))
    readings, averages = alert_inputs(
        user_id=user_id, start=start, end=end, last_day=last_day, tz=tz
    )
    raised = alerts.evaluate(readings, averages=averages)
    if not raised:
        return []
    # Most checks re-raise alerts stored already (the 7-day window's, a re-sent reading's):
    # one statement finds them, instead of a savepoint and a read per alert.
    stored = set(
        HealthInsight.objects.filter(
            user_id=user_id, kind=Kind.ALERT, dedupe_key__in=[a.dedupe_key for a in raised]
        ).values_list("insight_type", "dedupe_key")
    )
    created = []
    for alert in raised:
        if (alert.type, alert.dedupe_key) in stored:
            continue
        row, new = alert_record(user_id=user_id, alert=alert)
        if new:
            created.append(row)
    return created


# --- the API's cached read ------------------------------------------------------------------


def recommendations_for(*, user, days: int, use_cache: bool = True) -> tuple[dict, bool]:
    """(the API answer without `cached`, whether it came from the cache). A miss computes
    synchronously (storing the set when `days` is the stored window) and caches the answer;
    with `use_cache=False` the cache is not read but is refreshed. A cache that is down
    reads as a miss, so the answer then comes from the database."""
    from insights import cache as rec_cache

    today = calendar.today(user)  # before reading: the answer is kept until its midnight
    found = rec_cache.lookup(user.pk, days)
    if use_cache:
        if found.payload is not None:
            rec_cache.count("hits")
            return found.payload, True
        rec_cache.count("misses")
    payload = stored_recommendations_payload(user=user, days=days) if use_cache else None
    if payload is None:
        payload = recommendations_compute(user=user, days=days, today=today).payload()
    rec_cache.store(user.pk, days, payload, found, seconds=rec_cache.ttl_within(user, today))
    return payload, False


def stored_recommendations_payload(*, user, days: int) -> dict | None:
    """The API answer from `user`'s stored set (two reads), when computing now would give the
    same: the stored window, computed for the person's today, no input changed since (the
    write's marker, `recommendation_state_mark_changed`, is set before its cache
    invalidation) and no rule's window slid over its data. None otherwise: compute.
    So a miss (the cache expired or evicted, another window's entry) no longer recomputes
    what the debounced task or the nightly run already stored."""
    if days != snapshot_builder.default_days():
        return None
    state = _state_of(user.pk)
    if state is None or state["computed_at"] is None:
        return None
    today = calendar.today(user)
    changed_at = state["data_changed_at"]
    if state["computed_for"] != today or (
        changed_at is not None and changed_at > state["computed_at"]
    ):
        return None
    if state["valid_until"] is not None and state["valid_until"] <= today:
        return None
    recommendations = [
        {
            "type": row.insight_type,
            "title": row.title,
            "severity": row.severity,
            "score": row.score,
            "reasoning": row.message,
            "actions": row.actions,
            "related_metric": row.related_metric,
            "data": row.data,
            "rank": row.rank,
        }
        for row in _current_sets([user.pk])[user.pk]
    ]
    return {
        "user_id": user.pk,
        "days": days,
        "generated_at": state["computed_at"].isoformat(),
        "recommendations": recommendations,
    }


# --- quick logs with advice -----------------------------------------------------------------

QUICK_LOG_SOURCE = "HealthTrack quick log"


@dataclass(frozen=True)
class QuickAdvice:
    message: str
    entry: dict


def _day_totals(user, day: date) -> dict:
    from nutrition.models import NutritionLog

    row = NutritionLog.objects.for_user(user).on_days(day, day).daily_totals().first() or {}
    return {name: float(row.get(name) or 0) for name in ("calories", "protein_g", "water_ml")}


def _targets(user, day: date) -> dict:
    from nutrition.targets import daily_targets

    weight = (
        DailyRollup.objects.filter(user_id=user.pk, metric_type="weight", day__lte=day)
        .order_by("-day")
        .values_list("value", flat=True)
        .first()
    )
    return daily_targets(user=user, weight_kg=weight, on=day)


@transaction.atomic
def quick_water_log(*, user, litres: float, at: datetime, now: datetime) -> QuickAdvice:
    """Log `litres` of water drunk at `at` (a diary drink) and advise on the rest of the day
    (`now` carries the user's UTC offset, for "by 4 pm")."""
    from nutrition.services import water_log_create

    log = water_log_create(user=user, litres=litres, logged_at=at)
    day = log.day
    totals = _day_totals(user, day)
    target = _targets(user, day)["water_ml"]
    message = advice.water_message(total_ml=totals["water_ml"], target_ml=target, local_time=now)
    return QuickAdvice(message, {"id": log.pk, "kind": "nutrition_log", "water_ml": log.water_ml})


@transaction.atomic
def quick_exercise_log(*, user, activity: str, minutes: int, ended_at: datetime) -> QuickAdvice:
    """Log a session as an `exercise` measurement (minutes, from `ended_at - minutes` to
    `ended_at`, the activity in its metadata) and advise against the weekly target."""
    from metrics.services import exercise_session_create

    metric = exercise_session_create(
        user=user,
        minutes=minutes,
        ended_at=ended_at,
        activity=advice.short_activity(activity),
        source_app=QUICK_LOG_SOURCE,
    )
    day = calendar.day_of(metric.recorded_at, user)
    week = DailyRollup.objects.filter(
        user_id=user.pk, metric_type="exercise", day__gte=day - timedelta(days=6), day__lte=day
    ).values_list("value", flat=True)
    message = advice.exercise_message(activity=activity, minutes=minutes, week_minutes=sum(week))
    return QuickAdvice(message, {"id": metric.pk, "kind": "health_metric", "minutes": minutes})


@transaction.atomic
def quick_food_log(
    *,
    user,
    meal: str,
    food_text: str,
    at: datetime,
    grams: float | None = None,
    calories: float | None = None,
) -> QuickAdvice:
    """Log a meal from free text (`nutrition.services.food_log_create_from_text`: with
    `calories` a custom entry, else a matching catalogue food, else a ValidationError asking
    for calories) and advise on the rest of the day."""
    from nutrition.services import food_log_create_from_text

    log = food_log_create_from_text(
        user=user, meal_type=meal, text=food_text, logged_at=at, grams=grams, calories=calories
    )
    day = log.day
    totals = _day_totals(user, day)
    targets = _targets(user, day)
    message = advice.food_message(
        entry_calories=log.calories or 0,
        calories_today=totals["calories"],
        calorie_target=targets["calories"],
        protein_today=totals["protein_g"],
        protein_target=targets["protein_g"],
        missing=targets["basis"]["missing"],
    )
    entry = {
        "id": log.pk,
        "kind": "nutrition_log",
        "food": log.food.name if log.food is not None else None,
        "grams": log.grams,
        "calories": log.calories,
    }
    return QuickAdvice(message, entry)
