"""The bench data generator (bench/generate.py): COPY loading, SQL rollups, idempotence.

PostgreSQL only (COPY ... FREEZE); skipped on the embedded SQLite default.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.db import connection

from accounts.models import User
from goals.models import HealthGoal
from metrics import rollups
from metrics.models import DailyRollup, HealthMetric, HourlyRollup
from nutrition.models import NutritionLog

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import generate  # noqa: E402

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's"),
]


def _rollups(user_id: int) -> tuple[dict, dict]:
    def rows(model, period):
        return {
            (r.metric_type, getattr(r, period)): (r.value, r.min_value, r.max_value, r.count)
            for r in model.objects.filter(user_id=user_id)
        }

    return rows(DailyRollup, "day"), rows(HourlyRollup, "period_start")


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        x == pytest.approx(y, rel=1e-9) for k in a for x, y in zip(a[k], b[k], strict=True)
    )


def test_generated_rollups_equal_the_metrics_apps_recompute():
    generate.generate(patients=2, days=3)
    users = list(User.objects.filter(username__startswith="bench-p").order_by("id"))
    assert len(users) == 2
    # The first patient wears the watch all day: minute-level heart rate.
    assert HealthMetric.objects.filter(user=users[0], metric_type="heart_rate").count() == 3 * 1440
    assert not HealthMetric.objects.filter(user=users[1], metric_type="heart_rate").exists()
    assert NutritionLog.objects.filter(user=users[1]).count() == 3 * 5
    assert HealthGoal.objects.filter(user=users[1], status="active").count() == 2
    for user in users:
        generated = _rollups(user.pk)
        assert generated[0] and generated[1]
        rollups.recompute_all(user_id=user.pk)
        recomputed = _rollups(user.pk)
        assert _same(generated[0], recomputed[0])
        assert _same(generated[1], recomputed[1])


def test_generated_diary_descriptions_decrypt():
    generate.generate(patients=1, days=1)
    assert {log.description for log in NutritionLog.objects.all()} == {
        *(meal[6] for meal in generate.MEALS),
        "Water",
    }


def test_ensure_keeps_a_dataset_of_the_same_size_and_redoes_another():
    first = generate.ensure(patients=1, days=2)
    kept = generate.ensure(patients=1, days=2)
    assert kept["generated_at"] == first["generated_at"]
    bigger = generate.ensure(patients=2, days=2)
    assert bigger["patients"] == 2
    assert User.objects.filter(username__startswith="bench-p").count() == 2


def test_generated_patients_can_log_in_with_the_bench_password():
    generate.generate(patients=1, days=1)
    assert User.objects.get(username="bench-p00001").check_password(generate.PASSWORD)
