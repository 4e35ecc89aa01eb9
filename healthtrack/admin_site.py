"""The admin site: with `ADMIN_REQUIRE_2FA` on, staff need a TOTP-verified session.

A staff user with a confirmed device logs in with password plus code. One without a device
logs in with the password and is sent to the enrolment page (secret and QR code shown once),
and reaches the admin only after confirming a code from the new device.
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

from accounts import otp


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
        response = super().login(request, extra_context)
        if request.method == "POST" and self._needs_enrolment(request):
            return HttpResponseRedirect(reverse("admin:otp_enrol", current_app=self.name))
        return response

    def get_urls(self):
        return [
            path("2fa/enrol/", self.otp_enrol_view, name="otp_enrol"),
            path(
                "patients/<int:user_id>/",
                self.admin_view(self.patient_page_view),
                name="patient_page",
            ),
            *super().get_urls(),
        ]

    def patient_page_view(self, request, user_id: int):
        """A patient's alerts, recommendations, profile, readings, chart and goals
        (healthtrack.patient_page): superusers and the patient's clinicians; others 404."""
        from healthtrack.patient_page import patient_page  # reads every app's models

        return patient_page(request, user_id, admin_site=self)

    @method_decorator(never_cache)
    @method_decorator(csrf_protect)
    def otp_enrol_view(self, request):
        """Enrol a TOTP device: for a logged-in staff user without a confirmed one."""
        user = request.user
        if not user.is_authenticated:
            login_url = reverse("admin:login", current_app=self.name)
            return HttpResponseRedirect(f"{login_url}?next={request.path}")
        if not (user.is_active and user.is_staff):
            raise PermissionDenied
        context = {**self.each_context(request), "title": "Set up two-factor authentication"}
        if otp.has_confirmed_device(user):
            context["already_enrolled"] = True
            return render(request, "admin/otp_enrol.html", context)
        if request.method == "POST":
            device = otp.otp_enrol_confirm(user=user, token=request.POST.get("otp_token", ""))
            if device is not None:
                otp_login(request, device)
                return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
            context["error"] = "That code is not valid. Start again to get a new secret."
            return render(request, "admin/otp_enrol.html", context, status=400)
        device = otp.otp_enrol_start(user=user)
        context.update(secret=otp.secret_base32(device), qr_svg=otp.qr_svg(device))
        return render(request, "admin/otp_enrol.html", context)
