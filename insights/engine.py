"""Ranking: every rule over one snapshot, the most important few first, deterministically."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from insights.rules import RULES, SEVERITIES, TYPE_ORDER, Recommendation
from insights.snapshot import Snapshot


def _sort_key(recommendation: Recommendation) -> tuple[int, float, int]:
    return (
        SEVERITIES.index(recommendation.severity),
        -recommendation.score,
        TYPE_ORDER.index(recommendation.type),
    )


def recommend(
    snapshot: Snapshot, *, limit: int = 5, overrides: Mapping | None = None
) -> list[Recommendation]:
    """The top `limit` recommendations for `snapshot`: by severity (high first), then score
    (higher first), then the fixed type order of `insights.rules.TYPE_ORDER`; ranked 1..n.
    Thresholds are read from settings now (`overrides` replaces single keys)."""
    found = [rec for rule in RULES if (rec := rule(snapshot, overrides)) is not None]
    found.sort(key=_sort_key)
    return [replace(rec, rank=rank) for rank, rec in enumerate(found[:limit], start=1)]
