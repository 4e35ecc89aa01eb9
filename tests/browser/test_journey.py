"""A new visitor's journey in a real browser, and every main page on a desktop and a phone."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from accounts.models import ApiToken, User
from healthtrack import dashboard as dashboard_module
from healthtrack.core.charts import band_chart, bar_chart, line_chart
from healthtrack.core.dashboard import Card, Item
from tests.accounts.factories import PASSWORD, UserFactory
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "Brows3r-pass!"


def test_sign_up_profile_token_log_out_and_log_in_by_email(desktop, browser, live_server):
    tab = desktop.tab

    # Landing
    tab.goto("/")
    expect(tab.get_by_role("heading", level=1)).to_have_text("Your health, at a glance")
    desktop.screenshot("01-landing")
    tab.get_by_role("link", name="Create your free account").click()

    # Sign up: a weak password first, the input is kept
    expect(tab).to_have_url(re.compile(r"/accounts/signup/$"))
    tab.get_by_label("Username").fill("walker")
    tab.get_by_label("E-mail").fill("Walker@Example.org")
    tab.get_by_label("Password", exact=True).fill("weakpass")
    tab.get_by_label("Password again").fill("weakpass")
    tab.get_by_role("button", name="Create account").click()
    expect(tab.locator("#id_password1_error")).to_contain_text("upper-case")
    expect(tab.get_by_label("Username")).to_have_value("walker")
    desktop.screenshot("02-signup-errors")
    desktop.forget_refusals()  # the weak password is refused with a 400, on purpose
    tab.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    tab.get_by_label("Password again").fill(NEW_PASSWORD)
    tab.get_by_role("button", name="Create account").click()

    # The same answer whether or not the name was free (no enumeration): then log in
    expect(tab).to_have_url(re.compile(r"/accounts/signup/sent/$"))
    expect(tab.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
    tab.get_by_role("main").get_by_role("link", name="Log in").click()
    tab.get_by_label("Username or e-mail").fill("walker")
    tab.get_by_label("Password").fill(NEW_PASSWORD)
    tab.get_by_role("button", name="Log in").click()

    # Dashboard: greeting and empty states, nothing invented
    expect(tab).to_have_url(re.compile(r"/dashboard/$"))
    expect(tab.get_by_role("heading", level=1)).to_have_text("Hello, walker")
    expect(tab.get_by_text("No reading yet")).to_have_count(7)
    expect(tab.get_by_text("No charts yet")).to_be_visible()
    assert desktop.fits_the_screen()
    desktop.screenshot("03-dashboard-empty")

    # Settings → profile: an error keeps the input, then a valid save
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(tab).to_have_url(re.compile(r"/settings/profile/$"))
    tab.get_by_label("First name").fill("Wanda")
    tab.get_by_label("Last name").fill("Walker")
    tab.get_by_label("Date of birth").fill("1990-04-02")
    tab.get_by_label("Sex").select_option("female")
    tab.get_by_label("Height (cm)").fill("300")
    tab.get_by_label("Medical history").fill("Mild asthma")
    tab.get_by_role("button", name="Save profile").click()
    expect(tab.locator("#id_height_cm_error")).to_contain_text("less than or equal to 260")
    expect(tab.get_by_label("Height (cm)")).to_have_attribute("aria-invalid", "true")
    expect(tab.get_by_label("Medical history")).to_have_value("Mild asthma")
    desktop.screenshot("04-profile-errors")
    desktop.forget_refusals()  # the height is refused with a 400, on purpose
    tab.get_by_label("Height (cm)").fill("171.5")
    tab.get_by_role("button", name="Save profile").click()
    expect(tab.get_by_text("Your profile is saved")).to_be_visible()
    expect(tab.get_by_label("Date of birth")).to_have_value("1990-04-02")
    desktop.screenshot("05-profile")
    user = User.objects.get(username="walker")
    assert (user.first_name, user.height_cm, user.medical_history) == (
        "Wanda",
        171.5,
        "Mild asthma",
    )

    # API token: created, shown once, works against the API from outside the browser
    tab.get_by_role("navigation", name="Settings").get_by_role("link", name="API tokens").click()
    expect(tab.get_by_text("No tokens yet")).to_be_visible()
    tab.get_by_label("Name").fill("Bathroom scale")
    tab.get_by_role("button", name="Create token").click()
    token = tab.get_by_label("New API token").input_value()
    assert token.startswith("ht_")
    expect(tab.get_by_role("row", name=re.compile("Bathroom scale"))).to_contain_text("Never")
    desktop.screenshot("06-token-created")
    api = browser.playwright.request.new_context(base_url=live_server.url)  # no cookies
    assert api.get("/api/v1/users/me").status == 401
    response = api.get("/api/v1/users/me", headers={"Authorization": f"Token {token}"})
    assert response.status == 200
    assert response.json()["username"] == "walker"
    api.dispose()
    tab.reload()  # a GET: creates nothing, and the token is gone
    assert token not in tab.content()
    expect(tab.get_by_role("row")).to_have_count(2)  # header + the one token
    expect(tab.get_by_role("row", name=re.compile("Bathroom scale"))).not_to_contain_text("Never")
    expect(tab.get_by_role("row", name=re.compile("Bathroom scale"))).to_contain_text("Revoke")
    assert ApiToken.objects.get(user=user).last_used_at is not None

    # Log out (a POST form in the header), then log in by e-mail
    tab.get_by_role("button", name="Log out").click()
    expect(tab).to_have_url(f"{live_server.url}/")
    expect(tab.get_by_text("You have logged out")).to_be_visible()
    tab.goto("/dashboard/")
    expect(tab).to_have_url(re.compile(r"/accounts/login/\?next=/dashboard/$"))
    tab.get_by_label("Username or e-mail").fill("WALKER@example.org")
    tab.get_by_label("Password").fill(NEW_PASSWORD)
    desktop.screenshot("07-login")
    tab.get_by_role("button", name="Log in").click()
    expect(tab).to_have_url(re.compile(r"/dashboard/$"))
    expect(tab.get_by_role("heading", level=1)).to_have_text("Hello, Wanda")

    assert desktop.problems == []


def test_skip_link_is_the_first_stop_and_jumps_to_the_content(desktop):
    tab = desktop.tab
    tab.goto("/")  # (the log-in page focuses its first field instead, as Django does)
    tab.keyboard.press("Tab")
    skip = tab.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    tab.keyboard.press("Enter")
    expect(tab).to_have_url(re.compile(r"#main$"))


PUBLIC_PAGES = [
    ("landing", "/"),
    ("signup", "/accounts/signup/"),
    ("signup-sent", "/accounts/signup/sent/"),
    ("login", "/accounts/login/"),
    ("password-reset", "/accounts/password-reset/"),
    ("not-found", "/no-such-page/"),
]
SIGNED_IN_PAGES = [
    ("dashboard", "/dashboard/"),
    ("metrics", "/metrics/"),
    ("metrics-steps", "/metrics/steps/"),
    ("nutrition", "/nutrition/"),
    ("goals", "/goals/"),
    ("insights", "/insights/"),
    ("settings-profile", "/settings/profile/"),
    ("settings-devices", "/settings/devices/"),
    ("settings-sharing", "/settings/sharing/"),
    ("settings-access-log", "/settings/access-log/"),
    ("settings-data", "/settings/data/"),
    ("settings-password", "/settings/password/"),
    ("settings-tokens", "/settings/tokens/"),
    ("settings-delete", "/settings/delete/"),
]


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_every_main_page_fits_the_screen_without_policy_violations(request, device):
    page = request.getfixturevalue(device)
    tab = page.tab
    for name, url in PUBLIC_PAGES:
        tab.goto(url)
        assert page.fits_the_screen(), f"{name} scrolls sideways on {device}"
        page.screenshot(f"page-{name}")
    user = UserFactory(first_name="Dana", username="dana")
    tab.goto("/accounts/login/")
    tab.get_by_label("Username or e-mail").fill(user.username)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    expect(tab).to_have_url(re.compile(r"/dashboard/$"))
    for name, url in SIGNED_IN_PAGES:
        tab.goto(url)
        assert page.fits_the_screen(), f"{name} scrolls sideways on {device}"
        page.screenshot(f"page-{name}")
    tab.goto("/settings/tokens/")
    tab.get_by_label("Name").fill("Phone app")
    tab.get_by_role("button", name="Create token").click()
    expect(tab.get_by_label("New API token")).to_have_value(re.compile("^ht_"))
    assert page.fits_the_screen()
    page.screenshot("page-settings-token-created")
    # The static 404 status is a resource error Chromium logs; nothing else may show up.
    problems = [p for p in page.problems if "404" not in p]
    assert problems == []


def sample_panels(panels, *, user, days):
    """What the data apps will contribute (test data only: the product shows none of it)."""
    start = date(2026, 3, 1)
    span = [start + timedelta(days=i) for i in range(days)]
    steps = [None if i % 9 == 4 else 4000 + (i * 1371) % 9000 for i in range(days)]
    panels.cards["steps"] = Card(
        label="Steps today",
        value="8,432",
        unit="steps",
        detail="Goal 10,000",
        progress_percent=84,
        status="warning",
        status_text="Behind",
    )
    panels.cards["blood_pressure"] = Card(
        label="Latest blood pressure",
        value="128/84",
        unit="mmHg",
        detail="This morning",
        status="ok",
        status_text="Normal",
    )
    panels.charts += [
        bar_chart(
            list(zip(span, steps, strict=True)),
            title="Steps",
            unit="steps",
            guides=[(10000, "Goal")],
        ),
        line_chart(
            [(d, 58 + (i * 7) % 9) for i, d in enumerate(span)],
            title="Resting heart rate",
            unit="bpm",
        ),
        band_chart(
            [(d, 76 + (i * 5) % 12, 118 + (i * 11) % 25) for i, d in enumerate(span)],
            title="Blood pressure",
            unit="mmHg",
            low_label="Diastolic",
            high_label="Systolic",
            guides=[(140, "High")],
        ),
        line_chart([(d, 71.4 - i * 0.05) for i, d in enumerate(span)], title="Weight", unit="kg"),
    ]
    panels.goals.append(
        Item(
            title="10,000 steps a day",
            progress_percent=62,
            text="6,200 of 10,000 steps",
            status="warning",
            status_text="Behind",
        )
    )
    panels.recommendations.append(
        Item(
            title="Sleep a little longer",
            text="You slept under 7 hours on 5 of the last 7 nights.",
            status="warning",
            status_text="Medium",
            action_url="/dashboard/",
            action_label="Got it",
        )
    )
    panels.alerts.append(
        Item(
            title="Very high blood pressure",
            text="Your last reading was 182/121 mmHg.",
            status="alert",
        )
    )


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_a_filled_dashboard_draws_its_charts_cleanly(request, monkeypatch, device):
    monkeypatch.setattr(dashboard_module, "_contributors", lambda: [sample_panels])
    page = request.getfixturevalue(device)
    tab = page.tab
    user = UserFactory(first_name="Dana")
    tab.goto("/accounts/login/")
    tab.get_by_label("Username or e-mail").fill(user.username)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    for days in (7, 90):
        tab.goto(f"/dashboard/?days={days}")
        expect(tab.get_by_role("img", name="Steps")).to_be_visible()
        expect(tab.get_by_role("alert")).to_contain_text("Very high blood pressure")
        expect(tab.locator("svg.chart-svg")).to_have_count(4)
        assert page.fits_the_screen(), f"dashboard ({days} days) scrolls sideways on {device}"
        page.screenshot(f"dashboard-filled-{days}d")
    tab.get_by_text("Show the data as a table").first.click()
    expect(tab.get_by_role("table").first).to_be_visible()
    assert page.problems == []
