"""The built-in food catalogue: `nutrition/data/foods.csv`, amounts per 100 g (source: README)."""

from __future__ import annotations

import csv
from pathlib import Path

FOODS_CSV = Path(__file__).resolve().parent / "data" / "foods.csv"
NUMBER_COLUMNS = ("calories", "protein_g", "carbs_g", "fat_g", "fiber_g", "sugar_g", "sodium_mg")


def read_foods(path: Path = FOODS_CSV) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [
        {"name": row["name"].strip(), "category": row["category"].strip()}
        | {column: float(row[column]) for column in NUMBER_COLUMNS}
        for row in rows
    ]


def load_foods(food_model) -> int:
    """Insert or refresh every catalogue row (matched by name); returns the number of rows.

    Takes the model as an argument so that the data migration can pass its historical model.
    """
    rows = read_foods()
    existing = {f.name: f for f in food_model.objects.filter(name__in=[r["name"] for r in rows])}
    new, changed = [], []
    for row in rows:
        food = existing.get(row["name"])
        if food is None:
            new.append(food_model(**row))
            continue
        for column, value in row.items():
            setattr(food, column, value)
        changed.append(food)
    food_model.objects.bulk_create(new)
    food_model.objects.bulk_update(changed, ["category", *NUMBER_COLUMNS])
    return len(rows)
