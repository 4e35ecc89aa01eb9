from django.urls import path

from healthtrack.portability.api import views

urlpatterns = [
    path("imports", views.ImportListCreateView.as_view(), name="api-imports"),
    path(
        "imports/templates/<str:kind>.csv",
        views.ImportTemplateView.as_view(),
        name="api-import-template",
    ),
    path("imports/<int:pk>", views.ImportDetailView.as_view(), name="api-import"),
    path("export", views.ExportView.as_view(), name="api-export"),
    path("export/report", views.ReportView.as_view(), name="api-export-report"),
]
