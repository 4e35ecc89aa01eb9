"""HealthTrack settings: one module, read from the environment through django-environ.

Modes
- Embedded default (no DATABASE_URL, no REDIS_URL): SQLite under var/, local-memory cache,
  Celery eager, console e-mail, DEBUG on, keys generated once into var/dev-keys.json.
- DATABASE_URL / REDIS_URL set: PostgreSQL through psycopg 3 and Redis for cache, sessions,
  rate limits and the Celery broker.
- DJANGO_ENV=production: every key from the environment, DEBUG off, hosts required,
  secure cookies and HSTS; a misconfiguration stops start-up with a clear message.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from botocore.config import Config as BotoConfig
from celery.schedules import crontab
from corsheaders.defaults import default_headers as cors_default_headers
from django.core.exceptions import ImproperlyConfigured

from healthtrack import devkeys

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")
VAR_DIR = Path(env.str("HEALTHTRACK_VAR_DIR", default=str(BASE_DIR / "var")))

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"
DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED = not DATABASE_URL and not REDIS_URL and not PRODUCTION

DEBUG = env.bool("DEBUG", default=EMBEDDED)

# --- Keys -----------------------------------------------------------------------------------
_KEY_NAMES = ("SECRET_KEY", "FERNET_KEYS", "JWT_SIGNING_KEY")
if PRODUCTION:
    _missing = [name for name in _KEY_NAMES if not env.str(name, default="")]
    if _missing:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs these variables set: " + ", ".join(_missing)
        )
    _keys = {name: env.str(name) for name in _KEY_NAMES}
else:
    _dev = devkeys.load_or_create(VAR_DIR / "dev-keys.json")
    _keys = {name: env.str(name, default="") or _dev[name] for name in _KEY_NAMES}

SECRET_KEY = _keys["SECRET_KEY"]
if PRODUCTION and _keys["JWT_SIGNING_KEY"] == SECRET_KEY:
    raise ImproperlyConfigured("JWT_SIGNING_KEY must differ from SECRET_KEY.")
# Field encryption (django-fernet-fields-v2): the first key encrypts, every key decrypts.
# Real Fernet keys, independent of SECRET_KEY, comma-separated in the environment.
FERNET_KEYS = [k.strip() for k in _keys["FERNET_KEYS"].split(",") if k.strip()]
FERNET_USE_HKDF = False
JWT_SIGNING_KEY = _keys["JWT_SIGNING_KEY"]

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured("DJANGO_ENV=production refuses DEBUG=True.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ENV=production needs ALLOWED_HOSTS set.")
    if not DATABASE_URL:
        raise ImproperlyConfigured("DJANGO_ENV=production needs DATABASE_URL (PostgreSQL).")
    if not REDIS_URL:
        raise ImproperlyConfigured("DJANGO_ENV=production needs REDIS_URL.")

# --- Applications ---------------------------------------------------------------------------
INSTALLED_APPS = [
    # django.contrib.admin with HealthTrack's admin site (TOTP second factor for staff).
    "healthtrack.apps.HealthTrackAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "auditlog",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_celery_beat",
    "oauth2_provider",
    "healthtrack.core",  # shared plumbing (imports no app): docs/architecture.md
    "accounts",
    "metrics",
    "nutrition",
    "goals",
    "insights",
    # Import, export and erasure: wires the apps above together (no app imports it).
    "healthtrack.portability",
    # Retention, Parquet archive, restore and rollup replay (docs/lifecycle.md).
    "healthtrack.lifecycle",
    "healthtrack.changes",
    "healthtrack.webhooks",
]

MIDDLEWARE = [
    "healthtrack.request_id.RequestIdMiddleware",
    # One access-log line and one latency observation per request (healthtrack/observability).
    "healthtrack.observability.ObservabilityMiddleware",
    # Before anything that can answer on its own (CommonMiddleware, WhiteNoise).
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "healthtrack.security.SecurityHeadersMiddleware",
    "healthtrack.middleware.OptionalTrailingSlashMiddleware",
    # Django's, WhiteNoise's and django-otp's, as subclasses that step aside for API calls with
    # a Bearer/Token header (no session, CSRF or messages there): healthtrack/apistack.py.
    "healthtrack.apistack.WhiteNoiseMiddleware",
    "healthtrack.apistack.SessionMiddleware",
    "healthtrack.apistack.CommonMiddleware",
    # Django's own (check --deploy looks for it by name); DRF's API views are CSRF-exempt.
    "django.middleware.csrf.CsrfViewMiddleware",
    "healthtrack.apistack.AuthenticationMiddleware",
    "healthtrack.apistack.OTPMiddleware",
    "healthtrack.apistack.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # auditlog's, stepping aside for the liveness probe only (healthtrack/apistack.py).
    "healthtrack.apistack.AuditlogMiddleware",
    "healthtrack.dbrouter.ReplicaRoutingMiddleware",
    # An `<int:...>` path id beyond a 64-bit row id is 404 (healthtrack/request_errors.py).
    "healthtrack.request_errors.OutOfRangeIdMiddleware",
    # A form body that is not UTF-8 is 400, not saved as replacement characters.
    "healthtrack.request_errors.Utf8FormMiddleware",
]

ROOT_URLCONF = "healthtrack.urls"
WSGI_APPLICATION = "healthtrack.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.member",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------


def postgresql_engine(engine: str) -> str:
    """Django's PostgreSQL backend becomes ours (the same, with a cheaper health check)."""
    return "healthtrack.db" if engine == "django.db.backends.postgresql" else engine


if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"]["ENGINE"] = postgresql_engine(DATABASES["default"]["ENGINE"])
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    # Each request checks its persistent connection before using it, from the socket's state
    # when it can (no `SELECT 1` round trip): healthtrack/db/base.py.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Behind PgBouncer in transaction mode server-side cursors must be off.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DB_DISABLE_SERVER_SIDE_CURSORS", default=False
    )
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Read replicas (comma-separated URLs): safe API reads go there, see healthtrack/dbrouter.py.
DATABASE_REPLICAS: list[str] = []
for _i, _url in enumerate(env.list("DATABASE_REPLICA_URLS", default=[])):
    _alias = f"replica{_i}"
    DATABASES[_alias] = env.db_url_config(_url)
    DATABASES[_alias].update(
        ENGINE=postgresql_engine(DATABASES[_alias]["ENGINE"]),
        CONN_MAX_AGE=DATABASES["default"].get("CONN_MAX_AGE", 0),
        CONN_HEALTH_CHECKS=True,
        TEST={"MIRROR": "default"},
    )
    DATABASE_REPLICAS.append(_alias)
DATABASE_ROUTERS = ["healthtrack.dbrouter.ReplicaRouter"]
# How long a user who just wrote keeps reading from the primary (replication lag allowance).
REPLICA_PIN_SECONDS = env.int("REPLICA_PIN_SECONDS", default=10)

# --- Cache, sessions, rate limits -----------------------------------------------------------
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="ht"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                # A Redis outage degrades to cache misses (the database answers) instead of 500s.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    # Sessions live in Redis with the database behind them, so a Redis outage logs nobody out.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # django-ratelimit rejects a per-process cache (E003/W001) because limits would not hold
    # across processes. The embedded default is a single process, so the check is silenced
    # here only; with REDIS_URL set the check stays on.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

# Bench server only (`make bench`, bench/README.md): SQL statements and cache hits/misses per
# request in response headers. Off by default; never needed in a deployment.
BENCH_STATS = env.bool("BENCH_STATS", default=False)
if BENCH_STATS and REDIS_URL:
    MIDDLEWARE.insert(0, "healthtrack.benchstats.BenchStatsMiddleware")
    CACHES["default"]["BACKEND"] = "healthtrack.benchstats.CountingRedisCache"

RATELIMIT_USE_CACHE = "default"
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
# Every API request, per client IP (DRF throttles on the default cache).
API_THROTTLE_RATES = {
    "ip_minute": env.str("API_RATE_PER_IP", default="600/min"),
    "ip_burst": env.str("API_BURST_PER_IP", default="10/s"),
}
# Per signed-in user, on top of the per-IP limits (healthtrack/core/api/throttles.py): every API
# request, then named scopes for the expensive endpoints. 429 with Retry-After when exceeded.
API_USER_THROTTLE_RATES = {
    "user_minute": env.str("API_RATE_PER_USER", default="100/min"),
    "user_sync": env.str("API_RATE_SYNC_PER_USER", default="30/min"),
    "user_imports": env.str("API_RATE_IMPORTS_PER_USER", default="20/hour"),
    "user_exports": env.str("API_RATE_EXPORTS_PER_USER", default="20/hour"),
    "user_recommendations": env.str("API_RATE_FRESH_RECOMMENDATIONS_PER_USER", default="10/min"),
}
# Login, register, token and password reset: per IP and per account (django-ratelimit).
AUTH_RATE_LIMIT = env.str("AUTH_RATE_LIMIT", default="10/m")
# The client address behind TRUSTED_PROXY_COUNT proxies (never a client-sent header alone).
RATELIMIT_IP_META_KEY = "healthtrack.core.api.ratelimits.client_ip_for_ratelimit"
# With the cache (Redis) down, django-ratelimit lets requests through instead of refusing
# every login: the per-account lock-out below lives in the database and keeps holding.
RATELIMIT_FAIL_OPEN = env.bool("RATELIMIT_FAIL_OPEN", default=True)
# Account lock-out (accounts/lockout.py): this many consecutive failed logins lock the
# account for this many minutes, even against the right password.
LOGIN_LOCKOUT_FAILURES = env.int("LOGIN_LOCKOUT_FAILURES", default=5)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
if LOGIN_LOCKOUT_FAILURES < 1 or LOGIN_LOCKOUT_MINUTES < 1:
    raise ImproperlyConfigured("LOGIN_LOCKOUT_FAILURES and LOGIN_LOCKOUT_MINUTES must be >= 1.")

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailOrUsernameBackend"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validation.ComplexityValidator"},
]

# Staff second factor (TOTP, django-otp) in the admin. Read at request time.
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", default=PRODUCTION)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="HealthTrack")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# A one-time second-factor enrolment link (accounts.otp) is valid this many hours.
OTP_ENROL_LINK_HOURS = env.int("OTP_ENROL_LINK_HOURS", default=24)
if PRODUCTION and not ADMIN_REQUIRE_2FA:
    raise ImproperlyConfigured(
        "In production the admin needs its second factor: ADMIN_REQUIRE_2FA."
    )

# --- Audit, sharing -------------------------------------------------------------------------
# Change rows (django-auditlog LogEntry) and read rows (accounts.AccessLog) older than this are
# deleted by `manage.py prune_audit_log`; nothing else deletes them. Default 7 years.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=2557)
# auditlog's correlation id is our request id (X-Request-ID).
AUDITLOG_CID_GETTER = "healthtrack.request_id.get_request_id"
# Number of reverse proxies in front of the app whose X-Forwarded-For is trusted (0: none).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
SHARE_GRANT_DEFAULT_DAYS = env.int("SHARE_GRANT_DEFAULT_DAYS", default=30)
SHARE_GRANT_MAX_DAYS = env.int("SHARE_GRANT_MAX_DAYS", default=365)
# Access-code attempts on a share link's page and API view, per client IP and per link.
SHARE_RATE_LIMIT = env.str("SHARE_RATE_LIMIT", default="10/m")
# Care-program daily logs (POST /api/v1/logs) per user, on top of the per-IP API limits.
PROGRAM_LOG_RATE = env.str("PROGRAM_LOG_RATE", default="60/min")

# --- OAuth2 for third-party apps (django-oauth-toolkit; accounts/oauth.py) -------------------
# Apps are registered in the admin. Authorization code with PKCE (S256 only) for every client,
# rotating refresh tokens with `offline_access`, client credentials only for clinic back-ends
# (an app whose owner is a clinician). Scopes: accounts.oauth_scopes (SMART App Launch style).
OAUTH_ACCESS_TOKEN_SECONDS = env.int("OAUTH_ACCESS_TOKEN_SECONDS", default=3600)
OAUTH_REFRESH_TOKEN_DAYS = env.int("OAUTH_REFRESH_TOKEN_DAYS", default=90)
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "PKCE_REQUIRED": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if PRODUCTION else ["http", "https"],
    "ALLOW_LOCALHOST_LOOPBACK": not PRODUCTION,
    "ACCESS_TOKEN_EXPIRE_SECONDS": OAUTH_ACCESS_TOKEN_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": OAUTH_REFRESH_TOKEN_DAYS * 86400,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "REQUEST_APPROVAL_PROMPT": "force",
    "SCOPES_BACKEND_CLASS": "accounts.oauth_scopes.SmartScopes",
    "OAUTH2_VALIDATOR_CLASS": "accounts.oauth.HealthTrackOAuth2Validator",
    "APPLICATION_ADMIN_CLASS": "accounts.admin_oauth.ApplicationAdmin",
    # RFC 9700 (OAuth 2.0 Security BCP), every gate on: no implicit or password grant, no
    # "plain" PKCE, no token in a query string, `iss` in the authorization response, tokens
    # stored as SHA-256 checksums only. (Redirect URIs: https only in production, above.)
    **{
        f"COMPLIANT_BCP_RFC9700_{gate}": True
        for gate in (
            "IMPLICIT_GRANT",
            "PASSWORD_GRANT",
            "PKCE_METHOD",
            "ACCESS_TOKEN_TRANSPORT",
            "AUTHZ_RESPONSE_ISS",
            "TOKEN_STORAGE",
            "REFRESH_TOKEN",
            "REDIRECT_URI_MATCHING",
            "PKCE_REQUIRED",
        )
    },
}

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.jwt_authentication.AuditedJWTAuthentication",
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["healthtrack.core.api.filtering.FilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # DRF's negotiation, answering the usual JSON request without parsing it (issue 15).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "healthtrack.core.api.negotiation.ContentNegotiation",
    "EXCEPTION_HANDLER": "healthtrack.core.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "healthtrack.core.api.throttles.IPMinuteThrottle",
        "healthtrack.core.api.throttles.IPBurstThrottle",
        "healthtrack.core.api.throttles.UserMinuteThrottle",
        "healthtrack.core.api.throttles.UserSyncThrottle",
        "healthtrack.core.api.throttles.UserImportsThrottle",
        "healthtrack.core.api.throttles.UserExportsThrottle",
        "healthtrack.core.api.throttles.UserRecommendationsThrottle",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # The per-IP throttles identify the client like the rate limits do: X-Forwarded-For is
    # read only behind that many trusted proxies (DRF's default trusts any client's header).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "ALGORITHM": "HS256",
}

# The JWT user lookup is cached this long (accounts/api/jwt_authentication.py): every User.save()
# drops the entry at once; a change that bypasses save() (QuerySet.update) applies within
# this bound. 0 turns the cache off.
# 5 min: every change through the app drops the entry at once (save(), revocations), so this
# only bounds changes that bypass save(); at 30 s a patient's entry was rebuilt every half
# minute, ~20 % of the load test's requests at +1.7-2.3 ms each (docs/scaling.md, issue 15).
AUTH_USER_CACHE_SECONDS = env.int("AUTH_USER_CACHE_SECONDS", default=300)

SPECTACULAR_SETTINGS = {
    "TITLE": "HealthTrack API",
    "DESCRIPTION": "Health measurements, nutrition, goals and recommendations for third parties.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The framework's own errors (400/401/403/404/415/429) on every operation: see the hook.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "healthtrack.schema_hooks.add_standard_error_responses",
        # Idempotency-Key / X-Idempotency-Key and 409 on the create endpoints; 503 everywhere.
        "healthtrack.core.api.idempotency.document_idempotency",
        "healthtrack.outages.document_outages",
        # Every operation in a tag and with a summary (healthtrack/schema_tags.py).
        "healthtrack.schema_tags.tag_and_summarise",
    ],
    # Swagger UI and ReDoc assets served from the app (drf-spectacular-sidecar): no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two models have a `kind` choice set; give each enum its own name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "ShareGrantKindEnum": "accounts.models.ShareGrant.Kind",
        # The staff user directory shows a user's role beside the family access roles.
        "UserRoleEnum": "accounts.models.User.Role",
        "InsightKindEnum": "insights.models.HealthInsight.Kind",
        "ImportJobKindEnum": "healthtrack.portability.models.ImportJob.Kind",
        # Goals, care programs and import jobs each have a `status`.
        "ImportJobStatusEnum": "healthtrack.portability.models.ImportJob.Status",
        # Goals name nutrients as well as metric types: two choice sets named "metric_type".
        "MetricTypeEnum": "metrics.registry.METRIC_TYPE_CHOICES",
        "GoalMetricTypeEnum": "goals.measures.MEASURE_CHOICES",
        "CareProgramStatusEnum": "goals.care_programs.models.CareProgram.Status",
        "HealthGoalStatusEnum": "goals.models.HealthGoal.Status",
        "ProgramLogStatusEnum": "goals.care_programs.models.ProgramLog.Status",
    },
}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A worker keeps its database connection between tasks as a web process does between requests
# (CONN_MAX_AGE, with CONN_HEALTH_CHECKS: healthtrack.celery.recycle_old_connections). Celery's
# Django fixup would otherwise close it before and after every task, and a new PostgreSQL
# connection costs more CPU than a small task (issue 15). It still closes them every this many
# tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# A worker child whose resident memory grew past this (KiB) is replaced after its task: one
# large import does not leave its heap to the next task. 0: never.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = (
    env.int("CELERY_WORKER_MAX_MEMORY_PER_CHILD_MB", default=512) * 1024 or None
)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker that loses the broker retries for ever (Celery's default gives up after 100 tries
# and exits), at most WORKER_BROKER_RETRY_MAX_SECONDS apart (healthtrack.celery.Consumer).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CONSUMER = "healthtrack.celery:Consumer"
WORKER_BROKER_RETRY_MAX_SECONDS = env.float("WORKER_BROKER_RETRY_MAX_SECONDS", default=2.0)
# A publisher gives up on an unreachable broker within about a second (kombu would otherwise
# retry for broker_connection_timeout with growing pauses): a write's follow-up task then
# waits in the outbox (healthtrack/core/outbox.py) instead of holding the request.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "connect_retries_timeout": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE: dict = {
    "metrics-purge-idempotency-records": {
        "task": "metrics.purge_idempotency_records",
        "schedule": 3600.0,
    },
    # Recommendations for every active user whose inputs changed or whose windows slid over
    # their data since the last run (insights.tasks), fanned out in chunks.
    "insights-nightly-recommendations": {
        "task": "insights.nightly_recommendations",
        "schedule": crontab(hour=2, minute=15),
    },
    # Hard purge of accounts deleted more than ACCOUNT_PURGE_AFTER_DAYS ago.
    "portability-purge-deleted-accounts": {
        "task": "portability.purge_deleted_accounts",
        "schedule": crontab(hour=3, minute=17),
    },
    # Goal windows slide and "on track" moves with the date, even when no data arrives: hourly,
    # each run refreshing the people whose local day has just begun (healthtrack.core.days).
    "goals-recompute-all-goal-progress": {
        "task": "goals.recompute_all_goal_progress",
        "schedule": crontab(minute=10),
    },
    # Care programs whose end date has passed become completed (goals.care_programs.tasks).
    "goals-complete-ended-programs": {
        "task": "goals.complete_ended_programs",
        "schedule": crontab(minute=20),  # hourly: a program ends at its owner's midnight
    },
    # Publish outbox rows a broker or Redis outage (or a crash right after a commit) left
    # pending (healthtrack/core/outbox.py). 30 s: a write made during an outage has its follow-up
    # work (recommendations) done within a minute of Redis returning; an idle run is one indexed
    # query.
    "relay-outbox": {
        "task": "accounts.tasks.relay_outbox",
        "schedule": env.float("OUTBOX_RELAY_SECONDS", default=30.0),
    },
    # Idempotency-Key answers of the create endpoints are kept 24 h.
    "accounts-purge-idempotent-requests": {
        "task": "accounts.tasks.purge_idempotent_requests",
        "schedule": 3600.0,
    },
    "prune-outbox": {"task": "accounts.tasks.prune_outbox", "schedule": 24 * 3600.0},
    # Data lifecycle (healthtrack/lifecycle): archive raw samples past the hot window, then
    # apply every "delete after" of DATA_LIFECYCLE.
    "lifecycle-archive-raw-samples": {
        "task": "lifecycle.archive_raw_samples",
        "schedule": crontab(hour=3, minute=40),
    },
    "lifecycle-apply-retention": {
        "task": "lifecycle.apply_retention",
        "schedule": crontab(hour=4, minute=40),
    },
    # The change feed's events past DATA_LIFECYCLE["change_feed"] (healthtrack/changes).
    "prune-change-feed": {
        "task": "changes.prune_change_feed",
        "schedule": crontab(hour=4, minute=45),
    },
    # Webhook deliveries whose retry time has come (healthtrack/webhooks).
    "webhooks-retry-due": {
        "task": "webhooks.retry_due",
        "schedule": 60.0,
    },
    # Expired OAuth tokens and codes (accounts/oauth.py): django-oauth-toolkit's cleartokens.
    "prune-oauth-tokens": {
        "task": "accounts.tasks.prune_oauth_tokens",
        "schedule": crontab(hour=3, minute=41),
    },
}
# Sent outbox rows are kept this long (for inspection), then deleted by prune_outbox.
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=7)
# Workers log through LOGGING (JSON) instead of Celery's own root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# One queue per kind of work, so each can get its own workers (`celery worker -Q ingest`).
CELERY_TASK_DEFAULT_QUEUE = "default"
# Queues: default, ingest, recommendations, imports, maintenance. First matching pattern wins.
CELERY_TASK_ROUTES = {
    "*.import_*": {"queue": "imports"},
    "*.purge_*": {"queue": "maintenance"},
    "*.prune_*": {"queue": "maintenance"},
    "lifecycle.*": {"queue": "maintenance"},
    "metrics.*": {"queue": "ingest"},
    "nutrition.*": {"queue": "ingest"},
    "goals.*": {"queue": "ingest"},
    "insights.*": {"queue": "recommendations"},
}

# --- Mail -----------------------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="HealthTrack <no-reply@localhost>")

# --- I18N, time -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
if PRODUCTION:
    # Filled by collectstatic when the image is built (Dockerfile).
    STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
else:
    # Served straight from static/ through WhiteNoise's finders; no collectstatic needed.
    STATIC_ROOT = VAR_DIR / "static"
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
    WHITENOISE_USE_FINDERS = True
    WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# --- Meal photos (nutrition.photos) ---------------------------------------------------------
# A private storage alias: nothing serves it by URL; photos are streamed by views that check
# access. Local folder by default; any S3-compatible store when MEAL_PHOTOS_S3_BUCKET is set.


def _private_s3_storage(prefix: str, *, bucket: str, location: str, **options) -> dict:
    """A private S3-compatible storage alias read from the `<prefix>_S3_*` variables
    (ENDPOINT_URL, REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY; PREFIX, default `location`);
    `options` add to or replace django-storages' S3Storage options."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": env.str(f"{prefix}_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str(f"{prefix}_S3_REGION", default="") or None,
            "access_key": env.str(f"{prefix}_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str(f"{prefix}_S3_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str(f"{prefix}_S3_PREFIX", default=location),
            "default_acl": "private",
            **options,
        },
    }


MEAL_PHOTOS_S3_BUCKET = env.str("MEAL_PHOTOS_S3_BUCKET", default="")
if MEAL_PHOTOS_S3_BUCKET:
    STORAGES["meal_photos"] = _private_s3_storage(
        "MEAL_PHOTOS",
        bucket=MEAL_PHOTOS_S3_BUCKET,
        location="meal-photos",
        querystring_auth=True,
        file_overwrite=False,
    )
else:
    STORAGES["meal_photos"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": env.str("MEAL_PHOTOS_ROOT", default=str(MEDIA_ROOT / "meal-photos")),
            "directory_permissions_mode": 0o700,
            "file_permissions_mode": 0o600,
        },
    }
MEAL_PHOTO_MAX_BYTES = env.int("MEAL_PHOTO_MAX_BYTES", default=10 * 1024 * 1024)
# Decompression bombs: a small file that decodes to a huge bitmap. 50 MP holds a 48 MP phone photo.
MEAL_PHOTO_MAX_PIXELS = env.int("MEAL_PHOTO_MAX_PIXELS", default=50_000_000)
MEAL_PHOTO_THUMBNAIL_PX = env.int("MEAL_PHOTO_THUMBNAIL_PX", default=320)

# --- Limits ---------------------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)

# --- Import, export, erasure (healthtrack/portability) ---------------------------------------
# Largest file accepted by POST /api/v1/imports/ (413 above). File parts are not counted by
# DATA_UPLOAD_MAX_MEMORY_SIZE; above FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) they spool to disk.
IMPORT_MAX_UPLOAD_MB = env.int("IMPORT_MAX_UPLOAD_MB", default=512)
# An import task may run for hours on a multi-GB Apple Health export.
IMPORT_TASK_TIME_LIMIT = env.int("IMPORT_TASK_TIME_LIMIT", default=4 * 3600)
# Redis hands an unacknowledged task (late acks) to another worker after this long: longer
# than an import may run, or a long import would be started again while it runs (and count
# as a dead worker's attempt). A task whose worker died is redelivered after it too.
CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = IMPORT_TASK_TIME_LIMIT + 600
# What one import may read (healthtrack/portability/importing.py ImportLimits): the
# decompressed bytes of the file (the XML of a ZIP, the JSON of an export ZIP), and for an
# Apple Health XML the nesting depth (Apple's is 4), the number of elements (a 9 M-record
# export has about 20 M) and the children of one element below the root. Beyond them the
# job fails with a message naming the limit and nothing more is stored.
IMPORT_MAX_XML_MB = env.int("IMPORT_MAX_XML_MB", default=8192)
IMPORT_MAX_XML_DEPTH = env.int("IMPORT_MAX_XML_DEPTH", default=32)
IMPORT_MAX_XML_ELEMENTS = env.int("IMPORT_MAX_XML_ELEMENTS", default=200_000_000)
IMPORT_MAX_XML_CHILDREN = env.int("IMPORT_MAX_XML_CHILDREN", default=100_000)
# Memory an import task may add to its worker process (MB; address space, RLIMIT_AS while the
# task runs): past it the job fails "out of memory" instead of the machine swapping. 0: none.
IMPORT_MEMORY_LIMIT_MB = env.int("IMPORT_MEMORY_LIMIT_MB", default=1024)
# A job whose worker died under it (killed, out of memory) is re-delivered (late acks); it is
# started at most this many times, then marked failed with the reason.
IMPORT_MAX_ATTEMPTS = env.int("IMPORT_MAX_ATTEMPTS", default=3)
# Deleted accounts are deactivated at once and purged (every row) this many days later.
ACCOUNT_PURGE_AFTER_DAYS = env.int("ACCOUNT_PURGE_AFTER_DAYS", default=30)

# --- Data lifecycle (healthtrack/lifecycle, docs/lifecycle.md) ------------------------------
# The retention policy, in days (None: never). `hot`: kept in the primary tables; `archive`:
# kept in the archive's standard storage class (raw samples: a bucket lifecycle rule may move
# older objects to a cold class, see docs/lifecycle.md); `delete_after`: deleted everywhere at
# this age. Share grants count from their expiry. Read at run time by the lifecycle jobs.
# Each value can be set as LIFECYCLE_<DATA>_<COLUMN>_DAYS, e.g. LIFECYCLE_RAW_SAMPLES_HOT_DAYS.
_LIFECYCLE_DEFAULTS = {
    "raw_samples": {"hot": 90, "archive": 2 * 365, "delete_after": 2557},
    "hourly_rollups": {"hot": 90, "archive": 365, "delete_after": 2 * 365},
    "daily_rollups": {"hot": None, "archive": None, "delete_after": None},
    "insights": {"hot": 90, "archive": 365, "delete_after": 2 * 365},
    "share_grants": {"hot": 30, "archive": None, "delete_after": 30},
    "audit_logs": {"hot": 365, "archive": 6 * 365, "delete_after": AUDIT_RETENTION_DAYS},
    # The change feed's events, tombstones included (healthtrack/changes).
    "change_feed": {"hot": None, "archive": None, "delete_after": 90},
}
DATA_LIFECYCLE: dict[str, dict[str, int | None]] = {}
for _data, _columns in _LIFECYCLE_DEFAULTS.items():
    DATA_LIFECYCLE[_data] = {}
    for _column, _default in _columns.items():
        _name = f"LIFECYCLE_{_data.upper()}_{_column.upper()}_DAYS"
        _value = env.int(_name, default=_default) if _default is not None else _default
        if _value is not None and _value < 1:
            raise ImproperlyConfigured(f"{_name} must be at least 1.")
        DATA_LIFECYCLE[_data][_column] = _value
    _hot, _after = DATA_LIFECYCLE[_data]["hot"], DATA_LIFECYCLE[_data]["delete_after"]
    if _data != "share_grants" and _hot and _after and _after < _hot:
        raise ImproperlyConfigured(f"DATA_LIFECYCLE[{_data!r}]: delete_after is before hot.")
# A restored month stays in the hot table this long before the archive job takes it again.
LIFECYCLE_RESTORE_HOLD_DAYS = env.int("LIFECYCLE_RESTORE_HOLD_DAYS", default=30)
# Rollup replay (manage.py replay_rollups): days per chunk task, chunk tasks started per minute.
LIFECYCLE_REPLAY_CHUNK_DAYS = env.int("LIFECYCLE_REPLAY_CHUNK_DAYS", default=31)
LIFECYCLE_REPLAY_CHUNKS_PER_MINUTE = env.int("LIFECYCLE_REPLAY_CHUNKS_PER_MINUTE", default=30)
# The archive: a private storage alias (nothing serves it by URL). A local folder by default;
# any S3-compatible store when LIFECYCLE_ARCHIVE_S3_BUCKET is set (then /ready checks it).
LIFECYCLE_ARCHIVE_S3_BUCKET = env.str("LIFECYCLE_ARCHIVE_S3_BUCKET", default="")
if LIFECYCLE_ARCHIVE_S3_BUCKET:
    STORAGES["lifecycle_archive"] = _private_s3_storage(
        "LIFECYCLE_ARCHIVE",
        bucket=LIFECYCLE_ARCHIVE_S3_BUCKET,
        location="archive",
        file_overwrite=True,
        # An unreachable store fails within seconds (the nightly job records it, /ready
        # answers 503) instead of botocore's 60 s connect timeout per retry.
        client_config=BotoConfig(
            connect_timeout=2, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
        ),
    )
else:
    STORAGES["lifecycle_archive"] = {
        "BACKEND": "healthtrack.lifecycle.storage.ArchiveFileSystemStorage",
        "OPTIONS": {
            "location": env.str("LIFECYCLE_ARCHIVE_ROOT", default=str(VAR_DIR / "archive")),
            "directory_permissions_mode": 0o700,
            "file_permissions_mode": 0o600,
        },
    }

# --- Security -------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Content-Security-Policy (healthtrack.security): scripts and styles from our origin only,
# no 'unsafe-inline'. Templates must not carry inline scripts, handlers or style="" attributes.
CSP_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# The API documentation UIs are served from the app (drf-spectacular-sidecar), with no inline
# script (Swagger UI in its split form); both inject <style> elements at run time.
CSP_PATH_POLICIES = {
    prefix: {
        **CSP_POLICY,
        "style-src": ["'self'", "'unsafe-inline'"],
        "worker-src": ["'self'", "blob:"],
    }
    for prefix in ("/api/docs/", "/api/redoc/")
}
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Probes and the in-cluster Prometheus scrape reach the pod over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- CORS (django-cors-headers) ---------------------------------------------------------------
# Third-party web apps allowed to call the API from a browser, e.g.
# CORS_ALLOWED_ORIGINS=https://app.example.com,https://partner.example.org (default: none).
# Only /api/; bearer tokens, not cookies (no credentials), so a page elsewhere cannot ride a
# patient's session.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_EXPOSE_HEADERS = ["X-Request-ID", "Retry-After", "Idempotent-Replayed"]
# A browser client may send an Idempotency-Key (or its alias) with its writes.
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key", "x-idempotency-key")

# --- Observability --------------------------------------------------------------------------
# /metrics: staff sessions, or `Authorization: Bearer <METRICS_TOKEN>` (Prometheus); empty
# disables the token. Everyone else gets 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# A Celery worker serves its own metrics on this port (0: off), see healthtrack/observability.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
WORKER_METRICS_ADDR = env.str("WORKER_METRICS_ADDR", default="127.0.0.1")

# --- Outages (healthtrack/outages.py) --------------------------------------------------------
# A request that fails because the database, Redis or the broker is unreachable is a 503 with
# this Retry-After (seconds).
OUTAGE_RETRY_AFTER_SECONDS = env.int("OUTAGE_RETRY_AFTER_SECONDS", default=5)

# --- Logging --------------------------------------------------------------------------------
# One JSON object per line (healthtrack/logs.py): time, level, logger, message, request_id and,
# for the access log, method, path (no query string), route, status, duration_ms, user_id.
# Never bodies, query strings, health values, tokens, passwords or keys. LOG_FORMAT=plain
# gives one readable line per record instead.
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "healthtrack.request_id.RequestIdLogFilter"},
        # Connection errors (database, Redis, broker): the first with its stack, then one
        # line per interval with a count (healthtrack/outages.py).
        "repeated_errors": {
            "()": "healthtrack.outages.RepeatedErrorFilter",
            "interval": env.float("LOG_REPEATED_ERROR_SECONDS", default=60.0),
        },
    },
    "formatters": {
        "json": {"()": "healthtrack.logs.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain" if LOG_FORMAT == "plain" else "json",
            "filters": ["request_id", "repeated_errors"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Everything goes through the root handler above (no second, differently formatted
        # copy from Django's defaults).
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # Never log request bodies or SQL parameters: they carry health data.
        "django.db.backends": {"level": "WARNING"},
        # runserver's request lines carry query strings; the access log replaces them.
        "django.server": {"handlers": [], "level": "CRITICAL", "propagate": True},
        # Task success lines quote return values; /metrics counts outcomes instead.
        "celery.app.trace": {"level": "WARNING"},
    },
}

# --- Nutrition ------------------------------------------------------------------------------
# Multiplies the Mifflin-St Jeor resting energy into a daily calorie target (1.4: lightly active).
NUTRITION_ACTIVITY_FACTOR = env.float("NUTRITION_ACTIVITY_FACTOR", default=1.4)
if not 1.0 <= NUTRITION_ACTIVITY_FACTOR <= 2.5:
    raise ImproperlyConfigured("NUTRITION_ACTIVITY_FACTOR must be between 1.0 and 2.5.")

HEALTHTRACK_VERSION = "0.1.0"

# --- Insights (recommendation rules and alerts) ---------------------------------------------
# Defaults from the product notes; read at call time by insights.rules / insights.alerts, so a
# change (or a test's `settings` override) applies without a restart. Units: steps per day,
# hours, bpm, kg, %, ml, mmHg, mg/dL.
INSIGHTS_THRESHOLDS = {
    # An averaging rule speaks only with at least this many days of data in its window.
    "min_days": 3,
    "steps_daily_min": 5000,
    "steps_daily_min_senior": 4000,  # the lower bar from `senior_age`
    "senior_age": 65,
    "steps_severe_ratio": 0.5,  # below half the bar: high severity
    "sleep_hours_min": 7.0,
    "sleep_hours_min_minor": 8.0,  # under `minor_age`
    "minor_age": 18,
    "sleep_hours_severe": 5.0,
    "resting_hr_max": 85.0,
    "resting_hr_severe": 100.0,
    "bmi_min": 18.5,
    "bmi_max": 25.0,  # healthy range is bmi_min <= BMI < bmi_max (WHO)
    "bmi_severe_min": 17.0,
    "bmi_severe_max": 30.0,
    "weight_trend_kg_per_week": 0.2,  # a slower drift is noise
    "weight_trend_min_days": 3,
    "weight_trend_min_span_days": 7,
    "calories_min_pct": 80.0,
    "calories_max_pct": 120.0,
    "protein_g_per_kg": 0.8,
    "water_ml_min": 2000.0,
    "rhr_trend_window_days": 30,
    "rhr_trend_min_days": 7,
    "rhr_trend_bpm_per_day": 0.5,
    "activity_change_pct": 20.0,
    "activity_week_min_days": 4,
    "activity_previous_min_days": 14,
    # Alerts
    "bp_crisis_systolic": 180.0,
    "bp_crisis_diastolic": 120.0,
    "bp_high_systolic": 140.0,
    "bp_high_diastolic": 90.0,
    "bp_average_min_readings": 3,
    "spo2_min": 92.0,
    "glucose_low": 70.0,
    "glucose_high": 250.0,
}

# The clinician's triage list (healthtrack/triage.py): which care-team patients need review
# today, and why. Read at call time. Sources of the clinical cut-offs are named per key.
TRIAGE_RULES = {
    # ACC/AHA 2017 guideline for high blood pressure in adults (Whelton et al., Hypertension
    # 2018): stage 2 is >= 140/90 mmHg, stage 1 is >= 130/80 mmHg; averaged over home readings.
    "bp_window_days": 14,
    "bp_stage2_systolic": 140.0,
    "bp_stage2_diastolic": 90.0,
    "bp_stage1_systolic": 130.0,
    "bp_stage1_diastolic": 80.0,
    "bp_min_readings": 3,
    # International Consensus on Time in Range (Battelino et al., Diabetes Care 2019): target
    # range 70-180 mg/dL for > 70 % of readings over 14 days, and < 1 % below 54 mg/dL (level
    # 2 hypoglycaemia): any reading below 54 is flagged.
    "glucose_window_days": 14,
    "glucose_range_low": 70.0,
    "glucose_range_high": 180.0,
    "glucose_tir_min_pct": 70.0,
    "glucose_very_low": 54.0,
    "glucose_min_readings": 3,
    # The product's resting-heart-rate trend rule (INSIGHTS_THRESHOLDS): slope over 30 days.
    "rhr_window_days": 30,
    "rhr_min_days": 7,
    "rhr_slope_bpm_per_day": 0.5,
    # ESC 2021 heart-failure guidelines (self-care): report a rapid weight change of > 2 kg
    # (over 3 days there; the triage list looks at 7).
    "weight_window_days": 7,
    "weight_change_kg": 2.0,
    # The care program's own adherence score (goals.care_programs.programs), averaged over the 7
    # complete days before today (today is partial).
    "adherence_window_days": 7,
    "adherence_min": 50.0,
    # Silence: no reading at all for this many hours.
    "no_data_hours": 48,
}
# An open alert nobody acknowledged this many hours after it was raised is flagged overdue.
ALERT_ACK_OVERDUE_HOURS = env.int("ALERT_ACK_OVERDUE_HOURS", default=24)

# Recommendations (insights.tasks, insights.api). The stored set (HealthInsight rows) is the
# RECOMMENDATIONS_DEFAULT_DAYS window; other windows are computed and cached, not stored.
RECOMMENDATIONS_DEFAULT_DAYS = 30
# API cache `recommendations:user:{id}:days:{days}`; dropped on any write of that user's inputs.
RECOMMENDATIONS_CACHE_SECONDS = env.int("RECOMMENDATIONS_CACHE_SECONDS", default=3600)
# After a write, recompute at most once per user per this many seconds, however many writes.
RECOMMENDATIONS_DEBOUNCE_SECONDS = env.int("RECOMMENDATIONS_DEBOUNCE_SECONDS", default=300)
# Users per task in the nightly fan-out.
RECOMMENDATIONS_NIGHTLY_CHUNK = env.int("RECOMMENDATIONS_NIGHTLY_CHUNK", default=200)

# Webhooks (healthtrack/webhooks, docs/developers.md): https only when required (production),
# never private/loopback/link-local addresses except those listed (tests: 127.0.0.1).
WEBHOOKS_REQUIRE_HTTPS = env.bool("WEBHOOKS_REQUIRE_HTTPS", default=not DEBUG)
WEBHOOKS_ALLOWED_PRIVATE_ADDRESSES = env.list("WEBHOOKS_ALLOWED_PRIVATE_ADDRESSES", default=[])
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=10.0)
WEBHOOKS_MAX_BODY_BYTES = env.int("WEBHOOKS_MAX_BODY_BYTES", default=64 * 1024)
WEBHOOKS_RETRY_HOURS = env.int("WEBHOOKS_RETRY_HOURS", default=24)
WEBHOOKS_DISABLE_AFTER_FAILURES = env.int("WEBHOOKS_DISABLE_AFTER_FAILURES", default=15)
# Receivers should refuse a signature timestamp older than this (documented, not enforced here).
WEBHOOKS_REPLAY_WINDOW_SECONDS = 300
