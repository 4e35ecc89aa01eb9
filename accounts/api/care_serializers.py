from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts import sharing
from accounts.models import AccessLog, CareTeam, ShareGrant, User
from accounts.sharing import MAX_METRIC_TYPES
from healthtrack.core.api.strict import StrictFieldsMixin


class PersonSerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "name", "email"]

    def get_name(self, user: User) -> str:
        return user.get_full_name() or user.get_username()


class CareTeamSerializer(serializers.ModelSerializer):
    clinician = PersonSerializer(read_only=True)
    patient = PersonSerializer(read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = CareTeam
        fields = ["id", "clinician", "patient", "source", "started_at", "ended_at", "active"]


class AcceptClinicianSerializer(StrictFieldsMixin, serializers.Serializer):
    email = serializers.EmailField()


class ShareGrantSerializer(serializers.ModelSerializer):
    grantee = PersonSerializer(read_only=True, allow_null=True)  # null for a link
    owner = PersonSerializer(read_only=True)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = ShareGrant
        fields = [
            "id",
            "kind",
            "owner",
            "grantee",
            "label",
            "metric_types",
            "date_from",
            "date_to",
            "expires_at",
            "created_at",
            "revoked_at",
            "status",
        ]


class ShareGrantCreatedSerializer(ShareGrantSerializer):
    """The creation answer: for a link, the token, path and access code (shown only now)."""

    link_token = serializers.CharField(allow_null=True)
    link_path = serializers.CharField(allow_null=True)
    access_code = serializers.CharField(allow_null=True)

    class Meta(ShareGrantSerializer.Meta):
        fields = [*ShareGrantSerializer.Meta.fields, "link_token", "link_path", "access_code"]


class ShareGrantCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    clinician_email = serializers.EmailField(
        required=False, help_text="Share with this clinician; omit to share by link and code."
    )
    metric_types = serializers.ListField(
        child=serializers.RegexField(r"^[a-z][a-z0-9_]{0,63}$", max_length=64),
        min_length=1,
        max_length=MAX_METRIC_TYPES,
        help_text="Codes from GET /api/v1/metric-types; an unknown code is refused (400, named); "
        "a repeated code is shared once.",
    )
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    expires_at = serializers.DateTimeField(required=False)
    label = serializers.CharField(required=False, allow_blank=True, max_length=100)

    def validate_metric_types(self, value: list[str]) -> list[str]:
        # The service's rule (it checks again for other callers), here so that an unknown code
        # is reported together with the other fields' errors.
        try:
            return sharing.clean_metric_types(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["metric_types"]) from None


class AccessLogSerializer(serializers.ModelSerializer):
    """What a patient sees of a read of their data: who, how, what, when (no IP)."""

    actor = serializers.SerializerMethodField()
    actor_role = serializers.SerializerMethodField()

    class Meta:
        model = AccessLog
        fields = ["id", "at", "actor", "actor_role", "via", "endpoint", "object_type"]

    def get_actor(self, row: AccessLog) -> str:
        if row.actor is not None:
            return row.actor.get_full_name() or row.actor.get_username()
        return row.actor_label

    def get_actor_role(self, row: AccessLog) -> str | None:
        return row.actor.role if row.actor is not None else None
