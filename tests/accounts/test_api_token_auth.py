"""`Authorization: Token <token>` on the API (accounts.authentication.ApiTokenAuthentication)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts.api_tokens import api_token_authenticate, api_token_create, api_token_revoke
from accounts.models import ApiToken
from accounts.services import user_soft_delete
from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db


def me(api_client, header):
    return api_client.get("/api/v1/users/me", HTTP_AUTHORIZATION=header)


def test_a_token_authenticates_as_its_owner_and_records_its_use(api_client, user):
    token, raw = api_token_create(user=user, name="Scale")
    assert token.last_used_at is None
    response = me(api_client, f"Token {raw}")
    assert response.status_code == 200
    assert response.json()["id"] == user.pk
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_last_use_is_written_at_most_once_a_minute(user):
    token, raw = api_token_create(user=user, name="Scale")
    api_token_authenticate(raw)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    api_token_authenticate(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    api_token_authenticate(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first


def test_a_token_can_write_without_csrf(api_client, user):
    _, raw = api_token_create(user=user, name="App")
    response = api_client.patch(
        f"/api/v1/users/{user.pk}",
        {"first_name": "Tok"},
        format="json",
        HTTP_AUTHORIZATION=f"Token {raw}",
    )
    assert response.status_code == 200, response.json()
    user.refresh_from_db()
    assert user.first_name == "Tok"


def test_a_token_reaches_only_its_owners_data(api_client, user, other_user):
    _, raw = api_token_create(user=user, name="App")
    response = api_client.get(f"/api/v1/users/{other_user.pk}", HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "header",
    ["Token ht_not-a-real-token", "Token", "Token a b", "Token not-our-format"],
)
def test_unknown_or_malformed_tokens_are_refused(api_client, user, header):
    assert me(api_client, header).status_code == 401


def test_a_revoked_token_is_refused(api_client, user):
    token, raw = api_token_create(user=user, name="App")
    api_token_revoke(token=token)
    assert me(api_client, f"Token {raw}").status_code == 401


def test_revoking_twice_keeps_the_first_time(user):
    token, _ = api_token_create(user=user, name="App")
    api_token_revoke(token=token)
    first = token.revoked_at
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=first - timedelta(days=1))
    api_token_revoke(token=token)
    assert token.revoked_at == first - timedelta(days=1)


def test_a_deleted_users_token_is_refused(api_client, user):
    _, raw = api_token_create(user=user, name="App")
    user_soft_delete(user=user)
    assert me(api_client, f"Token {raw}").status_code == 401


def test_tokens_are_random_and_stored_as_hashes(user):
    created = [api_token_create(user=user, name=f"t{n}") for n in range(3)]
    raws = {raw for _, raw in created}
    assert len(raws) == 3
    for token, raw in created:
        assert token.key_hash != raw and len(token.key_hash) == 64
        assert raw.startswith(token.prefix)


def test_bearer_jwt_still_works_next_to_tokens(api_client, user):
    response = api_client.post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert me(api_client, f"Bearer {response.json()['access']}").status_code == 200


def test_the_schema_describes_the_token_scheme(api_client, user):
    api_client.force_authenticate(user)
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schemes = response.json()["components"]["securitySchemes"]
    assert schemes["apiToken"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A personal API token from Settings → API tokens: `Token <token>`.",
    }


@pytest.mark.django_db
def test_deleting_the_account_revokes_its_api_tokens():
    from tests.accounts.factories import UserFactory

    owner = UserFactory()
    token, _raw = api_token_create(user=owner, name="phone app")
    user_soft_delete(user=owner)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
