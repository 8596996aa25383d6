"""Django admin for every certauth model.

Private keys are never shown (the field is not editable and not listed);
enrollment passwords are write-only. Changes go through certauth.services so
that the same rules and event-log lines apply as in the GUI and CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest

from certauth import services
from certauth.models import (
    Certificate,
    CertificateAuthority,
    CertificateRequest,
    Enrollment,
    LogEntry,
    Throttle,
)

admin.site.site_header = "FAC CA administration"
admin.site.site_title = "FAC CA administration"
admin.site.index_title = "Models"


def column(name: str, label: str, *, boolean: bool = False) -> Callable[[models.Model], Any]:
    """A list column showing field *name* under a human *label* ("CA", "Source IP"),
    sortable by the field, where the field's own verbose name is a bare identifier."""

    @admin.display(description=label, ordering=name, boolean=boolean)
    def show(obj: models.Model) -> Any:
        return getattr(obj, name)

    show.__name__ = f"{name}_column"
    return show


def _actor(request: HttpRequest) -> services.Actor:
    return services.Actor(
        user=request.user.get_username(), source_ip=request.META.get("REMOTE_ADDR")
    )


class CertificateAuthorityForm(forms.ModelForm):
    class Meta:
        model = CertificateAuthority
        fields = ("name",)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if name != self.instance.name:
            try:
                services.check_ca_name(name)
            except services.InvalidInput as exc:
                raise forms.ValidationError(str(exc)) from exc
        return name


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(admin.ModelAdmin):
    form = CertificateAuthorityForm
    list_display = (
        "name",
        "kind",
        "subject",
        "issuer",
        "key_type",
        "key_size",
        "not_after",
        "status",
    )
    list_filter = ("kind", "key_type")
    search_fields = ("name", "subject", "issuer", "serial")
    readonly_fields = (
        "kind",
        "subject",
        "issuer",
        "serial",
        "certificate_pem",
        "key_type",
        "key_size",
        "curve",
        "hash_algorithm",
        "not_before",
        "not_after",
        "parent",
        "imported",
        "revoked_at",
        "revocation_reason",
        "crl_number",
        "crl_next_update",
        "created",
        "updated",
        "has_key",
    )
    fields = ("name",) + readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        # CAs are created or imported with a key, through the GUI or the CLI.
        return False

    @admin.display(boolean=True, description="private key")
    def has_key(self, obj: CertificateAuthority) -> bool:
        return obj.has_key

    def save_model(
        self, request: HttpRequest, obj: CertificateAuthority, form, change: bool
    ) -> None:
        # Only the name is editable: renamed through the service (checked and logged).
        try:
            services.rename_ca(obj, form.cleaned_data["name"], actor=_actor(request))
        except (services.ServiceError, services.InvalidInput) as exc:
            self.message_user(request, str(exc), messages.ERROR)
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: CertificateAuthority) -> None:
        try:
            services.delete_ca(obj, actor=_actor(request))
        except services.ServiceError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "subject",
        column("ca", "CA"),
        column("serial", "Serial number"),
        "status",
        "not_after",
        column("enrollment", "Enrollment ID"),
        "created",
    )
    list_filter = ("status", "kind", "ca")
    search_fields = ("name", "subject", "serial")
    date_hierarchy = "created"
    readonly_fields = (
        "name",
        "kind",
        "ca",
        "enrollment",
        "serial",
        "subject",
        "sans",
        "key_usage",
        "ext_key_usage",
        "certificate_pem",
        "not_before",
        "not_after",
        "status",
        "revoked_at",
        "revocation_reason",
        "replaces",
        "created",
        "updated",
    )
    list_select_related = ("ca", "enrollment")
    actions = ["revoke_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected certificates (unspecified)")
    def revoke_selected(self, request: HttpRequest, queryset) -> None:
        for cert in queryset:
            try:
                services.revoke_certificate(cert, actor=_actor(request))
            except services.ServiceError as exc:
                self.message_user(request, str(exc), messages.ERROR)

    def delete_model(self, request: HttpRequest, obj: Certificate) -> None:
        try:
            services.delete_certificate(obj, actor=_actor(request))
        except services.ServiceError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class EnrollmentAdminForm(forms.ModelForm):
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Write-only. Leave empty to keep the current password.",
    )

    class Meta:
        model = Enrollment
        fields = (
            "reference",
            "password",
            "protocol",
            "ca",
            "type",
            "method",
            "kind",
            "subject",
            "allowed_sans",
            "key_usage",
            "ext_key_usage",
            "validity_days",
            "renewable_days",
            "allow_reenrollment",
            "allow_mac_kur",
            "trusted_ca",
            "status",
            "enabled",
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for name in ("allowed_sans", "key_usage", "ext_key_usage"):
            value = data.get(name)
            if value is None:
                data[name] = []
            elif not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                self.add_error(name, "Enter a JSON list of strings.")
        if self.errors:
            return data
        # The service's own checks: the admin adds no rules of its own.
        fields = {k: v for k, v in data.items() if k not in ("reference", "password")}
        password = data.get("password") or None
        try:
            if self.instance.pk is None:
                services.validate_enrollment(
                    reference=data.get("reference") or "", password=password or "", **fields
                )
            else:
                services.validate_enrollment_change(self.instance, password=password, **fields)
        except services.InvalidInput as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    form = EnrollmentAdminForm
    list_display = (
        "reference",
        "status",
        "type",
        "method",
        "subject",
        column("ca", "CA"),
        "renewable_days",
        "enabled",
        "updated",
    )
    list_filter = ("status", "type", "enabled", "ca")
    search_fields = ("reference", "subject")

    def save_model(self, request: HttpRequest, obj: Enrollment, form, change: bool) -> None:
        data = form.cleaned_data
        password = data.pop("password", "") or None
        fields = {k: v for k, v in data.items() if k not in ("reference",)}
        try:
            if change:
                saved = services.update_enrollment(
                    obj, password=password, actor=_actor(request), **fields
                )
            else:
                saved = services.create_enrollment(
                    reference=data["reference"],
                    password=password or "",
                    actor=_actor(request),
                    **fields,
                )
        except (services.ServiceError, services.InvalidInput) as exc:
            # The form's clean() ran the same checks; this is a concurrent change.
            self.message_user(request, str(exc), messages.ERROR)
            return
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Enrollment) -> None:
        services.delete_enrollment(obj, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin):
    list_display = (
        "timestamp",
        "level",
        "category",
        "subcategory",
        "log_type_id",
        "user",
        "source_ip",
        "message",
    )
    list_filter = ("level", "subcategory")
    search_fields = ("message", "user", "source_ip")
    date_hierarchy = "timestamp"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(CertificateRequest)
class CertificateRequestAdmin(admin.ModelAdmin):
    """Requests held for manual approval: decided on Pending Requests or with the CLI."""

    list_display = (
        column("pk", "ID"),
        "created",
        "protocol",
        "operation",
        "reference",
        "subject",
        "state",
    )
    list_filter = ("state", "protocol")
    search_fields = ("reference", "subject")
    exclude = ("public_key",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Throttle)
class ThrottleAdmin(admin.ModelAdmin):
    """Lockouts of the guessing throttle; deleting one lifts it (and is logged)."""

    list_display = ("key", "failures", "locked_until", "lockouts", "updated")
    search_fields = ("key",)
    readonly_fields = ("key", "failures", "window_start", "locked_until", "lockouts", "updated")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Throttle) -> None:
        from certauth import throttle

        throttle.clear(obj.key, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)
