"""Django admin for the SCEP server's state: read-only but for the settings.

The settings go through :func:`scep.services.update_settings`, with the bounds
and the event-log line of SCEP > General. The default enrollment password is
set on SCEP > General (write-only); sealed keys are never shown.
"""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from certauth.admin import column
from certauth.events import Actor
from certauth.x509 import InvalidInput
from scep import services
from scep.models import (
    RegistrationAuthority,
    SCEPConfig,
    SCEPTrace,
    SCEPTransaction,
    WildcardMember,
)


class SCEPConfigForm(forms.ModelForm):
    class Meta:
        model = SCEPConfig
        fields = tuple(services.SETTINGS)

    def clean(self):
        data = super().clean() or {}
        try:
            services.check_settings(
                default_ca=data.get("default_ca"),
                method=data.get("method") or "",
                legacy_algorithms=bool(data.get("legacy_algorithms")),
                single_des=bool(data.get("single_des")),
            )
        except InvalidInput as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(SCEPConfig)
class SCEPConfigAdmin(admin.ModelAdmin):
    form = SCEPConfigForm
    list_display = (
        "__str__",
        "enabled",
        column("default_ca", "Default CA"),
        "method",
        "legacy_algorithms",
        "updated",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: SCEPConfig, form, change: bool) -> None:
        actor = Actor(user=request.user.get_username(), source_ip=request.META.get("REMOTE_ADDR"))
        try:
            services.update_settings(
                actor=actor, **{name: form.cleaned_data[name] for name in services.SETTINGS}
            )
        except InvalidInput as exc:
            self.message_user(request, str(exc), messages.ERROR)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(SCEPTransaction)
class SCEPTransactionAdmin(ReadOnlyAdmin):
    list_display = ("transaction_id", "message_type", "subject", "state", "certificate", "created")
    list_filter = ("state", "message_type")
    search_fields = ("transaction_id", "subject")


@admin.register(RegistrationAuthority)
class RegistrationAuthorityAdmin(ReadOnlyAdmin):
    list_display = ("__str__", column("ca", "CA"), "certificate", "not_before", "not_after")
    exclude = ("encrypted_key",)


@admin.register(WildcardMember)
class WildcardMemberAdmin(ReadOnlyAdmin):
    list_display = ("enrollment", "wildcard", "created")


@admin.register(SCEPTrace)
class SCEPTraceAdmin(ReadOnlyAdmin):
    list_display = (
        "created",
        column("source_ip", "Source IP"),
        "operation",
        "message_type",
        "pki_status",
        "fail_info",
    )
    search_fields = ("transaction_id", "error", "fail_text")
    exclude = ("request_der", "response_der")
