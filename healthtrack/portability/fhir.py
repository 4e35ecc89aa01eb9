"""A user's measurements as a FHIR R4 Bundle (type `collection`) of Observations.

One Patient resource, then one Observation per measurement, mapped by healthtrack/fhir/mapping.py
(shared with the FHIR API). Streamed: the bundle is written as it is read from the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
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
from healthtrack.lifecycle import archive as lifecycle_archive
from metrics.models import Device, HealthMetric

CHUNK_SIZE = 2000

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
