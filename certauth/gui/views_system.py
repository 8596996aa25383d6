"""System > Administrators, Change Password and System > Alerts.

Every change goes through certauth.admins or certauth.alerts (which check the
rules and write the event log); an InvalidInput is shown next to the field it
names. Read-only administrators see the lists and settings; every POST of
theirs is refused with 403, except changing their own password.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, update_session_auth_hash
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from certauth import admins, alerts
from certauth.gui.access import ManageRequiredMixin, StaffRequiredMixin, actor, can_manage
from certauth.gui.forms_system import (
    AdministratorCreateForm,
    AdministratorEditForm,
    AlertRunForm,
    AlertSettingsForm,
    OwnPasswordForm,
    PasswordResetForm,
)
from certauth.x509 import InvalidInput

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ADMINISTRATORS_NAV = "/system/administrators/"
EXPIRING_SHOWN = 100


def _form_error(form: forms.Form, exc: InvalidInput, fallback: str | None = None) -> None:
    """The service's message, next to its field (or *fallback*, or above the form)."""
    field = exc.field if exc.field in form.fields else fallback
    form.add_error(field, str(exc))


def _me(request: HttpRequest) -> User:
    """The logged-in administrator (StaffRequiredMixin lets no one else in)."""
    return cast("User", request.user)


def _refuse_read_only(request: HttpRequest, what: str) -> None:
    if not can_manage(request.user):
        raise PermissionDenied(f"Read-only administrators cannot {what}.")


# --- System > Administrators -------------------------------------------------------------


class AdministratorListView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        rows = [
            {"user": user, "role": role, "role_label": admins.ROLES[role]}
            for user, role in admins.listing()
        ]
        return render(
            request, "system/administrators.html", {"title": "Administrators", "rows": rows}
        )


class AdministratorCreateView(ManageRequiredMixin, View):
    template_name = "system/administrator_create.html"

    def _render(self, request: HttpRequest, form: AdministratorCreateForm) -> HttpResponse:
        return render(
            request,
            self.template_name,
            {"title": "Create New Administrator", "form": form, "nav_active": ADMINISTRATORS_NAV},
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, AdministratorCreateForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = AdministratorCreateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = admins.create_administrator(
                    username=data["username"],
                    email=data["email"],
                    role=data["role"],
                    password=data["password"],
                    actor=actor(request),
                )
            except InvalidInput as exc:
                _form_error(form, exc)
            else:
                messages.success(
                    request,
                    f"Administrator {user.get_username()} was created "
                    f"({admins.ROLES[data['role']]}).",
                )
                return redirect("system_admins")
        return self._render(request, form)


class AdministratorDetailView(StaffRequiredMixin, View):
    """One administrator: role and enabled (one form), and a password reset (another)."""

    template_name = "system/administrator_detail.html"

    def _target(self, pk: int):
        return get_object_or_404(get_user_model(), pk=pk, is_staff=True)

    def _render(
        self,
        request: HttpRequest,
        target,
        edit_form: AdministratorEditForm | None = None,
        reset_form: PasswordResetForm | None = None,
    ) -> HttpResponse:
        role = admins.role_of(target)
        if edit_form is None:
            edit_form = AdministratorEditForm(initial={"role": role, "enabled": target.is_active})
        if not can_manage(request.user):
            for field in edit_form.fields.values():
                field.disabled = True
        return render(
            request,
            self.template_name,
            {
                "title": f"Administrator {target.get_username()}",
                "target": target,
                "role_label": admins.ROLES[role],
                "is_self": target.pk == request.user.pk,
                "edit_form": edit_form,
                "reset_form": reset_form or PasswordResetForm(),
                "nav_active": ADMINISTRATORS_NAV,
            },
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._render(request, self._target(pk))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        _refuse_read_only(request, "change administrators")
        target = self._target(pk)
        form = AdministratorEditForm(request.POST)
        if form.is_valid():
            try:
                changed = admins.update_administrator(
                    target,
                    role=form.cleaned_data["role"],
                    active=form.cleaned_data["enabled"],
                    actor=actor(request),
                    acting_user=_me(request),
                )
            except InvalidInput as exc:
                _form_error(form, exc)
            else:
                if changed:
                    messages.success(request, f"Administrator {target.get_username()} was saved.")
                else:
                    messages.info(request, "No changes.")
                return redirect("system_admin_detail", pk=target.pk)
        return self._render(request, target, edit_form=form)


class AdministratorPasswordResetView(AdministratorDetailView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        _refuse_read_only(request, "reset passwords")
        target = self._target(pk)
        form = PasswordResetForm(request.POST)
        if form.is_valid():
            try:
                admins.reset_password(
                    target,
                    form.cleaned_data["password"],
                    actor=actor(request),
                    acting_user=_me(request),
                )
            except InvalidInput as exc:
                _form_error(form, exc, fallback="password")
            else:
                messages.success(
                    request,
                    f"The password of {target.get_username()} was reset; their open sessions "
                    "ended.",
                )
                return redirect("system_admin_detail", pk=target.pk)
        return self._render(request, target, reset_form=form)


# --- Change Password (any administrator, their own) ---------------------------------------


class OwnPasswordView(StaffRequiredMixin, View):
    template_name = "system/password_change.html"

    def _render(self, request: HttpRequest, form: OwnPasswordForm) -> HttpResponse:
        return render(request, self.template_name, {"title": "Change Password", "form": form})

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, OwnPasswordForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = OwnPasswordForm(request.POST)
        if form.is_valid():
            try:
                admins.change_own_password(
                    _me(request),
                    old_password=form.cleaned_data["old_password"],
                    new_password=form.cleaned_data["new_password"],
                    actor=actor(request),
                )
            except InvalidInput as exc:
                _form_error(form, exc, fallback="new_password")
            else:
                # This session stays logged in; the account's other sessions end.
                update_session_auth_hash(request, _me(request))
                messages.success(request, "Your password was changed.")
                return redirect("system_password")
        return self._render(request, form)


# --- System > Alerts ----------------------------------------------------------------------


def mail_settings() -> dict:
    """How the summary would be sent: never the SMTP password."""
    backend = settings.EMAIL_BACKEND
    return {
        "smtp": backend == "django.core.mail.backends.smtp.EmailBackend",
        "backend": backend,
        "host": settings.EMAIL_HOST,
        "port": settings.EMAIL_PORT,
        "user": settings.EMAIL_HOST_USER,
        "security": "SSL/TLS"
        if settings.EMAIL_USE_SSL
        else ("STARTTLS" if settings.EMAIL_USE_TLS else "none"),
        "sender": settings.DEFAULT_FROM_EMAIL,
    }


class AlertsView(StaffRequiredMixin, View):
    template_name = "system/alerts.html"

    def _render(
        self,
        request: HttpRequest,
        form: AlertSettingsForm | None = None,
        report: alerts.Report | None = None,
        run_form: AlertRunForm | None = None,
    ) -> HttpResponse:
        cfg = alerts.config()
        if form is None:
            form = AlertSettingsForm(initial={"email": cfg.email, "warning_days": cfg.warning_days})
        if not can_manage(request.user):
            for field in form.fields.values():
                field.disabled = True
        certificates = alerts.expiring_certificates(cfg.warning_days).select_related("ca")
        return render(
            request,
            self.template_name,
            {
                "title": "Alerts",
                "form": form,
                "run_form": run_form or AlertRunForm(),
                "config": cfg,
                "mail": mail_settings(),
                "report": report,
                "expiring_cas": alerts.expiring_cas(cfg.warning_days)[:EXPIRING_SHOWN],
                "expiring_certificates": certificates[:EXPIRING_SHOWN],
                "expiring_count": certificates.count(),
                "expiring_shown": EXPIRING_SHOWN,
            },
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        _refuse_read_only(request, "change the alert settings")
        form = AlertSettingsForm(request.POST)
        if form.is_valid():
            try:
                _cfg, changes = alerts.update_settings(actor=actor(request), **form.cleaned_data)
            except InvalidInput as exc:
                _form_error(form, exc)
            else:
                messages.success(request, "Alert settings saved." if changes else "No changes.")
                return redirect("system_alerts")
        return self._render(request, form=form)


class AlertsRunView(AlertsView):
    """Run now: the warnings (and the e-mail) of a daily run, shown on the page."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        _refuse_read_only(request, "run the expiry alerts")
        run_form = AlertRunForm(request.POST)
        everything = run_form.is_valid() and run_form.cleaned_data["everything"]
        report = alerts.run(actor=actor(request), everything=everything)
        return self._render(request, report=report, run_form=run_form)
