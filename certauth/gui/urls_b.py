"""GUI part B: CMP > Enrollment Requests and Logging > Logs."""

from django.urls import path

from certauth.gui import enroll_views, logs_views
from certauth.models import Enrollment

urlpatterns = [
    path("cmp/enrollments/", enroll_views.EnrollmentListView.as_view(), name="enrollment_list"),
    path(
        "cmp/enrollments/add/",
        enroll_views.EnrollmentCreateView.as_view(),
        name="enrollment_create",
    ),
    path(
        "cmp/enrollments/<int:pk>/",
        enroll_views.EnrollmentDetailView.as_view(),
        name="enrollment_detail",
    ),
    path(
        "cmp/enrollments/<int:pk>/edit/",
        enroll_views.EnrollmentEditView.as_view(),
        name="enrollment_edit",
    ),
    path(
        "cmp/enrollments/<int:pk>/approve/",
        enroll_views.EnrollmentStatusView.as_view(
            status=Enrollment.Status.APPROVED, verb="approved"
        ),
        name="enrollment_approve",
    ),
    path(
        "cmp/enrollments/<int:pk>/reject/",
        enroll_views.EnrollmentStatusView.as_view(
            status=Enrollment.Status.REJECTED, verb="rejected"
        ),
        name="enrollment_reject",
    ),
    path(
        "cmp/enrollments/<int:pk>/delete/",
        enroll_views.EnrollmentDeleteView.as_view(),
        name="enrollment_delete",
    ),
    path("logging/logs/", logs_views.LogListView.as_view(), name="log_list"),
    path("logging/logs/download/", logs_views.LogDownloadView.as_view(), name="log_download"),
    path("logging/logs/<int:pk>/", logs_views.LogDetailView.as_view(), name="log_detail"),
]
