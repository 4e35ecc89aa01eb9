"""drf-spectacular post-processing: every operation in a tag (grouped in /api/docs/) and with
a summary. Views that set their own tag (FHIR, changes) keep it; the rest are tagged by the
first segment of their path. Operations whose view gives no summary get one from SUMMARIES
(a view's own `extend_schema(summary=…)` wins). `tests/healthtrack/test_api_docs_tags.py`
fails on an operation without either."""

from __future__ import annotations

TAG_OF_SEGMENT = {
    "auth": "Authentication",
    "users": "Users",
    "family": "Family",
    "care-team": "Care teams",
    "share-grants": "Sharing",
    "share": "Sharing",
    "metric-types": "Measurements",
    "health-metrics": "Measurements",
    "devices": "Devices",
    "nutrition-logs": "Nutrition",
    "nutrition-targets": "Nutrition",
    "foods": "Nutrition",
    "health-goals": "Goals",
    "programs": "Care programs",
    "logs": "Care programs",
    "health-insights": "Insights",
    "recommendations": "Insights",
    "advice": "Insights",
    "imports": "Import and export",
    "export": "Import and export",
    "changes": "Change feed",
}

TAGS = [
    {"name": "Authentication", "description": "JWT sign-in, refresh and revocation."},
    {"name": "Users", "description": "Your profile, registration and who saw your data."},
    {"name": "Family", "description": "Family members you manage or may read."},
    {"name": "Care teams", "description": "Clinicians and their patients."},
    {"name": "Sharing", "description": "Share grants and share links."},
    {"name": "Measurements", "description": "Health measurements and their summary."},
    {"name": "Devices", "description": "Devices and their sync."},
    {"name": "Nutrition", "description": "Food diary, daily totals, targets, the food catalogue."},
    {"name": "Goals", "description": "Health goals and progress."},
    {"name": "Care programs", "description": "Care programs set by clinicians or managers."},
    {"name": "Insights", "description": "Insights, alerts, recommendations and advice."},
    {"name": "Import and export", "description": "Imports, exports and the PDF report."},
    {"name": "Change feed", "description": "What changed since a cursor (docs/developers.md)."},
    {"name": "Webhooks", "description": "An app's webhook subscriptions (OAuth token)."},
    {"name": "FHIR", "description": "FHIR R4 read API for OAuth apps (docs/developers.md)."},
]

SUMMARIES = {
    ("post", "/api/v1/logs/{id}/verify"): "Verify a care-program log",
    ("post", "/api/v1/logs/{id}/reject"): "Reject a care-program log",
    ("post", "/api/v1/advice/food"): "Food advice",
    ("post", "/api/v1/advice/gym"): "Exercise advice",
    ("post", "/api/v1/advice/water"): "Water intake advice",
    ("post", "/api/v1/auth/token/"): "Sign in (JWT pair)",
    ("post", "/api/v1/auth/token/refresh/"): "Refresh a JWT",
    ("post", "/api/v1/auth/token/revoke/"): "Revoke a refresh token",
    ("post", "/api/v1/care-team/{id}/end"): "End a care-team membership",
    ("get", "/api/v1/care-team/clinicians"): "List your clinicians",
    ("post", "/api/v1/care-team/clinicians"): "Add a clinician to your care team",
    ("get", "/api/v1/care-team/patients"): "List your patients (clinicians)",
    ("get", "/api/v1/foods/{id}"): "Read a food",
    ("get", "/api/v1/health-insights"): "List insights",
    ("post", "/api/v1/health-insights"): "Create an insight",
    ("get", "/api/v1/health-insights/{id}"): "Read an insight",
    ("patch", "/api/v1/health-insights/{id}"): "Update an insight",
    ("get", "/api/v1/health-insights/user/{user_id}"): "List a person's insights",
    ("get", "/api/v1/metric-types"): "List the metric types",
    ("get", "/api/v1/recommendations/{user_id}"): "Recommendations for a person",
    ("get", "/api/v1/recommendations/cache-stats"): "Recommendation cache statistics (staff)",
    ("get", "/api/v1/share-grants"): "List your share grants",
    ("post", "/api/v1/share-grants"): "Create a share grant",
    ("post", "/api/v1/share-grants/{id}/revoke"): "Revoke a share grant",
    ("get", "/api/v1/share-grants/received"): "List grants you received",
    ("get", "/api/v1/users/{id}"): "Read a user",
    ("put", "/api/v1/users/{id}"): "Replace a user's profile",
    ("patch", "/api/v1/users/{id}"): "Update a user's profile",
    ("delete", "/api/v1/users/{id}"): "Delete an account",
    ("get", "/api/v1/users/me"): "Your profile",
    ("get", "/api/v1/users/me/access-log"): "Who saw your data",
    ("post", "/api/v1/users/register"): "Register",
}
METHODS = {"get", "post", "put", "patch", "delete"}


def _tag_for(path: str) -> str | None:
    parts = path.split("/")
    if path.startswith("/api/v1/") and len(parts) > 3:
        return TAG_OF_SEGMENT.get(parts[3])
    return None


def tag_and_summarise(result, generator, request, public):
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            tags = operation.get("tags") or []
            if not tags or tags == ["api"]:
                tag = _tag_for(path)
                if tag is not None:
                    operation["tags"] = [tag]
            if not operation.get("summary") and (method, path) in SUMMARIES:
                operation["summary"] = SUMMARIES[(method, path)]
    result["tags"] = TAGS
    return result
