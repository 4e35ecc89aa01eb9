"""The bad-input catalogue (`tests/healthtrack/bad_inputs.py`) against every write endpoint and
form: each bad value is refused with a 4xx whose message names the field or the problem, and
the database is unchanged (every table's row count and checksum, `tests.healthtrack.dbstate`)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from goals.care_programs import programs
from metrics import services as metric_services
from nutrition import services as nutrition_services
from tests.accounts.factories import UserFactory
from tests.goals.factories import HealthGoalFactory
from tests.healthtrack import bad_inputs as catalogue
from tests.healthtrack.dbstate import changed_tables, snapshot

pytestmark = pytest.mark.django_db


class _Rollback(Exception):
    pass


@pytest.fixture
def patient(db):
    user = UserFactory(username=catalogue.PATIENT_USERNAME)
    UserFactory(role="clinician", email=catalogue.CLINICIAN_EMAIL)
    UserFactory(email=catalogue.RELATIVE_EMAIL)
    device = metric_services.device_create(
        user=user, device_type="apple_watch", name="Watch", identifier="w-1"
    )
    metric = metric_services.metric_create(
        user=user, metric_type="steps", value=4000, recorded_at=catalogue.NOW, device=device
    )
    log = nutrition_services.nutrition_log_create(
        user=user, meal_type="lunch", logged_at=catalogue.NOW, calories=500
    )
    goal = HealthGoalFactory(user=user)
    program = programs.program_create(
        user=user, created_by=user, title="Plan", config=catalogue.PROGRAM_CONFIG
    )
    user.objects_for_paths = {
        "metric": metric.pk,
        "device": device.pk,
        "user": user.pk,
        "log": log.pk,
        "goal": goal.pk,
        "program": program.pk,
    }
    return user


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _send(client, endpoint, body: bytes, content_type: str):
    objects = client.handler._force_user.objects_for_paths
    path = endpoint.path.format(**objects)
    body = body.replace(b'"<program>"', str(objects["program"]).encode())
    return client.generic(endpoint.method, path, body, content_type=content_type)


def _text(response) -> str:
    return response.content.decode("utf-8", "replace").lower()


def _cases(endpoint):
    """(label, body bytes, content type, words of which the message must name one)."""
    for name, values in endpoint.fields.items():
        for label, value in values:
            body = {**endpoint.body, name: value}
            raw = json.dumps(body, allow_nan=True).encode()
            yield f"{name}: {label}", raw, "application/json", (name,)
    for label, raw, content_type, words in catalogue.RAW:
        yield label, raw, content_type, words
    oversize = json.dumps({**endpoint.body, "notes": "x" * 70_000}).encode()
    yield "oversize body", oversize, "application/json", ("larger than", "too large")


@pytest.mark.parametrize("endpoint", catalogue.API, ids=lambda e: e.name)
def test_bad_input_is_refused_by_name_and_changes_nothing(
    endpoint, patient, settings, security_counts
):
    # The same limit as production's 10 MB, scaled down so the oversize body stays small.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    client = _client(patient)
    try:  # the control: the valid body is accepted (then rolled back)
        with transaction.atomic():
            ok = _send(client, endpoint, json.dumps(endpoint.body).encode(), "application/json")
            raise _Rollback
    except _Rollback:
        pass
    assert 200 <= ok.status_code < 300, (endpoint.name, ok.status_code, ok.content[:300])
    before = snapshot()
    failures = []
    tried = 0
    for label, body, content_type, words in _cases(endpoint):
        tried += 1
        response = _send(client, endpoint, body, content_type)
        text = _text(response)
        if not 400 <= response.status_code < 500 or response.status_code in (401, 403, 404):
            failures.append(f"{label}: status {response.status_code} {text[:200]}")
        elif not any(word.lower() in text for word in words):
            failures.append(f"{label}: message names none of {words}: {text[:200]}")
        changed = changed_tables(before, snapshot())
        if changed:
            failures.append(f"{label}: changed {changed}")
            before = snapshot()
    security_counts["bad inputs tried"] += tried
    assert not failures, f"{endpoint.method} {endpoint.path}:\n" + "\n".join(failures)


@pytest.mark.parametrize(
    "label, method, path, body", catalogue.WRONG_METHOD_WITH_A_BODY, ids=lambda v: str(v)[:40]
)
def test_a_body_sent_with_a_method_the_route_does_not_take_is_405(
    label, method, path, body, patient
):
    client = _client(patient)
    before = snapshot()
    path = path.format(**patient.objects_for_paths)
    response = client.generic(method, path, body, content_type="application/json")
    assert response.status_code == 405, (label, response.status_code)
    assert "not allowed" in _text(response)
    assert changed_tables(before, snapshot()) == []


def test_a_taken_name_or_address_is_answered_as_a_free_one_and_creates_nothing(
    patient, security_counts
):
    register = next(e for e in catalogue.API if e.name == "register")
    client = APIClient()
    with transaction.atomic():
        free = client.post(register.path, register.body, format="json")
        transaction.set_rollback(True)
    before = snapshot()
    for label, change in catalogue.TAKEN_REGISTRATIONS:
        response = client.post(register.path, {**register.body, **change}, format="json")
        assert (response.status_code, response.json()) == (free.status_code, free.json()), label
        assert changed_tables(before, snapshot()) == [], label
    security_counts["bad inputs tried"] += len(catalogue.TAKEN_REGISTRATIONS)


def _sample(**extra) -> dict:
    return {"metric_type": "steps", "value": 100, "recorded_at": catalogue.RECENT, **extra}


def test_a_sync_batch_repeating_an_external_id_stores_it_once_and_names_the_repeat(
    patient, security_counts
):
    from metrics.models import HealthMetric

    client = _client(patient)
    device = patient.objects_for_paths["device"]
    before = HealthMetric.objects.filter(user=patient).count()
    batch = [_sample(external_id="ext-1"), _sample(external_id="ext-1", value=200)]
    response = client.post(f"/api/v1/devices/{device}/sync", {"samples": batch}, format="json")
    security_counts["bad inputs tried"] += 1
    assert response.status_code < 500
    errors = response.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, "external_id")]
    assert "repeats the external_id of sample 0" in errors[0]["message"].lower()
    assert HealthMetric.objects.filter(user=patient).count() == before + 1


@pytest.mark.parametrize(
    "label, value",
    [(label, value) for label, value in catalogue.REQUIRED_NUMBER],
    ids=[label for label, _ in catalogue.REQUIRED_NUMBER],
)
def test_a_sync_batch_of_bad_samples_stores_nothing_and_names_each(
    label, value, patient, security_counts
):
    client = _client(patient)
    device = patient.objects_for_paths["device"]
    before = snapshot()
    batch = [_sample(value=value), _sample(value=value, external_id="e2")]
    body = json.dumps({"samples": batch}, allow_nan=True)
    response = client.generic(
        "POST", f"/api/v1/devices/{device}/sync", body, content_type="application/json"
    )
    security_counts["bad inputs tried"] += 1
    assert 400 <= response.status_code < 500 or response.status_code == 200, response.content
    assert "value" in _text(response)
    if response.status_code == 200:  # a batch is validated per sample: each one named
        result = response.json()
        assert result["counts"]["synced"] == 0
        assert [(e["index"], e["field"]) for e in result["errors"]] == [(0, "value"), (1, "value")]
    # No measurement or rollup: only the sync's own bookkeeping (the device's last sync, the
    # recorded result replayed for a retried Idempotency-Key, and their change-log lines).
    changed = {t.split(" ")[0] for t in changed_tables(before, snapshot())}
    assert changed <= {"metrics_device", "metrics_idempotencyrecord", "auditlog_logentry"}


@pytest.mark.parametrize("endpoint", catalogue.API, ids=lambda e: e.name)
def test_an_unknown_field_is_refused_by_name_and_changes_nothing(
    endpoint, patient, security_counts
):
    client = _client(patient)
    before = snapshot()
    body = json.dumps({**endpoint.body, "colour": "red", "id": 5}).encode()
    response = _send(client, endpoint, body, "application/json")
    security_counts["bad inputs tried"] += 1
    assert response.status_code == 400, (endpoint.name, response.content[:300])
    [message] = response.json()["unknown_field"]
    assert message.startswith("Unknown fields: 'colour', 'id'. Accepted: ")
    assert changed_tables(before, snapshot()) == []


def test_a_sync_sample_with_an_unknown_field_is_refused_by_index_and_name(patient):
    from metrics.models import HealthMetric

    device = patient.objects_for_paths["device"]
    before = HealthMetric.objects.filter(user=patient).count()
    batch = [_sample(external_id="a"), _sample(external_id="b", colour="red")]
    response = _client(patient).post(
        f"/api/v1/devices/{device}/sync", {"samples": batch}, format="json"
    )
    errors = response.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, "colour")]
    assert errors[0]["message"].startswith("Unknown field: 'colour'. Accepted: metric_type")
    assert HealthMetric.objects.filter(user=patient).count() == before + 1


def test_an_unknown_field_in_a_sync_body_or_a_photo_upload_is_refused(patient):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = _client(patient)
    device = patient.objects_for_paths["device"]
    before = snapshot()
    response = client.post(
        f"/api/v1/devices/{device}/sync", {"samples": [], "colour": "red"}, format="json"
    )
    assert response.status_code == 400 and "'colour'" in response.json()["unknown_field"][0]
    log = patient.objects_for_paths["log"]
    photo = SimpleUploadedFile("meal.jpg", b"not checked first", content_type="image/jpeg")
    response = client.post(
        f"/api/v1/nutrition-logs/{log}/photo", {"photo": photo, "colour": "red"}, format="multipart"
    )
    assert response.status_code == 400 and "'colour'" in response.json()["unknown_field"][0]
    assert changed_tables(before, snapshot()) == []


# --- Regressions: the 500s and silent acceptances this catalogue found -----------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/recommendations/18663930200514327857856512",
        "/api/v1/devices/99999999999999999999999",
        "/api/v1/health-metrics/user/99999999999999999999999",
        "/api/v1/health-metrics/summary?user_id=99999999999999999999999",
        "/api/v1/nutrition-logs/daily?user_id=99999999999999999999999",
    ],
)
def test_an_id_beyond_any_row_is_404_not_a_server_error(url, patient):
    response = _client(patient).get(url)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_an_api_url_that_matches_no_route_answers_json_404(patient):
    response = _client(patient).get("/api/v1/health-metrics/user/-5")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_an_oversize_body_is_413_with_a_json_message_on_every_api(patient, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"goal_type": "steps", "target_value": 1, "title": "x" * 2000})
    response = _client(patient).generic(
        "POST", "/api/v1/health-goals", body, content_type="application/json"
    )
    assert response.status_code == 413
    assert "larger than the configured limit" in response.json()["detail"]


def test_a_boolean_is_not_an_amount_of_water(patient):
    response = _client(patient).post("/api/v1/advice/water", {"amount_liters": True}, format="json")
    assert response.status_code == 400 and "amount_liters" in response.json()


# --- Forms ------------------------------------------------------------------------------------


def _form_cases(form):
    from urllib.parse import urlencode

    for name, values in form.fields.items():
        for label, value in values:
            body = urlencode({**form.data, name: value}, doseq=True).encode()
            yield f"{name}: {label}", body, name
    # Raw bytes that are not UTF-8 in a text field.
    text_field = next(n for n, v in form.fields.items() if catalogue.OVERSIZED in v)
    body = urlencode(form.data, doseq=True).encode() + b"&" + text_field.encode() + b"=\xff\xfe\xfa"
    yield f"{text_field}: invalid UTF-8", body, None


@pytest.mark.parametrize("form", catalogue.FORMS, ids=lambda f: f.name)
def test_a_bad_form_comes_back_naming_the_field_and_changes_nothing(
    form, patient, client, security_counts
):
    if not form.anonymous:
        client.force_login(patient)
    try:
        with transaction.atomic():
            ok = client.post(form.path, form.data)
            raise _Rollback
    except _Rollback:
        pass
    if form.anonymous:
        client.logout()  # the control signed up and logged in
    else:
        client.force_login(patient)  # a password change renewed the (rolled back) session
    assert ok.status_code == 302, (form.name, ok.status_code)  # the control: saved, redirected
    before = snapshot()
    failures = []
    tried = 0
    for label, body, name in _form_cases(form):
        tried += 1
        response = client.generic(
            "POST", form.path, body, content_type="application/x-www-form-urlencoded"
        )
        html = response.content.decode("utf-8", "replace")
        if name is None:  # not text at all: refused before any form sees it
            if response.status_code != 400 or "not valid UTF-8" not in html:
                failures.append(f"{label}: status {response.status_code} {html[:100]}")
        elif response.status_code != 400:  # the form shown again, with its errors, as a 4xx
            failures.append(f"{label}: status {response.status_code}")
        elif f'id="id_{name}_error"' not in html and "not one of the available choices" not in html:
            # (A hidden field's error is listed at the top, naming the bad choice.)
            failures.append(f"{label}: the page names no error on {name}")
        changed = changed_tables(before, snapshot())
        if changed:
            failures.append(f"{label}: changed {changed}")
            before = snapshot()
    security_counts["bad inputs tried"] += tried
    assert not failures, f"POST {form.path}:\n" + "\n".join(failures)


def test_a_date_of_birth_in_the_future_is_refused_in_the_api_and_the_profile_page(patient, client):
    response = _client(patient).patch(
        f"/api/v1/users/{patient.pk}", {"date_of_birth": "2999-01-01"}, format="json"
    )
    assert response.status_code == 400 and "date_of_birth" in response.json()
    client.force_login(patient)
    page = client.post("/settings/profile/", {"first_name": "A", "date_of_birth": "2999-01-01"})
    assert page.status_code == 400 and 'id="id_date_of_birth_error"' in page.content.decode()
    patient.refresh_from_db()
    assert patient.date_of_birth != date(2999, 1, 1)


def test_a_diary_entry_description_has_the_apis_limit_on_the_page_too(patient, client):
    from nutrition.models import NutritionLog

    client.force_login(patient)
    before = NutritionLog.objects.filter(user=patient).count()
    page = client.post(
        f"/nutrition/{catalogue.TODAY}/add/custom/",
        {"meal_type": "lunch", "description": "x" * 1001, "calories": "10", "time": "12:00"},
    )
    assert 'id="id_description_error"' in page.content.decode()
    assert NutritionLog.objects.filter(user=patient).count() == before


def test_a_form_body_that_is_not_utf8_is_400_and_saves_nothing(patient, client):
    from accounts.models import ApiToken

    client.force_login(patient)
    for body in (b"name=%FF%FEabc", b"name=\xff\xfe"):
        response = client.generic(
            "POST", "/settings/tokens/", body, content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 400
        assert "not valid UTF-8" in response.content.decode()
    assert not ApiToken.objects.filter(user=patient).exists()


def test_a_device_filter_beyond_any_row_id_is_400_not_a_server_error(patient):
    response = _client(patient).get("/api/v1/health-metrics?device=-3.402823466e%2B38")
    assert response.status_code == 400 and "device" in response.json()


# --- Imports (multipart upload) ---------------------------------------------------------------

IMPORT_CSV = b"metric_type,value,unit,recorded_at\nheart_rate,61,bpm,2026-03-01T08:00:00Z\n"


def _import_cases():
    """(label, multipart fields or raw (body, content type), words the message names one of)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    def csv(name="heart.csv", content=IMPORT_CSV):
        return SimpleUploadedFile(name, content, content_type="text/csv")

    yield "no file", {"kind": "csv_metrics"}, ("file",)
    yield "file is text, not a file", {"file": "heart_rate,61"}, ("file",)
    yield "unknown kind", {"file": csv(), "kind": "no-such-thing"}, ("kind",)
    yield "kind contradicts the file", {"file": csv(), "kind": "apple_health"}, ("kind",)
    yield "empty file", {"file": csv(content=b"")}, ("file", "empty")
    yield "unknown field", {"file": csv(), "colour": "red"}, ("colour",)
    yield "not a known file", {"file": csv("x.bin", b"\x00\x01\x02 not data")}, ("file", "kind")
    yield "JSON body", (b'{"kind": "csv_metrics"}', "application/json"), ("media type",)
    yield (
        "malformed multipart",
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (
            "multipart",
            "file",
        ),
    )


def test_a_bad_import_upload_is_refused_by_name_and_changes_nothing(patient, security_counts):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = _client(patient)
    try:  # the control: a valid CSV is accepted (then rolled back)
        with transaction.atomic():
            upload = SimpleUploadedFile("heart.csv", IMPORT_CSV, content_type="text/csv")
            ok = client.post("/api/v1/imports", {"file": upload}, format="multipart")
            raise _Rollback
    except _Rollback:
        pass
    assert ok.status_code == 202, ok.content[:300]
    before = snapshot()
    failures = []
    for label, data, words in _import_cases():
        if isinstance(data, tuple):
            response = client.generic("POST", "/api/v1/imports", data[0], content_type=data[1])
        else:
            response = client.post("/api/v1/imports", data, format="multipart")
        text = _text(response)
        if not 400 <= response.status_code < 500:
            failures.append(f"{label}: status {response.status_code} {text[:200]}")
        elif not any(word in text for word in words):
            failures.append(f"{label}: message names none of {words}: {text[:200]}")
        changed = changed_tables(before, snapshot())
        if changed:
            failures.append(f"{label}: changed {changed}")
            before = snapshot()
        security_counts["bad inputs tried"] += 1
    assert not failures, "POST /api/v1/imports:\n" + "\n".join(failures)
