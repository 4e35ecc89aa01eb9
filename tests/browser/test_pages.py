"""The patient's pages in a real browser: the journey of issue 6 (sign up → readings → the
dashboard's charts → a goal's progress bar → a recommendation acknowledged → a meal from the
catalogue → export → quick log with advice), the catalogue
search without JavaScript, and every main page filled with data on a desktop and a phone
(screenshots in tests/screenshots/)."""

from __future__ import annotations

import re
from datetime import UTC, date, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.demo import DEMO_PASSWORD, seed_demo
from accounts.models import User
from insights.cache import release_debounce
from insights.models import HealthInsight
from insights.rules import Recommendation
from insights.services import insights_replace_generated
from metrics.models import HealthMetric
from nutrition.catalogue import load_foods
from nutrition.models import Food, NutritionLog
from tests.accounts.factories import PASSWORD, UserFactory
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def food_catalogue(db):
    """The catalogue a migration loads: transactional tests empty every table after each
    test, so it is loaded again (matched by name: a no-op when present)."""
    load_foods(Food)


NEW_PASSWORD = "Journey-pass-1!"


def log_in(tab, username: str, password: str) -> None:
    tab.goto("/accounts/login/")
    tab.get_by_label("Username or e-mail").fill(username)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Log in").click()
    expect(tab).to_have_url(re.compile(r"/dashboard/$"))


def today() -> date:
    return timezone.now().astimezone(UTC).date()


def yesterday() -> date:
    return today() - timedelta(days=1)


def day_label(day: date) -> str:
    return f"{day.day} {day:%b}"


def test_the_patient_journey(desktop):
    tab = desktop.tab
    # Sign up
    tab.goto("/accounts/signup/")
    tab.get_by_label("Username").fill("jo")
    tab.get_by_label("E-mail").fill("jo@example.org")
    tab.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    tab.get_by_label("Password again").fill(NEW_PASSWORD)
    tab.get_by_role("button", name="Create account").click()
    expect(tab).to_have_url(re.compile(r"/accounts/signup/sent/$"))  # then log in
    tab.goto("/accounts/login/")
    tab.get_by_label("Username or e-mail").fill("jo")
    tab.get_by_label("Password").fill(NEW_PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    expect(tab).to_have_url(re.compile(r"/dashboard/$"))
    expect(tab.get_by_text("No charts yet")).to_be_visible()
    user = User.objects.get(username="jo")

    # The height in the profile (for the BMI), then a weight reading of yesterday: first
    # refused (the API's rule, the input kept), then in pounds
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    tab.get_by_label("Height (cm)").fill("170")
    tab.get_by_role("button", name="Save profile").click()
    expect(tab.get_by_text("Your profile is saved")).to_be_visible()
    # The profile change ran the recommendations (eagerly) and holds the debounce window;
    # the weight below should run them again at once, as it would after the window.
    release_debounce(user.pk)
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Metrics").click()
    tab.get_by_role("link", name="Add a weight reading").click()
    tab.get_by_label("Date and time (UTC)").fill(f"{yesterday().isoformat()}T08:00")
    tab.get_by_label("Weight").fill("2000")
    tab.get_by_role("button", name="Add reading").click()
    expect(tab.locator("#id_value_error")).to_contain_text("Outside the plausible range")
    expect(tab.get_by_label("Weight")).to_have_value("2000")
    desktop.screenshot("journey-01-weight-error")
    desktop.forget_refusals()  # the implausible weight is refused with a 400, on purpose
    tab.get_by_label("Weight").fill("165")
    tab.get_by_label("Unit").select_option("lb")
    tab.get_by_role("button", name="Add reading").click()
    expect(tab.get_by_text("Weight reading added.")).to_be_visible()
    expect(tab.get_by_role("cell", name="74.8")).to_be_visible()  # stored in kg

    # A steps reading
    tab.get_by_role("link", name="Metrics").first.click()
    tab.get_by_role("link", name="Add a steps reading").click()
    tab.get_by_label("Steps").fill("6543")
    tab.get_by_role("button", name="Add reading").click()
    expect(tab.get_by_text("Steps reading added.")).to_be_visible()
    assert HealthMetric.objects.filter(user=user).count() == 2

    # Both on the dashboard's charts (and cards)
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    steps_chart = tab.get_by_role("img", name="Steps")
    weight_chart = tab.get_by_role("img", name="Weight")
    expect(steps_chart).to_be_visible()
    expect(weight_chart).to_be_visible()
    expect(
        steps_chart.locator("title", has_text=f"{day_label(today())}: 6,543 steps")
    ).to_have_count(1)
    expect(
        weight_chart.locator("title", has_text=f"{day_label(yesterday())}: 74.8 kg")
    ).to_have_count(1)
    expect(tab.locator('[data-card="steps"]')).to_contain_text("6,543")
    expect(tab.locator('[data-card="weight"]')).to_contain_text("74.8")
    expect(tab.locator('[data-card="weight"]')).to_contain_text("Weighed yesterday")
    desktop.screenshot("journey-02-dashboard-readings")

    # A goal, and its progress bar (on the goals page and the dashboard)
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Goals").click()
    expect(tab.get_by_text("No goals yet")).to_be_visible()
    tab.get_by_role("link", name="New goal").click()
    tab.get_by_role("link", name="Steps", exact=True).click()
    tab.get_by_label("Target").fill("8000")
    tab.get_by_role("button", name="Set goal").click()
    expect(tab.get_by_text("Goal “Steps at least 8,000 a day” set.")).to_be_visible()
    goal_bar = tab.get_by_role("progressbar", name=re.compile("Steps at least 8,000 a day"))
    expect(goal_bar).to_be_visible()
    desktop.screenshot("journey-03-goal")
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    goals = tab.get_by_role("region", name="Goals")
    expect(
        goals.get_by_role("progressbar", name=re.compile("Steps at least 8,000"))
    ).to_be_visible()
    expect(tab.locator('[data-card="steps"]')).to_contain_text("of your 8,000 a day goal")
    expect(tab.get_by_role("progressbar", name=re.compile("Steps today: 82%"))).to_be_visible()

    # A recommendation worked out by the insights pipeline from the height and the weight
    # (BMI 25.9), with its reasoning, acknowledged from the dashboard
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    recommendations = tab.get_by_role("region", name="Recommendations")
    expect(recommendations).to_contain_text("Work towards a healthy weight")
    expect(recommendations).to_contain_text("BMI of 25.9")
    desktop.screenshot("journey-04-recommendation")
    recommendations.get_by_role("button", name=re.compile("Got it.*healthy weight")).click()
    expect(tab.get_by_text("Acknowledged: “Work towards a healthy weight”")).to_be_visible()
    expect(recommendations).not_to_contain_text("Work towards a healthy weight")
    rec = HealthInsight.objects.get(user=user, insight_type="weight_management")
    assert rec.acknowledged_at is not None
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Insights").click()
    expect(
        tab.get_by_role("listitem").filter(has_text="Work towards a healthy weight")
    ).to_contain_text("Acknowledged")

    # A meal from the catalogue, found as you type
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Nutrition").click()
    expect(tab.get_by_text("Nothing logged on this day")).to_be_visible()
    tab.get_by_role("link", name="Add food or drink").first.click()
    tab.get_by_label("Food name").press_sequentially("banan", delay=30)
    result = tab.get_by_role("link", name=re.compile(r"^Banana, raw"))
    expect(result).to_be_visible()  # drawn by food-search.js, no submit
    expect(tab.locator("#food-search-status")).to_contain_text("found")
    desktop.screenshot("journey-05-food-search")
    result.click()
    tab.get_by_label("Meal").select_option("snack")
    tab.get_by_label("Portion (g)").fill("120")
    tab.get_by_role("button", name="Add to diary").click()
    expect(tab.get_by_text("Banana, raw added to your diary.")).to_be_visible()
    expect(tab.get_by_role("region", name="Snack")).to_contain_text("107 kcal")
    log = NutritionLog.objects.get(user=user)
    assert (log.food.name, log.grams, log.calories) == ("Banana, raw", 120, 106.8)
    desktop.screenshot("journey-06-diary")

    # Export: the JSON download holds the readings and the meal
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    tab.get_by_role("link", name="Your data: export, import").click()
    with tab.expect_download() as download_info:
        tab.get_by_role("link", name="JSON", exact=True).click()
    download = download_info.value
    assert download.suggested_filename.startswith("healthtrack-export-")
    exported = Path(download.path()).read_text()
    assert '"weight"' in exported and '"steps"' in exported and "Banana, raw" in exported
    desktop.screenshot("journey-07-your-data")

    # Water from the dashboard's quick log
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    tab.get_by_role("button", name="+250 ml of water").click()
    expect(tab.get_by_text("250 ml of water logged.")).to_be_visible()
    expect(tab.locator(".message-advice")).to_contain_text("Advice:")
    desktop.screenshot("journey-08-quick-log-advice")
    expect(tab.locator('[data-card="water"]')).to_contain_text("250")
    assert desktop.problems == []


def test_the_catalogue_search_works_without_javascript(browser, live_server):
    user = UserFactory()
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    tab = context.new_page()
    log_in(tab, user.username, PASSWORD)
    tab.goto("/nutrition/")
    tab.get_by_role("link", name="Add food or drink").first.click()
    tab.get_by_label("Food name").fill("oats")
    tab.get_by_role("button", name="Search").click()
    expect(tab).to_have_url(re.compile(r"/add/\?q=oats$"))
    tab.get_by_role("link", name=re.compile(r"^Oats")).first.click()
    tab.get_by_label("Portion (g)").fill("40")
    tab.get_by_role("button", name="Add to diary").click()
    expect(tab.get_by_text("added to your diary")).to_be_visible()
    assert NutritionLog.objects.filter(user=user, food__name__startswith="Oats").exists()
    context.close()


FILLED_PAGES = [
    ("dashboard", "/dashboard/"),
    ("dashboard-30d", "/dashboard/?days=30"),
    ("metrics", "/metrics/"),
    ("metrics-steps", "/metrics/steps/"),
    ("metrics-weight", "/metrics/weight/?days=30"),
    ("metrics-blood-pressure", "/metrics/blood_pressure/"),
    ("metrics-add-blood-pressure", "/metrics/blood_pressure/add/"),
    ("metrics-add-weight", "/metrics/weight/add/"),
    ("nutrition", "/nutrition/"),
    ("nutrition-add", "/nutrition/{today}/add/?q=apple"),
    ("nutrition-custom", "/nutrition/{today}/add/custom/"),
    ("goals", "/goals/"),
    ("goals-new", "/goals/new/"),
    ("goals-new-weight", "/goals/new/weight/"),
    ("insights", "/insights/"),
    ("settings-devices", "/settings/devices/"),
    ("settings-sharing", "/settings/sharing/"),
    ("settings-access-log", "/settings/access-log/"),
    ("settings-data", "/settings/data/"),
    ("settings-connected-apps", "/settings/apps/"),
]


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_every_page_filled_with_data_fits_the_screen(request, device):
    users = seed_demo(days=14)
    patient = users["patient"]
    insights_replace_generated(
        user_id=patient.pk,
        recommendations=[
            Recommendation(
                type=code,
                title=title,
                severity=severity,
                score=0.2,
                reasoning=reasoning,
                actions=(),
                related_metric="steps",
            )
            for code, title, severity, reasoning in (
                (
                    "insufficient_sleep",
                    "Sleep a little longer",
                    "high",
                    "You slept 6 h 10 min a night on average over the last 7 nights; "
                    "adults need at least 7 hours.",
                ),
                (
                    "low_water_intake",
                    "Drink more water",
                    "medium",
                    "You drank 1,400 ml a day on average; your target is 2,000 ml.",
                ),
                (
                    "activity_change",
                    "More active than usual",
                    "low",
                    "You walked 24% more this week than in the four weeks before. Keep it up!",
                ),
            )
        ],
        generated_at=timezone.now(),
    )
    HealthInsight.objects.create(
        user=patient,
        kind=HealthInsight.Kind.ALERT,
        insight_type="high_blood_pressure",
        severity="medium",
        title="High blood pressure",
        message="Your blood pressure averaged 142/91 mmHg over the last 7 days.",
        dedupe_key="browser-test",
    )
    page = request.getfixturevalue(device)
    tab = page.tab
    log_in(tab, "demo", DEMO_PASSWORD)
    today = timezone.now().astimezone(UTC).date().isoformat()
    for name, url in FILLED_PAGES:
        tab.goto(url.format(today=today))
        expect(tab.get_by_role("heading", level=1)).to_be_visible()
        assert page.fits_the_screen(), f"{name} scrolls sideways on {device}"
        page.screenshot(f"filled-{name}")
    tab.goto("/dashboard/")
    expect(tab.get_by_role("alert")).to_contain_text("High blood pressure")
    trend_charts = tab.locator("svg.chart-svg:not(.chart-ring):not(.chart-strip)")
    expect(trend_charts).to_have_count(5)
    # The demo care program's card: today's ring (or its "no data yet" line) and the strip.
    program = tab.locator(".program-card")
    expect(program).to_contain_text("Care program: Heart-healthy 90 days")
    expect(program.locator("svg.chart-strip rect.chart-cell")).to_have_count(90)
    # The member switcher: the demo child's dashboard, then back to "Me".
    tab.get_by_label("Showing").select_option(label="Milo Demo")
    expect(tab.get_by_role("heading", level=1)).to_have_text("Milo’s dashboard")
    assert "member=" in tab.url
    assert page.fits_the_screen(), f"the member's dashboard scrolls sideways on {device}"
    page.screenshot("filled-dashboard-member")
    tab.get_by_role("link", name="Goals", exact=True).first.click()
    expect(tab.get_by_role("heading", name="Play outside: 10,000 steps a day")).to_be_visible()
    # app.js (deferred) submits the switcher on change: wait until it has run, or the change
    # lands on a page without its handler and nothing is submitted.
    tab.wait_for_load_state()
    tab.get_by_label("Showing").select_option(label="Me")
    expect(tab).to_have_url(re.compile(r"/goals/\?member=$"))
    expect(tab.get_by_role("heading", level=1)).to_have_text("Goals")
    expect(tab.locator(".member-banner")).to_have_count(0)  # "Me": ?member= empty is you
    assert page.problems == []
