"""The FHIR R4 read and search API under `/fhir/` (read-only), for apps with an OAuth token.

Every answer is `application/fhir+json`; every error an OperationOutcome. A token reaches the
owners `accounts.oauth.token_owner_ids` gives (the access function, then the connection);
a scope the token lacks is 403, anyone else's data 404. Each read of someone's data is written
to their "Who saw my data" under the app's name.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from accounts import oauth
from accounts.models import User
from accounts.oauth_authentication import OAuthTokenAuthentication
from accounts.oauth_scopes import (
    OFFLINE_ACCESS,
    PATIENT_SCOPES,
    READ,
    SEARCH,
    SYSTEM_SCOPES,
    scope_allows,
)
from healthtrack.core.api.errors import exception_handler as api_exception_handler
from healthtrack.fhir import mapping, search

FHIR_JSON = "application/fhir+json"
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    415: "not-supported",
    429: "throttled",
}


class FhirJSONRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "fhir"


class FhirJSONParser(JSONParser):
    media_type = FHIR_JSON


class FhirOnly(DefaultContentNegotiation):
    """Always FHIR JSON, whatever the client's Accept says (`*/*`, `application/json`)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def operation_outcome(code: int, message: str) -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": ISSUE_CODES.get(code, "processing"),
                "diagnostics": message,
            }
        ],
    }


def _message(data) -> str:
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])
    if isinstance(data, dict):
        return "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in data.items())
    return str(data)


def fhir_exception_handler(exc, context):
    if isinstance(exc, search.SearchError):
        exc = exceptions.ValidationError({"detail": str(exc)})
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("No such resource, or not one this token may read.")
    response = api_exception_handler(exc, context) or drf_exception_handler(exc, context)
    if response is None:
        return None
    response.data = operation_outcome(response.status_code, _message(response.data))
    return response


class FhirView(APIView):
    """Base of the FHIR views: OAuth tokens only, FHIR JSON, OperationOutcome errors."""

    authentication_classes = [OAuthTokenAuthentication]
    renderer_classes = [FhirJSONRenderer]
    parser_classes = [FhirJSONParser, JSONParser]
    content_negotiation_class = FhirOnly
    resource_type = ""

    def get_exception_handler(self):
        return fhir_exception_handler

    def require(self, interaction: str) -> None:
        if not scope_allows(self.request.auth.scope, self.resource_type, interaction):
            needed = f"patient/{self.resource_type}.rs"
            raise exceptions.PermissionDenied(f"This token lacks a scope like {needed}.")

    def owner_ids(self) -> list[int]:
        return oauth.token_owner_ids(self.request.user, self.request.auth)

    def owners_for(self, patients: list[str]) -> list[int]:
        """The owners a search covers: all the token reaches, or the `patient` asked for
        (404 when the token may not read them)."""
        allowed = self.owner_ids()
        if not patients:
            return allowed
        wanted = []
        for value in patients:
            for part in value.split(","):
                pk = search.patient_pk(part)
                if pk is None or pk not in allowed:
                    raise Http404
                wanted.append(pk)
        return wanted

    def audit(self, owners) -> None:
        for owner_id in sorted(owners):
            oauth.app_read_record(request=self.request, token=self.request.auth, owner_id=owner_id)

    def bundle(self, page: search.Page, resource_type: str) -> Response:
        self.audit(page.owners)
        base = self.request.build_absolute_uri(reverse("fhir-metadata")).rsplit("/", 1)[0]
        self_url = self.request.build_absolute_uri()
        links = [{"relation": "self", "url": self_url}]
        if page.next_cursor:
            params = [(k, v) for k, v in self.request.GET.lists() if k != "_cursor"]
            query = urlencode([(k, v) for k, values in params for v in values])
            query += ("&" if query else "") + urlencode({"_cursor": page.next_cursor})
            path = self.request.build_absolute_uri(self.request.path)
            links.append({"relation": "next", "url": f"{path}?{query}"})
        body = {
            "resourceType": "Bundle",
            "type": "searchset",
            "timestamp": timezone.now().isoformat(),
            "link": links,
            "entry": [
                {
                    "fullUrl": f"{base}/{resource_type}/{r['id']}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in page.resources
            ],
        }
        return Response(body)

    def check_params(self, allowed: set[str]) -> None:
        unknown = sorted(set(self.request.GET) - allowed - {"_format"})
        if unknown:
            raise search.SearchError(f"Unknown search parameter(s): {', '.join(unknown)}.")


SEARCH_SCHEMA = {
    "tags": ["FHIR"],
    "responses": {
        (200, FHIR_JSON): OpenApiTypes.OBJECT,
        (400, FHIR_JSON): OpenApiTypes.OBJECT,
        (401, FHIR_JSON): OpenApiTypes.OBJECT,
        (403, FHIR_JSON): OpenApiTypes.OBJECT,
        (404, FHIR_JSON): OpenApiTypes.OBJECT,
        (429, FHIR_JSON): OpenApiTypes.OBJECT,
    },
}
COMMON_PARAMETERS = [
    OpenApiParameter("_count", int, description=f"Page size, 1-{search.MAX_COUNT}."),
    OpenApiParameter("_cursor", str, description="Opaque: follow the Bundle's `next` link."),
    OpenApiParameter(
        "_lastUpdated", str, many=True, description="ge/gt/le/lt prefix, e.g. ge2024-01-01."
    ),
]


@extend_schema_view(
    get=extend_schema(
        operation_id="fhir_observation_search",
        summary="Search Observations (measurements, blood-pressure panels, food diary entries)",
        parameters=[
            OpenApiParameter("patient", str, description="Patient id, e.g. user-5."),
            OpenApiParameter("code", str, description="[system|]code, comma-separated: 8867-4."),
            OpenApiParameter(
                "category", str, description="vital-signs, activity, laboratory, nutrition."
            ),
            OpenApiParameter("date", str, many=True, description="ge/gt/le/lt prefix + date."),
            *COMMON_PARAMETERS,
        ],
        **SEARCH_SCHEMA,
    )
)
class ObservationSearchView(FhirView):
    resource_type = "Observation"
    PARAMS = {"patient", "subject", "code", "category", "date", "_lastUpdated", "_count", "_cursor"}

    def get(self, request):
        self.require(SEARCH)
        self.check_params(self.PARAMS)
        q = request.GET
        owners = self.owners_for(q.getlist("patient") + q.getlist("subject"))
        page = search.observations(
            owners,
            codes=q.getlist("code"),
            categories=q.getlist("category"),
            dates=q.getlist("date"),
            last_updated=q.getlist("_lastUpdated"),
            count=search.count_param(q.get("_count")),
            cursor=q.get("_cursor"),
        )
        return self.bundle(page, "Observation")


def _read_one(view: FhirView, page: search.Page) -> Response:
    if not page.resources:
        raise Http404
    view.audit(page.owners)
    return Response(page.resources[0])


def _id_of(prefix: str, value: str) -> int | None:
    match = re.fullmatch(rf"{re.escape(prefix)}([0-9]{{1,18}})", value)
    return int(match.group(1)) if match else None


READ_SCHEMA = {
    "tags": ["FHIR"],
    "responses": {
        (200, FHIR_JSON): OpenApiTypes.OBJECT,
        (401, FHIR_JSON): OpenApiTypes.OBJECT,
        (403, FHIR_JSON): OpenApiTypes.OBJECT,
        (404, FHIR_JSON): OpenApiTypes.OBJECT,
        (429, FHIR_JSON): OpenApiTypes.OBJECT,
    },
}


@extend_schema_view(
    get=extend_schema(
        operation_id="fhir_observation_read",
        summary="Read one Observation (metric-<id> or nutrition-<id>)",
        **READ_SCHEMA,
    )
)
class ObservationReadView(FhirView):
    resource_type = "Observation"

    def get(self, request, id):
        self.require(READ)
        metric_id, nutrition_id = _id_of("metric-", id), _id_of("nutrition-", id)
        if metric_id is None and nutrition_id is None:
            raise Http404
        page = search.observations(
            self.owner_ids(),
            codes=[],
            categories=[],
            dates=[],
            last_updated=[],
            count=1,
            cursor=None,
            metric_id=metric_id if metric_id is not None else None,
            nutrition_id=nutrition_id,
        )
        if metric_id is not None and page.resources and page.resources[0]["id"] != id:
            raise Http404
        return _read_one(self, page)


@extend_schema_view(
    get=extend_schema(
        operation_id="fhir_goal_search",
        summary="Search Goals",
        parameters=[
            OpenApiParameter("patient", str, description="Patient id, e.g. user-5."),
            OpenApiParameter(
                "lifecycle-status",
                str,
                description="active, completed, cancelled (comma-separated).",
            ),
            *COMMON_PARAMETERS,
        ],
        **SEARCH_SCHEMA,
    )
)
class GoalSearchView(FhirView):
    resource_type = "Goal"
    PARAMS = {"patient", "subject", "lifecycle-status", "_lastUpdated", "_count", "_cursor"}

    def get(self, request):
        self.require(SEARCH)
        self.check_params(self.PARAMS)
        q = request.GET
        owners = self.owners_for(q.getlist("patient") + q.getlist("subject"))
        page = search.goals(
            owners,
            statuses=q.getlist("lifecycle-status"),
            last_updated=q.getlist("_lastUpdated"),
            count=search.count_param(q.get("_count")),
            cursor=q.get("_cursor"),
        )
        return self.bundle(page, "Goal")


@extend_schema_view(
    get=extend_schema(
        operation_id="fhir_goal_read", summary="Read one Goal (goal-<id>)", **READ_SCHEMA
    )
)
class GoalReadView(FhirView):
    resource_type = "Goal"

    def get(self, request, id):
        self.require(READ)
        goal_id = _id_of("goal-", id)
        if goal_id is None:
            raise Http404
        page = search.goals(
            self.owner_ids(), statuses=[], last_updated=[], count=1, cursor=None, goal_id=goal_id
        )
        return _read_one(self, page)


def _patients(ids) -> list[User]:
    return list(User.objects.filter(pk__in=ids, deleted_at__isnull=True).order_by("pk"))


@extend_schema_view(
    get=extend_schema(
        operation_id="fhir_patient_read", summary="Read one Patient (user-<id>)", **READ_SCHEMA
    )
)
class PatientReadView(FhirView):
    resource_type = "Patient"

    def get(self, request, id):
        self.require(READ)
        pk = search.patient_pk(id)
        if pk is None or pk not in self.owner_ids():
            raise Http404
        patients = _patients([pk])
        if not patients:
            raise Http404
        self.audit({pk})
        return Response(mapping.patient_resource(patients[0]))


@extend_schema_view(
    get=extend_schema(
        operation_id="fhir_patient_search",
        summary="Search Patients (the ones this token reaches)",
        parameters=[OpenApiParameter("_id", str, description="Patient id, e.g. user-5.")],
        **SEARCH_SCHEMA,
    )
)
class PatientSearchView(FhirView):
    resource_type = "Patient"

    def get(self, request):
        self.require(SEARCH)
        self.check_params({"_id", "_count"})
        ids = self.owners_for(request.GET.getlist("_id"))
        count = search.count_param(request.GET.get("_count"))
        patients = _patients(ids)[:count]
        page = search.Page([mapping.patient_resource(p) for p in patients], set(), None)
        page.owners = {p.pk for p in patients}
        return self.bundle(page, "Patient")


# --- Public: what the server offers -----------------------------------------------------------


def _search_params(*names: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "type": kind} for name, kind in names]


def capability_statement(request) -> dict:
    base = request.build_absolute_uri(reverse("fhir-metadata")).rsplit("/", 1)[0]
    paging = (("_count", "number"), ("_lastUpdated", "date"))
    resources = [
        {
            "type": "Patient",
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": _search_params(("_id", "token")),
        },
        {
            "type": "Observation",
            "supportedProfile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"],
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": _search_params(
                ("patient", "reference"),
                ("code", "token"),
                ("category", "token"),
                ("date", "date"),
                *paging,
            ),
        },
        {
            "type": "Goal",
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": _search_params(
                ("patient", "reference"), ("lifecycle-status", "token"), *paging
            ),
        },
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-01-01",
        "publisher": "HealthTrack",
        "kind": "instance",
        "software": {"name": "HealthTrack"},
        "implementation": {"description": "HealthTrack FHIR API (read-only)", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": "OAuth2 with SMART scopes: see .well-known/smart-configuration",
                },
                "resource": resources,
            }
        ],
    }


class PublicFhirView(FhirView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


@extend_schema(
    summary="The CapabilityStatement: what this FHIR server supports",
    tags=["FHIR"],
    responses={(200, FHIR_JSON): OpenApiTypes.OBJECT, (429, FHIR_JSON): OpenApiTypes.OBJECT},
)
class MetadataView(PublicFhirView):
    def get(self, request):
        return Response(capability_statement(request))


def smart_configuration(request) -> dict:
    origin = request.build_absolute_uri("/").rstrip("/")
    return {
        "issuer": origin,
        "authorization_endpoint": f"{origin}{reverse('oauth-authorize')}",
        "token_endpoint": f"{origin}{reverse('oauth-token')}",
        "revocation_endpoint": f"{origin}{reverse('oauth-revoke-token')}",
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "scopes_supported": [*PATIENT_SCOPES, *SYSTEM_SCOPES],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": [
            "launch-standalone",
            "client-public",
            "client-confidential-symmetric",
            "context-standalone-patient",
            "permission-patient",
            "permission-v2",
            *(["permission-offline"] if OFFLINE_ACCESS in PATIENT_SCOPES else []),
        ],
        "management_endpoint": f"{origin}{reverse('settings-connected-apps')}",
    }


@extend_schema(
    summary="SMART App Launch configuration (OAuth endpoints, scopes, capabilities)",
    tags=["FHIR"],
    responses={
        (200, "application/json"): OpenApiTypes.OBJECT,
        (429, "application/json"): OpenApiTypes.OBJECT,
    },
)
class SmartConfigurationView(PublicFhirView):
    renderer_classes = [JSONRenderer]

    def get(self, request):
        return Response(smart_configuration(request))


class NotFoundView(FhirView):
    """Anything else under /fhir/: an OperationOutcome, not the site's HTML 404 page."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(exclude=True)
    def get(self, request, rest):
        return Response(
            operation_outcome(404, f"No FHIR endpoint at {request.path}."),
            status=status.HTTP_404_NOT_FOUND,
        )
