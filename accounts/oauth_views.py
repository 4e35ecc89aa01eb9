"""OAuth pages: the consent page, "Connected apps" in settings, and the server's metadata.

The token and revocation endpoints are django-oauth-toolkit's own views (accounts/urls.py).
"""

from __future__ import annotations

import base64
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.decorators import ratelimit
from oauth2_provider import views as oauth2_views
from oauth2_provider.forms import AllowForm
from oauth2_provider.models import Application
from oauth2_provider.views import AuthorizationView

from accounts import access, oauth
from accounts.members import page_owner
from accounts.models import ConnectedApp
from accounts.oauth_scopes import OFFLINE_ACCESS, PATIENT_SCOPES, SCOPES, SYSTEM_SCOPES


class ConsentForm(AllowForm):
    patient = forms.TypedChoiceField(coerce=int, label="Whose data", required=False)

    def __init__(self, *args, subjects=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.subjects = {s.pk: s for s in subjects}
        self.fields["patient"].choices = [
            (s.pk, "Me" if i == 0 else s.get_full_name() or s.get_short_name() or s.username)
            for i, s in enumerate(subjects)
        ]

    def clean_patient(self):
        pk = self.cleaned_data.get("patient")
        if pk in (None, ""):
            return next(iter(self.subjects.values()))
        if pk not in self.subjects:
            raise forms.ValidationError("You cannot connect apps for this person.")
        return self.subjects[pk]


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{seconds // 60} minutes"


def expiry_text(scopes: list[str]) -> str:
    """The consent page's sentence about how long the access lasts."""
    token = _duration(settings.OAUTH_ACCESS_TOKEN_SECONDS)
    if OFFLINE_ACCESS in scopes:
        refresh = _duration(settings.OAUTH_REFRESH_TOKEN_DAYS * 86400)
        return (
            f"Each access the app gets lasts {token}; it can renew it without asking you "
            f"again for up to {refresh} after its last use, until you disconnect it."
        )
    return f"The access lasts {token}; after that the app must ask you again."


def _consent_policy(redirect_uri: str) -> str:
    """The site's Content-Security-Policy, with the app's redirect URI allowed as a form
    action: browsers apply `form-action` to the redirect that follows Allow or Deny."""
    parts = urlsplit(redirect_uri)
    if parts.scheme in ("http", "https"):
        source = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    else:  # a native app's own scheme (com.example.app:/callback)
        source = f"{parts.scheme}:"
    directives = {k: list(v) for k, v in settings.CSP_POLICY.items()}
    directives["form-action"] = [*directives.get("form-action", []), source]
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


@method_decorator(never_cache, name="dispatch")
class ConsentView(AuthorizationView):
    """The authorization endpoint: names the app, each scope in plain words and the expiry;
    the signed-in user approves or denies, for themself or a family member they manage."""

    template_name = "oauth/authorize.html"
    form_class = ConsentForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["subjects"] = oauth.consent_subjects(self.request.user)
        return kwargs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        scopes = kwargs.get("scopes") or []
        context["scope_rows"] = [(s, SCOPES.get(s, s)) for s in scopes]
        context["expiry"] = expiry_text(scopes)
        return context

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        redirect_uri = context.get("redirect_uri")  # set once the app's request is valid
        if redirect_uri and not context.get("error"):
            response.headers["Content-Security-Policy"] = _consent_policy(redirect_uri)
        return response

    def form_valid(self, form):
        self.patient = form.cleaned_data["patient"]
        return super().form_valid(form)

    def create_authorization_response(self, request, scopes, credentials, allow):
        if not allow:
            return super().create_authorization_response(request, scopes, credentials, allow)
        credentials["patient"] = self.patient
        with transaction.atomic():
            result = super().create_authorization_response(request, scopes, credentials, allow)
            oauth.app_connection_approve(
                application=Application.objects.get(client_id=credentials["client_id"]),
                patient=self.patient,
                approved_by=request.user,
                scopes=scopes.split(),
            )
        return result


def _connections(request: HttpRequest, owner):
    return (
        ConnectedApp.objects.live()
        .filter(patient=owner)
        .select_related("application", "approved_by")
        .order_by("-created_at", "-id")
    )


@login_required
@require_GET
@never_cache
def settings_connected_apps(request: HttpRequest) -> HttpResponse:
    """The apps connected to my data (or the member's, `?member=`): what each may read, when
    it last did, and a button that disconnects it."""
    owner = page_owner(request)
    rows = [(c, [SCOPES.get(s, s) for s in c.scopes]) for c in _connections(request, owner)]
    return render(
        request,
        "settings/connected_apps.html",
        {
            "connections": rows,
            "can_revoke": access.can_write(request.user, owner.pk),
            "section": "connected-apps",
        },
    )


@login_required
@require_POST
def settings_connected_app_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    live = access.writable(ConnectedApp.objects.live(), request.user, owner_field="patient")
    connection = get_object_or_404(live.select_related("application"), pk=pk)
    oauth.app_connection_revoke(connection=connection, revoked_by=request.user)
    messages.success(
        request,
        f"“{connection.application.name}” is disconnected. Its next request will be refused.",
    )
    url = reverse("settings-connected-apps")
    if connection.patient_id != request.user.pk:
        url += f"?{access.MEMBER_PARAM}={connection.patient_id}"
    return redirect(url)


def _token_rate(group, request) -> str:
    return settings.AUTH_RATE_LIMIT


def _client_key(group, request) -> str:
    """The client asking (form `client_id`, or HTTP Basic), so one app's limit holds from
    every address."""
    client_id = request.POST.get("client_id", "")
    header = request.headers.get("Authorization", "")
    if not client_id and header.lower().startswith("basic "):
        try:
            client_id = base64.b64decode(header[6:]).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            client_id = ""
    return unquote_plus(client_id)[:100] or "-"


@method_decorator(
    ratelimit(group="oauth:token:ip", key="ip", rate=_token_rate, method="POST", block=False),
    name="post",
)
@method_decorator(
    ratelimit(
        group="oauth:token:client", key=_client_key, rate=_token_rate, method="POST", block=False
    ),
    name="post",
)
class TokenView(oauth2_views.TokenView):
    """django-oauth-toolkit's token endpoint, limited like the other credential endpoints
    (`AUTH_RATE_LIMIT` per IP and per client): 429 with Retry-After beyond it."""

    def post(self, request, *args, **kwargs):
        if getattr(request, "limited", False):
            response = JsonResponse(
                {"error": "slow_down", "error_description": "Too many token requests."},
                status=429,
            )
            response["Retry-After"] = "60"
            return response
        return super().post(request, *args, **kwargs)


@require_GET
def authorization_server_metadata(request: HttpRequest) -> JsonResponse:
    """RFC 8414 metadata: where to authorize, get and revoke tokens, and what is supported."""
    origin = request.build_absolute_uri("/").rstrip("/")
    return JsonResponse(
        {
            "issuer": origin,
            "authorization_endpoint": f"{origin}{reverse('oauth-authorize')}",
            "token_endpoint": f"{origin}{reverse('oauth-token')}",
            "revocation_endpoint": f"{origin}{reverse('oauth-revoke-token')}",
            "scopes_supported": [*PATIENT_SCOPES, *SYSTEM_SCOPES],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                "client_credentials",
            ],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "code_challenge_methods_supported": ["S256"],
            "service_documentation": f"{origin}/api/docs/",
        }
    )
