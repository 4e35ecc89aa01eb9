"""Families: dependents (member profiles without a login) and family access granted by e-mail.

Writes are keyword-only and atomic. Who may then read or write whose data is decided in
`accounts.access` alone; this module only records the links.

- A dependent is an `accounts.User` with `is_dependent=True`, an unusable password and a
  placeholder e-mail address: it owns health data like any user (every health row's FK cascades
  from it) but can never sign in. Its creator manages it (role manager).
- An existing user (or a manager of a dependent) may grant another existing user, found by
  e-mail, manager or read-only access to their data.
- Removing a dependent soft-deletes it (`user_soft_delete`), so its data is purged with it after
  the account-deletion grace period; removing an adult member only ends the link.
"""

from __future__ import annotations

import uuid
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts import access
from accounts.models import FamilyMembership, User
from accounts.services import user_soft_delete
from accounts.validation import (
    clean_dependent,
    clean_family_grant,
    clean_family_manager,
    clean_user,
)

DEPENDENT_EMAIL_DOMAIN = "dependents.healthtrack.invalid"
MAX_MEMBERS_PER_MANAGER = 20


@transaction.atomic
def family_member_create(
    *,
    manager: User,
    first_name: str,
    last_name: str = "",
    relation: str = FamilyMembership.Relation.CHILD,
    date_of_birth: date | None = None,
    sex: str = User.Sex.UNSPECIFIED,
    height_cm: float | None = None,
) -> FamilyMembership:
    """Create a dependent profile managed by `manager`."""
    clean_family_manager(manager)
    clean_dependent(relation=relation, first_name=first_name)
    # Lock the manager's row: the member count check below must not race another create.
    User.objects.select_for_update().filter(pk=manager.pk).first()
    if FamilyMembership.objects.live().filter(manager=manager).count() >= MAX_MEMBERS_PER_MANAGER:
        raise ValidationError({"detail": [f"At most {MAX_MEMBERS_PER_MANAGER} family members."]})
    handle = uuid.uuid4().hex[:16]
    member = User(
        username=f"dependent-{handle}",
        email=f"dependent-{handle}@{DEPENDENT_EMAIL_DOMAIN}",
        first_name=first_name.strip(),
        last_name=(last_name or "").strip(),
        date_of_birth=date_of_birth,
        sex=sex,
        height_cm=height_cm,
        role=User.Role.PATIENT,
        is_dependent=True,
    )
    member.set_unusable_password()
    clean_user(member)
    member.save()
    return FamilyMembership.objects.create(
        manager=manager,
        member=member,
        relation=relation,
        role=FamilyMembership.Role.MANAGER,
        created_by=manager,
    )


@transaction.atomic
def family_access_grant(
    *,
    granted_by: User,
    email: str,
    role: str,
    member: User | None = None,
    relation: str = FamilyMembership.Relation.OTHER,
) -> FamilyMembership:
    """Give the existing user with `email` family `role` (manager or read_only) over `member`
    (default: `granted_by` themself). Only the member, or one of their family managers, may
    grant. Granting again changes the role of the existing link."""
    member = member or granted_by
    clean_family_manager(granted_by)
    clean_family_grant(role=role, relation=relation)
    if not access.can_write(granted_by, member.pk) or member.deleted_at is not None:
        raise ValidationError({"member": ["You cannot share this person's data."]})
    grantee = (
        User.objects.active()
        .filter(email__iexact=(email or "").strip(), is_dependent=False)
        .first()
    )
    if grantee is None:
        raise ValidationError({"email": ["No account with that e-mail address."]})
    if grantee.pk == member.pk:
        raise ValidationError({"email": ["That is the member themself."]})
    try:
        with transaction.atomic():
            link, created = FamilyMembership.objects.get_or_create(
                manager=grantee,
                member=member,
                defaults={"role": role, "relation": relation, "created_by": granted_by},
            )
    except IntegrityError:  # a concurrent grant created the pair first
        link, created = FamilyMembership.objects.get(manager=grantee, member=member), False
    if not created and (link.role, link.relation) != (role, relation):
        link.role, link.relation = role, relation
        link.save(update_fields=["role", "relation"])
    return link


@transaction.atomic
def family_member_remove(*, manager: User, member: User) -> None:
    """`manager` removes `member` from their family.

    A dependent is soft-deleted (its data goes with it after the grace period); the other
    managers' links then lead nowhere. An adult member only loses this link; their account stays.
    Raises `FamilyMembership.DoesNotExist` when `manager` does not manage `member`."""
    link = (
        FamilyMembership.objects.live()
        .select_for_update()
        .get(manager=manager, member=member, role=FamilyMembership.Role.MANAGER)
    )
    if member.is_dependent:
        user_soft_delete(user=member)
    else:
        link.delete()


@transaction.atomic
def family_access_revoke(*, revoked_by: User, link: FamilyMembership) -> None:
    """Withdraw the access `link` gives: by the member themself, or by someone who may write for
    the member (one of their family managers). Raises `FamilyMembership.DoesNotExist` otherwise."""
    if link.member_id != revoked_by.pk and not access.can_write(revoked_by, link.member_id):
        raise FamilyMembership.DoesNotExist
    link.delete()
