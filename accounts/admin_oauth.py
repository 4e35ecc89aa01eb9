"""Registering third-party apps (django-oauth-toolkit Applications) in the admin.

Superusers only. An app is a public client (a mobile or browser app: authorization code with
PKCE) or a confidential one; client credentials are for clinic back-ends, whose owner must be
a clinician (the token then reads that clinician's care-team patients). Consent is never
skipped. The toolkit's token and grant admins are not shown: a connection is revoked by the
patient ("Connected apps"), and tokens are secrets.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from oauth2_provider.models import Application

from accounts import access
from accounts.admin_care import SuperuserViewMixin

GRANT_TYPES = [
    (Application.GRANT_AUTHORIZATION_CODE, "Authorization code (with PKCE): a patient connects"),
    (Application.GRANT_CLIENT_CREDENTIALS, "Client credentials: a clinic back-end"),
]


class ApplicationForm(forms.ModelForm):
    authorization_grant_type = forms.ChoiceField(choices=GRANT_TYPES)

    class Meta:
        model = Application
        fields = [
            "name",
            "user",
            "client_type",
            "authorization_grant_type",
            "redirect_uris",
            "allowed_origins",
            "client_id",
            "client_secret",
            "hash_client_secret",
        ]

    def clean(self):
        cleaned = super().clean()
        grant = cleaned.get("authorization_grant_type")
        if grant == Application.GRANT_CLIENT_CREDENTIALS:
            if not access.is_clinician(cleaned.get("user")):
                self.add_error("user", "A clinic back-end must belong to a clinician.")
            if cleaned.get("client_type") != Application.CLIENT_CONFIDENTIAL:
                self.add_error("client_type", "Client credentials need a confidential client.")
        return cleaned


class ApplicationAdmin(SuperuserViewMixin, admin.ModelAdmin):
    form = ApplicationForm
    list_display = ["name", "client_id", "client_type", "authorization_grant_type", "user"]
    list_filter = ["client_type", "authorization_grant_type"]
    search_fields = ["name", "client_id"]
    raw_id_fields = ["user"]

    def has_add_permission(self, request) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_change_permission(self, request, obj=None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_delete_permission(self, request, obj=None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def save_model(self, request, obj, form, change) -> None:
        obj.skip_authorization = False  # every connection goes through the consent page
        super().save_model(request, obj, form, change)
