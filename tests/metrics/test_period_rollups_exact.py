"""A week's and a month's figures are exactly (to the last bit) what `period_rollups._compute`
makes of the daily rollups, for each aggregation, whichever way they are written (one SQL
statement on PostgreSQL); a period whose days are gone loses its row, and a period row cut in
another zone sends the type to a recut."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from metrics import period_rollups
from metrics.models import DailyRollup, PeriodRollup
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

FIRST = date(2026, 1, 26)  # a Monday; the days run into February and March


def days_of(user, code: str, n: int, seed: int) -> list[DailyRollup]:
    rng = random.Random(seed)
    rows = [
        DailyRollup(
            user=user,
            metric_type=code,
            day=FIRST + timedelta(days=d),
            value=rng.uniform(40, 180) / 3,
            min_value=rng.uniform(10, 40) / 7,
            max_value=rng.uniform(180, 250) / 7,
            count=rng.randint(1, 1440),
        )
        for d in range(n)
        if rng.random() < 0.8
    ]
    return DailyRollup.objects.bulk_create(rows)


def expected(user, code: str, tz_name: str) -> dict[tuple[str, date], tuple]:
    days = list(
        DailyRollup.objects.filter(user=user, metric_type=code)
        .order_by("day")
        .values_list("day", "value", "min_value", "max_value", "count")
    )
    dates = [d[0] for d in days]
    out = {}
    for period in period_rollups.PERIODS:
        for start in period_rollups.starts_between(period, dates[0], dates[-1]):
            row = period_rollups._compute(user.pk, code, period, start, tz_name, days, dates)
            if row is not None:
                out[period, start] = (row.value, row.min_value, row.max_value, row.count)
    return out


def stored(user, code: str) -> dict[tuple[str, date], tuple]:
    return {
        (r.period, r.start): (r.value, r.min_value, r.max_value, r.count)
        for r in PeriodRollup.objects.filter(user=user, metric_type=code)
    }


@pytest.mark.parametrize("code", ["steps", "heart_rate", "weight"])  # sum, average, latest
def test_periods_are_exactly_the_computation_from_the_days(code):
    user = UserFactory(time_zone="UTC")
    days_of(user, code, 60, seed=len(code))

    period_rollups.refresh(
        user_id=user.pk, metric_type=code, first=FIRST, last=FIRST + timedelta(days=59)
    )

    assert stored(user, code) == expected(user, code, "UTC")
    assert set(PeriodRollup.objects.values_list("time_zone", flat=True)) == {"UTC"}


def test_a_refresh_rewrites_changed_periods_and_drops_emptied_ones():
    user = UserFactory(time_zone="UTC")
    days_of(user, "heart_rate", 60, seed=1)
    last = FIRST + timedelta(days=59)
    period_rollups.refresh(user_id=user.pk, metric_type="heart_rate", first=FIRST, last=last)
    # The first week's days gone, another day changed.
    DailyRollup.objects.filter(day__lt=FIRST + timedelta(days=7)).delete()
    DailyRollup.objects.filter(day__gte=FIRST + timedelta(days=20)).update(value=77.7)

    period_rollups.refresh(user_id=user.pk, metric_type="heart_rate", first=FIRST, last=last)

    assert stored(user, "heart_rate") == expected(user, "heart_rate", "UTC")
    assert not PeriodRollup.objects.filter(period="week", start=FIRST).exists()


def test_a_period_cut_in_another_zone_sends_the_type_to_a_recut():
    user = UserFactory(time_zone="UTC")
    days_of(user, "steps", 10, seed=3)
    PeriodRollup.objects.create(
        user=user,
        metric_type="steps",
        period="month",
        start=date(2025, 1, 1),
        time_zone="Asia/Kolkata",
        value=1,
        min_value=1,
        max_value=1,
        count=1,
    )

    period_rollups.refresh(
        user_id=user.pk, metric_type="steps", first=FIRST, last=FIRST + timedelta(days=9)
    )

    # Recut from the raw rows (there are none here): every day and period row of the type
    # goes, where a plain refresh would have written the ten days' periods in UTC.
    assert not PeriodRollup.objects.filter(user=user).exists()
    assert not DailyRollup.objects.filter(user=user).exists()
