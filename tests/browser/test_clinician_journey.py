"""The clinician's journey in a real browser, on a desktop and a phone: sign in on the site,
land on the triage list, find the patient flagged for blood pressure with the reason, open
them, see the blood-pressure band, acknowledge the alert with a note, and see it leave the
open list and appear in the audit trail. Strict CSP: no violation, no script error."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from insights.models import AlertAction, HealthInsight
from tests.accounts.factories import PASSWORD
from tests.browser.clinician_world import build_clinician_world
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium, pytest.mark.django_db(transaction=True)]

NOTE = "Phoned Pia: re-measuring twice daily, review on Friday."


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_clinician_triages_opens_the_patient_and_acknowledges_the_alert(request, device):
    page = request.getfixturevalue(device)
    world = build_clinician_world()
    tab = page.tab

    # Sign in on the site: a clinician lands on the admin's triage list.
    tab.goto("/accounts/login/")
    tab.get_by_label("Username or e-mail").fill("drsmith")
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    expect(tab).to_have_url(re.compile(r"/admin/$"))
    expect(tab.get_by_role("heading", name="Triage: who needs you today")).to_be_visible()

    # Pia is first, flagged for blood pressure with the reason in words.
    first = tab.locator("tr.triage-row").first
    expect(first.get_by_role("link", name="Pia Moreau")).to_be_visible()
    expect(
        first.get_by_text(re.compile(r"14-day average blood pressure \d+/\d+ mmHg"))
    ).to_be_visible()
    expect(first.get_by_text("High blood pressure (7-day average)").first).to_be_visible()
    expect(first.get_by_text("Overdue")).to_be_visible()
    stage1 = tab.locator("tr.triage-row", has_text="Omar Haddad")
    expect(stage1.get_by_text("(at or above 130/80)")).to_be_visible()
    expect(
        tab.locator("tr.triage-row", has_text="Lea Brandt").get_by_text("No data for 5 days")
    ).to_be_visible()
    assert page.fits_the_screen()
    page.screenshot("admin-triage")

    # Open Pia: the blood-pressure band and the other vitals.
    first.get_by_role("link", name="Pia Moreau").click()
    expect(tab).to_have_url(re.compile(rf"/admin/patients/{world.pia.pk}/$"))
    expect(tab.get_by_role("heading", name="Open alerts (1)")).to_be_visible()
    band = tab.locator("figure.chart-type-bp-band")
    expect(band).to_be_visible()
    expect(band.locator("rect.chart-band-systolic")).to_have_count(14)
    expect(band.locator("polyline.chart-mean-systolic")).to_have_count(1)
    for title in ("Weight", "Blood glucose (daily mean)", "Oxygen saturation", "Steps per day"):
        caption = tab.locator(
            "figcaption.chart-title", has_text=re.compile(f"^{re.escape(title)}$")
        )
        expect(caption).to_be_visible()
    expect(tab.get_by_role("heading", name="Care-program adherence")).to_be_visible()
    assert page.fits_the_screen()
    page.screenshot("admin-patient-page")

    # Acknowledge the alert with a note.
    alert_box = tab.locator("li.patient-alert")
    alert_box.get_by_label("Decision").select_option("acknowledge")
    alert_box.get_by_label("Note").fill(NOTE)
    alert_box.get_by_role("button", name="Save decision").click()
    expect(tab.get_by_text("Alert acknowledged: High blood pressure.")).to_be_visible()
    expect(tab.get_by_role("heading", name="Open alerts (0)")).to_be_visible()
    expect(tab.get_by_text("No open alerts.")).to_be_visible()

    # Off the triage list's open alerts...
    tab.goto("/admin/")
    pia_row = tab.locator("tr.triage-row", has_text="Pia Moreau")
    expect(pia_row.get_by_text("High blood pressure (7-day average)")).to_have_count(0)

    # ...and in the audit trail, with the note.
    pia_row.get_by_role("link", name="Pia Moreau").click()
    tab.get_by_role("link", name="Audit trail").click()
    decisions = tab.locator("section", has=tab.get_by_role("heading", name="Alert decisions"))
    expect(decisions.get_by_text("Acknowledged")).to_be_visible()
    expect(decisions.get_by_text(NOTE)).to_be_visible()
    expect(decisions.get_by_text("drsmith")).to_be_visible()
    assert page.fits_the_screen()

    alert = HealthInsight.objects.get(pk=world.alert.pk)
    assert alert.alert_status == HealthInsight.AlertStatus.ACKNOWLEDGED
    assert AlertAction.objects.get(alert=alert).note == NOTE
    assert page.problems == []
