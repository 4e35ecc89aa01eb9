"""The sharing pages (included by healthtrack/urls.py, next to metrics' pages)."""

from django.urls import path

from metrics.sharing import link_page, settings_page

urlpatterns = [
    path("share/<str:token>", link_page.share_page, name="share-page"),
    path("settings/sharing/", settings_page.settings_sharing, name="settings-sharing"),
    path(
        "settings/sharing/care-team/<int:pk>/end/",
        settings_page.settings_care_team_end,
        name="settings-care-team-end",
    ),
    path(
        "settings/sharing/grants/<int:pk>/revoke/",
        settings_page.settings_share_revoke,
        name="settings-share-revoke",
    ),
]
