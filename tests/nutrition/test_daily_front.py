"""A person's own daily totals served in front of Django (healthtrack/front.py learns the path
from the view's own hit), through the WSGI application on a real Redis: Django's answer byte
for byte and header for header; a meal logged since is in the next answer; anyone else's read
goes through Django (an outsider 404, a clinician's read audited)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.models import AccessLog
from nutrition import services
from tests.healthtrack.test_front import (  # noqa: F401  (fixtures: front, redis)
    call,
    front,
    learnt,
    redis,
    token_of,
    without_request_id,
)
from tests.healthtrack.test_liveness_probe import no_connection_handling  # noqa: F401

pytestmark = pytest.mark.django_db

DAILY = ("/api/v1/nutrition-logs/daily", "")


def test_a_front_hit_is_djangos_answer_byte_for_byte(front, user):  # noqa: F811
    app, inner = front
    token = token_of(user)
    django = learnt(app, inner, DAILY, token)
    calls = inner.calls
    served = [call(app, DAILY, token) for _ in range(3)]
    assert inner.calls == calls  # answered in front of Django
    for status, headers, body in served:
        assert (status, body) == (django[0], django[2])
        assert without_request_id(headers) == without_request_id(django[1])
    assert dict(django[1])["Content-Length"] == str(len(django[2]))


def test_a_meal_logged_since_is_in_the_next_answer(
    front,  # noqa: F811
    user,
    django_capture_on_commit_callbacks,
):
    app, inner = front
    token = token_of(user)
    learnt(app, inner, DAILY, token)
    with django_capture_on_commit_callbacks(execute=True):
        services.nutrition_log_create(
            user=user, meal_type="lunch", calories=321, logged_at=datetime.now(UTC)
        )
    status, _, body = call(app, DAILY, token)
    assert status == "200 OK" and b'"calories":321.0' in body


def test_others_reads_go_through_django(front, user, other_user, clinician, care_team):  # noqa: F811
    app, inner = front
    learnt(app, inner, DAILY, token_of(user))
    url = (DAILY[0], f"user_id={user.pk}")
    calls = inner.calls
    assert call(app, url, token_of(other_user))[0].startswith("404")
    for _ in range(2):
        assert call(app, url, token_of(clinician))[0] == "200 OK"
    assert inner.calls == calls + 3
    assert AccessLog.objects.filter(actor=clinician, owner=user).count() == 2
