"""Every change list and change page of every registered model, as each role: superuser,
admin clinician with and without the patient in care, other staff, patient, anonymous.

Health data (admins built on `PatientDataAdminMixin`): superusers everything; clinicians their
patients' rows (and their own), read-only; a row outside their care is "not found" (the admin
redirects to its index); other staff nothing. Audit trails: superusers only. The rest
(infrastructure): superusers; the food catalogue is reference data clinicians may look up."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.admin_access import PatientDataAdminMixin
from accounts.models import AccessLog
from nutrition.models import Food
from tests.healthtrack.roles import build_world

pytestmark = pytest.mark.django_db

# Someone's health data (or who may see it): scoped per patient. Goals join when they land.
HEALTH_MODELS = {
    "accounts.user",
    "accounts.careteam",
    "accounts.sharegrant",
    "metrics.device",
    "metrics.healthmetric",
    "metrics.hourlyrollup",
    "metrics.dailyrollup",
    "metrics.idempotencyrecord",
    "nutrition.nutritionlog",
    "nutrition.nutritiontargets",
    "insights.healthinsight",
    "insights.healthalert",
    "goals.healthgoal",
    "goals.careprogram",
    "goals.programadherence",
    "goals.programlog",
    "portability.importjob",
    "lifecycle.archivedmonth",
}
VIEWABLE_BY_CLINICIANS = {Food}


def is_health(model) -> bool:
    return model._meta.label_lower in HEALTH_MODELS


def test_every_health_model_admin_is_scoped_per_patient():
    registered_labels = {m._meta.label_lower for m in admin.site._registry}
    assert registered_labels >= HEALTH_MODELS
    for model, model_admin in admin.site._registry.items():
        if is_health(model):
            assert isinstance(model_admin, PatientDataAdminMixin), model


@pytest.fixture
def world(db):
    return build_world()


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change(obj, model=None) -> str:
    meta = (model or type(obj))._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def registered():
    return list(admin.site._registry.items())


def row_of(world, model, model_admin):
    obj = world.rows.get(model) or world.other_rows.get(model)
    if obj is None:  # a model registered later: whatever the superuser sees
        request = RequestFactory().get("/admin/")
        request.user = world.superuser
        obj = model_admin.get_queryset(request).first()
    return obj


def test_every_registered_model_has_a_row_in_the_world(world):
    known = {*world.rows, *world.other_rows}
    assert [m._meta.label for m, _ in registered() if m not in known] == []


def test_superuser_opens_every_change_list_and_change_page(client, world):
    client.force_login(world.superuser)
    for model, model_admin in registered():
        response = client.get(changelist(model))
        assert response.status_code == 200, model
        obj = row_of(world, model, model_admin)
        if obj is not None:
            assert client.get(change(obj, model)).status_code == 200, model
            other = world.stranger_rows.get(model)
            if other is not None:
                assert client.get(change(other, model)).status_code == 200, model
                shown = set(response.context["cl"].result_list.values_list("pk", flat=True))
                assert {obj.pk, other.pk} <= shown, model


def test_caring_clinician_reads_their_patients_rows_only_and_read_only(client, world):
    client.force_login(world.caring)
    for model, model_admin in registered():
        list_response = client.get(changelist(model))
        obj = row_of(world, model, model_admin)
        if is_health(model):
            assert list_response.status_code == 200, model
            owners = {model_admin.owner_id_of(o) for o in list_response.context["cl"].result_list}
            assert owners <= {world.patient.pk, world.caring.pk}, model
            if obj is not None:
                assert model_admin.owner_id_of(obj) in owners, model
                page = client.get(change(obj, model))
                assert page.status_code == 200, model
                assert 'name="_save"' not in page.content.decode(), model
                assert client.post(change(obj, model), {}).status_code == 403, model
            other = world.stranger_rows.get(model)
            if other is not None:
                assert client.get(change(other, model)).status_code == 302, model
        elif model in VIEWABLE_BY_CLINICIANS:
            assert list_response.status_code == 200, model
            page = client.get(change(obj, model))
            assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
        else:
            assert list_response.status_code == 403, model
            if obj is not None:
                assert client.get(change(obj, model)).status_code == 403, model


def test_clinician_without_the_patient_sees_none_of_their_rows(client, world):
    client.force_login(world.other_doctor)
    for model, model_admin in registered():
        if not is_health(model):
            continue
        response = client.get(changelist(model))
        assert response.status_code == 200, model
        owners = {model_admin.owner_id_of(o) for o in response.context["cl"].result_list}
        assert world.patient.pk not in owners, model
        obj = world.rows.get(model)
        if obj is not None:
            assert client.get(change(obj, model)).status_code == 302, model
    assert not AccessLog.objects.filter(actor=world.other_doctor).exists()


def test_other_staff_see_no_model_they_have_no_permission_for(client, world):
    client.force_login(world.staff)
    for model, model_admin in registered():
        assert client.get(changelist(model)).status_code == 403, model
        obj = row_of(world, model, model_admin)
        if obj is not None:
            assert client.get(change(obj, model)).status_code == 403, model


@pytest.mark.parametrize("who", ["patient", "anonymous"])
def test_patients_and_anonymous_are_sent_to_the_login(client, world, who):
    if who == "patient":
        client.force_login(world.patient)
    for model, model_admin in registered():
        urls = [changelist(model)]
        obj = row_of(world, model, model_admin)
        if obj is not None:
            urls.append(change(obj, model))
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_every_health_admin_has_list_tools_and_select_related(world):
    for model, model_admin in registered():
        if not is_health(model):
            continue
        assert len(model_admin.list_display) >= 3, model
        assert model_admin.search_fields, model
        assert model_admin.list_filter or model._meta.model_name == "idempotencyrecord", model
        assert model_admin.date_hierarchy, model
        if model_admin.owner_field is not None:
            assert model_admin.list_select_related, model


def test_clinician_change_page_reads_are_logged_once_each(client, world):
    client.force_login(world.caring)
    for model, _ in registered():
        if is_health(model) and model in world.rows:
            obj = world.rows[model]
            before = AccessLog.objects.filter(actor=world.caring).count()
            client.get(change(obj, model))
            logged = AccessLog.objects.filter(actor=world.caring).order_by("-id")
            assert logged.count() == before + 1, model
            row = logged.first()
            assert (row.owner_id, row.via) == (world.patient.pk, "admin"), model


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize("as_clinician", [False, True])
def test_health_change_lists_have_no_n_plus_one(client, world, as_clinician):
    from tests.healthtrack.roles import health_rows

    viewer = world.caring if as_clinician else world.superuser
    client.force_login(viewer)
    models = [m for m, _ in registered() if is_health(m)]
    few = {m: _queries(client, changelist(m)) for m in models}
    for n in range(3):
        # More rows of the same patient (different days so rollups and alerts add up).
        extra = health_rows(world.patient, tag=f"x{n}", days_ago=n + 1)
        assert extra
    many = {m: _queries(client, changelist(m)) for m in models}
    assert many == few
