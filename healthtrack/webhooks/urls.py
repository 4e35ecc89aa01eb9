from django.urls import path

from healthtrack.webhooks import api

urlpatterns = [
    path("webhooks", api.SubscriptionListView.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>", api.SubscriptionDetailView.as_view(), name="api-webhook"),
]
