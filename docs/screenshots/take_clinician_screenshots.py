"""Take the clinician-workspace screenshots in docs/screenshots/ (PNG): the triage list and
the admin patient page, on a desktop and a phone, with the care team of
tests/browser/clinician_world.py, in Debian's Chromium through Playwright.

Run from the repository root (it is a pytest module, for the live server and the test
database; not collected by the normal test run):

    .venv/bin/pytest docs/screenshots/take_clinician_screenshots.py -p no:cacheprovider
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.accounts.factories import PASSWORD
from tests.browser.clinician_world import build_clinician_world
from tests.browser.conftest import DESKTOP, PHONE, Page, browser, requires_chromium  # noqa: F401

HERE = Path(__file__).resolve().parent

pytestmark = [pytest.mark.browser, requires_chromium, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("device, viewport", [("desktop", DESKTOP), ("phone", PHONE)])
def test_take_the_clinician_screenshots(browser, live_server, device, viewport):  # noqa: F811
    world = build_clinician_world()
    page = Page(browser, live_server.url, device, viewport)
    tab = page.tab
    try:
        tab.goto("/accounts/login/")
        tab.get_by_label("Username or e-mail").fill(world.doctor.username)
        tab.get_by_label("Password").fill(PASSWORD)
        tab.get_by_role("button", name="Log in").click()
        expect(tab.get_by_role("heading", name="Triage: who needs you today")).to_be_visible()
        tab.screenshot(path=str(HERE / f"admin-triage-{device}.png"), full_page=True)
        tab.goto(f"/admin/patients/{world.pia.pk}/?days=14")
        expect(tab.locator("figure.chart-type-bp-band")).to_be_visible()
        tab.screenshot(path=str(HERE / f"admin-patient-page-{device}.png"), full_page=True)
        assert page.problems == []
    finally:
        page.context.close()
