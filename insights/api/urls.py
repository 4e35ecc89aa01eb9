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
    path(
        "recommendations/cache-stats",
        views.RecommendationsCacheStatsView.as_view(),
        name="api-recommendations-cache-stats",
    ),
    path(
        "recommendations/<int:user_id>",
        views.RecommendationsView.as_view(),
        name="api-recommendations",
    ),
    path("advice/water", views.WaterAdviceView.as_view(), name="api-advice-water"),
    path("advice/gym", views.GymAdviceView.as_view(), name="api-advice-gym"),
    path("advice/food", views.FoodAdviceView.as_view(), name="api-advice-food"),
]
