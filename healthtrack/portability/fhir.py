"""A user's measurements as a FHIR R4 Bundle (type `collection`) of Observations.

One Patient resource, then one Observation per measurement: LOINC code from the metrics
registry, value in UCUM, the source as `device.display` and `meta.source`, our id in
`identifier`. A systolic and a diastolic reading taken at the same instant from the same
source become ONE blood-pressure panel Observation (85354-9) with two components
(8480-6, 8462-4). Streamed: the bundle is written as it is read from the database.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import Any
from urllib.parse import quote

from django.utils import timezone

from healthtrack.lifecycle import archive as lifecycle_archive
from metrics.models import Device, HealthMetric
from metrics.registry import METRIC_TYPES, get_metric_type

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
METRIC_ID_SYSTEM = "urn:healthtrack:health-metric"
USER_ID_SYSTEM = "urn:healthtrack:user"
CHUNK_SIZE = 2000

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
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"metric-{first['id']}",
        "meta": {"source": source},
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


_ROW_FIELDS = ["id", "metric_type", "value", "recorded_at", "end_at", "device_id", "source_app"]


def _rows(queryset) -> Iterator[dict[str, Any]]:
    for values in queryset.values_list(*_ROW_FIELDS).iterator(chunk_size=CHUNK_SIZE):
        yield dict(zip(_ROW_FIELDS, values, strict=True))


def _resources(
    rows: Iterable[dict[str, Any]],
    pressures: Iterable[dict[str, Any]],
    devices: dict,
    subject: str,
) -> Iterator[dict[str, Any]]:
    """Observations of `rows` (no blood pressure), then of `pressures` (ordered by instant,
    device, source app, type, id)."""
    for row in rows:
        yield observation(row, devices, subject)
    # Blood pressure: a reading pairs with the other half at the same instant and source.
    for _, group in groupby(
        pressures, key=lambda r: (r["recorded_at"], r["device_id"], r["source_app"])
    ):
        rows = list(group)
        by_type: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_type.setdefault(row["metric_type"], []).append(row)
        if len(by_type.get(SYSTOLIC, [])) == 1 and len(by_type.get(DIASTOLIC, [])) == 1:
            yield blood_pressure(by_type[SYSTOLIC][0], by_type[DIASTOLIC][0], devices, subject)
        else:
            for row in rows:
                yield observation(row, devices, subject)


def _pressure_key(row: dict[str, Any]) -> tuple:
    return (
        row["recorded_at"],
        row["device_id"] or 0,
        row["source_app"],
        row["metric_type"],
        row["id"],
    )


def _archived(user, devices: dict, subject: str) -> Iterator[dict[str, Any]]:
    """The archived months (lifecycle archive), one month in memory at a time."""
    rows = (
        {name: row[name] for name in _ROW_FIELDS} for row in lifecycle_archive.archived_rows(user)
    )
    for _, month in groupby(rows, key=lambda r: (r["recorded_at"].year, r["recorded_at"].month)):
        month_rows = list(month)
        plain = [r for r in month_rows if r["metric_type"] not in (SYSTOLIC, DIASTOLIC)]
        pressures = [r for r in month_rows if r["metric_type"] in (SYSTOLIC, DIASTOLIC)]
        yield from _resources(
            sorted(plain, key=lambda r: (r["recorded_at"], r["id"])),
            sorted(pressures, key=_pressure_key),
            devices,
            subject,
        )


def observations(user, subject: str) -> Iterator[dict[str, Any]]:
    devices = {d.pk: d for d in Device.objects.filter(user=user)}
    yield from _archived(user, devices, subject)
    metrics = HealthMetric.objects.filter(user=user)
    yield from _resources(
        _rows(metrics.exclude(metric_type__in=[SYSTOLIC, DIASTOLIC]).order_by("recorded_at", "id")),
        _rows(
            metrics.filter(metric_type__in=[SYSTOLIC, DIASTOLIC]).order_by(
                "recorded_at", "device_id", "source_app", "metric_type", "id"
            )
        ),
        devices,
        subject,
    )


def bundle_chunks(user, *, entries_per_chunk: int = 500) -> Iterator[str]:
    """The Bundle as JSON text, piece by piece."""
    patient = patient_resource(user)
    subject = full_url("user", user.pk)
    head = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": timezone.now().isoformat(),
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "entry": [\n'
    yield json.dumps({"fullUrl": subject, "resource": patient}, ensure_ascii=False)
    buffer: list[str] = []
    for resource in observations(user, subject):
        pk = int(resource["identifier"][0]["value"])
        entry = {"fullUrl": full_url("metric", pk), "resource": resource}
        buffer.append(json.dumps(entry, ensure_ascii=False))
        if len(buffer) >= entries_per_chunk:
            yield ",\n" + ",\n".join(buffer)
            buffer = []
    if buffer:
        yield ",\n" + ",\n".join(buffer)
    yield "\n]}\n"
