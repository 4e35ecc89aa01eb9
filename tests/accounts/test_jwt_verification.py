"""Every Bearer JWT is verified on every request (accounts/api/jwt_authentication.py decodes
it with a prepared PyJWT decoder): it accepts exactly the tokens simplejwt's own
`JWTAuthentication` accepts, with the same claims, and refuses the rest with simplejwt's 401."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.api.jwt_authentication import AuditedJWTAuthentication, verified_token
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _signed(payload: dict, *, key: str | None = None, algorithm: str = "HS256") -> bytes:
    return jwt.encode(payload, key or settings.JWT_SIGNING_KEY, algorithm=algorithm).encode()


def _claims(user, **changes) -> dict:
    claims = dict(AccessToken.for_user(user).payload)
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _tampered(token: bytes) -> dict[str, bytes]:
    header, payload, signature = token.split(b".")
    claims = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    claims["user_id"] = str(int(claims["user_id"]) + 1)
    return {
        "payload changed, signature kept": b".".join(
            [header, _b64(json.dumps(claims).encode()), signature]
        ),
        "junk in the header": b"!!!!" + token,
        "junk in the signature": token[:-4] + b"!!!!",
        "padding on a segment": b".".join([header + b"===", payload, signature]),
        "two segments": b".".join([header, payload]),
        "signature dropped": b".".join([header, payload, b""]),
        "alg none": b".".join([_b64(b'{"alg":"none","typ":"JWT"}'), payload, b""]),
    }


def _simplejwt_accepts(raw: bytes) -> bool:
    try:
        JWTAuthentication().get_validated_token(raw)
    except InvalidToken:
        return False
    return True


def test_a_valid_access_token_gives_simplejwts_token_with_the_same_claims():
    user = UserFactory()
    raw = str(AccessToken.for_user(user)).encode()
    token = verified_token(raw)
    assert isinstance(token, AccessToken)
    assert token.payload == JWTAuthentication().get_validated_token(raw).payload
    assert int(token["user_id"]) == user.pk


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": 1},  # expired long ago
        {"token_type": "refresh"},  # not an access token
        {"token_type": None},
        {"jti": None},
        {"exp": None},
    ],
    ids=["expired", "refresh type", "no type", "no jti", "no exp"],
)
def test_a_token_simplejwt_refuses_is_refused(changes):
    raw = _signed(_claims(UserFactory(), **changes))
    assert verified_token(raw) is None
    assert not _simplejwt_accepts(raw)
    with pytest.raises(InvalidToken):
        AuditedJWTAuthentication().get_validated_token(raw)


def test_a_token_signed_with_another_key_or_algorithm_is_refused():
    user = UserFactory()
    for raw in (
        _signed(_claims(user), key="another key of more than thirty-two bytes, surely"),
        _signed(_claims(user), algorithm="HS512"),
    ):
        assert verified_token(raw) is None and not _simplejwt_accepts(raw)


def test_a_tampered_or_malformed_token_is_refused_as_simplejwt_refuses_it():
    raw = str(AccessToken.for_user(UserFactory())).encode()
    for name, bad in _tampered(raw).items():
        assert verified_token(bad) is None, name
        assert not _simplejwt_accepts(bad), name


def test_a_refresh_token_as_bearer_gets_401():
    user = UserFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user)}")
    assert client.get("/api/v1/users/me").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    assert client.get("/api/v1/users/me").status_code == 200


def test_the_leeway_is_simplejwts():
    """An access token past its expiry is refused however little past it (no leeway set)."""
    user = UserFactory()
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=-1))
    raw = str(token).encode()
    assert verified_token(raw) is None and not _simplejwt_accepts(raw)


def _learnt_decoder():
    """The process's decoder once it has verified a valid token (its header learnt, so the
    next tokens in that shape take the HMAC-and-claims path before PyJWT's)."""
    from accounts.api.jwt_authentication import _decoder

    raw = str(AccessToken.for_user(UserFactory())).encode()
    token = verified_token(raw)
    assert token is not None
    decoder = _decoder(token.get_token_backend())
    assert raw.split(b".")[0] in decoder.headers
    return decoder


def test_a_token_in_the_learnt_shape_is_verified_without_pyjwts_decode(monkeypatch):
    decoder = _learnt_decoder()
    user = UserFactory()
    raw = str(AccessToken.for_user(user)).encode()

    def refused(*args, **kwargs):
        raise AssertionError("PyJWT's decode was called")

    monkeypatch.setattr(decoder.jwt, "decode_complete", refused)
    token = verified_token(raw)
    assert token is not None and int(token["user_id"]) == user.pk
    assert token.payload == JWTAuthentication().get_validated_token(raw).payload


@pytest.mark.parametrize(
    "changes",
    [{"exp": 1}, {"token_type": "refresh"}, {"jti": None}, {"exp": None}, {"nbf": 4102444800}],
    ids=["expired", "refresh type", "no jti", "no exp", "not before 2100"],
)
def test_once_the_header_is_learnt_the_tokens_simplejwt_refuses_are_still_refused(changes):
    _learnt_decoder()
    raw = _signed(_claims(UserFactory(), **changes))
    assert verified_token(raw) is None
    assert not _simplejwt_accepts(raw)


def test_once_the_header_is_learnt_tampered_tokens_are_still_refused():
    _learnt_decoder()
    raw = str(AccessToken.for_user(UserFactory())).encode()
    tampered = _tampered(raw)
    tampered["another key"] = _signed(
        _claims(UserFactory()), key="another key of more than thirty-two bytes, surely"
    )
    for name, bad in tampered.items():
        assert verified_token(bad) is None, name
        assert not _simplejwt_accepts(bad), name


def test_a_padded_signature_gets_simplejwts_answer_once_the_header_is_learnt():
    _learnt_decoder()
    raw = str(AccessToken.for_user(UserFactory())).encode()
    padded = raw + b"=" * (-len(raw.rsplit(b".", 1)[1]) % 4)
    assert padded != raw
    assert (verified_token(padded) is not None) == _simplejwt_accepts(padded)


def test_a_token_verified_before_is_refused_once_it_expires_or_its_signature_changes():
    """A verified token's decoded claims are kept (per payload segment), its signature and
    claims are not: the same token past its expiry, or its payload under another signature,
    is refused."""
    import time_machine
    from django.utils import timezone

    decoder = _learnt_decoder()
    token = AccessToken.for_user(UserFactory())
    token.set_exp(lifetime=timedelta(minutes=5))
    raw = str(token).encode()
    assert verified_token(raw) is not None and verified_token(raw) is not None
    assert raw.split(b".")[1] in decoder.payloads
    header, payload, signature = raw.split(b".")
    forged = b".".join(
        [header, payload, signature[:-4] + (b"AAAA" if signature[-4:] != b"AAAA" else b"BBBB")]
    )
    assert verified_token(forged) is None and not _simplejwt_accepts(forged)
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert verified_token(raw) is None and not _simplejwt_accepts(raw)
