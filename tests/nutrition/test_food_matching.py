"""Free text to a catalogue food (`nutrition.catalogue.match_food`): the quick food log uses
it, and guesses nothing."""

from __future__ import annotations

import pytest

from nutrition.catalogue import match_food

# --- matching free text to the catalogue ----------------------------------------------------

CATALOGUE = [
    "Oatmeal, cooked with water",
    "Oats, rolled, dry",
    "Blueberries, raw",
    "Chicken breast, skinless, roasted",
    "Egg, whole, raw",
    "Egg, whole, hard-boiled",
    "Egg white, raw",
    "Apple, raw",
    "Apple juice, unsweetened",
    "Rice, white, cooked",
    "Rice, brown, cooked",
]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("oatmeal with berries", "Oatmeal, cooked with water"),
        ("Oatmeal", "Oatmeal, cooked with water"),
        ("rolled oats", "Oats, rolled, dry"),
        ("two eggs", "Egg, whole, raw"),
        ("hard-boiled egg", "Egg, whole, hard-boiled"),
        ("egg whites", "Egg white, raw"),
        ("apple juice", "Apple juice, unsweetened"),
        ("an apple", "Apple, raw"),
        ("brown rice", "Rice, brown, cooked"),
        ("blueberries", "Blueberries, raw"),
        ("grilled chicken breast", "Chicken breast, skinless, roasted"),
        ("chicken salad", None),
        ("pizza", None),
        ("", None),
        ("with and of", None),
    ],
)
def test_match_food(text, expected):
    assert match_food(text, CATALOGUE) == expected


def test_match_food_is_independent_of_catalogue_order():
    assert match_food("egg", reversed(CATALOGUE)) == match_food("egg", CATALOGUE)
