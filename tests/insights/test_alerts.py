"""Alert rules at, just below and just above each threshold. No database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from insights import alerts
from insights.alerts import Reading, WindowAverage

AT = datetime(2026, 3, 30, 14, 5, tzinfo=UTC)


def sys_(value, at=AT):
    return Reading("blood_pressure_systolic", at, value)


def dia(value, at=AT):
    return Reading("blood_pressure_diastolic", at, value)


# --- blood_pressure_crisis ------------------------------------------------------------------


@pytest.mark.parametrize("value, fires", [(180, True), (179.9, False), (180.1, True)])
def test_crisis_from_a_systolic_of_180(value, fires):
    assert (alerts.blood_pressure_crisis(sys_(value), dia(80)) is not None) is fires


@pytest.mark.parametrize("value, fires", [(120, True), (119.9, False), (120.1, True)])
def test_crisis_from_a_diastolic_of_120(value, fires):
    assert (alerts.blood_pressure_crisis(sys_(130), dia(value)) is not None) is fires


def test_crisis_message_quotes_the_reading_and_the_thresholds():
    alert = alerts.blood_pressure_crisis(sys_(182), dia(95))
    assert alert.type == "blood_pressure_crisis"
    assert alert.severity == "high"
    assert "Blood pressure of 182/95 mmHg recorded 30 March 2026 14:05 UTC" in alert.message
    assert "180 mmHg or more" in alert.message
    assert "120 mmHg or more" in alert.message
    assert alert.data["systolic"] == 182
    assert alert.recorded_at == AT


def test_crisis_from_one_half_of_a_reading_names_that_half():
    alert = alerts.blood_pressure_crisis(None, dia(125))
    assert alert.message.startswith("Diastolic blood pressure of 125 mmHg")
    assert alert.related_metric == "blood_pressure_diastolic"
    assert alerts.blood_pressure_crisis(None, None) is None


# --- high_blood_pressure (7-day average) ----------------------------------------------------

END = date(2026, 3, 30)


def avg(metric, value, readings=5):
    return WindowAverage(f"blood_pressure_{metric}", value, readings, END)


@pytest.mark.parametrize("value, fires", [(140, True), (139.9, False), (140.1, True)])
def test_high_blood_pressure_from_an_average_systolic_of_140(value, fires):
    result = alerts.high_blood_pressure(avg("systolic", value), avg("diastolic", 80))
    assert (result is not None) is fires


@pytest.mark.parametrize("value, fires", [(90, True), (89.9, False), (90.1, True)])
def test_high_blood_pressure_from_an_average_diastolic_of_90(value, fires):
    result = alerts.high_blood_pressure(avg("systolic", 120), avg("diastolic", value))
    assert (result is not None) is fires


@pytest.mark.parametrize("readings, fires", [(2, False), (3, True)])
def test_high_blood_pressure_needs_three_readings(readings, fires):
    result = alerts.high_blood_pressure(avg("systolic", 150, readings), None)
    assert (result is not None) is fires


def test_high_blood_pressure_message_quotes_averages_window_and_thresholds():
    alert = alerts.high_blood_pressure(avg("systolic", 146.25, 8), avg("diastolic", 88, 8))
    assert alert.severity == "medium"
    assert "7 days to 30 March 2026" in alert.message
    assert "systolic 146.2 mmHg (8 readings) and diastolic 88 mmHg (8 readings)" in alert.message
    assert "140 mmHg systolic or 90 mmHg diastolic or more" in alert.message
    assert alert.dedupe_key == "high_blood_pressure:2026-03-30"


# --- low_oxygen_saturation ------------------------------------------------------------------


@pytest.mark.parametrize("value, fires", [(92, False), (91.9, True), (92.1, False)])
def test_low_oxygen_saturation_below_92_percent(value, fires):
    result = alerts.low_oxygen_saturation(Reading("oxygen_saturation", AT, value))
    assert (result is not None) is fires


def test_low_oxygen_saturation_message_quotes_reading_and_threshold():
    alert = alerts.low_oxygen_saturation(Reading("oxygen_saturation", AT, 89))
    assert "Oxygen saturation of 89 % recorded 30 March 2026 14:05 UTC" in alert.message
    assert "Below 92 % is low" in alert.message


# --- abnormal_glucose -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, fires",
    [(70, False), (69.9, True), (70.1, False), (250, False), (250.1, True), (249.9, False)],
)
def test_abnormal_glucose_below_70_or_above_250(value, fires):
    result = alerts.abnormal_glucose(Reading("blood_glucose", AT, value))
    assert (result is not None) is fires


def test_abnormal_glucose_says_low_or_high_with_the_threshold():
    low = alerts.abnormal_glucose(Reading("blood_glucose", AT, 62))
    high = alerts.abnormal_glucose(Reading("blood_glucose", AT, 300))
    assert "Blood glucose of 62 mg/dL" in low.message
    assert "Below 70 mg/dL is low" in low.message
    assert low.data["direction"] == "low"
    assert "Above 250 mg/dL is very high" in high.message
    assert high.data["direction"] == "high"


def test_alert_thresholds_are_read_from_settings_at_call_time(settings):
    reading = Reading("oxygen_saturation", AT, 93)
    assert alerts.low_oxygen_saturation(reading) is None
    settings.INSIGHTS_THRESHOLDS = {**settings.INSIGHTS_THRESHOLDS, "spo2_min": 94}
    assert alerts.low_oxygen_saturation(reading) is not None


# --- evaluate -------------------------------------------------------------------------------


def test_evaluate_pairs_systolic_and_diastolic_of_one_measurement():
    result = alerts.evaluate([sys_(185), dia(125)])
    assert len(result) == 1
    assert "185/125 mmHg" in result[0].message


def test_evaluate_returns_each_alert_once_oldest_first_with_the_window_alert_last():
    later = AT + timedelta(hours=2)
    result = alerts.evaluate(
        [
            Reading("blood_glucose", later, 40),
            sys_(190),
            Reading("oxygen_saturation", AT, 85),
            Reading("oxygen_saturation", AT, 85),  # the same reading again
            Reading("heart_rate", AT, 190),  # no alert rule
            sys_(120, at=later),
        ],
        averages={"blood_pressure_systolic": avg("systolic", 150)},
    )
    assert [a.type for a in result] == [
        "blood_pressure_crisis",
        "low_oxygen_saturation",
        "abnormal_glucose",
        "high_blood_pressure",
    ]


def test_evaluate_of_normal_readings_is_empty():
    readings = [sys_(120), dia(80), Reading("blood_glucose", AT, 100)]
    assert alerts.evaluate(readings, averages={}) == []


def test_the_same_reading_always_gives_the_same_dedupe_key():
    paris = timezone(timedelta(hours=2))
    first = alerts.low_oxygen_saturation(Reading("oxygen_saturation", AT, 88))
    again = alerts.low_oxygen_saturation(Reading("oxygen_saturation", AT.astimezone(paris), 87))
    other = alerts.low_oxygen_saturation(
        Reading("oxygen_saturation", AT + timedelta(minutes=1), 88)
    )
    assert first.dedupe_key == again.dedupe_key
    assert first.dedupe_key != other.dedupe_key
