"""Admin action on the users list: "Recompute recommendations for the selected patients",
queued to Celery by task name through the outbox (published on commit), one task per patient;
superusers for anyone, admin clinicians for their care-team patients only."""

from __future__ import annotations

from unittest import mock

import pytest

from accounts import care
from accounts.models import User
from healthtrack.celery import app as celery_app
from tests.accounts.factories import ClinicianFactory, UserFactory

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"
TASK = "insights.compute_recommendations"


@pytest.fixture
def sent(settings):
    """`send_task` patched: what would reach the broker. Not eager, so a task registered by
    then (insights) would also be sent, not run."""
    celery_app.conf.task_always_eager = False
    with mock.patch.object(celery_app, "send_task") as send_task:
        yield send_task
    celery_app.conf.task_always_eager = True


def queued(send_task) -> list[int]:
    ids = []
    for call in send_task.call_args_list:
        # send_task(name, args, kwargs, ...): positional or by keyword.
        named = {**dict(zip(["name", "args", "kwargs"], call.args, strict=False)), **call.kwargs}
        assert named["name"] == TASK and not named.get("args")
        assert set(named["kwargs"]) == {"user_id"}
        ids.append(named["kwargs"]["user_id"])
    return sorted(ids)


def run_action(client, users, django_capture_on_commit_callbacks, *, execute=True):
    with django_capture_on_commit_callbacks(execute=execute) as callbacks:
        response = client.post(
            USERS,
            {"action": "recompute_recommendations", "_selected_action": [u.pk for u in users]},
            follow=True,
        )
    return response, callbacks


def test_superuser_queues_one_task_per_selected_patient_on_commit(
    client, sent, django_capture_on_commit_callbacks
):
    client.force_login(UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=True))
    patients = UserFactory.create_batch(3)
    response, callbacks = run_action(
        client, patients, django_capture_on_commit_callbacks, execute=False
    )
    # Nothing leaves before the transaction commits ...
    assert not sent.called and callbacks  # (one callback sends all of a write's outbox rows)
    for callback in callbacks:
        callback()
    # ... then exactly one task per patient, by name, with the id only.
    assert queued(sent) == sorted(p.pk for p in patients)
    assert "Recomputing recommendations for 3 patient(s)." in response.content.decode()


def test_clinician_queues_only_for_their_patients(client, sent, django_capture_on_commit_callbacks):
    doctor = care.clinician_enable_admin(user=ClinicianFactory())
    mine, stranger = UserFactory(), UserFactory()
    care.care_team_add(clinician=doctor, patient=mine)
    client.force_login(doctor)
    page = client.get(USERS).content.decode()
    assert "recompute_recommendations" in page
    run_action(client, [mine, stranger, doctor], django_capture_on_commit_callbacks)
    assert queued(sent) == [mine.pk]


def test_clinician_with_no_patients_queues_nothing(
    client, sent, django_capture_on_commit_callbacks
):
    doctor = care.clinician_enable_admin(user=ClinicianFactory())
    client.force_login(doctor)
    run_action(client, [UserFactory(), doctor], django_capture_on_commit_callbacks)
    assert not sent.called


def test_other_staff_cannot_use_the_action(client, sent, django_capture_on_commit_callbacks):
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True)
    client.force_login(staff)
    response, _ = run_action(client, [UserFactory()], django_capture_on_commit_callbacks)
    assert response.status_code == 403 and not sent.called


def test_the_task_name_is_one_a_worker_runs():
    celery_app.loader.import_default_modules()
    assert care.RECOMPUTE_RECOMMENDATIONS_TASK == TASK and TASK in celery_app.tasks


def test_the_task_is_routed_to_the_recommendations_queue():
    route = celery_app.amqp.router.route({}, TASK, (), {"user_id": 1})
    assert route["queue"].name == "recommendations"
