"""A device sync cleans plain samples on a short path (`clean_plain_sample`): it must accept
only what `clean_measurement` accepts, clean it to the same values, and leave everything else
(wrong or not plain) to `clean_measurement`, which says what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import example, given, settings
from hypothesis import strategies as st

from metrics.models import HealthMetric
from metrics.registry import METRIC_TYPES
from metrics.validation import clean_measurement, clean_plain_sample, future_limit
from tests.metrics.factories import DeviceFactory

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DEVICE = object.__new__(type("Device", (), {"pk": 7, "user_id": 1}))

codes = st.sampled_from([*METRIC_TYPES, "", "no_such_type"]) | st.none() | st.integers()
units = (
    st.sampled_from(
        sorted({u for mtype in METRIC_TYPES.values() for u in mtype.units}) + ["", "furlongs"]
    )
    | st.none()
    | st.integers()
)
values = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-10, 200_000)
    | st.sampled_from([True, None, "72", "x", 60.5, 0, 1440, 1441, 250.0, 250.1])
)
offsets = st.sampled_from(["Z", "+00:00", "+05:30", "-08:00", ""])
times = st.one_of(
    st.builds(
        lambda minutes, off: (
            (NOW + timedelta(minutes=minutes)).replace(tzinfo=None).isoformat() + off
        ),
        st.integers(-60 * 24 * 400, 60 * 3),
        offsets,
    ),
    st.sampled_from(["", "  ", "yesterday", "2026-13-01T00:00:00Z", " 2026-05-01T10:00:00Z "]),
    st.none(),
    st.integers(),
)
texts = st.none() | st.text(max_size=3) | st.just("x" * 256) | st.just("a" * 101) | st.integers()
extras = st.dictionaries(
    st.sampled_from(["end_at", "notes", "metadata", "colour", "device"]),
    st.none() | st.just("2026-06-01T11:00:00Z") | st.just({}) | st.just("n"),
    max_size=2,
)


@st.composite
def samples(draw):
    sample = {"metric_type": draw(codes), "value": draw(values), "recorded_at": draw(times)}
    for field, strategy in (("unit", units), ("source_app", texts), ("external_id", texts)):
        if draw(st.booleans()):
            sample[field] = draw(strategy)
    sample.update(draw(extras))
    for field in draw(st.sets(st.sampled_from(["metric_type", "value", "recorded_at"]))):
        del sample[field]
    return sample


def general(sample: dict) -> tuple[dict, bool]:
    known = {"metric_type", "value", "unit", "recorded_at", "end_at", "device"}
    known |= {"source_app", "external_id", "metadata", "notes"}
    if not sample.keys() <= known:
        return {}, False  # the sync refuses unknown fields before cleaning
    cleaned, errors = clean_measurement({**sample, "device": DEVICE}, now=NOW)
    return cleaned, not errors


@settings(max_examples=600, deadline=None)
@given(samples())
@example({"metric_type": "heart_rate", "value": 72, "recorded_at": "2026-06-01T11:59:00Z"})
@example({"metric_type": "steps", "value": 100.5, "recorded_at": "2026-06-01T10:00:00Z"})
@example({"metric_type": "weight", "value": 160, "unit": "lb", "recorded_at": "2026-06-01T10Z"})
@example({"metric_type": "heart_rate", "value": 72, "recorded_at": "2026-06-01T14:00:01+01:00"})
@example({"metric_type": "heart_rate", "value": 72, "recorded_at": "2026-06-01T13:00:01Z"})
@example({"metric_type": "heart_rate", "value": 72, "recorded_at": "2026-06-01T10:00:00"})
def test_a_plain_sample_is_cleaned_as_the_general_path_cleans_it(sample):
    fast = clean_plain_sample(sample, device=DEVICE, limit=future_limit(NOW))
    cleaned, valid = general(sample)
    if fast is None:
        # Not plain, or wrong: the general path decides (and says what is wrong).
        return
    assert valid, sample
    assert fast == cleaned
    assert [type(v) for v in fast.values()] == [type(cleaned[k]) for k in fast]


def test_the_plain_path_takes_the_common_device_sample():
    sample = {
        "metric_type": "heart_rate",
        "value": 72,
        "recorded_at": "2026-06-01T11:59:00Z",
        "external_id": "hr-1",
    }
    fast = clean_plain_sample(sample, device=DEVICE, limit=future_limit(NOW))
    assert fast is not None
    assert fast["recorded_at"] == datetime(2026, 6, 1, 11, 59, tzinfo=UTC)
    assert fast["value"] == 72.0 and fast["device"] is DEVICE and fast["external_id"] == "hr-1"


@pytest.mark.django_db
def test_a_batch_of_plain_and_other_samples_is_stored_as_sent(auth_client, user):
    device = DeviceFactory(user=user)
    at = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    plain = [
        {
            "metric_type": "heart_rate",
            "value": 60 + i,
            "recorded_at": iso(at, i),
            "external_id": f"p{i}",
        }
        for i in range(3)
    ]
    other = {
        "metric_type": "heart_rate",
        "value": "75",
        "recorded_at": iso(at, 10),
        "metadata": {"motion": "walking"},
        "notes": "after stairs",
    }
    wrong = {"metric_type": "heart_rate", "value": 300, "recorded_at": iso(at, 11)}
    response = auth_client.post(
        f"/api/v1/devices/{device.pk}/sync",
        {"samples": [*plain, other, wrong]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["counts"]["created"] == 4
    assert [e["index"] for e in response.json()["errors"]] == [4]
    rows = list(HealthMetric.objects.filter(user=user).order_by("recorded_at"))
    assert [(m.value, m.external_id, m.metadata, m.notes) for m in rows] == [
        (60.0, "p0", {}, ""),
        (61.0, "p1", {}, ""),
        (62.0, "p2", {}, ""),
        (75.0, "", {"motion": "walking"}, "after stairs"),
    ]
    assert rows[0].recorded_at == at and rows[0].device_id == device.pk


def iso(at: datetime, minutes: int) -> str:
    return (at + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
