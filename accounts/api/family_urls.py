from django.urls import path

from accounts.api import family_views

urlpatterns = [
    path("family/members", family_views.FamilyMembers.as_view(), name="api-family-members"),
    path(
        "family/members/<int:pk>",
        family_views.FamilyMemberDetail.as_view(),
        name="api-family-member",
    ),
    path("family/access", family_views.FamilyAccess.as_view(), name="api-family-access"),
    path(
        "family/access/<int:pk>",
        family_views.FamilyAccessDetail.as_view(),
        name="api-family-access-detail",
    ),
]
