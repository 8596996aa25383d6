"""CMP messages as plain frozen dataclasses holding ``cryptography`` objects.

:func:`decode` turns request bytes into a :class:`Request` whose header is
already parsed; the body is parsed on demand by :func:`cert_requests`,
:func:`p10cr`, :func:`cert_conf` and :func:`error_content`, because body
problems must be answered with an error message that echoes the header.
Nothing past this module sees a pyasn1 type.

For responses, :func:`response_header` derives a :class:`ResponseHeader` from the
request header (RFC 9810, 5.1.1) and :func:`encode_response` produces the DER of
an ip/cp, pkiConf or error message, protected by a
:class:`~cmp.protocol.protection.Protector` when one is given.
"""

from __future__ import annotations

import datetime
import enum
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes

from . import asn1
from .errors import BadCertTemplate, BadDataFormat, BadRequest, MalformedMessage

if TYPE_CHECKING:  # pragma: no cover
    from .protection import Protector

#: Body types whose content is CertReqMessages (RFC 9810, 5.3.1 / 5.3.3 / 5.3.5).
CERT_REQ_BODIES = frozenset({"ir", "cr", "kur", "krr", "ccr"})
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
    """A received PKIMessage: parsed header, body type, raw protected bytes."""

    header: RequestHeader
    body_type: str
    #: DER(ProtectedPart) from the original encoding: what the protection covers.
    protected_part: bytes
    protection: bytes | None
    extra_certs: tuple[x509.Certificate, ...]
    size: int
    _decoded: asn1.DecodedMessage = field(repr=False, compare=False)


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
class CertRequest:
    """One CertReqMsg: id, template fields and POP (RFC 4211, 3 and 5)."""

    cert_req_id: int
    subject: x509.Name | None
    public_key: CertificateIssuerPublicKeyTypes | None
    extensions: x509.Extensions
    not_before: datetime.datetime | None
    not_after: datetime.datetime | None
    pop: ProofOfPossession

    @property
    def subject_alt_names(self) -> tuple[x509.GeneralName, ...]:
        try:
            ext = self.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return ()
        return tuple(ext.value)


@dataclass(frozen=True)
class CertStatus:
    """One CertStatus of a certConf, RFC 9810, 5.3.18."""

    cert_hash: bytes
    cert_req_id: int
    #: True when statusInfo is absent or says accepted.
    accepted: bool
    status: PKIStatus | None
    status_text: str | None
    failure_bits: tuple[int, ...]
    #: RFC 9810, 5.3.18: hashAlg (pvno 3 only), dotted OID.
    hash_alg: str | None


@dataclass(frozen=True)
class ErrorContent:
    """ErrorMsgContent received from a client, RFC 9810, 5.3.21."""

    status: int
    status_text: str | None
    failure_bits: tuple[int, ...]
    error_code: int | None
    error_details: tuple[str, ...]


def decode(der: bytes) -> Request:
    """Decode request bytes; raises MalformedMessage if they are no PKIMessage."""
    decoded = asn1.decode_message(der)
    message = decoded.message
    try:
        protection = asn1.optional(message, "protection")
        return Request(
            header=_header(message["header"]),
            body_type=asn1.body_name(message),
            protected_part=decoded.protected_part,
            protection=asn1.bit_string_bytes(protection) if protection is not None else None,
            extra_certs=_extra_certs(message),
            size=len(der),
            _decoded=decoded,
        )
    except MalformedMessage:
        raise
    except Exception as exc:  # noqa: BLE001 - any undecodable field: not a usable PKIMessage
        # e.g. a messageTime that is no valid GeneralizedTime, an extraCert
        # that is no certificate: nothing can be answered to such a header.
        raise MalformedMessage(f"undecodable PKIMessage header: {type(exc).__name__}") from None


def _octets(value) -> bytes | None:
    return bytes(value) if value is not None else None


def _header(header) -> RequestHeader:
    alg = asn1.optional(header, "protectionAlg")
    time = asn1.optional(header, "messageTime")
    general_info = []
    for itav in asn1.optional(header, "generalInfo") or ():
        general_info.append((str(itav["infoType"]), asn1.any_der(asn1.optional(itav, "infoValue"))))
    free_text = asn1.optional(header, "freeText")
    return RequestHeader(
        pvno=int(header["pvno"]),
        sender=_general_name(header["sender"]),
        recipient=_general_name(header["recipient"]),
        message_time=asn1.time_value(time) if time is not None else None,
        protection_alg=(
            AlgorithmId(str(alg["algorithm"]), asn1.any_der(asn1.optional(alg, "parameters")))
            if alg is not None
            else None
        ),
        sender_kid=_octets(asn1.optional(header, "senderKID")),
        recip_kid=_octets(asn1.optional(header, "recipKID")),
        transaction_id=_octets(asn1.optional(header, "transactionID")),
        sender_nonce=_octets(asn1.optional(header, "senderNonce")),
        recip_nonce=_octets(asn1.optional(header, "recipNonce")),
        implicit_confirm=any(oid == asn1.OID.implicit_confirm for oid, _ in general_info),
        general_info=tuple(general_info),
        free_text=tuple(str(t) for t in free_text) if free_text is not None else (),
    )


def _general_name(general_name) -> x509.Name | None:
    der = asn1.general_name_directory_der(general_name)
    if der is None:
        return None
    try:
        return name_from_der(der)
    except ValueError:
        return None


def name_from_der(der: bytes) -> x509.Name:
    """Parse the DER of a Name with cryptography's parser."""
    return x509.load_der_x509_csr(asn1.csr_shell(der, None, None)).subject


def _extra_certs(message) -> tuple[x509.Certificate, ...]:
    certs = []
    for cmp_cert in asn1.optional(message, "extraCerts") or ():
        try:
            certs.append(x509.load_der_x509_certificate(asn1.certificate_der(cmp_cert)))
        except ValueError:
            continue  # RFC 9810, 5.1: extraCerts are a courtesy; unusable ones are ignored
    return tuple(certs)


# --------------------------------------------------------------------------- bodies


def cert_requests(request: Request) -> tuple[CertRequest, ...]:
    """The CertReqMsgs of an ir/cr/kur body, templates parsed by cryptography."""
    message = request._decoded.message
    content = asn1.body_value(message)
    if not asn1.is_cert_req_messages(content):
        raise BadRequest(f"{request.body_type} does not carry CertReqMessages.")
    raws = asn1.cert_request_ders(request._decoded.body_der)
    return tuple(_cert_request(msg, raw) for msg, raw in zip(content, raws, strict=True))


def _cert_request(cert_req_msg, cert_req_der: bytes) -> CertRequest:
    cert_req = cert_req_msg["certReq"]
    template = cert_req["certTemplate"]
    subject = asn1.optional(template, "subject")
    spki = asn1.optional(template, "publicKey")
    extensions = asn1.optional(template, "extensions")
    validity = asn1.optional(template, "validity")
    subject_der = asn1.name_der(subject) if subject is not None else None
    try:
        shell = x509.load_der_x509_csr(
            asn1.csr_shell(
                subject_der or asn1.null_dn_der(),
                asn1.implicit_der(spki, 0x30) if spki is not None else None,
                asn1.implicit_der(extensions, 0x30) if extensions is not None else None,
            )
        )
        parsed_subject = shell.subject if subject_der is not None else None
        parsed_extensions = shell.extensions
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise BadCertTemplate(f"The certificate template cannot be parsed: {exc}") from exc
    public_key = None
    if spki is not None:
        try:
            public_key = serialization.load_der_public_key(asn1.implicit_der(spki, 0x30))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise BadCertTemplate("The public key in the template cannot be parsed.") from exc
    not_before = not_after = None
    if validity is not None:
        nb = asn1.optional(validity, "notBefore")
        na = asn1.optional(validity, "notAfter")
        not_before = asn1.time_value(nb) if nb is not None else None
        not_after = asn1.time_value(na) if na is not None else None
    return CertRequest(
        cert_req_id=int(cert_req["certReqId"]),
        subject=parsed_subject,
        public_key=public_key,
        extensions=parsed_extensions,
        not_before=not_before,
        not_after=not_after,
        pop=_pop(asn1.optional(cert_req_msg, "popo"), cert_req_der),
    )


def _pop(popo, cert_req_der: bytes) -> ProofOfPossession:
    if popo is None:
        return ProofOfPossession(kind="none")
    kind = popo.getName()
    if kind != "signature":
        return ProofOfPossession(kind=kind)
    signing_key = popo["signature"]
    alg = signing_key["algorithmIdentifier"]
    return ProofOfPossession(
        kind="signature",
        algorithm=AlgorithmId(
            str(alg["algorithm"]), asn1.any_der(asn1.optional(alg, "parameters"))
        ),
        signature=asn1.bit_string_bytes(signing_key["signature"]),
        signed_data=cert_req_der,
        has_poposk_input=asn1.optional(signing_key, "poposkInput") is not None,
    )


def p10cr(request: Request) -> x509.CertificateSigningRequest:
    """The PKCS#10 request of a p10cr body, RFC 9810, 5.3.1 / RFC 2986."""
    try:
        csr = x509.load_der_x509_csr(asn1.body_content_der(request._decoded.body_der))
        csr.subject  # noqa: B018 - force the parse of every field we use
        csr.extensions  # noqa: B018
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise BadDataFormat(f"The PKCS#10 request cannot be parsed: {exc}") from exc
    return csr


def _status_info(status_info) -> tuple[PKIStatus | int, str | None, tuple[int, ...]]:
    texts = asn1.optional(status_info, "statusString")
    fail_info = asn1.optional(status_info, "failInfo")
    status = int(status_info["status"])
    try:
        status = PKIStatus(status)
    except ValueError:
        pass
    return (
        status,
        "; ".join(str(t) for t in texts) if texts is not None else None,
        asn1.bit_numbers(fail_info) if fail_info is not None else (),
    )


def cert_conf(request: Request) -> tuple[CertStatus, ...]:
    """The CertStatus list of a certConf body, RFC 9810, 5.3.18."""
    statuses = []
    for cert_status in asn1.body_value(request._decoded.message):
        info = asn1.optional(cert_status, "statusInfo")
        if info is not None:
            status, text, bits = _status_info(info)
        else:
            status, text, bits = None, None, ()
        hash_alg = asn1.optional(cert_status, "hashAlg")
        statuses.append(
            CertStatus(
                cert_hash=bytes(cert_status["certHash"]),
                cert_req_id=int(cert_status["certReqId"]),
                # RFC 9810, 5.3.18: absent statusInfo means acceptance.
                accepted=status is None or status == PKIStatus.accepted,
                status=status,
                status_text=text,
                failure_bits=bits,
                hash_alg=str(hash_alg["algorithm"]) if hash_alg is not None else None,
            )
        )
    return tuple(statuses)


def error_content(request: Request) -> ErrorContent:
    """The ErrorMsgContent of an error body, RFC 9810, 5.3.21."""
    content = asn1.body_value(request._decoded.message)
    status, text, bits = _status_info(content["pKIStatusInfo"])
    code = asn1.optional(content, "errorCode")
    details = asn1.optional(content, "errorDetails")
    return ErrorContent(
        status=int(status),
        status_text=text,
        failure_bits=bits,
        error_code=int(code) if code is not None else None,
        error_details=tuple(str(d) for d in details) if details is not None else (),
    )


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


ResponseBody = CertRepBody | PKIConfBody | ErrorBody


def new_nonce() -> bytes:
    """A fresh 128-bit nonce, RFC 9483, 3.1."""
    return os.urandom(16)


def response_header(
    request: RequestHeader | None,
    *,
    sender: x509.Name | None,
    clock_now: datetime.datetime | None = None,
    nonce: bytes | None = None,
    implicit_confirm: bool = False,
) -> ResponseHeader:
    """The header answering ``request`` (RFC 9810, 5.1.1; RFC 9483, 3.1).

    pvno as the request's, recipient = request's sender, same transactionID,
    fresh senderNonce, recipNonce = request's senderNonce, senderKID echoed
    (it names the shared secret that protects the response).
    """
    return ResponseHeader(
        pvno=request.pvno if request is not None and request.pvno in (2, 3) else 2,
        sender=sender,
        recipient=request.sender if request is not None else None,
        message_time=clock_now or datetime.datetime.now(datetime.UTC),
        sender_kid=request.sender_kid if request is not None else None,
        transaction_id=request.transaction_id if request is not None else None,
        sender_nonce=nonce or new_nonce(),
        recip_nonce=request.sender_nonce if request is not None else None,
        implicit_confirm=implicit_confirm,
    )


def _name_der(name: x509.Name | None) -> bytes:
    return name.public_bytes() if name is not None else asn1.null_dn_der()


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def encode_body(body: ResponseBody) -> bytes:
    if isinstance(body, CertRepBody):
        return asn1.encode_cert_rep_body(
            body_type=body.body_type,
            ca_pubs=tuple(_der(c) for c in body.ca_pubs),
            cert_req_id=body.cert_req_id,
            status=int(body.status),
            status_text=body.status_text,
            failure=body.failure,
            certificate=_der(body.certificate) if body.certificate is not None else None,
        )
    if isinstance(body, PKIConfBody):
        return asn1.encode_pkiconf_body()
    return asn1.encode_error_body(
        status=int(body.status), status_text=body.status_text, failure=body.failure
    )


def encode_response(
    header: ResponseHeader,
    body: ResponseBody,
    *,
    protector: Protector | None,
    extra_certs: tuple[x509.Certificate, ...] = (),
) -> bytes:
    """DER of a response PKIMessage, protected by ``protector`` if given."""
    algorithm = protector.new_algorithm() if protector is not None else None
    sender_kid = header.sender_kid
    if protector is not None and protector.sender_kid is not None:
        sender_kid = protector.sender_kid
    general_info: tuple[tuple[str, bytes | None], ...] = ()
    if header.implicit_confirm:
        # RFC 9810, 5.1.1.1: ImplicitConfirmValue ::= NULL
        general_info = ((asn1.OID.implicit_confirm, b"\x05\x00"),)
    header_der = asn1.encode_header(
        pvno=header.pvno,
        sender_der=_name_der(header.sender),
        recipient_der=_name_der(header.recipient),
        message_time=header.message_time,
        protection_alg_der=(
            asn1.encode_algorithm_identifier(algorithm.oid, algorithm.parameters)
            if algorithm is not None
            else None
        ),
        sender_kid=sender_kid,
        transaction_id=header.transaction_id,
        sender_nonce=header.sender_nonce,
        recip_nonce=header.recip_nonce,
        general_info=general_info,
    )
    body_der = encode_body(body)
    protection = None
    if protector is not None and algorithm is not None:
        protection = protector.protect(algorithm, asn1.protected_part(header_der, body_der))
    return asn1.encode_message(
        header_der, body_der, protection, tuple(_der(c) for c in extra_certs)
    )
