"""The access function, role by role: owner, clinician with the patient in care, clinician
without, ended care team, other patient, staff, anonymous; share-grant scope."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from django.utils import timezone

from accounts import access, care
from accounts.models import User
from tests.accounts.care_factories import CareTeamFactory, ShareGrantFactory
from tests.accounts.factories import ClinicianFactory, UserFactory

pytestmark = pytest.mark.django_db


def readable_ids(viewer) -> set[int]:
    """The people whose whole data `viewer` may read."""
    return set(
        access.readable(User.objects.all(), viewer, owner_field=None).values_list("pk", flat=True)
    )


def writable_ids(viewer) -> set[int]:
    """The people whose data `viewer` may write."""
    return set(
        access.writable(User.objects.all(), viewer, owner_field=None).values_list("pk", flat=True)
    )


def ids(viewer) -> set[int]:
    return readable_ids(viewer)


def test_owner_reads_and_writes_own_data(user):
    assert ids(user) == {user.pk}
    assert access.can_read(user, user.pk) and access.can_write(user, user.pk)


def test_clinician_reads_patients_in_active_care_team(clinician, user, care_team):
    assert ids(clinician) == {clinician.pk, user.pk}
    assert access.can_read(clinician, user.pk)
    assert access.get_readable_owner_or_404(clinician, user.pk) == user
    assert access.access_via(clinician, user.pk) == "care_team"


def test_clinician_never_writes_patient_data(clinician, user, care_team):
    assert not access.can_write(clinician, user.pk)
    assert writable_ids(clinician) == {clinician.pk}
    assert not access.writable(User.objects.filter(pk=user.pk), clinician, None).exists()


def test_clinician_without_patient_in_care_reads_nothing_of_theirs(clinician, user):
    assert ids(clinician) == {clinician.pk}
    assert not access.can_read(clinician, user.pk)
    with pytest.raises(Http404):
        access.get_readable_owner_or_404(clinician, user.pk)


def test_ended_care_team_stops_access_and_keeps_history(clinician, user, care_team):
    care.care_team_end(membership=care_team, ended_by=user)
    care_team.refresh_from_db()
    assert care_team.ended_at is not None and care_team.ended_by == user
    assert not access.can_read(clinician, user.pk)
    assert ids(clinician) == {clinician.pk}


def test_clinician_reads_only_their_own_patients(clinician, user, care_team):
    stranger = UserFactory()
    CareTeamFactory(patient=stranger)  # another clinician's patient
    assert not access.can_read(clinician, stranger.pk)
    assert stranger.pk not in ids(clinician)


def test_other_patient_reads_nothing(user, other_user):
    assert not access.can_read(other_user, user.pk)
    assert user.pk not in ids(other_user)


def test_patient_is_not_a_clinician_even_if_a_care_team_row_names_them(user, other_user):
    # A row that slipped in through raw SQL or an old role does not grant access to a patient.
    CareTeamFactory(clinician=other_user, patient=user)
    assert not access.can_read(other_user, user.pk)


def test_deactivated_clinician_reads_nothing(clinician, user, care_team):
    clinician.is_active = False
    clinician.save(update_fields=["is_active"])
    assert ids(clinician) == set()
    assert not access.can_read(clinician, user.pk)


def test_deleted_patient_is_not_readable_by_their_clinician(clinician, user, care_team):
    user.deleted_at = timezone.now()
    user.save(update_fields=["deleted_at"])
    assert not access.can_read(clinician, user.pk)


@pytest.mark.parametrize("superuser", [False, True])
def test_staff_who_are_not_clinicians_read_nobody_elses_data_through_the_api(user, superuser):
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True, is_superuser=superuser)
    assert ids(staff) == {staff.pk}
    assert not access.can_read(staff, user.pk)


def test_anonymous_reads_and_writes_nothing(user):
    anonymous = AnonymousUser()
    assert ids(anonymous) == set()
    assert writable_ids(anonymous) == set()
    assert not access.can_read(anonymous, user.pk)
    assert not access.can_write(anonymous, user.pk)


def test_readable_narrows_a_queryset_in_one_query(
    clinician, user, care_team, django_assert_num_queries
):
    UserFactory()
    with django_assert_num_queries(1):
        pks = set(access.readable(User.objects.all(), clinician, None).values_list("pk", flat=True))
    assert pks == {clinician.pk, user.pk}


def test_readable_of_one_owner_gives_the_same_rows_as_readable(
    clinician, user, other_user, care_team
):
    def of(viewer, owner) -> set[int]:
        rows = access.readable(User.objects.all(), viewer, None, owner_id=owner.pk)
        return set(rows.values_list("pk", flat=True))

    assert of(user, user) == {user.pk}
    assert of(clinician, user) == {user.pk}  # a patient in their care team
    assert of(other_user, user) == set()
    assert of(AnonymousUser(), user) == set()
    user.is_active = False
    assert of(user, user) == set()


def test_readable_of_ones_own_rows_needs_no_subquery(user, django_assert_num_queries):
    rows = access.readable(User.objects.all(), user, None, owner_id=user.pk)
    assert "SELECT" not in str(rows.query).split("WHERE", 1)[1]
    with django_assert_num_queries(1):
        assert list(rows.values_list("pk", flat=True)) == [user.pk]


def test_bad_owner_ids_are_refused(user):
    assert not access.can_read(user, "abc")
    with pytest.raises(Http404):
        access.get_readable_owner_or_404(user, None)


# --- Share grants -----------------------------------------------------------------------------

NOON = datetime.combine(date.today(), datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)


def test_named_grant_lets_the_clinician_read_that_metric_in_the_window(user):
    doctor = ClinicianFactory()
    ShareGrantFactory(owner=user, grantee=doctor, metric_types=["blood_pressure", "steps"])
    assert access.can_read_metric(doctor, user.pk, "blood_pressure", NOON)
    assert access.can_read_metric(doctor, user.pk, "steps", date.today())
    # ...and nothing else: not the profile, not another type, not outside the window.
    assert not access.can_read(doctor, user.pk)
    assert not access.can_read_metric(doctor, user.pk, "weight", NOON)
    assert not access.can_read_metric(doctor, user.pk, "steps", NOON - timedelta(days=31))
    assert not access.can_read_metric(doctor, user.pk, "steps", NOON + timedelta(days=1))


@pytest.mark.parametrize("state", ["expired", "revoked"])
def test_expired_or_revoked_grant_gives_nothing(user, state):
    doctor = ClinicianFactory()
    fields = (
        {"expires_at": timezone.now() - timedelta(seconds=1)}
        if state == "expired"
        else {"revoked_at": timezone.now()}
    )
    ShareGrantFactory(owner=user, grantee=doctor, **fields)
    assert not access.can_read_metric(doctor, user.pk, "blood_pressure", NOON)


def test_grant_is_for_the_named_clinician_only(user):
    ShareGrantFactory(owner=user)
    other_doctor = ClinicianFactory()
    assert not access.can_read_metric(other_doctor, user.pk, "blood_pressure", NOON)


def test_owner_and_care_team_read_every_metric(clinician, user, care_team):
    assert access.can_read_metric(user, user.pk, "anything", NOON)
    assert access.can_read_metric(clinician, user.pk, "anything", NOON)


def test_readable_metrics_combines_care_team_and_grants(clinician, user, care_team):
    # Users stand in for metric rows: owner_field None (the row itself), type "role",
    # time "date_joined". The query shape is what a metrics queryset gets.
    granting = UserFactory(role=User.Role.PATIENT, date_joined=NOON)
    UserFactory(role=User.Role.PATIENT, date_joined=NOON)  # no grant
    ShareGrantFactory(owner=granting, grantee=clinician, metric_types=["patient"])
    rows = access.readable_metrics(
        User.objects.all(),
        clinician,
        owner_field=None,
        type_field="role",
        time_field="date_joined",
    )
    assert set(rows.values_list("pk", flat=True)) == {clinician.pk, user.pk, granting.pk}
    outside = access.readable_metrics(
        User.objects.all(), clinician, owner_field=None, type_field="sex", time_field="date_joined"
    )
    assert granting.pk not in set(outside.values_list("pk", flat=True))
