"""The admin site: with `ADMIN_REQUIRE_2FA` on (always in production), staff need a
TOTP-verified session.

A staff user with a confirmed device logs in with password plus code. One without a device
logs in with the password and reaches only the enrolment page, which says to ask an
administrator for a one-time enrolment link (accounts.otp): a password alone never adds a
device. The link (valid 24 h, once, for that account only) shows the secret and QR code once;
the admin opens after a code from the new device confirms it.

The login is rate-limited per IP and per account like the site's (accounts.views
`auth_limited`: AUTH_RATE_LIMIT), on top of the per-account lock-out.

An admin clinician's index is their triage list (healthtrack.triage); the patient page, one
alert's page, the note box and a patient's audit trail are healthtrack.clinician_views.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import login as otp_login
from django_ratelimit.core import is_ratelimited

from accounts import access, otp
from healthtrack.core.api.ratelimits import account_key

ENROL_SESSION_KEY = "ht_otp_enrol_device"
RATE_LIMITED_MESSAGE = (
    "Too many attempts. For your security we paused this for a minute. "
    "Wait a minute, then try again."
)
RETRY_AFTER_SECONDS = 60


def _admin_login_limited(request) -> bool:
    """Count this POST against the admin login's limits, per IP and per account (the site
    login's rule and rate, its own groups); True when either is over."""
    limited = False
    for scope, key in (("ip", "ip"), ("account", account_key)):
        limited |= is_ratelimited(
            request,
            group=f"web:admin-login:{scope}",
            key=key,
            rate=settings.AUTH_RATE_LIMIT,
            method="POST",
            increment=True,
        )
    return limited


class AdminLoginForm(AdminAuthenticationForm):
    otp_token = forms.CharField(
        label="Authentication code",
        required=False,
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is None:
            return cleaned
        token = cleaned.get("otp_token")
        if settings.ADMIN_REQUIRE_2FA and otp.has_confirmed_device(user) and not token:
            raise forms.ValidationError("Enter the code from your authenticator app.")
        if token:
            device = otp.verify(user, token)
            if device is None:
                raise forms.ValidationError("That authentication code is not valid.")
            # django-otp's user_logged_in receiver stores the device in the session.
            user.otp_device = device
        return cleaned


class HealthTrackAdminSite(admin.AdminSite):
    site_header = "HealthTrack administration"
    site_title = "HealthTrack admin"
    login_form = AdminLoginForm
    login_template = "admin/healthtrack_login.html"

    def has_permission(self, request) -> bool:
        if not super().has_permission(request):
            return False
        if settings.ADMIN_REQUIRE_2FA:
            is_verified = getattr(request.user, "is_verified", None)
            return bool(is_verified and is_verified())
        return True

    def _needs_enrolment(self, request) -> bool:
        user = request.user
        return (
            settings.ADMIN_REQUIRE_2FA
            and user.is_authenticated
            and user.is_active
            and user.is_staff
            and not otp.has_confirmed_device(user)
        )

    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        if request.method == "GET" and self._needs_enrolment(request):
            return HttpResponseRedirect(reverse("admin:otp_enrol", current_app=self.name))
        if request.method == "POST" and _admin_login_limited(request):
            # No password is checked: the form comes back unbound, with the message.
            context = {
                **self.each_context(request),
                "title": "Log in",
                "app_path": request.get_full_path(),
                "form": self.login_form(request),
                "username": request.POST.get("username", ""),
                "rate_limited_message": RATE_LIMITED_MESSAGE,
                "next": request.POST.get("next", ""),
            }
            response = render(request, self.login_template, context, status=429)
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        response = super().login(request, extra_context)
        if request.method == "POST" and self._needs_enrolment(request):
            return HttpResponseRedirect(reverse("admin:otp_enrol", current_app=self.name))
        return response

    def get_urls(self):
        return [
            path("2fa/enrol/", self.otp_enrol_view, name="otp_enrol"),
            path("2fa/enrol/<str:token>/", self.otp_enrol_link_view, name="otp_enrol_link"),
            path(
                "patients/<int:user_id>/",
                self.admin_view(self.patient_page_view),
                name="patient_page",
            ),
            path(
                "patients/<int:user_id>/notes/",
                self.admin_view(self.patient_note_view),
                name="patient_note",
            ),
            path(
                "patients/<int:user_id>/audit/",
                self.admin_view(self.patient_audit_view),
                name="patient_audit",
            ),
            path(
                "alerts/<int:alert_id>/",
                self.admin_view(self.alert_page_view),
                name="alert_page",
            ),
            *super().get_urls(),
        ]

    @method_decorator(never_cache)
    def index(self, request, extra_context=None):
        """An admin clinician's home is their triage list; everyone else gets the usual index."""
        if access.is_admin_clinician(request.user) and not request.user.is_superuser:
            from healthtrack.clinician_views import triage_index

            return triage_index(request, admin_site=self)
        return super().index(request, extra_context)

    def patient_note_view(self, request, user_id: int):
        from healthtrack.clinician_views import patient_note

        return patient_note(request, user_id, admin_site=self)

    def patient_audit_view(self, request, user_id: int):
        from healthtrack.clinician_views import patient_audit

        return patient_audit(request, user_id, admin_site=self)

    def alert_page_view(self, request, alert_id: int):
        from healthtrack.clinician_views import alert_page

        return alert_page(request, alert_id, admin_site=self)

    def patient_page_view(self, request, user_id: int):
        """A patient's alerts, recommendations, profile, readings, chart and goals
        (healthtrack.patient_page): superusers and the patient's clinicians; others 404."""
        from healthtrack.patient_page import patient_page  # reads every app's models

        return patient_page(request, user_id, admin_site=self)

    def _enrol_user_or_redirect(self, request):
        user = request.user
        if not user.is_authenticated:
            login_url = reverse("admin:login", current_app=self.name)
            return None, HttpResponseRedirect(f"{login_url}?next={request.path}")
        if not (user.is_active and user.is_staff):
            raise PermissionDenied
        return user, None

    @method_decorator(never_cache)
    @method_decorator(csrf_protect)
    def otp_enrol_view(self, request):
        """Without a link: says how to get one (a password alone adds no device). POST: the
        code confirming the device started by a link opened in this session."""
        user, redirect = self._enrol_user_or_redirect(request)
        if redirect:
            return redirect
        context = {**self.each_context(request), "title": "Set up two-factor authentication"}
        if otp.has_confirmed_device(user):
            context["already_enrolled"] = True
            return render(request, "admin/otp_enrol.html", context)
        pending = request.session.get(ENROL_SESSION_KEY)
        if request.method == "POST" and pending:
            device = otp.otp_enrol_confirm(
                user=user, token=request.POST.get("otp_token", ""), device_id=pending
            )
            if device is not None:
                request.session.pop(ENROL_SESSION_KEY, None)
                otp_login(request, device)
                return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
            context.update(show_form=True, error="That code is not valid. Try the current one.")
            return render(request, "admin/otp_enrol.html", context, status=400)
        context["needs_link"] = True
        status = 400 if request.method == "POST" else 200
        return render(request, "admin/otp_enrol.html", context, status=status)

    @method_decorator(never_cache)
    @method_decorator(csrf_protect)
    def otp_enrol_link_view(self, request, token: str):
        """A one-time enrolment link: for the signed-in staff user it was issued to, once,
        within 24 h. Shows the new secret and QR code; the code is posted to `otp_enrol`."""
        user, redirect = self._enrol_user_or_redirect(request)
        if redirect:
            return redirect
        if request.method != "GET":
            return HttpResponseRedirect(reverse("admin:otp_enrol", current_app=self.name))
        device = otp.otp_enrol_link_use(user=user, token=token)
        if device is None:
            context = {**self.each_context(request), "title": "Enrolment link not valid"}
            context["link_invalid"] = True
            return render(request, "admin/otp_enrol.html", context, status=404)
        request.session[ENROL_SESSION_KEY] = device.pk
        context = {
            **self.each_context(request),
            "title": "Set up two-factor authentication",
            "show_form": True,
            "secret": otp.secret_base32(device),
            "qr_svg": otp.qr_svg(device),
        }
        return render(request, "admin/otp_enrol.html", context)
