from django.urls import path

from goals.api import program_views as views

urlpatterns = [
    path("programs", views.ProgramList.as_view(), name="api-programs"),
    path("programs/<int:pk>", views.ProgramDetail.as_view(), name="api-program"),
    path(
        "programs/<int:pk>/adherence",
        views.ProgramAdherenceView.as_view(),
        name="api-program-adherence",
    ),
    path(
        "programs/<int:pk>/history", views.ProgramHistoryView.as_view(), name="api-program-history"
    ),
]
