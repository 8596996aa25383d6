"""Expiry alerts: a warning in the event log for each CA and certificate entering its
warning window, and one summary e-mail a day (System > Alerts).

:func:`run_if_due` runs at most once a calendar day (the server's time zone)
across every worker and host: the housekeeping calls it (``cmp_sweep``, and
the CMP requests), ``manage.py expiry_alerts`` runs it on demand. A CA or
certificate is warned about once, the day it enters the window; one issued
already inside the window is warned about on the next run. Mail goes through
Django's e-mail settings (``EMAIL_*`` in the environment, docs/deploy.md).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from certauth import events
from certauth.events import SYSTEM, Actor
from certauth.models import AlertSettings, Certificate, CertificateAuthority
from certauth.x509 import InvalidInput

log = logging.getLogger(__name__)

DEFAULT_WARNING_DAYS = 30
MAX_WARNING_DAYS = 3650
#: The System > Alerts settings and their labels in the event log.
SETTINGS = {"email": "alert e-mail address", "warning_days": "warning window (days)"}


def config() -> AlertSettings:
    return AlertSettings.load()


def _describe(value: object) -> str:
    return "none" if value in (None, "") else str(value)


def check_settings(*, email: str, warning_days: int) -> None:
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput(f"{email} is not an e-mail address.", field="email") from None
    if not 1 <= warning_days <= MAX_WARNING_DAYS:
        raise InvalidInput(
            f"The warning window is 1 to {MAX_WARNING_DAYS} days.", field="warning_days"
        )


def update_settings(
    *, email: str, warning_days: int, actor: Actor = SYSTEM
) -> tuple[AlertSettings, list[str]]:
    """Store the alert settings; one event-log line lists what changed."""
    email = email.strip()
    check_settings(email=email, warning_days=warning_days)
    with transaction.atomic():
        cfg = AlertSettings.objects.select_for_update().get(pk=config().pk)
        changes = []
        for name, value in (("email", email), ("warning_days", warning_days)):
            old = getattr(cfg, name)
            if old != value:
                changes.append(f"{SETTINGS[name]}: {_describe(old)} -> {_describe(value)}")
                setattr(cfg, name, value)
        if changes:
            cfg.save(update_fields=["email", "warning_days", "updated"])
            events.log(events.ALERT_SETTINGS_CHANGED, actor, changes="; ".join(changes))
    return cfg, changes


# --- What expires ------------------------------------------------------------------------


def expiring_cas(days: int, now: dt.datetime | None = None) -> QuerySet[CertificateAuthority]:
    """CAs (local and trusted), not revoked, that expire within *days*."""
    now = now or timezone.now()
    return CertificateAuthority.objects.filter(
        revoked_at__isnull=True, not_after__gt=now, not_after__lte=now + dt.timedelta(days=days)
    ).order_by("not_after")


def expiring_certificates(days: int, now: dt.datetime | None = None) -> QuerySet[Certificate]:
    """Certificates in force (active, unexpired) that expire within *days*."""
    now = now or timezone.now()
    return (
        Certificate.objects.current(now)
        .filter(not_after__lte=now + dt.timedelta(days=days))
        .order_by("not_after")
    )


def _entering(queryset: QuerySet, since: dt.datetime | None, days: int) -> QuerySet:
    """Those of *queryset* that entered the window after *since* (every one when None):
    the window start (expiry - days) passed since then, or they were made since."""
    if since is None:
        return queryset
    return queryset.filter(Q(not_after__gt=since + dt.timedelta(days=days)) | Q(created__gt=since))


@dataclass
class Report:
    """What one run warned about, and whether the summary went out."""

    cas: list[CertificateAuthority] = field(default_factory=list)
    certificates: list[Certificate] = field(default_factory=list)
    days: int = DEFAULT_WARNING_DAYS
    email: str = ""
    sent: bool = False
    error: str = ""

    @property
    def count(self) -> int:
        return len(self.cas) + len(self.certificates)


def _days_left(not_after: dt.datetime, now: dt.datetime) -> int:
    return max(0, (not_after - now).days)


def _summary(report: Report, now: dt.datetime) -> str:
    lines = [
        f"{report.count} certificate(s) of the certificate authority enter their expiry "
        f"warning window of {report.days} days:",
        "",
    ]
    for ca in report.cas:
        lines.append(
            f"CA {ca.name} ({ca.subject}) expires on {timezone.localtime(ca.not_after):%Y-%m-%d}"
            f" (in {_days_left(ca.not_after, now)} days)"
        )
    for cert in report.certificates:
        lines.append(
            f"Certificate {cert.subject or cert.name} ({cert.serial_colons}) expires on "
            f"{timezone.localtime(cert.not_after):%Y-%m-%d} (in {_days_left(cert.not_after, now)} days)"
        )
    base = getattr(settings, "FAC_PUBLIC_URL", "")
    if base:
        lines += ["", f"Dashboard: {base}/"]
    return "\n".join(lines) + "\n"


def warn(
    *, since: dt.datetime | None, now: dt.datetime | None = None, actor: Actor = SYSTEM
) -> Report:
    """Log a warning for each CA and certificate that entered the window after
    *since*, and mail one summary when an address is set and there is any."""
    now = now or timezone.now()
    cfg = config()
    days = cfg.warning_days
    report = Report(days=days, email=cfg.email)
    report.cas = list(_entering(expiring_cas(days, now), since, days))
    report.certificates = list(
        _entering(expiring_certificates(days, now), since, days).select_related("ca")
    )
    for ca in report.cas:
        events.log(
            events.CA_EXPIRING,
            actor,
            subject=ca.subject,
            date=f"{timezone.localtime(ca.not_after):%Y-%m-%d}",
            days=_days_left(ca.not_after, now),
        )
    events.log_many(
        events.CERT_EXPIRING,
        actor,
        [
            {
                "subject": cert.subject or cert.name,
                "serial": cert.serial_colons,
                "date": f"{timezone.localtime(cert.not_after):%Y-%m-%d}",
                "days": _days_left(cert.not_after, now),
            }
            for cert in report.certificates
        ],
    )
    if cfg.email and report.count:
        try:
            send_mail(
                f"[fac-ca] {report.count} certificate(s) expire within {days} days",
                _summary(report, now),
                None,  # DEFAULT_FROM_EMAIL
                [cfg.email],
            )
        except Exception as exc:  # noqa: BLE001 - SMTP trouble is logged, never raised
            log.warning("Expiry alert to %s failed: %s", cfg.email, exc)
            report.error = str(exc) or type(exc).__name__
            events.log(events.EXPIRY_ALERT_FAILED, actor, email=cfg.email, error=report.error)
        else:
            report.sent = True
            events.log(
                events.EXPIRY_ALERT_SENT, actor, email=cfg.email, count=report.count, days=days
            )
    return report


def _claim(now: dt.datetime, *, force: bool) -> tuple[bool, dt.datetime | None]:
    """Take today's run (one worker wins); returns (taken, the previous run)."""
    cfg = config()
    previous = cfg.last_run
    if (
        not force
        and previous is not None
        and timezone.localdate(previous) >= timezone.localdate(now)
    ):
        return False, previous
    rows = AlertSettings.objects.filter(pk=cfg.pk)
    rows = (
        rows.filter(last_run__isnull=True) if previous is None else rows.filter(last_run=previous)
    )
    return rows.update(last_run=now) == 1, previous


def run_if_due(now: dt.datetime | None = None, *, actor: Actor = SYSTEM) -> Report | None:
    """Today's run, unless it ran today already (anywhere): the housekeeping's guard."""
    now = now or timezone.now()
    taken, previous = _claim(now, force=False)
    return warn(since=previous, now=now, actor=actor) if taken else None


def run(
    now: dt.datetime | None = None, *, actor: Actor = SYSTEM, everything: bool = False
) -> Report:
    """Run now (``manage.py expiry_alerts``); *everything*: warn about all in the window."""
    now = now or timezone.now()
    _taken, previous = _claim(now, force=True)
    return warn(since=None if everything else previous, now=now, actor=actor)
