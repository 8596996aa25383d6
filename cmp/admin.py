"""Django admin for the CMP server's state (read-only but for the settings)."""

from django.contrib import admin
from django.http import HttpRequest

from cmp.models import CMPConfig, CMPTrace, CMPTransaction


@admin.register(CMPConfig)
class CMPConfigAdmin(admin.ModelAdmin):
    list_display = ("__str__", "enabled", "default_ca", "confirm_wait", "debug", "updated")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not CMPConfig.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(CMPTransaction)
class CMPTransactionAdmin(ReadOnlyAdmin):
    list_display = ("transaction_id", "sender_kid", "body_type", "state", "certificate", "created")
    list_filter = ("state", "body_type")
    search_fields = ("transaction_id", "sender_kid")


@admin.register(CMPTrace)
class CMPTraceAdmin(ReadOnlyAdmin):
    list_display = ("created", "source_ip", "sender_kid", "body_type", "http_status", "error")
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
