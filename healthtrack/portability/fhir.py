"""A user's measurements as a FHIR R4 Bundle (type `collection`) of Observations.

One Patient resource, then one Observation per measurement, mapped by healthtrack/fhir/mapping.py
(shared with the FHIR API). Streamed: the bundle is written as it is read from the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import groupby
from typing import Any

from django.utils import timezone

from healthtrack.fhir.mapping import (  # noqa: F401  (UCUM_UNITS: the export's unit table)
    DIASTOLIC,
    SYSTOLIC,
    UCUM_UNITS,
    blood_pressure,
    full_url,
    observation,
    patient_resource,
)
from metrics.models import Device, HealthMetric

CHUNK_SIZE = 2000

_ROW_FIELDS = ["id", "metric_type", "value", "recorded_at", "end_at", "device_id", "source_app"]


def _rows(queryset) -> Iterator[dict[str, Any]]:
    for values in queryset.values_list(*_ROW_FIELDS).iterator(chunk_size=CHUNK_SIZE):
        yield dict(zip(_ROW_FIELDS, values, strict=True))


def observations(user, subject: str) -> Iterator[dict[str, Any]]:
    devices = {d.pk: d for d in Device.objects.filter(user=user)}
    metrics = HealthMetric.objects.filter(user=user)
    for row in _rows(
        metrics.exclude(metric_type__in=[SYSTOLIC, DIASTOLIC]).order_by("recorded_at", "id")
    ):
        yield observation(row, devices, subject)
    # Blood pressure: a reading pairs with the other half at the same instant and source.
    pressures = metrics.filter(metric_type__in=[SYSTOLIC, DIASTOLIC]).order_by(
        "recorded_at", "device_id", "source_app", "metric_type", "id"
    )
    for _, group in groupby(
        _rows(pressures), key=lambda r: (r["recorded_at"], r["device_id"], r["source_app"])
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
