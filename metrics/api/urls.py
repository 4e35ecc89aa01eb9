from django.urls import path

from metrics.api import views

urlpatterns = [
    path("metric-types", views.MetricTypeListView.as_view(), name="api-metric-types"),
    path("health-metrics", views.HealthMetricListCreateView.as_view(), name="api-metrics"),
    path("health-metrics/summary", views.SummaryView.as_view(), name="api-metrics-summary"),
    path(
        "health-metrics/aggregates", views.AggregatesView.as_view(), name="api-metrics-aggregates"
    ),
    path(
        "health-metrics/user/<int:user_id>",
        views.HealthMetricUserListView.as_view(),
        name="api-metrics-user",
    ),
    path("health-metrics/<int:pk>", views.HealthMetricDetailView.as_view(), name="api-metric"),
    path("devices", views.DeviceListCreateView.as_view(), name="api-devices"),
    path("devices/<int:pk>", views.DeviceDetailView.as_view(), name="api-device"),
    path("devices/<int:pk>/sync", views.DeviceSyncView.as_view(), name="api-device-sync"),
]
