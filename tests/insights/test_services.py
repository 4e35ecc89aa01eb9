from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError

from insights import alerts, services
from insights.models import HealthInsight
from insights.rules import Recommendation
from tests.accounts.factories import ClinicianFactory
from tests.insights.factories import AlertFactory, HealthInsightFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 31, 2, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)


def rec(code: str, severity: str = "medium", reasoning: str | None = None, score=0.5):
    return Recommendation(
        type=code,
        title=f"About {code}",
        severity=severity,
        score=score,
        reasoning=reasoning or f"Because of {code}: 4,000 against 5,000.",
        actions=("Do this.", "Then that."),
        related_metric="steps",
        data={"average": 4000.0, "threshold": 5000, "range": (1, 2)},
    )


def current(user):
    return list(HealthInsight.objects.for_user(user.pk).recommendations().current())


# --- insights_replace_generated -------------------------------------------------------------


def test_replace_generated_stores_the_set_ranked_in_one_generation(user):
    rows = services.insights_replace_generated(
        user_id=user.pk,
        recommendations=[rec("low_steps", "high"), rec("low_water_intake", "low")],
        generated_at=T0,
    )
    assert [(r.rank, r.insight_type, r.severity) for r in rows] == [
        (1, "low_steps", "high"),
        (2, "low_water_intake", "low"),
    ]
    stored = sorted(current(user), key=lambda r: r.rank)
    assert [r.pk for r in stored] == [r.pk for r in rows]
    assert len({r.generation for r in stored}) == 1
    first = stored[0]
    assert first.kind == "recommendation"
    assert first.created_at == T0
    assert first.message == "Because of low_steps: 4,000 against 5,000."
    assert first.actions == ["Do this.", "Then that."]
    assert first.data == {"average": 4000.0, "threshold": 5000, "range": [1, 2]}
    assert first.score == 0.5


def test_replace_generated_twice_with_the_same_input_changes_nothing(user):
    recs = [rec("low_steps"), rec("insufficient_sleep")]
    first = services.insights_replace_generated(
        user_id=user.pk, recommendations=recs, generated_at=T0
    )
    services.insight_mark(insight=first[0], read=True)
    again = services.insights_replace_generated(
        user_id=user.pk, recommendations=recs, generated_at=T1
    )
    assert [r.pk for r in again] == [r.pk for r in first]
    assert HealthInsight.objects.count() == 2
    assert HealthInsight.objects.get(pk=first[0].pk).is_read is True


def test_replace_generated_replaces_the_set_and_keeps_acknowledged_ones_as_history(user):
    old = services.insights_replace_generated(
        user_id=user.pk,
        recommendations=[rec("low_steps"), rec("insufficient_sleep"), rec("low_water_intake")],
        generated_at=T0,
    )
    services.insight_mark(insight=old[0], acknowledged=True)
    new = services.insights_replace_generated(
        user_id=user.pk,
        recommendations=[rec("low_steps", reasoning="Now 3,000."), rec("activity_change")],
        generated_at=T1,
    )
    assert sorted((r.rank, r.insight_type) for r in current(user)) == [
        (1, "low_steps"),
        (2, "activity_change"),
    ]
    history = HealthInsight.objects.get(pk=old[0].pk)
    assert history.superseded_at == T1
    assert history.acknowledged_at is not None
    assert not HealthInsight.objects.filter(pk__in=[old[1].pk, old[2].pk]).exists()
    assert new[0].generation != history.generation
    assert all(r.created_at == T1 for r in new)


def test_replace_generated_keeps_read_flags_of_unchanged_messages(user):
    old = services.insights_replace_generated(
        user_id=user.pk,
        recommendations=[rec("low_steps"), rec("insufficient_sleep")],
        generated_at=T0,
    )
    for row in old:
        services.insight_mark(insight=row, read=True)
    services.insights_replace_generated(
        user_id=user.pk,
        recommendations=[rec("low_steps"), rec("insufficient_sleep", reasoning="Worse now.")],
        generated_at=T1,
    )
    read = {r.insight_type: r.is_read for r in current(user)}
    assert read == {"low_steps": True, "insufficient_sleep": False}


def test_replace_generated_with_nothing_clears_the_current_set(user):
    services.insights_replace_generated(
        user_id=user.pk, recommendations=[rec("low_steps")], generated_at=T0
    )
    assert (
        services.insights_replace_generated(user_id=user.pk, recommendations=[], generated_at=T1)
        == []
    )
    assert current(user) == []


def test_replace_generated_touches_only_that_users_recommendations(user, other_user):
    theirs = HealthInsightFactory(user=other_user)
    alert = AlertFactory(user=user)
    services.insights_replace_generated(
        user_id=user.pk, recommendations=[rec("low_steps")], generated_at=T0
    )
    services.insights_replace_generated(user_id=user.pk, recommendations=[], generated_at=T1)
    assert HealthInsight.objects.filter(pk__in=[theirs.pk, alert.pk]).count() == 2


def test_replace_generated_deletes_a_replaced_row_with_whatever_names_it(user, other_user):
    """A replaced row goes with any handling row that names it, as the ORM's cascade did (one
    statement on PostgreSQL); other rows' handling stays."""
    from insights.models import AlertAction

    [old] = services.insights_replace_generated(
        user_id=user.pk, recommendations=[rec("low_steps")], generated_at=T0
    )
    alert = AlertFactory(user=user)
    AlertAction.objects.create(alert=old, actor_label="x", action="acknowledge")
    kept = AlertAction.objects.create(alert=alert, actor_label="x", action="acknowledge")
    services.insights_replace_generated(
        user_id=user.pk, recommendations=[rec("low_water_intake")], generated_at=T1
    )
    assert not HealthInsight.objects.filter(pk=old.pk).exists()
    assert list(AlertAction.objects.values_list("pk", flat=True)) == [kept.pk]
    assert [r.insight_type for r in current(user)] == ["low_water_intake"]


def test_replace_generated_is_atomic(user, monkeypatch):
    old = services.insights_replace_generated(
        user_id=user.pk, recommendations=[rec("low_steps")], generated_at=T0
    )

    def fail(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(HealthInsight.objects, "bulk_create", fail)
    with pytest.raises(DatabaseError):
        services.insights_replace_generated(
            user_id=user.pk, recommendations=[rec("activity_change")], generated_at=T1
        )
    assert [r.pk for r in current(user)] == [old[0].pk]


# --- alert_record ---------------------------------------------------------------------------

AT = datetime(2026, 3, 30, 14, 5, tzinfo=UTC)


def crisis(at=AT, systolic=185):
    return alerts.blood_pressure_crisis(
        alerts.Reading("blood_pressure_systolic", at, systolic), None
    )


def test_alert_record_stores_the_alert(user):
    row, created = services.alert_record(user_id=user.pk, alert=crisis())
    assert created
    row.refresh_from_db()
    assert row.kind == "alert"
    assert row.insight_type == "blood_pressure_crisis"
    assert row.severity == "high"
    assert "185 mmHg" in row.message
    assert row.data["recorded_at"] == AT.isoformat()
    assert row.reviewed_at is None


def test_alert_record_never_duplicates_an_alert_for_the_same_reading(user):
    first, _ = services.alert_record(user_id=user.pk, alert=crisis())
    again, created = services.alert_record(user_id=user.pk, alert=crisis(systolic=186))
    assert not created
    assert again.pk == first.pk
    services.alert_record(user_id=user.pk, alert=crisis(at=AT + timedelta(minutes=5)))
    assert HealthInsight.objects.alerts().count() == 2


def test_the_same_reading_of_two_users_gives_two_alerts(user, other_user):
    services.alert_record(user_id=user.pk, alert=crisis())
    services.alert_record(user_id=other_user.pk, alert=crisis())
    assert HealthInsight.objects.alerts().count() == 2


# --- insight_mark ---------------------------------------------------------------------------


def test_insight_mark_read_and_unread():
    insight = HealthInsightFactory()
    services.insight_mark(insight=insight, read=True)
    assert HealthInsight.objects.get(pk=insight.pk).is_read is True
    services.insight_mark(insight=insight, read=False)
    assert HealthInsight.objects.get(pk=insight.pk).is_read is False


def test_acknowledging_records_the_time_once_and_marks_read():
    insight = HealthInsightFactory()
    services.insight_mark(insight=insight, acknowledged=True)
    stored = HealthInsight.objects.get(pk=insight.pk)
    assert stored.is_read is True
    first_time = stored.acknowledged_at
    assert first_time is not None
    services.insight_mark(insight=stored, acknowledged=True)
    assert HealthInsight.objects.get(pk=insight.pk).acknowledged_at == first_time
    services.insight_mark(insight=stored, acknowledged=False)
    assert HealthInsight.objects.get(pk=insight.pk).acknowledged_at is None


def test_marking_is_audited_without_the_encrypted_message():
    insight = HealthInsightFactory(message="Secret figures 4,321")
    services.insight_mark(insight=insight, read=True)
    entries = LogEntry.objects.get_for_object(insight)
    assert entries.filter(action=LogEntry.Action.UPDATE).exists()
    for entry in entries:
        assert "4,321" not in str(entry.changes)
        assert "message" not in (entry.changes_dict or {})


# --- alerts_mark_reviewed -------------------------------------------------------------------


def test_mark_reviewed_records_who_and_when_on_unreviewed_alerts_only():
    reviewer = ClinicianFactory()
    earlier = ClinicianFactory()
    open_alert = AlertFactory()
    done = AlertFactory(reviewed_by=earlier, reviewed_at=T0)
    recommendation = HealthInsightFactory()
    count = services.alerts_mark_reviewed(
        alerts=HealthInsight.objects.filter(pk__in=[open_alert.pk, done.pk, recommendation.pk]),
        reviewer=reviewer,
    )
    assert count == 1
    open_alert.refresh_from_db()
    done.refresh_from_db()
    recommendation.refresh_from_db()
    assert open_alert.reviewed_by == reviewer
    assert open_alert.reviewed_at is not None
    assert (done.reviewed_by, done.reviewed_at) == (earlier, T0)
    assert recommendation.reviewed_at is None


# --- clinician_note_create ------------------------------------------------------------------


def test_a_clinician_writes_a_note_for_a_patient_in_care(user, care):
    clinician = ClinicianFactory()
    care(clinician, user)
    note = services.clinician_note_create(
        author=clinician, patient=user, title="Check-in", message="Walk after lunch."
    )
    note.refresh_from_db()
    assert (note.kind, note.insight_type, note.author, note.user) == (
        "clinician_note",
        "clinician_note",
        clinician,
        user,
    )
    assert note.message == "Walk after lunch."


def test_a_clinician_cannot_write_for_a_patient_outside_their_care(user):
    with pytest.raises(PermissionDenied):
        services.clinician_note_create(
            author=ClinicianFactory(), patient=user, title="x", message="y"
        )
    assert not HealthInsight.objects.exists()


def test_a_patient_cannot_write_a_note(user, other_user):
    with pytest.raises(PermissionDenied):
        services.clinician_note_create(author=user, patient=user, title="x", message="y")


def test_a_clinician_cannot_write_a_note_about_themselves():
    clinician = ClinicianFactory()
    with pytest.raises(ValidationError):
        services.clinician_note_create(author=clinician, patient=clinician, title="x", message="y")


def test_a_note_with_an_unknown_severity_is_refused(user, care):
    clinician = ClinicianFactory()
    care(clinician, user)
    with pytest.raises(ValidationError):
        services.clinician_note_create(
            author=clinician, patient=user, title="x", message="y", severity="urgent"
        )
