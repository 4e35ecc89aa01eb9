"""The one definition of "today", "a day", "last night" and "in progress (partial day)".

Every figure on every surface (dashboard cards, goals, care-program scores, insights texts, the
doctor's report, the admin patient page, the API summary and aggregates) takes its days from
here. A day is a calendar day in the person's time zone; HealthTrack keeps every person on UTC
for now (pages say "UTC"), so `zone_of` answers UTC, and a per-person zone is a change here
only.

- **a day**: [00:00, 24:00) in the zone; a sample belongs to the day its `recorded_at` is in.
- **today**: the day containing now. Today is *in progress* (a partial day): its figures are
  shown "so far" and never scored, averaged or judged as a finished day.
- **last night**: the sleep recorded from noon of the day before until noon of the day
  (`NIGHT_STARTS_BEFORE_MIDNIGHT`), keyed by the morning it ended; "last night" is today's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from django.utils import timezone

# A night's sleep starts the evening before: from noon, so an afternoon nap counts toward the
# night that follows it.
NIGHT_STARTS_BEFORE_MIDNIGHT = timedelta(hours=12)


def zone_of(user=None) -> tzinfo:
    """The time zone a person's days are counted in (UTC for everyone for now)."""
    return UTC


def today(user=None, *, now: datetime | None = None) -> date:
    """The day in progress for `user`."""
    return (now or timezone.now()).astimezone(zone_of(user)).date()


def day_of(moment: datetime, user=None) -> date:
    """The day `moment` belongs to."""
    return moment.astimezone(zone_of(user)).date()


def day_start(day: date, user=None) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone_of(user))


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


def finished_days(first: date, last: date, user=None) -> tuple[date, date] | None:
    """first..last without today or later: the days that can be scored (None if none)."""
    last = min(last, today(user) - timedelta(days=1))
    return (first, last) if first <= last else None


def day_label(day: date, current: date | None = None) -> str:
    """ "today", "yesterday" or "on 3 Dec"."""
    current = current or today()
    if day == current:
        return "today"
    if day == current - timedelta(days=1):
        return "yesterday"
    return f"on {day.day} {day:%b}"
