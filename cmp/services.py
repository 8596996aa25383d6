"""CMP server settings and housekeeping, shared by the view, the CLI and the GUI."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from certauth import events
from certauth import services as ca_services
from certauth.models import Certificate, LogEntry
from cmp.models import CMPConfig, CMPTrace, CMPTransaction


def config() -> CMPConfig:
    return CMPConfig.load()


def set_debug(on: bool, *, user: str = "", source_ip: str | None = None) -> CMPConfig:
    with transaction.atomic():
        cfg = CMPConfig.load()
        if cfg.debug != on:
            cfg.debug = on
            cfg.save(update_fields=["debug", "updated"])
            LogEntry.objects.log(
                f"CMP debug mode {'enabled' if on else 'disabled'}",
                subcategory=events.CMP_SETTINGS_CHANGED.subcategory,
                log_type=events.CMP_SETTINGS_CHANGED.id,
                user=user,
                source_ip=source_ip,
            )
    return cfg


def sweep(cfg: CMPConfig | None = None) -> int:
    """Revoke certificates left unconfirmed past the confirm wait time (RFC 9810, 5.3.18)."""
    cfg = cfg or CMPConfig.load()
    count = ca_services.sweep_unconfirmed(wait_seconds=cfg.confirm_wait)
    if count:
        CMPTransaction.objects.filter(
            state=CMPTransaction.State.WAITING_CONFIRM,
            certificate__status=Certificate.Status.REVOKED,
        ).update(state=CMPTransaction.State.EXPIRED)
    return count


def record_trace(**fields) -> CMPTrace:
    trace = CMPTrace.objects.create(**fields)
    CMPTrace.objects.trim(settings.FAC_CMP_TRACE_LIMIT)
    return trace
