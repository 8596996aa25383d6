"""Event-log wording and log type IDs, in FortiAuthenticator's style.

Every message the Logs page shows is composed here, so the wording is the
same whichever entry point (GUI, CLI, CMP, admin) caused the event.
"""

from __future__ import annotations

from dataclasses import dataclass

SUB_CERT = "Certificate Management"
SUB_CMP = "CMP"
SUB_ADMIN = "Admin Configuration"


@dataclass(frozen=True)
class LogType:
    id: int
    subcategory: str
    level: str = "information"


CA_CREATED = LogType(30101, SUB_CERT)
CA_IMPORTED = LogType(30102, SUB_CERT)
CA_DELETED = LogType(30103, SUB_CERT)
CA_REVOKED = LogType(30104, SUB_CERT, "warning")
CRL_GENERATED = LogType(30105, SUB_CERT)
CA_KEY_EXPORTED = LogType(30106, SUB_CERT, "warning")
CERT_SIGNED = LogType(30201, SUB_CERT)
CERT_RENEWED = LogType(30202, SUB_CERT)
CERT_REVOKED = LogType(30203, SUB_CERT, "warning")
CERT_UNREVOKED = LogType(30204, SUB_CERT)
CERT_DELETED = LogType(30205, SUB_CERT)
CERT_CONFIRMED = LogType(30206, SUB_CMP)
CERT_REJECTED = LogType(30207, SUB_CMP, "warning")
CERT_UNCONFIRMED = LogType(30208, SUB_CMP, "warning")
ENROLLMENT_CREATED = LogType(30301, SUB_ADMIN)
ENROLLMENT_CHANGED = LogType(30302, SUB_ADMIN)
ENROLLMENT_DELETED = LogType(30303, SUB_ADMIN)
CMP_REQUEST_FAILED = LogType(30401, SUB_CMP, "error")
CMP_SETTINGS_CHANGED = LogType(30402, SUB_ADMIN)
CMP_REQUEST_APPROVED = LogType(30403, SUB_CMP)
CMP_REQUEST_REJECTED = LogType(30404, SUB_CMP, "warning")


def ca_created(subject: str) -> str:
    return f"CA certificate '{subject}' was successfully created"


def ca_imported(subject: str) -> str:
    return f"CA certificate '{subject}' was successfully imported"


def trusted_ca_imported(subject: str) -> str:
    return f"Trusted CA certificate '{subject}' was successfully imported"


def ca_deleted(subject: str) -> str:
    return f"CA certificate '{subject}' was deleted"


def ca_revoked(subject: str, reason: str) -> str:
    return f"CA certificate '{subject}' was revoked (reason: {reason})"


def ca_key_exported(subject: str) -> str:
    return f"Private key of CA certificate '{subject}' was exported (PKCS#12)"


def crl_generated(subject: str, count: int) -> str:
    return f"CRL for CA certificate '{subject}' was generated ({count} revoked)"


def csr_signed(subject: str, ca_subject: str) -> str:
    return f'Certificate signing request "{subject}" signed with CA certificate "{ca_subject}"'


def cert_renewed(subject: str, serial_colons: str) -> str:
    return f'Certificate "{subject}" was renewed ({serial_colons})'


def cert_revoked(subject: str, serial_colons: str, reason: str) -> str:
    return f'Certificate "{subject}" ({serial_colons}) was revoked (reason: {reason})'


def cert_unrevoked(subject: str, serial_colons: str) -> str:
    return f'Certificate "{subject}" ({serial_colons}) was released from hold'


def cert_deleted(subject: str, serial_colons: str) -> str:
    return f'Certificate "{subject}" ({serial_colons}) was deleted'


def cert_confirmed(subject: str, serial_colons: str) -> str:
    return f'Certificate "{subject}" ({serial_colons}) was confirmed by the client'


def cert_rejected(subject: str, serial_colons: str, reason: str) -> str:
    text = f'Certificate "{subject}" ({serial_colons}) was rejected by the client'
    return f"{text}: {reason}" if reason else text


def cert_unconfirmed(subject: str, serial_colons: str) -> str:
    return (
        f'Certificate "{subject}" ({serial_colons}) was revoked: '
        "the client did not confirm it in time"
    )


def enrollment_created(reference: str) -> str:
    return f"CMP enrollment request '{reference}' was created"


def enrollment_changed(reference: str) -> str:
    return f"CMP enrollment request '{reference}' was modified"


def enrollment_deleted(reference: str) -> str:
    return f"CMP enrollment request '{reference}' was deleted"
