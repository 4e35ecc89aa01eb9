"""The admin patient page and a share link, in a real browser under the strict CSP: no
violation, no script error, readable on a phone."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts import care, sharing
from metrics import services
from tests.accounts.factories import PASSWORD, ClinicianFactory, UserFactory
from tests.browser.conftest import requires_chromium
from tests.insights.factories import AlertFactory, HealthInsightFactory

pytestmark = [pytest.mark.browser, requires_chromium, pytest.mark.django_db(transaction=True)]


def _patient_with_data():
    patient = UserFactory(first_name="Pia", medical_history="Mild asthma since childhood.")
    now = timezone.now().astimezone(UTC)
    for days in range(12):
        when = now - timedelta(days=days, hours=1)
        services.metric_create(
            user=patient, metric_type="steps", value=4000 + 400 * days, recorded_at=when
        )
        services.metric_create(
            user=patient, metric_type="resting_heart_rate", value=58 + days % 4, recorded_at=when
        )
    AlertFactory(user=patient, title="Blood pressure in the crisis range")
    HealthInsightFactory(user=patient, rank=1, title="Walk a little more each day")
    return patient


def test_clinician_opens_the_patient_page(desktop):
    patient = _patient_with_data()
    doctor = care.clinician_enable_admin(user=ClinicianFactory())
    care.care_team_add(clinician=doctor, patient=patient)
    tab = desktop.tab
    tab.goto("/admin/login/")
    tab.get_by_label("Username").fill(doctor.username)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    tab.goto("/admin/accounts/user/")
    tab.get_by_role("link", name="Open").click()
    expect(tab.get_by_role("heading", name="Open alerts (1)")).to_be_visible()
    expect(tab.get_by_text("Mild asthma since childhood.")).to_be_visible()
    expect(tab.locator("svg.chart-svg")).to_have_count(2)
    desktop.screenshot("admin-patient-page")
    assert desktop.problems == []


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_share_link_asks_for_the_code_then_shows_the_data(request, device):
    page = request.getfixturevalue(device)
    patient = _patient_with_data()
    today = timezone.now().astimezone(UTC).date()
    link = sharing.share_grant_create(
        owner=patient,
        metric_types=["steps", "resting_heart_rate"],
        date_from=today - timedelta(days=13),
        date_to=today,
        label="For my GP",
    )
    tab = page.tab
    tab.goto(link.link_path)
    tab.get_by_label("Access code").fill("WRONG-CODE")
    tab.get_by_role("button", name="Show the data").click()
    expect(tab.get_by_text("That access code is not right")).to_have_count(2)
    page.problems.clear()  # the refused attempt is a 400, on purpose
    tab.get_by_label("Access code").fill(link.code)
    tab.get_by_role("button", name="Show the data").click()
    expect(tab.get_by_role("heading", name="Shared measurements: For my GP")).to_be_visible()
    expect(tab.locator("svg.chart-svg")).to_have_count(2)
    assert page.fits_the_screen()
    page.screenshot("share-link-data")
    assert page.problems == []
