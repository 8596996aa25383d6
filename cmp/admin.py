"""Django admin for the CMP server's state: read-only but for the settings.

The settings go through :func:`cmp.services.update_settings`, with the bounds
and the event-log line of CMP > General.
"""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from certauth.admin import column
from certauth.events import Actor
from certauth.x509 import InvalidInput
from cmp import services
from cmp.models import CMPConfig, CMPTrace, CMPTransaction


class CMPConfigForm(forms.ModelForm):
    class Meta:
        model = CMPConfig
        fields = (
            "enabled",
            "default_ca",
            "confirm_wait",
            "debug",
            "revoke_superseded",
            "revoke_reenrolled",
            "poll_interval",
            "strict_header_checks",
            "rfc9481_only",
        )

    def clean(self):
        data = super().clean()
        try:
            services.check_settings(
                confirm_wait=data.get("confirm_wait") or 0,
                poll_interval=data.get("poll_interval") or 0,
                default_ca=data.get("default_ca"),
            )
        except InvalidInput as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(CMPConfig)
class CMPConfigAdmin(admin.ModelAdmin):
    form = CMPConfigForm
    list_display = (
        "__str__",
        "enabled",
        column("default_ca", "Default CA"),
        "confirm_wait",
        "debug",
        "updated",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: CMPConfig, form, change: bool) -> None:
        actor = Actor(user=request.user.get_username(), source_ip=request.META.get("REMOTE_ADDR"))
        try:
            services.update_settings(actor=actor, **form.cleaned_data)
        except InvalidInput as exc:
            self.message_user(request, str(exc), messages.ERROR)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(CMPTransaction)
class CMPTransactionAdmin(ReadOnlyAdmin):
    list_display = (
        column("transaction_id", "Transaction ID"),
        column("sender_kid", "Sender KID"),
        "body_type",
        "state",
        "certificate",
        "created",
    )
    list_filter = ("state", "body_type")
    search_fields = ("transaction_id", "sender_kid")


@admin.register(CMPTrace)
class CMPTraceAdmin(ReadOnlyAdmin):
    list_display = (
        "created",
        column("source_ip", "Source IP"),
        column("sender_kid", "Sender KID"),
        "body_type",
        column("http_status", "HTTP status"),
        "error",
    )
    search_fields = ("transaction_id", "sender_kid", "error")
    exclude = ("request_der", "response_der")
    readonly_fields = (
        "created",
        "source_ip",
        "transaction_id",
        "sender_kid",
        "body_type",
        "http_status",
        "error",
        "lines",
    )
