"""Hourly and daily rollups, recomputed from raw samples for the local days a write touched.

Hourly rollups are UTC hours. Daily rollups are the owner's local days (`healthtrack.core.days`): a
rollup's `day` is the local date, in the owner's `time_zone`, of the samples it holds, and a
day is cut at local midnight. The zone is resolved once per write (`tz`, passed down) and the
local date of each sample comes from bisecting precomputed local midnights (`LocalDays`), or
from the database's own conversion, never from a per-row zone lookup.

Called by every write in `metrics.services` inside the writing transaction, so a rollup never
disagrees with the committed samples. Recomputing whole days from raw rows (rather than
adding deltas) keeps every path (create, update, delete, bulk sync, priority change) on one
function, `recompute_days`, that a property test checks against a naive recomputation; on
PostgreSQL it runs as one SQL statement for averaged and latest-value types (`_ROLLUP_SQL`).

Summed types (steps, distance, energy, exercise, sleep) are de-duplicated across sources:
where samples from two sources overlap in time, the higher-priority source keeps its value
and the lower one keeps only the share of its value that falls outside the overlap
(pro-rata, assuming a sample is spread evenly over its interval).

A summed sample that spans several hours is split across them in proportion to its overlap
with each (the same even-spread assumption), and cut again at local midnight where that falls
inside an hour (zones such as Asia/Kolkata, UTC+5:30): each piece is one (UTC hour, local day)
pair, and hours and days are both sums of pieces. A point sample, and every sample of an
averaged or latest type (heart rate, weight, ...), stays in the hour and the local day in which
it starts. `count` is the
number of samples that start in the period; min and max are over the samples that start in it
and, for summed types, those that spill into it (an hour reached only by a spill has count 0).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from django.db import connection
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncDate, TruncHour

from healthtrack.core import days as calendar
from healthtrack.core.prepared import prepared_cursor
from metrics import period_rollups
from metrics.models import (
    NO_DEVICE_PRIORITY,
    DailyRollup,
    HealthMetric,
    HourlyRollup,
    PeriodRollup,
)
from metrics.registry import AVERAGE, LATEST, SUM, get_metric_type
from metrics.validation import MAX_SAMPLE_SPAN

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def day_start(day: date, tz: tzinfo = UTC) -> datetime:
    """Local midnight of `day` in `tz`, as a UTC instant."""
    return calendar.day_start(day, tz)


class LocalDays:
    """Local dates of instants in one zone, over a range, by bisecting the local midnights
    (computed once): no zone conversion per sample."""

    def __init__(self, tz: tzinfo, lo: datetime, hi: datetime) -> None:
        self.tz = tz
        first = lo.astimezone(tz).date() - timedelta(days=1)
        last = hi.astimezone(tz).date() + timedelta(days=1)
        self.days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        self.midnights = [calendar.day_start(d, tz).timestamp() for d in self.days]

    def day_at(self, ts: float) -> date:
        return self.days[max(bisect.bisect_right(self.midnights, ts) - 1, 0)]


@dataclass
class Bucket:
    """Running aggregate of one period."""

    total: float = 0.0  # sum of kept values (summed types) or of raw values (averaged)
    count: int = 0
    min_value: float = float("inf")
    max_value: float = float("-inf")
    latest_key: tuple = ()
    latest_value: float = 0.0

    def add(self, value: float, kept: float, key: tuple) -> None:
        self.total += kept
        self.count += 1
        self.min_value = min(self.min_value, value)
        self.max_value = max(self.max_value, value)
        if key > self.latest_key:
            self.latest_key, self.latest_value = key, value

    def spill(self, value: float, kept: float) -> None:
        """The share of a summed sample that started in an earlier period."""
        self.total += kept
        self.min_value = min(self.min_value, value)
        self.max_value = max(self.max_value, value)

    def merge(self, other: Bucket) -> None:
        self.total += other.total
        self.count += other.count
        self.min_value = min(self.min_value, other.min_value)
        self.max_value = max(self.max_value, other.max_value)
        if other.latest_key > self.latest_key:
            self.latest_key, self.latest_value = other.latest_key, other.latest_value

    def value(self, aggregation: str) -> float:
        if aggregation == SUM:
            return self.total
        if aggregation == AVERAGE:
            return self.total / self.count
        return self.latest_value


# --- de-duplication of summed samples -----------------------------------------------------


@dataclass(frozen=True)
class Sample:
    id: int
    start: float  # POSIX seconds
    end: float  # == start for a point sample
    value: float
    source: tuple  # (rank key) — samples of the same source never cover each other


def source_rank(priority: int | None, device_id: int | None, source_app: str) -> tuple:
    """Sort key: the best source first. Ties on priority go to the older device, then to
    samples with a device, then by source app name (deterministic)."""
    if device_id is not None:
        return (-(priority or 0), 0, device_id, "")
    return (-NO_DEVICE_PRIORITY, 1, 0, source_app)


def _covered_length(start: float, end: float, starts: list[float], merged: list) -> float:
    """Length of [start, end) covered by `merged` (sorted, disjoint intervals)."""
    i = max(bisect.bisect_right(starts, start) - 1, 0)
    covered = 0.0
    while i < len(merged):
        s, e = merged[i]
        if s >= end:
            break
        lo, hi = max(s, start), min(e, end)
        if hi > lo:
            covered += hi - lo
        i += 1
    return covered


def _point_covered(point: float, starts: list[float], merged: list) -> bool:
    i = bisect.bisect_right(starts, point) - 1
    return i >= 0 and merged[i][0] <= point < merged[i][1]


def _merge(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for s, e in sorted(intervals):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _hour_pieces(
    start: float, end: float, cuts: list[float] | None = None
) -> Iterable[tuple[float, float]]:
    """[start, end) cut at each UTC hour boundary and at each of `cuts` (sorted; POSIX
    seconds)."""
    step = HOUR.total_seconds()
    lo = start
    i = bisect.bisect_right(cuts, lo) if cuts else 0
    while lo < end:
        hi = min(end, (lo // step + 1) * step)
        if cuts:
            while i < len(cuts) and cuts[i] <= lo:
                i += 1
            if i < len(cuts):
                hi = min(hi, cuts[i])
        yield lo, hi
        lo = hi


def deduplicated_shares(
    samples: Iterable[Sample], cuts: list[float] | None = None
) -> dict[int, list[tuple[float, float]]]:
    """Per sample, (piece start, value kept in that piece) after higher-ranked sources have
    claimed their time, the pieces being the sample's interval cut at UTC hours and at `cuts`
    (local midnights), oldest first: an interval sample keeps, in each piece, its value times
    the share of its interval that falls in that piece and is not covered; a point sample keeps
    its value (or nothing, if covered) in one piece at its start. The shares of a sample add up
    to what it keeps."""
    by_source: dict[tuple, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_source[sample.source].append(sample)
    kept: dict[int, list[tuple[float, float]]] = {}
    merged: list[tuple[float, float]] = []
    starts: list[float] = []
    for source in sorted(by_source):
        group = by_source[source]
        for sample in group:
            if sample.end > sample.start:
                length = sample.end - sample.start
                pieces = []
                for lo, hi in _hour_pieces(sample.start, sample.end, cuts):
                    covered = _covered_length(lo, hi, starts, merged) if merged else 0.0
                    pieces.append((lo, sample.value * max(hi - lo - covered, 0.0) / length))
                kept[sample.id] = pieces
            else:
                hit = bool(merged) and _point_covered(sample.start, starts, merged)
                kept[sample.id] = [(sample.start, 0.0 if hit else sample.value)]
        merged = _merge([*merged, *((s.start, s.end) for s in group)])
        starts = [s for s, _ in merged]
    return kept


# --- recomputation --------------------------------------------------------------------------


def affected_days(
    *, user_id: int, metric_type: str, start: datetime, end: datetime, tz: tzinfo = UTC
) -> tuple[date, date]:
    """First and last local day (in `tz`) whose rollups a write over [start, end] may change.

    For a summed type, samples that overlap the written span may start up to a day earlier,
    and their kept share depends on the write, so their day is included too.
    """
    first, last = start, end
    if get_metric_type(metric_type).is_summed:
        # Overlapping samples: their kept share (and so every hour they are split across)
        # depends on the write.
        span = HealthMetric.objects.filter(
            user_id=user_id,
            metric_type=metric_type,
            recorded_at__gte=start - MAX_SAMPLE_SPAN,
            recorded_at__lte=end,
            end_at__gt=start,
        ).aggregate(first=Min("recorded_at"), last=Max("end_at"))
        if span["first"] is not None:
            first, last = min(first, span["first"]), max(last, span["last"])
    return first.astimezone(tz).date(), last.astimezone(tz).date()


# Buckets are keyed by piece: (UTC hour, local day). Hours and days are merges of pieces.
Pieces = dict[tuple[datetime, date], Bucket]


def _buckets_summed(
    user_id: int, metric_type: str, lo: datetime, hi: datetime, local: LocalDays
) -> Pieces:
    window = Q(recorded_at__gte=lo, recorded_at__lt=hi)
    # Samples outside the window that may cover samples inside it or spill into it, and those
    # that may cover the spilling ones (they start at most one span before them).
    coverers = Q(
        recorded_at__gte=lo - 2 * MAX_SAMPLE_SPAN,
        recorded_at__lt=lo,
        end_at__gt=lo - MAX_SAMPLE_SPAN,
    ) | Q(recorded_at__gte=hi, recorded_at__lt=hi + MAX_SAMPLE_SPAN)
    rows = HealthMetric.objects.filter(user_id=user_id, metric_type=metric_type).filter(
        window | coverers
    )
    samples, touching = [], []
    for pk, rec, end, value, device_id, priority, app in rows.values_list(
        "id", "recorded_at", "end_at", "value", "device_id", "device__priority", "source_app"
    ):
        start_ts = rec.timestamp()
        sample = Sample(
            id=pk,
            start=start_ts,
            end=end.timestamp() if end is not None else start_ts,
            value=value,
            source=source_rank(priority, device_id, app),
        )
        samples.append(sample)
        if lo <= rec < hi or (end is not None and rec < lo < end):
            touching.append((rec, pk, value))
    shares = deduplicated_shares(samples, local.midnights)
    step = HOUR.total_seconds()
    lo_ts, hi_ts = lo.timestamp(), hi.timestamp()
    pieces: Pieces = defaultdict(Bucket)
    for rec, pk, value in touching:
        for index, (piece_ts, share) in enumerate(shares[pk]):
            hour_ts = (piece_ts // step) * step
            if not lo_ts <= hour_ts < hi_ts:
                continue
            bucket = pieces[(datetime.fromtimestamp(hour_ts, tz=UTC), local.day_at(piece_ts))]
            if index == 0:  # the piece the sample starts in: it counts there
                bucket.add(value, share, (rec, pk))
            else:
                bucket.spill(value, share)
    return pieces


def _buckets_averaged(
    user_id: int, metric_type: str, lo: datetime, hi: datetime, local: LocalDays
) -> Pieces:
    rows = (
        HealthMetric.objects.filter(
            user_id=user_id, metric_type=metric_type, recorded_at__gte=lo, recorded_at__lt=hi
        )
        .annotate(
            hour=TruncHour("recorded_at", tzinfo=UTC), day=TruncDate("recorded_at", tzinfo=local.tz)
        )
        .values("hour", "day")
        .annotate(total=Sum("value"), n=Count("id"), lo=Min("value"), hi=Max("value"))
        .order_by()
    )
    pieces: Pieces = {}
    for row in rows:
        pieces[(row["hour"].astimezone(UTC), row["day"])] = Bucket(
            total=row["total"], count=row["n"], min_value=row["lo"], max_value=row["hi"]
        )
    return pieces


def _buckets_latest(
    user_id: int, metric_type: str, lo: datetime, hi: datetime, local: LocalDays
) -> Pieces:
    rows = HealthMetric.objects.filter(
        user_id=user_id, metric_type=metric_type, recorded_at__gte=lo, recorded_at__lt=hi
    ).values_list("id", "recorded_at", "value")
    pieces: Pieces = defaultdict(Bucket)
    for pk, rec, value in rows:
        pieces[(floor_hour(rec), local.day_at(rec.timestamp()))].add(value, value, (rec, pk))
    return pieces


_BUCKETERS = {SUM: _buckets_summed, AVERAGE: _buckets_averaged, LATEST: _buckets_latest}


# Averaged and "latest" types on PostgreSQL: the same recomputation from raw rows as the ORM
# path below (piece = (UTC hour, local day); hour and day: their pieces' sums over their
# counts, or the value of the latest (recorded_at, id); MIN, MAX, COUNT) as one statement
# that rewrites the rollups of the range in place (stale periods deleted, the others
# upserted). A POST holds its owner's advisory lock for the whole transaction; this is one
# round trip where the ORM path takes five (issue 15). Summed types keep the Python path (the
# de-duplication across sources). The property test runs on SQLite and PostgreSQL.
# Within an hour, pieces are ordered by day; within a day, by hour: so the latest piece of
# an hour or a day is found by that order alone.
_ROLLUP_SQL = """
WITH pieces AS (
    SELECT date_trunc('hour', recorded_at AT TIME ZONE 'UTC') AS hour,
           (recorded_at AT TIME ZONE %(tz)s)::date AS day,
           {piece_value} AS value, COUNT(*) AS n, MIN(value) AS lo, MAX(value) AS hi
    FROM metrics_healthmetric
    WHERE user_id = %(user)s AND metric_type = %(type)s
      AND recorded_at >= %(lo)s AND recorded_at < %(hi)s
    GROUP BY 1, 2
), hours AS (
    SELECT hour, {hour_value} AS value, SUM(n)::bigint AS n, MIN(lo) AS lo, MAX(hi) AS hi
    FROM pieces GROUP BY 1
), days AS (
    SELECT day, {day_value} AS value, SUM(n)::bigint AS n, MIN(lo) AS lo, MAX(hi) AS hi
    FROM pieces WHERE day >= %(first)s AND day <= %(last)s GROUP BY 1
), stale_hours AS (
    DELETE FROM metrics_hourlyrollup
    WHERE user_id = %(user)s AND metric_type = %(type)s
      AND period_start >= %(lo)s AND period_start < %(hi)s
      AND period_start NOT IN (SELECT hour AT TIME ZONE 'UTC' FROM hours)
), stale_days AS (
    DELETE FROM metrics_dailyrollup
    WHERE user_id = %(user)s AND metric_type = %(type)s
      AND day >= %(first)s AND day <= %(last)s AND day NOT IN (SELECT day FROM days)
), new_days AS (
    INSERT INTO metrics_dailyrollup (user_id, metric_type, day, value, min_value, max_value, count)
    SELECT %(user)s, %(type)s, day, {value}, lo, hi, n FROM days
    ON CONFLICT (user_id, metric_type, day) DO UPDATE SET value = EXCLUDED.value,
        min_value = EXCLUDED.min_value, max_value = EXCLUDED.max_value, count = EXCLUDED.count
)
INSERT INTO metrics_hourlyrollup
    (user_id, metric_type, period_start, value, min_value, max_value, count)
SELECT %(user)s, %(type)s, hour AT TIME ZONE 'UTC', {value}, lo, hi, n FROM hours
ON CONFLICT (user_id, metric_type, period_start) DO UPDATE SET value = EXCLUDED.value,
    min_value = EXCLUDED.min_value, max_value = EXCLUDED.max_value, count = EXCLUDED.count
"""
_SQL_BY_AGGREGATION = {
    # `value` is the period's sum here; the row's value is that sum over the count.
    AVERAGE: _ROLLUP_SQL.format(
        piece_value="SUM(value)", hour_value="SUM(value)", day_value="SUM(value)", value="value / n"
    ),
    LATEST: _ROLLUP_SQL.format(
        piece_value="(array_agg(value ORDER BY recorded_at DESC, id DESC))[1]",
        hour_value="(array_agg(value ORDER BY day DESC))[1]",
        day_value="(array_agg(value ORDER BY hour DESC))[1]",
        value="value",
    ),
}


def recompute_days(
    *, user_id: int, metric_type: str, first: date, last: date, tz: tzinfo | None = None
) -> None:
    """Rewrite the daily rollups of `metric_type` for the owner's local days first..last (in
    `tz`, the owner's zone: looked up when not given), and the hourly rollups of every UTC hour
    that those days touch."""
    tz = calendar.zone_of(user_id) if tz is None else tz
    aggregation = get_metric_type(metric_type).aggregation
    day_lo, day_hi = day_start(first, tz), day_start(last + DAY, tz)
    # Whole UTC hours: where local midnight falls inside an hour (UTC+5:30), that hour's
    # samples of the neighbouring day are recomputed with it (their day is not rewritten).
    lo, hi = floor_hour(day_lo), ceil_hour(day_hi)
    sql = _SQL_BY_AGGREGATION.get(aggregation)
    if sql is not None and connection.vendor == "postgresql":
        params = {"user": user_id, "type": metric_type, "lo": lo, "hi": hi}
        with connection.cursor() as cursor:
            cursor.execute(
                sql, {**params, "first": first, "last": last, "tz": calendar.zone_name(tz)}
            )
    else:
        local = LocalDays(tz, lo - 2 * MAX_SAMPLE_SPAN, hi + MAX_SAMPLE_SPAN)
        _recompute_in_python(user_id, metric_type, aggregation, first, last, lo, hi, local)
    # Weeks and months in the owner's zone, in the same transaction as the days.
    period_rollups.refresh(user_id=user_id, metric_type=metric_type, first=first, last=last, tz=tz)


def _recompute_in_python(
    user_id: int,
    metric_type: str,
    aggregation: str,
    first: date,
    last: date,
    lo: datetime,
    hi: datetime,
    local: LocalDays,
) -> None:
    pieces = _BUCKETERS[aggregation](user_id, metric_type, lo, hi, local)
    hours: dict[datetime, Bucket] = defaultdict(Bucket)
    days: dict[date, Bucket] = defaultdict(Bucket)
    for (hour, day), bucket in pieces.items():
        hours[hour].merge(bucket)
        if first <= day <= last:
            days[day].merge(bucket)

    HourlyRollup.objects.filter(
        user_id=user_id, metric_type=metric_type, period_start__gte=lo, period_start__lt=hi
    ).delete()
    DailyRollup.objects.filter(
        user_id=user_id, metric_type=metric_type, day__gte=first, day__lte=last
    ).delete()
    common = {"user_id": user_id, "metric_type": metric_type}
    HourlyRollup.objects.bulk_create(
        [
            HourlyRollup(
                **common,
                period_start=hour,
                value=b.value(aggregation),
                min_value=b.min_value,
                max_value=b.max_value,
                count=b.count,
            )
            for hour, b in sorted(hours.items())
        ]
    )
    DailyRollup.objects.bulk_create(
        [
            DailyRollup(
                **common,
                day=day,
                value=b.value(aggregation),
                min_value=b.min_value,
                max_value=b.max_value,
                count=b.count,
            )
            for day, b in sorted(days.items())
        ]
    )


def recompute_span(
    *, user_id: int, metric_type: str, start: datetime, end: datetime, tz: tzinfo | None = None
) -> None:
    tz = calendar.zone_of(user_id) if tz is None else tz
    first, last = affected_days(
        user_id=user_id, metric_type=metric_type, start=start, end=end, tz=tz
    )
    recompute_days(user_id=user_id, metric_type=metric_type, first=first, last=last, tz=tz)


def recompute_all(
    *, user_id: int, metric_type: str | None = None, tz: tzinfo | None = None
) -> None:
    """Rebuild every rollup of a user (after bulk loads such as the demo data, or a change of
    time zone): every daily and period row is cut again in the owner's current zone."""
    tz = calendar.zone_of(user_id) if tz is None else tz
    qs = HealthMetric.objects.filter(user_id=user_id)
    if metric_type:
        qs = qs.filter(metric_type=metric_type)
    spans = qs.values("metric_type").annotate(
        first=Min("recorded_at"), last=Max("recorded_at"), last_end=Max("end_at")
    )
    # Days and periods cut in another zone (or left over) go first: the span below rewrites
    # only the days that hold samples now.
    stale = {"user_id": user_id, **({"metric_type": metric_type} if metric_type else {})}
    DailyRollup.objects.filter(**stale).delete()
    PeriodRollup.objects.filter(**stale).delete()
    for row in spans.order_by():
        last = max(row["last"], row["last_end"] or row["last"])  # a split sample's last hour
        recompute_days(
            user_id=user_id,
            metric_type=row["metric_type"],
            first=row["first"].astimezone(tz).date(),
            last=last.astimezone(tz).date(),
            tz=tz,
        )


def recompute_spans(
    *,
    user_id: int,
    metric_type: str,
    spans: Iterable[tuple[datetime, datetime]],
    tz: tzinfo | None = None,
) -> None:
    """Recompute the days touched by each (start, end) span; nearby spans share one pass."""
    tz = calendar.zone_of(user_id) if tz is None else tz
    runs: list[list[datetime]] = []
    reach = None  # the last run's end plus two days: a span starting by then joins the run
    for start, end in sorted(spans):  # a sync's 1,440: one comparison each in the common case
        if reach is not None and start <= reach:
            if end > runs[-1][1]:
                runs[-1][1] = end
                reach = end + 2 * DAY
        else:
            runs.append([start, end])
            reach = end + 2 * DAY
    for start, end in runs:
        recompute_span(user_id=user_id, metric_type=metric_type, start=start, end=end, tz=tz)


# --- one new sample: the delta, not a recomputation -------------------------------------------

# The scalar two-argument min and max: LEAST/GREATEST on PostgreSQL, MIN/MAX on SQLite.
_LEAST_GREATEST = {"postgresql": ("LEAST", "GREATEST")}


_ADD_SQL = """
INSERT INTO {table} AS r (user_id, metric_type, {key}, value, min_value, max_value, count)
{rows}
ON CONFLICT (user_id, metric_type, {key}) DO UPDATE SET {update}
RETURNING count
"""
# Week and month; a row cut in another zone is left alone (no row returned for it).
_ADD_PERIODS_SQL = """
INSERT INTO metrics_periodrollup AS r
    (user_id, metric_type, period, start, time_zone, value, min_value, max_value, count)
{rows}
ON CONFLICT (user_id, metric_type, period, start) DO UPDATE SET {update}
WHERE r.time_zone = EXCLUDED.time_zone
RETURNING count
"""


def _rows(keys: int, count: int, source: str | None) -> str:
    """`count` rows of the user, the type, `keys` key parameters, the value three times and a
    count of 1: a VALUES list of parameters, or with `source` (a CTE of the caller's
    statement with one row or none: `user_id`, `metric_type`, `value`) one SELECT each from
    it with the keys as parameters."""
    if source is None:
        row = ", ".join(["%s"] * (keys + 5)) + ", 1"
        return "VALUES " + ", ".join(f"({row})" for _ in range(count))
    value = f"{source}.value"
    row = ", ".join(
        [f"{source}.user_id", f"{source}.metric_type", *["%s"] * keys, value, value, value, "1"]
    )
    # Names of the caller's statement, values as parameters.
    return " UNION ALL ".join(f"SELECT {row} FROM {source}" for _ in range(count))  # noqa: S608


def _set_clause(aggregation: str, latest: str) -> str:
    """The ON CONFLICT update of a rollup row `r` by one new sample (EXCLUDED, count 1):
    the average re-weighted by the count, or for a latest type the new value where `latest`
    (an SQL condition) says the sample is the period's latest."""
    least, greatest = _LEAST_GREATEST.get(connection.vendor, ("MIN", "MAX"))
    if aggregation == AVERAGE:
        value = "(r.value * r.count + EXCLUDED.value) / (r.count + 1)"
    else:
        value = f"CASE WHEN {latest} THEN EXCLUDED.value ELSE r.value END"
    return (
        f"value = {value}, min_value = {least}(r.min_value, EXCLUDED.min_value), "
        f"max_value = {greatest}(r.max_value, EXCLUDED.max_value), count = r.count + 1"
    )


_LATER_SQL = (
    "SELECT MIN(recorded_at) FROM metrics_healthmetric WHERE user_id = %s"
    " AND metric_type = %s AND recorded_at >= %s AND recorded_at < %s"
    " AND (recorded_at > %s OR id > %s)"
)


def _later_params(user_id: int, metric_type: str, at: datetime, pk: int, until: datetime):
    adapt = connection.ops.adapt_datetimefield_value
    return [user_id, metric_type, adapt(at), adapt(until), adapt(at), pk]


def _later_sample(user_id: int, metric_type: str, at: datetime, pk: int, until: datetime):
    """The earliest sample after (at, pk) in (recorded_at, id) order, before `until`."""
    with connection.cursor() as cursor:
        cursor.execute(_LATER_SQL, _later_params(user_id, metric_type, at, pk, until))
        found = cursor.fetchone()[0]
    if isinstance(found, str):  # SQLite returns an aggregate's datetime as text
        found = datetime.fromisoformat(found)
    if found is not None and found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    return found


# PostgreSQL runs the three upserts of `add_sample` as one statement (data-modifying CTEs):
# one round trip instead of three, under the person's lock. Its rows: the day's count, then
# the counts of the period rows updated.
_ADD_ALL_SQL = """
WITH {later}hour_up AS ({hour}), day_up AS ({day}), periods_up AS ({periods})
SELECT 0, count FROM day_up UNION ALL SELECT 1, count FROM periods_up
"""
# A latest type's sample is the period's latest unless a later sample starts before the
# period ends: read in the upserts' own statement on PostgreSQL (`later`, one row).
_LATER_CTE = "later (at) AS ({sql}), "
_IS_LATEST_SQL = "(SELECT later.at IS NULL OR later.at >= %s FROM later)"


def _run_upserts(
    statements: list[tuple[str, list]], later: tuple[str, list] | None = None
) -> tuple[int, list[int]]:
    """Run the hour, day and periods upserts of `add_sample`; (the day row's count, the
    period rows' counts). `later`: the `later` CTE's query and parameters (PostgreSQL)."""
    with prepared_cursor() as cursor:
        if connection.vendor == "postgresql":
            (hour, hour_params), (day, day_params), (periods, periods_params) = statements
            later_sql, later_params = later if later is not None else ("", [])
            cursor.execute(
                _ADD_ALL_SQL.format(
                    later=_LATER_CTE.format(sql=later_sql) if later_sql else "",
                    hour=hour,
                    day=day,
                    periods=periods,
                ),
                later_params + hour_params + day_params + periods_params,
            )
            rows = cursor.fetchall()
            day_count = next(count for which, count in rows if which == 0)
            return day_count, [count for which, count in rows if which == 1]
        # SQLite has no data-modifying CTEs: one statement each.
        for sql, params in statements[:2]:
            cursor.execute(sql, params)
            day_count = cursor.fetchone()[0]
        cursor.execute(*statements[2])
        return day_count, [row[0] for row in cursor.fetchall()]


def add_sample(
    *, user_id: int, metric_type: str, pk: int, value: float, at: datetime, tz: tzinfo
) -> None:
    """Fold one new sample (`pk`, `value`, recorded `at`) of an averaged or latest type into
    its hour, local day, week and month (the owner's zone `tz`): one `INSERT ... ON CONFLICT
    DO UPDATE` of the delta per table (count + 1, the average re-weighted, min and max by
    LEAST/GREATEST, the value replaced where the sample is the period's latest), instead of
    recomputing the day from raw rows. Exact: such a sample counts in the hour and the day it
    starts in and changes nothing else (summed types, whose de-duplication can move other
    samples' shares, and updates and deletions, which can lower a max, recompute).

    The period rows are only updated when they were cut in `tz`; a row cut in another zone (a
    change of zone not yet recut) or rows that disagree with the day (written before the
    period table existed) send the periods to `period_rollups.refresh`, which recuts or
    rebuilds them from the days as before."""
    aggregation = get_metric_type(metric_type).aggregation
    if aggregation == SUM:
        raise ValueError("summed types are recomputed (their samples share time)")
    statements, later = _sample_upserts(
        user_id=user_id, metric_type=metric_type, pk=pk, value=value, at=at, tz=tz
    )
    day_count, counts = _run_upserts(statements, later)
    sample_added(
        user_id=user_id, metric_type=metric_type, at=at, tz=tz, day_count=day_count, counts=counts
    )


def sample_added(
    *, user_id: int, metric_type: str, at: datetime, tz: tzinfo, day_count: int, counts: list
) -> None:
    """After `add_sample`'s upserts (the day row's count, the period rows' counts): the
    periods refreshed from the days when a row was cut in another zone or disagrees."""
    if len(counts) != 2 or min(counts) < day_count:
        day = at.astimezone(tz).date()
        period_rollups.refresh(user_id=user_id, metric_type=metric_type, first=day, last=day, tz=tz)


def folded_upserts(
    *, user_id: int, metric_type: str, value: float, at: datetime, tz: tzinfo, source: str
) -> tuple[str, list] | None:
    """`add_sample`'s three upserts of an averaged type as CTEs of the caller's statement
    (PostgreSQL): `hour_up AS (...), day_up AS (...), periods_up AS (...)`, each inserting
    from `source` (a CTE of the caller's with the columns `user_id`, `metric_type` and
    `value`: one row when they are to run, none when not); the caller reads `day_up`'s and
    `periods_up`'s counts and passes them to `sample_added`. The parameters are the keys
    only (hour, day, week and month), so the statement stays within psycopg's cache of
    converted queries (at most 50 parameters).
    None for a latest type (whether the sample is a period's latest is read in a statement
    of its own, under the person's lock) and on SQLite."""
    if connection.vendor != "postgresql":
        return None
    if get_metric_type(metric_type).aggregation != AVERAGE:
        return None
    (hour, hour_params), (day, day_params), (periods, periods_params) = _sample_upserts(
        user_id=user_id, metric_type=metric_type, pk=0, value=value, at=at, tz=tz, source=source
    )[0]
    sql = f"hour_up AS ({hour}), day_up AS ({day}), periods_up AS ({periods})"
    return sql, hour_params + day_params + periods_params


def _sample_upserts(
    *,
    user_id: int,
    metric_type: str,
    pk: int,
    value: float,
    at: datetime,
    tz: tzinfo,
    source: str | None = None,
) -> tuple[list[tuple[str, list]], tuple[str, list] | None]:
    """`add_sample`'s statements (hour, day, periods) and its `later` query (None: the flags
    are constants); `source`: see `folded_upserts`."""
    aggregation = get_metric_type(metric_type).aggregation
    hour = floor_hour(at)
    day = at.astimezone(tz).date()
    week = period_rollups.period_start(period_rollups.WEEK, day)
    month = period_rollups.period_start(period_rollups.MONTH, day)
    ends = {
        "hour": hour + HOUR,
        "day": day_start(day + DAY, tz),
        period_rollups.WEEK: period_rollups.bounds(period_rollups.WEEK, week, tz)[1],
        period_rollups.MONTH: period_rollups.bounds(period_rollups.MONTH, month, tz)[1],
    }
    dt, d = connection.ops.adapt_datetimefield_value, connection.ops.adapt_datefield_value
    later = None
    latest = dict.fromkeys(ends, True)
    if aggregation == LATEST and connection.vendor == "postgresql":
        # Whether the sample is each period's latest, decided in the upserts' statement.
        later = (_LATER_SQL, _later_params(user_id, metric_type, at, pk, max(ends.values())))
    elif aggregation == LATEST:
        found = _later_sample(user_id, metric_type, at, pk, max(ends.values()))
        latest = {name: found is None or found >= end for name, end in ends.items()}

    def is_latest(name: str) -> tuple[str, list]:
        if later is not None:
            return _IS_LATEST_SQL, [dt(ends[name])]
        return ("TRUE" if latest[name] else "FALSE"), []

    new = [value, value, value]
    statements = []
    for table, column, period_key, key in (
        ("metrics_hourlyrollup", "period_start", "hour", dt(hour)),
        ("metrics_dailyrollup", "day", "day", d(day)),
    ):
        flag, flag_params = is_latest(period_key)
        update = _set_clause(aggregation, flag)
        sql = _ADD_SQL.format(table=table, key=column, update=update, rows=_rows(1, 1, source))
        row = [key] if source is not None else [user_id, metric_type, key, *new]
        statements.append((sql, [*row, *flag_params]))
    zone = calendar.zone_name(tz)
    if later is not None:
        (week_flag, week_params), (month_flag, month_params) = map(
            is_latest, (period_rollups.WEEK, period_rollups.MONTH)
        )
        flagged = (
            f"CASE EXCLUDED.period WHEN '{period_rollups.WEEK}' THEN {week_flag}"
            f" WHEN '{period_rollups.MONTH}' THEN {month_flag} END"
        )
        flag_params = week_params + month_params
    else:
        # Constants, not input: the periods whose latest value the sample becomes.
        periods = ", ".join(f"'{p}'" for p in period_rollups.PERIODS if latest[p])
        flagged = f"EXCLUDED.period IN ({periods})" if periods else "FALSE"
        flag_params = []
    update = _set_clause(aggregation, flagged)
    keys = [[period_rollups.WEEK, d(week), zone], [period_rollups.MONTH, d(month), zone]]
    if source is None:
        keys = [[user_id, metric_type, *k, *new] for k in keys]
    statements.append(
        (
            _ADD_PERIODS_SQL.format(update=update, rows=_rows(3, 2, source)),
            keys[0] + keys[1] + flag_params,
        )
    )
    return statements, later
