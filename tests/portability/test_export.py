from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from fhir.resources import __fhir_version__
from fhir.resources.bundle import Bundle
from rest_framework.test import APIClient

from healthtrack.portability import export
from metrics.models import HealthMetric
from tests.portability.data import populate

pytestmark = pytest.mark.django_db


def content(response) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


@pytest.fixture
def data(user, other_user):
    populate(other_user)
    return populate(user)


def test_json_export_holds_every_record_the_user_owns_and_nothing_else(auth_client, user, data):
    response = auth_client.get("/api/v1/export?format=json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    body = json.loads(content(response))
    assert body["format"] == "healthtrack-export" and body["version"] == 1
    assert body["profile"]["email"] == user.email
    assert body["profile"]["date_of_birth"] == "1985-03-14"  # decrypted for the owner
    counts = {name: len(rows) for name, rows in body.items() if isinstance(rows, list)}
    assert counts == {
        "devices": 2,
        "metrics": 11,
        "nutrition_logs": 3,
        "nutrition_targets": 1,
        "goals": 1,
        "insights": 1,
        "share_grants": 1,
        "care_teams": 0,
        "imports": 0,
    }
    assert {m["id"] for m in body["metrics"]} == set(
        HealthMetric.objects.filter(user=user).values_list("id", flat=True)
    )
    sleep = next(m for m in body["metrics"] if m["metric_type"] == "sleep")
    assert sleep["notes"] == "Woke up once" and sleep["metadata"] == {"stages": 4}
    assert sleep["source"] == "Dana's Watch"
    assert body["insights"][0]["message"] == "151/? mmHg on 2 March"
    assert body["nutrition_logs"][0]["description"] == "Porridge, berries"
    assert body["goals"][0]["title"] == "Walk more"
    assert body["goals"][0]["description"] == "Dr Smith's advice"  # decrypted
    grant = body["share_grants"][0]
    assert "token_hash" not in grant and "code_hash" not in grant
    assert grant["metric_types"] == ["steps"]


def test_json_export_writes_one_record_per_line(auth_client, data):
    lines = content(auth_client.get("/api/v1/export")).decode().splitlines()

    assert lines[0] == "{" and lines[1] == '"format": "healthtrack-export",'
    start = lines.index('"metrics": [')
    record_lines = lines[start + 1 : start + 12]
    assert [json.loads(line.rstrip(","))["metric_type"] for line in record_lines][0] == "sleep"
    assert lines[start + 12] in ("]", "],")


def test_csv_export_is_a_zip_with_one_csv_per_table(auth_client, data):
    response = auth_client.get("/api/v1/export?format=csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(content(response)))
    assert sorted(archive.namelist()) == [
        "care_teams.csv",
        "devices.csv",
        "goals.csv",
        "imports.csv",
        "insights.csv",
        "metrics.csv",
        "nutrition_logs.csv",
        "nutrition_targets.csv",
        "profile.csv",
        "share_grants.csv",
    ]
    tables = {
        name.removesuffix(".csv"): list(csv.DictReader(io.StringIO(archive.read(name).decode())))
        for name in archive.namelist()
    }
    assert len(tables["metrics"]) == 11
    assert len(tables["nutrition_logs"]) == 3
    assert tables["profile"][0]["date_of_birth"] == "1985-03-14"
    assert "token_hash" not in tables["share_grants"][0]
    assert list(tables["metrics"][0])[:6] == [
        "metric_type",
        "value",
        "unit",
        "recorded_at",
        "end_at",
        "source",
    ]
    sleep = next(r for r in tables["metrics"] if r["metric_type"] == "sleep")
    assert json.loads(sleep["metadata"]) == {"stages": 4}


def fhir_bundle(client) -> dict:
    response = client.get("/api/v1/export?format=fhir")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    return json.loads(content(response))


def test_fhir_export_is_a_valid_r4_bundle_of_observations(auth_client, user, data):
    document = fhir_bundle(auth_client)

    assert __fhir_version__ == "4.0.1"
    bundle = Bundle.parse_obj(document)  # raises on anything R4 does not allow
    assert bundle.type == "collection"
    kinds = [entry.resource.resource_type for entry in bundle.entry]
    # 11 measurements; the blood-pressure pair is one Observation.
    assert kinds == ["Patient"] + ["Observation"] * 10
    patient_url = document["entry"][0]["fullUrl"]
    assert patient_url.startswith("urn:uuid:")
    observations = [e["resource"] for e in document["entry"][1:]]
    assert {o["subject"]["reference"] for o in observations} == {patient_url}
    assert len({e["fullUrl"] for e in document["entry"]}) == 11


def by_code(document: dict, code: str) -> list[dict]:
    return [
        e["resource"]
        for e in document["entry"]
        if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == code
    ]


def test_fhir_blood_pressure_pair_is_one_panel_with_two_components(auth_client, data):
    document = fhir_bundle(auth_client)

    [panel] = by_code(document, "85354-9")
    assert [c["code"]["coding"][0]["code"] for c in panel["component"]] == ["8480-6", "8462-4"]
    assert [c["valueQuantity"]["value"] for c in panel["component"]] == [128.0, 84.0]
    assert {c["valueQuantity"]["code"] for c in panel["component"]} == {"mm[Hg]"}
    assert "valueQuantity" not in panel
    assert len(panel["identifier"]) == 2
    assert panel["device"] == {"display": "Scale"}
    assert panel["meta"]["source"] == f"urn:healthtrack:device:{data['scale'].pk}"
    assert panel["category"][0]["coding"][0]["code"] == "vital-signs"
    # The systolic reading without a diastolic one stays on its own.
    [single] = by_code(document, "8480-6")
    assert single["valueQuantity"]["value"] == 151.0
    assert single["meta"]["source"] == "urn:healthtrack:app:Manual"
    assert "device" not in single


def test_fhir_observations_carry_loinc_ucum_and_our_id(auth_client, user, data):
    document = fhir_bundle(auth_client)

    [glucose] = by_code(document, "2339-0")
    metric = HealthMetric.objects.get(user=user, metric_type="blood_glucose")
    assert glucose["identifier"] == [
        {"system": "urn:healthtrack:health-metric", "value": str(metric.pk)}
    ]
    assert glucose["code"]["coding"][0]["system"] == "http://loinc.org"
    assert glucose["valueQuantity"] == {
        "value": metric.value,
        "unit": "mg/dL",
        "system": "http://unitsofmeasure.org",
        "code": "mg/dL",
    }
    assert glucose["category"][0]["coding"][0]["code"] == "laboratory"
    steps = by_code(document, "55423-8")
    assert len(steps) == 3
    assert steps[0]["valueQuantity"]["code"] == "{steps}"
    assert set(steps[0]["effectivePeriod"]) == {"start", "end"}
    [heart] = by_code(document, "8867-4")[:1]
    assert heart["valueQuantity"]["code"] == "/min"
    assert "effectiveDateTime" in heart


def test_every_registered_metric_type_has_a_ucum_unit():
    from healthtrack.portability.fhir import UCUM_UNITS
    from metrics.registry import METRIC_TYPES

    assert {t.unit for t in METRIC_TYPES.values()} <= set(UCUM_UNITS)


@pytest.mark.parametrize("fmt", ["json", "csv", "fhir"])
def test_export_of_another_users_data_is_404(auth_client, other_user, fmt):
    response = auth_client.get(f"/api/v1/export?format={fmt}&user_id={other_user.pk}")
    assert response.status_code == 404


def test_a_care_team_clinician_cannot_export_a_patients_data(clinician_client, care_team, user):
    response = clinician_client.get(f"/api/v1/export?user_id={user.pk}")
    assert response.status_code == 404


def test_unknown_export_format_is_400(auth_client):
    response = auth_client.get("/api/v1/export?format=xlsx")
    assert response.status_code == 400
    assert "format" in response.json()


def test_export_needs_authentication():
    assert APIClient().get("/api/v1/export").status_code == 401


def test_goals_are_exported_while_the_goals_app_has_a_goal_model(user, monkeypatch):
    assert export.goals_model() is not None
    assert "goals" in [s.name for s in export.sections(user)]
    # Without it (the goals app absent or without a `user` field) the section is left out.
    monkeypatch.setattr(export, "goals_model", lambda: None)
    assert "goals" not in [s.name for s in export.sections(user)]
