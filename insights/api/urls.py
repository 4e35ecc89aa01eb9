from django.urls import path

from insights.api import views

urlpatterns = [
    path("health-insights", views.InsightListCreateView.as_view(), name="api-insights"),
    path(
        "health-insights/user/<int:user_id>",
        views.UserInsightListView.as_view(),
        name="api-insights-user",
    ),
    path("health-insights/<int:pk>", views.InsightDetailView.as_view(), name="api-insight"),
]
