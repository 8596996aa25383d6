"""SCEP message values: message types, statuses and the decoded request.

These are the events of the protocol, with ``cryptography`` objects and plain
values only; :mod:`decode` builds them from the wire, :mod:`encode` writes the
replies.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from .asn1 import AlgorithmId, SignerInfoParts

#: RFC 8894, 3.2.1.5: senderNonce is a 16-byte random number.
NONCE_SIZE = 16

#: What ``cryptography`` raises for bytes it cannot parse.  Its X.509 parsing
#: is partly lazy: a certificate loads, and reading its subject or key fails later.
PARSE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    KeyError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
)
_SELF_SIGNED_ERRORS: tuple[type[Exception], ...] = (*PARSE_ERRORS, InvalidSignature)


class MessageType(enum.IntEnum):
    """messageType values, RFC 8894, 3.2.1.2 (sent as a decimal PrintableString)."""

    CertRep = 3
    RenewalReq = 17
    PKCSReq = 19
    CertPoll = 20  # "GetCertInitial" in drafts before RFC 8894
    GetCert = 21
    GetCRL = 22


class PKIStatus(enum.IntEnum):
    """pkiStatus values, RFC 8894, 3.2.1.3."""

    SUCCESS = 0
    FAILURE = 2
    PENDING = 3


def message_type_name(value: int | None) -> str:
    if value is None:
        return "(none)"
    try:
        return f"{MessageType(value).name} ({value})"
    except ValueError:
        return f"unknown ({value})"


def new_nonce() -> bytes:
    return os.urandom(NONCE_SIZE)


@dataclass(frozen=True)
class IssuerAndSerial:
    """IssuerAndSerialNumber: the content of GetCert and GetCRL (RFC 8894, 3.3.4)."""

    issuer: x509.Name
    serial_number: int


@dataclass(frozen=True)
class IssuerAndSubject:
    """IssuerAndSubject: the content of CertPoll (RFC 8894, 3.3.3)."""

    issuer: x509.Name
    subject: x509.Name


@dataclass(frozen=True)
class PKIMessage:
    """A PKIOperation request as read from the wire, before the signature is checked.

    Everything needed to address a CertRep is here: the signer certificate the
    reply is encrypted to, ``transaction_id_der`` (the transactionID attribute
    value exactly as sent, echoed in the reply) and ``sender_nonce`` (the
    reply's recipientNonce).  ``message_type`` is None when the attribute is
    missing or not a number; an unknown number is kept as an int.
    ``content`` is the eContent, the DER of the pkcsPKIEnvelope (RFC 8894, 3.2.2).
    ``signer_info`` is what :func:`~scep.protocol.protection.verify_signer_info` checks.
    """

    size: int
    transaction_id: str
    transaction_id_der: bytes
    sender_nonce: bytes
    message_type: int | None
    signer_certificate: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    digest_algorithm: AlgorithmId
    signature_algorithm: AlgorithmId
    content_type: str
    content: bytes | None
    signer_info: SignerInfoParts = field(repr=False)

    @property
    def self_signed(self) -> bool:
        return is_self_signed(self.signer_certificate)


def is_self_signed(certificate: x509.Certificate) -> bool:
    """True if ``certificate`` is issued by its own subject and key."""
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except _SELF_SIGNED_ERRORS:
        return False
    return True
