"""GUI pages of the SCEP server: SCEP > General, SCEP > Enrollment Requests, and the SCEP
exchanges of Debug > Others > SCEP/CMP."""

from django.urls import path

from scep.gui import views

urlpatterns = [
    path("scep/general/", views.SCEPGeneralView.as_view(), name="scep_general"),
    path("scep/enrollments/", views.SCEPEnrollmentListView.as_view(), name="scep_enrollments"),
    path(
        "scep/enrollments/add/",
        views.SCEPEnrollmentCreateView.as_view(),
        name="scep_enrollment_create",
    ),
    path(
        "scep/enrollments/<int:pk>/",
        views.SCEPEnrollmentDetailView.as_view(),
        name="scep_enrollment_detail",
    ),
    path(
        "scep/enrollments/<int:pk>/edit/",
        views.SCEPEnrollmentEditView.as_view(),
        name="scep_enrollment_edit",
    ),
    path(
        "scep/enrollments/<int:pk>/reset/",
        views.SCEPEnrollmentResetView.as_view(),
        name="scep_enrollment_reset",
    ),
    path("debug/scep/<int:pk>/", views.TraceDetailView.as_view(), name="scep_trace"),
    path(
        "debug/scep/<int:pk>/request.der",
        views.TraceDERView.as_view(part="request"),
        name="scep_trace_request",
    ),
    path(
        "debug/scep/<int:pk>/response.der",
        views.TraceDERView.as_view(part="response"),
        name="scep_trace_response",
    ),
]
