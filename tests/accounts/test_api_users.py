from __future__ import annotations

import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts.models import User
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

GOOD = {"email": "New@Example.org", "username": "newbie", "password": "Str0ng-pass!"}


def test_register_creates_a_patient_and_never_returns_the_password(api_client):
    response = api_client.post(
        "/api/v1/users/register",
        {**GOOD, "sex": "male", "height_cm": 180, "medical_history": "none"},
        format="json",
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert "password" not in body and "Str0ng-pass!" not in str(body)
    user = User.objects.get(username="newbie")
    assert user.email == "new@example.org"
    assert user.check_password("Str0ng-pass!")
    assert user.role == User.Role.PATIENT
    assert user.height_cm == 180


@pytest.mark.parametrize(
    "password, fragment",
    [
        ("Sh0rt!", "too short"),
        ("alllower-case1", "upper-case"),
        ("NoDigits-here", "digit"),
        ("NoSpecial123", "special"),
    ],
)
def test_register_rejects_weak_passwords(api_client, password, fragment):
    response = api_client.post(
        "/api/v1/users/register", {**GOOD, "password": password}, format="json"
    )
    assert response.status_code == 400
    assert fragment in " ".join(response.json()["password"])
    assert not User.objects.filter(username="newbie").exists()


def test_register_creates_nothing_for_a_taken_email_in_any_case(api_client):
    # Answered as a fresh registration (tests/accounts/test_enumeration.py).
    UserFactory(email="new@example.org")
    response = api_client.post("/api/v1/users/register", GOOD, format="json")
    assert response.status_code == 202
    assert not User.objects.filter(username="newbie").exists()


def test_register_rejects_malformed_json(api_client):
    response = api_client.post(
        "/api/v1/users/register", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize("field", ["username", "email"])
def test_token_by_username_or_email(api_client, field):
    user = UserFactory(username="carol", email="carol@example.org")
    login = {"username": "carol", "email": "carol@example.org"}[field]
    response = api_client.post(
        "/api/v1/auth/token/", {field: login, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.json()
    access = response.json()["access"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    me = api_client.get("/api/v1/users/me")
    assert me.status_code == 200
    assert me.json()["id"] == user.pk


def test_token_with_a_wrong_password_is_401(api_client):
    UserFactory(username="carol")
    response = api_client.post(
        "/api/v1/auth/token/", {"username": "carol", "password": "x"}, format="json"
    )
    assert response.status_code == 401


def test_revoked_refresh_token_cannot_be_used(api_client):
    UserFactory(username="carol")
    pair = api_client.post(
        "/api/v1/auth/token/", {"username": "carol", "password": PASSWORD}, format="json"
    ).json()
    assert (
        api_client.post(
            "/api/v1/auth/token/revoke/", {"refresh": pair["refresh"]}, format="json"
        ).status_code
        == 205
    )
    again = api_client.post(
        "/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"
    )
    assert again.status_code == 401


def test_trailing_slash_is_optional(auth_client):
    assert auth_client.get("/api/v1/users/me").status_code == 200
    assert auth_client.get("/api/v1/users/me/").status_code == 200


def test_me_needs_authentication(api_client):
    assert api_client.get("/api/v1/users/me").status_code == 401


def test_user_can_update_own_profile(auth_client, user):
    response = auth_client.patch(f"/api/v1/users/{user.pk}", {"height_cm": 181.5}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.height_cm == 181.5


def test_profile_rejects_implausible_height(auth_client, user):
    response = auth_client.patch(f"/api/v1/users/{user.pk}", {"height_cm": 900}, format="json")
    assert response.status_code == 400
    assert "height_cm" in response.json()


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_another_users_profile_is_404(auth_client, other_user, method):
    response = getattr(auth_client, method)(f"/api/v1/users/{other_user.pk}", {}, format="json")
    assert response.status_code == 404
    other_user.refresh_from_db()
    assert other_user.is_active


def test_delete_is_a_soft_delete_that_revokes_tokens(api_client):
    user = UserFactory(username="dora")
    pair = api_client.post(
        "/api/v1/auth/token/", {"username": "dora", "password": PASSWORD}, format="json"
    ).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert api_client.delete(f"/api/v1/users/{user.pk}").status_code == 204
    user.refresh_from_db()
    assert user.is_active is False and user.deleted_at is not None
    assert BlacklistedToken.objects.filter(token__user=user).count() == 1
    assert api_client.get("/api/v1/users/me").status_code == 401


def test_login_endpoints_are_rate_limited_with_retry_after(api_client, settings):
    settings.RATELIMIT_ENABLE = True
    settings.AUTH_RATE_LIMIT = "3/m"
    statuses = [
        api_client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}, format="json")
        for _ in range(4)
    ]
    assert [r.status_code for r in statuses] == [401, 401, 401, 429]
    assert statuses[-1]["Retry-After"] == "60"


def test_login_limit_holds_per_account_across_ips(api_client, settings):
    settings.RATELIMIT_ENABLE = True
    settings.AUTH_RATE_LIMIT = "2/m"
    codes = [
        api_client.post(
            "/api/v1/auth/token/",
            {"username": "victim", "password": "guess"},
            format="json",
            REMOTE_ADDR=f"10.0.0.{i}",
        ).status_code
        for i in range(3)
    ]
    assert codes == [401, 401, 429]


def test_api_is_throttled_per_ip_with_retry_after(auth_client, settings):
    settings.RATELIMIT_ENABLE = True
    settings.API_THROTTLE_RATES = {"ip_minute": "600/min", "ip_burst": "2/s"}
    codes = [auth_client.get("/api/v1/users/me").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
