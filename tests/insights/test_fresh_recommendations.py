"""No recommendation quotes a value older than the card beside it: today's weight is the
latest weight, and recommendations whose inputs changed are recomputed before they are shown
(the debounced task may not have run yet)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from insights import services
from insights.models import HealthInsight
from tests.insights.helpers import measure, utc_today

pytestmark = pytest.mark.django_db


def weight_texts(user) -> list[str]:
    return list(
        HealthInsight.objects.filter(
            user=user, kind=HealthInsight.Kind.RECOMMENDATION, superseded_at__isnull=True
        ).values_list("message", flat=True)
    )


def test_a_weight_recommendation_quotes_todays_weight_like_the_card(user):
    measure(user, "weight", 90, utc_today() - timedelta(days=3))
    measure(user, "weight", 91.5, utc_today(), hour=8)
    services.recommendations_compute(user=user)
    [text] = [t for t in weight_texts(user) if "latest weight" in t]
    assert "91.5 kg" in text and "90.0 kg" not in text


def test_the_dashboard_recomputes_recommendations_whose_inputs_changed(page_client, user):
    measure(user, "weight", 90, utc_today() - timedelta(days=3))
    services.recommendations_compute(user=user)
    assert any("90.0 kg" in t for t in weight_texts(user))
    # A new weighing; the debounced recomputation has not run yet, only the marker is set.
    measure(user, "weight", 91.5, utc_today(), hour=8)
    services.recommendation_state_mark_changed(user_id=user.pk)

    body = page_client.get("/dashboard/").content.decode()
    assert "91.5" in body  # the card
    texts = weight_texts(user)
    assert any("91.5 kg" in t for t in texts) and not any("90.0 kg" in t for t in texts)
    assert "latest weight, 90.0 kg" not in body


def test_fresh_recommendations_are_not_recomputed_on_every_view(page_client, user):
    measure(user, "weight", 90, utc_today() - timedelta(days=3))
    services.recommendations_compute(user=user)
    assert services.recommendations_refresh_if_stale(user=user) is False
    services.recommendation_state_mark_changed(user_id=user.pk)
    assert services.recommendations_refresh_if_stale(user=user) is True
    assert services.recommendations_refresh_if_stale(user=user) is False
