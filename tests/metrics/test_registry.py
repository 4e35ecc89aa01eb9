from __future__ import annotations

import pytest

from metrics.registry import METRIC_TYPES, get_metric_type

pytestmark = pytest.mark.django_db

EXPECTED = {
    # code: (unit, aggregation, loinc, min, max)
    "steps": ("count", "sum", "55423-8", 0, 100_000),
    "distance": ("m", "sum", "55430-3", 0, 200_000),
    "active_energy": ("kcal", "sum", "41981-2", 0, 20_000),
    "exercise": ("min", "sum", "55411-3", 0, 1440),
    "heart_rate": ("bpm", "average", "8867-4", 20, 250),
    "resting_heart_rate": ("bpm", "average", "40443-4", 20, 200),
    "blood_pressure_systolic": ("mmHg", "average", "8480-6", 60, 280),
    "blood_pressure_diastolic": ("mmHg", "average", "8462-4", 30, 180),
    "weight": ("kg", "latest", "29463-7", 1, 500),
    "body_fat": ("%", "latest", "41982-0", 1, 75),
    "blood_glucose": ("mg/dL", "average", "2339-0", 10, 1000),
    "oxygen_saturation": ("%", "average", "2708-6", 50, 100),
    "body_temperature": ("°C", "average", "8310-5", 25, 45),
    "respiratory_rate": ("breaths/min", "average", "9279-1", 4, 80),
    "sleep": ("min", "sum", "93832-4", 0, 1440),
}


def test_registry_holds_exactly_the_issue_codes_with_units_aggregations_and_loinc():
    assert set(METRIC_TYPES) == set(EXPECTED)
    for code, (unit, aggregation, loinc, lo, hi) in EXPECTED.items():
        mtype = get_metric_type(code)
        assert (mtype.unit, mtype.aggregation, mtype.loinc) == (unit, aggregation, loinc)
        assert (mtype.min_value, mtype.max_value) == (lo, hi)
    assert get_metric_type("steps").daily_loinc == "41950-7"


@pytest.mark.parametrize(
    "code, value, unit, expected",
    [
        ("distance", 1.5, "km", 1500.0),
        ("distance", 1, "mi", 1609.344),
        ("active_energy", 418.4, "kJ", 100.0),
        ("weight", 100, "lb", 45.359237),
        ("blood_glucose", 5.5, "mmol/L", 99.088),
        ("body_temperature", 98.6, "°F", 37.0),
        ("body_temperature", 32, "°F", 0.0),
        ("sleep", 7.5, "h", 450.0),
        ("steps", 1234, None, 1234.0),
        ("heart_rate", 60, "bpm", 60.0),
    ],
)
def test_conversions_to_the_canonical_unit(code, value, unit, expected):
    assert get_metric_type(code).to_canonical(value, unit) == pytest.approx(expected)


def test_unknown_code_raises_key_error():
    with pytest.raises(KeyError):
        get_metric_type("mood")


def test_metric_types_endpoint_serves_the_registry_without_login(api_client):
    response = api_client.get("/api/v1/metric-types/")
    assert response.status_code == 200
    body = {t["code"]: t for t in response.json()}
    assert set(body) == set(EXPECTED)
    weight = body["weight"]
    assert weight["unit"] == "kg"
    assert weight["aggregation"] == "latest"
    assert weight["category"] == "body"
    assert weight["loinc"] == "29463-7"
    assert weight["units"]["lb"] == {"factor": 0.45359237, "offset": 0.0}
    assert body["steps"]["min_value"] == 0 and body["steps"]["max_value"] == 100000
    # Trailing slash optional.
    assert api_client.get("/api/v1/metric-types").status_code == 200
