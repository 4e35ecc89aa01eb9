"""Property (issue 16): whatever a person records, across time zones and day boundaries,
every surface states the same numbers with one rounding rule (`metrics.figures`):
the API summary and nutrition daily totals, the dashboard cards and goal card, the Goals page,
the doctor's report, the admin patient page and the FHIR export.

The person lives in one of several time zones (UTC, America/Los_Angeles, Asia/Kolkata with
its half-hour offset, Pacific/Kiritimati at UTC+14): a day is their local day
(`healthtrack.core.days`). Readings are generated as instants on their last 7 local days, often at
the edges of a local day or around UTC midnight inside it, and sent with random UTC offsets;
the expected figures are computed here, independently (zoneinfo, not `healthtrack.core.days`), from
the generated readings. Bounded to run in seconds (`max_examples`)."""

from __future__ import annotations

import json
import re
import zoneinfo
from datetime import UTC, datetime, time, timedelta, timezone
from html import unescape

import pytest
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from goals import services as goal_services
from goals.care_programs.models import ProgramAdherence
from goals.models import HealthGoal
from goals.progress import so_far_percent
from healthtrack.core import days
from metrics import services
from metrics.figures import formatted, round_half_up, stated
from metrics.models import DailyRollup, HealthMetric, HourlyRollup, PeriodRollup
from nutrition.models import NutritionLog
from nutrition.services import nutrition_log_create
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

ZONES = ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Kiritimati"]
# The minute of the local day; UTC_MIDNIGHT / BEFORE_UTC_MIDNIGHT: the UTC midnight inside that
# local day (or the minute before it), wherever it falls.
UTC_MIDNIGHT, BEFORE_UTC_MIDNIGHT = -1, -2
minute_of_day = st.one_of(
    st.integers(0, 24 * 60 - 1),
    st.sampled_from([0, 1, 23 * 60 + 30, 24 * 60 - 1, UTC_MIDNIGHT, BEFORE_UTC_MIDNIGHT]),
)
# (local days back 0-5, minute of that local day, UTC offset in hours it is sent with)
instant = st.tuples(st.integers(0, 5), minute_of_day, st.integers(-12, 14))
steps_readings = st.lists(
    st.tuples(instant, st.integers(0, 25_000)), max_size=6, unique_by=lambda r: r[0][:2]
)
weight_readings = st.lists(
    st.tuples(instant, st.integers(450, 1300)),  # tenths of a kg
    max_size=3,
    unique_by=lambda r: r[0][:2],
)
steps_goal = st.one_of(st.none(), st.integers(1000, 20_000))
water_entries = st.lists(st.tuples(instant, st.integers(50, 1500)), max_size=4)


def local_today(zone: str) -> datetime:
    return datetime.now(UTC).astimezone(zoneinfo.ZoneInfo(zone)).date()


def local_day(at: datetime, zone: str):
    return at.astimezone(zoneinfo.ZoneInfo(zone)).date()


def moment(zone: str, days_back: int, minute: int) -> datetime:
    """An instant on the person's local day `days_back` before today; one not yet reached
    (later today) moves a day back (the API refuses readings from the future)."""
    tz = zoneinfo.ZoneInfo(zone)
    day = local_today(zone) - timedelta(days=days_back)
    start = datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    if minute < 0:
        midnight = datetime.combine(start.date(), time(), tzinfo=UTC)
        if midnight < start:
            midnight += timedelta(days=1)
        at = midnight - timedelta(minutes=1 if minute == BEFORE_UTC_MIDNIGHT else 0)
        at = min(max(at, start), end - timedelta(minutes=1))
    else:
        at = start + timedelta(minutes=minute)
    if at > datetime.now(UTC):
        at -= timedelta(days=1)
    return at


def newest(readings: list[tuple[datetime, float]]) -> float:
    """The value of the newest reading, as `metrics.latest` defines it: the latest instant,
    then the one stored last (two draws can land on the same instant)."""
    return max(enumerate(readings), key=lambda item: (item[1][0], item[0]))[1][1]


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def surfaces(user):
    page = Client()
    page.force_login(user)
    api = APIClient()
    api.force_authenticate(user)
    admin = Client()
    admin.force_login(UserFactory(is_staff=True, is_superuser=True))
    return page, api, admin


@settings(
    max_examples=12,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zone=st.sampled_from(ZONES),
    steps=steps_readings,
    weights=weight_readings,
    goal_target=steps_goal,
    water=water_entries,
)
# Two weights on the same instant (at 21:00 UTC, Kolkata's "the minute before UTC midnight"
# today is later than now and moves back onto yesterday's): the latest is the one stored last.
@example(
    zone="Asia/Kolkata",
    steps=[],
    weights=[((0, BEFORE_UTC_MIDNIGHT, -2), 669), ((1, BEFORE_UTC_MIDNIGHT, 5), 468)],
    goal_target=None,
    water=[],
)
def test_every_surface_states_the_same_numbers(
    user, surfaces, zone, steps, weights, goal_target, water
):
    page, api, admin = surfaces
    for model in (HealthMetric, HourlyRollup, DailyRollup, PeriodRollup, HealthGoal, NutritionLog):
        model.objects.filter(user=user).delete()
    ProgramAdherence.objects.filter(program__user=user).delete()
    user.time_zone = zone
    user.save(update_fields=["time_zone"])
    cache.clear()

    today = local_today(zone)
    assert days.today(user) == today
    per_day: dict = {}
    for (back, minute, offset), value in steps:
        at = moment(zone, back, minute)
        services.metric_create(
            user=user,
            metric_type="steps",
            value=value,
            recorded_at=at.astimezone(timezone(timedelta(hours=offset))).isoformat(),
        )
        day = local_day(at, zone)
        per_day[day] = per_day.get(day, 0) + value
    weighed = []
    for (back, minute, offset), tenths in weights:
        at = moment(zone, back, minute)
        services.metric_create(
            user=user,
            metric_type="weight",
            value=tenths / 10,
            recorded_at=at.astimezone(timezone(timedelta(hours=offset))).isoformat(),
        )
        weighed.append((at, tenths / 10))
    drunk: dict = {}
    for (back, minute, offset), ml in water:
        at = moment(zone, back, minute)
        nutrition_log_create(
            user=user,
            meal_type="snack",
            logged_at=at.astimezone(timezone(timedelta(hours=offset))),
            water_ml=ml,
        )
        day = local_day(at, zone)
        drunk[day] = drunk.get(day, 0) + ml
    if goal_target is not None:
        goal_services.goal_create(user=user, goal_type="steps", target_value=goal_target)
    latest_weight = newest(weighed) if weighed else None
    finished = {day: v for day, v in per_day.items() if day < today}

    # API summary: each day's steps, whole; the latest weight.
    summary = api.get("/api/v1/health-metrics/summary?days=7").json()["metrics"]
    if per_day:
        series = {p["date"]: p["value"] for p in summary["steps"]["series"]}
        assert series == {day.isoformat(): float(v) for day, v in per_day.items()}
        # The 7-day average is the Goals page's (finished days only; today is so far).
        average = sum(finished.values()) / len(finished) if finished else None
        assert summary["steps"]["average"] == (round_half_up(average, 0) if finished else None)
        today_so_far = summary["steps"]["today"]
        assert (today_so_far or {}).get("value") == per_day.get(today)
    if latest_weight is not None:
        assert summary["weight"]["latest"]["value"] == latest_weight

    # API aggregates: bare dates are the person's local days, each day's steps the same.
    start = today - timedelta(days=6)
    rows = api.get(
        "/api/v1/health-metrics/aggregates",
        {"metric_type": "steps", "period": "day", "start": start, "end": today},
    ).json()["results"]
    tz = zoneinfo.ZoneInfo(zone)
    assert {
        datetime.fromisoformat(r["period_start"]).astimezone(tz).date(): r["value"] for r in rows
    } == {day: float(v) for day, v in per_day.items()}

    # Dashboard: today's steps card (and its share of the goal), the latest weight card.
    panels = page.get("/dashboard/").context["panels"]
    if today in per_day:
        card = panels.cards["steps"]
        assert card.value == formatted("steps", per_day[today])
        if goal_target is not None:
            expected = so_far_percent(
                today_value=per_day[today], direction="at_least", target=goal_target
            )
            assert card.progress_percent == expected
            [goal_item] = panels.goals
            assert f"{stated('steps', per_day[today])} so far today" in goal_item.text
    else:
        assert "steps" not in panels.cards
    if latest_weight is not None:
        assert panels.cards["weight"].value == formatted("weight", latest_weight)
    if today in drunk:
        assert panels.cards["water"].value == f"{drunk[today]:,}"
    else:
        assert "water" not in panels.cards

    # The nutrition API's daily totals: the same days, the same sums.
    start = today - timedelta(days=6)
    daily = api.get(
        f"/api/v1/nutrition-logs/daily?start={start.isoformat()}&end={today.isoformat()}"
    ).json()["days"]
    assert {d["date"]: d["water_ml"] for d in daily if d["water_ml"]} == {
        day.isoformat(): ml for day, ml in drunk.items()
    }

    # Goals page: the same "so far" figure and the same 7-day average of finished days.
    if goal_target is not None:
        body = text_of(page.get("/goals/").content.decode())
        if finished:
            average = sum(finished.values()) / len(finished)
            assert f"Now {stated('steps', round_half_up(average, 2))} (7-day average)" in body
        if today in per_day:
            so_far = stated("steps", per_day[today])
            if finished:  # judged on finished days; today beside it, "so far"
                assert f"{so_far} so far today" in body
            else:  # nothing to judge yet: today so far is the progress shown
                percent = so_far_percent(
                    today_value=per_day[today], direction="at_least", target=goal_target
                )
                assert f"{percent}% so far today ({so_far})" in body

    # The doctor's report over the same 7 days: finished days only, the same rounding.
    report = page.get(
        f"/api/v1/export/report?start={start.isoformat()}&end={today.isoformat()}"
    ).content.decode()
    if finished:
        row = report.split('<tr data-type="steps">')[1].split("</tr>")[0]
        average = sum(finished.values()) / len(finished)
        assert f">{stated('steps', average)}<" in row
    else:
        assert '<tr data-type="steps">' not in report
    finished_water = [ml for day, ml in drunk.items() if day < today]
    if finished_water:
        cells = report.split("<h2>Nutrition</h2>")[1].split("</tr></tbody>")[0]
        average = round_half_up(sum(finished_water) / len(finished_water), 0)
        assert f'<td class="num">{average:,.0f}</td>' in cells
    else:
        assert "No diary entries in this period." in report
    weighed_before_today = [w for w in weighed if local_day(w[0], zone) < today]
    if weighed_before_today:
        row = report.split('<tr data-type="weight">')[1].split("</tr>")[0]
        assert f">{stated('weight', newest(weighed_before_today))}<" in row

    # Admin patient page: the latest weight reading, stated the same way.
    if latest_weight is not None:
        body = text_of(admin.get(f"/admin/patients/{user.pk}/").content.decode())
        assert f"{formatted('weight', latest_weight)} kg" in body

    # FHIR export: the latest weight observation carries the same value.
    if latest_weight is not None:
        response = api.get("/api/v1/export?format=fhir")
        bundle = json.loads(b"".join(response.streaming_content))
        weights_out = [
            (e["resource"]["effectiveDateTime"], e["resource"]["valueQuantity"]["value"])
            for e in bundle["entry"]
            if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "29463-7"
        ]
        # In (recorded_at, id) order: the newest is the last of the latest instant.
        exported = newest([(datetime.fromisoformat(at), value) for at, value in weights_out])
        assert formatted("weight", exported) == panels.cards["weight"].value
