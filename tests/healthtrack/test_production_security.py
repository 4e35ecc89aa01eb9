"""Production response headers and cookies (a real request cycle under DJANGO_ENV=production),
the CORS allow-list, and the JWT signing key kept apart from SECRET_KEY."""

from __future__ import annotations

import json

import jwt
import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from tests.accounts.factories import PASSWORD
from tests.healthtrack.servers import free_port
from tests.healthtrack.test_settings import KEYS, run_python

PRODUCTION_REQUESTS = """
import json, django
django.setup()
from django.conf import settings
# collectstatic is a deploy step; the pages only need some static storage to render.
settings.STORAGES = {**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
from django.core.management import call_command
call_command("migrate", verbosity=0)
from accounts.models import User
User.objects.create_user(username="ops", email="ops@example.org", password=%(password)r,
                         is_staff=True)
from django.test import Client
client = Client(HTTP_HOST="healthtrack.example.org", HTTP_X_FORWARDED_PROTO="https")
page = client.get("/admin/login/")
login = client.post("/admin/login/", {"username": "ops", "password": %(password)r,
                                       "next": "/admin/"})
plain = Client(HTTP_HOST="healthtrack.example.org")
def cookies(response):
    return {name: {"secure": bool(m["secure"]), "httponly": bool(m["httponly"]),
                   "samesite": m["samesite"]} for name, m in response.cookies.items()}
print(json.dumps({
    "page": {"status": page.status_code, "headers": dict(page.headers),
             "cookies": cookies(page)},
    "login": {"status": login.status_code, "cookies": cookies(login)},
    "http_api": [plain.get("/api/v1/users/me").status_code,
                 plain.get("/api/v1/users/me").headers.get("Location")],
    "http_health": plain.get("/health").status_code,
}))
"""


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("production")
    result = run_python(
        PRODUCTION_REQUESTS % {"password": PASSWORD},
        tmp,
        DJANGO_ENV="production",
        ALLOWED_HOSTS="healthtrack.example.org",
        DATABASE_URL=f"sqlite:///{tmp}/db.sqlite3",
        # Nothing listens there: the cache degrades to misses, sessions stay in the database.
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        LOG_LEVEL="CRITICAL",
        **KEYS,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_sends_hsts_nosniff_referrer_policy_and_frame_denial(production):
    headers = production["page"]["headers"]
    assert production["page"]["status"] == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"


def test_production_session_cookie_is_secure_httponly_and_samesite(production):
    assert production["login"]["status"] == 302
    session = production["login"]["cookies"]["sessionid"]
    assert session == {"secure": True, "httponly": True, "samesite": "Lax"}


def test_production_csrf_cookie_is_secure_and_samesite(production):
    csrf = production["page"]["cookies"]["csrftoken"]
    assert csrf["secure"] is True and csrf["samesite"] == "Lax"


def test_production_redirects_plain_http_except_the_probes(production):
    status, location = production["http_api"]
    assert status == 301 and location == "https://healthtrack.example.org/api/v1/users/me"
    assert production["http_health"] == 200


def test_production_refuses_a_jwt_key_equal_to_the_secret_key(tmp_path):
    env = {
        "DJANGO_ENV": "production",
        "ALLOWED_HOSTS": "healthtrack.example.org",
        "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/db",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        **KEYS,
        "JWT_SIGNING_KEY": KEYS["SECRET_KEY"],
    }
    result = run_python("import django; django.setup()", tmp_path, **env)
    assert result.returncode != 0
    assert "JWT_SIGNING_KEY must differ from SECRET_KEY" in result.stderr


def test_cors_origins_come_from_the_environment(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CORS_ALLOWED_ORIGINS)"
    )
    origins = "https://app.example.com,https://partner.example.org"
    out = run_python(code, tmp_path, CORS_ALLOWED_ORIGINS=origins).stdout.strip()
    assert out == "['https://app.example.com', 'https://partner.example.org']"


# --- JWT signing key --------------------------------------------------------------------------
@pytest.mark.django_db
def test_tokens_are_signed_with_the_jwt_key_not_the_secret_key(api_client, user, settings):
    assert settings.JWT_SIGNING_KEY != settings.SECRET_KEY
    assert settings.SIMPLE_JWT["SIGNING_KEY"] == settings.JWT_SIGNING_KEY
    access = api_client.post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    ).json()["access"]
    assert jwt.decode(access, settings.JWT_SIGNING_KEY, algorithms=["HS256"])["user_id"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(access, settings.SECRET_KEY, algorithms=["HS256"])


@pytest.mark.django_db
def test_a_token_forged_with_the_secret_key_is_refused(api_client, user, settings):
    genuine = RefreshToken.for_user(user).access_token
    forged = jwt.encode(dict(genuine.payload), settings.SECRET_KEY, algorithm="HS256")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert api_client.get("/api/v1/users/me").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {genuine}")
    assert api_client.get("/api/v1/users/me").status_code == 200


# --- CORS -------------------------------------------------------------------------------------
APP = "https://app.example.com"


@pytest.mark.django_db
def test_no_origin_is_allowed_by_default(auth_client):
    response = auth_client.get("/api/v1/users/me", HTTP_ORIGIN=APP)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.django_db
def test_an_allowed_origin_may_call_the_api_without_credentials(auth_client, settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    response = auth_client.get("/api/v1/users/me", HTTP_ORIGIN=APP)
    assert response["Access-Control-Allow-Origin"] == APP
    assert "Access-Control-Allow-Credentials" not in response
    exposed = response["Access-Control-Expose-Headers"].lower()
    assert "x-request-id" in exposed and "retry-after" in exposed
    other = auth_client.get("/api/v1/users/me", HTTP_ORIGIN="https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in other


@pytest.mark.django_db
def test_a_preflight_from_an_allowed_origin_permits_bearer_tokens(api_client, settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    response = api_client.options(
        "/api/v1/nutrition-logs",
        HTTP_ORIGIN=APP,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert "authorization" in response["Access-Control-Allow-Headers"]
    assert "POST" in response["Access-Control-Allow-Methods"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/health", "/admin/login/", "/metrics"])
def test_cors_covers_only_the_api(client, settings, url):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    response = client.get(url, HTTP_ORIGIN=APP)
    assert "Access-Control-Allow-Origin" not in response
