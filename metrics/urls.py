from django.urls import path

from metrics import share_views, views

urlpatterns = [
    path("share/<str:token>", share_views.share_page, name="share-page"),
    path("metrics/", views.metrics_index, name="metrics-index"),
    path("metrics/<slug:code>/", views.metric_type_page, name="metrics-type"),
    path("metrics/<slug:code>/add/", views.metric_add, name="metrics-add"),
    path("metrics/<slug:code>/<int:pk>/edit/", views.metric_edit, name="metrics-edit"),
    path("metrics/<slug:code>/<int:pk>/delete/", views.metric_delete, name="metrics-delete"),
    path("settings/devices/", views.settings_devices, name="settings-devices"),
    path("settings/sharing/", views.settings_sharing, name="settings-sharing"),
    path(
        "settings/sharing/care-team/<int:pk>/end/",
        views.settings_care_team_end,
        name="settings-care-team-end",
    ),
    path(
        "settings/sharing/grants/<int:pk>/revoke/",
        views.settings_share_revoke,
        name="settings-share-revoke",
    ),
]
