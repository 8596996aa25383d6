"""URLs of the administrator GUI, part A: login, dashboard, certificates, CAs, CRLs."""

from django.urls import path

from certauth.gui import views_auth, views_dashboard

urlpatterns = [
    path("login/", views_auth.LoginView.as_view(), name="login"),
    path("", views_dashboard.DashboardView.as_view(), name="dashboard"),
    path("logout/", views_auth.LogoutView.as_view(), name="logout"),
]
