from __future__ import annotations

from datetime import date

from rest_framework import serializers

from accounts.models import FamilyMembership, User
from healthtrack.core.api.strict import StrictFieldsMixin

DEPENDENT_RELATIONS = [
    r
    for r in FamilyMembership.Relation.values
    if r not in (FamilyMembership.Relation.SELF, FamilyMembership.Relation.DOCTOR)
]


class FamilyMemberSerializer(serializers.Serializer):
    """A person the viewer acts for; `id` is the member's user id (the `?member=` value)."""

    id = serializers.IntegerField(source="member.id")
    first_name = serializers.CharField(source="member.first_name")
    last_name = serializers.CharField(source="member.last_name")
    date_of_birth = serializers.DateField(source="member.date_of_birth", allow_null=True)
    sex = serializers.CharField(source="member.sex")
    is_dependent = serializers.BooleanField(source="member.is_dependent")
    relation = serializers.CharField()
    role = serializers.CharField()
    created_at = serializers.DateTimeField()


class FamilyMemberCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150, required=False, default="", allow_blank=True)
    relation = serializers.ChoiceField(choices=DEPENDENT_RELATIONS)
    date_of_birth = serializers.DateField(required=False, allow_null=True, default=None)
    sex = serializers.ChoiceField(choices=User.Sex.choices, default=User.Sex.UNSPECIFIED)
    height_cm = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=40, max_value=260
    )

    def validate_date_of_birth(self, value: date | None) -> date | None:
        if value is not None and (value > date.today() or value.year < 1900):
            raise serializers.ValidationError("Give a date of birth between 1900 and today.")
        return value


class FamilyAccessSerializer(serializers.Serializer):
    """Someone given access to the member's data (the member is the viewer or `?member=`)."""

    id = serializers.IntegerField()
    member_id = serializers.IntegerField()
    grantee_id = serializers.IntegerField(source="manager.id")
    grantee_email = serializers.EmailField(source="manager.email")
    grantee_name = serializers.SerializerMethodField()
    relation = serializers.CharField()
    role = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_grantee_name(self, link: FamilyMembership) -> str:
        return link.manager.get_full_name() or link.manager.username


class FamilyAccessGrantSerializer(StrictFieldsMixin, serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=FamilyMembership.Role.choices)
    relation = serializers.ChoiceField(
        choices=FamilyMembership.Relation.choices, default=FamilyMembership.Relation.OTHER
    )
