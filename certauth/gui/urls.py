"""URLs of the administrator GUI: login, dashboard, certificates, CAs, CRLs, CMP enrollment
requests and the logs (System, CMP, SCEP and Debug pages have their own modules)."""

from django.urls import path

from certauth.gui import (
    enroll_views,
    logs_views,
    views_auth,
    views_cas,
    views_certs,
    views_crls,
    views_dashboard,
)
from certauth.models import CertificateAuthority, Enrollment

LOCAL, TRUSTED = CertificateAuthority.Kind.LOCAL, CertificateAuthority.Kind.TRUSTED
USERS, SERVICES = views_certs.USERS, views_certs.SERVICES

urlpatterns = [
    path("login/", views_auth.LoginView.as_view(), name="login"),
    path("logout/", views_auth.LogoutView.as_view(), name="logout"),
    path("", views_dashboard.DashboardView.as_view(), name="dashboard"),
    # End entities
    path("cert/users/", views_certs.CertificateListView.as_view(section=USERS), name="cert_users"),
    path(
        "cert/users/new/",
        views_certs.CertificateCreateView.as_view(section=USERS),
        name="cert_user_create",
    ),
    path(
        "cert/users/bulk/",
        views_certs.CertificateBulkView.as_view(section=USERS),
        name="cert_users_bulk",
    ),
    path(
        "cert/services/",
        views_certs.CertificateListView.as_view(section=SERVICES),
        name="cert_services",
    ),
    path(
        "cert/services/new/",
        views_certs.CertificateCreateView.as_view(section=SERVICES),
        name="cert_service_create",
    ),
    path(
        "cert/services/bulk/",
        views_certs.CertificateBulkView.as_view(section=SERVICES),
        name="cert_services_bulk",
    ),
    path("cert/<int:pk>/", views_certs.CertificateDetailView.as_view(), name="cert_detail"),
    path(
        "cert/<int:pk>/export/<str:fmt>/",
        views_certs.CertificateExportView.as_view(),
        name="cert_export",
    ),
    path(
        "cert/<int:pk>/issued/<str:key>/",
        views_certs.CertificateIssuedView.as_view(),
        name="cert_issued",
    ),
    path(
        "cert/<int:pk>/issued/<str:key>/download/",
        views_certs.CertificateIssuedDownloadView.as_view(),
        name="cert_issued_download",
    ),
    path("cert/<int:pk>/revoke/", views_certs.CertificateRevokeView.as_view(), name="cert_revoke"),
    path(
        "cert/<int:pk>/unrevoke/",
        views_certs.CertificateUnrevokeView.as_view(),
        name="cert_unrevoke",
    ),
    path("cert/<int:pk>/delete/", views_certs.CertificateDeleteView.as_view(), name="cert_delete"),
    # Certificate authorities
    path("ca/local/", views_cas.CAListView.as_view(kind=LOCAL), name="ca_local"),
    path("ca/local/new/", views_cas.CACreateView.as_view(), name="ca_create"),
    path("ca/local/import/", views_cas.CAImportView.as_view(kind=LOCAL), name="ca_import"),
    path("ca/local/bulk/", views_cas.CABulkView.as_view(kind=LOCAL), name="ca_local_bulk"),
    path("ca/trusted/", views_cas.CAListView.as_view(kind=TRUSTED), name="ca_trusted"),
    path(
        "ca/trusted/import/", views_cas.CAImportView.as_view(kind=TRUSTED), name="ca_trusted_import"
    ),
    path("ca/trusted/bulk/", views_cas.CABulkView.as_view(kind=TRUSTED), name="ca_trusted_bulk"),
    path("ca/<int:pk>/", views_cas.CADetailView.as_view(), name="ca_detail"),
    path(
        "ca/<int:pk>/export/pkcs12/",
        views_cas.CAExportPKCS12View.as_view(),
        name="ca_export_pkcs12",
    ),
    path(
        "ca/<int:pk>/exported/<str:key>/",
        views_cas.CAExportedView.as_view(),
        name="ca_exported",
    ),
    path(
        "ca/<int:pk>/exported/<str:key>/download/",
        views_cas.CAExportedDownloadView.as_view(),
        name="ca_exported_download",
    ),
    path("ca/<int:pk>/export/<str:fmt>/", views_cas.CAExportView.as_view(), name="ca_export"),
    path("ca/<int:pk>/revoke/", views_cas.CARevokeView.as_view(), name="ca_revoke"),
    path("ca/<int:pk>/delete/", views_cas.CADeleteView.as_view(), name="ca_delete"),
    # CRLs
    path("ca/crls/", views_crls.CRLListView.as_view(), name="crl_list"),
    path(
        "ca/crls/<int:pk>/regenerate/",
        views_crls.CRLRegenerateView.as_view(),
        name="crl_regenerate",
    ),
    path("ca/crls/<int:pk>/<str:fmt>/", views_crls.CRLDownloadView.as_view(), name="crl_download"),
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
