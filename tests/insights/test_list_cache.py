"""The insights list answered from its rendered bytes per viewer, owner, URL and the version of
the owner's insights (`insights.list_version`): the same bytes, access checked and others'
reads audited on every request, hit or miss, and every path that writes insights rows (or
what a page shows of other rows) retires the version, so the next read shows the change. Each
write test reads the page first (caching it), writes as that path does, commits, and reads
again: it fails if that path's retirement is removed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import care
from accounts.models import AccessLog, FamilyMembership
from healthtrack.lifecycle import retention
from healthtrack.lifecycle.models import RetentionJob
from insights import handling, services
from insights.alerts import Alert
from insights.models import HealthInsight
from insights.rules import Recommendation
from tests.healthtrack.test_readcache import backend, bearer  # noqa: F401
from tests.insights.factories import AlertFactory, HealthInsightFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/health-insights"


def rows(client, url: str = URL) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200
    return response.json()["results"]


@pytest.fixture
def insight(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return HealthInsightFactory(user=user)


@pytest.fixture
def cached(auth_client, insight):
    """The owner's page, read once: kept for the next read."""
    return rows(auth_client)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """A write committed as in production: its after-commit work runs."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# --- hits -------------------------------------------------------------------------------------


def test_a_second_read_is_the_same_bytes_without_a_query(
    auth_client, insight, django_assert_num_queries
):
    first = auth_client.get(URL)
    with django_assert_num_queries(0):
        second = auth_client.get(URL)
    assert second.status_code == first.status_code == 200
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert second["Cache-Control"] == first["Cache-Control"]
    assert "no-store" in second["Cache-Control"]  # still never kept by an HTTP cache
    assert [row["id"] for row in second.json()["results"]] == [insight.pk]


def test_each_query_is_its_own_page(auth_client, user, insight, committed):
    with committed():
        alert = AlertFactory(user=user)
    assert [r["id"] for r in rows(auth_client, f"{URL}?kind=alert")] == [alert.pk]
    assert [r["id"] for r in rows(auth_client, f"{URL}?kind=recommendation")] == [insight.pk]
    assert len(rows(auth_client)) == 2
    assert auth_client.get(URL, {"severity": "nonsense"}).status_code == 400


def test_on_redis_and_local_memory_a_hit_is_the_same_and_a_write_shows_at_once(
    backend,  # noqa: F811
    user,
    clinician,
    care_team,
    committed,
):
    patient, doctor = bearer(user), bearer(clinician)
    with committed():
        insight = HealthInsightFactory(user=user)
    first, second = patient.get(URL), patient.get(URL)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    theirs = [doctor.get(f"{URL}/user/{user.pk}") for _ in range(2)]
    assert theirs[0].content == theirs[1].content
    assert AccessLog.objects.filter(actor=clinician, owner=user).count() == 2
    with committed():
        services.insight_mark(insight=insight, read=True)
    assert patient.get(URL).json()["results"][0]["is_read"] is True
    assert doctor.get(f"{URL}/user/{user.pk}").json()["results"][0]["is_read"] is True


# --- who may read, and the audit ----------------------------------------------------------------


def test_a_clinicians_reads_are_audited_on_hits_too_and_never_get_the_owners_bytes(
    auth_client, clinician_client, clinician, user, insight, care_team
):
    own = auth_client.get(f"{URL}/user/{user.pk}")
    theirs = [clinician_client.get(f"{URL}/user/{user.pk}") for _ in range(2)]
    assert theirs[0].content == theirs[1].content
    assert theirs[0].json()["results"] == own.json()["results"]
    assert AccessLog.objects.filter(actor=clinician, owner=user).count() == 2
    assert not AccessLog.objects.filter(actor=user).exists()  # own reads are not logged


def test_a_family_members_reads_are_audited_on_hits_too(other_client, other_user, user, insight):
    FamilyMembership.objects.create(manager=other_user, member=user, role="read_only")
    url = f"{URL}?member={user.pk}"
    first, second = other_client.get(url), other_client.get(url)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert [r["id"] for r in second.json()["results"]] == [insight.pk]
    assert AccessLog.objects.filter(actor=other_user, owner=user).count() == 2


@pytest.mark.parametrize("path", ["/user/{id}", "?member={id}"])
def test_a_stranger_gets_404_while_the_owners_page_is_cached(
    auth_client, clinician_client, other_client, user, insight, path
):
    url = URL + path.format(id=user.pk)
    assert auth_client.get(url).status_code == 200
    assert auth_client.get(url).status_code == 200
    for stranger in (clinician_client, other_client):  # a clinician not in the care team
        response = stranger.get(url)
        assert response.status_code == 404
        assert insight.title not in response.content.decode()


def test_an_ended_care_team_ends_the_cached_access(
    clinician_client, user, insight, care_team, committed
):
    from accounts.care import care_team_end

    assert clinician_client.get(f"{URL}/user/{user.pk}").status_code == 200
    assert clinician_client.get(f"{URL}/user/{user.pk}").status_code == 200
    with committed():
        care_team_end(membership=care_team, ended_by=user)
    assert clinician_client.get(f"{URL}/user/{user.pk}").status_code == 404


# --- every write path retires the page ----------------------------------------------------------


def test_a_saved_row_shows_at_once(auth_client, user, cached, committed):
    with committed():
        new = HealthInsightFactory(user=user)  # Model.save: post_save
    assert new.pk in [r["id"] for r in rows(auth_client)]


def test_a_clinicians_note_shows_at_once(
    auth_client, user, clinician, care_team, cached, committed
):
    with committed():
        note = services.clinician_note_create(
            author=clinician, patient=user, title="Call me", message="About your readings."
        )
    assert rows(auth_client)[0]["id"] == note.pk


def test_a_new_alert_shows_at_once(auth_client, user, cached, committed):
    alert = Alert(
        type="blood_pressure_crisis",
        severity="high",
        title="Blood pressure crisis",
        message="190/125 mmHg.",
        related_metric="blood_pressure_systolic",
        dedupe_key="blood_pressure_crisis:1",
    )
    with committed():
        row, created = services.alert_record(user_id=user.pk, alert=alert)  # get_or_create
    assert created and rows(auth_client)[0]["id"] == row.pk


def test_marking_read_shows_at_once(auth_client, insight, cached, committed):
    with committed():
        services.insight_mark(insight=insight, read=True, acknowledged=True)
    assert rows(auth_client)[0]["is_read"] is True
    assert rows(auth_client)[0]["acknowledged"] is True


def test_a_review_and_a_handled_alert_show_at_once(
    auth_client, user, clinician, care_team, committed
):
    with committed():
        first, second = AlertFactory(user=user), AlertFactory(user=user)
    rows(auth_client)
    with committed():
        services.alerts_mark_reviewed(
            alerts=HealthInsight.objects.filter(pk=first.pk), reviewer=clinician
        )
    assert {r["id"]: r["reviewed_by_id"] for r in rows(auth_client)}[first.pk] == clinician.pk
    with committed():
        handling.alert_handle(
            alert=second,
            actor=care.clinician_enable_admin(user=clinician),
            action="resolve",
            note="Seen.",
        )
    assert {r["id"]: r["reviewed_at"] for r in rows(auth_client)}[second.pk] is not None


def test_a_queryset_update_shows_at_once(auth_client, user, insight, cached, committed):
    with committed():
        HealthInsight.objects.filter(user=user).update(title="Changed in bulk")
    assert rows(auth_client)[0]["title"] == "Changed in bulk"


def test_a_bulk_update_shows_at_once_on_the_old_and_the_new_owners_page(
    auth_client, other_client, other_user, insight, cached, committed
):
    assert rows(other_client) == []
    insight.title, insight.user = "Changed by bulk_update", other_user
    with committed():
        HealthInsight.objects.bulk_update([insight], ["title", "user"])
    assert rows(auth_client) == []
    assert rows(other_client)[0]["title"] == "Changed by bulk_update"


def test_a_new_recommendation_set_shows_at_once(auth_client, user, committed):
    """A set created in bulk where there was none (nothing deleted or superseded)."""
    with committed():
        alert = AlertFactory(user=user)
    assert [r["id"] for r in rows(auth_client)] == [alert.pk]
    recommendation = Recommendation(
        type="low_sleep",
        title="Sleep more",
        severity="medium",
        score=0.5,
        reasoning="You slept 5 hours a night.",
        actions=("Go to bed earlier.",),
        related_metric="sleep_duration",
        data={},
    )
    with committed():
        new = services.insights_replace_generated(
            user_id=user.pk, recommendations=[recommendation], generated_at=timezone.now()
        )
    assert {r["id"] for r in rows(auth_client)} == {new[0].pk, alert.pk}


def test_a_superseded_set_leaves_the_page_at_once(auth_client, user, insight, committed):
    """Acknowledged rows of a replaced set are kept as history (a queryset update)."""
    with committed():
        services.insight_mark(insight=insight, acknowledged=True)
    assert [r["id"] for r in rows(auth_client)] == [insight.pk]
    with committed():
        services.insights_replace_generated(
            user_id=user.pk, recommendations=[], generated_at=timezone.now()
        )
    assert rows(auth_client) == []
    assert rows(auth_client, f"{URL}?include_history=true")[0]["superseded_at"] is not None


def test_a_replacement_that_only_deletes_shows_at_once(auth_client, user, committed):
    with committed():
        services.insights_replace_generated(
            user_id=user.pk,
            recommendations=[
                Recommendation(
                    type="low_sleep",
                    title="Sleep more",
                    severity="medium",
                    score=0.5,
                    reasoning="You slept 5 hours a night.",
                    actions=(),
                    related_metric="sleep_duration",
                    data={},
                )
            ],
            generated_at=timezone.now(),
        )
    assert len(rows(auth_client)) == 1
    with committed():
        services.insights_replace_generated(
            user_id=user.pk, recommendations=[], generated_at=timezone.now()
        )
    assert rows(auth_client) == []


def test_a_deleted_row_is_gone_at_once(auth_client, insight, cached, committed):
    with committed():
        insight.delete()
    assert rows(auth_client) == []


def test_the_retention_deletion_shows_at_once(auth_client, user, committed):
    days = retention.policy("insights")["delete_after"]
    with committed():
        old = HealthInsightFactory(user=user, created_at=timezone.now() - timedelta(days=days + 1))
        kept = HealthInsightFactory(user=user)
    assert len(rows(auth_client)) == 2
    with committed():
        job = RetentionJob.objects.create(kind=RetentionJob.Kind.DELETE_INSIGHTS)
        retention.delete_insights(job, timezone.now())
    assert not HealthInsight.objects.filter(pk=old.pk).exists()
    assert [r["id"] for r in rows(auth_client)] == [kept.pk]


def test_the_admin_moving_a_row_to_another_owner_shows_on_both_pages(
    auth_client, other_client, other_user, insight, cached, committed
):
    assert rows(other_client) == []
    insight.user = other_user
    with committed():
        insight.save()  # as the admin's change form does (raw id field)
    assert rows(auth_client) == []
    assert [r["id"] for r in rows(other_client)] == [insight.pk]


def test_a_queryset_delete_shows_at_once(auth_client, user, insight, cached, committed):
    """As the admin's "delete selected" and the SQLite branch of a set's replacement do."""
    with committed():
        HealthInsight.objects.filter(user=user).delete()
    assert rows(auth_client) == []


def test_a_note_authors_new_name_shows_at_once(auth_client, user, clinician, care_team, committed):
    with committed():
        services.clinician_note_create(
            author=clinician, patient=user, title="Call me", message="About your readings."
        )
    rows(auth_client)
    clinician.first_name, clinician.last_name = "Ada", "Renamed"
    with committed():
        clinician.save()
    assert rows(auth_client)[0]["author_name"] == "Ada Renamed"


def test_a_deleted_author_or_reviewer_shows_at_once(auth_client, user, clinician, committed):
    with committed():
        note = HealthInsightFactory(user=user, kind="clinician_note", author=clinician)
        alert = AlertFactory(user=user, reviewed_by=clinician, reviewed_at=timezone.now())
    shown = {r["id"]: r for r in rows(auth_client)}
    assert shown[note.pk]["author_id"] == shown[alert.pk]["reviewed_by_id"] == clinician.pk
    with committed():
        clinician.delete()  # Django sets both to null with a plain UPDATE
    shown = {r["id"]: r for r in rows(auth_client)}
    assert shown[note.pk]["author_id"] is None and shown[note.pk]["author_name"] is None
    assert shown[alert.pk]["reviewed_by_id"] is None
