"""The change feed (`GET /api/v1/changes`): writes through the API appear in commit order,
deletions as tombstones, pages follow the cursor, access as every list endpoint, pruning by
the retention table."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AccessLog
from healthtrack.changes import services
from healthtrack.changes.models import ChangeEvent
from metrics.models import HealthMetric
from tests.accounts.family_factories import make_dependent
from tests.metrics.factories import BASE, DeviceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/changes"
METRIC = {"metric_type": "heart_rate", "value": 72, "recorded_at": "2026-03-02T10:00:00Z"}
MEAL = {"meal_type": "lunch", "description": "Stew", "calories": 640, "logged_at": BASE.isoformat()}


@pytest.fixture
def write(auth_client, django_capture_on_commit_callbacks):
    """A write through the API, its on-commit work run (as after a real commit)."""

    def send(method: str, url: str, body=None):
        with django_capture_on_commit_callbacks(execute=True):
            response = getattr(auth_client, method)(url, body, format="json")
        assert response.status_code < 300, response.content
        return response.json() if response.content else None

    return send


def feed(client, **params) -> dict:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def summary(changes: list[dict]) -> list[tuple[str, int, str]]:
    return [(c["type"], c["id"], c["action"]) for c in changes]


def test_creates_updates_and_deletes_appear_in_commit_order(auth_client, write):
    metric = write("post", "/api/v1/health-metrics/", METRIC)
    meal = write("post", "/api/v1/nutrition-logs", MEAL)
    goal = write("post", "/api/v1/health-goals", {"goal_type": "steps", "target_value": 8000})
    write("patch", f"/api/v1/health-metrics/{metric['id']}", {"value": 75})
    write("delete", f"/api/v1/nutrition-logs/{meal['id']}")
    write("delete", f"/api/v1/health-goals/{goal['id']}")

    body = feed(auth_client)

    assert summary(body["changes"]) == [
        ("measurement", metric["id"], "created"),
        ("nutrition_entry", meal["id"], "created"),
        ("goal", goal["id"], "created"),
        ("measurement", metric["id"], "updated"),
        ("nutrition_entry", meal["id"], "deleted"),
        ("goal", goal["id"], "deleted"),
    ]
    assert body["changes"][0]["href"] == f"/api/v1/health-metrics/{metric['id']}"
    assert body["has_more"] is False


def test_a_records_last_event_is_a_tombstone_exactly_when_it_is_deleted(auth_client, user, write):
    kept = write("post", "/api/v1/health-metrics/", METRIC)
    gone = write("post", "/api/v1/health-metrics/", {**METRIC, "recorded_at": "2026-03-02T11:00Z"})
    write("delete", f"/api/v1/health-metrics/{gone['id']}")

    last = {}
    for change in feed(auth_client)["changes"]:
        last[change["id"]] = change["action"]

    assert last == {kept["id"]: "created", gone["id"]: "deleted"}
    assert not HealthMetric.objects.filter(pk=gone["id"]).exists()


def test_a_device_sync_announces_every_stored_sample(auth_client, user, write):
    watch = DeviceFactory(user=user)
    samples = [
        {
            "metric_type": "heart_rate",
            "value": 60 + i,
            "recorded_at": (BASE + timedelta(minutes=i)).isoformat(),
        }
        for i in range(3)
    ]
    write("post", f"/api/v1/devices/{watch.pk}/sync", {"samples": samples})

    ids = sorted(HealthMetric.objects.filter(user=user).values_list("pk", flat=True))
    changes = feed(auth_client)["changes"]
    assert sorted(c["id"] for c in changes) == ids
    assert {c["action"] for c in changes} == {"created"}


def test_the_cursor_pages_through_and_then_returns_only_what_is_new(auth_client, write):
    created = [
        write("post", "/api/v1/health-metrics/", {**METRIC, "recorded_at": f"2026-03-02T1{i}:00Z"})
        for i in range(5)
    ]
    first = feed(auth_client, limit=2)
    second = feed(auth_client, limit=2, since=first["cursor"])
    third = feed(auth_client, limit=2, since=second["cursor"])

    assert first["has_more"] and second["has_more"] and not third["has_more"]
    read = [c["id"] for page in (first, second, third) for c in page["changes"]]
    assert read == [m["id"] for m in created]

    assert feed(auth_client, since=third["cursor"])["changes"] == []
    write("delete", f"/api/v1/health-metrics/{created[0]['id']}")
    after = feed(auth_client, since=third["cursor"])
    assert summary(after["changes"]) == [("measurement", created[0]["id"], "deleted")]


def test_since_latest_starts_at_the_end_of_the_feed(auth_client, write):
    write("post", "/api/v1/health-metrics/", METRIC)
    latest = feed(auth_client, since="latest")
    assert latest["changes"] == []
    new = write("post", "/api/v1/health-metrics/", {**METRIC, "recorded_at": "2026-03-02T12:00Z"})
    assert [c["id"] for c in feed(auth_client, since=latest["cursor"])["changes"]] == [new["id"]]


@pytest.mark.parametrize("since", ["nonsense", "YzE6eDp5", "!!"])
def test_a_malformed_cursor_is_400_naming_since(auth_client, since):
    response = auth_client.get(URL, {"since": since})
    assert response.status_code == 400
    assert "since: not a cursor from this feed." in str(response.json())


def test_another_persons_cursor_is_refused(auth_client, other_user):
    response = auth_client.get(URL, {"since": services.encode_cursor(other_user.pk, 0)})
    assert response.status_code == 400
    assert "another person" in str(response.json())


def test_others_records_never_appear_and_a_stranger_member_is_404(
    auth_client, other_client, other_user, user, write
):
    write("post", "/api/v1/health-metrics/", METRIC)
    assert feed(other_client)["changes"] == []
    assert other_client.get(URL, {"member": user.pk}).status_code == 404


def test_a_care_team_clinician_reads_the_patients_feed_and_the_read_is_logged(
    care_team, clinician, clinician_client, user, write
):
    metric = write("post", "/api/v1/health-metrics/", METRIC)
    body = feed(clinician_client, member=user.pk)
    assert [c["id"] for c in body["changes"]] == [metric["id"]]
    log = AccessLog.objects.get(owner_id=user.pk)
    assert log.actor == clinician and log.endpoint.startswith("GET /api/v1/changes")


def test_own_reads_are_not_in_the_access_log(auth_client, write):
    write("post", "/api/v1/health-metrics/", METRIC)
    feed(auth_client)
    assert not AccessLog.objects.exists()


def test_a_family_manager_follows_a_dependents_feed(user, django_capture_on_commit_callbacks):
    kid = make_dependent(user)
    manager = APIClient()
    manager.force_authenticate(user)
    with django_capture_on_commit_callbacks(execute=True):
        created = manager.post(f"/api/v1/health-metrics/?member={kid.pk}", METRIC, format="json")
    assert created.status_code == 201, created.content
    body = feed(manager, member=kid.pk)
    assert [c["id"] for c in body["changes"]] == [created.json()["id"]]
    assert feed(manager)["changes"] == []


def test_pruning_removes_old_events_and_an_older_cursor_is_410(auth_client, user, write, settings):
    old = write("post", "/api/v1/health-metrics/", METRIC)
    write("delete", f"/api/v1/health-metrics/{old['id']}")
    start = feed(auth_client)
    assert len(start["changes"]) == 2
    days = settings.DATA_LIFECYCLE["change_feed"]["delete_after"]
    ChangeEvent.objects.update(occurred_at=timezone.now() - timedelta(days=days + 1))
    new = write("post", "/api/v1/health-metrics/", {**METRIC, "recorded_at": "2026-03-02T12:00Z"})

    assert services.prune() == 2

    assert summary(feed(auth_client)["changes"]) == [("measurement", new["id"], "created")]
    response = auth_client.get(URL, {"since": services.encode_cursor(user.pk, 0)})
    assert response.status_code == 410
    assert "read everything again" in str(response.json())
    # A client that had read the tombstone goes on from its cursor.
    after = feed(auth_client, since=start["cursor"])
    assert [c["id"] for c in after["changes"]] == [new["id"]]


def test_tombstones_are_kept_until_the_retention_period_ends(auth_client, write, settings):
    metric = write("post", "/api/v1/health-metrics/", METRIC)
    write("delete", f"/api/v1/health-metrics/{metric['id']}")
    days = settings.DATA_LIFECYCLE["change_feed"]["delete_after"]
    ChangeEvent.objects.update(occurred_at=timezone.now() - timedelta(days=days - 1))

    assert services.prune() == 0
    assert ChangeEvent.objects.filter(action="deleted").count() == 1


def test_deleting_the_account_removes_its_feed(user, write):
    write("post", "/api/v1/health-metrics/", METRIC)
    user.delete()
    assert not ChangeEvent.objects.exists()


def test_anonymous_is_401(api_client):
    assert api_client.get(URL).status_code == 401


@pytest.mark.parametrize("signal_name", ["measurements", "nutrition", "goals"])
def test_the_feed_receives_each_data_signal_before_the_other_apps(signal_name):
    # Lock order (healthtrack.changes.receivers._connect_first): the feed's per-person lock
    # comes before the outbox rows goals and insights lock, as in a deletion's transaction.
    from goals.signals import goals_changed
    from metrics.signals import measurements_changed
    from nutrition.signals import nutrition_changed

    signal = {
        "measurements": measurements_changed,
        "nutrition": nutrition_changed,
        "goals": goals_changed,
    }[signal_name]
    # (The diary's derived work listens to `nutrition_committed`, sent by the worker after the
    # commit: in the diary write's transaction the feed may be the only receiver.)
    assert signal.receivers
    assert signal.receivers[0][0][0] == f"changes.{signal_name}"
