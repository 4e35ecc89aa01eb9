"""A share grant names metric types from the metrics app's catalogue, and only those: an
unknown code is refused by name (service, API, sharing page) and nothing is written. The
catalogue reaches accounts through `sharing.register_metric_type_catalogue` (metrics'
`AppConfig.ready()`), so accounts never imports metrics."""

from __future__ import annotations

import ast
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils import timezone

from accounts import checks, sharing
from accounts.models import ShareGrant
from metrics.registry import METRIC_TYPES
from tests.accounts.factories import ClinicianFactory
from tests.healthtrack.dbstate import changed_tables, snapshot

pytestmark = pytest.mark.django_db

TODAY = timezone.now().astimezone(UTC).date()
WINDOW = {"date_from": TODAY - timedelta(days=7), "date_to": TODAY}
API_WINDOW = {"date_from": str(TODAY - timedelta(days=7)), "date_to": str(TODAY)}


def _post(client, **body):
    return client.post("/api/v1/share-grants", {**API_WINDOW, **body}, format="json")


# --- The service ---------------------------------------------------------------------------------


def test_an_unknown_metric_type_is_refused_by_code_and_nothing_is_written(user):
    before = snapshot()
    with pytest.raises(ValidationError) as excinfo:
        sharing.share_grant_create(
            owner=user, metric_types=["steps", "no_such_metric", "pulse_ox"], **WINDOW
        )
    [message] = excinfo.value.message_dict["metric_types"]
    assert message.startswith("Unknown metric types: 'no_such_metric', 'pulse_ox'. Known: ")
    assert "'steps'" not in message.split(". Known: ")[0]
    assert changed_tables(before, snapshot()) == []


def test_a_named_clinician_grant_with_an_unknown_metric_type_is_refused(user):
    doctor = ClinicianFactory()
    with pytest.raises(ValidationError) as excinfo:
        sharing.share_grant_create(
            owner=user, clinician=doctor, metric_types=["no_such_metric"], **WINDOW
        )
    assert excinfo.value.message_dict["metric_types"][0].startswith(
        "Unknown metric type: 'no_such_metric'."
    )
    assert not ShareGrant.objects.exists()


def test_every_metric_type_of_the_catalogue_can_be_shared(user):
    created = sharing.share_grant_create(owner=user, metric_types=list(METRIC_TYPES), **WINDOW)
    assert created.grant.metric_types == list(METRIC_TYPES)


def test_the_catalogue_is_the_metrics_registry_itself_not_a_copy(user, monkeypatch):
    assert set(sharing.known_metric_types()) == set(METRIC_TYPES)
    with pytest.raises(ValidationError):
        sharing.clean_metric_types(["brand_new_type"])
    monkeypatch.setitem(METRIC_TYPES, "brand_new_type", METRIC_TYPES["steps"])
    assert sharing.clean_metric_types(["brand_new_type"]) == ["brand_new_type"]


def test_repeated_codes_are_shared_once_in_the_order_first_given(user):
    created = sharing.share_grant_create(
        owner=user, metric_types=["weight", "steps", "weight", "steps"], **WINDOW
    )
    assert created.grant.metric_types == ["weight", "steps"]


def test_without_a_catalogue_sharing_fails_loudly_and_the_system_check_says_so(user, monkeypatch):
    monkeypatch.setattr(sharing, "_metric_type_catalogue", None)
    with pytest.raises(ImproperlyConfigured):
        sharing.share_grant_create(owner=user, metric_types=["steps"], **WINDOW)
    assert [e.id for e in checks.share_grants_know_the_metric_types()] == ["accounts.E003"]
    assert not ShareGrant.objects.exists()


def test_the_system_check_passes_with_the_metrics_catalogue_registered():
    assert checks.share_grants_know_the_metric_types() == []


def test_accounts_never_imports_the_metrics_app():
    higher = {"metrics", "nutrition", "goals", "insights"}
    root = Path(sharing.__file__).resolve().parent
    offenders = []
    for path in root.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in higher]
    assert offenders == []


# --- The API -------------------------------------------------------------------------------------


def test_the_api_refuses_unknown_metric_types_with_400_naming_them(auth_client):
    before = snapshot()
    response = _post(auth_client, metric_types=["no_such_metric", "steps", "no_such_metric"])
    assert response.status_code == 400
    [message] = response.json()["metric_types"]
    assert message.startswith("Unknown metric type: 'no_such_metric'. Known: ")
    assert "steps" in message.split(". Known: ")[1]  # the accepted codes are listed
    assert changed_tables(before, snapshot()) == []


def test_the_api_reports_an_unknown_metric_type_with_the_other_fields_errors(auth_client):
    response = _post(
        auth_client, metric_types=["no_such_metric"], date_from="soon", label="x" * 101
    )
    assert response.status_code == 400
    assert set(response.json()) == {"metric_types", "date_from", "label"}
    assert not ShareGrant.objects.exists()


def test_the_api_refuses_an_unknown_metric_type_for_a_named_clinician_too(auth_client):
    doctor = ClinicianFactory()
    response = _post(auth_client, clinician_email=doctor.email, metric_types=["no_such_metric"])
    assert response.status_code == 400
    assert "'no_such_metric'" in response.json()["metric_types"][0]
    assert not ShareGrant.objects.exists()


def test_the_api_shares_repeated_codes_once(auth_client):
    response = _post(auth_client, metric_types=["steps", "weight", "steps"])
    assert response.status_code == 201, response.json()
    assert response.json()["metric_types"] == ["steps", "weight"]
    assert ShareGrant.objects.get().metric_types == ["steps", "weight"]


def test_the_api_refuses_an_empty_list_of_metric_types(auth_client):
    response = _post(auth_client, metric_types=[])
    assert response.status_code == 400
    assert "metric_types" in response.json()
    assert not ShareGrant.objects.exists()


def test_the_api_schema_points_to_the_catalogue_for_metric_type_codes(auth_client):
    schema = auth_client.get("/api/schema/?format=json").json()
    field = schema["components"]["schemas"]["ShareGrantCreateRequest"]["properties"]
    assert "/api/v1/metric-types" in field["metric_types"]["description"]


# --- The sharing page ----------------------------------------------------------------------------


def test_the_sharing_page_refuses_an_unknown_metric_type_by_name(client, user):
    client.force_login(user)
    before = snapshot()
    response = client.post(
        "/settings/sharing/",
        {
            "share-metric_types": ["steps", "no_such_metric"],
            "share-date_from": str(TODAY - timedelta(days=7)),
            "share-date_to": str(TODAY),
            "share-expires_on": str(TODAY + timedelta(days=7)),
            "share-clinician_email": "",
            "share-label": "",
        },
    )
    assert response.status_code == 400
    errors = response.context["share_form"].errors["metric_types"]
    assert any("no_such_metric" in error for error in errors)
    assert changed_tables(before, snapshot()) == []
