from django.urls import path

from healthtrack.webhooks import api

urlpatterns = [
    path("webhooks", api.SubscriptionListView.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>", api.SubscriptionDetailView.as_view(), name="api-webhook"),
    path(
        "webhooks/<int:pk>/deliveries",
        api.DeliveryListView.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_id>/replay",
        api.DeliveryReplayView.as_view(),
        name="api-webhook-delivery-replay",
    ),
    path("webhooks/<int:pk>/replay", api.ReplayRangeView.as_view(), name="api-webhook-replay"),
]
