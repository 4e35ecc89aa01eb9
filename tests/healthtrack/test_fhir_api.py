"""The FHIR R4 read and search API under /fhir/ (healthtrack/fhir): every answer validates as
R4 (fhir.resources 6.4.0, FHIR 4.0.1), searches and pages work, errors are OperationOutcomes,
and the token's scopes and the access function decide what it reaches."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest
from django.test import Client
from fhir.resources import __fhir_version__
from fhir.resources.bundle import Bundle
from fhir.resources.capabilitystatement import CapabilityStatement
from fhir.resources.goal import Goal
from fhir.resources.observation import Observation
from fhir.resources.operationoutcome import OperationOutcome
from fhir.resources.patient import Patient

from healthtrack.portability import fhir as export_fhir
from metrics.models import HealthMetric
from nutrition.models import NutritionLog
from tests.accounts.oauth_helpers import bearer, issued_token, public_app
from tests.portability.data import populate

pytestmark = pytest.mark.django_db

EVERYTHING = "patient/Patient.rs patient/Observation.rs patient/Goal.rs"


@pytest.fixture
def data(user, other_user):
    populate(other_user)
    return populate(user)


@pytest.fixture
def app():
    return public_app()


@pytest.fixture
def token(user, app, data):
    return issued_token(user, app, EVERYTHING)


def get(token: str, url: str):
    response = Client().get(url, **bearer(token))
    assert response["Content-Type"] == "application/fhir+json", response.content
    return response


def ok(token: str, url: str) -> dict:
    response = get(token, url)
    assert response.status_code == 200, response.content
    return response.json()


def search_all(token: str, url: str) -> list[dict]:
    """Every resource of a search, following the `next` links."""
    resources, pages = [], 0
    while url:
        bundle = ok(token, url)
        Bundle.parse_obj(bundle)
        resources += [e["resource"] for e in bundle.get("entry", [])]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        if url:
            parsed = urlparse(url)
            url = f"{parsed.path}?{parsed.query}"
        pages += 1
        assert pages < 50
    return resources


def codes(resources: list[dict]) -> list[str]:
    return [r["code"]["coding"][0]["code"] for r in resources]


def test_observation_search_is_a_valid_r4_searchset_of_the_patients_data(token, user):
    bundle = ok(token, "/fhir/Observation")

    assert __fhir_version__ == "4.0.1"
    parsed = Bundle.parse_obj(bundle)
    assert parsed.type == "searchset"
    resources = [e["resource"] for e in bundle["entry"]]
    for resource in resources:
        Observation.parse_obj(resource)
    # 11 measurements (the blood-pressure pair as one panel) and 3 diary entries.
    assert len(resources) == 13
    assert {r["subject"]["reference"] for r in resources} == {f"Patient/user-{user.pk}"}
    assert all(
        e["fullUrl"].endswith(f"/fhir/Observation/{e['resource']['id']}") for e in bundle["entry"]
    )
    assert codes(resources).count("nutrition-entry") == 3


def test_blood_pressure_is_one_observation_with_two_components(token):
    [panel] = search_all(token, "/fhir/Observation?code=85354-9")[:1]
    assert panel["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "85354-9",
        "display": "Blood pressure panel with all children optional",
    }
    assert [c["code"]["coding"][0]["code"] for c in panel["component"]] == ["8480-6", "8462-4"]
    assert [c["valueQuantity"]["value"] for c in panel["component"]] == [128.0, 84.0]
    assert "valueQuantity" not in panel
    assert panel["category"][0]["coding"][0]["code"] == "vital-signs"
    assert panel["meta"]["profile"] == [
        "http://hl7.org/fhir/StructureDefinition/vitalsigns",
        "http://hl7.org/fhir/StructureDefinition/bp",
    ]
    # The lone systolic reading stays an Observation of its own.
    resources = search_all(token, "/fhir/Observation?code=http://loinc.org|85354-9")
    assert codes(resources) == ["85354-9", "8480-6"]


def test_the_api_and_the_export_map_a_measurement_the_same_way(token, user):
    exported = json.loads("".join(export_fhir.bundle_chunks(user)))
    exported = {e["resource"]["id"]: e["resource"] for e in exported["entry"][1:]}
    for resource in search_all(token, "/fhir/Observation?category=vital-signs,activity,laboratory"):
        twin = exported[resource["id"]]
        for field in ("subject", "meta"):
            resource.pop(field), twin.pop(field)
        assert resource == twin


def test_search_by_code_category_and_date_prefixes(token):
    heart = search_all(token, "/fhir/Observation?code=8867-4")
    assert [r["valueQuantity"]["value"] for r in heart] == [62.0, 71.5]
    assert heart[0]["meta"]["profile"][1].endswith("/heartrate")
    assert heart[0]["valueQuantity"]["code"] == "/min"
    glucose = search_all(token, "/fhir/Observation?category=laboratory")
    assert codes(glucose) == ["2339-0"]
    assert "profile" not in glucose[0]["meta"]
    nutrition = search_all(token, "/fhir/Observation?category=nutrition")
    assert codes(nutrition) == ["nutrition-entry"] * 3
    day_one = search_all(token, "/fhir/Observation?code=55423-8&date=2026-03-02")
    assert [r["valueQuantity"]["value"] for r in day_one] == [1200.0, 800.0]
    later = search_all(token, "/fhir/Observation?code=55423-8&date=ge2026-03-03")
    assert [r["valueQuantity"]["value"] for r in later] == [3000.0]
    window = search_all(
        token, "/fhir/Observation?code=8867-4&date=gt2026-03-02T08:00:00Z&date=lt2026-03-02T09:00Z"
    )
    assert [r["valueQuantity"]["value"] for r in window] == [62.0]
    before = search_all(token, "/fhir/Observation?code=8867-4&date=le2026-03-02T08:05:00%2B00:00")
    assert [r["valueQuantity"]["value"] for r in before] == [62.0]


def test_last_updated_filters_on_when_the_record_changed(token, user):
    assert len(search_all(token, "/fhir/Observation?_lastUpdated=ge2000-01-01")) == 13
    assert search_all(token, "/fhir/Observation?_lastUpdated=lt2000-01-01") == []
    HealthMetric.objects.filter(user=user).update(created_at="2001-01-01T00:00:00Z")
    NutritionLog.objects.filter(user=user).update(updated_at="2001-01-01T00:00:00Z")
    assert search_all(token, "/fhir/Observation?_lastUpdated=gt2002") == []
    assert len(search_all(token, "/fhir/Observation?_lastUpdated=2001-01")) == 13


def test_count_pages_through_next_links_without_gaps_or_repeats(token):
    everything = [r["id"] for r in search_all(token, "/fhir/Observation")]
    paged = [r["id"] for r in search_all(token, "/fhir/Observation?_count=2")]
    assert paged == everything and len(set(paged)) == 13
    first = ok(token, "/fhir/Observation?_count=4&code=55423-8,8867-4")
    assert len(first["entry"]) == 4
    [next_url] = [link["url"] for link in first["link"] if link["relation"] == "next"]
    assert "code=55423-8%2C8867-4" in next_url and "_count=4" in next_url


def test_reads_return_one_valid_resource(token, user, data):
    panel = search_all(token, "/fhir/Observation?code=85354-9")[0]
    assert ok(token, f"/fhir/Observation/{panel['id']}") == panel
    log = NutritionLog.objects.filter(user=user).order_by("pk").first()
    entry = ok(token, f"/fhir/Observation/nutrition-{log.pk}")
    Observation.parse_obj(entry)
    assert [c["code"]["coding"][0]["code"] for c in entry["component"]] == [
        "energy",
        "protein",
        "carbohydrate",
        "fat",
    ]
    assert entry["component"][0]["valueQuantity"]["code"] == "kcal"
    assert "Porridge" not in json.dumps(entry)  # the diary's free text stays out
    patient = ok(token, f"/fhir/Patient/user-{user.pk}")
    Patient.parse_obj(patient)
    assert patient["birthDate"] == "1985-03-14"
    goal = ok(token, f"/fhir/Goal/goal-{data['goal'].pk}")
    Goal.parse_obj(goal)
    assert goal["target"][0]["measure"]["coding"][0]["code"] == "55423-8"
    assert goal["target"][0]["detailQuantity"]["comparator"] == ">="
    assert goal["lifecycleStatus"] == "active"


def test_goal_search_by_status_is_a_valid_bundle(token, data):
    goals = search_all(token, "/fhir/Goal?lifecycle-status=active")
    assert [g["id"] for g in goals] == [f"goal-{data['goal'].pk}"]
    assert search_all(token, "/fhir/Goal?lifecycle-status=completed") == []


def test_patient_search_finds_only_the_tokens_patient(token, user):
    patients = search_all(token, "/fhir/Patient")
    assert [p["id"] for p in patients] == [f"user-{user.pk}"]


def test_the_capability_statement_is_valid_r4_and_public(client):
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    statement = CapabilityStatement.parse_obj(response.json())
    assert statement.fhirVersion == "4.0.1"
    types = {r.type for r in statement.rest[0].resource}
    assert types == {"Patient", "Observation", "Goal"}


@pytest.mark.parametrize(
    ("url", "scope"),
    [
        ("/fhir/Observation", "patient/Goal.rs"),
        ("/fhir/Goal", "patient/Observation.rs"),
        ("/fhir/Patient/user-{pk}", "patient/Observation.rs"),
        ("/fhir/Observation/metric-1", "patient/Patient.rs"),
    ],
)
def test_a_scope_the_token_lacks_is_403_with_an_operation_outcome(user, app, data, url, scope):
    token = issued_token(user, app, scope)
    response = get(token, url.format(pk=user.pk))
    assert response.status_code == 403
    outcome = OperationOutcome.parse_obj(response.json())
    assert outcome.issue[0].code == "forbidden"


def test_someone_elses_data_is_404(token, other_user):
    other_metric = HealthMetric.objects.filter(user=other_user).first()
    other_log = NutritionLog.objects.filter(user=other_user).first()
    for url in (
        f"/fhir/Patient/user-{other_user.pk}",
        f"/fhir/Observation?patient=user-{other_user.pk}",
        f"/fhir/Observation?patient=Patient/user-{other_user.pk}",
        f"/fhir/Observation/metric-{other_metric.pk}",
        f"/fhir/Observation/nutrition-{other_log.pk}",
        f"/fhir/Goal?patient=user-{other_user.pk}",
        "/fhir/Goal/goal-999999",
        "/fhir/Goal/goal-²",
        "/fhir/Observation/metric-99999999999999999999999",
        "/fhir/Patient/user-١",
    ):
        response = get(token, url)
        assert response.status_code == 404, url
        assert OperationOutcome.parse_obj(response.json()).issue[0].code == "not-found"


@pytest.mark.parametrize(
    "query",
    [
        "date=2026-13-45",
        "date=xx2026-01-01",
        "date=ge2026-03-02T08:00:00",  # no time zone
        "_count=0",
        "_count=abc",
        "_count=²",
        "date=9999-12-31T23:59:59.999999Z",
        "date=ge9999-12",
        "date=٢٠٢٦",
        "_cursor=not-a-cursor",
        "colour=blue",
    ],
)
def test_bad_search_parameters_are_400_saying_what_is_wrong(token, query):
    response = get(token, f"/fhir/Observation?{query}")
    assert response.status_code == 400
    outcome = OperationOutcome.parse_obj(response.json())
    assert outcome.issue[0].code == "invalid" and outcome.issue[0].diagnostics


def test_no_token_or_a_jwt_is_401_with_an_operation_outcome(auth_client):
    response = Client().get("/fhir/Observation")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/fhir+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    OperationOutcome.parse_obj(response.json())
    jwt_style = Client().get("/fhir/Observation", HTTP_AUTHORIZATION="Bearer eyJhbGciOi.x.y")
    assert jwt_style.status_code == 401


def test_an_unknown_fhir_path_is_an_operation_outcome(client):
    response = client.get("/fhir/Condition")
    assert response.status_code == 404
    OperationOutcome.parse_obj(response.json())


def test_writes_are_not_supported(token):
    response = Client().post(
        "/fhir/Observation", "{}", content_type="application/fhir+json", **bearer(token)
    )
    assert response.status_code == 405, response.content
    OperationOutcome.parse_obj(response.json())
