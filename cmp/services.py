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
    """Housekeeping before each CMP request and in ``cmp_sweep``: re-sign CRLs that are
    due, and revoke certificates left unconfirmed past the confirm wait time
    (RFC 9810, 5.3.18). Returns how many certificates were revoked."""
    cfg = cfg or CMPConfig.load()
    ca_services.refresh_due_crls()
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


class RequestDecisionError(ca_services.ServiceError):
    """An approval or rejection that cannot be made (not waiting, CA cannot sign)."""


def waiting_requests():
    return (
        CMPTransaction.objects.filter(state=CMPTransaction.State.WAITING_APPROVAL)
        .select_related("enrollment")
        .order_by("created")
    )


def approve_request(pk: int, *, user: str = "", source_ip: str | None = None) -> CMPTransaction:
    """Approve a request held for manual approval: the certificate is issued now and
    handed out at the client's next pollReq (RFC 9483, 4.4)."""
    from cmp.backend import DatabaseBackend
    from cmp.protocol.errors import CMPError

    with transaction.atomic():
        record = CMPTransaction.objects.select_for_update().filter(pk=pk).first()
        if record is None or record.state != CMPTransaction.State.WAITING_APPROVAL:
            raise RequestDecisionError(f"CMP request {pk} is not waiting for approval.")
        implicit = record.implicit_confirm
        record.implicit_confirm = False  # the certificate stays pending until the client confirms
        try:
            DatabaseBackend(source_ip=source_ip).issue(
                record, record.enrollment, renewal=record.body_type == "kur"
            )
        except CMPError as exc:
            raise RequestDecisionError(f"Cannot issue the certificate: {exc.text}") from None
        record.implicit_confirm = implicit
        record.state = CMPTransaction.State.APPROVED
        record.decided_by = user
        record.save()
        LogEntry.objects.log(
            f"CMP {record.body_type} of enrollment '{record.enrollment.reference}' "
            f'for "{record.request_subject}" was approved',
            subcategory=events.SUB_CMP,
            log_type=events.CMP_REQUEST_APPROVED.id,
            user=user,
            source_ip=source_ip,
        )
    return record


def reject_request(
    pk: int, *, reason: str = "", user: str = "", source_ip: str | None = None
) -> CMPTransaction:
    with transaction.atomic():
        record = CMPTransaction.objects.select_for_update().filter(pk=pk).first()
        if record is None or record.state != CMPTransaction.State.WAITING_APPROVAL:
            raise RequestDecisionError(f"CMP request {pk} is not waiting for approval.")
        record.state = CMPTransaction.State.REJECTED
        record.reject_reason = reason[:512] or "The request was rejected by an administrator."
        record.decided_by = user
        record.save()
        LogEntry.objects.log(
            f"CMP {record.body_type} of enrollment '{record.enrollment.reference if record.enrollment else '?'}' "
            f'for "{record.request_subject}" was rejected: {record.reject_reason}',
            level=events.CMP_REQUEST_REJECTED.level,
            subcategory=events.SUB_CMP,
            log_type=events.CMP_REQUEST_REJECTED.id,
            user=user,
            source_ip=source_ip,
        )
    return record
