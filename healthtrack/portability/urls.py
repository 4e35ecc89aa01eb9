from django.urls import path

from healthtrack.portability import views

urlpatterns = [
    path("settings/data/", views.data_page, name="settings-data"),
]
