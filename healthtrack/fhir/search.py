"""FHIR search parameters and the reads behind the FHIR API (healthtrack/fhir/views.py).

Rows come only from the owners the token may read (`accounts.oauth.token_owner_ids`), so a
search never reaches anyone else. Observations are measurements (blood-pressure halves paired
into one panel, as in the export) and food diary entries, in one order: effective time, then
measurements before diary entries, then id. Pages are cut by a keyset cursor (`_cursor`,
opaque to clients: they follow the Bundle's `next` link), so deep pages cost what the first
one does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import BigIntegerField, Count, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from goals.models import HealthGoal
from healthtrack.fhir import mapping
from metrics.models import Device, HealthMetric
from metrics.registry import METRIC_TYPES
from nutrition.models import NutritionLog

DEFAULT_COUNT = 50
MAX_COUNT = 200
PATIENT_ID = re.compile(r"^(?:Patient/)?user-([0-9]{1,18})$")
PREFIXES = ("ge", "le", "gt", "lt", "eq")
NUTRITION = "nutrition"
METRIC_FIELDS = [
    "id",
    "user_id",
    "metric_type",
    "value",
    "recorded_at",
    "end_at",
    "device_id",
    "source_app",
    "created_at",
]


class SearchError(ValueError):
    """A search parameter the server cannot use: 400 with an OperationOutcome."""


# --- Parameters -------------------------------------------------------------------------------


def patient_pk(value: str) -> int | None:
    """Our user id from a FHIR Patient id or reference (`user-5`, `Patient/user-5`)."""
    match = PATIENT_ID.match(value.strip())
    return int(match.group(1)) if match else None


def _tokens(values: list[str]) -> list[tuple[str | None, str]]:
    """`[system|]code` tokens from repeated and comma-separated values."""
    tokens = []
    for value in values:
        for part in value.split(","):
            system, bar, code = part.partition("|")
            if not bar:
                system, code = None, part
            if code:
                tokens.append((system or None, code))
    return tokens


def _precision_range(text: str) -> tuple[datetime, datetime]:
    """[start, end) of a FHIR date(time) at its precision: a year, month, day or instant."""
    try:
        if re.fullmatch(r"[0-9]{4}", text):
            start = datetime(int(text), 1, 1, tzinfo=UTC)
            return start, start.replace(year=start.year + 1)
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}", text):
            year, month = (int(p) for p in text.split("-"))
            start = datetime(year, month, 1, tzinfo=UTC)
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
            return start, end
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            start = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return start, start + timedelta(days=1)
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})?", text):
            raise ValueError
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
        end = instant + timedelta(microseconds=1)
    except (ValueError, OverflowError):
        raise SearchError(f"Not a FHIR date or dateTime: {text!r}.") from None
    if instant.tzinfo is None:
        raise SearchError(f"A dateTime needs a time zone (Z or ±hh:mm): {text!r}.")
    return instant, end


def date_filter(field: str, values: list[str]) -> Q:
    """A filter on `field` for repeated `date` values with the prefixes eq, ge, gt, le, lt."""
    q = Q()
    for value in values:
        prefix, text = ("eq", value)
        if value[:2] in PREFIXES:
            prefix, text = value[:2], value[2:]
        elif value[:2].isalpha():
            raise SearchError(f"Date prefix {value[:2]!r} is not supported (use ge, gt, le, lt).")
        start, end = _precision_range(text)
        q &= {
            "eq": Q(**{f"{field}__gte": start, f"{field}__lt": end}),
            "ge": Q(**{f"{field}__gte": start}),
            "gt": Q(**{f"{field}__gte": end}),
            "le": Q(**{f"{field}__lt": end}),
            "lt": Q(**{f"{field}__lt": start}),
        }[prefix]
    return q


def count_param(raw: str | None) -> int:
    if raw in (None, ""):
        return DEFAULT_COUNT
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_COUNT:
        raise SearchError(f"_count must be a whole number from 1 to {MAX_COUNT}.")
    return int(raw)


def encode_cursor(key: tuple[datetime, int, int]) -> str:
    payload = json.dumps([key[0].isoformat(), key[1], key[2]]).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(raw: str | None) -> tuple[datetime, int, int] | None:
    if not raw:
        return None
    try:
        padded = raw + "=" * (-len(raw) % 4)
        when, rank, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = datetime.fromisoformat(when)
        if when.tzinfo is None or not isinstance(rank, int) or not isinstance(pk, int):
            raise ValueError
        return when, rank, pk
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        raise SearchError("_cursor is not one this server gave out.") from None


# --- Which observations -------------------------------------------------------------------------


def _category_of(code: str) -> str:
    return mapping._category(code)[0]["coding"][0]["code"]


def observation_sources(codes: list[str], categories: list[str]) -> tuple[set[str], bool]:
    """(metric types, whether diary entries) matching the `code` and `category` values."""
    types = set(METRIC_TYPES)
    nutrition = True
    code_tokens = _tokens(codes)
    if code_tokens:
        wanted: set[str] = set()
        nutrition = False
        for system, code in code_tokens:
            if system in (None, mapping.LOINC):
                if code == mapping.BP_PANEL[0]:
                    wanted |= {mapping.SYSTOLIC, mapping.DIASTOLIC}
                wanted |= {c for c, t in METRIC_TYPES.items() if t.loinc == code}
            if system in (None, mapping.MEASURE_SYSTEM) and code == mapping.NUTRITION_CODE[0]:
                nutrition = True
        if wanted & {mapping.SYSTOLIC, mapping.DIASTOLIC}:
            wanted |= {mapping.SYSTOLIC, mapping.DIASTOLIC}  # one panel holds both
        types &= wanted
    category_tokens = _tokens(categories)
    if category_tokens:
        wanted_categories = {code for _, code in category_tokens}
        types = {t for t in types if _category_of(t) in wanted_categories}
        nutrition = nutrition and NUTRITION in wanted_categories
    return types, nutrition


def _bp_count(metric_type: str) -> Coalesce:
    """How many readings of `metric_type` share the row's instant, source and owner."""
    same = (
        HealthMetric.objects.annotate(
            dev=Coalesce("device_id", Value(0), output_field=BigIntegerField())
        )
        .filter(
            user_id=OuterRef("user_id"),
            recorded_at=OuterRef("recorded_at"),
            source_app=OuterRef("source_app"),
            dev=OuterRef("dev"),
            metric_type=metric_type,
        )
        .values("user_id")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(same), Value(0))


def metric_rows(owner_ids, types: set[str]) -> QuerySet:
    """Measurements of `types`, a diastolic reading left out when it is half of a panel
    (exactly one systolic and one diastolic at that instant from that source)."""
    rows = HealthMetric.objects.filter(user_id__in=owner_ids, metric_type__in=types)
    if types & {mapping.SYSTOLIC, mapping.DIASTOLIC}:
        rows = rows.annotate(
            dev=Coalesce("device_id", Value(0), output_field=BigIntegerField()),
            n_sys=_bp_count(mapping.SYSTOLIC),
            n_dia=_bp_count(mapping.DIASTOLIC),
        ).exclude(metric_type=mapping.DIASTOLIC, n_sys=1, n_dia=1)
    return rows


def _after(field: str, rank: int, cursor) -> Q:
    if cursor is None:
        return Q()
    when, cursor_rank, pk = cursor
    if cursor_rank == rank:
        return Q(**{f"{field}__gt": when}) | Q(**{field: when, "pk__gt": pk})
    if cursor_rank < rank:
        return Q(**{f"{field}__gte": when})
    return Q(**{f"{field}__gt": when})


@dataclass
class Page:
    resources: list[dict[str, Any]]
    owners: set[int]
    next_cursor: str | None


def _metric_resources(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    devices = {d.pk: d for d in Device.objects.filter(pk__in={r["device_id"] for r in rows})}
    halves = [r for r in rows if r["metric_type"] == mapping.SYSTOLIC and r.get("paired")]
    partners: dict[tuple, dict[str, Any]] = {}
    if halves:
        for values in HealthMetric.objects.filter(
            user_id__in={r["user_id"] for r in halves},
            recorded_at__in={r["recorded_at"] for r in halves},
            metric_type=mapping.DIASTOLIC,
        ).values_list(*METRIC_FIELDS):
            row = dict(zip(METRIC_FIELDS, values, strict=True))
            key = (row["user_id"], row["recorded_at"], row["device_id"], row["source_app"])
            partners[key] = row
    resources = []
    for row in rows:
        subject = f"Patient/user-{row['user_id']}"
        key = (row["user_id"], row["recorded_at"], row["device_id"], row["source_app"])
        if row in halves and key in partners:
            resource = mapping.blood_pressure(row, partners[key], devices, subject)
        else:
            resource = mapping.observation(row, devices, subject)
        resources.append(mapping.with_vital_signs_profile(resource))
    return resources


def observations(
    owner_ids,
    *,
    codes: list[str],
    categories: list[str],
    dates: list[str],
    last_updated: list[str],
    count: int,
    cursor: str | None,
    metric_id: int | None = None,
    nutrition_id: int | None = None,
) -> Page:
    """One page of Observations (a read is a search for one id)."""
    after = decode_cursor(cursor)
    types, with_nutrition = observation_sources(codes, categories)
    metric_q = date_filter("recorded_at", dates) & date_filter("created_at", last_updated)
    if metric_id is not None:
        metric_q &= Q(pk=metric_id)
        with_nutrition = False
    if nutrition_id is not None:
        types = set()
    items: list[tuple[tuple, str, Any]] = []
    if types:
        metrics = metric_rows(owner_ids, types).filter(metric_q, _after("recorded_at", 0, after))
        fields = METRIC_FIELDS + (
            ["n_sys", "n_dia"] if "n_sys" in metrics.query.annotations else []
        )
        for values in metrics.order_by("recorded_at", "pk").values_list(*fields)[: count + 1]:
            row = dict(zip(fields, values, strict=True))
            row["paired"] = row.pop("n_sys", 0) == 1 and row.pop("n_dia", 0) == 1
            items.append(((row["recorded_at"], 0, row["id"]), "metric", row))
    if with_nutrition:
        logs = NutritionLog.objects.filter(
            Q(user_id__in=owner_ids)
            & date_filter("logged_at", dates)
            & date_filter("updated_at", last_updated)
            & _after("logged_at", 1, after)
        )
        if nutrition_id is not None:
            logs = logs.filter(pk=nutrition_id)
        for log in logs.order_by("logged_at", "pk")[: count + 1]:
            items.append(((log.logged_at, 1, log.pk), "nutrition", log))
    items.sort(key=lambda item: item[0])
    more = len(items) > count
    items = items[:count]
    metric_rows_on_page = [row for _, kind, row in items if kind == "metric"]
    by_id = {r["identifier"][0]["value"]: r for r in _metric_resources(metric_rows_on_page)}
    resources, owners = [], set()
    for _, kind, row in items:
        if kind == "metric":
            resources.append(by_id[str(row["id"])])
            owners.add(row["user_id"])
        else:
            resources.append(mapping.nutrition_observation(row, f"Patient/user-{row.user_id}"))
            owners.add(row.user_id)
    next_cursor = encode_cursor(items[-1][0]) if more and items else None
    return Page(resources, owners, next_cursor)


def goals(
    owner_ids,
    *,
    statuses: list[str],
    last_updated: list[str],
    count: int,
    cursor: str | None,
    goal_id: int | None = None,
) -> Page:
    after = decode_cursor(cursor)
    rows = HealthGoal.objects.filter(
        Q(user_id__in=owner_ids) & date_filter("updated_at", last_updated)
    )
    if goal_id is not None:
        rows = rows.filter(pk=goal_id)
    wanted = {code for _, code in _tokens(statuses)}
    if wanted:
        ours = [s for s, fhir in mapping.GOAL_STATUS.items() if fhir in wanted]
        rows = rows.filter(status__in=ours)
    if after is not None:
        rows = rows.filter(pk__gt=after[2])
    page = list(rows.order_by("pk")[: count + 1])
    more = len(page) > count
    page = page[:count]
    resources = [mapping.goal_resource(g, f"Patient/user-{g.user_id}") for g in page]
    next_cursor = None
    if more and page:
        next_cursor = encode_cursor((page[-1].updated_at, 0, page[-1].pk))
    return Page(resources, {g.user_id for g in page}, next_cursor)
