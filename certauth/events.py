"""The event log: every log type with its FortiAuthenticator wording, and the raw format.

Each :class:`LogType` carries its FAC log type ID, sub category, level and the
wording of its message as a template; callers name the type and pass the
parameters (``events.log(events.CERT_SIGNED, actor, subject=..., ca=...)``),
so a line reads the same whichever entry point (GUI, CLI, admin, CMP, SCEP)
caused it. The wording is an operator-facing contract: monitoring rules match
these lines, so change them only on purpose.

Template syntax: ``{name}`` is a parameter; ``[...]`` is an optional part,
written only when every parameter inside it is non-empty.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from certauth.models import LogEntry

SUB_CERT = "Certificate Management"
SUB_CMP = "CMP"
SUB_SCEP = "SCEP"
SUB_ADMIN = "Admin Configuration"

_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_FIELD = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Actor:
    """Who did it, for the event log."""

    user: str = ""
    source_ip: str | None = None


SYSTEM = Actor(user="system")


@dataclass(frozen=True)
class LogType:
    id: int
    subcategory: str
    template: str
    level: str = "information"

    def message(self, **params: object) -> str:
        """The line for *params*; every ``{name}`` of the template must be given."""
        missing = set(_FIELD.findall(self.template)) - set(params)
        if missing:
            raise KeyError(f"log type {self.id} needs {', '.join(sorted(missing))}")

        def optional(match: re.Match[str]) -> str:
            part = match.group(1)
            return part if all(params[name] for name in _FIELD.findall(part)) else ""

        return _OPTIONAL.sub(optional, self.template).format(**params)


# --- Certificate authorities -------------------------------------------------------------

CA_CREATED = LogType(30101, SUB_CERT, "CA certificate '{subject}' was successfully created")
CA_IMPORTED = LogType(30102, SUB_CERT, "CA certificate '{subject}' was successfully imported")
TRUSTED_CA_IMPORTED = LogType(
    30102, SUB_CERT, "Trusted CA certificate '{subject}' was successfully imported"
)
CA_DELETED = LogType(30103, SUB_CERT, "CA certificate '{subject}' was deleted")
CA_REVOKED = LogType(
    30104, SUB_CERT, "CA certificate '{subject}' was revoked (reason: {reason})", "warning"
)
CRL_GENERATED = LogType(
    30105, SUB_CERT, "CRL for CA certificate '{subject}' was generated ({count} revoked)"
)
CA_KEY_EXPORTED = LogType(
    30106,
    SUB_CERT,
    "Private key of CA certificate '{subject}' was exported (PKCS#12)",
    "warning",
)
CA_RENAMED = LogType(
    30107, SUB_CERT, "CA certificate '{subject}' was renamed from '{old}' to '{new}'"
)
CA_MANAGEMENT_ENTITY_SET = LogType(
    30112,
    SUB_CERT,
    "CA certificate '{subject}' trusts management entity \"{entity}\" ({fingerprint})",
    "warning",
)
CA_MANAGEMENT_ENTITY_CLEARED = LogType(
    30113, SUB_CERT, "CA certificate '{subject}' trusts no management entity"
)

# --- Certificates --------------------------------------------------------------------

CERT_SIGNED = LogType(
    30201,
    SUB_CERT,
    'Certificate signing request "{subject}" signed with CA certificate "{ca}"',
)
CERT_RENEWED = LogType(30202, SUB_CERT, 'Certificate "{subject}" was renewed ({serial})')
CERT_REVOKED = LogType(
    30203, SUB_CERT, 'Certificate "{subject}" ({serial}) was revoked (reason: {reason})', "warning"
)
CERT_HELD = LogType(
    30211, SUB_CERT, 'Certificate "{subject}" ({serial}) was put on hold', "warning"
)
CERT_UNREVOKED = LogType(
    30204, SUB_CERT, 'Certificate "{subject}" ({serial}) was released from hold'
)
CERT_DELETED = LogType(30205, SUB_CERT, 'Certificate "{subject}" ({serial}) was deleted')
CERT_CONFIRMED = LogType(
    30206, SUB_CMP, 'Certificate "{subject}" ({serial}) was confirmed by the client'
)
CERT_REJECTED = LogType(
    30207,
    SUB_CMP,
    'Certificate "{subject}" ({serial}) was rejected by the client[: {reason}]',
    "warning",
)
CERT_UNCONFIRMED = LogType(
    30208,
    SUB_CMP,
    'Certificate "{subject}" ({serial}) was revoked: the client did not confirm it in time',
    "warning",
)
CERT_SUPERSEDED = LogType(
    30209,
    SUB_CERT,
    'Certificate "{subject}" ({serial}) was replaced by {new_serial} and stays valid',
)

# --- Enrollments ---------------------------------------------------------------------

ENROLLMENT_CREATED = LogType(
    30301, SUB_ADMIN, "{protocol} enrollment request '{reference}' was created"
)
ENROLLMENT_CHANGED = LogType(
    30302, SUB_ADMIN, "{protocol} enrollment request '{reference}' was modified"
)
ENROLLMENT_DELETED = LogType(
    30303, SUB_ADMIN, "{protocol} enrollment request '{reference}' was deleted"
)
ENROLLMENT_RESET = LogType(
    30305,
    SUB_ADMIN,
    "{protocol} enrollment request '{reference}' was reset: its next request enrolls afresh",
)
ENROLLMENTS_IMPORTED = LogType(
    30304, SUB_ADMIN, "{count} enrollment requests were imported from {source}"
)

# --- Administrators and lockouts ------------------------------------------------------------

SUB_AUTH = "Authentication"
ADMIN_LOGIN = LogType(30601, SUB_AUTH, "Administrator '{user}' logged in successfully")
ADMIN_LOGIN_FAILED = LogType(
    30602, SUB_AUTH, "Administrator login failed for '{user}': {reason}", "warning"
)
ADMIN_LOGOUT = LogType(30603, SUB_AUTH, "Administrator '{user}' logged out")
LOCKED_OUT = LogType(
    30604,
    SUB_AUTH,
    "Too many failed attempts for {subject}: locked out for {seconds} s",
    "warning",
)
LOCKOUT_CLEARED = LogType(30605, SUB_AUTH, "Lockout of {subject} was cleared")

# --- Enrollment protocols ------------------------------------------------------------------

CMP_REQUEST_FAILED = LogType(
    30401, SUB_CMP, "CMP {body_type}[ from {sender}] failed: {text} ({failure})", "error"
)
CMP_SETTINGS_CHANGED = LogType(30402, SUB_ADMIN, "CMP settings changed: {changes}")
CMP_DEBUG_CHANGED = LogType(30402, SUB_ADMIN, "CMP debug mode {state}")
SCEP_REQUEST_FAILED = LogType(
    30501, SUB_SCEP, "SCEP {operation}[ from {sender}] failed: {text} ({failure})", "error"
)
SCEP_SETTINGS_CHANGED = LogType(30502, SUB_ADMIN, "SCEP settings changed: {changes}")
SCEP_RA_CREATED = LogType(
    30503, SUB_SCEP, "RA certificate '{subject}' was created for CA certificate '{ca}'"
)
REQUEST_APPROVED = LogType(
    30403,
    SUB_CMP,
    "{protocol} {operation} of enrollment '{reference}' for \"{subject}\" was approved",
)
REQUEST_REJECTED = LogType(
    30404,
    SUB_CMP,
    "{protocol} {operation} of enrollment '{reference}' for \"{subject}\" was rejected: {reason}",
    "warning",
)


# --- Second look: pinned CA, administrators, expiry alerts -----------------------------

CMP_WRONG_CA_PINNED = LogType(
    30405,
    SUB_CMP,
    "CMP {body_type} of enrollment '{reference}': the client expects replies from {expected}; "
    "it must pin {ca}, the CA of enrollment '{reference}'",
    "warning",
)
ADMIN_CREATED = LogType(30606, SUB_ADMIN, "Administrator '{name}' was created ({role})")
ADMIN_ROLE_CHANGED = LogType(
    30607, SUB_ADMIN, "Role of administrator '{name}' was changed from {old} to {new}"
)
ADMIN_DISABLED = LogType(30608, SUB_ADMIN, "Administrator '{name}' was disabled", "warning")
ADMIN_ENABLED = LogType(30609, SUB_ADMIN, "Administrator '{name}' was enabled")
ADMIN_PASSWORD_RESET = LogType(30610, SUB_ADMIN, "Password of administrator '{name}' was reset")
ADMIN_PASSWORD_CHANGED = LogType(30611, SUB_AUTH, "Administrator '{name}' changed their password")
CA_EXPIRING = LogType(
    30108,
    SUB_CERT,
    "CA certificate '{subject}' expires on {date} (in {days} days)",
    "warning",
)
CERT_EXPIRING = LogType(
    30210,
    SUB_CERT,
    'Certificate "{subject}" ({serial}) expires on {date} (in {days} days)',
    "warning",
)
EXPIRY_ALERT_SENT = LogType(
    30109, SUB_CERT, "Expiry alert sent to {email}: {count} certificates expire within {days} days"
)
EXPIRY_ALERT_FAILED = LogType(
    30110, SUB_CERT, "Expiry alert to {email} could not be sent: {error}", "error"
)
ALERT_SETTINGS_CHANGED = LogType(30111, SUB_ADMIN, "Alert settings changed: {changes}")


#: Longest parameter value kept with an entry (the message itself is cut at 2000).
PARAM_LIMIT = 512


def _entry(log_type: LogType, actor: Actor, params: dict[str, object]) -> LogEntry:
    """An unsaved entry; *params* beyond the template's are kept too, not written.

    The parameters are stored with the entry (``LogEntry.params``), so that the
    GUI links it to what it concerns: a caller may pass one more than the
    wording shows (``serial`` to a signing line, ``transaction_id`` to a CMP
    failure).
    """
    from certauth.models import LogEntry

    return LogEntry.objects.build(
        log_type.message(**params),
        level=log_type.level,
        subcategory=log_type.subcategory,
        log_type=log_type.id,
        user=actor.user,
        source_ip=actor.source_ip,
        params={
            name: str(value)[:PARAM_LIMIT]
            for name, value in params.items()
            if value is not None and value != ""
        },
    )


def log(log_type: LogType, actor: Actor = SYSTEM, **params: object) -> LogEntry:
    """Write one event of *log_type*: the only way entries are created."""
    from certauth.prepared import insert  # the INSERT compiled once: every request logs

    entry = _entry(log_type, actor, params)
    insert(entry)
    return entry


def log_many(log_type: LogType, actor: Actor, params: list[dict[str, object]]) -> None:
    """Write one event of *log_type* per item of *params*, a few inserts in all."""
    from certauth.models import LogEntry

    LogEntry.objects.bulk_create([_entry(log_type, actor, item) for item in params], batch_size=500)


# --- Raw format (Log Access > Logs > Download) --------------------------------------------

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\r": "\\r", "\n": "\\n", "\t": "\\t"}


def escape_value(value: object) -> str:
    r"""A value for a ``key="value"`` pair.

    ``\`` and ``"`` are escaped, CR, LF and TAB written as ``\r \n \t``, and
    every other control, format or line/paragraph separator character (VT,
    FF, FS, NEL U+0085, U+2028, U+2029, ...) as ``\uXXXX``: a logged value
    can never start a line of its own, whatever a subject or a client sent.
    """
    text = "" if value is None else str(value)
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def raw_line(entry: LogEntry, tz: dt.tzinfo | None = None) -> str:
    """One entry in FortiAuthenticator's raw log format, in the server's time zone."""
    tz = tz or zoneinfo.ZoneInfo(settings.TIME_ZONE)
    local = entry.timestamp.astimezone(tz)
    return (
        f"date={local:%Y-%m-%d} time={local:%H:%M:%S} oid={entry.pk} logid={entry.log_type_id} "
        f'cat="{escape_value(entry.category)}" subcat="{escape_value(entry.subcategory)}" '
        f'level={entry.level} nas="" action="" status="" '
        f'msg="{escape_value(entry.message)}" user="{escape_value(entry.user)}" '
        f'srcip="{escape_value(entry.source_ip or "")}"'
    )
