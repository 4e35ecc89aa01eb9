"""The bad-input catalogue: bad values, and the write endpoints and forms they are sent to.

Each endpoint has a valid body (the control: accepted as is) and the type of each field the
catalogue attacks; every bad value of that type replaces the field in the valid body. Whole-body
attacks (malformed JSON, wrong content type, unknown field, invalid UTF-8, oversize body,
duplicate ids) apply to every endpoint. Each must be refused with a 4xx whose message names the
field or the problem, and leave the database as it was. A form page answers a refused form
with 400, the page shown again with the field's error marked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.accounts.factories import PASSWORD as FACTORY_PASSWORD
from tests.conftest import TEST_TIME_OF_DAY

# The tests' clock (tests/conftest.py `_evening_clock`: today at TEST_TIME_OF_DAY, ticking), not
# the real time this module is imported at: after 21:00 UTC the real time is ahead of the tests'
# clock, and a value made from it is "in the future" to the code under test.
NOW = datetime.combine(datetime.now(UTC).date(), TEST_TIME_OF_DAY, tzinfo=UTC)
RECENT = (NOW - timedelta(hours=1)).isoformat()
TODAY = NOW.date().isoformat()

# (label, value): JSON values sent in place of a field of that type.
NUMBER = [
    ("string", "abc"),
    ("list", [1]),
    ("object", {"v": 1}),
    ("boolean", True),
    ("NaN", "NaN"),
    ("Infinity", "Infinity"),
    ("-Infinity", "-Infinity"),
    ("huge", 1e308),
    ("huge integer", 10**30),
    ("negative", -5),
    ("empty string", ""),
]
REQUIRED_NUMBER = [*NUMBER, ("null", None)]  # null means "not set" for optional amounts
TIMESTAMP = [
    ("naive", NOW.replace(tzinfo=None).isoformat()),
    ("far future", "9999-12-31T23:59:59+00:00"),
    ("not a date", "yesterday"),
    ("number", 1700000000),
    ("empty string", ""),
    ("impossible date", "2026-02-30T10:00:00+00:00"),
]
STRING = [
    ("oversized", "x" * 20_000),  # past every text field's limit, under the body limit
    ("list", ["a"]),
    ("object", {"a": 1}),
]
REQUIRED_STRING = [*STRING, ("empty string", ""), ("blank", "   ")]
CHOICE = [("unknown choice", "no-such-thing"), ("empty string", ""), ("number", 7), ("null", None)]

# Raw bodies with the content type they are sent as: (label, body bytes, content type,
# words the message must contain, one of).
RAW = [
    ("malformed JSON", b'{"value": 1,', "application/json", ("json", "parse")),
    ("JSON that is a list", b"[1, 2]", "application/json", ("dictionary", "object", "list")),
    ("invalid UTF-8", b'{"x": "\xff\xfe"}', "application/json", ("utf-8", "json", "parse")),
    ("wrong content type", b"value=1", "text/plain", ("media type", "content type")),
    ("form to a JSON API", b"value=1", "application/x-www-form-urlencoded", ("media type",)),
]


@dataclass
class Endpoint:
    name: str
    method: str
    path: str  # may hold {metric}, {device}: filled with the patient's objects
    body: dict
    fields: dict[str, list] = field(default_factory=dict)


API = [
    Endpoint(
        "metric create",
        "POST",
        "/api/v1/health-metrics",
        {"metric_type": "steps", "value": 1200, "recorded_at": RECENT},
        {
            "value": REQUIRED_NUMBER,
            "recorded_at": TIMESTAMP,
            "metric_type": CHOICE,
            "notes": STRING,
        },
    ),
    Endpoint(
        "metric update",
        "PATCH",
        "/api/v1/health-metrics/{metric}",
        {"value": 1500},
        {"value": REQUIRED_NUMBER, "recorded_at": TIMESTAMP},
    ),
    Endpoint(
        "device create",
        "POST",
        "/api/v1/devices",
        {"device_type": "apple_watch", "name": "Band", "identifier": "band-1"},
        {"name": REQUIRED_STRING, "device_type": CHOICE, "priority": NUMBER},
    ),
    Endpoint(
        "nutrition log",
        "POST",
        "/api/v1/nutrition-logs",
        {"meal_type": "lunch", "description": "Soup", "calories": 300, "logged_at": RECENT},
        {
            "calories": NUMBER,
            "water_ml": NUMBER,
            "logged_at": TIMESTAMP,
            "meal_type": CHOICE,
            "description": STRING,
        },
    ),
    Endpoint(
        "nutrition targets",
        "PUT",
        "/api/v1/nutrition-targets",
        {"calories": 2000},
        {"calories": NUMBER, "water_ml": NUMBER},
    ),
    Endpoint(
        "goal create",
        "POST",
        "/api/v1/health-goals",
        {"goal_type": "steps", "target_value": 9000},
        {"target_value": REQUIRED_NUMBER, "goal_type": CHOICE, "title": STRING},
    ),
    Endpoint(
        "water advice",
        "POST",
        "/api/v1/advice/water",
        {"amount_liters": 0.3},
        {"amount_liters": REQUIRED_NUMBER, "time": TIMESTAMP},
    ),
    Endpoint(
        "profile update",
        "PATCH",
        "/api/v1/users/{user}",
        {"first_name": "Pat", "date_of_birth": "1980-05-01"},
        {
            "date_of_birth": [
                ("far future", "9999-12-31"),
                ("before 1900", "1066-10-14"),
                ("impossible date", "2026-02-30"),
                ("not a date", "soon"),
            ],
            "height_cm": NUMBER,
            "first_name": STRING,
        },
    ),
    Endpoint(
        "device update",
        "PATCH",
        "/api/v1/devices/{device}",
        {"name": "Renamed"},
        {"name": REQUIRED_STRING, "priority": NUMBER},
    ),
    Endpoint(
        "nutrition log update",
        "PATCH",
        "/api/v1/nutrition-logs/{log}",
        {"calories": 350},
        {"calories": NUMBER, "logged_at": TIMESTAMP, "meal_type": CHOICE},
    ),
    Endpoint(
        "goal update",
        "PATCH",
        "/api/v1/health-goals/{goal}",
        {"target_value": 9500},
        {"target_value": REQUIRED_NUMBER, "period_days": NUMBER, "title": STRING},
    ),
    Endpoint(
        "gym advice",
        "POST",
        "/api/v1/advice/gym",
        {"activity": "running", "duration_minutes": 30},
        {"duration_minutes": REQUIRED_NUMBER, "activity": REQUIRED_STRING},
    ),
    Endpoint(
        "family member",
        "POST",
        "/api/v1/family/members",
        {"first_name": "Kid", "relation": "child"},
        {
            "first_name": REQUIRED_STRING,
            "relation": CHOICE,
            "date_of_birth": [("far future", "9999-12-31"), ("not a date", "soon")],
            "height_cm": NUMBER,
        },
    ),
    Endpoint(
        "share grant",
        "POST",
        "/api/v1/share-grants",
        {"metric_types": ["steps"], "date_from": TODAY, "date_to": TODAY},
        {
            "metric_types": [
                ("empty list", []),
                ("not a list", "steps"),
                ("numbers", [1, 2]),
                ("unknown metric type", ["no_such_metric"]),
                ("an unknown type among known ones", ["steps", "no_such_metric", "steps"]),
            ],
            "date_from": [("not a date", "soon"), ("impossible date", "2026-02-30")],
            "label": STRING,
        },
    ),
]


# Fixed names the patient fixture creates, so a valid body can name them.
PATIENT_USERNAME = "catalogue-patient"
CLINICIAN_EMAIL = "catalogue-doctor@example.org"
RELATIVE_EMAIL = "catalogue-relative@example.org"
DATE = [("not a date", "soon"), ("impossible date", "2026-02-30"), ("number", 7)]
EMAIL = [("not an e-mail", "nobody"), ("unknown person", "nobody@example.org"), *STRING]
PROGRAM_CONFIG = {"activity": {"steps": {"min": 8000}}}

API += [
    Endpoint(
        "program create",
        "POST",
        "/api/v1/programs",
        {"title": "90 days", "config": PROGRAM_CONFIG},
        {
            "title": REQUIRED_STRING,
            "start_date": DATE,
            "phase": STRING,
            "config": [
                ("empty", {}),
                ("not an object", ["steps"]),
                ("unknown dimension", {"diet": {"calories": {"min": 1}}}),
                ("negative target", {"activity": {"steps": {"min": -5}}}),
                ("text target", {"activity": {"steps": {"min": "lots"}}}),
                ("min above max", {"nutrition": {"calories": {"min": 2000, "max": 1000}}}),
                ("null", None),
            ],
        },
    ),
    Endpoint(
        "program update",
        "PATCH",
        "/api/v1/programs/{program}",
        {"phase": "week 2"},
        {
            "title": REQUIRED_STRING,
            "end_date": DATE,
            "status": CHOICE,
            "config": [("empty", {}), ("negative target", {"activity": {"steps": {"min": -5}}})],
        },
    ),
    # "<program>" in a body is replaced by the patient's program id (test_bad_input._send).
    Endpoint(
        "care-program daily log",
        "POST",
        "/api/v1/logs",
        {
            "program_id": "<program>",
            "log_type": "WORKOUT",
            "payload": {"duration_minutes": 30},
            "timestamp": NOW.isoformat(),
        },
        {
            "log_type": CHOICE,
            "timestamp": TIMESTAMP,
            "payload": [
                ("not an object", ["duration_minutes"]),
                ("null", None),
                ("a workout without duration or sets", {}),
                ("sets without reps", {"sets": 3}),
                ("duration past a day", {"duration_minutes": 5000}),
                ("duration as text", {"duration_minutes": "long"}),
                ("duration NaN", {"duration_minutes": "NaN"}),
                ("duration huge", {"duration_minutes": 1e308}),
                ("unknown key", {"duration_minutes": 30, "mood": "great"}),
                ("oversized activity", {"duration_minutes": 30, "activity": "x" * 20_000}),
            ],
            "device_id": [("text", "watch"), ("unknown device", 10**9), ("negative", -1)],
        },
    ),
    Endpoint(
        "care team: add a clinician",
        "POST",
        "/api/v1/care-team/clinicians",
        {"email": CLINICIAN_EMAIL},
        {"email": [*EMAIL, ("empty string", ""), ("null", None)]},
    ),
    Endpoint(
        "family access grant",
        "POST",
        "/api/v1/family/access",
        {"email": RELATIVE_EMAIL, "role": "read_only", "relation": "parent"},
        {"email": EMAIL, "role": CHOICE, "relation": CHOICE},
    ),
    Endpoint(
        "register",
        "POST",
        "/api/v1/users/register",
        {"email": "newcomer@example.org", "username": "newcomer", "password": "Str0ng-Pass!word"},
        {
            # A taken e-mail or username is not bad input: see TAKEN_REGISTRATIONS.
            "email": [("not an e-mail", "nobody"), *REQUIRED_STRING],
            "username": [("not a username", "a b/c"), *REQUIRED_STRING],
            "password": [("too short", "Sh0rt!"), ("no digit", "NoDigits-here"), *REQUIRED_STRING],
            "date_of_birth": [("far future", "9999-12-31"), ("not a date", "soon")],
            "height_cm": NUMBER,
        },
    ),
    Endpoint(
        "API token (JWT) obtain",
        "POST",
        "/api/v1/auth/token/",
        {"username": PATIENT_USERNAME, "password": "Correct-horse-9!"},
        {"username": [("list", ["a"]), ("object", {"a": 1}), ("empty string", "")]},
    ),
]


# --- Forms (HTML pages): every value is text ---------------------------------------------------

NUMBER_TEXT = [
    ("not a number", "abc"),
    ("NaN", "NaN"),
    ("Infinity", "Infinity"),
    ("-Infinity", "-Infinity"),
    ("huge", "1e308"),
    ("huge integer", "9" * 400),
    ("negative", "-5"),
    ("empty", ""),
]
OPTIONAL_NUMBER_TEXT = [c for c in NUMBER_TEXT if c[0] != "empty"]
DATETIME_TEXT = [
    ("far future", "9999-12-31T23:59"),
    ("not a date", "yesterday"),
    ("impossible date", "2026-02-30T10:00"),
    ("empty", ""),
]
OVERSIZED = ("oversized", "x" * 20_000)
TEXT = [OVERSIZED]
CHOICE_TEXT = [("unknown choice", "no-such-thing")]


@dataclass
class Form:
    name: str
    path: str
    data: dict
    fields: dict[str, list] = field(default_factory=dict)
    anonymous: bool = False  # sent without logging in (the sign-up page)


NOW_INPUT = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")

FORMS = [
    Form(
        "metric add",
        "/metrics/steps/add/",
        {"value": "1200", "unit": "count", "recorded_at": NOW_INPUT, "notes": ""},
        {
            "value": NUMBER_TEXT,
            "recorded_at": DATETIME_TEXT,
            "unit": CHOICE_TEXT,
            "notes": TEXT,
        },
    ),
    Form(
        "nutrition custom entry",
        f"/nutrition/{TODAY}/add/custom/",  # at 00:00: never in the future, whatever the hour
        {"meal_type": "lunch", "description": "Soup", "calories": "300", "time": "00:00"},
        {
            "calories": OPTIONAL_NUMBER_TEXT,
            "water_ml": OPTIONAL_NUMBER_TEXT,
            "meal_type": CHOICE_TEXT,
            "time": [("not a time", "noon-ish"), ("impossible time", "25:61")],
            "description": TEXT,
        },
    ),
    Form(
        "goal create",
        "/goals/new/steps/",
        {"target_value": "9000", "priority": "medium"},
        {
            "target_value": NUMBER_TEXT,
            "period_days": OPTIONAL_NUMBER_TEXT,
            "priority": CHOICE_TEXT,
            "title": TEXT,
            "description": TEXT,
        },
    ),
    Form(
        "profile",
        "/settings/profile/",
        {"first_name": "Pat", "last_name": "Doe", "sex": "unspecified", "height_cm": "170"},
        {
            "height_cm": OPTIONAL_NUMBER_TEXT,
            "date_of_birth": [("far future", "9999-12-31"), ("impossible date", "2026-02-30")],
            "sex": CHOICE_TEXT,
            "first_name": TEXT,
        },
    ),
    Form(
        "api token",
        "/settings/tokens/",
        {"name": "My app"},
        {"name": [("empty", ""), *TEXT]},
    ),
    Form(
        "password change",
        "/settings/password/",
        {
            "old_password": FACTORY_PASSWORD,
            "new_password1": "N3w-Pass!word",
            "new_password2": "N3w-Pass!word",
        },
        {
            "old_password": [("wrong", "Not-the-password-1!"), ("empty", ""), *TEXT],
            "new_password2": [("different", "Other-Pass!word9"), ("empty", "")],
        },
    ),
    Form(
        "sign-up",
        "/accounts/signup/",
        {
            "username": "newcomer",
            "email": "newcomer@example.org",
            "password1": "Str0ng-Pass!word",
            "password2": "Str0ng-Pass!word",
        },
        {
            "username": [("empty", ""), ("not a username", "a b/c"), *TEXT],
            "email": [("not an e-mail", "nobody"), ("empty", "")],
            "password2": [("different", "Other-Pass!word9"), *TEXT],
        },
        anonymous=True,
    ),
    Form(
        "share grant",
        "/settings/sharing/",
        {
            "share-metric_types": ["steps"],
            "share-date_from": TODAY,
            "share-date_to": TODAY,
            "share-expires_on": (NOW + timedelta(days=7)).date().isoformat(),
            "share-clinician_email": "",
            "share-label": "For my GP",
        },
        {
            "share-metric_types": [
                *CHOICE_TEXT,
                ("unknown metric type", "no_such_metric"),
                ("an unknown type among known ones", ["steps", "no_such_metric"]),
            ],
            "share-date_from": [("not a date", "soon"), ("impossible date", "2026-02-30")],
            "share-expires_on": [("in the past", "2000-01-01"), ("empty", "")],
            "share-clinician_email": [("not an e-mail", "nobody"), ("unknown", "x@example.org")],
            "share-label": TEXT,
        },
    ),
    Form(
        "care team: add a clinician",
        "/settings/sharing/",
        {"care-email": CLINICIAN_EMAIL},
        {"care-email": [("not an e-mail", "nobody"), ("unknown", "x@example.org"), *TEXT]},
    ),
]

# --- issue 19's reproductions --------------------------------------------------------------

# Bodies sent with a method the route does not take: (label, method, path, body, content
# type, status). DELETE on a collection with a JSON body was a 500 (an AssertionError).
WRONG_METHOD_WITH_A_BODY = [
    ("DELETE goals collection, object", "DELETE", "/api/v1/health-goals", b'{"id": 1}'),
    ("DELETE goals collection, list", "DELETE", "/api/v1/health-goals", b"[1]"),
    ("DELETE diary collection, object", "DELETE", "/api/v1/nutrition-logs", b'{"id": 1}'),
    ("DELETE diary collection, malformed", "DELETE", "/api/v1/nutrition-logs", b'{"id":'),
    ("DELETE someone's goals list", "DELETE", "/api/v1/health-goals/user/{user}", b'{"x": 1}'),
    ("DELETE someone's diary list", "DELETE", "/api/v1/nutrition-logs/user/{user}", b'{"x": 1}'),
]

# A taken username or e-mail (any case) is answered exactly as a free one and creates
# nothing: registration does not tell who has an account (issue 19, point 5).
TAKEN_REGISTRATIONS = [
    ("taken e-mail", {"email": CLINICIAN_EMAIL}),
    ("taken e-mail, other case", {"email": CLINICIAN_EMAIL.upper()}),
    ("taken username", {"username": PATIENT_USERNAME}),
    ("taken username, other case", {"username": PATIENT_USERNAME.upper()}),
]
