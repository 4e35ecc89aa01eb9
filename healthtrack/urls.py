from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from healthtrack import dashboard, health, observability

# The hot endpoints' URLconfs first: a request is matched against the patterns in order, and
# the API's are resolved first of all (no page URL starts with api/v1/, so no match changes).
api_v1 = [
    path("", include("metrics.api.urls")),
    path("", include("insights.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("metrics.sharing.api_urls")),
    path("", include("nutrition.api.urls")),
    path("", include("goals.api.urls")),
    path("", include("healthtrack.portability.api.urls")),
    path("", include("healthtrack.changes.urls")),
    path("", include("healthtrack.webhooks.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("metrics", observability.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include("metrics.urls")),
    path("", include("metrics.sharing.urls")),
    # FHIR R4 read API for OAuth apps (healthtrack/fhir): reads metrics, nutrition and goals.
    path("fhir/", include("healthtrack.fhir.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script from a URL, so no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("", include("healthtrack.portability.urls")),
    # Browser pages, one URLconf per app (metrics' is included above).
    path("", include("nutrition.urls")),
    path("", include("goals.urls")),
    path("", include("insights.urls")),
    path("dashboard/", dashboard.dashboard_page, name="dashboard"),
    path("", include("accounts.urls")),
]

handler404 = "healthtrack.request_errors.not_found"
# A database or Redis outage is a 503 with Retry-After (JSON under /api/), not a 500.
handler500 = "healthtrack.outages.server_error"
