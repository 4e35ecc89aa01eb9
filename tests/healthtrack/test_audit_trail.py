"""The audit trail holds up: change rows (django-auditlog `LogEntry`) for create, update and
delete of every health model, through the services and through the admin, name the actor and
never carry the plaintext of an encrypted field (`notes`, `description`, `message`,
`medical_history`, `date_of_birth`); reads by others (API, admin, patient page, share link)
are in the access log with actor, IP and request id."""

from __future__ import annotations

from datetime import UTC, date, timedelta

import pytest
from auditlog.models import LogEntry
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import care, sharing
from accounts.models import AccessLog, CareTeam, ShareGrant, User
from insights import services as insight_services
from insights.models import HealthInsight
from metrics import services as metric_services
from metrics.models import Device, HealthMetric
from nutrition import services as nutrition_services
from nutrition.models import NutritionLog, NutritionTargets
from tests.accounts.factories import ClinicianFactory, UserFactory
from tests.healthtrack.roles import (
    SECRET_BIRTHDAY,
    SECRET_DIARY,
    SECRET_HISTORY,
    SECRET_MESSAGE,
    SECRET_NOTE,
    SECRETS,
    build_world,
)

pytestmark = pytest.mark.django_db

LOGENTRY_TEXT_FIELDS = ["changes", "changes_text", "object_repr", "serialized_data"]


def assert_no_plaintext_in_the_change_log():
    for entry in LogEntry.objects.all():
        for field in [*LOGENTRY_TEXT_FIELDS, "additional_data"]:
            text = str(getattr(entry, field, "") or "")
            for secret in SECRETS:
                assert secret not in text, (entry.content_type, field, secret)


def actions_for(model) -> set[int]:
    content_type = ContentType.objects.get_for_model(model)
    return set(LogEntry.objects.filter(content_type=content_type).values_list("action", flat=True))


CRUD = {LogEntry.Action.CREATE, LogEntry.Action.UPDATE, LogEntry.Action.DELETE}


def test_create_update_delete_of_every_health_model_is_audited_without_plaintext():
    when = timezone.now().astimezone(UTC) - timedelta(hours=1)
    patient = UserFactory(medical_history=SECRET_HISTORY, date_of_birth=SECRET_BIRTHDAY)
    doctor = ClinicianFactory()

    device = metric_services.device_create(
        user=patient, device_type="iphone", name="Phone", identifier="ph-1"
    )
    metric_services.device_update(device=device, name="Phone 2")
    metric = metric_services.metric_create(
        user=patient, metric_type="weight", value=80, recorded_at=when, notes=SECRET_NOTE
    )
    metric_services.metric_update(metric=metric, value=81, notes=SECRET_NOTE + "-2")
    metric_services.metric_delete(metric=metric)
    device.delete()

    log = nutrition_services.nutrition_log_create(
        user=patient, meal_type="dinner", logged_at=when, description=SECRET_DIARY, calories=700
    )
    nutrition_services.nutrition_log_update(log=log, description=SECRET_DIARY + "-2", calories=720)
    nutrition_services.nutrition_log_delete(log=log)
    targets = nutrition_services.nutrition_targets_set(user=patient, calories=2000)
    nutrition_services.nutrition_targets_set(user=patient, calories=2200)
    targets.delete()

    team = care.care_team_add(clinician=doctor, patient=patient)
    note = insight_services.clinician_note_create(
        author=doctor, patient=patient, title="Note", message=SECRET_MESSAGE
    )
    insight_services.insight_mark(insight=note, read=True)
    note.delete()
    care.care_team_end(membership=team)
    team.delete()

    grant = sharing.share_grant_create(
        owner=patient, metric_types=["steps"], date_from=date.today(), date_to=date.today()
    ).grant
    sharing.share_grant_revoke(grant=grant)
    grant.delete()

    patient.medical_history = SECRET_HISTORY + "-2"
    patient.date_of_birth = SECRET_BIRTHDAY + timedelta(days=1)
    patient.first_name = "Renamed"
    patient.save()
    patient.delete()

    for model in (Device, HealthMetric, NutritionLog, NutritionTargets, CareTeam, ShareGrant, User):
        assert actions_for(model) >= CRUD, model
    assert actions_for(HealthInsight) >= CRUD
    assert_no_plaintext_in_the_change_log()


def _post_data(form) -> dict:
    """What a browser would post back for an unchanged admin form."""
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        bound = form[name]
        value = bound.value()
        if isinstance(field.widget, forms.MultiWidget):
            for i, part in enumerate(field.widget.decompress(value)):
                data[f"{bound.html_name}_{i}"] = "" if part is None else part
        elif isinstance(field.widget, forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(v) for v in value]
        elif value is not None:
            data[bound.html_name] = value
    return data


def test_changes_made_in_the_admin_name_the_superuser_and_hide_the_plaintext(client):
    world = build_world()
    client.force_login(world.superuser)
    url = reverse("admin:accounts_user_change", args=[world.patient.pk])
    data = _post_data(client.get(url).context["adminform"].form)
    data.update(
        medical_history=SECRET_HISTORY + " (edited)", date_of_birth="1971-07-30", first_name="Ed"
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    world.patient.refresh_from_db()
    assert world.patient.medical_history.endswith("(edited)")

    targets = world.rows[NutritionTargets]
    url = reverse("admin:nutrition_nutritiontargets_change", args=[targets.pk])
    assert client.post(url, {"calories": 2500, "protein_g": "", "water_ml": ""}).status_code == 302
    insight = world.rows[HealthInsight]
    delete_url = reverse("admin:insights_healthinsight_delete", args=[insight.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 302

    for obj, field in ((world.patient, "first_name"), (targets, "calories")):
        entry = (
            LogEntry.objects.get_for_object(obj).filter(action=LogEntry.Action.UPDATE).latest("pk")
        )
        assert entry.actor == world.superuser and field in entry.changes_dict, obj
        assert not {"medical_history", "date_of_birth"} & set(entry.changes_dict)
    deleted = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(HealthInsight),
        object_pk=str(insight.pk),
        action=LogEntry.Action.DELETE,
    ).get()
    assert deleted.actor == world.superuser
    assert_no_plaintext_in_the_change_log()


def test_reads_by_others_are_in_the_access_log_with_actor_ip_and_request_id(client):
    world = build_world()
    baseline = set(AccessLog.objects.values_list("pk", flat=True))
    # API (care team), admin change page, patient page, share link.
    api = APIClient()
    api.force_authenticate(world.caring)
    api.get(f"/api/v1/health-metrics/user/{world.patient.pk}", HTTP_X_REQUEST_ID="req-api-1")
    client.force_login(world.caring)
    metric = world.rows[HealthMetric]
    client.get(
        reverse("admin:metrics_healthmetric_change", args=[metric.pk]),
        HTTP_X_REQUEST_ID="req-admin-1",
    )
    client.get(
        reverse("admin:patient_page", args=[world.patient.pk]), HTTP_X_REQUEST_ID="req-page-1"
    )
    link = sharing.share_grant_create(
        owner=world.patient, metric_types=["steps"], date_from=date.today(), date_to=date.today()
    )
    client.logout()
    client.post(link.link_path, {"code": link.code}, HTTP_X_REQUEST_ID="req-link-1")

    rows = AccessLog.objects.exclude(pk__in=baseline).order_by("id")
    assert [(r.request_id, r.via, r.actor_id) for r in rows] == [
        ("req-api-1", "care_team", world.caring.pk),
        ("req-admin-1", "admin", world.caring.pk),
        ("req-page-1", "admin", world.caring.pk),
        ("req-link-1", "share_link", None),
    ]
    assert all(r.owner_id == world.patient.pk and r.ip == "127.0.0.1" for r in rows)
    # The patient sees who read their data.
    patient_api = APIClient()
    patient_api.force_authenticate(world.patient)
    listed = patient_api.get("/api/v1/users/me/access-log").json()
    listed = listed.get("results", listed)
    assert {r.pk for r in rows} <= {r["id"] for r in listed}
    assert {"care_team", "admin", "share_link"} <= {r["via"] for r in listed}
