"""Settings pages: profile (encrypted fields), personal API tokens, delete my account."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from accounts.api_tokens import api_token_create
from accounts.models import ApiToken, User
from accounts.views import NEW_TOKEN_SESSION_KEY
from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db

SETTINGS_PAGES = ["/settings/", "/settings/profile/", "/settings/tokens/", "/settings/delete/"]


@pytest.mark.parametrize("url", [*SETTINGS_PAGES, "/dashboard/"])
def test_signed_out_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"/accounts/login/?next={url}"


def test_settings_opens_on_the_profile(page_client):
    assert page_client.get("/settings/").url == "/settings/profile/"


# --- profile --------------------------------------------------------------------------------

PROFILE = {
    "first_name": "Dana",
    "last_name": "Demo",
    "date_of_birth": "1984-05-17",
    "sex": "female",
    "height_cm": "168.5",
    "medical_history": "Asthma since childhood",
}


def test_profile_shows_the_decrypted_fields(page_client, user):
    user.medical_history = "Type 2 diabetes"
    user.save()
    body = page_client.get("/settings/profile/").content.decode()
    assert "Type 2 diabetes" in body
    assert 'value="1985-03-14"' in body  # the factory's date of birth, ISO for <input type=date>


def test_profile_saves_and_encrypts_the_sensitive_fields(page_client, user):
    response = page_client.post("/settings/profile/", PROFILE, follow=True)
    assert response.redirect_chain == [("/settings/profile/", 302)]
    assert "Your profile is saved" in response.content.decode()
    user.refresh_from_db()
    assert user.first_name == "Dana"
    assert user.date_of_birth == date(1984, 5, 17)
    assert user.height_cm == 168.5
    assert user.medical_history == "Asthma since childhood"
    with connection.cursor() as cursor:
        cursor.execute("SELECT medical_history FROM accounts_user WHERE id = %s", [user.pk])
        stored = bytes(cursor.fetchone()[0])
    assert b"Asthma" not in stored


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("height_cm", "300", "less than or equal to 260"),
        ("height_cm", "tall", "Enter a number"),
        ("date_of_birth", "17/05/1984x", "Enter a valid date"),
        ("sex", "unknown", "Select a valid choice"),
    ],
)
def test_profile_errors_keep_the_input_and_change_nothing(page_client, user, field, value, message):
    response = page_client.post("/settings/profile/", {**PROFILE, field: value})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    body = response.content.decode()
    assert "Asthma since childhood" in body  # the other fields as typed
    assert f'id="id_{field}_error"' in body
    assert 'aria-invalid="true"' in body
    user.refresh_from_db()
    assert user.first_name == "Pat"
    assert user.medical_history == ""
    # The signed-in user shown in the page header was not altered by the rejected form.
    assert response.context["user"].first_name == "Pat"


def test_profile_changes_only_the_signed_in_user(page_client, user, other_user):
    page_client.post("/settings/profile/", {**PROFILE, "id": other_user.pk, "user": other_user.pk})
    other_user.refresh_from_db()
    assert other_user.first_name == "Pat"
    user.refresh_from_db()
    assert user.first_name == "Dana"


# --- API tokens -----------------------------------------------------------------------------


def test_creating_a_token_shows_it_once_and_stores_only_its_hash(page_client, user):
    response = page_client.post("/settings/tokens/", {"name": "Bathroom scale"})
    assert response.status_code == 302  # so that reloading the page creates nothing
    assert response.url == "/settings/tokens/"
    # While it waits for the page that shows it, the session holds it encrypted only.
    sealed = page_client.session[NEW_TOKEN_SESSION_KEY]
    response = page_client.get("/settings/tokens/")
    raw = response.context["new_token"]
    assert raw.startswith("ht_") and len(raw) > 40
    assert raw not in sealed
    assert raw in response.content.decode()
    assert "Copy it now" in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0")
    token = ApiToken.objects.get(user=user)
    assert token.name == "Bathroom scale"
    assert token.prefix == raw[:11]
    stored = list(ApiToken.objects.filter(pk=token.pk).values_list())[0]
    assert raw not in [str(v) for v in stored]
    # Never again: the list shows the name and prefix only.
    assert NEW_TOKEN_SESSION_KEY not in page_client.session
    body = page_client.get("/settings/tokens/").content.decode()
    assert "Bathroom scale" in body
    assert raw[:11] in body
    assert raw not in body


def test_a_created_token_works_against_the_api(page_client, client, user):
    page_client.post("/settings/tokens/", {"name": "App"})
    raw = page_client.get("/settings/tokens/").context["new_token"]
    page_client.logout()
    response = client.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 200
    assert response.json()["id"] == user.pk
    assert client.get("/settings/tokens/").status_code == 302  # a token is for the API only


def test_token_name_is_required_and_the_error_is_shown(page_client, user):
    response = page_client.post("/settings/tokens/", {"name": "  "})
    assert response.status_code == 400
    assert response.context["new_token"] is None
    assert "This field is required" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_token_list_shows_only_my_active_tokens(page_client, user, other_user):
    api_token_create(user=user, name="Mine")
    revoked, _ = api_token_create(user=user, name="Old one")
    revoked.revoked_at = revoked.created_at
    revoked.save()
    api_token_create(user=other_user, name="Theirs")
    response = page_client.get("/settings/tokens/")
    names = [t.name for t in response.context["tokens"]]
    assert names == ["Mine"]
    assert "Theirs" not in response.content.decode()


def test_tokens_page_without_tokens_says_what_to_do(page_client):
    body = page_client.get("/settings/tokens/").content.decode()
    assert "No tokens yet" in body
    assert "Create a token above" in body


def test_revoking_a_token_stops_it_at_once(page_client, client, user):
    token, raw = api_token_create(user=user, name="App")
    response = page_client.post(f"/settings/tokens/{token.pk}/revoke/", follow=True)
    assert response.redirect_chain == [("/settings/tokens/", 302)]
    assert "revoked" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    page_client.logout()
    assert client.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 401


def test_revoking_another_users_token_is_404_and_changes_nothing(page_client, other_user):
    token, _ = api_token_create(user=other_user, name="Theirs")
    response = page_client.post(f"/settings/tokens/{token.pk}/revoke/")
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoke_is_post_only(page_client, user):
    token, _ = api_token_create(user=user, name="App")
    assert page_client.get(f"/settings/tokens/{token.pk}/revoke/").status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


# --- delete my account ----------------------------------------------------------------------


def test_delete_account_needs_the_password(page_client, user):
    response = page_client.post("/settings/delete/", {"password": "wrong"})
    assert response.status_code == 400
    assert "That is not your password" in response.content.decode()
    user.refresh_from_db()
    assert user.is_active and user.deleted_at is None


def test_delete_account_soft_deletes_logs_out_and_blocks_tokens(page_client, client, user):
    _, raw = api_token_create(user=user, name="App")
    response = page_client.post("/settings/delete/", {"password": PASSWORD}, follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert "Your account is deleted" in response.content.decode()
    assert "_auth_user_id" not in page_client.session
    user = User.objects.get(pk=user.pk)
    assert not user.is_active
    assert user.deleted_at is not None
    assert client.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 401
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session


def test_every_settings_form_carries_a_csrf_token(page_client, user):
    api_token_create(user=user, name="App")
    for url in SETTINGS_PAGES[1:]:
        body = page_client.get(url).content.decode()
        forms = body.count('method="post"')
        assert forms >= 1
        assert body.count('name="csrfmiddlewaretoken"') == forms, url


# --- who saw my data, export ----------------------------------------------------------------


def test_access_log_lists_only_reads_of_my_data(page_client, user, other_user):
    from accounts.audit import record_access
    from accounts.models import AccessLog
    from tests.accounts.factories import ClinicianFactory

    doctor = ClinicianFactory(username="drwho")
    record_access(actor=doctor, owner_id=user.pk, via=AccessLog.Via.CARE_TEAM, endpoint="GET /x")
    record_access(
        actor=doctor, owner_id=other_user.pk, via=AccessLog.Via.CARE_TEAM, endpoint="GET /other"
    )
    body = page_client.get("/settings/access-log/").content.decode()
    assert "drwho" in body and "Care team" in body and "GET /x" in body
    assert "GET /other" not in body


def test_access_log_without_reads_says_so(page_client):
    body = page_client.get("/settings/access-log/").content.decode()
    assert "Nobody else has read your data" in body


@pytest.mark.parametrize("url", ["/settings/access-log/", "/settings/export/"])
def test_more_settings_pages_need_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_export_leads_to_the_your_data_page(page_client):
    response = page_client.get("/settings/export/")
    assert response.status_code == 301 and response.url == "/settings/data/"
    body = page_client.get("/settings/data/").content.decode()
    assert body.count('href="/settings/data/"') == 1  # one entry in the settings menu
    assert "/api/v1/export?format=fhir" in body
