"""OAuth scopes (SMART App Launch v2 style) and what each lets a token do.

A scope is `<context>/<Resource>.<interactions>` or `offline_access`:
- context `patient` (authorization code: one patient, chosen on the consent page) or `system`
  (client credentials: a clinic back-end reading its care team's patients);
- interactions from SMART's `cruds`: `r` read one, `s` search, `c` create.

The scope only narrows a token: whose data it reaches is still decided by `accounts.access`
for the token's user. A scope the token lacks is 403; someone else's data stays 404.
"""

from __future__ import annotations

from oauth2_provider.scopes import BaseScopes

OFFLINE_ACCESS = "offline_access"

# Scope -> what it lets the app do, in plain words for the consent page.
PATIENT_SCOPES: dict[str, str] = {
    "patient/Patient.rs": "See your name, sex and date of birth",
    "patient/Observation.rs": (
        "Read your measurements (steps, heart rate, blood pressure, weight, glucose, sleep…) "
        "and the nutrients of your food diary entries"
    ),
    "patient/Observation.c": "Add new measurements",
    "patient/Goal.rs": "Read your health goals and your progress towards them",
    OFFLINE_ACCESS: "Stay connected when you are not using the app, until you disconnect it",
}
SYSTEM_SCOPES: dict[str, str] = {
    "system/Patient.rs": "Read the profiles of the clinic's care-team patients",
    "system/Observation.rs": "Read the measurements of the clinic's care-team patients",
    "system/Goal.rs": "Read the health goals of the clinic's care-team patients",
}
SCOPES: dict[str, str] = {**PATIENT_SCOPES, **SYSTEM_SCOPES}
DEFAULT_SCOPES = ["patient/Patient.rs", "patient/Observation.rs"]
READ, SEARCH, CREATE = "r", "s", "c"


def scope_allows(scopes: set[str] | list[str] | str, resource: str, interaction: str) -> bool:
    """Does a token holding `scopes` (a set or a space-separated string) allow `interaction`
    ("r", "s", "c") on FHIR `resource` ("Observation")? Either context counts: a token only
    ever holds the scopes of its own grant type (`SmartScopes.get_available_scopes`)."""
    if isinstance(scopes, str):
        scopes = scopes.split()
    for scope in scopes:
        context, _, rest = scope.partition("/")
        name, _, interactions = rest.partition(".")
        if context in ("patient", "system") and name == resource and interaction in interactions:
            return True
    return False


class SmartScopes(BaseScopes):
    """django-oauth-toolkit's scopes backend: the table above for every application."""

    def get_all_scopes(self) -> dict[str, str]:
        return dict(SCOPES)

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        if application is not None and application.authorization_grant_type == (
            "client-credentials"
        ):
            return list(SYSTEM_SCOPES)
        return list(PATIENT_SCOPES)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        if application is not None and application.authorization_grant_type == (
            "client-credentials"
        ):
            return ["system/Observation.rs"]
        return list(DEFAULT_SCOPES)
