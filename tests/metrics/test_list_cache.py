"""The measurement lists answer from their rendered bytes (issue 15), on a real Redis (the
one-round-trip path, Bearer JWTs) and on the local-memory cache: every write path is seen by
the very next read, access is checked and others' reads are audited on every request, one
viewer's page is never another's, and a share grant's holder is never served a cached page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.care import care_team_end
from accounts.models import AccessLog, FamilyMembership
from accounts.sharing import share_grant_revoke
from metrics import services
from metrics.models import HealthMetric
from tests.accounts.care_factories import ShareGrantFactory
from tests.healthtrack.test_readcache import backend, bearer  # noqa: F401
from tests.metrics.factories import DeviceFactory

pytestmark = pytest.mark.django_db

OWN = "/api/v1/health-metrics?limit=20"


def of_user(user) -> str:
    return f"/api/v1/health-metrics/user/{user.pk}?limit=20"


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def post(client, capture, metric_type="steps", value=100, minutes_ago=0):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    with capture(execute=True):
        response = client.post(
            "/api/v1/health-metrics",
            {"metric_type": metric_type, "value": value, "recorded_at": at.isoformat()},
            format="json",
        )
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.mark.parametrize("url_of", [lambda user: OWN, of_user])
def test_a_cached_page_runs_no_sql_and_is_the_same_bytes(
    backend,  # noqa: F811
    user,
    url_of,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    client = bearer(user)
    post(client, django_capture_on_commit_callbacks)
    first = client.get(url_of(user))
    assert first.status_code == 200 and first["Content-Type"] == "application/json"
    with django_assert_num_queries(0):
        again = client.get(url_of(user))
    assert again.content == first.content


def test_a_create_an_update_a_delete_and_a_sync_are_each_seen_by_the_next_read(
    backend,  # noqa: F811
    user,
    django_capture_on_commit_callbacks,
):
    client = bearer(user)
    capture = django_capture_on_commit_callbacks
    first = post(client, capture, minutes_ago=5)
    for url in (OWN, of_user(user)):
        assert ids(client.get(url)) == [first]
        assert ids(client.get(url)) == [first]  # cached now
    second = post(client, capture)
    for url in (OWN, of_user(user)):
        assert ids(client.get(url)) == [second, first]
    with capture(execute=True):
        patched = client.patch(f"/api/v1/health-metrics/{first}", {"value": 7}, format="json")
    assert patched.status_code == 200
    for url in (OWN, of_user(user)):
        assert [r["value"] for r in client.get(url).json()["results"]] == [100, 7]
    with capture(execute=True):
        assert client.delete(f"/api/v1/health-metrics/{second}").status_code == 204
    for url in (OWN, of_user(user)):
        assert ids(client.get(url)) == [first]
    watch = DeviceFactory(user=user)
    sample = {"metric_type": "heart_rate", "value": 61, "recorded_at": timezone.now().isoformat()}
    with capture(execute=True):
        synced = client.post(f"/api/v1/devices/{watch.pk}/sync", {"samples": [sample]}, "json")
    assert synced.status_code == 200, synced.content
    new = HealthMetric.objects.get(device=watch).pk
    for url in (OWN, of_user(user)):
        assert ids(client.get(url)) == [new, first]


def test_each_filter_limit_and_cursor_is_its_own_page(
    backend,  # noqa: F811
    user,
    django_capture_on_commit_callbacks,
):
    client = bearer(user)
    capture = django_capture_on_commit_callbacks
    steps = post(client, capture, "steps", 100, minutes_ago=2)
    pulse = post(client, capture, "heart_rate", 70, minutes_ago=1)
    for _ in range(2):  # computed, then from the cache
        assert ids(client.get(OWN + "&metric_type=steps")) == [steps]
        assert ids(client.get("/api/v1/health-metrics?metric_type=steps&limit=20")) == [steps]
        assert ids(client.get(OWN + "&metric_type=heart_rate")) == [pulse]
        page = client.get("/api/v1/health-metrics?limit=1")
        assert ids(page) == [pulse]
        assert ids(client.get(page.json()["next"])) == [steps]
        assert client.get(OWN + "&metric_type=mood").status_code == 400


def test_the_own_list_and_the_user_path_keep_their_own_links(backend, user):  # noqa: F811
    client = bearer(user)
    for minutes in (1, 2):
        HealthMetric.objects.create(
            user=user,
            metric_type="steps",
            value=minutes,
            unit="count",
            recorded_at=timezone.now() - timedelta(minutes=minutes),
        )
    for _ in range(2):
        own = client.get("/api/v1/health-metrics?limit=1").json()["next"]
        theirs = client.get(f"/api/v1/health-metrics/user/{user.pk}?limit=1").json()["next"]
        assert own.startswith("http://testserver/api/v1/health-metrics?")
        assert theirs.startswith(f"http://testserver/api/v1/health-metrics/user/{user.pk}?")


def test_a_clinician_sees_the_patients_write_at_once_and_every_read_is_audited(
    backend,  # noqa: F811
    user,
    clinician,
    care_team,
    django_capture_on_commit_callbacks,
):
    patient, doctor = bearer(user), bearer(clinician)
    first = post(patient, django_capture_on_commit_callbacks, minutes_ago=3)
    for _ in range(3):
        assert ids(doctor.get(of_user(user))) == [first]
    assert AccessLog.objects.filter(actor=clinician, owner=user).count() == 3
    second = post(patient, django_capture_on_commit_callbacks)
    assert ids(doctor.get(of_user(user))) == [second, first]
    assert ids(patient.get(of_user(user))) == [second, first]
    assert AccessLog.objects.filter(actor=clinician, owner=user).count() == 4


def test_a_clinician_whose_care_team_ended_gets_404_at_once(
    backend,  # noqa: F811
    user,
    clinician,
    care_team,
    django_capture_on_commit_callbacks,
):
    post(bearer(user), django_capture_on_commit_callbacks)
    doctor = bearer(clinician)
    assert doctor.get(of_user(user)).status_code == 200
    assert doctor.get(of_user(user)).status_code == 200  # cached
    care_team_end(membership=care_team)
    assert doctor.get(of_user(user)).status_code == 404


def test_a_grant_holder_is_never_served_the_care_teams_cached_page_and_revocation_is_404(
    backend,  # noqa: F811
    user,
    clinician,
    care_team,
    django_capture_on_commit_callbacks,
):
    patient, doctor = bearer(user), bearer(clinician)
    steps = post(patient, django_capture_on_commit_callbacks, "steps", minutes_ago=2)
    post(patient, django_capture_on_commit_callbacks, "heart_rate", 70, minutes_ago=1)
    assert len(ids(doctor.get(of_user(user)))) == 2
    assert len(ids(doctor.get(of_user(user)))) == 2  # cached, the care team's whole view
    grant = ShareGrantFactory(owner=user, grantee=clinician, metric_types=["steps"])
    care_team_end(membership=care_team)
    for _ in range(2):
        assert ids(doctor.get(of_user(user))) == [steps]
    share_grant_revoke(grant=grant)
    assert doctor.get(of_user(user)).status_code == 404
    assert AccessLog.objects.filter(actor=clinician, owner=user).count() == 4


def test_the_list_version_is_the_one_every_measurement_write_drops(backend, user):  # noqa: F811
    """The version the lists depend on is the owner's data version that
    `metrics.services` replaces on every write (tests/healthtrack/test_readcache.py)."""
    from django.test import RequestFactory
    from rest_framework.request import Request

    from metrics.api.views import _list_entry

    request = Request(RequestFactory().get(OWN))
    entry = _list_entry(request, "metrics_list", user.pk, user.pk)
    assert entry.version_key == services.summary_version_key(user.pk)


def test_a_clinicians_cached_page_runs_only_the_access_check_and_the_audit(
    user, clinician, care_team, django_capture_on_commit_callbacks, django_assert_num_queries
):
    post(bearer(user), django_capture_on_commit_callbacks)
    doctor = bearer(clinician)
    first = doctor.get(of_user(user))
    # The access check (family link, care team) and the patient's row, asked once; the audit
    # (why: family link, care team; its row). No measurement read.
    with django_assert_num_queries(6):
        again = doctor.get(of_user(user))
    assert again.content == first.content


def test_a_kept_page_is_byte_for_byte_the_page_the_serializer_renders(
    backend,  # noqa: F811
    user,
    clinician,
):
    """The same page, same data: the owner's (rendered once and kept) against a grant holder's
    (DRF's Response, never kept) and against the serializer on model instances."""
    from metrics.api.serializers import HealthMetricSerializer

    watch = DeviceFactory(user=user)
    now = timezone.now().replace(microsecond=123456)
    made = [
        HealthMetric.objects.create(
            user=user,
            metric_type="heart_rate",
            value=61.5,
            unit="bpm",
            recorded_at=now - timedelta(minutes=3),
            end_at=now - timedelta(minutes=2),
            device=watch,
            source_app="Health",
            external_id="x-1",
            metadata={"context": "resting", "n": [1, 2.5, None], "ü": "ß"},
            notes="nach dem Kaffee ☕",
        ),
        HealthMetric.objects.create(
            user=user, metric_type="steps", value=1e16, unit="count", recorded_at=now
        ),
        HealthMetric.objects.create(
            user=user, metric_type="steps", value=3, unit="count", recorded_at=now
        ),
    ]
    ShareGrantFactory(owner=user, grantee=clinician, metric_types=["heart_rate", "steps"])
    url = f"/api/v1/health-metrics/user/{user.pk}?limit=2"
    owner = bearer(user)
    computed = owner.get(url)
    kept = owner.get(url)
    grant_holder = bearer(clinician).get(url)
    assert computed.content == kept.content == grant_holder.content
    page = computed.json()
    expected = sorted(made, key=lambda m: (m.recorded_at, m.pk), reverse=True)[:2]
    assert page["results"] == [HealthMetricSerializer(m).data for m in expected]
    assert page["previous"] is None and page["next"].startswith("http://testserver/")
    rest = owner.get(page["next"])
    assert rest.json()["results"] == [HealthMetricSerializer(made[0]).data]
    assert bearer(clinician).get(page["next"]).content == rest.content


def test_the_browsable_api_is_never_answered_from_a_kept_page(
    backend,  # noqa: F811
    user,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    # The browsable renderer is on only with DEBUG (settings); turned on here either way.
    from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer

    from metrics.api.views import HealthMetricListCreateView

    monkeypatch.setattr(
        HealthMetricListCreateView, "renderer_classes", [JSONRenderer, BrowsableAPIRenderer]
    )
    client = bearer(user)
    post(client, django_capture_on_commit_callbacks)
    for _ in range(2):
        assert client.get(OWN)["Content-Type"] == "application/json"
    page = client.get(OWN, HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert client.get(OWN + "&format=api")["Content-Type"].startswith("text/html")
    assert client.get(OWN).json() == client.get(OWN + "&format=json").json()


def test_a_family_reader_sees_the_members_writes_at_once_and_loses_access_at_once(
    backend,  # noqa: F811
    user,
    other_user,
    django_capture_on_commit_callbacks,
):
    from accounts import family

    link = family.family_access_grant(
        granted_by=user, email=other_user.email, role=FamilyMembership.Role.READ_ONLY
    )
    member, reader = bearer(user), bearer(other_user)
    url = f"{OWN}&member={user.pk}"
    first = post(member, django_capture_on_commit_callbacks, minutes_ago=1)
    assert ids(reader.get(url)) == ids(reader.get(url)) == [first]
    second = post(member, django_capture_on_commit_callbacks)
    assert ids(reader.get(url)) == [second, first]
    assert ids(reader.get(OWN)) == []  # the reader's own list is their own page
    assert AccessLog.objects.filter(actor=other_user, owner=user).count() == 3
    family.family_access_revoke(revoked_by=user, link=link)
    assert reader.get(url).status_code == 404


def test_a_page_of_one_type_outlives_writes_of_other_types_and_no_write_of_its_own(
    backend,  # noqa: F811
    user,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    """A page filtered to one type is guarded by that type's version: a write of another type
    leaves it servable (no SQL), a write of its type or one that names no types is seen by the
    next read, and the whole list sees every write at once."""
    client = bearer(user)
    capture = django_capture_on_commit_callbacks
    steps = post(client, capture, "steps", 100, minutes_ago=3)
    url = OWN + "&metric_type=steps"
    first = client.get(url)
    assert ids(first) == [steps]
    pulse = post(client, capture, "heart_rate", 70, minutes_ago=2)
    with django_assert_num_queries(0):
        kept = client.get(url)
    assert kept.content == first.content
    assert ids(client.get(OWN)) == [pulse, steps]
    assert ids(client.get(OWN + "&metric_type=heart_rate")) == [pulse]
    newer = post(client, capture, "steps", 50, minutes_ago=1)
    assert ids(client.get(url)) == [newer, steps]
    assert ids(client.get(OWN + "&metric_type=heart_rate")) == [pulse]
    HealthMetric.objects.filter(pk=newer).delete()  # a writer that names no types ...
    services.invalidate_summary_cache(user.pk)  # ... drops every type's pages
    assert ids(client.get(url)) == [steps]


def test_only_a_page_of_exactly_one_known_type_has_that_types_version(backend, user):  # noqa: F811
    from django.test import RequestFactory
    from rest_framework.request import Request

    from metrics.api.views import _list_entry

    def version(url: str) -> str:
        request = Request(RequestFactory().get(url))
        return _list_entry(request, "metrics_list", user.pk, user.pk).version_key

    assert version(OWN + "&metric_type=steps") == services.type_version_key(user.pk, "steps")
    whole = services.summary_version_key(user.pk)
    assert version(OWN + "&metric_type=mood") == whole
    assert version(OWN + "&metric_type=steps&metric_type=heart_rate") == whole
    assert version(OWN + "&since=2026-01-01T00:00:00Z") == whole
