"""CMP messages and their parts as plain frozen dataclasses holding ``cryptography`` objects.

Requests: :class:`Request` with its parsed :class:`RequestHeader`, and what the
body readers of :mod:`.decode` return (:class:`CertRequest`,
:class:`CertStatus`, :class:`RevDetails`, ...).  Responses: a
:class:`ResponseHeader` and one of the ``*Body`` classes, which :mod:`.encode`
turns into DER.  No pyasn1 type appears in a public field (a :class:`Request`
keeps its decoded form privately, for the body readers).
"""

from __future__ import annotations

import datetime
import enum
import functools
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from .asn1 import protected_part
from .errors import CMPError

#: The response body type for each certificate request body type.
RESPONSE_BODY = {"ir": "ip", "cr": "cp", "p10cr": "cp", "kur": "kup", "ccr": "ccp"}


class PKIStatus(enum.IntEnum):
    """PKIStatus, RFC 9810, 5.2.3."""

    accepted = 0
    grantedWithMods = 1
    rejection = 2
    waiting = 3
    revocationWarning = 4
    revocationNotification = 5
    keyUpdateWarning = 6


@dataclass(frozen=True)
class AlgorithmId:
    """An AlgorithmIdentifier: dotted OID and the DER of its parameters (or None)."""

    oid: str
    parameters: bytes | None = None


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class RequestHeader:
    """PKIHeader of a received message, RFC 9810, 5.1.1."""

    pvno: int
    sender: x509.Name | None  # None when not a directoryName
    recipient: x509.Name | None
    message_time: datetime.datetime | None
    protection_alg: AlgorithmId | None
    sender_kid: bytes | None
    recip_kid: bytes | None
    transaction_id: bytes | None
    sender_nonce: bytes | None
    recip_nonce: bytes | None
    #: RFC 9810, 5.1.1.1: id-it-implicitConfirm present in generalInfo.
    implicit_confirm: bool = False
    #: All generalInfo items as (infoType OID, DER of infoValue or None).
    general_info: tuple[tuple[str, bytes | None], ...] = ()
    free_text: tuple[str, ...] = ()


@dataclass(frozen=True)
class Request:
    """A received PKIMessage: parsed header, body type, and the original DER of the rest.

    Only the header is read with the message (:func:`.decode.decode`); the body
    is decoded by the reader for its type once the protection verified, and the
    extraCerts are parsed when first used.
    """

    header: RequestHeader
    body_type: str
    protection: bytes | None
    size: int
    #: The header and the body as received (the body with its [n] tag).
    header_der: bytes = field(repr=False)
    body_der: bytes = field(repr=False)
    #: Each extraCerts entry as received.
    extra_cert_ders: tuple[bytes, ...] = field(default=(), repr=False)
    #: A limit exceeded or a header field that could not be read (and was left out
    #: of ``header``); the server answers with this error before anything else.
    defect: CMPError | None = field(default=None, compare=False)

    @functools.cached_property
    def protected_part(self) -> bytes:
        """DER(ProtectedPart) from the original encoding: what the protection covers."""
        return protected_part(self.header_der, self.body_der)

    @functools.cached_property
    def extra_certs(self) -> tuple[x509.Certificate, ...]:
        """The extraCerts that parse, in order (parsed on first use)."""
        from .decode import usable_certificates  # the readers import this module

        return usable_certificates(self.extra_cert_ders)


@dataclass(frozen=True)
class ProofOfPossession:
    """ProofOfPossession of a CertReqMsg, RFC 4211, 4.

    ``kind`` is "signature", "raVerified", "keyEncipherment", "keyAgreement" or
    "none" (popo absent).  For "signature", ``signed_data`` is the original DER
    of certReq, over which the signature is computed when poposkInput is absent
    (RFC 4211, 4.1); ``has_poposk_input`` tells whether it was present.
    """

    kind: str
    algorithm: AlgorithmId | None = None
    signature: bytes | None = None
    signed_data: bytes | None = None
    has_poposk_input: bool = False


@dataclass(frozen=True)
class CertId:
    """Issuer and serial number of a certificate (CRMF CertId, RFC 4211, 6.5)."""

    issuer: x509.Name
    serial_number: int

    @classmethod
    def of(cls, certificate: x509.Certificate) -> CertId:
        return cls(certificate.issuer, certificate.serial_number)


@dataclass(frozen=True)
class CertRequest:
    """One CertReqMsg: id, template fields, controls and POP (RFC 4211, 3, 5 and 6)."""

    cert_req_id: int
    subject: x509.Name | None
    #: Any key the template names; the server checks which it can certify.
    public_key: PublicKeyTypes | None
    extensions: x509.Extensions
    not_before: datetime.datetime | None
    not_after: datetime.datetime | None
    pop: ProofOfPossession
    #: RFC 4211, 6.5: the oldCertID control (kur), None when absent.
    old_cert_id: CertId | None = None

    @property
    def subject_alt_names(self) -> tuple[x509.GeneralName, ...]:
        return subject_alt_names(self.extensions)


@dataclass(frozen=True)
class CertStatus:
    """One CertStatus of a certConf, RFC 9810, 5.3.18."""

    cert_hash: bytes
    cert_req_id: int
    #: True when statusInfo is absent or says accepted.
    accepted: bool
    #: None when statusInfo is absent; an int for a value RFC 9810, 5.2.3 does not define.
    status: PKIStatus | int | None
    status_text: str | None
    failure_bits: tuple[int, ...]
    #: RFC 9810, 5.3.18: hashAlg (pvno 3 only), dotted OID.
    hash_alg: str | None


@dataclass(frozen=True)
class RevDetails:
    """One RevDetails of an rr, RFC 9810, 5.3.9: certDetails and crlEntryDetails.

    ``reason_codes`` are the reasonCode values of crlEntryDetails as sent (RFC
    9483, 4.2 wants exactly one), ``entry_extensions`` the extnIDs there;
    ``version``, ``subject``, ``public_key`` and ``extensions`` the other
    fields of certDetails when present.
    """

    issuer: x509.Name | None
    serial_number: int | None
    #: reasonCode (RFC 5280, 5.3.1) from crlEntryDetails, None when absent.
    reason: x509.ReasonFlags | None
    reason_codes: tuple[int, ...] = ()
    entry_extensions: tuple[str, ...] = ()
    version: int | None = None
    subject: x509.Name | None = None
    public_key: PublicKeyTypes | None = None
    extensions: x509.Extensions | None = None


@dataclass(frozen=True)
class CRLStatus:
    """One CRLStatus of a crlStatusList genm (RFC 9483, 4.3.4; RFC 9810, 5.3.19.16).

    The CRL is named by its distribution point (``distribution_point``, the
    fullName GeneralNames) or by its issuer (``issuer``, the directoryName
    among the CRL issuer GeneralNames); ``this_update`` is the thisUpdate of
    the CRL the client holds (None: it holds none).
    """

    distribution_point: tuple[x509.GeneralName, ...] | None
    issuer: x509.Name | None
    this_update: datetime.datetime | None


@dataclass(frozen=True)
class ErrorContent:
    """ErrorMsgContent received from a client, RFC 9810, 5.3.21."""

    status: int
    status_text: str | None
    failure_bits: tuple[int, ...]
    error_code: int | None
    error_details: tuple[str, ...]


def kid_text(key_id: bytes | None) -> str:
    """A senderKID as text: the reference it names (printable UTF-8), else its hex.

    Empty for a missing or empty senderKID.  Enrollment references are
    printable, so a hex text never names one by accident.  Used by the trace
    and by adapters that look the reference up or log it.
    """
    if not key_id:
        return ""
    try:
        text = key_id.decode("utf-8")
    except UnicodeDecodeError:
        return key_id.hex()
    return text if text.isprintable() else key_id.hex()


def subject_alt_names(extensions: x509.Extensions) -> tuple[x509.GeneralName, ...]:
    """The subjectAltName entries requested in *extensions* (empty when none)."""
    try:
        ext = extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    return tuple(ext.value)


# --------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class ResponseHeader:
    """PKIHeader of a response, RFC 9810, 5.1.1."""

    pvno: int
    sender: x509.Name | None  # None: the NULL-DN
    recipient: x509.Name | None  # None: the NULL-DN
    message_time: datetime.datetime
    sender_kid: bytes | None
    transaction_id: bytes | None
    sender_nonce: bytes
    recip_nonce: bytes | None
    implicit_confirm: bool = False


@dataclass(frozen=True)
class CertRepBody:
    """An ip/cp/kup with one CertResponse, RFC 9810, 5.3.4."""

    body_type: str
    cert_req_id: int
    status: PKIStatus
    certificate: x509.Certificate | None = None
    ca_pubs: tuple[x509.Certificate, ...] = ()
    status_text: str | None = None
    failure: int | None = None


@dataclass(frozen=True)
class PKIConfBody:
    """pkiConf, RFC 9810, 5.3.17."""


@dataclass(frozen=True)
class ErrorBody:
    """error: PKIStatusInfo with statusString and one failInfo bit, RFC 9810, 5.3.21."""

    status: PKIStatus
    status_text: str | None
    failure: int | None


@dataclass(frozen=True)
class RevRepBody:
    """rp with one PKIStatusInfo, RFC 9810, 5.3.10 / RFC 9483, 4.2."""

    status: PKIStatus = PKIStatus.accepted
    status_text: str | None = None
    failure: int | None = None


@dataclass(frozen=True)
class GenRepBody:
    """genp: (infoType OID, DER of infoValue or None) items, RFC 9810, 5.3.19."""

    items: tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True)
class PollRepBody:
    """pollRep with one entry, RFC 9810, 5.3.22."""

    cert_req_id: int
    check_after: int
    reason: str | None = None


ResponseBody = CertRepBody | PKIConfBody | ErrorBody | RevRepBody | GenRepBody | PollRepBody
