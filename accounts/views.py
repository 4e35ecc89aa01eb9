"""Browser pages of the accounts app: public pages and settings (the dashboard page is
assembled above the apps: healthtrack/dashboard.py).

Thin views: a form validates, one service function writes, a message says what happened.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, PasswordResetForm
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe
from django_ratelimit.decorators import ratelimit

from accounts import access, credentials, services
from accounts.api_tokens import api_token_create, api_token_revoke
from accounts.forms import (
    ApiTokenCreateForm,
    DeleteAccountForm,
    LoginForm,
    ProfileForm,
    SignupForm,
)
from accounts.members import page_owner
from accounts.models import AccessLog, ApiToken, User
from healthtrack.core.api.ratelimits import account_key
from healthtrack.core.once import pop_secret, stash_secret
from healthtrack.core.pages import FormStatusMixin, form_status

RETRY_AFTER_SECONDS = 60
RATE_LIMITED_MESSAGE = (
    "Too many attempts. For your security we paused this for a minute. "
    "Wait a minute, then try again."
)


# --- rate limits ----------------------------------------------------------------------------


def _auth_rate(group, request) -> str:
    return settings.AUTH_RATE_LIMIT


def auth_limited(name: str, template_name: str, form_class, keep: tuple[str, ...]):
    """Limit POSTs per IP and per account (the username or e-mail typed) to AUTH_RATE_LIMIT.

    Over the limit the page is shown again with a message and status 429, its form unbound
    but keeping the `keep` fields as typed. The request goes no further: no password is
    checked, no account created, no e-mail sent.
    """

    def decorator(view):
        @wraps(view)
        def limited_view(request, *args, **kwargs):
            if getattr(request, "limited", False):
                form = form_class(initial={f: request.POST.get(f, "") for f in keep})
                response = render(
                    request,
                    template_name,
                    {"form": form, "rate_limited_message": RATE_LIMITED_MESSAGE},
                    status=429,
                )
                response["Retry-After"] = str(RETRY_AFTER_SECONDS)
                return response
            return view(request, *args, **kwargs)

        for scope, key in (("account", account_key), ("ip", "ip")):
            limited_view = ratelimit(
                group=f"web:{name}:{scope}", key=key, rate=_auth_rate, method="POST", block=False
            )(limited_view)
        return limited_view

    return decorator


# --- public pages ---------------------------------------------------------------------------


def favicon(request: HttpRequest) -> HttpResponse:
    # Resolved per request: with the manifest storage the hashed name exists only after
    # collectstatic, which runs after the URLconf is first imported.
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


def landing(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "landing.html")


@sensitive_post_parameters("password1", "password2")
@never_cache
@auth_limited("signup", "accounts/signup.html", SignupForm, keep=("username", "email"))
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and form.save(base_url=_base_url(request)):
        # The same answer whether or not the name or address was free (no enumeration).
        return redirect("signup_sent")
    return render(request, "accounts/signup.html", {"form": form}, status=form_status(form))


@require_safe
def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup_sent.html")


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


@method_decorator(
    auth_limited("login", "accounts/login.html", LoginForm, keep=("username",)), name="dispatch"
)
class LoginView(FormStatusMixin, auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        # An admin clinician works in the admin: their home is the triage list there.
        if access.is_admin_clinician(self.request.user):
            return "/admin/"
        return super().get_default_redirect_url()


class LogoutView(auth_views.LogoutView):
    """POST only (Django's rule); says so after logging out."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You have logged out.")
        return response


@method_decorator(
    auth_limited(
        "password-reset", "accounts/password_reset_form.html", PasswordResetForm, keep=("email",)
    ),
    name="dispatch",
)
class PasswordResetView(FormStatusMixin, auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset_email.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(FormStatusMixin, auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        # The new password and the end of every old credential, together (accounts.credentials).
        with transaction.atomic():
            response = super().form_valid(form)
            credentials.password_changed(
                user=form.user, how="reset", base_url=_base_url(self.request)
            )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


# --- settings -------------------------------------------------------------------------------


def _own_profile(request: HttpRequest) -> User:
    """A fresh copy of the signed-in user's row: a rejected form must not alter request.user."""
    if not access.can_write(request.user, request.user.pk):
        raise Http404
    return get_object_or_404(User, pk=request.user.pk)


def _own_tokens(request: HttpRequest):
    # Credentials are the owner's alone: even someone allowed to read this person's health
    # data (accounts.access) never sees or revokes their tokens.
    return ApiToken.objects.active().filter(user=request.user)


@login_required
def settings_index(request: HttpRequest) -> HttpResponse:
    return redirect("settings-profile")


@login_required
def settings_profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=_own_profile(request))
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your profile is saved.")
        return redirect("settings-profile")
    return render(
        request,
        "settings/profile.html",
        {"form": form, "section": "profile"},
        status=form_status(form),
    )


# A new token waits in the session for the one page view that shows it (healthtrack.core.once).
NEW_TOKEN_SESSION_KEY = "accounts:new_api_token"


@login_required
@never_cache
def settings_tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token, raw = api_token_create(user=request.user, name=form.cleaned_data["name"])
        stash_secret(request, NEW_TOKEN_SESSION_KEY, raw)
        messages.success(request, f"Token “{token.name}” created. Copy it now.")
        return redirect("settings-tokens")
    new_token = pop_secret(request, NEW_TOKEN_SESSION_KEY) if request.method == "GET" else None
    return render(
        request,
        "settings/tokens.html",
        {
            "form": form,
            "tokens": _own_tokens(request),
            "new_token": new_token,
            "section": "tokens",
        },
        status=form_status(form),
    )


@login_required
@require_POST
def settings_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(_own_tokens(request), pk=pk)
    api_token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” revoked. Apps using it can no longer sign in.")
    return redirect("settings-tokens")


@login_required
@never_cache
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
def settings_password(request: HttpRequest) -> HttpResponse:
    """Change one's password (the old one first). Every other session, app and API token of
    the account ends; this session goes on (accounts.credentials)."""
    user = _own_profile(request)
    form = PasswordChangeForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            credentials.password_changed(user=user, how="changed", base_url=_base_url(request))
        update_session_auth_hash(request, user)
        messages.success(
            request,
            "Your password is changed. You were signed out everywhere else, and your API "
            "tokens were revoked: create new ones for the apps that need them.",
        )
        return redirect("settings-password")
    return render(
        request,
        "settings/password.html",
        {"form": form, "section": "password"},
        status=form_status(form),
    )


@login_required
@sensitive_post_parameters("password")
def settings_delete(request: HttpRequest) -> HttpResponse:
    user = _own_profile(request)
    form = DeleteAccountForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        services.user_soft_delete(user=user)
        logout(request)
        messages.info(request, "Your account is deleted. We are sorry to see you go.")
        return redirect("landing")
    return render(
        request,
        "settings/delete.html",
        {"form": form, "section": "delete"},
        status=form_status(form),
    )


ACCESS_LOG_PAGE_SIZE = 25


@login_required
def settings_access_log(request: HttpRequest) -> HttpResponse:
    """Who read my data (or the member's, `?member=`): the reads by anyone but the owner
    (accounts.audit), newest first."""
    owner = page_owner(request)
    entries = AccessLog.objects.filter(owner=owner).order_by("-at", "-id")
    page = Paginator(entries, ACCESS_LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "settings/access_log.html", {"page": page, "section": "access-log"})


@login_required
def settings_export(request: HttpRequest) -> HttpResponse:
    # Export lives on the "Your data" page (healthtrack.portability) with import and the report;
    # the query (`?member=`) goes along and that page checks it.
    query = request.GET.urlencode()
    return redirect(f"/settings/data/?{query}" if query else "/settings/data/", permanent=True)
