from django.urls import path

from goals.care_programs.api import views

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

# Care-program daily logs (goals.care_programs.api.log_views).
from goals.care_programs.api import log_views  # noqa: E402

urlpatterns += [
    path("logs", log_views.ProgramLogCreate.as_view(), name="api-program-logs"),
    path("logs/<int:pk>/verify", log_views.ProgramLogVerify.as_view(), name="api-log-verify"),
    path("logs/<int:pk>/reject", log_views.ProgramLogReject.as_view(), name="api-log-reject"),
]
