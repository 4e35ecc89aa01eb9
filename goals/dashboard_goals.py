"""The dashboard's list of active goals with their stored progress: one query, cached per user
for an hour and cleared on commit by every goal write and progress change (`goals.services`),
which also retires the version token of the person's goals as the API's list answers them
(`list_version_key`, guarding `goals.api.views`' cached pages)."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from goals.measures import get_measure
from goals.models import HealthGoal

DASHBOARD_CACHE_TTL = 3600
DASHBOARD_FIELDS = (
    "id",
    "goal_type",
    "title",
    "metric_type",
    "target_value",
    "unit",
    "direction",
    "period_days",
    "baseline_value",
    "current_value",
    "progress_percent",
    "on_track",
    "start_date",
    "target_date",
    "priority",
    "status",
    "progress_updated_at",
)


def dashboard_cache_key(user_id: int) -> str:
    return f"goals:user:{user_id}:dashboard"


def list_version_key(user_id: int) -> str:
    """The version token of `user_id`'s goals (accounts.api.readcache): every goal write and
    progress change deletes it after commit, so no page read before it is served again."""
    return f"goals:user:{user_id}:version"


def invalidate_dashboard_cache(user_id: int) -> None:
    cache.delete_many([dashboard_cache_key(user_id), list_version_key(user_id)])


def goals_for_dashboard(user_id: int) -> list[dict[str, Any]]:
    """Active goals with progress (the `DASHBOARD_FIELDS`, plus `reading`: `latest` or
    `daily_average`), highest priority first. The description (encrypted free text) is not
    included, so no decrypted text is cached."""
    key = dashboard_cache_key(user_id)
    goals = cache.get(key)
    if goals is None:
        rows = HealthGoal.objects.for_user(user_id).active().by_priority().values(*DASHBOARD_FIELDS)
        goals = [_with_reading(row) for row in rows]
        cache.set(key, goals, DASHBOARD_CACHE_TTL)
    return goals


def _with_reading(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "reading": get_measure(row["metric_type"]).reading}
