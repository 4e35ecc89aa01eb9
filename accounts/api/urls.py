from django.urls import include, path

from accounts.api import directory, views

user_detail = views.UserViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
)

urlpatterns = [
    path("users/register", views.RegisterView.as_view(), name="api-register"),
    path("users/me", views.MeView.as_view(), name="api-me"),
    # Care teams, share grants, the patient's access log.
    path("", include("accounts.api.care_urls")),
    path("", include("accounts.api.family_urls")),
    path("users/<int:pk>", user_detail, name="api-user-detail"),
    # Staff only (404 for everyone else).
    path("users/", directory.UserDirectoryView.as_view(), name="api-user-directory"),
    path(
        "users/username/<str:username>",
        directory.UserByUsernameView.as_view(),
        name="api-user-by-username",
    ),
    path("auth/token/", views.TokenObtainView.as_view(), name="api-token"),
    path(
        "auth/token/refresh/", views.TokenRefreshThrottledView.as_view(), name="api-token-refresh"
    ),
    path("auth/token/revoke/", views.TokenRevokeView.as_view(), name="api-token-revoke"),
]
