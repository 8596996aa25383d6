"""GUI: System > Administrators, System > Alerts and Change Password."""

from django.urls import path

from certauth.gui import views_system

urlpatterns = [
    path(
        "system/administrators/",
        views_system.AdministratorListView.as_view(),
        name="system_admins",
    ),
    path(
        "system/administrators/new/",
        views_system.AdministratorCreateView.as_view(),
        name="system_admin_create",
    ),
    path(
        "system/administrators/<int:pk>/",
        views_system.AdministratorDetailView.as_view(),
        name="system_admin_detail",
    ),
    path(
        "system/administrators/<int:pk>/password/",
        views_system.AdministratorPasswordResetView.as_view(),
        name="system_admin_password",
    ),
    path("system/password/", views_system.OwnPasswordView.as_view(), name="system_password"),
    path("system/alerts/", views_system.AlertsView.as_view(), name="system_alerts"),
    path("system/alerts/run/", views_system.AlertsRunView.as_view(), name="system_alerts_run"),
]
