"""Goals and care programs turn the day at each person's own midnight (`healthtrack.core.days`): the
hourly beat refreshes the people whose local day has just begun, and a program ends at its
owner's midnight, not UTC's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from goals import services
from goals.care_programs import programs
from goals.care_programs.models import CareProgram
from goals.models import HealthGoal
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

CONFIG = {"activity": {"steps": {"min": 8000}}}
# 10:30 UTC: 00:30 on 2 March in Kiritimati (UTC+14), 02:30 on 1 March in Los Angeles.
NOW = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)


def test_the_hourly_refresh_takes_only_the_people_whose_day_just_began():
    kiritimati = UserFactory(time_zone="Pacific/Kiritimati")
    los_angeles = UserFactory(time_zone="America/Los_Angeles")
    for person in (kiritimati, los_angeles):
        services.goal_create(user=person, goal_type="steps", target_value=8000)
    HealthGoal.objects.update(current_value=123)  # stale: a refresh sets it from the data

    assert services.goal_progress_recompute_all(new_day_only=True, now=NOW) == 1
    values = dict(HealthGoal.objects.values_list("user__time_zone", "current_value"))
    assert values == {"Pacific/Kiritimati": None, "America/Los_Angeles": 123}


def test_a_program_ends_at_its_owners_midnight():
    kiritimati = UserFactory(time_zone="Pacific/Kiritimati")
    los_angeles = UserFactory(time_zone="America/Los_Angeles")
    last_day = NOW.date()  # 1 March: over in Kiritimati, under way in Los Angeles
    made = {}
    with time_machine.travel(NOW - timedelta(days=2), tick=False):
        for person in (kiritimati, los_angeles):
            made[person.time_zone] = programs.program_create(
                user=person,
                created_by=person,
                title="Walk",
                config=CONFIG,
                start_date=last_day - timedelta(days=5),
                end_date=last_day,
            )
    with time_machine.travel(NOW, tick=False):
        assert programs.programs_complete_ended() == [made["Pacific/Kiritimati"].pk]
    statuses = dict(CareProgram.objects.values_list("user__time_zone", "status"))
    assert statuses == {"Pacific/Kiritimati": "completed", "America/Los_Angeles": "active"}
