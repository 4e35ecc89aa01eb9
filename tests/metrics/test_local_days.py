"""Days are the person's local days (`healthtrack.core.days`, `User.time_zone`): the daily rollups
are cut at their midnight, "today" is theirs, and every surface agrees (issue 16)."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from html import unescape

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from goals import services as goal_services
from healthtrack.core import days
from metrics import rollups, services
from metrics.models import DailyRollup, HourlyRollup, PeriodRollup
from tests.accounts.factories import UserFactory
from tests.metrics.factories import DeviceFactory

pytestmark = pytest.mark.django_db

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
KIRITIMATI = zoneinfo.ZoneInfo("Pacific/Kiritimati")


def local(day: date, hh: int, mm: int, tz) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=tz).astimezone(UTC)


def add(user, code, when, value, end=None):
    return services.metric_create(
        user=user, metric_type=code, value=value, recorded_at=when, end_at=end
    )


def page_text(client, url) -> str:
    html = client.get(url).content.decode()
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def daily(user, code="steps") -> dict[date, float]:
    rows = DailyRollup.objects.filter(user=user, metric_type=code)
    return {r.day: r.value for r in rows}


def test_a_reading_at_23_30_in_los_angeles_counts_to_that_local_day_on_every_surface(
    auth_client, user
):
    user.time_zone = "America/Los_Angeles"
    user.save(update_fields=["time_zone"])
    today = days.today(user)
    yesterday = today - timedelta(days=1)
    at = local(yesterday, 23, 30, LA)  # already today in UTC
    assert at.date() == today
    add(user, "steps", at, 4321)
    add(user, "steps", local(yesterday, 9, 0, LA), 1000)

    # The rollup, the API summary and the aggregates (bare dates: local days).
    assert daily(user) == {yesterday: 5321}
    summary = auth_client.get("/api/v1/health-metrics/summary?days=7").json()
    assert summary["metrics"]["steps"]["series"] == [
        {"date": yesterday.isoformat(), "value": 5321, "in_progress": False}
    ]
    rows = auth_client.get(
        "/api/v1/health-metrics/aggregates",
        {"metric_type": "steps", "period": "day", "start": yesterday, "end": today},
    ).json()["results"]
    assert [(r["period_start"], r["value"]) for r in rows] == [
        (local(yesterday, 0, 0, LA).isoformat().replace("+00:00", "Z"), 5321)
    ]
    hours = auth_client.get(
        "/api/v1/health-metrics/aggregates",
        {"metric_type": "steps", "period": "hour", "start": yesterday, "end": yesterday},
    ).json()["results"]
    assert sum(r["value"] for r in hours) == 5321  # the local day's hours, both readings
    week = auth_client.get(
        "/api/v1/health-metrics/aggregates",
        {"metric_type": "steps", "period": "week", "start": yesterday, "end": yesterday},
    ).json()
    assert week["time_zone"] == "America/Los_Angeles"
    assert [r["value"] for r in week["results"]] == [5321]

    # The dashboard: not "today's" steps (it is today in UTC only).
    page = Client()
    page.force_login(user)
    panels = page.get("/dashboard/").context["panels"]
    assert "steps" not in panels.cards

    # Goals: yesterday is a finished local day in the 7-day average.
    goal = goal_services.goal_create(user=user, goal_type="steps", target_value=8000)
    assert goal.current_value == 5321
    assert "Now 5,321 steps (7-day average)" in page_text(page, "/goals/")

    # The doctor's report over that local day.
    report = page.get(
        f"/api/v1/export/report?start={yesterday.isoformat()}&end={yesterday.isoformat()}"
    ).content.decode()
    row = report.split('<tr data-type="steps">')[1].split("</tr>")[0]
    assert '<td class="num">5,321 steps</td>' in row


def test_today_for_a_kiritimati_user_begins_at_their_midnight(auth_client, user):
    user.time_zone = "Pacific/Kiritimati"  # UTC+14
    user.save(update_fields=["time_zone"])
    now = datetime.now(UTC)
    today = now.astimezone(KIRITIMATI).date()
    assert days.today(user) == today and today == now.date() + timedelta(days=1)
    midnight = local(today, 0, 0, KIRITIMATI)
    assert days.day_bounds(today, user)[0] == midnight
    add(user, "steps", midnight - timedelta(minutes=1), 700)  # yesterday, 23:59 there
    add(user, "steps", midnight, 300)  # today's first minute there
    add(user, "steps", midnight + timedelta(minutes=30), 200)

    assert daily(user) == {today - timedelta(days=1): 700, today: 500}
    page = Client()
    page.force_login(user)
    card = page.get("/dashboard/").context["panels"].cards["steps"]
    assert card.value == "500"
    series = auth_client.get("/api/v1/health-metrics/summary?days=1").json()["metrics"]
    assert series["steps"]["series"] == [
        {"date": today.isoformat(), "value": 500, "in_progress": True}
    ]


def test_local_midnight_inside_a_utc_hour_splits_a_summed_sample_between_the_days(user):
    user.time_zone = "Asia/Kolkata"  # UTC+5:30: midnight is 18:30 UTC
    user.save(update_fields=["time_zone"])
    start = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)  # 23:30 local
    add(user, "sleep", start, 60, end=start + timedelta(hours=1))
    add(user, "heart_rate", start + timedelta(minutes=40), 70)  # 00:10 local, 2 March
    assert daily(user, "sleep") == {date(2026, 3, 1): 30, date(2026, 3, 2): 30}
    counts = dict(DailyRollup.objects.filter(metric_type="sleep").values_list("day", "count"))
    assert counts == {date(2026, 3, 1): 1, date(2026, 3, 2): 0}  # counted where it starts
    # The UTC hour keeps the whole sample.
    hours = HourlyRollup.objects.filter(user=user, metric_type="sleep")
    assert [(h.period_start, h.value, h.count) for h in hours] == [(start, 60, 1)]
    assert daily(user, "heart_rate") == {date(2026, 3, 2): 70}
    # The week (Monday 23 February to Sunday 1 March) is its local days: 30 min of sleep.
    weeks = PeriodRollup.objects.filter(user=user, metric_type="sleep", period="week")
    assert {w.start: w.value for w in weeks} == {date(2026, 2, 23): 30, date(2026, 3, 2): 30}


def test_changing_time_zone_recuts_the_rollups_and_is_audit_logged(
    auth_client, user, django_capture_on_commit_callbacks
):
    when = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 1 March, 19:00 in Los Angeles
    add(user, "steps", when, 100)
    add(user, "steps", when + timedelta(hours=10), 50)  # 2 March 05:00 there
    assert daily(user) == {date(2026, 3, 2): 150}

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.patch(
            f"/api/v1/users/{user.pk}", {"time_zone": "America/Los_Angeles"}, format="json"
        )
    assert response.status_code == 200
    assert daily(user) == {date(2026, 3, 1): 100, date(2026, 3, 2): 50}
    # Sunday 1 March there: the week of 23 February.
    weeks = PeriodRollup.objects.filter(user=user, metric_type="steps", period="week")
    assert {(w.start, w.value, w.time_zone) for w in weeks} == {
        (date(2026, 2, 23), 100, "America/Los_Angeles"),
        (date(2026, 3, 2), 50, "America/Los_Angeles"),
    }
    entry = LogEntry.objects.get_for_object(user).filter(action=LogEntry.Action.UPDATE).first()
    assert entry.changes_dict["time_zone"] == ["UTC", "America/Los_Angeles"]

    # The recut is idempotent: again, nothing changes.
    before = sorted(DailyRollup.objects.filter(user=user).values_list("day", "value", "count"))
    services.rollups_recut(user_id=user.pk)
    after = sorted(DailyRollup.objects.filter(user=user).values_list("day", "value", "count"))
    assert after == before


def test_a_profile_change_that_keeps_the_zone_does_not_recut(
    auth_client, user, django_capture_on_commit_callbacks
):
    add(user, "steps", datetime(2026, 3, 2, 3, 0, tzinfo=UTC), 100)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = auth_client.patch(
            f"/api/v1/users/{user.pk}", {"height_cm": 170, "time_zone": "UTC"}, format="json"
        )
    assert response.status_code == 200
    assert not any("time_zone" in repr(c) for c in callbacks)
    # Saved without the API (no signal): the first read of weeks recuts days and periods.
    user.time_zone = "America/Los_Angeles"
    user.save(update_fields=["time_zone"])
    body = auth_client.get(
        "/api/v1/health-metrics/aggregates",
        {"metric_type": "steps", "period": "week", "start": "2026-02-23", "end": "2026-03-08"},
    ).json()
    assert [r["period_start"] for r in body["results"]] == ["2026-02-23T00:00:00-08:00"]
    assert daily(user) == {date(2026, 3, 1): 100}


def test_a_write_reads_the_owners_zone_once_whatever_it_touches(user):
    user.time_zone = "Asia/Kolkata"
    user.save(update_fields=["time_zone"])
    at = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)
    samples = [
        {"metric_type": code, "value": value, "recorded_at": (at + timedelta(hours=h)).isoformat()}
        for h in range(3)
        for code, value in (("steps", 100), ("heart_rate", 70), ("weight", 70.5))
    ]
    device = DeviceFactory(user=user)
    with CaptureQueriesContext(connection) as queries:
        services.device_sync(user=user, device=device, samples=samples, idempotency_key=None)
    zone_reads = [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "accounts_user"' in q["sql"] and '"time_zone"' in q["sql"]
    ]
    assert len(zone_reads) == 1
    assert daily(user, "steps") == {date(2026, 3, 1): 100, date(2026, 3, 2): 200}


def test_recompute_all_equals_what_the_writes_maintained_in_a_half_hour_zone():
    user = UserFactory(time_zone="Asia/Kolkata")
    base = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
    for n in range(30):
        start = base + timedelta(minutes=37 * n)
        add(user, "steps", start, 10 + n, end=start + timedelta(minutes=50))
        add(user, "heart_rate", start, 60 + n)
    before = {code: daily(user, code) for code in ("steps", "heart_rate")}
    rollups.recompute_all(user_id=user.pk)
    assert {code: daily(user, code) for code in ("steps", "heart_rate")} == before


def test_the_recut_command_recuts_everyone_not_on_utc():
    from django.core.management import call_command

    zoned, on_utc = UserFactory(), UserFactory()
    when = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 1 March, 19:00 in Los Angeles
    for person in (zoned, on_utc):
        add(person, "steps", when, 100)
    # Days cut in UTC before the person had a zone of their own (an upgrade from UTC days).
    type(zoned).objects.filter(pk=zoned.pk).update(time_zone="America/Los_Angeles")
    PeriodRollup.objects.filter(user=zoned).update(time_zone="America/Los_Angeles")
    call_command("recut_rollups", "--zoned")
    assert daily(zoned) == {date(2026, 3, 1): 100}
    assert daily(on_utc) == {date(2026, 3, 2): 100}


def test_the_share_form_offers_and_ends_on_the_owners_days():
    """At 21:00 UTC it is already tomorrow in Kiritimati (UTC+14): the share form's default
    window ends on their today, and "access ends on" a day means their midnight, not UTC's."""
    from metrics.forms import ShareGrantForm

    owner = UserFactory(time_zone="Pacific/Kiritimati")
    tz = zoneinfo.ZoneInfo("Pacific/Kiritimati")
    their_today = days.today(owner)
    assert their_today == datetime.now(UTC).astimezone(tz).date()
    form = ShareGrantForm(prefix="share", owner=owner)
    assert form.initial["date_to"] == their_today
    assert form.initial["expires_on"] == their_today + timedelta(days=14)

    ends = their_today + timedelta(days=3)
    data = {
        "share-metric_types": ["steps"],
        "share-date_from": (their_today - timedelta(days=7)).isoformat(),
        "share-date_to": their_today.isoformat(),
        "share-expires_on": ends.isoformat(),
    }
    form = ShareGrantForm(data, prefix="share", owner=owner)
    assert form.is_valid(), form.errors
    assert form.expires_at() == datetime.combine(ends, time.min, tzinfo=tz)
    assert form.expires_at().astimezone(UTC).date() == ends - timedelta(days=1)
