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


def round_half_up(value: float, places: int) -> float:
    """`value` rounded to `places` decimals, halves away from zero (Python's round() and
    format() round halves to even: 2,500.5 steps would read 2,500 on one page, 2,501 on
    another)."""
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP)) + 0.0


def rounded(code: str, value: float | None) -> float | None:
    """`value` of type `code` as it is stated (a float; whole numbers for 0 decimals)."""
    if value is None:
        return None
    return round_half_up(value, decimals(code))


def formatted(code: str, value: float) -> str:
    """`value` as a page states it: "6,500", "75.1"."""
    return f"{rounded(code, value):,.{decimals(code)}f}"


# The narrowest span a chart's value axis shows for a type (canonical unit): a clinically
# meaningful change, so day-to-day noise is not drawn as a swing (36.4-36.8 °C is no fever).
MIN_SPANS = {
    "heart_rate": 30.0,
    "resting_heart_rate": 20.0,
    "blood_pressure_systolic": 40.0,
    "blood_pressure_diastolic": 40.0,
    "weight": 4.0,
    "body_fat": 5.0,
    "blood_glucose": 60.0,
    "oxygen_saturation": 10.0,
    "body_temperature": 2.0,
    "respiratory_rate": 10.0,
}
BLOOD_PRESSURE_MIN_SPAN = 60.0  # systolic and diastolic on one axis


def min_span(code: str) -> float:
    return BLOOD_PRESSURE_MIN_SPAN if code == "blood_pressure" else MIN_SPANS.get(code, 0.0)


def stated(code: str, value: float | None) -> str:
    """`value` with its unit as people read it: "6,500 steps", "7 h 07 min" of sleep,
    "75.1 kg"; "–" without a value."""
    from metrics.registry import METRIC_TYPES

    if value is None:
        return "–"
    if code == "sleep":
        hours, minutes = divmod(round(value), 60)
        return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
    mtype = METRIC_TYPES.get(code)
    unit = mtype.unit_label if mtype is not None else ""
    return f"{formatted(code, value)} {unit}".strip()
