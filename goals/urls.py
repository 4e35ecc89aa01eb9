from django.urls import path

from goals import views

urlpatterns = [
    path("goals/", views.goals_index, name="goals"),
    path("goals/new/", views.goal_new, name="goals-new"),
    path("goals/new/<slug:goal_type>/", views.goal_create, name="goals-create"),
    path("goals/<int:pk>/edit/", views.goal_edit, name="goals-edit"),
    path("goals/<int:pk>/abandon/", views.goal_abandon, name="goals-abandon"),
]

# The family manager's verification queue of care-program logs (goals.care_programs.views).
from goals.care_programs import views as log_pages  # noqa: E402

urlpatterns += [
    path("programs/logs/queue/", log_pages.log_queue, name="program-log-queue"),
    path("programs/logs/<int:pk>/review/", log_pages.log_review, name="program-log-review"),
]
