from django.urls import include, path

from goals.api import views

goal_list = views.HealthGoalViewSet.as_view({"get": "list", "post": "create"})
goal_detail = views.HealthGoalViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
)
goal_for_user = views.HealthGoalViewSet.as_view({"get": "list"})

urlpatterns = [
    path("health-goals", goal_list, name="api-health-goals"),
    path("health-goals/user/<int:user_id>", goal_for_user, name="api-health-goals-user"),
    path("health-goals/<int:pk>", goal_detail, name="api-health-goal-detail"),
    path("", include("goals.care_programs.api.urls")),
]
