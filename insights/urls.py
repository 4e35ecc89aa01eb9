from django.urls import path

from insights import views

urlpatterns = [
    path("insights/", views.insights_index, name="insights"),
    path("insights/<int:pk>/acknowledge/", views.insight_acknowledge, name="insights-acknowledge"),
    path("insights/<int:pk>/read/", views.insight_read, name="insights-read"),
    path("quick-log/<slug:kind>/", views.quick_log, name="quick-log"),
]
