from __future__ import annotations

import io
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import models
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import AccessLog
from accounts.services import user_soft_delete
from healthtrack.celery import app as celery_app
from healthtrack.changes.models import ChangeEvent, ChangeSequence
from healthtrack.portability import services, tasks
from healthtrack.portability.models import ImportJob
from insights.models import HealthInsight
from metrics.models import HealthMetric
from tests.accounts.care_factories import AccessLogFactory, CareTeamFactory, ShareGrantFactory
from tests.accounts.factories import UserFactory
from tests.insights.factories import HealthInsightFactory
from tests.portability.data import populate

pytestmark = pytest.mark.django_db

User = get_user_model()


def user_foreign_keys() -> list[tuple[type[models.Model], models.ForeignKey]]:
    """Every (model, foreign key to the user model) in the project, found by introspection,
    so a table added later is checked without touching this test."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is User:
                found.append((model, field))
    return found


def owned_rows(user_id: int) -> dict[type[models.Model], set]:
    """Rows that are the user's: a CASCADE foreign key to them, their JWTs (SET_NULL in
    simplejwt, purged all the same), the blacklist entries of those tokens and their change
    feed (a plain `user_id`, written with each data write)."""
    owned: dict[type[models.Model], set] = {}
    for model, field in user_foreign_keys():
        if field.remote_field.on_delete is models.CASCADE or model is OutstandingToken:
            pks = set(
                model._base_manager.filter(**{field.attname: user_id}).values_list("pk", flat=True)
            )
            owned.setdefault(model, set()).update(pks)
    owned[User] = {user_id}
    for model in (ChangeEvent, ChangeSequence):
        owned[model] = set(model.objects.filter(user_id=user_id).values_list("pk", flat=True))
    owned[BlacklistedToken] = set(
        BlacklistedToken.objects.filter(token__user_id=user_id).values_list("pk", flat=True)
    )
    return owned


def every_row() -> dict[type[models.Model], set]:
    return {
        model: set(model._base_manager.values_list("pk", flat=True))
        for model in apps.get_models()
        if not model._meta.proxy
    }


@pytest.fixture
def rich_user(user, other_user, clinician, tmp_path):
    """`user` with data in every table, beside `other_user` with the same kinds of data."""
    for person in (user, other_user):
        populate(person)
        RefreshToken.for_user(person).blacklist()
        RefreshToken.for_user(person)
        CareTeamFactory(clinician=clinician, patient=person)
        AccessLogFactory(actor=clinician, owner=person)
        job = ImportJob.objects.create(user=person, kind="csv_metrics")
        job.file.save("upload.csv", ContentFile(b"metric_type,value\n"))
    ShareGrantFactory(owner=other_user, grantee=UserFactory(role="clinician"))
    # The user wrote something on another person's record: it stays, without its author.
    HealthInsightFactory(user=other_user, kind="clinician_note", author=user)
    return user


def test_purge_removes_every_row_of_the_user_table_by_table_and_nothing_of_anyone_else(
    rich_user, other_user
):
    user_id = rich_user.pk
    owned = owned_rows(user_id)
    before = every_row()
    assert len(owned[HealthMetric]) == 11 and owned[ImportJob] and owned[OutstandingToken]

    services.account_purge(user=rich_user)

    after = every_row()
    for model, field in user_foreign_keys():
        if model is AccessLog:
            continue  # the read trail is kept (no FK constraint); see the next test
        left = model._base_manager.filter(**{field.attname: user_id}).count()
        assert left == 0, f"{model._meta.label}.{field.name} still has {left} row(s)"
    for model, pks in before.items():
        removed = pks - after[model]
        assert removed == owned.get(model, set()), model._meta.label
    assert not User.objects.filter(pk=user_id).exists()
    assert HealthMetric.objects.filter(user=other_user).count() == 11
    note = HealthInsight.objects.get(user=other_user, kind="clinician_note")
    assert note.author_id is None


def test_purge_keeps_audit_trails_without_the_users_values(rich_user, other_user):
    user_id = rich_user.pk
    metric_ids = list(HealthMetric.objects.filter(user=rich_user).values_list("pk", flat=True))
    metric_type = ContentType.objects.get_for_model(HealthMetric)
    about_user = LogEntry.objects.filter(content_type=metric_type, object_id__in=metric_ids)
    assert about_user.exists() and all(e.changes for e in about_user)
    access_logs = AccessLog.objects.filter(owner_id=user_id).count()

    services.account_purge(user=rich_user)

    kept = LogEntry.objects.filter(content_type=metric_type, object_id__in=metric_ids)
    assert kept.count() == about_user.count()
    assert all(e.changes is None and e.object_repr == "health metric (purged)" for e in kept)
    user_entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=user_id
    )
    assert rich_user.email not in str(list(user_entries.values_list("changes", "object_repr")))
    purge_entry = user_entries.get(action=LogEntry.Action.DELETE)
    assert purge_entry.object_repr == f"user {user_id} (purged)"
    assert '"metrics.HealthMetric": 11' in purge_entry.changes["purged"][1]
    assert AccessLog.objects.filter(owner_id=user_id).count() == access_logs
    # Another person's history is untouched.
    others = HealthMetric.objects.filter(user=other_user).values_list("pk", flat=True)
    assert all(
        e.changes
        for e in LogEntry.objects.filter(content_type=metric_type, object_id__in=list(others))
    )


def test_purge_scrubs_the_audit_entries_of_rows_the_user_deleted_before(rich_user, other_user):
    from metrics import services as metric_services
    from nutrition import services as nutrition_services

    when = timezone.now() - timedelta(hours=2)
    mine = metric_services.metric_create(
        user=rich_user, metric_type="weight", value=81.4, recorded_at=when
    )
    theirs = metric_services.metric_create(
        user=other_user, metric_type="weight", value=64.2, recorded_at=when
    )
    meal = nutrition_services.nutrition_log_create(
        user=rich_user, meal_type="lunch", logged_at=when, description="Soup", calories=412
    )
    ids = {"mine": mine.pk, "theirs": theirs.pk, "meal": meal.pk}
    metric_services.metric_delete(metric=mine)
    metric_services.metric_delete(metric=theirs)
    nutrition_services.nutrition_log_delete(log=meal)

    def entries(model, pk):
        content_type = ContentType.objects.get_for_model(model)
        return list(LogEntry.objects.filter(content_type=content_type, object_id=pk))

    from nutrition.models import NutritionLog

    assert any("81.4" in str(e.changes) for e in entries(HealthMetric, ids["mine"]))
    assert any("412" in str(e.changes) for e in entries(NutritionLog, ids["meal"]))

    services.account_purge(user=rich_user)

    gone = entries(HealthMetric, ids["mine"]) + entries(NutritionLog, ids["meal"])
    assert len(gone) >= 4  # created and deleted, for each
    assert all(e.changes is None for e in gone)
    assert not any("81.4" in str(e.serialized_data) or "412" in e.changes_text for e in gone)
    # The other person's deleted reading keeps its history.
    assert any("64.2" in str(e.changes) for e in entries(HealthMetric, ids["theirs"]))


def test_purge_deletes_the_users_stored_uploads(rich_user, _private_media):
    job = ImportJob.objects.get(user=rich_user)
    stored = _private_media / job.file.name
    assert stored.exists()

    services.account_purge(user=rich_user)

    assert not stored.exists()
    assert ImportJob.objects.count() == 1  # the other user's


def test_beat_job_purges_accounts_deleted_longer_ago_than_the_grace_period(user, other_user):
    populate(user)
    populate(other_user)
    user_soft_delete(user=user)
    user_soft_delete(user=other_user)
    grace = settings.ACCOUNT_PURGE_AFTER_DAYS
    User.objects.filter(pk=user.pk).update(
        deleted_at=timezone.now() - timedelta(days=grace, minutes=1)
    )
    User.objects.filter(pk=other_user.pk).update(
        deleted_at=timezone.now() - timedelta(days=grace - 1)
    )

    assert tasks.purge_deleted_accounts.delay().get() == 1

    assert not User.objects.filter(pk=user.pk).exists()
    assert HealthMetric.objects.filter(user=other_user).count() == 11
    # Run again: nothing more is due, nothing breaks.
    assert tasks.purge_deleted_accounts.delay().get() == 0


def test_live_accounts_are_never_purged_by_the_job(user):
    populate(user)
    assert services.deleted_accounts_purge(now=timezone.now() + timedelta(days=3650)) == 0
    assert User.objects.filter(pk=user.pk).exists()


def test_purge_runs_daily_on_the_maintenance_queue_and_imports_on_theirs():
    [entry] = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "portability.purge_deleted_accounts"
    ]
    assert entry["schedule"].hour == {3}
    router = celery_app.amqp.router
    assert router.route({}, "portability.purge_deleted_accounts")["queue"].name == "maintenance"
    assert router.route({}, "portability.import_file")["queue"].name == "imports"
    assert settings.ACCOUNT_PURGE_AFTER_DAYS == 30


def test_deleting_the_account_through_the_api_deactivates_now_and_purges_later(auth_client, user):
    populate(user)
    assert auth_client.delete(f"/api/v1/users/{user.pk}").status_code == 204
    user.refresh_from_db()
    assert not user.is_active and user.deleted_at is not None
    assert services.deleted_accounts_purge() == 0  # within the grace period

    later = user.deleted_at + timedelta(days=settings.ACCOUNT_PURGE_AFTER_DAYS, seconds=1)
    assert services.deleted_accounts_purge(now=later) == 1
    assert not HealthMetric.objects.filter(user_id=user.pk).exists()


def test_purge_account_command_deactivates_or_purges_now(user):
    populate(user)
    out = io.StringIO()
    call_command("purge_account", user.email.upper(), stdout=out)
    user.refresh_from_db()
    assert user.deleted_at is not None and not user.is_active
    assert "will be purged after" in out.getvalue()
    assert HealthMetric.objects.filter(user=user).count() == 11

    call_command("purge_account", user.email, "--now", stdout=out)
    assert not User.objects.filter(pk=user.pk).exists()
    assert f"Purged account {user.pk}" in out.getvalue()


def test_admin_action_purges_selected_deleted_accounts_only(client, user, other_user):
    admin_user = UserFactory(is_staff=True, is_superuser=True, role="admin")
    client.force_login(admin_user)
    populate(user)
    user_soft_delete(user=user)

    response = client.post(
        "/admin/accounts/user/",
        {"action": "purge_accounts_now", "_selected_action": [user.pk, other_user.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert not User.objects.filter(pk=user.pk).exists()
    assert User.objects.filter(pk=other_user.pk).exists()
    entry = LogEntry.objects.get(object_repr=f"user {user.pk} (purged)")
    assert entry.actor == admin_user
