"""Presentation fixes of issue 16 in a real browser, at desktop and phone widths: "an active
energy reading", the "Your data" sidebar item not clipped, the member switcher styled like the
design's inputs, a member's empty state that does not contradict their chart, blood pressure
stated as 128/82, and chart axes spanning a clinically meaningful range."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from metrics.services import device_create, device_sync, metric_create
from tests.accounts.factories import PASSWORD, UserFactory
from tests.accounts.family_factories import make_dependent
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium, pytest.mark.django_db(transaction=True)]


def log_in(tab, username: str) -> None:
    tab.goto("/accounts/login/")
    tab.get_by_label("Username or e-mail").fill(username)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    expect(tab).to_have_url(re.compile(r"/dashboard/$"))


def at(days_back: int, hour: int = 9) -> datetime:
    day = timezone.now().astimezone(UTC).date() - timedelta(days=days_back)
    return datetime.combine(day, time(hour), tzinfo=UTC)


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_wording_sidebar_switcher_and_member_empty_state(request, device):
    user = UserFactory()
    child = make_dependent(user, first_name="Ada")
    for n in range(1, 7):
        metric_create(user=child, metric_type="steps", value=3000 + n, recorded_at=at(n))
    for n, (systolic, diastolic) in enumerate(((128, 82), (131, 84)), start=1):
        for code, value in (
            ("blood_pressure_systolic", systolic),
            ("blood_pressure_diastolic", diastolic),
        ):
            metric_create(user=user, metric_type=code, value=value, recorded_at=at(n))
    for n, value in enumerate((36.4, 36.8, 36.6), start=1):
        metric_create(user=user, metric_type="body_temperature", value=value, recorded_at=at(n))
    page = request.getfixturevalue(device)
    tab = page.tab
    log_in(tab, user.username)

    # Grammar: "an active energy reading", "an oxygen saturation reading".
    tab.goto("/metrics/active_energy/add/")
    expect(tab.get_by_role("heading", level=1)).to_have_text("Add an active energy reading")
    tab.goto("/metrics/oxygen_saturation/add/")
    expect(tab.get_by_role("heading", level=1)).to_have_text("Add an oxygen saturation reading")

    # The settings sidebar: "Your data" is shown whole, never clipped.
    tab.goto("/settings/devices/")
    item = tab.get_by_role("link", name="Your data: export, import")
    expect(item).to_be_visible()
    clipped = item.evaluate(
        "el => el.scrollWidth > el.clientWidth + 1 || "
        "el.getBoundingClientRect().right > el.closest('nav').getBoundingClientRect().right + 1"
    )
    assert not clipped, f"the 'Your data' item is clipped on {device}"
    assert page.fits_the_screen()
    page.screenshot("settings-sidebar")

    # The member switcher is styled like the design's inputs, not the native select.
    tab.goto("/dashboard/")
    switcher = tab.get_by_label("Showing")
    style = switcher.evaluate(
        "el => { const s = getComputedStyle(el); return {appearance: s.appearance, "
        "radius: parseFloat(s.borderTopLeftRadius), height: el.getBoundingClientRect().height}; }"
    )
    assert style["appearance"] == "none" and style["radius"] > 0 and style["height"] >= 38

    # Blood pressure reads 128/82 on its chart summary, like everywhere else.
    expect(tab.locator("figure, .chart").filter(has_text="Blood pressure").first).to_contain_text(
        "128/82 mmHg"
    )

    # Temperature 36.4-36.8 °C is drawn on an axis at least 2 °C wide.
    tab.goto("/metrics/body_temperature/?days=7")
    ticks = [
        float(t.replace(",", ""))
        for t in tab.locator("svg.chart-svg .chart-tick-y").evaluate_all(
            "els => els.map(e => e.textContent)"
        )
    ]
    assert ticks and max(ticks) - min(ticks) >= 2

    # A member with six days of steps and nothing today: no "No readings yet" over the chart.
    switcher_page = f"/dashboard/?member={child.pk}"
    tab.goto(switcher_page)
    expect(tab.get_by_text("Nothing recorded today yet")).to_be_visible()
    expect(tab.get_by_text("No readings yet")).to_have_count(0)
    assert page.fits_the_screen()
    page.screenshot("member-empty-state")
    assert page.problems == []


def bp_readings(user, days: int) -> None:
    """Two blood-pressure readings a day (morning and evening) on the `days` days before
    today, from a cuff."""
    cuff = device_create(
        user=user, device_type="third_party_wearable", name="Cuff", identifier=f"cuff-{user.pk}"
    )
    samples = []
    for n in range(1, days + 1):
        for hour, (systolic, diastolic) in ((7, (118 + n % 9, 76 + n % 5)), (20, (131, 84))):
            when = at(n, hour).isoformat()
            samples += [
                {"metric_type": "blood_pressure_systolic", "value": systolic, "recorded_at": when},
                {
                    "metric_type": "blood_pressure_diastolic",
                    "value": diastolic,
                    "recorded_at": when,
                },
            ]
    device_sync(user=user, device=cuff, samples=samples, idempotency_key=None)


def bands_of(chart) -> dict:
    """What a blood-pressure chart draws: its band rectangles per half, the mean lines'
    points, the old per-day range lines, and the narrowest band's on-screen width."""
    return chart.evaluate(
        """fig => {
          const svg = fig.querySelector('svg.chart-svg');
          const rects = [...svg.querySelectorAll('rect.chart-band')];
          const points = [...svg.querySelectorAll('polyline.chart-line')]
            .map(l => l.getAttribute('points').trim().split(/\\s+/).length);
          return {
            systolic: svg.querySelectorAll('rect.chart-band-systolic').length,
            diastolic: svg.querySelectorAll('rect.chart-band-diastolic').length,
            line_points: Math.max(0, ...points),
            ranges: svg.querySelectorAll('.chart-range').length,
            narrowest: Math.min(...rects.map(r => r.getBoundingClientRect().width)),
            title: fig.querySelector('.chart-title').textContent,
          };
        }"""
    )


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_long_blood_pressure_periods_are_drawn_as_bands_not_a_barcode(request, device):
    """Issue 16: "The 90-day blood-pressure chart is an unreadable barcode". Past a month the
    metric page and the dashboard draw a band per week (the range of its readings), a month a
    band per day; never one thin line per day."""
    user = UserFactory()
    bp_readings(user, 90)
    page = request.getfixturevalue(device)
    tab = page.tab
    log_in(tab, user.username)

    tab.goto("/metrics/blood_pressure/?days=90")
    chart = tab.locator("figure.chart-type-bp-band")
    expect(chart).to_be_visible()
    drawn = bands_of(chart)
    # The 90 days to today: 13 weeks counted back from today (the first one 6 days), each
    # one band per half.
    assert (drawn["systolic"], drawn["diastolic"], drawn["ranges"]) == (13, 13, 0)
    assert drawn["line_points"] <= 13 and drawn["title"] == "Blood pressure, weekly range"
    assert drawn["narrowest"] >= (4 if device == "phone" else 8)
    expect(chart.locator(".chart-summary")).to_contain_text("13 weeks with data")
    expect(chart.locator(".chart-summary")).to_contain_text("Latest weekly mean")
    expect(chart.locator(".chart-summary")).to_contain_text("Highest systolic: 131 mmHg")
    # The period's figures state the readings' highest, like the chart beside them.
    figures = tab.locator(".card").filter(has_text="This period")
    expect(figures.locator("div").filter(has_text="Highest systolic")).to_contain_text("131 mmHg")
    assert page.fits_the_screen()
    page.screenshot("bp-90-days")

    tab.goto("/metrics/blood_pressure/?days=30")
    drawn = bands_of(tab.locator("figure.chart-type-bp-band"))
    assert (drawn["systolic"], drawn["diastolic"], drawn["ranges"]) == (29, 29, 0)  # not today
    assert drawn["title"] == "Blood pressure, daily range"
    assert drawn["narrowest"] >= (2 if device == "phone" else 4)
    page.screenshot("bp-30-days")

    # The dashboard's blood-pressure chart over 90 days: the same weekly bands.
    tab.goto("/dashboard/?days=90")
    chart = tab.locator("figure.chart-type-bp-band")
    expect(chart).to_be_visible()
    drawn = bands_of(chart)
    assert (drawn["systolic"], drawn["diastolic"], drawn["ranges"]) == (13, 13, 0)
    expect(tab.locator(".card").filter(has_text="Latest blood pressure")).to_contain_text("131/84")
    assert page.fits_the_screen()
    page.screenshot("dashboard-bp-90-days")
    assert page.problems == []
