"""Reading requests: DER in, :mod:`.structures` dataclasses out.

:func:`decode` reads the frame and the header of a request with the TLV reader
of :mod:`.asn1`, checking every count and size against its limit first, so
that an unauthenticated message costs little; it decodes nothing else.  The
body is decoded by the reader for its type (:func:`cert_requests`,
:func:`p10cr`, :func:`cert_conf`, :func:`rev_details`, :func:`general_messages`,
:func:`poll_requests`, :func:`error_content`) once the server has verified the
protection, and extraCerts are parsed when first used; body problems are
answered with an error message that echoes the header.  Nothing past this
module sees a pyasn1 type, and no parser exception leaves it: each becomes the
CMP error for what could not be read (RFC 9810, 5.2.3).
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from . import asn1
from .errors import (
    BadAlg,
    BadCertTemplate,
    BadDataFormat,
    BadMessageCheck,
    BadRequest,
    CMPError,
    MalformedMessage,
)
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

#: What cryptography raises on a certificate, CSR, name or key it cannot read
#: (TypeError: a name attribute of a string type its OID does not allow).
CRYPTOGRAPHY_ERRORS = (
    ValueError,
    KeyError,
    TypeError,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    x509.InvalidVersion,
    UnsupportedAlgorithm,
)


def decode(der: bytes) -> Request:
    """Read a request's frame and header; MalformedMessage if they are no PKIMessage.

    A message that exceeds a limit, or whose header holds a field that cannot be
    read, is returned with :attr:`~.structures.Request.defect` set (that field
    left out of the header) so that the server answers it with an error message.
    """
    try:
        parts = asn1.split_message(der)
        fields = asn1.read_header(parts.header)
    except asn1.Asn1Error as exc:
        raise MalformedMessage(f"Not a DER PKIMessage: {exc}") from None
    general_info = fields.general_info
    protection_alg = fields.protection_alg
    problems = [parts.defect, fields.defect]
    sender = _directory_name(fields.sender, "sender", problems)
    recipient = _directory_name(fields.recipient, "recipient", problems)
    defect = next((problem for problem in problems if problem is not None), None)
    return Request(
        header=RequestHeader(
            pvno=fields.pvno,
            sender=sender,
            recipient=recipient,
            message_time=fields.message_time,
            protection_alg=AlgorithmId(*protection_alg) if protection_alg is not None else None,
            sender_kid=fields.sender_kid,
            recip_kid=fields.recip_kid,
            transaction_id=fields.transaction_id,
            sender_nonce=fields.sender_nonce,
            recip_nonce=fields.recip_nonce,
            implicit_confirm=any(oid == asn1.OID.implicit_confirm for oid, _ in general_info),
            general_info=general_info,
            free_text=fields.free_text,
        ),
        body_type=parts.body_type,
        protection=parts.protection,
        size=len(der),
        header_der=parts.header,
        body_der=parts.body,
        extra_cert_ders=parts.extra_certs,
        defect=BadDataFormat(defect) if defect is not None else None,
    )


def _directory_name(der: bytes | None, what: str, problems: list[str | None]) -> x509.Name | None:
    """A header name; None for another GeneralName choice or a Name that does not parse
    (which is then one of the message's ``problems``)."""
    if der is None:
        return None
    try:
        return name_from_der(der)
    except ValueError as exc:
        problems.append(f"The {what} is not a valid Name: {str(exc).rstrip('.')}.")
        return None


def name_from_der(der: bytes) -> x509.Name:
    """Parse the DER of a Name with cryptography's parser; ValueError if it cannot."""
    try:
        name = x509.load_der_x509_csr(asn1.csr_shell(der, None, None)).subject
        name.rfc4514_string()  # every attribute readable, as the trace will read them
    except CRYPTOGRAPHY_ERRORS as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc
    return name


# --------------------------------------------------------------------------- certificates


def load_certificate(der: bytes) -> x509.Certificate:
    """A certificate from a request, with the fields the protocol layer and a backend read
    (names, extensions, public key, validity) parsed now: one of
    :data:`CRYPTOGRAPHY_ERRORS` if any of them cannot be."""
    # RFC 5280, 4.1.2.2: the serial number MUST be positive; cryptography warns about
    # (and will refuse) any other, so such a certificate is refused here first.
    if asn1.certificate_serial(der) <= 0:
        raise ValueError("the serial number of the certificate is not positive")
    certificate = x509.load_der_x509_certificate(der)
    certificate.subject.rfc4514_string()
    certificate.issuer.rfc4514_string()
    certificate.extensions  # noqa: B018 - parsed on first access
    certificate.public_key()
    certificate.not_valid_before_utc  # noqa: B018
    certificate.not_valid_after_utc  # noqa: B018
    return certificate


def usable_certificates(ders: tuple[bytes, ...]) -> tuple[x509.Certificate, ...]:
    """The extraCerts that parse, in order (RFC 9810, 5.1: extraCerts are a courtesy;
    unusable ones are ignored)."""
    certificates = []
    for der in ders:
        try:
            certificates.append(load_certificate(der))
        except CRYPTOGRAPHY_ERRORS:
            continue
    return tuple(certificates)


def protection_certificate(request: Request) -> x509.Certificate:
    """extraCerts[0], the CMP protection certificate of a signed request (RFC 9483, 3.3).

    Parsed alone: the rest of extraCerts is parsed only once the signature verified.
    """
    if not request.extra_cert_ders:
        raise BadMessageCheck(
            "Signature-protected message without its protection certificate in extraCerts."
        )
    try:
        return load_certificate(request.extra_cert_ders[0])
    except UnsupportedAlgorithm as exc:
        raise BadAlg(f"The key of the protection certificate is not supported: {exc}") from None
    except CRYPTOGRAPHY_ERRORS as exc:
        raise BadMessageCheck(f"The protection certificate cannot be parsed: {exc}") from None


def certificate_from_der(der: bytes) -> x509.Certificate:
    """A CMPCertificate infoValue (e.g. rootCaCert, RFC 9483, 4.3.2)."""
    if len(der) > asn1.MAX_CERTIFICATE_SIZE:
        raise BadDataFormat(
            f"The certificate in the request is larger than {asn1.MAX_CERTIFICATE_SIZE} bytes."
        )
    try:
        return load_certificate(der)
    except CRYPTOGRAPHY_ERRORS as exc:
        raise BadDataFormat("The certificate in the request cannot be parsed.") from exc


# --------------------------------------------------------------------------- bodies


def _bad_body(request: Request) -> Callable[[str], CMPError]:
    def error(reason: str) -> CMPError:
        # RFC 9810, 5.2.3: badDataFormat, the data submitted has the wrong format.
        return BadDataFormat(f"The {request.body_type} body cannot be decoded: {reason}.")

    return error


def _body(request: Request) -> asn1.Asn1Value:
    """The decoded body; BadDataFormat if it does not decode as its type."""
    try:
        return asn1.decode_body(request.body_der, request.body_type)
    except asn1.Asn1Error as exc:
        raise _bad_body(request)(str(exc)) from None


def cert_requests(request: Request) -> tuple[CertRequest, ...]:
    """The CertReqMsgs of an ir/cr/kur body, templates parsed by cryptography.

    The common shape is read with the TLV reader; any other, and any that does
    not parse so, with pyasn1, which also says what is wrong with it.
    """
    simple = (
        asn1.simple_cert_requests(request.body_der, request.body_type)
        if request.body_type in _CERT_REQ_MESSAGES
        else None
    )
    if simple is not None:
        try:
            return tuple(_simple_cert_request(item) for item in simple)
        except CMPError:
            pass  # read again in full, for the error it has always given
    return full_cert_requests(request)


def full_cert_requests(request: Request) -> tuple[CertRequest, ...]:
    """:func:`cert_requests` with pyasn1, for every shape."""
    with asn1.undecodable(_bad_body(request)):
        content = _body(request)
        if not asn1.is_cert_req_messages(content):
            raise BadRequest(f"{request.body_type} does not carry CertReqMessages.")
        raws = asn1.cert_request_ders(request.body_der)
        return tuple(_cert_request(msg, raw) for msg, raw in zip(content, raws, strict=True))


#: The bodies that are CertReqMessages (RFC 9810, 5.1.2) and come here.
_CERT_REQ_MESSAGES = frozenset({"ir", "cr", "kur"})


def _template(
    subject_der: bytes | None, spki_der: bytes | None, extensions_der: bytes | None
) -> tuple[x509.Name | None, x509.Extensions, PublicKeyTypes | None]:
    """Subject, extensions and key of a certTemplate, parsed by cryptography."""
    try:
        shell = x509.load_der_x509_csr(
            asn1.csr_shell(subject_der or asn1.null_dn_der(), spki_der, extensions_der)
        )
        parsed_subject = shell.subject if subject_der is not None else None
        if parsed_subject is not None:
            parsed_subject.rfc4514_string()
        parsed_extensions = shell.extensions
    except CRYPTOGRAPHY_ERRORS as exc:
        raise _bad_template(str(exc)) from exc
    public_key = _template_key(spki_der) if spki_der is not None else None
    return parsed_subject, parsed_extensions, public_key


def _simple_cert_request(item: asn1.SimpleCertRequest) -> CertRequest:
    subject, extensions, public_key = _template(
        item.subject_der, item.spki_der, item.extensions_der
    )
    if item.pop_algorithm is None:
        pop = ProofOfPossession(kind="none")
    else:
        pop = ProofOfPossession(
            kind="signature",
            algorithm=AlgorithmId(*item.pop_algorithm),
            signature=item.pop_signature,
            signed_data=item.cert_req_der,
            has_poposk_input=False,
        )
    return CertRequest(
        cert_req_id=item.cert_req_id,
        subject=subject,
        public_key=public_key,
        extensions=extensions,
        not_before=None,
        not_after=None,
        pop=pop,
        old_cert_id=None,
    )


def _bad_template(reason: str) -> CMPError:
    return BadCertTemplate(f"The certificate template cannot be parsed: {reason}")


def _cert_request(cert_req_msg: asn1.Asn1Value, cert_req_der: bytes) -> CertRequest:
    cert_req = cert_req_msg["certReq"]
    template = cert_req["certTemplate"]
    with asn1.undecodable(_bad_template):
        subject = asn1.optional(template, "subject")
        spki = asn1.optional(template, "publicKey")
        extensions = asn1.optional(template, "extensions")
        subject_der = asn1.name_der(subject) if subject is not None else None
        spki_der = asn1.implicit_der(spki, 0x30) if spki is not None else None
        extensions_der = asn1.implicit_der(extensions, 0x30) if extensions is not None else None
    parsed_subject, parsed_extensions, public_key = _template(subject_der, spki_der, extensions_der)
    not_before = not_after = None
    validity = asn1.optional(template, "validity")
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


def _template_key(spki_der: bytes) -> PublicKeyTypes:
    """The publicKey of a certTemplate: badAlg for an algorithm cryptography does not
    know (RFC 9810, 5.2.3: unrecognized or unsupported algorithm), badCertTemplate
    for a key that does not parse."""
    try:
        return serialization.load_der_public_key(spki_der)
    except UnsupportedAlgorithm as exc:
        raise BadAlg("The key algorithm in the template is not supported.") from exc
    except CRYPTOGRAPHY_ERRORS as exc:
        raise BadCertTemplate("The public key in the template cannot be parsed.") from exc


def _old_cert_id(cert_req: asn1.Asn1Value) -> CertId | None:
    for oid, value in asn1.controls(cert_req):
        if oid != asn1.OID.reg_ctrl_old_cert_id:
            continue
        try:
            issuer_der, serial = asn1.decode_cert_id(value)
            issuer = name_from_der(issuer_der) if issuer_der is not None else None
        except ValueError as exc:  # asn1.Asn1Error included
            raise BadDataFormat("The oldCertID control cannot be decoded.") from exc
        if issuer is None:
            raise BadDataFormat("The oldCertID issuer must be a directoryName.")
        return CertId(issuer, serial)
    return None


def _pop(popo: asn1.Asn1Value | None, cert_req_der: bytes) -> ProofOfPossession:
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
        csr = x509.load_der_x509_csr(asn1.body_content_der(request.body_der))
        csr.subject.rfc4514_string()  # force the parse of every field we use
        csr.extensions  # noqa: B018
    except CRYPTOGRAPHY_ERRORS as exc:
        raise BadDataFormat(f"The PKCS#10 request cannot be parsed: {exc}") from exc
    return csr


def _status_info(
    status_info: asn1.Asn1Value,
) -> tuple[PKIStatus | int, str | None, tuple[int, ...]]:
    texts = asn1.optional(status_info, "statusString")
    fail_info = asn1.optional(status_info, "failInfo")
    status: PKIStatus | int = int(status_info["status"])
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
    """The CertStatus list of a certConf body, RFC 9810, 5.3.18.

    The common shape is read with the TLV reader, any other with pyasn1.
    """
    simple = asn1.simple_cert_conf(request.body_der) if request.body_type == "certConf" else None
    if simple is None:
        return full_cert_conf(request)
    statuses = []
    for cert_hash, cert_req_id, number in simple:
        status: PKIStatus | int | None = number
        if number is not None:
            try:
                status = PKIStatus(number)
            except ValueError:
                pass
        statuses.append(
            CertStatus(
                cert_hash=cert_hash,
                cert_req_id=cert_req_id,
                # RFC 9810, 5.3.18: absent statusInfo means acceptance.
                accepted=status is None or status == PKIStatus.accepted,
                status=status,
                status_text=None,
                failure_bits=(),
                hash_alg=None,
            )
        )
    return tuple(statuses)


def full_cert_conf(request: Request) -> tuple[CertStatus, ...]:
    """:func:`cert_conf` with pyasn1, for every shape."""
    statuses = []
    with asn1.undecodable(_bad_body(request)):
        for cert_status in _body(request):
            info = asn1.optional(cert_status, "statusInfo")
            status: PKIStatus | int | None = None
            text: str | None = None
            bits: tuple[int, ...] = ()
            if info is not None:
                status, text, bits = _status_info(info)
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
    """The RevDetails of an rr, RFC 9810, 5.3.9.

    The reasonCode values are returned as sent (``reason_codes``); the server
    checks them, so that a wrong one is answered in the rp (RFC 9483, 4.2).
    ``reason`` is the CRLReason of the one valid code, else None.
    """
    with asn1.undecodable(_bad_body(request)):
        entries = asn1.rev_details(_body(request))
    out = []
    for fields in entries:
        try:
            issuer = name_from_der(fields.issuer) if fields.issuer is not None else None
        except ValueError as exc:
            raise BadDataFormat("The issuer in certDetails cannot be parsed.") from exc
        try:
            subject = name_from_der(fields.subject) if fields.subject is not None else None
        except ValueError as exc:
            raise BadDataFormat("The subject in certDetails cannot be parsed.") from exc
        public_key = _template_key(fields.public_key) if fields.public_key is not None else None
        extensions = None
        if fields.extensions is not None:
            try:
                extensions = x509.load_der_x509_csr(
                    asn1.csr_shell(asn1.null_dn_der(), None, fields.extensions)
                ).extensions
            except CRYPTOGRAPHY_ERRORS as exc:
                raise BadDataFormat("The extensions in certDetails cannot be parsed.") from exc
        codes = []
        for oid, _critical, value in fields.entry_extensions:
            if oid != asn1.OID.reason_code:
                continue
            try:
                codes.append(asn1.decode_enumerated(value))
            except ValueError as exc:  # asn1.Asn1Error included
                raise BadDataFormat("crlEntryDetails cannot be decoded.") from exc
        out.append(
            RevDetails(
                issuer=issuer,
                serial_number=fields.serial_number,
                reason=REASONS.get(codes[0]) if len(codes) == 1 else None,
                reason_codes=tuple(codes),
                entry_extensions=tuple(oid for oid, _critical, _value in fields.entry_extensions),
                version=fields.version,
                subject=subject,
                public_key=public_key,
                extensions=extensions,
            )
        )
    return tuple(out)


def general_messages(request: Request) -> tuple[tuple[str, bytes | None], ...]:
    """(infoType OID, DER of infoValue or None) of each item of a genm, RFC 9810, 5.3.19."""
    try:
        return tuple(asn1.info_items(request.body_der))
    except asn1.Asn1Error as exc:
        raise _bad_body(request)(str(exc)) from None


def poll_requests(request: Request) -> tuple[int, ...]:
    """The certReqIds of a pollReq body, RFC 9810, 5.3.22."""
    with asn1.undecodable(_bad_body(request)):
        return tuple(asn1.poll_cert_req_ids(_body(request)))


def general_names_from_der(der: bytes) -> tuple[x509.GeneralName, ...]:
    """Parse the DER of GeneralNames with cryptography (as a subjectAltName value)."""
    extensions = asn1.sequence_of([asn1.encode_extension("2.5.29.17", False, der)])
    shell = x509.load_der_x509_csr(asn1.csr_shell(asn1.null_dn_der(), None, extensions))
    return tuple(shell.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


def crl_status_list(der: bytes) -> tuple[CRLStatus, ...]:
    """The CRLStatus entries of a crlStatusList infoValue, RFC 9483, 4.3.4."""

    def undecodable(reason: str) -> CMPError:
        return BadDataFormat(f"The crlStatusList cannot be decoded: {reason}.")

    with asn1.undecodable(undecodable):
        entries = asn1.decode_crl_status_list(der)
    try:
        statuses = []
        for dpn_der, issuer_der, this_update in entries:
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
    except CRYPTOGRAPHY_ERRORS as exc:  # asn1.Asn1Error included
        raise BadDataFormat("The crlStatusList cannot be decoded.") from exc
    return tuple(statuses)


def error_content(request: Request) -> ErrorContent:
    """The ErrorMsgContent of an error body, RFC 9810, 5.3.21."""
    with asn1.undecodable(_bad_body(request)):
        content = _body(request)
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
