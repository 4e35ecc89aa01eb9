"""The lifecycle in the admin, and how job runs are recorded."""

from __future__ import annotations

import pytest
from django.urls import reverse

from healthtrack.lifecycle import retention
from healthtrack.lifecycle.models import ArchivedMonth, RetentionJob
from metrics.models import HealthMetric
from tests.accounts.factories import UserFactory
from tests.lifecycle.data import month_of_samples, months_ago

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    return UserFactory(role="admin", is_staff=True, is_superuser=True)


def test_one_failing_delete_job_is_recorded_and_the_others_still_run(monkeypatch):
    def broken(job, now):
        raise RuntimeError("database went away")

    monkeypatch.setitem(retention.DELETE_JOBS, RetentionJob.Kind.DELETE_INSIGHTS, broken)
    jobs = {j.kind: j for j in retention.apply_retention()}
    failed = jobs["delete_insights"]
    assert failed.status == "failed" and failed.finished_at is not None
    assert failed.errors[0]["where"] == "delete_insights"
    assert failed.errors[0]["error"] == "RuntimeError"  # the type only, never the text
    assert all(j.status == "done" for k, j in jobs.items() if k != "delete_insights")


def test_job_list_shows_each_kinds_last_run_and_last_failure(client, superuser, monkeypatch):
    ok = retention.run_archive()
    monkeypatch.setattr(retention.archive, "archive_due_months", lambda **kw: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        retention.run_archive()
    failed = RetentionJob.objects.filter(status="failed").get()
    client.force_login(superuser)
    page = client.get(reverse("admin:lifecycle_retentionjob_changelist")).content.decode()
    assert "Last runs" in page
    assert reverse("admin:lifecycle_retentionjob_change", args=[failed.pk]) in page
    assert reverse("admin:lifecycle_retentionjob_change", args=[ok.pk]) in page
    assert "1 error" in page
    detail = client.get(reverse("admin:lifecycle_retentionjob_change", args=[failed.pk]))
    assert detail.status_code == 200 and "ZeroDivisionError" in detail.content.decode()


def test_admin_restore_action_brings_the_selected_months_back(client, superuser, user):
    year, month = months_ago(6)
    made = month_of_samples(user, year, month, days=1)
    retention.run_archive()
    client.force_login(superuser)
    ids = list(ArchivedMonth.objects.filter(user=user).values_list("pk", flat=True))
    for _ in range(2):  # idempotent
        response = client.post(
            reverse("admin:lifecycle_archivedmonth_changelist"),
            {"action": "restore_months", "_selected_action": ids},
        )
        assert response.status_code == 302
    assert HealthMetric.objects.filter(user=user).count() == len(made)
    restored = list(
        RetentionJob.objects.filter(kind="restore")
        .order_by("pk")
        .values_list("rows_restored", flat=True)
    )
    assert len(restored) == 4 and sum(restored[:2]) == len(made) and restored[2:] == [0, 0]


def test_admin_replay_action_on_users_queues_a_replay_with_progress(
    client, superuser, user, django_capture_on_commit_callbacks
):
    month_of_samples(user, *months_ago(0), days=1)
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:accounts_user_changelist"),
            {"action": "replay_hot_window", "_selected_action": [user.pk]},
        )
    assert response.status_code == 302
    job = RetentionJob.objects.get(kind="replay")
    assert job.params["user"] == user.pk
    assert job.chunks_total >= 2 and job.chunks_done == job.chunks_total and job.status == "done"
    listing = client.get(reverse("admin:lifecycle_retentionjob_changelist")).content.decode()
    assert f"{job.chunks_done}/{job.chunks_total}" in listing


def test_clinicians_cannot_restore_their_patients_months(client, user, care_team):
    from accounts import care

    clinician = care.clinician_enable_admin(user=care_team.clinician)
    year, month = months_ago(6)
    month_of_samples(user, year, month, days=1)
    retention.run_archive()
    client.force_login(clinician)
    listing = client.get(reverse("admin:lifecycle_archivedmonth_changelist"))
    assert listing.status_code == 200
    ids = list(ArchivedMonth.objects.values_list("pk", flat=True))
    client.post(
        reverse("admin:lifecycle_archivedmonth_changelist"),
        {"action": "restore_months", "_selected_action": ids},
    )
    assert not HealthMetric.objects.filter(user=user).exists()
    assert not RetentionJob.objects.filter(kind="restore").exists()


def test_nightly_jobs_are_scheduled_registered_and_on_the_maintenance_queue(settings):
    from healthtrack.celery import app

    scheduled = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    for name in ("lifecycle.archive_raw_samples", "lifecycle.apply_retention"):
        assert name in scheduled and name in app.tasks
        assert app.amqp.router.route({}, name)["queue"].name == "maintenance"


def test_the_nightly_tasks_record_their_runs(user):
    from healthtrack.lifecycle import tasks

    year, month = months_ago(6)
    made = month_of_samples(user, year, month, days=1)
    job_id = tasks.archive_raw_samples.delay().get()
    assert RetentionJob.objects.get(pk=job_id).rows_archived == len(made)
    ids = tasks.apply_retention.delay().get()
    assert RetentionJob.objects.filter(pk__in=ids, status="done").count() == 5


def test_admin_replay_action_on_restored_months_rebuilds_their_rollups(
    client, superuser, user, django_capture_on_commit_callbacks
):
    from healthtrack.lifecycle import services
    from metrics.models import DailyRollup
    from tests.lifecycle.data import rollup_snapshot

    year, month = months_ago(6)
    month_of_samples(user, year, month)
    expected = rollup_snapshot(user)
    retention.run_archive()
    services.archive_restore(user_id=user.pk, first=(year, month), last=(year, month))
    DailyRollup.objects.filter(user=user).update(value=-1)
    client.force_login(superuser)
    ids = list(ArchivedMonth.objects.filter(user=user).values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:lifecycle_archivedmonth_changelist"),
            {"action": "replay_months", "_selected_action": ids},
        )
    assert response.status_code == 302
    assert rollup_snapshot(user) == expected
    assert RetentionJob.objects.filter(kind="replay", status="done").count() == 2
