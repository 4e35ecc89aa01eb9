"""The one rounding rule for a figure a person reads, shared by every surface (cards, goals,
report, admin, API summary, FHIR export): a value of a type is stated with the type's
`DECIMALS`, rounded half away from zero (so 0.5 step is never shown as both 0 and 1)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# Decimals a figure of each type is stated with (canonical unit).
DECIMALS = {
    "steps": 0,
    "distance": 0,
    "active_energy": 0,
    "exercise": 0,
    "heart_rate": 0,
    "resting_heart_rate": 0,
    "blood_pressure_systolic": 0,
    "blood_pressure_diastolic": 0,
    "weight": 1,
    "body_fat": 1,
    "blood_glucose": 0,
    "oxygen_saturation": 0,
    "body_temperature": 1,
    "respiratory_rate": 0,
    "sleep": 0,
}


def decimals(code: str) -> int:
    return DECIMALS.get(code, 1)


def rounded(code: str, value: float | None) -> float | None:
    """`value` of type `code` as it is stated (a float; whole numbers for 0 decimals)."""
    if value is None:
        return None
    places = decimals(code)
    quantum = Decimal(1).scaleb(-places)
    result = float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))
    return result + 0.0  # no -0.0


def formatted(code: str, value: float) -> str:
    """`value` as a page states it: "6,500", "75.1"."""
    return f"{rounded(code, value):,.{decimals(code)}f}"
