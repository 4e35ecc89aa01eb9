from django.urls import path
from oauth2_provider import views as oauth2_views

from accounts import oauth_views, views

urlpatterns = [
    # Browsers ask for /favicon.ico on pages that name no icon (the admin, the API).
    path("favicon.ico", views.favicon, name="favicon"),
    path("", views.landing, name="landing"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/signup/sent/", views.signup_sent, name="signup_sent"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password-reset/complete/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("settings/", views.settings_index, name="settings"),
    path("settings/profile/", views.settings_profile, name="settings-profile"),
    path("settings/password/", views.settings_password, name="settings-password"),
    path("settings/tokens/", views.settings_tokens, name="settings-tokens"),
    path(
        "settings/tokens/<int:pk>/revoke/",
        views.settings_token_revoke,
        name="settings-token-revoke",
    ),
    path("settings/apps/", oauth_views.settings_connected_apps, name="settings-connected-apps"),
    path(
        "settings/apps/<int:pk>/revoke/",
        oauth_views.settings_connected_app_revoke,
        name="settings-connected-app-revoke",
    ),
    # OAuth2 for third-party apps (accounts/oauth.py): consent, tokens, revocation, metadata.
    path("o/authorize/", oauth_views.ConsentView.as_view(), name="oauth-authorize"),
    path("o/token/", oauth_views.TokenView.as_view(), name="oauth-token"),
    path("o/revoke_token/", oauth2_views.RevokeTokenView.as_view(), name="oauth-revoke-token"),
    path(
        ".well-known/oauth-authorization-server",
        oauth_views.authorization_server_metadata,
        name="oauth-metadata",
    ),
    path("settings/access-log/", views.settings_access_log, name="settings-access-log"),
    path("settings/export/", views.settings_export, name="settings-export"),
    path("settings/delete/", views.settings_delete, name="settings-delete"),
]
