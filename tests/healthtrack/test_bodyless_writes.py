"""API writes that take no body (end, revoke, every DELETE): found from the OpenAPI schema (a
write operation without a request body), each one refuses a body with fields by name, like any
other write refuses an unknown field (`healthtrack.core.api.strict.NoBodyMixin`), and writes
nothing; no body, `{}`, `null` and a request without a Content-Type keep working."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.models import CareTeam, ShareGrant
from nutrition.models import MealPhoto, NutritionLog
from tests.healthtrack import authz_matrix as matrix
from tests.healthtrack.dbstate import changed_tables, snapshot

pytestmark = pytest.mark.django_db

WRITES = ("post", "put", "patch", "delete")
# What the schema says takes no body today. A new body-less write must be added here (and get
# NoBodyMixin): the test below fails on any difference.
BODYLESS = {
    ("POST", "api/v1/care-team/<int:pk>/end"),
    ("POST", "api/v1/share-grants/<int:pk>/revoke"),
    ("DELETE", "api/v1/family/members/<int:pk>"),
    ("DELETE", "api/v1/family/access/<int:pk>"),
    ("DELETE", "api/v1/users/<int:pk>"),
    ("DELETE", "api/v1/health-metrics/<int:pk>"),
    ("DELETE", "api/v1/nutrition-logs/<int:pk>"),
    ("DELETE", "api/v1/nutrition-logs/<int:pk>/photo"),
    ("DELETE", "api/v1/health-goals/<int:pk>"),
    ("DELETE", "api/v1/programs/<int:pk>"),
}
UNKNOWN = "Unknown fields: 'colour', 'reason'. This request takes no body: send none, or {}."


class _Rollback(Exception):
    pass


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}|<[^>]+>", "{}", path.strip("/"))


def bodyless_operations() -> set[tuple[str, str]]:
    """(METHOD, route) of every API write whose schema has no request body."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    routes = {_shape(route): route for route, _, _ in matrix.walk()}
    found = set()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            # App-token routes (webhooks) are checked with an app's token in tests/webhooks.
            if path.startswith("/api/v1/webhooks"):
                continue
            if method in WRITES and "requestBody" not in operation:
                found.add((method.upper(), routes[_shape(path)]))
    return found


@pytest.fixture
def objects():
    return matrix.build_objects()


@pytest.fixture
def owner(objects) -> APIClient:
    client = APIClient()
    client.force_authenticate(objects.world.patient)
    return client


def _send(client, method, url, body: bytes | str = b"", content_type: str | None = None):
    extra = {} if content_type is None else {"content_type": content_type}
    return client.generic(method, url, body, **extra)


def _kept(callable_):
    """The response of a request whose writes are rolled back: each request meets one world."""
    box = {}
    try:
        with transaction.atomic():
            box["response"] = callable_()
            raise _Rollback
    except _Rollback:
        pass
    return box["response"]


def test_the_schema_lists_exactly_the_known_bodyless_writes():
    assert bodyless_operations() == BODYLESS


@pytest.mark.parametrize("method, route", sorted(BODYLESS))
def test_a_bodyless_write_refuses_fields_by_name_and_changes_nothing(method, route, objects, owner):
    url = matrix.path_of(route, objects)
    before = snapshot()
    body = json.dumps({"colour": "red", "reason": "moved away"})
    response = _send(owner, method, url, body, "application/json")
    assert response.status_code == 400, (route, response.content[:300])
    assert response.json() == {"unknown_field": [UNKNOWN]}
    assert changed_tables(before, snapshot()) == []


@pytest.mark.parametrize("method, route", sorted(BODYLESS))
@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"", None),  # no body, no Content-Type
        (b"", "application/json"),
        (b"{}", "application/json"),  # what the authorisation matrix sends
        (b"null", "application/json"),
        (b"", "text/plain"),  # a content type with nothing in it is no body
    ],
    ids=["nothing", "empty json", "empty object", "null", "empty text"],
)
def test_a_bodyless_write_works_without_a_body_or_with_an_empty_one(
    method, route, body, content_type, objects, owner
):
    url = matrix.path_of(route, objects)
    response = _kept(lambda: _send(owner, method, url, body, content_type))
    assert 200 <= response.status_code < 300, (route, response.status_code, response.content)


@pytest.mark.parametrize(
    "body, content_type, statuses, words",
    [
        (b"[1, 2]", "application/json", {400}, ("not a list",)),
        (b"[]", "application/json", {400}, ("not a list",)),
        (b'"yes"', "application/json", {400}, ("not a string",)),
        (b"7", "application/json", {400}, ("not a number",)),
        (b'{"colour":', "application/json", {400}, ("json parse error",)),
        # 415, or (where the view's other methods read forms: the photo) refused by name.
        (
            b"colour=red",
            "application/x-www-form-urlencoded",
            {415, 400},
            ("unsupported media type", "unknown field: 'colour'"),
        ),
        (b"colour", "text/plain", {415}, ("unsupported media type",)),
    ],
    ids=["list", "empty list", "string", "number", "malformed", "form", "text"],
)
def test_a_bodyless_write_refuses_a_body_that_is_not_an_object_and_changes_nothing(
    body, content_type, statuses, words, objects, owner
):
    before = snapshot()
    for method, route in sorted(BODYLESS):
        url = matrix.path_of(route, objects)
        response = _send(owner, method, url, body, content_type)
        text = response.content.decode().lower()
        assert response.status_code in statuses, (route, response.content[:300])
        assert any(word in text for word in words), (route, response.content[:300])
    assert changed_tables(before, snapshot()) == []


def test_a_photo_sent_to_the_photo_delete_is_refused_by_name_and_the_photo_kept(objects, owner):
    url = matrix.path_of("api/v1/nutrition-logs/<int:pk>/photo", objects)
    upload = SimpleUploadedFile("meal.png", b"not really", content_type="image/png")
    body = encode_multipart(BOUNDARY, {"photo": upload})
    response = owner.generic("DELETE", url, body, MULTIPART_CONTENT)
    assert response.status_code == 400
    assert response.json()["unknown_field"][0].startswith("Unknown field: 'photo'.")
    assert MealPhoto.objects.filter(log=objects.world.rows[NutritionLog]).exists()


def test_ending_and_revoking_with_fields_leaves_the_membership_and_the_grant_as_they_were(
    objects, owner
):
    world = objects.world
    team, grant = world.rows[CareTeam], world.rows[ShareGrant]
    end = owner.post(f"/api/v1/care-team/{team.pk}/end", {"reason": "moved"}, format="json")
    revoke = owner.post(f"/api/v1/share-grants/{grant.pk}/revoke", {"now": True}, format="json")
    assert (end.status_code, revoke.status_code) == (400, 400)
    team.refresh_from_db()
    grant.refresh_from_db()
    assert team.ended_at is None and grant.revoked_at is None
    # Without the fields, the same requests do what they say.
    assert owner.post(f"/api/v1/care-team/{team.pk}/end", {}, format="json").status_code == 200
    assert owner.post(f"/api/v1/share-grants/{grant.pk}/revoke").status_code == 200
    team.refresh_from_db()
    grant.refresh_from_db()
    assert team.ended_at is not None and grant.revoked_at is not None


@pytest.mark.parametrize("method, route", sorted(BODYLESS))
@pytest.mark.parametrize(
    "body, content_type",
    [(b'{"colour": "red"}', "application/json"), (b"[1]", "application/json")],
    ids=["fields", "list"],
)
def test_someone_elses_object_is_404_whatever_the_body_and_nothing_is_written(
    method, route, body, content_type, objects
):
    """As for every other write: a stranger learns nothing, not even that the body is wrong."""
    client = APIClient()
    client.force_authenticate(objects.world.stranger)
    url = matrix.path_of(route, objects)
    before = snapshot()
    assert _send(client, method, url, body, content_type).status_code == 404
    assert _send(client, method, url).status_code == 404
    assert changed_tables(before, snapshot()) == []


def test_signing_in_comes_before_the_body(objects):
    response = APIClient().post(
        f"/api/v1/share-grants/{objects.world.rows[ShareGrant].pk}/revoke",
        {"colour": "red"},
        format="json",
    )
    assert response.status_code in (401, 403)


def test_the_schema_documents_the_refusals_of_a_bodyless_write():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    routes = {_shape(route): route for route, _, _ in matrix.walk()}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if (method.upper(), routes.get(_shape(path))) in BODYLESS:
                assert {"400", "415"} <= set(operation["responses"]), (method, path)
