from django.urls import path

from healthtrack.changes.api import ChangeFeedView

urlpatterns = [
    path("changes", ChangeFeedView.as_view(), name="api-changes"),
]
