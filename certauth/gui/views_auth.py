"""Log in and out of the administrator GUI."""

from __future__ import annotations

from django.contrib.auth import views as auth_views

from certauth.gui.forms import StaffAuthenticationForm


class LoginView(auth_views.LoginView):
    """Django's login, for staff accounts only; the session lasts SESSION_COOKIE_AGE."""

    template_name = "registration/login.html"
    authentication_form = StaffAuthenticationForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST only (Django 5): a link cannot log the administrator out."""

    next_page = "/login/"
