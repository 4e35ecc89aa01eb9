"""Programs whose end date has passed become completed (goals.complete_ended_programs, run
daily by Celery beat); running it again changes nothing."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.conf import settings

from goals.care_programs import programs
from goals.care_programs.models import CareProgram
from goals.care_programs.tasks import complete_ended_programs
from healthtrack.celery import app
from tests.goals.factories import days_ago, measure, today

pytestmark = pytest.mark.django_db

CONFIG = {"activity": {"steps": {"min": 8000}}}


def program(user, *, start, end):
    return programs.program_create(
        user=user, created_by=user, title="Walk", config=CONFIG, start_date=start, end_date=end
    )


def test_a_program_past_its_end_date_is_completed_once(user):
    ended = program(user, start=days_ago(30), end=days_ago(1))
    ends_today = program(user, start=days_ago(30), end=today())
    running = program(user, start=days_ago(3), end=days_ago(-10))
    assert complete_ended_programs.delay().get() == 1
    statuses = dict(CareProgram.objects.values_list("pk", "status"))
    assert statuses == {ended.pk: "completed", ends_today.pk: "active", running.pk: "active"}
    update = LogEntry.objects.get_for_object(ended).get(action=LogEntry.Action.UPDATE)
    assert update.changes_dict["status"] == ["active", "completed"]
    assert complete_ended_programs.delay().get() == 0  # idempotent
    assert LogEntry.objects.get_for_object(ended).count() == 2  # created, completed


def test_completion_scores_the_last_day_first(user):
    ended = program(user, start=days_ago(5), end=days_ago(1))
    measure(user, "steps", 8000, days_ago(1), hour=0)  # late data, no recompute yet
    ended.adherence.all().delete()
    programs.programs_complete_ended()
    assert ended.adherence.get().score == 100


def test_completion_runs_every_day_from_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["goals-complete-ended-programs"]
    assert entry["task"] == "goals.complete_ended_programs"
    assert entry["task"] in app.tasks
