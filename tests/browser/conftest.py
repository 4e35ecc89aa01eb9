"""Real-browser tests: Playwright's Python API driving Debian's Chromium against `live_server`.

Never `playwright install`: the browser is the system's /usr/bin/chromium (`.ci/run` installs
it). Without it these tests are skipped, and only then.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

requires_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed"
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; Django's ORM (factories, the
    # live server's shared SQLite connection) would otherwise refuse to run beside it.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            chromium.playwright = playwright  # for API request contexts in tests
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Page:
    """A browser tab that records Content-Security-Policy violations and script errors, and
    saves screenshots to tests/screenshots/<name>-<device>.png."""

    def __init__(self, browser, base_url: str, device: str, viewport: dict):
        self.device = device
        self.context = browser.new_context(viewport=viewport, base_url=base_url)
        self.tab = self.context.new_page()
        self.problems: list[str] = []
        self.tab.on("console", self._console)
        self.tab.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.tab.on("response", self._response)

    def _console(self, message) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def forget_refusals(self) -> None:
        """A refused form is answered 400 on purpose: drop those responses (and Chromium's
        console line about them), keep every other problem."""
        self.problems[:] = [
            p for p in self.problems if "status of 400" not in p and not p.startswith("HTTP 400:")
        ]

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        self.tab.screenshot(path=str(SCREENSHOTS / f"{name}-{self.device}.png"), full_page=True)

    def fits_the_screen(self) -> bool:
        return self.tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def desktop(browser, live_server):
    page = Page(browser, live_server.url, "desktop", DESKTOP)
    yield page
    page.context.close()


@pytest.fixture
def phone(browser, live_server):
    page = Page(browser, live_server.url, "phone", PHONE)
    yield page
    page.context.close()
