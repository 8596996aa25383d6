"""CMP server settings and housekeeping, shared by the view, the CLI and the GUI."""

from __future__ import annotations

import copy
import logging
import threading
import time
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Value
from django.db.models.signals import post_delete, post_save

from certauth import alerts, ca_cache, events, throttle
from certauth import enrollment as engine
from certauth import services as ca_services
from certauth.events import SYSTEM, Actor
from certauth.models import CertificateAuthority
from certauth.prepared import Prepared
from certauth.x509 import InvalidInput
from cmp.models import CMPConfig, CMPTrace, CMPTransaction

log = logging.getLogger(__name__)

#: Longest confirm wait time an administrator may set: one day.
MAX_CONFIRM_WAIT = 86400
#: Longest checkAfter sent to a client polling for manual approval: one hour.
MAX_POLL_INTERVAL = 3600
#: The CMP > General settings and their labels in the event log.
SETTINGS = {
    "enabled": "enable CMP",
    "default_ca": "default CA",
    "confirm_wait": "confirm wait time (seconds)",
    "revoke_superseded": "revoke after renewal (kur)",
    "revoke_reenrolled": "revoke after re-enrollment (ir/cr)",
    "poll_interval": "poll interval (seconds)",
    "strict_header_checks": "strict header checks",
    "rfc9481_only": "only RFC 9481 algorithms",
}


_config_lock = threading.Lock()
#: (the row's ``updated``, the settings read with it)
_config_cache: tuple[object, CMPConfig] | None = None


#: The key of the settings row among the throttle's rows in :func:`config_and_throttle`:
#: no throttle key is empty.
_VERSION_KEY = ""
_VERSION = Prepared(lambda: CMPConfig.objects.filter(pk=1).order_by().values_list("updated"))
_CAS_KEY, _CAS_UPDATED = ca_cache.version_columns()
_VERSION_AND_THROTTLE = {
    count: Prepared(
        lambda *keys: throttle.status_query(keys).union(
            CMPConfig.objects.filter(pk=1)
            .order_by()
            .annotate(throttle_key=Value(_VERSION_KEY))
            .values_list("throttle_key", "updated"),
            # The CA table's version, on the settings row (certauth.ca_cache).
            CMPConfig.objects.filter(pk=1)
            .order_by()
            .annotate(cas_key=_CAS_KEY, cas_updated=_CAS_UPDATED)
            .values_list("cas_key", "cas_updated"),
            all=True,
        ),
        *[str] * count,
    )
    for count in (1, 2)
}


class Gate(NamedTuple):
    """What a CMP request learns before anything else, in one statement."""

    config: CMPConfig
    #: Seconds until the request's throttle keys are free again, or None.
    wait: int | None
    #: The keys with failures counted.
    tracked: frozenset[str]
    #: The local CAs (the answer's sender before an enrollment is known), or None.
    cas: ca_cache.LocalCAs | None


def _config_version() -> object:
    """The ``updated`` column of the settings row: one indexed read of one column,
    compiled once, to learn whether any worker or host changed the settings."""
    rows = _VERSION()
    return rows[0][0] if rows else None


def config_and_throttle(keys: list[str]) -> Gate:
    """:func:`config` (shared), :func:`certauth.throttle.status` of *keys* and the
    local CAs (:mod:`certauth.ca_cache`), in one statement: the settings row's
    version and the CA table's are read with the throttle's rows."""
    prepared = _VERSION_AND_THROTTLE.get(len(keys))
    if prepared is None or any(
        key == _VERSION_KEY or key.startswith(ca_cache.VERSION_PREFIX) for key in keys
    ):
        return Gate(config(shared=True), *throttle.status(keys), None)
    version: object = None
    cas: ca_cache.LocalCAs | None = None
    throttled = []
    for key, updated in prepared(*keys):
        if key == _VERSION_KEY:
            version = updated
        elif key.startswith(ca_cache.VERSION_PREFIX):
            cas = ca_cache.local_cas(key, updated)
        else:
            throttled.append((key, updated))
    wait, tracked = throttle.status_of(throttled)
    return Gate(_config(shared=True, version=version), wait, tracked, cas)


def config(*, shared: bool = False) -> CMPConfig:
    """CMP > General, as every CMP request reads it.

    Kept per process and reused while the row's ``updated`` is unchanged: a
    change saved by any worker or host (every save sets ``updated``) is seen by
    the next request. Each caller gets its own copy, or with *shared* the
    process's (the CMP endpoint, which only reads it); the cache is safe to lose.
    """
    return _config(shared=shared, version=_config_version())


def _config(*, shared: bool, version: object) -> CMPConfig:
    global _config_cache
    cached = _config_cache
    if cached is not None and version is not None and cached[0] == version:
        return cached[1] if shared else copy.copy(cached[1])
    # Read after the version: a change in between is seen as a newer version next time.
    loaded = CMPConfig.load()
    with _config_lock:
        _config_cache = (version, loaded) if version is not None else None
    return loaded if shared else copy.copy(loaded)


def _forget_config(**_kwargs) -> None:
    """A save in this process is seen at once, whatever ``updated`` reads (frozen clocks)."""
    global _config_cache
    with _config_lock:
        _config_cache = None


post_save.connect(_forget_config, sender=CMPConfig, dispatch_uid="cmp-config-cache")
post_delete.connect(_forget_config, sender=CMPConfig, dispatch_uid="cmp-config-cache-delete")


def set_debug(on: bool, *, actor: Actor = SYSTEM) -> CMPConfig:
    with transaction.atomic():
        cfg = CMPConfig.load()
        if cfg.debug != on:
            cfg.debug = on
            cfg.save(update_fields=["debug", "updated"])
            events.log(events.CMP_DEBUG_CHANGED, actor, state="enabled" if on else "disabled")
    return cfg


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None or value == "":
        return "none"
    return str(value)


def check_settings(
    *, confirm_wait: int, poll_interval: int, default_ca: CertificateAuthority | None, **_other
) -> None:
    """The bounds of CMP > General, for the GUI, the admin and the CLI alike."""
    if not 1 <= confirm_wait <= MAX_CONFIRM_WAIT:
        raise InvalidInput(f"Confirm wait time must be between 1 and {MAX_CONFIRM_WAIT} seconds.")
    if not 1 <= poll_interval <= MAX_POLL_INTERVAL:
        raise InvalidInput(f"Poll interval must be between 1 and {MAX_POLL_INTERVAL} seconds.")
    if default_ca is not None and default_ca.kind != CertificateAuthority.Kind.LOCAL:
        raise InvalidInput("The default CA must be a local CA.")


def update_settings(*, actor: Actor = SYSTEM, **values) -> tuple[CMPConfig, list[str]]:
    """Store CMP > General settings (any of :data:`SETTINGS` and ``debug``).

    Returns the config and what changed; one event-log line lists the changes.
    Debug mode goes through :func:`set_debug`, so that switching it logs the
    same line whether the GUI, the debug page or the CLI did it.
    """
    unknown = set(values) - set(SETTINGS) - {"debug"}
    if unknown:
        raise InvalidInput(f"Unknown CMP settings {', '.join(sorted(unknown))}.")
    debug = values.pop("debug", None)
    with transaction.atomic():
        cfg = CMPConfig.objects.select_for_update().get(pk=config().pk)
        new = {field: values.get(field, getattr(cfg, field)) for field in SETTINGS}
        check_settings(**new)
        changes: list[str] = []
        for field, value in new.items():
            old = getattr(cfg, field)
            if old != value:
                changes.append(f"{SETTINGS[field]}: {_describe(old)} -> {_describe(value)}")
                setattr(cfg, field, value)
        if changes:
            cfg.save(update_fields=[*new, "updated"])
            events.log(events.CMP_SETTINGS_CHANGED, actor, changes="; ".join(changes))
        if debug is not None and cfg.debug != debug:
            changes.append(f"debug mode: {_describe(cfg.debug)} -> {_describe(debug)}")
            cfg = set_debug(debug, actor=actor)
    return cfg, changes


def sweep(cfg: CMPConfig | None = None) -> int:
    """Housekeeping before each CMP request and in ``cmp_sweep``: re-sign CRLs that are
    due, revoke certificates left unconfirmed past the confirm wait time
    (RFC 9810, 5.3.18), and, once a day, the expiry alerts (certauth.alerts).
    Returns how many certificates were revoked."""
    cfg = cfg or CMPConfig.load()
    try:
        alerts.run_if_due()
    except Exception:  # noqa: BLE001 - the alerts never stop the sweep
        log.exception("Expiry alerts failed")
    ca_services.refresh_due_crls()
    revoked = engine.sweep_unconfirmed(wait_seconds=cfg.confirm_wait)
    if revoked:
        # Only the transactions whose certificate the sweep revoked; an
        # administrator's revocation leaves its transaction as it was.
        CMPTransaction.objects.filter(
            state=CMPTransaction.State.WAITING_CONFIRM, certificate_id__in=revoked
        ).update(state=CMPTransaction.State.EXPIRED)
    return len(revoked)


_last_housekeeping: float | None = None


def housekeeping(cfg: CMPConfig) -> None:
    """The sweep, at most once per FAC_HOUSEKEEPING_SECONDS in this process.

    Called by every CMP request: a busy server sweeps twice a minute per
    worker, a quiet one when a request comes (and from ``cmp_sweep``). The
    timestamp is per process and safe to lose: the sweep itself works on the
    database, which every worker and host shares.
    """
    global _last_housekeeping
    now = time.monotonic()
    if (
        _last_housekeeping is not None
        and now - _last_housekeeping < settings.FAC_HOUSEKEEPING_SECONDS
    ):
        return
    _last_housekeeping = now
    sweep(cfg)


def record_trace(**fields) -> CMPTrace:
    """Keep one exchange for the debug page, bounded: a message is stored up to
    FAC_TRACE_BODY_BYTES (its first bytes; the trace says how long it was), and
    the traces together within FAC_CMP_TRACE_LIMIT entries and FAC_TRACE_BYTES."""
    limit = settings.FAC_TRACE_BODY_BYTES
    notes = []
    for name in ("request_der", "response_der"):
        data = bytes(fields.get(name) or b"")
        if len(data) > limit:
            fields[name] = data[:limit]
            notes.append(f"{name.split('_')[0]} of {len(data)} bytes stored as its first {limit}")
    if notes:
        fields["lines"] = "\n".join([fields.get("lines", ""), *notes]).strip()
    fields["lines"] = fields.get("lines", "")[:limit]
    trace = CMPTrace.objects.create(**fields)
    CMPTrace.objects.trim(settings.FAC_CMP_TRACE_LIMIT, settings.FAC_TRACE_BYTES)
    return trace
