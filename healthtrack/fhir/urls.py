from django.urls import path

from healthtrack.fhir import views

urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="fhir-metadata"),
    path(
        ".well-known/smart-configuration",
        views.SmartConfigurationView.as_view(),
        name="fhir-smart-configuration",
    ),
    path("Patient", views.PatientSearchView.as_view(), name="fhir-patient-search"),
    path("Patient/<str:id>", views.PatientReadView.as_view(), name="fhir-patient-read"),
    path("Observation", views.ObservationSearchView.as_view(), name="fhir-observation-search"),
    path("Observation/<str:id>", views.ObservationReadView.as_view(), name="fhir-observation-read"),
    path("Goal", views.GoalSearchView.as_view(), name="fhir-goal-search"),
    path("Goal/<str:id>", views.GoalReadView.as_view(), name="fhir-goal-read"),
    path("<path:rest>", views.NotFoundView.as_view(), name="fhir-not-found"),
]
