"""Bench data generator: N patients x D days of realistic data, loaded with PostgreSQL COPY.

    python bench/generate.py [--patients 1000] [--days 90] [--database ht_perf] [--force]

Per patient: a watch, a scale and a blood-pressure cuff; hourly steps (07-22 h), a night's
sleep, resting heart rate, weight, blood pressure (two readings' worth: systolic + diastolic)
every day; three meals, a snack and a drink a day in the nutrition diary; two goals (steps,
weight). A tenth of the patients wear the watch all day: minute-level heart rate (1,440 rows a
day). 1,000 patients x 90 days is ~14.9 million measurements (13 million of them heart rate),
450,000 diary entries and 2,000 goals.

Everything is written in one transaction: the tables are truncated, the measurement table's
secondary indexes dropped, rows streamed with COPY ... FREEZE (pre-frozen, so no vacuum pass is
needed for index-only scans), the indexes rebuilt, and the hourly and daily rollups computed in
SQL with the metrics app's rules (sum / average / latest per type; one device per type, so the
de-duplication of overlapping summed samples keeps every value). `tests/bench/` checks the
SQL rollups against `metrics.rollups.recompute_all` on a small dataset.

Idempotent: a dataset of the same size made within the last 7 days is kept (`--force` redoes
it). Users are `bench-p00001`... with password `Bench-pass-2026!` (one hash, computed once).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from datetime import UTC, date, datetime, timedelta

from common import PERF_DB, setup_django

PASSWORD = "Bench-pass-2026!"
HR_SHARE = 10  # every 10th patient has minute-level heart rate
STALE_DAYS = 7
VERSION = 2  # bumped when the dataset's content changes (2: goals)
MEALS = [  # (meal type, hour, kcal, protein, carbs, fat, description)
    ("breakfast", 7, 450, 18, 60, 14, "Oats, milk and a banana"),
    ("lunch", 12, 650, 32, 70, 22, "Chicken salad sandwich"),
    ("dinner", 19, 700, 35, 75, 25, "Salmon, rice and greens"),
    ("snack", 16, 200, 6, 25, 8, "Yoghurt and nuts"),
]


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


def _marker(cursor) -> dict | None:
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS bench_dataset (id int PRIMARY KEY, patients int, days int, "
        "measurements bigint, diary bigint, first_day date, last_day date, seconds float, "
        "generated_at timestamptz)"
    )
    cursor.execute("ALTER TABLE bench_dataset ADD COLUMN IF NOT EXISTS version int DEFAULT 1")
    cursor.execute("ALTER TABLE bench_dataset ADD COLUMN IF NOT EXISTS goals int DEFAULT 0")
    cursor.execute("ALTER TABLE bench_dataset ADD COLUMN IF NOT EXISTS key_id text DEFAULT ''")
    cursor.execute(
        "SELECT patients, days, measurements, diary, first_day, last_day, seconds, generated_at, "
        "version, goals, key_id FROM bench_dataset WHERE id = 1"
    )
    row = cursor.fetchone()
    if row is None:
        return None
    keys = ["patients", "days", "measurements", "diary", "first_day", "last_day", "seconds"]
    return dict(zip([*keys, "generated_at", "version", "goals", "key_id"], row, strict=True))


def key_id() -> str:
    """Which encryption key the dataset's encrypted fields were written under (a hash, never
    the key): a checkout with other dev keys cannot read them and must regenerate."""
    import hashlib

    from django.conf import settings

    return hashlib.sha256(settings.FERNET_KEYS[0].encode()).hexdigest()[:16]


def existing(patients: int, days: int) -> dict | None:
    """The marker of a usable dataset of this size, or None."""
    from django.db import connection

    with connection.cursor() as cursor:
        marker = _marker(cursor)
    if not marker or marker["patients"] != patients or marker["days"] != days:
        return None
    if marker["version"] != VERSION or marker["key_id"] != key_id():
        return None
    if marker["last_day"] < datetime.now(UTC).date() - timedelta(days=STALE_DAYS):
        return None
    return marker


def _strip(cursor, table: str) -> list[str]:
    """Drop the table's foreign keys and the indexes that back no constraint (a bulk load
    is much faster without them); returns the statements that put them back."""
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        [table],
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    foreign = cursor.fetchall()
    for name, _ in foreign:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    return [d for _, d in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {d}' for name, d in foreign
    ]


def _users(patients: int, rng: random.Random, now: datetime):
    from django.contrib.auth.hashers import make_password

    from accounts.models import User

    hashed = make_password(PASSWORD)
    users = []
    for i in range(1, patients + 1):
        sex = rng.choice(["female", "male"])
        users.append(
            User(
                username=f"bench-p{i:05d}",
                email=f"bench-p{i:05d}@bench.example",
                password=hashed,
                role="patient",
                sex=sex,
                height_cm=rng.randint(155, 175) + (10 if sex == "male" else 0),
                date_of_birth=date(rng.randint(1945, 2004), rng.randint(1, 12), rng.randint(1, 28)),
                date_joined=now,
            )
        )
    User.objects.bulk_create(users, batch_size=1000)
    return list(User.objects.filter(username__startswith="bench-p").order_by("id"))


def _devices(users, now: datetime) -> dict[int, dict[str, int]]:
    from metrics.models import Device

    rows = []
    for user in users:
        rows += [
            Device(user=user, device_type="apple_watch", name="Watch", identifier="watch-1"),
            Device(user=user, device_type="third_party_scale", name="Scale", identifier="scale-1"),
            Device(user=user, device_type="third_party_wearable", name="Cuff", identifier="cuff-1"),
        ]
    for device in rows:
        device.priority = Device.default_priority(device.device_type)
    Device.objects.bulk_create(rows, batch_size=3000)
    out: dict[int, dict[str, int]] = {}
    for pk, user_id, identifier in Device.objects.values_list("id", "user_id", "identifier"):
        out.setdefault(user_id, {})[identifier.split("-")[0]] = pk
    return out


def _measurement_lines(user_id: int, index: int, dev: dict, first: date, days: int, now, rng):
    """COPY text lines of one patient's measurements (columns: see COLUMNS)."""
    from metrics.registry import get_metric_type

    unit = {c: get_metric_type(c).unit for c in MEASURED}
    created = _ts(now)
    tail = f"\t\t\t{{}}\t\\N\t{created}\n"
    out = []
    weight = rng.uniform(55, 105)
    rhr = rng.uniform(52, 78)
    systolic, diastolic = rng.uniform(105, 150), rng.uniform(65, 95)
    for d in range(days):
        day = datetime.combine(first + timedelta(days=d), datetime.min.time(), tzinfo=UTC)
        for hour in range(7, 23):
            start = day + timedelta(hours=hour)
            steps = max(0, int(rng.gauss(550, 350)))
            out.append(
                f"{user_id}\tsteps\t{steps}\t{unit['steps']}\t{_ts(start)}\t"
                f"{_ts(start + timedelta(hours=1))}\t{dev['watch']}{tail}"
            )
        bed = day - timedelta(minutes=rng.randint(0, 90))
        sleep = rng.randint(330, 510)
        out.append(
            f"{user_id}\tsleep\t{sleep}\t{unit['sleep']}\t{_ts(bed)}\t"
            f"{_ts(bed + timedelta(minutes=sleep))}\t{dev['watch']}{tail}"
        )
        out.append(
            f"{user_id}\tresting_heart_rate\t{rhr + rng.uniform(-3, 3):.1f}\tbpm\t"
            f"{_ts(day + timedelta(hours=6))}\t\\N\t{dev['watch']}{tail}"
        )
        weight += rng.uniform(-0.25, 0.22)
        at = _ts(day + timedelta(hours=7, minutes=rng.randint(0, 30)))
        out.append(
            f"{user_id}\tweight\t{weight:.2f}\t{unit['weight']}\t{at}\t\\N\t{dev['scale']}{tail}"
        )
        at = _ts(day + timedelta(hours=8, minutes=rng.randint(0, 59)))
        out.append(
            f"{user_id}\tblood_pressure_systolic\t{systolic + rng.uniform(-8, 8):.0f}\t"
            f"{unit['blood_pressure_systolic']}\t{at}\t\\N\t{dev['cuff']}{tail}"
        )
        out.append(
            f"{user_id}\tblood_pressure_diastolic\t{diastolic + rng.uniform(-6, 6):.0f}\t"
            f"{unit['blood_pressure_diastolic']}\t{at}\t\\N\t{dev['cuff']}{tail}"
        )
    return out


MEASURED = [
    "steps",
    "sleep",
    "resting_heart_rate",
    "weight",
    "blood_pressure_systolic",
    "blood_pressure_diastolic",
    "heart_rate",
]
COLUMNS = (
    "user_id, metric_type, value, unit, recorded_at, end_at, device_id, source_app, "
    "external_id, metadata, notes, created_at"
)


def _heart_rate_template(first: date, days: int) -> tuple[list[str], list[int]]:
    """Minute timestamps of the whole window and a day-shaped heart rate curve."""
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    stamps = [_ts(start + timedelta(minutes=m)) for m in range(days * 1440)]
    rng = random.Random(7)
    curve = []
    for m in range(days * 1440):
        minute = m % 1440
        base = 58 if minute < 420 or minute >= 1380 else 74 + 8 * math.sin(minute / 229)
        if 1080 <= minute < 1110 and (m // 1440) % 2 == 0:
            base = 128  # an evening run every other day
        curve.append(int(base + rng.gauss(0, 4)))
    return stamps, curve


def _copy(cursor, table: str, columns: str, lines, *, freeze: bool) -> int:
    n = 0
    sql = f"COPY {table} ({columns}) FROM STDIN" + (" WITH (FREEZE)" if freeze else "")
    with cursor.copy(sql) as copy:
        buffer: list[str] = []
        for line in lines:
            buffer.append(line)
            if len(buffer) >= 50_000:
                copy.write("".join(buffer))
                n += len(buffer)
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))
            n += len(buffer)
    return n


# Per aggregation: {value} is the rollup's value over the group's samples. Latest-value types
# are few rows (one weighing a day), so their ordered array_agg stays cheap.
ROLLUP_VALUE = {
    "sum": "sum(value)",
    "average": "avg(value)",
    "latest": "(array_agg(value ORDER BY recorded_at DESC, id DESC))[1]",
}
ROLLUP_SQL = """
INSERT INTO metrics_{table} (user_id, metric_type, {period}, value, min_value, max_value, count)
SELECT user_id, metric_type, {bucket}, {value}, min(value), max(value), count(*)
FROM metrics_healthmetric WHERE metric_type = ANY(%s) GROUP BY 1, 2, 3
"""
PERIODS = [
    ("hourlyrollup", "period_start", "date_trunc('hour', recorded_at, 'UTC')"),
    ("dailyrollup", "day", "(recorded_at AT TIME ZONE 'UTC')::date"),
]


# Summed types: a sample that spans several hours is split across them in proportion to its
# time in each (metrics.rollups.deduplicated_shares, single source: nothing covered); it counts
# once, in the hour it starts; min/max are of the raw values touching the hour. Days add up
# their hours.
SUMMED_HOURS_SQL = """
INSERT INTO metrics_hourlyrollup (user_id, metric_type, period_start, value, min_value, max_value,
                                  count)
SELECT user_id, metric_type, hour, SUM(share), MIN(value), MAX(value),
       COUNT(*) FILTER (WHERE first)
FROM (
    SELECT m.user_id, m.metric_type, m.value, h AS hour,
           h = date_trunc('hour', m.recorded_at, 'UTC') AS first,
           CASE WHEN m.end_at IS NULL OR m.end_at <= m.recorded_at THEN m.value
                ELSE m.value * EXTRACT(EPOCH FROM LEAST(m.end_at, h + interval '1 hour')
                                                  - GREATEST(m.recorded_at, h))::float8
                     / EXTRACT(EPOCH FROM m.end_at - m.recorded_at)::float8
           END AS share
    FROM metrics_healthmetric m
    CROSS JOIN LATERAL generate_series(
        date_trunc('hour', m.recorded_at, 'UTC'),
        CASE WHEN m.end_at IS NULL OR m.end_at <= m.recorded_at
             THEN date_trunc('hour', m.recorded_at, 'UTC')
             ELSE date_trunc('hour', m.end_at - interval '1 microsecond', 'UTC') END,
        interval '1 hour'
    ) AS h
    WHERE m.metric_type = ANY(%s)
) pieces
GROUP BY 1, 2, 3
"""
SUMMED_DAYS_SQL = """
INSERT INTO metrics_dailyrollup (user_id, metric_type, day, value, min_value, max_value, count)
SELECT user_id, metric_type, (period_start AT TIME ZONE 'UTC')::date, SUM(value), MIN(min_value),
       MAX(max_value), SUM(count)
FROM metrics_hourlyrollup WHERE metric_type = ANY(%s) GROUP BY 1, 2, 3
"""


def compute_rollups(cursor) -> None:
    """Hourly and daily rollups of every measurement, in SQL, per the metrics app's rules for
    single-source data (every summed type here comes from one device)."""
    from metrics.registry import METRIC_TYPES

    for aggregation, value in ROLLUP_VALUE.items():
        codes = [c for c, t in METRIC_TYPES.items() if t.aggregation == aggregation]
        if aggregation == "sum":
            cursor.execute(SUMMED_HOURS_SQL, [codes])
            cursor.execute(SUMMED_DAYS_SQL, [codes])
            continue
        for table, period, bucket in PERIODS:
            sql = ROLLUP_SQL.format(table=table, period=period, bucket=bucket, value=value)
            cursor.execute(sql, [codes])


def _diary_lines(users, first: date, days: int, now: datetime, rng: random.Random):
    from nutrition.models import NutritionLog

    field = NutritionLog._meta.get_field("description")
    cipher = {
        meal[6]: "\\\\x" + field.fernet.encrypt(meal[6].encode()).hex()
        for meal in [*MEALS, ("drink", 0, 0, 0, 0, 0, "Water")]
    }
    created = _ts(now)
    for user in users:
        for d in range(days):
            day = datetime.combine(first + timedelta(days=d), datetime.min.time(), tzinfo=UTC)
            for meal_type, hour, kcal, protein, carbs, fat, text in MEALS:
                f = rng.uniform(0.8, 1.25)
                at = _ts(day + timedelta(hours=hour, minutes=rng.randint(0, 50)))
                yield (
                    f"{user.pk}\t{meal_type}\t{cipher[text]}\t{kcal * f:.0f}\t{protein * f:.1f}\t"
                    f"{carbs * f:.1f}\t{fat * f:.1f}\t\\N\t\\N\t\\N\t\\N\t{at}\t"
                    f"{created}\t{created}\n"
                )
            at = _ts(day + timedelta(hours=10))
            water = rng.choice([1250, 1500, 1750, 2000, 2250])
            yield (
                f"{user.pk}\tdrink\t{cipher['Water']}\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t{water}\t{at}\t"
                f"{created}\t{created}\n"
            )


DIARY_COLUMNS = (
    "user_id, meal_type, description, calories, protein_g, carbs_g, fat_g, fiber_g, sugar_g, "
    "sodium_mg, water_ml, logged_at, created_at, updated_at"
)


def generate(*, patients: int, days: int, seed: int = 2026) -> dict:
    """Replace the database's data with a fresh dataset; returns its marker."""
    from django.db import connection, transaction

    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    last = now.date() - timedelta(days=1)  # complete days only; today stays for the writes
    first = last - timedelta(days=days - 1)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("TRUNCATE accounts_user, metrics_healthmetric RESTART IDENTITY CASCADE")
        _marker(cursor)  # creates the marker table on a fresh database
        cursor.execute("DELETE FROM bench_dataset")
        restore = _strip(cursor, "metrics_healthmetric") + _strip(cursor, "nutrition_nutritionlog")
        users = _users(patients, rng, now)
        devices = _devices(users, now)

        stamps, curve = _heart_rate_template(first, days)
        raw = cursor.cursor

        def measurement_lines():
            for index, user in enumerate(users):
                dev = devices[user.pk]
                yield from _measurement_lines(user.pk, index, dev, first, days, now, rng)
                if index % HR_SHARE == 0:
                    shift = rng.randint(-6, 10)
                    prefix = f"{user.pk}\theart_rate\t"
                    tail = f"\tbpm\t%s\t\\N\t{dev['watch']}\t\t\t{{}}\t\\N\t{_ts(now)}\n"
                    yield from (
                        prefix + str(v + shift) + tail % s
                        for v, s in zip(curve, stamps, strict=True)
                    )

        measurements = _copy(raw, "metrics_healthmetric", COLUMNS, measurement_lines(), freeze=True)
        diary = _copy(
            raw,
            "nutrition_nutritionlog",
            DIARY_COLUMNS,
            _diary_lines(users, first, days, now, rng),
            freeze=True,
        )
        loaded = time.perf_counter()
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the users' and devices' checks
        for statement in restore:
            cursor.execute(statement)
        indexed = time.perf_counter()
        compute_rollups(cursor)
        goals = _goals(users, first, last, rng)
        seconds = round(time.perf_counter() - started, 1)
        cursor.execute(
            "INSERT INTO bench_dataset (id, patients, days, measurements, diary, first_day, "
            "last_day, seconds, generated_at, version, goals, key_id) "
            "VALUES (1, %s, %s, %s, %s, %s, %s, %s, now(), %s, %s, %s)",
            [patients, days, measurements, diary, first, last, seconds, VERSION, goals, key_id()],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"generated {measurements:,} measurements, {diary:,} diary entries and {goals:,} goals "
        f"for {patients:,} "
        f"patients x {days} days in {time.perf_counter() - started:.0f} s (COPY "
        f"{loaded - started:.0f} s, indexes {indexed - loaded:.0f} s)"
    )
    with connection.cursor() as cursor:
        return _marker(cursor)


def _goals(users, first: date, last: date, rng: random.Random) -> int:
    """Two goals a patient (8,000 steps a day; keep the weight at or below 75 or 85 kg),
    created through the goals app's service so their progress is computed from the
    data just loaded. Skipped while the goals app is not installed."""
    from django.apps import apps

    if not apps.is_installed("goals"):
        return 0
    from goals import services

    created = 0
    start = first + timedelta(days=(last - first).days // 2)
    for user in users:
        services.goal_create(
            user=user, goal_type="steps", target_value=8000, start_date=start, today=last
        )
        services.goal_create(
            user=user,
            goal_type="weight",
            target_value=rng.choice([75, 85]),
            direction="at_most",
            start_date=start,
            today=last,
        )
        created += 2
    return created


def ensure(*, patients: int, days: int, force: bool = False) -> dict:
    marker = None if force else existing(patients, days)
    if marker:
        print(
            f"dataset kept: {marker['measurements']:,} measurements, {patients:,} patients x "
            f"{days} days ({marker['first_day']}..{marker['last_day']})"
        )
        return marker
    return generate(patients=patients, days=days)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--database", default=PERF_DB)
    parser.add_argument("--force", action="store_true", help="regenerate even if it exists")
    args = parser.parse_args(argv)
    setup_django(args.database)
    return ensure(patients=args.patients, days=args.days, force=args.force)


if __name__ == "__main__":
    main()
