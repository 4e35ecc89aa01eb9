"""Care teams: which clinician cares for which patient. Writes are keyword-only and atomic."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import CLINICIANS_GROUP, CareTeam, User
from accounts.validation import clean_care_team_members
from healthtrack.core.outbox import enqueue_on_commit


def _clinician_by_email(email: str) -> User:
    clinician = (
        User.objects.active()
        .filter(email__iexact=(email or "").strip(), role=User.Role.CLINICIAN)
        .first()
    )
    if clinician is None:
        raise ValidationError({"email": ["No clinician with that e-mail address."]})
    return clinician


@transaction.atomic
def care_team_add(
    *,
    clinician: User,
    patient: User,
    source: str = CareTeam.Source.ADMIN,
    created_by: User | None = None,
) -> CareTeam:
    """Start (or return the already active) membership of `clinician` and `patient`."""
    clean_care_team_members(clinician=clinician, patient=patient)
    existing = CareTeam.objects.active().filter(clinician=clinician, patient=patient).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return CareTeam.objects.create(
                clinician=clinician, patient=patient, source=source, created_by=created_by
            )
    except IntegrityError:
        # A concurrent request created it between our check and our insert.
        return CareTeam.objects.active().get(clinician=clinician, patient=patient)


@transaction.atomic
def care_team_accept_clinician(
    *, patient: User, clinician_email: str, accepted_by: User | None = None
) -> CareTeam:
    """The patient (or `accepted_by`, a family manager acting for them) accepts a clinician
    (found by e-mail) into the patient's care team."""
    clinician = _clinician_by_email(clinician_email)
    return care_team_add(
        clinician=clinician,
        patient=patient,
        source=CareTeam.Source.PATIENT,
        created_by=accepted_by or patient,
    )


@transaction.atomic
def care_team_end(*, membership: CareTeam, ended_by: User | None = None) -> CareTeam:
    """End a membership (either side, or an admin). The row stays as history; ending an
    ended membership changes nothing."""
    membership = CareTeam.objects.select_for_update().get(pk=membership.pk)
    if membership.ended_at is None:
        membership.ended_at = timezone.now()
        membership.ended_by = ended_by
        membership.save(update_fields=["ended_at", "ended_by"])
    return membership


@transaction.atomic
def clinician_enable_admin(*, user: User) -> User:
    """Make `user` an admin clinician: role clinician, staff, in the "Clinicians" group."""
    group, _ = Group.objects.get_or_create(name=CLINICIANS_GROUP)
    changed = []
    if user.role != User.Role.CLINICIAN:
        user.role = User.Role.CLINICIAN
        changed.append("role")
    if not user.is_staff:
        user.is_staff = True
        changed.append("is_staff")
    if changed:
        user.save(update_fields=changed)
    user.groups.add(group)
    user.__dict__.pop("_ht_in_clinicians_group", None)
    return user


# Sent by name: accounts does not import insights (the higher app), and the task may be
# deployed on its own queue ("recommendations"). The name the task is registered under.
RECOMPUTE_RECOMMENDATIONS_TASK = "insights.compute_recommendations"


def recommendations_recompute_queue(*, user_ids) -> int:
    """Queue one "recompute recommendations" task per user through the outbox (the rows are
    written in the current transaction and published once it commits; a pending refresh of
    the same user is joined). Returns how many users were queued."""
    ids = sorted({int(pk) for pk in user_ids})
    for user_id in ids:
        enqueue_on_commit(
            RECOMPUTE_RECOMMENDATIONS_TASK,
            {"user_id": user_id},
            dedupe_key=f"recommendations:{user_id}",
        )
    return len(ids)
