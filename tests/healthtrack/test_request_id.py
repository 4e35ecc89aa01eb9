from __future__ import annotations

import logging

import pytest
from auditlog.models import LogEntry
from rest_framework_simplejwt.tokens import RefreshToken

from healthtrack.request_id import RequestIdLogFilter, clean_request_id, get_request_id

pytestmark = pytest.mark.django_db


def test_a_sane_incoming_request_id_is_kept_and_returned(client):
    response = client.get("/health", HTTP_X_REQUEST_ID="abc-123_DEF.456")
    assert response["X-Request-ID"] == "abc-123_DEF.456"


@pytest.mark.parametrize(
    "incoming", [None, "", "short", "x" * 65, "bad id with spaces", "inject\nline", "ü" * 10]
)
def test_an_absent_or_insane_request_id_is_replaced(client, incoming):
    headers = {} if incoming is None else {"HTTP_X_REQUEST_ID": incoming}
    response = client.get("/health", **headers)
    generated = response["X-Request-ID"]
    assert generated != incoming and len(generated) == 32
    assert clean_request_id(generated) == generated


def test_each_request_gets_its_own_id(client):
    assert client.get("/health")["X-Request-ID"] != client.get("/health")["X-Request-ID"]


def test_no_request_id_outside_a_request():
    assert get_request_id() is None
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    RequestIdLogFilter().filter(record)
    assert record.request_id == "-"


def test_auditlog_rows_of_a_jwt_request_carry_its_id_and_actor(api_client, user):
    access_token = str(RefreshToken.for_user(user).access_token)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    response = api_client.patch(
        f"/api/v1/users/{user.pk}",
        {"height_cm": 175},
        format="json",
        HTTP_X_REQUEST_ID="req-0000feed",
    )
    assert response.status_code == 200
    entry = LogEntry.objects.get_for_object(user).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.cid == "req-0000feed"
    assert entry.actor == user


def test_log_records_inside_a_request_carry_its_id(client):
    from healthtrack import request_id as module

    seen = []

    class Capture(logging.Handler):
        def emit(self, record):
            seen.append(getattr(record, "request_id", None))

    handler = Capture()
    handler.addFilter(RequestIdLogFilter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        client.get("/no-such-page-here", HTTP_X_REQUEST_ID="req-log-1234")
    finally:
        logger.removeHandler(handler)
    assert "req-log-1234" in seen
    assert module.get_request_id() is None  # reset after the request
