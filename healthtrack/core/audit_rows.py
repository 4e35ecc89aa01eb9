"""django-auditlog's CREATE entry for a row the caller inserts itself, in the same statement.

django-auditlog writes a `LogEntry` from the model's `post_save` signal: after the model's
INSERT, a second ORM INSERT, each with its own round trip, model building and query compiling
(issue 15: ~30 % of a reading's POST). `created_entry(instance)` computes the same entry the
same way (`auditlog.diff.model_instance_diff`, `LogEntryManager.log_create`'s defaults, the
`pre_save` receivers that add the actor and the remote address), as column values, so that
one statement can insert the row and its entry together (`metrics.services`): the entry's
`object_pk`, `object_id` and its diff's `"id"` come from the row's id inside that statement
(`ENTRY_SQL`). The entry is the row auditlog writes, field for field
(`tests/metrics/test_plain_insert.py` compares them).

`created_entry` returns None when auditlog would not write that way: auditlog disabled in
this context, other receivers of the model's `post_save` than auditlog's, listeners of
auditlog's `pre_log`/`post_log`, or a model registered with `serialize_data`. The caller then
saves through the ORM as before.

`log_entry_create(instance, **kwargs)` is auditlog's `LogEntry.objects.log_create` (an entry with
given `changes`, a device sync's) as one prepared INSERT on PostgreSQL, the same row.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC
from functools import cache
from typing import Any

from auditlog.cid import get_cid
from auditlog.context import auditlog_disabled
from auditlog.diff import model_instance_diff, track_field
from auditlog.models import LogEntry
from auditlog.receivers import log_create
from auditlog.registry import auditlog
from auditlog.signals import post_log, pre_log
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import (
    AutoField,
    BigAutoField,
    CharField,
    DateTimeField,
    ForeignKey,
    IntegerField,
    JSONField,
    TextField,
)
from django.db.models.signals import post_save, pre_save
from django.utils import timezone as dj_timezone
from django.utils.encoding import smart_str

from healthtrack.core.prepared import prepared_cursor

# Filled by the statement from the inserted row's id.
_FROM_ROW = ("id", "object_pk", "object_id")


@cache
def _entry_fields() -> tuple:
    return tuple(f for f in LogEntry._meta.concrete_fields if f.name not in _FROM_ROW)


def entry_columns_sql(row_alias: str, placeholder: str = "%s") -> tuple[str, str]:
    """(column list, SELECT list) of an `INSERT INTO auditlog_logentry (...) SELECT ... FROM
    row_alias`, `row_alias` being the inserted row (`id`); the parameters are
    `created_entry()`'s values, in order. The diff's `"id"` is set from the row's id as
    auditlog writes it (`["None", "<id>"]`)."""
    columns, values = ['"object_pk"', '"object_id"'], [f"{row_alias}.id::text", f"{row_alias}.id"]
    for field in _entry_fields():
        columns.append(f'"{field.column}"')
        cast = field.db_type(connection)
        if field.name == "changes":
            values.append(
                f"jsonb_set({placeholder}::jsonb, '{{id}}', "
                f"jsonb_build_array('None'::text, {row_alias}.id::text))"
            )
        else:
            values.append(f"{placeholder}::{_base_type(cast)}")
    return ", ".join(columns), ", ".join(values)


def _base_type(db_type: str) -> str:
    """The type a parameter is cast to: without a length ("varchar(255)" -> "varchar": an
    explicit cast to varchar(n) would cut a longer value, where the INSERT refuses it) or a
    check ("integer CHECK (...)")."""
    db_type = db_type.split(" CHECK", 1)[0].split("(", 1)[0].strip()
    return {"serial": "integer", "bigserial": "bigint"}.get(db_type, db_type)


def _auditlog_alone(model) -> bool:
    receivers = post_save._live_receivers(model)
    sync = receivers[0] if isinstance(receivers, tuple) else receivers
    return (
        len(sync) == 1
        and sync[0] is log_create
        and not pre_log.has_listeners(model)
        and not post_log.has_listeners(model)
    )


@cache
def _pk_diffed_plainly(model) -> bool:
    """The pk is in auditlog's diff as it is (not excluded, not masked): the statement sets
    it as `["None", "<id>"]`."""
    fields = auditlog.get_model_fields(model)
    name = model._meta.pk.name
    return (
        (not fields["include_fields"] or name in fields["include_fields"])
        and name not in fields["exclude_fields"]
        and name not in fields["mask_fields"]
    )


_DATETIME, _JSON, _RELATED, _PLAIN = range(4)


@cache
def _diff_plan(model) -> tuple | None:
    """The fields `model_instance_diff` compares for a created `model`, with how it reads
    each (`auditlog.diff.get_field_value`); None where this module does not repeat it
    (masked fields, JSON changes, related objects' names, a field that is not a column)."""
    model_fields = auditlog.get_model_fields(model)
    if (
        model_fields["mask_fields"]
        or settings.AUDITLOG_STORE_JSON_CHANGES
        or settings.AUDITLOG_USE_FK_STRING_REPRESENTATION
    ):
        return None
    plan = []
    for field in model._meta.get_fields():
        if not track_field(field):
            continue
        if model_fields["include_fields"] and field.name not in model_fields["include_fields"]:
            continue
        if field.name in model_fields["exclude_fields"]:
            continue
        if _reverse_one_to_one(field):
            continue
        if not getattr(field, "concrete", False):
            return None
        if isinstance(field, DateTimeField):
            kind = _DATETIME
        elif isinstance(field, JSONField):
            kind = _JSON
        elif (field.one_to_one or field.many_to_one) and hasattr(field, "rel_class"):
            kind = _RELATED
        else:
            kind = _PLAIN
        plan.append((field, kind))
    return tuple(plan)


def _reverse_one_to_one(field) -> bool:
    """The other side of a one-to-one field pointing here (a diary entry's photo): auditlog
    reads it as the related object, which a row not inserted yet cannot have, so its value is
    "None" before and after and it is never in a created diff."""
    return bool(field.one_to_one and field.auto_created and not field.concrete)


def _created_diff(instance) -> dict:
    """`model_instance_diff(None, instance)` without the pk's entry: for each field, ("None",
    its value as auditlog writes it) unless that is the string "None"."""
    plan = _diff_plan(type(instance))
    if plan is None:
        changes = model_instance_diff(None, instance, use_json_for_changes=False)
        changes.pop("id", None)
        return changes
    use_tz = settings.USE_TZ
    diff = {}
    for field, kind in plan:
        if field.primary_key:
            continue  # set by the statement from the row's id
        if kind == _DATETIME:
            value = getattr(instance, field.name)
            try:
                value = field.to_python(value)
            except TypeError:
                pass
            else:
                if value is not None and use_tz and not dj_timezone.is_naive(value):
                    value = dj_timezone.make_naive(value, timezone=UTC)
        elif kind == _JSON:
            value = field.to_python(getattr(instance, field.name))
            with contextlib.suppress(TypeError):  # as auditlog: the value as it is
                value = json.dumps(value, sort_keys=True, cls=field.encoder)
        elif kind == _RELATED:
            value = smart_str(getattr(instance, field.attname), strings_only=True)
        else:
            value = smart_str(getattr(instance, field.name))
            if type(value).__name__ == "__proxy__":
                value = str(value)
        if value != "None":
            diff[field.name] = ("None", smart_str(value))
    return diff


def created_entry(instance) -> list[Any] | None:
    """The column values (as `entry_columns_sql` orders them) of the entry auditlog writes when
    `instance`, not saved yet and without a pk, is created; None when auditlog would not write
    it this way (see the module's doc). `instance`'s fields must hold what is inserted (its
    `auto_now_add` fields set)."""
    model = type(instance)
    if auditlog_disabled.get() or not auditlog.contains(model) or not _auditlog_alone(model):
        return None
    if auditlog.get_serialize_options(model)["serialize_data"] or not _pk_diffed_plainly(model):
        return None
    kwargs = {
        "content_type": ContentType.objects.get_for_model(instance),
        "object_repr": smart_str(instance),
        "serialized_data": None,
        "action": LogEntry.Action.CREATE,
        "changes": _created_diff(instance),
        "cid": get_cid(),
    }
    get_additional_data = getattr(instance, "get_additional_data", None)
    if callable(get_additional_data):
        kwargs["additional_data"] = get_additional_data()
    entry = LogEntry(**kwargs)
    # What `Model.save` runs before the INSERT: the request's actor and address come from
    # auditlog's `pre_save` receivers (`auditlog.context`, `healthtrack.apistack`).
    pre_save.send(sender=LogEntry, instance=entry, raw=False, using="default", update_fields=None)
    return column_values(_entry_preparers(), entry)


def _as_saved(field, instance):
    return field.get_db_prep_save(field.pre_save(instance, True), connection)


def _attribute(field, instance):
    return getattr(instance, field.attname)


# Text columns whose values are already strings here; numbers go through the field (an int
# given for a float column is converted as the ORM converts it).
def row_and_entry_sql(model, alias: str) -> tuple[str, tuple]:
    """The opening of a statement that inserts one `model` row and its CREATE entry: `WITH
    alias AS (INSERT ... RETURNING id), e AS (INSERT INTO auditlog_logentry ... FROM alias)`,
    for the caller to finish with its own `SELECT ... FROM alias`; and the row's columns
    (`column_preparers`), in the order of its parameters, which `created_entry()`'s follow.
    Names come from the models' metadata, values are parameters."""
    fields = column_preparers(f for f in model._meta.concrete_fields if not f.primary_key)
    columns = ", ".join(f'"{f.column}"' for f, _ in fields)
    entry_columns, entry_values = entry_columns_sql(alias)
    sql = (
        f'WITH {alias} AS (INSERT INTO "{model._meta.db_table}" ({columns}) '  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING id), "
        f'e AS (INSERT INTO "{LogEntry._meta.db_table}" ({entry_columns}) '
        f"SELECT {entry_values} FROM {alias}) "
    )
    return sql, fields


_PLAIN_COLUMNS = (CharField, TextField)


def column_preparers(fields) -> tuple:
    """Per field, how `Model.save` prepares its value for an INSERT, as (field, function of
    the field and the instance): the attribute itself where that preparation is the identity
    (ids, plain text), else the field's own `pre_save` and `get_db_prep_save`."""
    out = []
    for field in fields:
        if isinstance(field, ForeignKey):
            same = type(field.target_field) in (AutoField, BigAutoField, IntegerField)
        else:
            same = type(field) in _PLAIN_COLUMNS
        out.append((field, _attribute if same else _as_saved))
    return tuple(out)


def column_values(preparers: tuple, instance) -> list[Any]:
    """`instance`'s values for an INSERT of `column_preparers`' fields, in order."""
    return [prepare(field, instance) for field, prepare in preparers]


@cache
def _entry_preparers() -> tuple:
    return column_preparers(_entry_fields())


@cache
def _insert_entry_sql() -> tuple[str, tuple]:
    fields = tuple(f for f in LogEntry._meta.concrete_fields if not f.primary_key)
    columns = ", ".join(f'"{f.column}"' for f in fields)
    sql = (
        f'INSERT INTO "{LogEntry._meta.db_table}" ({columns}) '  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    return sql, fields


def log_entry_create(instance, **kwargs: Any) -> None:
    """`LogEntry.objects.log_create(instance, **kwargs)` with `changes` in `kwargs`: the same
    entry (its defaults as auditlog's manager fills them, the actor and address from the
    `pre_save` receivers), on PostgreSQL inserted by one prepared statement instead of the
    ORM's `create` (~0.9 ms of a sync's Python, issue 15). Through the ORM when LogEntry has
    `post_save` receivers, which a plain INSERT would not run."""
    if connection.vendor != "postgresql" or post_save.has_listeners(LogEntry):
        LogEntry.objects.log_create(instance, **kwargs)
        return
    pk = LogEntry.objects._get_pk_value(instance)
    kwargs.setdefault("content_type", ContentType.objects.get_for_model(instance))
    kwargs.setdefault("object_pk", pk)
    kwargs.setdefault("object_repr", smart_str(instance))
    kwargs.setdefault("serialized_data", LogEntry.objects._get_serialized_data_or_none(instance))
    if isinstance(pk, int):
        kwargs.setdefault("object_id", pk)
    get_additional_data = getattr(instance, "get_additional_data", None)
    if callable(get_additional_data):
        kwargs.setdefault("additional_data", get_additional_data())
    kwargs.setdefault("cid", get_cid())
    entry = LogEntry(**kwargs)
    pre_save.send(sender=LogEntry, instance=entry, raw=False, using="default", update_fields=None)
    sql, fields = _insert_entry_sql()
    with prepared_cursor() as cursor:
        cursor.execute(sql, [_as_saved(field, entry) for field in fields])
