from __future__ import annotations

from datetime import date

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, serializers
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import credentials, lockout
from accounts.models import User
from healthtrack.core.api.errors import AccountLocked
from healthtrack.core.api.strict import StrictFieldsMixin

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
        # No uniqueness checks here: whether a name or address is taken is never answered
        # (accounts.services.user_register_request e-mails it instead).
        extra_kwargs = {
            "email": {"required": True, "validators": []},
            "username": {"validators": [UnicodeUsernameValidator()]},
        }

    def validate_date_of_birth(self, value: date | None) -> date | None:
        return _past_birth_date(value)

    def validate_email(self, value: str) -> str:
        return value.strip().lower()

    def validate(self, attrs):
        candidate = User(**{k: v for k, v in attrs.items() if k != "password"})
        try:
            validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class RegistrationAcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField()


class TokenRevokeSerializer(StrictFieldsMixin, serializers.Serializer):
    refresh = serializers.CharField()


class TokenObtainSerializer(StrictFieldsMixin, TokenObtainPairSerializer):
    """simplejwt's pair serializer, taking `username` or `email` (either logs in).

    A locked account gets 429 with Retry-After and says so, also on the failure that locks
    it; the refusal itself happens in the authentication backend. Each pair starts a token
    family (accounts.credentials)."""

    token_class = credentials.FamilyRefreshToken

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


class TokenRefreshRevokingSerializer(StrictFieldsMixin, TokenRefreshSerializer):
    """simplejwt's refresh, plus: a refresh token already rotated (blacklisted) that comes back
    means two parties hold it, so its whole family is revoked (accounts.credentials); a token
    of a revoked family, or issued before a password change, is refused."""

    def validate(self, attrs):
        raw = attrs["refresh"]
        try:  # the signature and expiry checked, not (yet) the blacklist
            payload = RefreshToken(raw, verify=False).get_token_backend().decode(raw, verify=True)
        except (TokenError, TokenBackendError):
            payload = None  # simplejwt says what is wrong with it, below
        if payload and payload.get(api_settings.TOKEN_TYPE_CLAIM) == "refresh":
            jti = payload.get(api_settings.JTI_CLAIM)
            if BlacklistedToken.objects.filter(token__jti=jti).exists():
                credentials.token_family_revoke(payload)
                raise TokenError("Token is blacklisted")
            user = User.objects.filter(pk=payload.get(api_settings.USER_ID_CLAIM)).first()
            revoked = credentials.revoked_ids(user.pk) if user else []
            if user and credentials.token_is_revoked(payload, user=user, revoked=revoked):
                raise TokenError("Token has been revoked")
        return super().validate(attrs)
