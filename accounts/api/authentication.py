"""API authentication that also names the user as the actor of auditlog's change rows."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication

from accounts.audit import audit_actor_set


class AuditedJWTAuthentication(JWTAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            audit_actor_set(result[0])
        return result


class AuditedJWTScheme(SimpleJWTScheme):
    """The OpenAPI description: the same bearer JWT scheme as simplejwt's."""

    target_class = "accounts.api.authentication.AuditedJWTAuthentication"
