from django.urls import path

from nutrition.api import views

log_list = views.NutritionLogViewSet.as_view({"get": "list", "post": "create"})
log_detail = views.NutritionLogViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
)
log_for_user = views.NutritionLogViewSet.as_view({"get": "list"})

urlpatterns = [
    path("nutrition-logs", log_list, name="api-nutrition-logs"),
    path("nutrition-logs/daily", views.DailyTotalsView.as_view(), name="api-nutrition-daily"),
    path("nutrition-logs/user/<int:user_id>", log_for_user, name="api-nutrition-logs-user"),
    path("nutrition-logs/<int:pk>", log_detail, name="api-nutrition-log-detail"),
    path(
        "nutrition-logs/<int:pk>/photo",
        views.MealPhotoView.as_view(),
        name="api-nutrition-log-photo",
    ),
    path(
        "nutrition-logs/<int:pk>/photo/image",
        views.MealPhotoFileView.as_view(),
        name="api-nutrition-log-photo-image",
    ),
    path(
        "nutrition-logs/<int:pk>/photo/thumbnail",
        views.MealPhotoThumbnailView.as_view(),
        name="api-nutrition-log-photo-thumbnail",
    ),
    path("foods", views.FoodListView.as_view(), name="api-foods"),
    path("foods/<int:pk>", views.FoodDetailView.as_view(), name="api-food-detail"),
    path("nutrition-targets", views.NutritionTargetsView.as_view(), name="api-nutrition-targets"),
]
