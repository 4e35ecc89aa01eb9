"""Take docs/screenshots/dashboard-desktop.png: the top of the demo patient's dashboard
(30 days), in Debian's Chromium through Playwright, against a server already running with the
demo data (`make run`).

    .venv/bin/python docs/screenshots/take_dashboard_screenshot.py [http://127.0.0.1:8000]
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main(base_url: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=ARGS
        )
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 1500}, base_url=base_url)
            tab.goto("/accounts/login/")
            tab.get_by_label("Username or e-mail").fill("demo")
            tab.get_by_label("Password").fill("Demo-pass-2026!")
            tab.get_by_role("button", name="Log in").click()
            tab.goto("/dashboard/?days=30")
            tab.screenshot(path=str(HERE / "dashboard-desktop.png"))
        finally:
            browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
