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
    public_key: CertificateIssuerPublicKeyTypes | None
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
    status: PKIStatus | None
    status_text: str | None
    failure_bits: tuple[int, ...]
    #: RFC 9810, 5.3.18: hashAlg (pvno 3 only), dotted OID.
    hash_alg: str | None


@dataclass(frozen=True)
class RevDetails:
    """One RevDetails of an rr, RFC 9810, 5.3.9: certDetails and crlEntryDetails."""

    issuer: x509.Name | None
    serial_number: int | None
    #: reasonCode (RFC 5280, 5.3.1) from crlEntryDetails, None when absent.
    reason: x509.ReasonFlags | None


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


def subject_alt_names(extensions: x509.Extensions) -> tuple[x509.GeneralName, ...]:
    """The subjectAltName entries requested in *extensions* (empty when none)."""
    try:
        ext = extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    return tuple(ext.value)


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
        old_cert_id=_old_cert_id(cert_req),
    )


def _old_cert_id(cert_req) -> CertId | None:
    for oid, value in asn1.controls(cert_req):
        if oid != asn1.OID.reg_ctrl_old_cert_id:
            continue
        try:
            issuer_der, serial = asn1.decode_cert_id(value)
            issuer = name_from_der(issuer_der) if issuer_der is not None else None
        except (asn1.Asn1Error, ValueError) as exc:
            raise BadDataFormat("The oldCertID control cannot be decoded.") from exc
        if issuer is None:
            raise BadDataFormat("The oldCertID issuer must be a directoryName.")
        return CertId(issuer, serial)
    return None


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


#: RFC 5280, 5.3.1: CRLReason codes (7 is not used).
REASONS = {
    0: x509.ReasonFlags.unspecified,
    1: x509.ReasonFlags.key_compromise,
    2: x509.ReasonFlags.ca_compromise,
    3: x509.ReasonFlags.affiliation_changed,
    4: x509.ReasonFlags.superseded,
    5: x509.ReasonFlags.cessation_of_operation,
    6: x509.ReasonFlags.certificate_hold,
    8: x509.ReasonFlags.remove_from_crl,
    9: x509.ReasonFlags.privilege_withdrawn,
    10: x509.ReasonFlags.aa_compromise,
}


def rev_details(request: Request) -> tuple[RevDetails, ...]:
    """The RevDetails of an rr body, RFC 9810, 5.3.9."""
    out = []
    for issuer_der, serial, extensions_der in asn1.rev_details(
        asn1.body_value(request._decoded.message)
    ):
        try:
            issuer = name_from_der(issuer_der) if issuer_der is not None else None
        except ValueError as exc:
            raise BadDataFormat("The issuer in certDetails cannot be parsed.") from exc
        reason = None
        if extensions_der is not None:
            try:
                value = asn1.extension_values(extensions_der).get(asn1.OID.reason_code)
                code = asn1.decode_enumerated(value) if value is not None else None
            except (asn1.Asn1Error, ValueError) as exc:
                raise BadDataFormat("crlEntryDetails cannot be decoded.") from exc
            if code is not None:
                # RFC 5280, 5.3.1: reasonCode is 0..10 without 7.
                if code not in REASONS:
                    raise BadDataFormat(f"CRL reason code {code} is not valid.")
                reason = REASONS[code]
        out.append(RevDetails(issuer=issuer, serial_number=serial, reason=reason))
    return tuple(out)


def general_messages(request: Request) -> tuple[tuple[str, bytes | None], ...]:
    """(infoType OID, DER of infoValue or None) of each item of a genm, RFC 9810, 5.3.19."""
    return tuple(asn1.info_type_values(asn1.body_value(request._decoded.message)))


def poll_requests(request: Request) -> tuple[int, ...]:
    """The certReqIds of a pollReq body, RFC 9810, 5.3.22."""
    return tuple(asn1.poll_cert_req_ids(asn1.body_value(request._decoded.message)))


def certificate_from_der(der: bytes) -> x509.Certificate:
    """A CMPCertificate infoValue (e.g. rootCaCert, RFC 9483, 4.3.2)."""
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise BadDataFormat("The certificate in the request cannot be parsed.") from exc


def general_names_from_der(der: bytes) -> tuple[x509.GeneralName, ...]:
    """Parse the DER of GeneralNames with cryptography (as a subjectAltName value)."""
    extensions = asn1.sequence_of([asn1.encode_extension("2.5.29.17", False, der)])
    shell = x509.load_der_x509_csr(asn1.csr_shell(asn1.null_dn_der(), None, extensions))
    return tuple(shell.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


def crl_status_list(der: bytes) -> tuple[CRLStatus, ...]:
    """The CRLStatus entries of a crlStatusList infoValue, RFC 9483, 4.3.4."""
    try:
        statuses = []
        for dpn_der, issuer_der, this_update in asn1.decode_crl_status_list(der):
            issuer = None
            if issuer_der is not None:
                names = general_names_from_der(issuer_der)
                issuer = next((n.value for n in names if isinstance(n, x509.DirectoryName)), None)
            statuses.append(
                CRLStatus(
                    distribution_point=(
                        general_names_from_der(dpn_der) if dpn_der is not None else None
                    ),
                    issuer=issuer,
                    this_update=this_update,
                )
            )
    except (asn1.Asn1Error, ValueError, x509.UnsupportedGeneralNameType) as exc:
        raise BadDataFormat("The crlStatusList cannot be decoded.") from exc
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
    if isinstance(body, RevRepBody):
        return asn1.encode_rev_rep_body(
            status=int(body.status), status_text=body.status_text, failure=body.failure
        )
    if isinstance(body, GenRepBody):
        return asn1.encode_genp_body(body.items)
    if isinstance(body, PollRepBody):
        return asn1.encode_poll_rep_body(
            cert_req_id=body.cert_req_id, check_after=body.check_after, reason=body.reason
        )
    return asn1.encode_error_body(
        status=int(body.status), status_text=body.status_text, failure=body.failure
    )


# --------------------------------------------------------------------------- genp values


def ca_certs_value(certificates: tuple[x509.Certificate, ...]) -> bytes | None:
    """caCerts infoValue: SEQUENCE SIZE (1..MAX) OF CMPCertificate (RFC 9483, 4.3.1)."""
    return asn1.sequence_of([_der(c) for c in certificates]) if certificates else None


def root_ca_key_update_value(
    new_with_new: x509.Certificate,
    new_with_old: x509.Certificate | None,
    old_with_new: x509.Certificate | None,
) -> bytes:
    """rootCaKeyUpdate infoValue, RootCaKeyUpdateContent (RFC 9483, 4.3.2)."""
    return asn1.encode_root_ca_key_update(
        _der(new_with_new),
        _der(new_with_old) if new_with_old is not None else None,
        _der(old_with_new) if old_with_new is not None else None,
    )


#: cryptography curve names and their OIDs, for id-regCtrl-algId (RFC 9483, 4.3.3).
CURVE_OIDS = {
    "secp256r1": "1.2.840.10045.3.1.7",
    "secp384r1": "1.3.132.0.34",
    "secp521r1": "1.3.132.0.35",
}


def cert_req_template_value(
    subject: x509.Name | None,
    extensions: tuple[x509.Extension, ...],
    rsa_key_size: int | None,
    ec_curve: str | None,
) -> bytes:
    """certReqTemplate infoValue, CertReqTemplateContent (RFC 9483, 4.3.3)."""
    controls: list[tuple[str, bytes]] = []
    if ec_curve is not None:
        # id-regCtrl-algId: AlgorithmIdentifier id-ecPublicKey with the namedCurve
        controls.append(
            (
                asn1.OID.reg_ctrl_alg_id,
                asn1.encode_algorithm_identifier(
                    asn1.OID.ec_public_key, asn1.encode_oid(CURVE_OIDS[ec_curve])
                ),
            )
        )
    if rsa_key_size is not None:
        # id-regCtrl-rsaKeyLen: INTEGER (1..MAX)
        controls.append((asn1.OID.reg_ctrl_rsa_key_len, asn1.encode_integer(rsa_key_size)))
    return asn1.encode_cert_req_template(
        subject_der=subject.public_bytes() if subject is not None and len(subject) else None,
        extension_ders=tuple(
            asn1.encode_extension(ext.oid.dotted_string, ext.critical, ext.value.public_bytes())
            for ext in extensions
        ),
        controls=tuple(controls),
    )


def crls_value(crls: tuple[x509.CertificateRevocationList, ...]) -> bytes | None:
    """crls infoValue: SEQUENCE SIZE (1..MAX) OF CertificateList (RFC 9483, 4.3.4)."""
    if not crls:
        return None
    return asn1.sequence_of([c.public_bytes(serialization.Encoding.DER) for c in crls])


def algorithms_value(algorithms: tuple[AlgorithmId, ...]) -> bytes:
    """signKeyPairTypes infoValue: SEQUENCE OF AlgorithmIdentifier (RFC 9810, 5.3.19.2)."""
    return asn1.sequence_of(
        [asn1.encode_algorithm_identifier(a.oid, a.parameters) for a in algorithms]
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
