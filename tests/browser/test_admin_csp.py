"""The strict Content-Security-Policy leaves the Django admin working."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.accounts.factories import PASSWORD, UserFactory
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium, pytest.mark.django_db(transaction=True)]


def test_admin_pages_run_under_the_policy(desktop):
    staff = UserFactory(is_staff=True, is_superuser=True)
    tab = desktop.tab
    tab.goto("/admin/login/")
    tab.get_by_label("Username").fill(staff.username)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    expect(tab.get_by_role("heading", name="Site administration")).to_be_visible()
    tab.goto(f"/admin/accounts/user/{staff.pk}/change/")
    expect(tab.get_by_label("Username")).to_have_value(staff.username)
    assert desktop.problems == []
