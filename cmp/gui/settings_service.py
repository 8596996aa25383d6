"""Changing the CMP > General settings from the GUI, with an event-log line per change."""

from __future__ import annotations

from django.db import transaction

from certauth import events
from certauth.models import CertificateAuthority, LogEntry
from certauth.services import Actor, InvalidInput
from cmp import services as cmp_services
from cmp.models import CMPConfig

# Longest confirm wait time an administrator may set: one day.
MAX_CONFIRM_WAIT = 86400
# Longest checkAfter sent to a client polling for manual approval: one hour.
MAX_POLL_INTERVAL = 3600


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None or value == "":
        return "none"
    return str(value)


def update_settings(
    *,
    enabled: bool,
    default_ca: CertificateAuthority | None,
    confirm_wait: int,
    debug: bool,
    revoke_superseded: bool,
    poll_interval: int,
    actor: Actor,
) -> tuple[CMPConfig, list[str]]:
    """Store the CMP > General settings; returns the config and what changed.

    Debug mode goes through :func:`cmp.services.set_debug`, so that switching
    it logs the same line whether the GUI, the debug page or the CLI did it.
    """
    if confirm_wait < 1 or confirm_wait > MAX_CONFIRM_WAIT:
        raise InvalidInput(f"Confirm wait time must be between 1 and {MAX_CONFIRM_WAIT} seconds.")
    if poll_interval < 1 or poll_interval > MAX_POLL_INTERVAL:
        raise InvalidInput(f"Poll interval must be between 1 and {MAX_POLL_INTERVAL} seconds.")
    if default_ca is not None and default_ca.kind != CertificateAuthority.Kind.LOCAL:
        raise InvalidInput("The default CA must be a local CA.")
    with transaction.atomic():
        cfg = CMPConfig.objects.select_for_update().get(pk=cmp_services.config().pk)
        new = {
            "enabled": enabled,
            "default_ca": default_ca,
            "confirm_wait": confirm_wait,
            "revoke_superseded": revoke_superseded,
            "poll_interval": poll_interval,
        }
        labels = {
            "enabled": "enable CMP",
            "default_ca": "default CA",
            "confirm_wait": "confirm wait time (seconds)",
            "revoke_superseded": "revoke renewed certificates",
            "poll_interval": "poll interval (seconds)",
        }
        changes: list[str] = []
        for field, value in new.items():
            old = getattr(cfg, field)
            if old != value:
                changes.append(f"{labels[field]}: {_describe(old)} -> {_describe(value)}")
                setattr(cfg, field, value)
        if changes:
            cfg.save(update_fields=[*new, "updated"])
            LogEntry.objects.log(
                "CMP settings changed: " + "; ".join(changes),
                level=events.CMP_SETTINGS_CHANGED.level,
                subcategory=events.CMP_SETTINGS_CHANGED.subcategory,
                log_type=events.CMP_SETTINGS_CHANGED.id,
                user=actor.user,
                source_ip=actor.source_ip,
            )
        if cfg.debug != debug:
            changes.append(f"debug mode: {_describe(cfg.debug)} -> {_describe(debug)}")
            cfg = cmp_services.set_debug(debug, user=actor.user, source_ip=actor.source_ip)
    return cfg, changes
