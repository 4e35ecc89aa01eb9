"""HealthTrack records as FHIR R4 resources: the one mapping the FHIR export (a Bundle in
healthtrack/portability/fhir.py) and the FHIR API (healthtrack/fhir/views.py) share.

- Patient: `user-<id>`, our user id in `identifier`.
- Observation: one per measurement, LOINC code from the metrics registry, value in UCUM, the
  source as `device.display` and `meta.source`, our id in `identifier`, category vital-signs /
  activity / laboratory. A systolic and a diastolic reading taken at the same instant from the
  same source are ONE blood-pressure panel Observation (85354-9) with two components
  (8480-6, 8462-4).
- Goal: a health goal with its target (LOINC of the measure where it has one).
- Nutrition: one Observation per diary entry with the energy and macronutrients it recorded.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from metrics.models import Device
from metrics.registry import METRIC_TYPES, get_metric_type

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
METRIC_ID_SYSTEM = "urn:healthtrack:health-metric"
USER_ID_SYSTEM = "urn:healthtrack:user"

# Registry unit -> (UCUM code, human-readable unit).
UCUM_UNITS: dict[str, tuple[str, str]] = {
    "count": ("{steps}", "steps"),
    "m": ("m", "m"),
    "kcal": ("kcal", "kcal"),
    "min": ("min", "min"),
    "bpm": ("/min", "beats/minute"),
    "mmHg": ("mm[Hg]", "mmHg"),
    "kg": ("kg", "kg"),
    "%": ("%", "%"),
    "mg/dL": ("mg/dL", "mg/dL"),
    "°C": ("Cel", "°C"),
    "breaths/min": ("/min", "breaths/minute"),
}
CATEGORIES = {
    "vitals": ("vital-signs", "Vital Signs"),
    "body": ("vital-signs", "Vital Signs"),
    "activity": ("activity", "Activity"),
    "sleep": ("activity", "Activity"),
}
LABORATORY = {"blood_glucose": ("laboratory", "Laboratory")}
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
SYSTOLIC, DIASTOLIC = "blood_pressure_systolic", "blood_pressure_diastolic"
# Entries are named by urn:uuid full URLs derived from our ids (stable across exports).
URN_NAMESPACE = uuid.UUID("6f1c2a8e-3b7d-5e4f-9a0b-1c2d3e4f5a6b")
GENDERS = {"female": "female", "male": "male", "other": "other", "unspecified": "unknown"}


def full_url(kind: str, pk: int) -> str:
    return f"urn:uuid:{uuid.uuid5(URN_NAMESPACE, f'{kind}:{pk}')}"


def _instant(value) -> str:
    return value.isoformat()


def patient_resource(user) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": f"user-{user.pk}",
        "identifier": [{"system": USER_ID_SYSTEM, "value": str(user.pk)}],
        "gender": GENDERS.get(user.sex, "unknown"),
    }
    name = {}
    if user.last_name:
        name["family"] = user.last_name
    if user.first_name:
        name["given"] = [user.first_name]
    if name:
        resource["name"] = [name]
    if user.date_of_birth:
        resource["birthDate"] = user.date_of_birth.isoformat()
    return resource


def quantity(code: str, value: float) -> dict[str, Any]:
    unit = get_metric_type(code).unit
    ucum_code, display = UCUM_UNITS.get(unit, (unit, unit))
    return {"value": value, "unit": display, "system": UCUM, "code": ucum_code}


def _codeable(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display}


def _category(code: str) -> list[dict[str, Any]]:
    category, display = LABORATORY.get(code) or CATEGORIES[get_metric_type(code).category]
    return [{"coding": [{"system": CATEGORY_SYSTEM, "code": category, "display": display}]}]


def _source(row: dict[str, Any], devices: dict[int, Device]) -> tuple[str, str | None]:
    """(meta.source URI, device display) of a measurement."""
    device = devices.get(row["device_id"])
    if device is not None:
        return f"urn:healthtrack:device:{device.pk}", device.name
    app = row["source_app"] or "manual"
    return f"urn:healthtrack:app:{quote(app, safe='')}", None


def _base(rows: list[dict[str, Any]], devices, subject: str) -> dict[str, Any]:
    first = rows[0]
    source, device_name = _source(first, devices)
    meta: dict[str, Any] = {"source": source}
    if "created_at" in first:  # the API's rows carry it; the export's do not
        meta["lastUpdated"] = _instant(max(r["created_at"] for r in rows))
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"metric-{first['id']}",
        "meta": meta,
        "identifier": [{"system": METRIC_ID_SYSTEM, "value": str(r["id"])} for r in rows],
        "status": "final",
    }
    resource["category"] = _category(first["metric_type"])
    resource["subject"] = {"reference": subject}
    if first["end_at"] is not None and first["end_at"] > first["recorded_at"]:
        resource["effectivePeriod"] = {
            "start": _instant(first["recorded_at"]),
            "end": _instant(first["end_at"]),
        }
    else:
        resource["effectiveDateTime"] = _instant(first["recorded_at"])
    if device_name:
        resource["device"] = {"display": device_name}
    return resource


def observation(row: dict[str, Any], devices: dict[int, Device], subject: str) -> dict[str, Any]:
    """One measurement as an Observation."""
    code = row["metric_type"]
    mtype = METRIC_TYPES[code]
    resource = _base([row], devices, subject)
    resource["code"] = _codeable(mtype.loinc, mtype.name)
    resource["valueQuantity"] = quantity(code, row["value"])
    return _ordered(resource)


def blood_pressure(
    systolic: dict[str, Any], diastolic: dict[str, Any], devices, subject: str
) -> dict[str, Any]:
    """A systolic and a diastolic reading as one panel Observation with two components."""
    resource = _base([systolic, diastolic], devices, subject)
    resource["code"] = _codeable(*BP_PANEL)
    resource["component"] = [
        {
            "code": _codeable(METRIC_TYPES[row["metric_type"]].loinc, label),
            "valueQuantity": quantity(row["metric_type"], row["value"]),
        }
        for row, label in (
            (systolic, "Systolic blood pressure"),
            (diastolic, "Diastolic blood pressure"),
        )
    ]
    return _ordered(resource)


# FHIR R4 vital-signs profiles, by the LOINC code each one requires of Observation.code.
VITAL_SIGNS = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
VITAL_SIGN_PROFILES = {
    "85354-9": "bp",
    "8867-4": "heartrate",
    "29463-7": "bodyweight",
    "2708-6": "oxygensat",
    "8310-5": "bodytemp",
    "9279-1": "resprate",
}


def with_vital_signs_profile(resource: dict[str, Any]) -> dict[str, Any]:
    """Name the R4 vital-signs profile (and its specific one) an Observation conforms to, in
    `meta.profile`: codes outside the profiles' value set (steps, glucose…) name none. The API
    says so; the export's Bundle is left as it always was."""
    code = resource.get("code", {}).get("coding", [{}])[0].get("code")
    profile = VITAL_SIGN_PROFILES.get(code)
    if profile is not None:
        resource["meta"]["profile"] = [
            VITAL_SIGNS,
            f"http://hl7.org/fhir/StructureDefinition/{profile}",
        ]
    return resource


_ORDER = [
    "resourceType",
    "id",
    "meta",
    "identifier",
    "status",
    "category",
    "code",
    "subject",
    "effectiveDateTime",
    "effectivePeriod",
    "valueQuantity",
    "device",
    "component",
]


def _ordered(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: resource[k] for k in _ORDER if k in resource}


# --- Goals ------------------------------------------------------------------------------------

GOAL_ID_SYSTEM = "urn:healthtrack:health-goal"
MEASURE_SYSTEM = "urn:healthtrack:measure"
GOAL_ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
# Units of the goal measures that are not metric types (nutrition) -> (UCUM code, display).
MEASURE_UNITS: dict[str, tuple[str, str]] = {
    **UCUM_UNITS,
    "g": ("g", "g"),
    "mg": ("mg", "mg"),
    "ml": ("mL", "ml"),
    "h": ("h", "hours"),
}
GOAL_STATUS = {"active": "active", "completed": "completed", "abandoned": "cancelled"}
COMPARATORS = {"increase": ">=", "at_least": ">=", "decrease": "<=", "at_most": "<="}


def _measure_code(code: str, name: str) -> dict[str, Any]:
    mtype = METRIC_TYPES.get(code)
    if mtype is not None:
        return _codeable(mtype.loinc, mtype.name)
    return {"coding": [{"system": MEASURE_SYSTEM, "code": code, "display": name}], "text": name}


def goal_resource(goal, subject: str) -> dict[str, Any]:
    """A health goal as a Goal: its target as a quantity with a comparator (">=" to reach at
    least, "<=" to stay under), achieved once completed."""
    ucum_code, display = MEASURE_UNITS.get(goal.unit, (goal.unit, goal.unit))
    target: dict[str, Any] = {
        "measure": _measure_code(goal.metric_type, goal.measure.name),
        "detailQuantity": {
            "value": goal.target_value,
            "comparator": COMPARATORS[goal.direction],
            "unit": display,
            "system": UCUM,
            "code": ucum_code,
        },
    }
    if goal.target_date:
        target["dueDate"] = goal.target_date.isoformat()
    if goal.status == "completed":
        achievement = ("achieved", "Achieved")
    elif goal.status == "active":
        achievement = ("in-progress", "In Progress")
    else:
        achievement = ("not-achieved", "Not Achieved")
    return {
        "resourceType": "Goal",
        "id": f"goal-{goal.pk}",
        "meta": {"lastUpdated": _instant(goal.updated_at)},
        "identifier": [{"system": GOAL_ID_SYSTEM, "value": str(goal.pk)}],
        "lifecycleStatus": GOAL_STATUS[goal.status],
        "achievementStatus": {
            "coding": [
                {"system": GOAL_ACHIEVEMENT, "code": achievement[0], "display": achievement[1]}
            ]
        },
        "priority": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/goal-priority",
                    "code": f"{goal.priority}-priority",
                }
            ]
        },
        "description": {"text": goal.title},
        "subject": {"reference": subject},
        "startDate": goal.start_date.isoformat(),
        "target": [target],
    }


# --- Nutrition: one Observation per diary entry -----------------------------------------------

NUTRITION_ID_SYSTEM = "urn:healthtrack:nutrition-log"
NUTRITION_CATEGORY = ("nutrition", "Nutrition")
NUTRITION_CATEGORY_SYSTEM = "urn:healthtrack:observation-category"
NUTRITION_CODE = ("nutrition-entry", "Food and drink intake")
# Diary field -> (component code, display, UCUM code, unit display).
NUTRIENTS: dict[str, tuple[str, str, str, str]] = {
    "calories": ("energy", "Energy", "kcal", "kcal"),
    "protein_g": ("protein", "Protein", "g", "g"),
    "carbs_g": ("carbohydrate", "Carbohydrate", "g", "g"),
    "fat_g": ("fat", "Fat", "g", "g"),
    "fiber_g": ("fiber", "Fiber", "g", "g"),
    "sugar_g": ("sugars", "Sugars", "g", "g"),
    "sodium_mg": ("sodium", "Sodium", "mg", "mg"),
    "water_ml": ("water", "Water", "mL", "ml"),
}


def nutrition_observation(log, subject: str) -> dict[str, Any]:
    """A food diary entry as an Observation with one component per nutrient it recorded (our
    own codes: there is no R4 NutritionIntake). The entry's free-text description stays out."""
    components = []
    for field, (code, display, ucum_code, unit) in NUTRIENTS.items():
        value = getattr(log, field)
        if value is None:
            continue
        components.append(
            {
                "code": {
                    "coding": [{"system": MEASURE_SYSTEM, "code": code, "display": display}],
                    "text": display,
                },
                "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": ucum_code},
            }
        )
    category, category_display = NUTRITION_CATEGORY
    return {
        "resourceType": "Observation",
        "id": f"nutrition-{log.pk}",
        "meta": {"lastUpdated": _instant(log.updated_at)},
        "identifier": [{"system": NUTRITION_ID_SYSTEM, "value": str(log.pk)}],
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": NUTRITION_CATEGORY_SYSTEM,
                        "code": category,
                        "display": category_display,
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {"system": MEASURE_SYSTEM, "code": NUTRITION_CODE[0], "display": NUTRITION_CODE[1]}
            ],
            "text": f"{NUTRITION_CODE[1]} ({log.get_meal_type_display().lower()})",
        },
        "subject": {"reference": subject},
        "effectiveDateTime": _instant(log.logged_at),
        "component": components,
    }
