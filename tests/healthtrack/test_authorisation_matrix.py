"""Every URL pattern x every role x every method on patient A's objects, against the table in
`tests/healthtrack/authz_matrix.py` (which says what each letter means). A pattern without an
entry fails; a refused write must change nothing."""

from __future__ import annotations

import logging
import re

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.healthtrack import authz_matrix as matrix
from tests.healthtrack.dbstate import IGNORED_TABLES, changed_tables, snapshot

pytestmark = pytest.mark.django_db

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
READ_ONLY_ROLES = {"ro", "Bm"}  # acting for A, they may never write anything
WRITE_SQL = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


class _Rollback(Exception):
    pass


def _users(o) -> dict:
    w = o.world
    return {
        "anon": None,
        "A": w.patient,
        "B": w.stranger,
        "care": w.caring,
        "nocare": w.other_doctor,
        "staff": w.staff,
        "su": w.superuser,
        "fam": o.manager,
        "ro": o.reader,
        "Bm": w.stranger,
    }


def _send(client: Client, method: str, url: str, *, api: bool):
    """An empty body: JSON `{}` to the API, an empty form to pages."""
    if api:
        if method == "GET":
            return client.get(url, HTTP_ACCEPT="application/json")
        return client.generic(
            method, url, "{}", content_type="application/json", HTTP_ACCEPT="application/json"
        )
    if method == "GET":
        return client.get(url)
    if method == "POST":
        return client.post(url, {})
    return client.generic(method, url, "", content_type="application/x-www-form-urlencoded")


def _writes_in(queries) -> list[str]:
    tables = []
    for query in queries:
        match = WRITE_SQL.match(query["sql"])
        if match and match.group(2) not in IGNORED_TABLES:
            tables.append(match.group(2))
    return tables


def walk_role(role: str, o, urls: dict[str, str]) -> tuple[dict, list[str]]:
    """{route: {method: letter}} as `role` sees it, and the problems met (a 5xx, a refused
    write that wrote). Allowed requests run in a savepoint that is rolled back, so each
    request meets the same world; refused ones are kept, and the database must still be what
    it was at the start of the walk."""
    user = _users(o)[role]
    client = Client()
    if user is not None:
        client.force_login(user)
    session = client.cookies.get(settings.SESSION_COOKIE_NAME)
    before = snapshot()
    seen: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for route, url in urls.items():
        url = matrix.url_for(role, route, url, o)
        api = route.startswith(("api/v1/", "fhir/"))
        is_admin_object = route.startswith("admin/") and "<" in route
        for method in matrix.methods_for(route):
            connection.queries_log.clear()  # the capture below reads it by index: keep it short
            try:
                with transaction.atomic(), CaptureQueriesContext(connection) as queries:
                    response = _send(client, method, url, api=api)
                    got = matrix.classify(response, is_admin_object=is_admin_object)
                    if got == "A":
                        raise _Rollback
            except _Rollback:
                cache.clear()  # what the rolled-back request cached is gone too
            seen.setdefault(route, {})[method] = got
            if got[0] in "E?":
                problems.append(f"{role} {method} {url}: status {response.status_code}")
            elif method in WRITES and got != "A" and (tables := _writes_in(queries)):
                problems.append(f"{role} {method} {url} refused ({got}) but wrote {tables}")
            elif method in WRITES and role in READ_ONLY_ROLES and (tables := _writes_in(queries)):
                # Let through (a page that answers any method, a 400 about the body): still
                # nothing of A's may change for a reader or a stranger acting for A.
                problems.append(f"{role} {method} {url} ({got}) wrote {tables}")
            if session is not None:  # a logout (allowed, rolled back) must not end the walk
                client.cookies[settings.SESSION_COOKIE_NAME] = session.value
    changed = changed_tables(before, snapshot())
    if changed:
        problems.append(f"{role}: refused requests changed {changed}")
    return seen, problems


def test_every_url_pattern_has_an_entry_in_the_table():
    missing = matrix.unmapped(matrix.walk(), matrix.expected())
    assert missing == [], (
        "URL patterns with no entry in tests/healthtrack/authz_matrix.py (say what each role "
        f"gets): {missing}"
    )


def test_the_table_has_no_entry_for_a_pattern_that_is_gone():
    routes = {route for route, _, _ in matrix.walk()}
    assert sorted(set(matrix.expected()) - routes) == []


def test_a_new_pattern_without_an_entry_is_reported_by_name():
    from django.http import HttpResponse
    from django.urls import path

    fake = path("api/v1/brand-new/<int:pk>", lambda r, pk: HttpResponse(), name="api-brand-new")
    patterns = [*matrix.walk(), ("api/v1/brand-new/<int:pk>", "api-brand-new", fake)]
    assert matrix.unmapped(patterns, matrix.expected()) == [
        "api/v1/brand-new/<int:pk> (name 'api-brand-new')"
    ]


def test_every_role_gets_the_expected_status_on_every_url_and_method(security_counts):
    o = matrix.build_objects()
    table = matrix.expected()
    urls = {route: matrix.path_of(route, o) for route, _, _ in matrix.walk()}
    assert set(urls) <= set(table)
    mismatches: list[str] = []
    problems: list[str] = []
    cases = 0
    # 6 000 requests: their access-log and warning lines cost more than the checks; a 5xx is
    # still caught from the status.
    logging.disable(logging.CRITICAL)
    try:
        walks = [walk_role(role, o, urls) for role in matrix.ROLES]
    finally:
        logging.disable(logging.NOTSET)
    for index, role in enumerate(matrix.ROLES):
        seen, found = walks[index]
        problems += found
        for route, methods in seen.items():
            for method, got in methods.items():
                cases += 1
                want = table[route][method][index]
                if got != want:
                    url = matrix.url_for(role, route, urls[route], o)
                    mismatches.append(f"{role} {method} {url} ({route}): {got}, not {want}")
    assert problems == []
    assert mismatches == [], "\n".join(mismatches)
    security_counts["URLs × roles × methods checked"] += cases
    assert cases == sum(len(matrix.methods_for(r)) for r in urls) * len(matrix.ROLES)


def test_oauth_tokens_with_and_without_each_scope_get_the_expected_status_on_the_fhir_api(
    security_counts,
):
    o = matrix.build_objects()
    tokens = matrix.oauth_tokens(o)
    routes = [route for route, _, _ in matrix.walk() if route.startswith("fhir/")]
    assert sorted(routes) == sorted(matrix.OAUTH)
    before = snapshot()
    mismatches: list[str] = []
    cases = 0
    for route in routes:
        url = matrix.oauth_url(route, o)
        for method in matrix.METHODS:
            for index, role in enumerate(matrix.OAUTH_ROLES):
                response = Client().generic(
                    method,
                    url,
                    "{}" if method != "GET" else "",
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {tokens[role]}",
                )
                got = matrix.classify(response)
                want = matrix.OAUTH[route][method][index]
                cases += 1
                if got != want:
                    mismatches.append(f"{role} {method} {url}: {got}, not {want}")
                if response.status_code != 405:
                    assert response["Content-Type"] in ("application/fhir+json", "application/json")
    assert mismatches == [], "\n".join(mismatches)
    # Reads only: what they leave is the access log and the connections' "last read".
    reads = ("accounts_accesslog ", "accounts_connectedapp ")
    assert [t for t in changed_tables(before, snapshot()) if not t.startswith(reads)] == []
    security_counts["FHIR URLs × OAuth tokens × methods checked"] += cases
