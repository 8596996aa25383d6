"""SCEP server settings, the RA of an ECDSA CA, debug traces: shared by the view, the CLI,
the GUI and the admin.

The rules of SCEP > General live here once (their bounds, one event-log line
per change); the GUI form, the admin and ``scep_config`` call
:func:`update_settings`. The default enrollment password is write-only: it is
sealed by certauth.keystore and never shown or logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from certauth import events, keystore, profiles
from certauth import services as ca_services
from certauth import x509 as x509util
from certauth.events import SYSTEM, Actor
from certauth.models import Certificate, CertificateAuthority, Enrollment
from certauth.x509 import InvalidInput
from scep import protocol
from scep.models import RegistrationAuthority, SCEPConfig, SCEPTrace

log = logging.getLogger(__name__)

#: The SCEP > General settings and their labels in the event log.
SETTINGS = {
    "enabled": "enable SCEP",
    "default_ca": "default CA",
    "method": "enrollment method",
    "revoke_renewed": "revoke the old certificate on renewal",
    "legacy_algorithms": "allow legacy algorithms (3DES, SHA-1)",
    "single_des": "allow single DES",
}
METHOD_LABELS: dict[str, str] = {
    Enrollment.Method.AUTOMATIC.value: "Automatic",
    Enrollment.Method.MANUAL.value: "Manual and Automatic",
}

#: The largest pkiMessage accepted (bytes), in a POST body or base64 in a GET query.
MAX_MESSAGE_SIZE = 64 * 1024
#: The largest POST body read.
MAX_BODY = MAX_MESSAGE_SIZE
#: Recorded traces kept (the newest); each keeps at most this much of a message.
TRACE_LIMIT = getattr(settings, "FAC_SCEP_TRACE_LIMIT", settings.FAC_CMP_TRACE_LIMIT)
TRACE_MAX_DER = MAX_MESSAGE_SIZE
TRACE_MAX_TEXT = 16 * 1024

#: An RA certificate lives this long (within its CA's validity) ...
RA_VALIDITY_DAYS = 365
#: ... and is replaced when less than this is left, while the old one still decrypts.
RA_RENEW_BEFORE = dt.timedelta(days=30)
RA_KEY_BITS = 2048
#: RFC 8894, 2.1.2: the RA decrypts requests and signs replies.
RA_KEY_USAGE = ("digitalSignature", "keyEncipherment")

#: Characters of a generated challenge password: no look-alikes, nothing a shell
#: or the FortiGate CLI would need quoted.
_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105
PASSWORD_LENGTH = 20


def config() -> SCEPConfig:
    return SCEPConfig.load()


def wire_config(cfg: SCEPConfig) -> protocol.SCEPConfig:
    """What the sans-IO server needs to know of the settings."""
    return protocol.SCEPConfig(
        legacy_algorithms=cfg.legacy_algorithms,
        single_des=cfg.single_des,
        renewal=True,
        max_message_size=MAX_MESSAGE_SIZE,
    )


def debug_enabled() -> bool:
    """Debug mode is one switch for SCEP and CMP (Debug > Others > SCEP/CMP)."""
    from cmp.models import CMPConfig

    return CMPConfig.load().debug


# --- Settings -------------------------------------------------------------------------


def _describe(field: str, value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None or value == "":
        return "none"
    if field == "method":
        return METHOD_LABELS.get(str(value), str(value))
    return str(value)


def check_settings(
    *,
    default_ca: CertificateAuthority | None,
    method: str,
    legacy_algorithms: bool,
    single_des: bool,
    **_other: object,
) -> None:
    """The bounds of SCEP > General, for the GUI, the admin and the CLI alike."""
    if default_ca is not None and (
        default_ca.kind != CertificateAuthority.Kind.LOCAL or not default_ca.has_key
    ):
        raise InvalidInput(f"CA {default_ca.name} is not a local CA with a private key.")
    if method not in Enrollment.Method.values:
        raise InvalidInput(f"Unknown enrollment method {method!r}: use automatic or manual.")
    if single_des and not legacy_algorithms:
        raise InvalidInput("Single DES is allowed only together with the legacy algorithms.")


def update_settings(
    *, actor: Actor = SYSTEM, default_password: str | None = None, **values: object
) -> tuple[SCEPConfig, list[str]]:
    """Store SCEP > General settings (any of :data:`SETTINGS`).

    *default_password* None keeps the stored one, "" removes it, anything else
    replaces it. Returns the config and what changed; one event-log line lists
    the changes (the password only as "changed").
    """
    unknown = set(values) - set(SETTINGS)
    if unknown:
        raise InvalidInput(f"Unknown SCEP settings {', '.join(sorted(unknown))}.")
    if default_password:
        profiles.check_password(default_password)
    with transaction.atomic():
        cfg = SCEPConfig.objects.select_for_update().get(pk=config().pk)
        new = {field: values.get(field, getattr(cfg, field)) for field in SETTINGS}
        if values.get("legacy_algorithms") is False and "single_des" not in values:
            new["single_des"] = False  # single DES is a legacy algorithm too
        check_settings(**new)  # type: ignore[arg-type]
        changes: list[str] = []
        fields: list[str] = []
        for field, value in new.items():
            old = getattr(cfg, field)
            if old != value:
                changes.append(
                    f"{SETTINGS[field]}: {_describe(field, old)} -> {_describe(field, value)}"
                )
                setattr(cfg, field, value)
                fields.append(field)
        if default_password is not None:
            if default_password:
                cfg.encrypted_password = keystore.seal_secret(default_password)
                changes.append("default enrollment password: changed")
                fields.append("encrypted_password")
            elif cfg.has_password:
                cfg.encrypted_password = None
                changes.append("default enrollment password: removed")
                fields.append("encrypted_password")
        if changes:
            cfg.save(update_fields=[*fields, "updated"])
            events.log(events.SCEP_SETTINGS_CHANGED, actor, changes="; ".join(changes))
    return cfg, changes


def default_password(cfg: SCEPConfig | None = None) -> str | None:
    """The default enrollment password in clear (for a new enrollment), None if unset."""
    cfg = cfg or config()
    if not cfg.encrypted_password:
        return None
    return keystore.stored_secret(cfg.encrypted_password).decode()


def generate_password() -> str:
    """A random challenge password (about 115 bits), shown once to the administrator."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


# --- The CA that answers ------------------------------------------------------------


class NoCA(Exception):
    """No local CA can answer SCEP requests."""


def answering_ca(cfg: SCEPConfig, identifier: str | None = None) -> CertificateAuthority:
    """The CA of GetCACert: the one whose certificate ID the client names, else the
    default CA of SCEP > General, else the oldest usable local CA."""
    usable = CertificateAuthority.objects.usable()
    if identifier:
        named = usable.filter(name=identifier).first()
        if named is not None and named.name == identifier:
            return named
    if cfg.default_ca_id is not None:
        default = usable.filter(pk=cfg.default_ca_id).first()
        if default is not None:
            return default
    oldest = usable.order_by("created").first()
    if oldest is None:
        raise NoCA("No local CA can sign: create one (Certificate Authorities > Local CAs).")
    return oldest


def needs_ra(ca: CertificateAuthority) -> bool:
    """An ECDSA CA cannot decrypt RSA key transport (RFC 8894, 3.2.2): it has an RA."""
    return ca.key_type != CertificateAuthority.KeyType.RSA


# --- The RA of an ECDSA CA ------------------------------------------------------------


def _current_ra(ca: CertificateAuthority, now: dt.datetime) -> RegistrationAuthority | None:
    return RegistrationAuthority.objects.current(now).filter(ca=ca).order_by("-not_after").first()


def _due(ra: RegistrationAuthority | None, ca: CertificateAuthority, now: dt.datetime) -> bool:
    if ra is None:
        return True
    # Renew when little is left, unless the CA itself ends first (a new RA could
    # not outlive it: RFC 5280, 6.1).
    return ra.not_after - now < RA_RENEW_BEFORE and ca.not_after > ra.not_after + dt.timedelta(
        days=1
    )


def _ra_subject(ca: CertificateAuthority) -> x509.Name:
    base = x509util.common_name(ca.certificate.subject) or ca.name
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{base[:56]} SCEP RA")])


def registration_authority(
    ca: CertificateAuthority, *, actor: Actor = SYSTEM
) -> RegistrationAuthority:
    """The current RA of *ca*, created on first use and renewed before it expires.

    Workers that find it due at the same moment wait for the CA's row lock and
    check again, so one RA is made. An older RA stays usable for decryption
    until it expires (clients that fetched it earlier still encrypt to it).
    """
    now = timezone.now()
    ra = _current_ra(ca, now)
    if not _due(ra, ca, now):
        assert ra is not None  # noqa: S101 - _due is False only for an RA
        return ra
    with transaction.atomic():
        locked = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
        ra = _current_ra(locked, now)
        if not _due(ra, locked, now):
            assert ra is not None  # noqa: S101
            return ra
        key = rsa.generate_private_key(public_exponent=65537, key_size=RA_KEY_BITS)
        cert = ca_services.issue_certificate(
            ca=locked,
            subject=_ra_subject(locked),
            public_key=key.public_key(),
            key_usage=list(RA_KEY_USAGE),
            days=RA_VALIDITY_DAYS,
            kind=Certificate.Kind.LOCAL_SERVICE,
            name=f"scep-ra-{locked.name}"[:128],
            actor=actor,
        )
        ra = RegistrationAuthority.objects.create(
            ca=locked,
            certificate=cert,
            certificate_pem=cert.certificate_pem,
            encrypted_key=keystore.seal_private_key(key),
            not_before=cert.not_before,
            not_after=cert.not_after,
        )
        events.log(events.SCEP_RA_CREATED, actor, subject=cert.subject, ca=locked.subject)
    return ra


def current_ras(now: dt.datetime | None = None) -> list[RegistrationAuthority]:
    """Every RA that may still decrypt a request (newest first)."""
    return list(RegistrationAuthority.objects.current(now).select_related("ca"))


def refresh_ras(*, actor: Actor = SYSTEM) -> int:
    """Renew the RAs of ECDSA CAs that are due (housekeeping); returns how many were made."""
    made = 0
    now = timezone.now()
    for ca_id in RegistrationAuthority.objects.values_list("ca_id", flat=True).distinct():
        ca = CertificateAuthority.objects.usable().filter(pk=ca_id).first()
        if ca is None or not _due(_current_ra(ca, now), ca, now):
            continue
        try:
            registration_authority(ca, actor=actor)
            made += 1
        except Exception:  # noqa: BLE001 - one CA's failure does not stop the others
            log.exception("SCEP RA of CA %s not renewed", ca.name)
    return made


# --- Debug traces ------------------------------------------------------------------------


def record_trace(**fields: object) -> SCEPTrace:
    """Store one exchange (bounded in size); keep the newest :data:`TRACE_LIMIT`."""
    for name in ("request_der", "response_der"):
        value = fields.get(name) or b""
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"{name} must be bytes")
        fields[name] = bytes(value)[:TRACE_MAX_DER]
    for name in ("lines", "csr_text"):
        text = str(fields.get(name) or "")
        if len(text) > TRACE_MAX_TEXT:
            text = text[:TRACE_MAX_TEXT] + "\n[... cut]"
        fields[name] = text
    for name, size in (("error", 512), ("fail_text", 512), ("transaction_id", 255)):
        fields[name] = str(fields.get(name) or "")[:size]
    trace = SCEPTrace.objects.create(**fields)
    SCEPTrace.objects.trim(TRACE_LIMIT)
    return trace
