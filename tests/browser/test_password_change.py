"""The password change page in a real browser: the old password is checked, and a change ends
the other device's session, the app's JWT and the personal API token (issue 19, point 2)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.api_tokens import api_token_create
from tests.accounts.factories import PASSWORD, UserFactory
from tests.browser.conftest import requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "Ch4nged-pass!"


def log_in(tab, login: str, password: str) -> None:
    tab.goto("/accounts/login/")
    tab.get_by_label("Username or e-mail").fill(login)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Log in").click()


def test_changing_the_password_signs_out_everything_else(desktop, phone, browser, live_server):
    user = UserFactory(username="dana")
    _, raw_token = api_token_create(user=user, name="Scale")
    api = browser.playwright.request.new_context(base_url=live_server.url)
    pair = api.post("/api/v1/auth/token/", data={"username": "dana", "password": PASSWORD}).json()
    me = "/api/v1/users/me"
    assert api.get(me, headers={"Authorization": f"Bearer {pair['access']}"}).status == 200
    assert api.get(me, headers={"Authorization": f"Token {raw_token}"}).status == 200
    log_in(phone.tab, "dana", PASSWORD)  # another device
    expect(phone.tab).to_have_url(re.compile(r"/dashboard/$"))

    tab = desktop.tab
    log_in(tab, "dana", PASSWORD)
    tab.goto("/settings/profile/")
    tab.get_by_role("navigation", name="Settings").get_by_role("link", name="Password").click()
    expect(tab).to_have_url(re.compile(r"/settings/password/$"))
    tab.get_by_label("Old password").fill("Not-my-pass-1!")
    tab.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    tab.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    tab.get_by_role("button", name="Change password").click()
    expect(tab.locator("#id_old_password_error")).to_be_visible()
    desktop.screenshot("password-change-error")
    desktop.forget_refusals()  # the wrong old password is refused with a 400, on purpose

    tab.get_by_label("Old password").fill(PASSWORD)
    tab.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    tab.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    tab.get_by_role("button", name="Change password").click()
    expect(tab.get_by_text("Your password is changed")).to_be_visible()
    assert desktop.fits_the_screen()
    desktop.screenshot("password-changed")

    tab.goto("/dashboard/")  # this session goes on
    expect(tab).to_have_url(re.compile(r"/dashboard/$"))
    phone.tab.goto("/dashboard/")  # the other device is signed out
    expect(phone.tab).to_have_url(re.compile(r"/accounts/login/"))
    assert api.get(me, headers={"Authorization": f"Bearer {pair['access']}"}).status == 401
    assert api.get(me, headers={"Authorization": f"Token {raw_token}"}).status == 401
    refreshed = api.post("/api/v1/auth/token/refresh/", data={"refresh": pair["refresh"]})
    assert refreshed.status == 401
    log_in(phone.tab, "dana", NEW_PASSWORD)
    expect(phone.tab).to_have_url(re.compile(r"/dashboard/$"))
    assert desktop.problems == [] and phone.problems == []
    api.dispose()
