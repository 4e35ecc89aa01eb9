"""The share link's API (under /api/v1/, included by healthtrack/urls.py)."""

from django.urls import path

from metrics.sharing import api

urlpatterns = [
    path("share/<str:token>", api.ShareLinkDataView.as_view(), name="api-share-link"),
]
