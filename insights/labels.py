"""Human labels for insight type codes: what the admin, the patient page and the triage list
show instead of `blood_pressure_crisis`."""

from __future__ import annotations

from insights import alerts, rules

INSIGHT_TYPE_LABELS: dict[str, str] = {
    alerts.BLOOD_PRESSURE_CRISIS: "Blood pressure crisis",
    alerts.HIGH_BLOOD_PRESSURE: "High blood pressure (7-day average)",
    alerts.LOW_OXYGEN_SATURATION: "Low blood oxygen",
    alerts.ABNORMAL_GLUCOSE: "Blood glucose out of range",
    rules.LOW_STEPS: "Low daily steps",
    rules.INSUFFICIENT_SLEEP: "Not enough sleep",
    rules.ELEVATED_RESTING_HEART_RATE: "High resting heart rate",
    rules.WEIGHT_MANAGEMENT: "Weight",
    rules.POOR_NUTRITION: "Nutrition",
    rules.LOW_WATER_INTAKE: "Low water intake",
    rules.RESTING_HEART_RATE_TREND: "Resting heart rate rising",
    rules.ACTIVITY_CHANGE: "Change in activity",
    "clinician_note": "Clinician note",
}


def insight_type_label(code: str) -> str:
    """The label of `code`; an unknown code is spelled out ("some_rule" -> "Some rule")."""
    return INSIGHT_TYPE_LABELS.get(code) or code.replace("_", " ").capitalize()


def insight_type_choices() -> list[tuple[str, str]]:
    return sorted(INSIGHT_TYPE_LABELS.items(), key=lambda item: item[1])
