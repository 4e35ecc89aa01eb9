"""Ranking: severity, then score, then the fixed type order; deterministic. No database."""

from __future__ import annotations

from insights import engine, rules
from insights.rules import Recommendation
from insights.snapshot import RESTING_HEART_RATE, SLEEP, STEPS, WEIGHT
from tests.insights.factories import constant, days_back, linear, snapshot


def _busy_snapshot(**kwargs):
    """Data that makes every rule speak."""
    steps = {**constant(3000, 28, end=8), **constant(1000, 7)}  # low steps, activity down
    return snapshot(
        height_cm=170,
        weight_goal={"target_value": 70, "direction": "decrease"},
        targets={"calories": 2000},
        daily={
            STEPS: steps,
            SLEEP: constant(280),  # high: under 5 h
            RESTING_HEART_RATE: linear(80, 1, 20),  # rising, average 89.5
            WEIGHT: linear(95, 0.1, 20),  # BMI 33: high; rising away from the goal
        },
        nutrition_daily={
            day: {"calories": 3000, "protein_g": 30, "water_ml": 900} for day in days_back(10)
        },
        **kwargs,
    )


def test_recommend_returns_the_top_five_ranked_one_to_five():
    result = engine.recommend(_busy_snapshot())
    assert [(rec.rank, rec.type, rec.severity) for rec in result] == [
        (1, "weight_management", "high"),  # score 2.5 (trend 0.7 kg/week vs 0.2)
        (2, "insufficient_sleep", "high"),  # score 0.333
        (3, "activity_change", "medium"),  # score 2.335
        (4, "resting_heart_rate_trend", "medium"),  # score 1.0
        (5, "poor_nutrition", "medium"),  # score 0.613
    ]


def test_recommend_orders_by_severity_then_score():
    everything = engine.recommend(_busy_snapshot(), limit=10)
    assert len(everything) == len(rules.RULES)
    keys = [(rules.SEVERITIES.index(r.severity), -r.score) for r in everything]
    assert keys == sorted(keys)
    assert everything[0].severity == "high"
    assert everything[-1].severity == "low"


def test_recommend_respects_the_limit():
    assert [r.rank for r in engine.recommend(_busy_snapshot(), limit=2)] == [1, 2]


def test_recommend_breaks_ties_by_the_fixed_type_order():
    # Each 10 % past its bar: medium severity, score 0.1, for all three.
    tied = snapshot(
        daily={
            RESTING_HEART_RATE: constant(93.5),
            SLEEP: constant(378),
            STEPS: constant(4500),
        }
    )
    result = engine.recommend(tied)
    assert [(r.severity, r.score) for r in result] == [("medium", 0.1)] * 3
    assert [r.type for r in result] == [
        "low_steps",
        "insufficient_sleep",
        "elevated_resting_heart_rate",
    ]


def test_recommend_ties_do_not_depend_on_rule_evaluation_order(monkeypatch):
    def fixed(code):
        def rule(snapshot, overrides=None):
            return Recommendation(code, code, "medium", 0.5, "why", ("do",), "steps")

        rule.__name__ = code
        return rule

    monkeypatch.setattr(engine, "RULES", tuple(fixed(code) for code in reversed(rules.TYPE_ORDER)))
    result = engine.recommend(snapshot(), limit=8)
    assert [r.type for r in result] == list(rules.TYPE_ORDER)


def test_recommend_is_deterministic_whatever_the_input_order():
    forward = _busy_snapshot()
    backward = snapshot(
        height_cm=forward.height_cm,
        weight_goal=forward.weight_goal,
        targets=forward.targets,
        daily={
            code: dict(reversed(list(values.items())))
            for code, values in reversed(list(forward.daily.items()))
        },
        nutrition_daily=dict(reversed(list(forward.nutrition_daily.items()))),
    )
    first = [r.as_dict() for r in engine.recommend(forward)]
    assert first == [r.as_dict() for r in engine.recommend(backward)]
    assert first == [r.as_dict() for r in engine.recommend(forward)]


def test_recommend_with_too_little_data_returns_nothing():
    sparse = snapshot(daily={STEPS: constant(100, 2), SLEEP: constant(100, 2)})
    assert engine.recommend(sparse) == []


def test_recommend_reads_thresholds_at_call_time(settings):
    healthy = snapshot(daily={STEPS: constant(7000)})
    assert engine.recommend(healthy) == []
    settings.INSIGHTS_THRESHOLDS = {**settings.INSIGHTS_THRESHOLDS, "steps_daily_min": 8000}
    assert [r.type for r in engine.recommend(healthy)] == ["low_steps"]
    assert [r.type for r in engine.recommend(healthy, overrides={"steps_daily_min": 6000})] == []


def test_a_recommendation_serialises_to_json_ready_values():
    rec = engine.recommend(_busy_snapshot())[0]
    as_dict = rec.as_dict()
    assert set(as_dict) == {
        "type",
        "title",
        "severity",
        "score",
        "reasoning",
        "actions",
        "related_metric",
        "data",
        "rank",
    }
    assert isinstance(as_dict["actions"], list)
