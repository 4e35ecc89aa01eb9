from __future__ import annotations

from accounts import family
from accounts.models import FamilyMembership, User


def make_dependent(manager: User, **kwargs) -> User:
    """A dependent profile managed by `manager` (through the real service)."""
    kwargs.setdefault("first_name", "Kim")
    kwargs.setdefault("relation", FamilyMembership.Relation.CHILD)
    return family.family_member_create(manager=manager, **kwargs).member
