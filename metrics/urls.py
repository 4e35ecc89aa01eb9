from django.urls import path

from metrics import views

urlpatterns = [
    path("metrics/", views.metrics_index, name="metrics-index"),
    path("metrics/<slug:code>/", views.metric_type_page, name="metrics-type"),
    path("metrics/<slug:code>/add/", views.metric_add, name="metrics-add"),
    path("metrics/<slug:code>/<int:pk>/edit/", views.metric_edit, name="metrics-edit"),
    path("metrics/<slug:code>/<int:pk>/delete/", views.metric_delete, name="metrics-delete"),
    path("settings/devices/", views.settings_devices, name="settings-devices"),
]
