"""The one definition of "today", "a day", "last night" and "in progress (partial day)".

Every figure on every surface (dashboard cards, goals, care-program scores, insights texts, the
doctor's report, the admin patient page, the API summary and aggregates) takes its days from
here. A day is a calendar day in the person's time zone (`User.time_zone`, an IANA name; UTC
by default), read by `zone_of` and nowhere else. The daily, weekly and monthly rollups
(`metrics.rollups`, `metrics.period_rollups`) are cut at the person's local midnights with the
same zone, so a rollup's `day` is the local date of its readings. When a person changes zone,
`time_zone_changed` is sent on commit and their rollups are recut (`metrics.tasks`).

Functions take the person as a `User` (no query) or a user id (one query: resolve the zone once
with `zone_of` and pass the `tzinfo` on where a loop would otherwise look it up again); a
`tzinfo` is accepted wherever a person is. None means UTC.

- **a day**: [00:00, 24:00) in the zone; a sample belongs to the day its `recorded_at` is in.
- **today**: the day containing now. Today is *in progress* (a partial day): its figures are
  shown "so far" and never scored, averaged or judged as a finished day.
- **last night**: the sleep recorded from noon of the day before until noon of the day
  (`NIGHT_STARTS_BEFORE_MIDNIGHT`), keyed by the morning it ended; "last night" is today's.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import django.dispatch
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

# A night's sleep starts the evening before: from noon, so an afternoon nap counts toward the
# night that follows it.
NIGHT_STARTS_BEFORE_MIDNIGHT = timedelta(hours=12)


# Sent after the commit that changed a person's `time_zone`, with `user_id: int`. Receivers
# (metrics: recut the rollups; goals: recompute progress) only enqueue work.
time_zone_changed = django.dispatch.Signal()


def zone_named(name: str | None) -> tzinfo:
    """The zone of an IANA name; UTC for a blank or unknown one (the field validates names)."""
    if not name or name == "UTC":
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


def zone_of(user=None) -> tzinfo:
    """The time zone a person's days are counted in: `user` is a User, a user id, a tzinfo
    (returned as is) or None (UTC)."""
    if user is None:
        return UTC
    if isinstance(user, tzinfo):
        return user
    if isinstance(user, int):
        name = get_user_model().objects.filter(pk=user).values_list("time_zone", flat=True).first()
        return zone_named(name)
    return zone_named(getattr(user, "time_zone", None))


def zone_name(tz: tzinfo) -> str:
    """The IANA name of a zone from `zone_of` (what SQL `AT TIME ZONE` and rollup rows store)."""
    return getattr(tz, "key", None) or "UTC"


def time_zone_changed_on_commit(*, user_id: int) -> None:
    """Announce, once the current transaction commits, that `user_id`'s days moved."""
    transaction.on_commit(
        lambda: time_zone_changed.send_robust(sender=get_user_model(), user_id=user_id),
        robust=True,
    )


def today(user=None, *, now: datetime | None = None) -> date:
    """The day in progress for `user`."""
    return (now or timezone.now()).astimezone(zone_of(user)).date()


def day_of(moment: datetime, user=None) -> date:
    """The day `moment` belongs to."""
    return moment.astimezone(zone_of(user)).date()


def day_start(day: date, user=None) -> datetime:
    """The instant (aware, UTC) `day` begins: local midnight in the person's zone."""
    return datetime.combine(day, time.min, tzinfo=zone_of(user)).astimezone(UTC)


def seconds_to_midnight(user=None, *, now: datetime | None = None) -> int:
    """Whole seconds from `now` to the next local midnight, when today ends: how long an
    answer whose days end today may be kept."""
    now = now or timezone.now()
    midnight = day_start(now.astimezone(zone_of(user)).date() + timedelta(days=1), user)
    return int((midnight - now).total_seconds())


def day_bounds(day: date, user=None) -> tuple[datetime, datetime]:
    """[start, end) of `day`."""
    start = day_start(day, user)
    return start, day_start(day + timedelta(days=1), user)


def night_of(moment: datetime, user=None) -> date:
    """The night (keyed by its morning) that sleep starting at `moment` belongs to."""
    return day_of(moment + NIGHT_STARTS_BEFORE_MIDNIGHT, user)


def night_bounds(day: date, user=None) -> tuple[datetime, datetime]:
    """[start, end) of the night that ends on the morning of `day`."""
    start, end = day_bounds(day, user)
    return start - NIGHT_STARTS_BEFORE_MIDNIGHT, end - NIGHT_STARTS_BEFORE_MIDNIGHT


def is_in_progress(day: date, user=None, *, now: datetime | None = None) -> bool:
    """Is `day` today (partial: shown "so far", never scored as a finished day)?"""
    return day == today(user, now=now)


def finished_days(
    first: date, last: date, user=None, *, now: datetime | None = None
) -> tuple[date, date] | None:
    """first..last without today or later: the days that can be scored (None if none)."""
    last = min(last, today(user, now=now) - timedelta(days=1))
    return (first, last) if first <= last else None


def day_label(day: date, current: date | None = None, user=None) -> str:
    """ "today", "yesterday" or "on 3 Dec"."""
    current = current or today(user)
    if day == current:
        return "today"
    if day == current - timedelta(days=1):
        return "yesterday"
    return f"on {day.day} {day:%b}"
