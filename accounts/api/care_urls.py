from django.urls import path

from accounts.api import care_views

urlpatterns = [
    path("care-team/clinicians", care_views.MyClinicians.as_view(), name="api-my-clinicians"),
    path("care-team/patients", care_views.MyPatients.as_view(), name="api-my-patients"),
    path("care-team/<int:pk>/end", care_views.EndCareTeam.as_view(), name="api-care-team-end"),
    path("share-grants", care_views.MyShareGrants.as_view(), name="api-share-grants"),
    path(
        "share-grants/received",
        care_views.ReceivedShareGrants.as_view(),
        name="api-share-grants-received",
    ),
    path(
        "share-grants/<int:pk>/revoke",
        care_views.RevokeShareGrant.as_view(),
        name="api-share-grant-revoke",
    ),
    path("users/me/access-log", care_views.MyAccessLog.as_view(), name="api-my-access-log"),
]
