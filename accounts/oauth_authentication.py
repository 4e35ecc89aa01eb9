"""DRF authentication by an OAuth2 access token (django-oauth-toolkit): `Authorization: Bearer`.

Used only by the views that take app tokens (the FHIR API): the JWT and personal-token classes
of `/api/v1/` never accept one, so an app's scopes cannot be side-stepped there. The token is
looked up on every request, so a revoked connection is refused on the app's next request.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework import exceptions

from accounts import oauth
from accounts.audit import audit_actor_set
from accounts.oauth_scopes import PATIENT_SCOPES, SYSTEM_SCOPES


class OAuthTokenAuthentication(OAuth2Authentication):
    www_authenticate_realm = "fhir"

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        _, token = result
        viewer = oauth.token_viewer(token)
        if viewer is None or not viewer.is_active or viewer.deleted_at is not None:
            raise exceptions.AuthenticationFailed("This app is no longer connected.")
        if token.user_id is not None:
            oauth.connection_touch(token)
        audit_actor_set(viewer)
        return viewer, token


class OAuthTokenScheme(OpenApiAuthenticationExtension):
    """Describes the scheme in the OpenAPI schema (drf-spectacular)."""

    target_class = "accounts.oauth_authentication.OAuthTokenAuthentication"
    name = "oauth2"

    def get_security_definition(self, auto_schema):
        return {
            "type": "oauth2",
            "description": (
                "OAuth2 (SMART App Launch style scopes). Authorization code with PKCE; "
                "client credentials for clinic back-ends. See docs/developers.md."
            ),
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "/o/authorize/",
                    "tokenUrl": "/o/token/",
                    "refreshUrl": "/o/token/",
                    "scopes": dict(PATIENT_SCOPES),
                },
                "clientCredentials": {
                    "tokenUrl": "/o/token/",
                    "scopes": dict(SYSTEM_SCOPES),
                },
            },
        }
