"""What replaced finding apps' code by name at run time: the dashboard names its contributors
(healthtrack/dashboard.py) and the apps register their demo seeders and key rotation hooks in
`AppConfig.ready()` (healthtrack.core.hooks). Forgetting one must fail here, not go unseen."""

from __future__ import annotations

from pathlib import Path

import goals.demo
import insights.demo
import metrics.demo
import nutrition.demo
from healthtrack import dashboard
from healthtrack.core import hooks
from healthtrack.lifecycle import services as lifecycle_services

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "metrics", "nutrition", "goals", "insights")


def test_every_app_dashboard_part_is_on_the_dashboard_in_app_order():
    with_part = [app for app in APPS if (ROOT / app / "dashboard.py").exists()]
    named = [contribute.__module__.split(".")[0] for contribute in dashboard._contributors()]
    assert named == with_part == ["metrics", "nutrition", "goals", "insights"]


def test_every_app_demo_seeder_is_registered_once_in_app_order():
    with_seed = [app for app in APPS if "def seed(" in _text(ROOT / app / "demo.py")]
    assert hooks.demo_seeders() == [
        metrics.demo.seed,
        nutrition.demo.seed,
        goals.demo.seed,
        insights.demo.seed,
    ]
    assert [seed.__module__.split(".")[0] for seed in hooks.demo_seeders()] == with_seed


def test_registering_a_seeder_twice_keeps_one():
    before = hooks.demo_seeders()
    hooks.demo_seeder_register(metrics.demo.seed)
    assert hooks.demo_seeders() == before


def test_the_archive_key_rotation_is_registered():
    assert hooks.encryption_rotation_hooks() == [lifecycle_services.archive_keys_rotate]


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""
