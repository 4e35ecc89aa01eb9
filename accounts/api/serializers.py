from __future__ import annotations

from datetime import date

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from accounts import lockout
from accounts.api.errors import AccountLocked
from accounts.api.strict import StrictFieldsMixin
from accounts.models import User

PROFILE_FIELDS = ["first_name", "last_name", "date_of_birth", "sex", "height_cm", "medical_history"]


def _past_birth_date(value: date | None) -> date | None:
    """Between 1900 and today, as family members' profiles require."""
    if value is not None and (value > date.today() or value.year < 1900):
        raise serializers.ValidationError("Give a date of birth between 1900 and today.")
    return value


class UserSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    height_cm = serializers.FloatField(min_value=40, max_value=260, allow_null=True, required=False)

    class Meta:
        model = User
        fields = ["id", "email", "username", "role", *PROFILE_FIELDS, "time_zone", "date_joined"]
        read_only_fields = ["id", "email", "username", "role", "date_joined"]

    def validate_date_of_birth(self, value: date | None) -> date | None:
        return _past_birth_date(value)


class RegisterSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    height_cm = serializers.FloatField(min_value=40, max_value=260, allow_null=True, required=False)

    class Meta:
        model = User
        fields = ["id", "email", "username", "password", *PROFILE_FIELDS]
        read_only_fields = ["id"]
        extra_kwargs = {"email": {"required": True}}

    def validate_date_of_birth(self, value: date | None) -> date | None:
        return _past_birth_date(value)

    def validate_email(self, value: str) -> str:
        value = value.strip().lower()
        if User.objects.filter(email__iexact=value).exists():
            raise serializers.ValidationError("A user with that e-mail address already exists.")
        return value

    def validate(self, attrs):
        candidate = User(**{k: v for k, v in attrs.items() if k != "password"})
        try:
            validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class TokenRevokeSerializer(StrictFieldsMixin, serializers.Serializer):
    refresh = serializers.CharField()


class TokenObtainSerializer(StrictFieldsMixin, TokenObtainPairSerializer):
    """simplejwt's pair serializer, taking `username` or `email` (either logs in).

    A locked account gets 429 with Retry-After and says so, also on the failure that locks
    it; the refusal itself happens in the authentication backend."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[self.username_field].required = False
        self.fields["email"] = serializers.CharField(required=False, write_only=True)

    def validate(self, attrs):
        login = attrs.get(self.username_field) or attrs.pop("email", None)
        if not login:
            raise serializers.ValidationError({"username": ["Give a username or an e-mail."]})
        attrs[self.username_field] = login
        lock = lockout.lock_for_login(login)
        if lock is not None:
            raise AccountLocked(lock)
        try:
            return super().validate(attrs)
        except exceptions.AuthenticationFailed:
            lock = lockout.lock_for_login(login)
            if lock is not None:
                raise AccountLocked(lock) from None
            raise
