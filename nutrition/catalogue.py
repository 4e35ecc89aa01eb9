"""The built-in food catalogue: `nutrition/data/foods.csv`, amounts per 100 g (source: README),
and `match_food`, the rule that picks a catalogue food for free text."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
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


# --- matching free text to the catalogue ----------------------------------------------------

_STOPWORDS = frozenset({"a", "an", "and", "with", "of", "the", "in", "on", "or", "some", "my"})


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    return [
        _stem(w) for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOPWORDS and len(w) > 1
    ]


def match_food(text: str, names: Iterable[str]) -> str | None:
    """The catalogue name that best matches `text`, or None.

    A food matches when every word of its name before the first comma (its head: "Oatmeal"
    in "Oatmeal, cooked with water", "Chicken breast" in "Chicken breast, skinless") appears
    in the text, plurals folded ("eggs" matches "Egg"). Among matches: the most name words
    found in the text, then the longest head, then the fewest name words (the plainest
    variant), then the name. So "oatmeal with berries" is "Oatmeal, cooked with water" and
    "chicken salad" matches nothing (no "breast"): we do not guess."""
    wanted = set(_words(text))
    if not wanted:
        return None
    best: tuple | None = None
    for name in names:
        head = _words(name.split(",", 1)[0])
        if not head or not set(head) <= wanted:
            continue
        every = _words(name)
        found = len(set(every) & wanted)
        key = (-found, -len(head), len(every), name)
        if best is None or key < best:
            best = key
    return best[-1] if best else None
