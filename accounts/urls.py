from django.urls import path

from accounts import views

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
    path("dashboard/", views.dashboard, name="dashboard"),
    path("settings/", views.settings_index, name="settings"),
    path("settings/profile/", views.settings_profile, name="settings-profile"),
    path("settings/password/", views.settings_password, name="settings-password"),
    path("settings/tokens/", views.settings_tokens, name="settings-tokens"),
    path(
        "settings/tokens/<int:pk>/revoke/",
        views.settings_token_revoke,
        name="settings-token-revoke",
    ),
    path("settings/access-log/", views.settings_access_log, name="settings-access-log"),
    path("settings/export/", views.settings_export, name="settings-export"),
    path("settings/delete/", views.settings_delete, name="settings-delete"),
]
