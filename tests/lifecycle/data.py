"""Samples written through the metrics services (so with their rollups)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from metrics import services as metric_services
from metrics.models import DailyRollup, HourlyRollup


def month_of_samples(user, year: int, month: int, *, days: int = 3, device=None) -> list:
    """Steps every 6 hours and a heart rate with a note each day, from the 2nd."""
    made = []
    for day in range(days):
        base = datetime(year, month, 2 + day, 1, tzinfo=UTC)
        for hour in range(0, 24, 6):
            made.append(
                metric_services.metric_create(
                    user=user,
                    metric_type="steps",
                    value=500 + day * 10 + hour,
                    unit="count",
                    recorded_at=base + timedelta(hours=hour),
                    end_at=base + timedelta(hours=hour, minutes=30),
                    device=device,
                    source_app="tests",
                )
            )
        made.append(
            metric_services.metric_create(
                user=user,
                metric_type="heart_rate",
                value=60 + day,
                unit="bpm",
                recorded_at=base,
                source_app="tests",
                notes=f"felt dizzy on day {day}",
                metadata={"position": "sitting"},
            )
        )
    return made


def rollup_snapshot(user) -> tuple[list, list]:
    fields = ["metric_type", "value", "min_value", "max_value", "count"]
    hourly = list(
        HourlyRollup.objects.filter(user=user)
        .order_by("metric_type", "period_start")
        .values_list("period_start", *fields)
    )
    daily = list(
        DailyRollup.objects.filter(user=user)
        .order_by("metric_type", "day")
        .values_list("day", *fields)
    )
    return hourly, daily


def months_ago(n: int, now: datetime | None = None) -> tuple[int, int]:
    now = now or datetime.now(UTC)
    index = now.year * 12 + now.month - 1 - n
    return index // 12, index % 12 + 1
