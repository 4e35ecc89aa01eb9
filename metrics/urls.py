from django.urls import path

from metrics import views
from metrics.sharing import link_page, settings_page

urlpatterns = [
    path("share/<str:token>", link_page.share_page, name="share-page"),
    path("metrics/", views.metrics_index, name="metrics-index"),
    path("metrics/<slug:code>/", views.metric_type_page, name="metrics-type"),
    path("metrics/<slug:code>/add/", views.metric_add, name="metrics-add"),
    path("metrics/<slug:code>/<int:pk>/edit/", views.metric_edit, name="metrics-edit"),
    path("metrics/<slug:code>/<int:pk>/delete/", views.metric_delete, name="metrics-delete"),
    path("settings/devices/", views.settings_devices, name="settings-devices"),
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
