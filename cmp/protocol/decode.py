"""Reading requests: DER in, :mod:`.structures` dataclasses out.

:func:`decode` turns request bytes into a :class:`~.structures.Request` whose
header is already parsed; the body is parsed on demand by the readers below
(:func:`cert_requests`, :func:`p10cr`, :func:`cert_conf`, :func:`rev_details`,
:func:`general_messages`, :func:`poll_requests`, :func:`error_content`),
because body problems must be answered with an error message that echoes the
header.  Nothing past this module sees a pyasn1 type.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from . import asn1
from .errors import BadCertTemplate, BadDataFormat, BadRequest, MalformedMessage
from .structures import (
    AlgorithmId,
    CertId,
    CertRequest,
    CertStatus,
    CRLStatus,
    ErrorContent,
    PKIStatus,
    ProofOfPossession,
    Request,
    RequestHeader,
    RevDetails,
)


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
