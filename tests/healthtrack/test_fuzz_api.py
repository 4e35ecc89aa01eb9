"""Schemathesis against the API's own OpenAPI schema (`/api/schema/`, drf-spectacular), in
process through Django's WSGI application, signed in as a patient (a JWT).

Every operation gets `FUZZ_EXAMPLES` generated cases (seeded: the same cases every run) plus
its schema examples; every response must be no 5xx, a status code the schema documents, the
documented content type and a body that matches the documented schema. A finding is fixed in
the app (a 5xx) or in the schema annotations (something undocumented), never by loosening a
check."""

from __future__ import annotations

import os

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.oauth_scopes import PATIENT_SCOPES
from tests.accounts.oauth_helpers import issued_token, public_app
from tests.healthtrack.roles import build_world

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _fuzz(operation, *, app, headers: dict, counter: list[int]) -> str | None:
    """Run one operation's cases; the first failure's text, or None."""

    @hypothesis.settings(
        max_examples=FUZZ_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report what failed
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def run(case):
        counter[0] += 1
        # Each request in its own savepoint, as each runs in its own transaction in production:
        # on PostgreSQL one failed statement must not fail the requests after it.
        with transaction.atomic():
            response = case.call(app=app, headers=headers)
            transaction.set_rollback(True)  # each case meets the same world
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # a check's failure, with its curl
        return f"{operation.label}: {exc}"[:1500]
    return None


@pytest.fixture
def wsgi_app():
    """Django's WSGI application, keeping the test's database connection open: like Django's
    test client, stop `close_old_connections` from closing it (and the test's transaction)
    at the end of each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def test_every_api_operation_survives_generated_requests(settings, security_counts, wsgi_app):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    world = build_world()
    token = RefreshToken.for_user(world.patient).access_token
    headers = {"Authorization": f"Bearer {token}"}
    # The FHIR API takes OAuth tokens only: an app's token with every patient scope.
    oauth = issued_token(world.patient, public_app(), " ".join(PATIENT_SCOPES))
    fhir_headers = {"Authorization": f"Bearer {oauth}"}
    app = wsgi_app
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)
    failures = []
    counter = [0]
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        # The webhook subscriptions are an app's too (healthtrack/webhooks).
        fhir = operation.path.startswith(("/fhir/", "/api/v1/webhooks"))
        failure = _fuzz(
            operation, app=app, headers=fhir_headers if fhir else headers, counter=counter
        )
        if failure:
            failures.append(failure)
    security_counts["fuzz cases run"] += counter[0]
    assert operations > 50
    assert not failures, "\n\n".join(failures)


# --- every method on every path, listed in the schema or not ---------------------------------

EVERY_METHOD = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE")
# (label, body, content type): none, an empty object, an object with a field nothing takes, a
# list, malformed JSON.
BODIES = [
    ("no body", b"", None),
    ("empty object", b"{}", "application/json"),
    ("an object", b'{"x": 1}', "application/json"),
    ("a list", b"[1]", "application/json"),
    ("malformed", b'{"x":', "application/json"),
]


def test_every_method_on_every_api_path_answers_2xx_or_4xx(security_counts):
    """Methods the schema does not list included: anything but 2xx/4xx (a 500, a redirect) is
    a finding. DELETE on a collection with a JSON body used to be a 500 (AssertionError)."""
    from django.test import Client

    from tests.healthtrack import authz_matrix as matrix

    o = matrix.build_objects()
    client = Client(raise_request_exception=False)  # a 500 is counted, not raised
    client.force_login(o.world.patient)
    routes = [route for route, _, _ in matrix.walk() if route.startswith("api/")]
    assert len(routes) > 40
    failures, cases = [], 0
    for route in routes:
        url = matrix.path_of(route, o)
        for method in EVERY_METHOD:
            for label, body, content_type in BODIES:
                extra = {"content_type": content_type} if content_type else {}
                with transaction.atomic():
                    response = client.generic(
                        method, url, body, HTTP_ACCEPT="application/json", **extra
                    )
                    transaction.set_rollback(True)
                cases += 1
                if not (200 <= response.status_code < 300 or 400 <= response.status_code < 500):
                    failures.append(f"{method} {url} ({label}): {response.status_code}")
    security_counts["every-method cases run"] += cases
    assert failures == [], "\n".join(failures)
