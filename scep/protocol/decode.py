"""Reading SCEP requests: from bytes (or a GET query value) to :mod:`messages` values.

:func:`read_pki_message` reads the outer SignedData of a PKIOperation far
enough to address a CertRep (signer certificate, transactionID, senderNonce)
and raises :class:`~scep.protocol.errors.MalformedMessage` when it cannot; the
signature is checked afterwards by the server (:mod:`protection`), so that a
badly signed request still gets a CertRep FAILURE.  The other readers parse the
decrypted pkcsPKIEnvelope content of each message type and raise
:class:`~scep.protocol.errors.SCEPError` subclasses.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from . import asn1
from .asn1 import OID, SignerInfoParts
from .envelope import UNDECRYPTABLE
from .errors import BadMessageCheck, BadRequest, MalformedMessage
from .messages import PARSE_ERRORS, IssuerAndSerial, IssuerAndSubject, PKIMessage

#: transactionID length accepted (RFC 8894, 3.2.1.1: a text string; clients send
#: a hex or base64 hash of the key, 32 to 64 characters).
MAX_TRANSACTION_ID = 128
#: senderNonce length accepted (RFC 8894, 3.2.1.5: 16 bytes; some clients send other sizes).
MIN_NONCE, MAX_NONCE = 8, 64

_BASE64_JUNK = re.compile(r"[\r\n\t]")
_EXTENSION_ERRORS: tuple[type[Exception], ...] = (x509.ExtensionNotFound, *PARSE_ERRORS)
_PAYLOAD_ERRORS: tuple[type[Exception], ...] = (asn1.DecodeError, *PARSE_ERRORS)


def message_from_query(value: str, max_size: int) -> bytes:
    """The DER of a GET PKIOperation's ``message`` value (RFC 8894, 4.1).

    ``value`` is the query parameter as the web framework decoded it once.  It
    is base64 (RFC 4648, 4); clients differ in how they put it in a URL:

    * percent-encoded once (standard), or twice (Cisco IOS percent-encodes the
      already encoded value): a remaining ``%xx`` is decoded again;
    * '+' not percent-encoded, which form decoding turns into a space;
    * the URL-safe alphabet ('-', '_'; RFC 4648, 5) as go-based clients send;
    * with line breaks, or without '=' padding.
    """
    if len(value) > (max_size * 4) // 3 + 1024:
        raise MalformedMessage(f"The message parameter is longer than {max_size} bytes.")
    text = value
    if "%" in text:
        text = urllib.parse.unquote(text)
    text = _BASE64_JUNK.sub("", text).strip().replace(" ", "+")
    text = text.replace("-", "+").replace("_", "/").rstrip("=")
    text += "=" * (-len(text) % 4)
    try:
        der = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedMessage("The message parameter is not base64.") from None
    if not der:
        raise MalformedMessage("The message parameter is empty.")
    return der


def _load_certificate(der: bytes) -> x509.Certificate:
    try:
        # RFC 5280, 4.1.2.2: the serial number MUST be positive; cryptography
        # warns about (and will refuse) any other, so it is refused here first.
        if asn1.certificate_issuer_and_serial(der)[1] <= 0:
            raise ValueError("its serial number is not positive")
        return x509.load_der_x509_certificate(der)
    except _PAYLOAD_ERRORS as exc:
        raise MalformedMessage(f"A certificate of the SignedData cannot be read: {exc}") from None


def _is_signer(signer: SignerInfoParts, certificate: x509.Certificate) -> bool:
    if signer.subject_key_id is not None:
        try:
            ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except _EXTENSION_ERRORS:
            return False
        return ski.value.digest == signer.subject_key_id
    if signer.serial_number != certificate.serial_number:
        return False
    issuer_der, _serial = asn1.certificate_issuer_and_serial(
        certificate.public_bytes(serialization.Encoding.DER)
    )
    return issuer_der == signer.issuer_der


def _single_value(signer: SignerInfoParts, oid: str, what: str) -> bytes:
    values = signer.values(oid)
    if signer.count(oid) != 1 or len(values) != 1:
        raise MalformedMessage(f"The {what} attribute is missing or repeated.")
    return values[0]


def read_pki_message(der: bytes, *, max_certificates: int = 10) -> PKIMessage:
    """Read a PKIOperation request (RFC 8894, 3.2) up to what a CertRep needs."""
    try:
        parts = asn1.decode_signed_data(der, max_certificates=max_certificates)
    except asn1.DecodeError as exc:
        raise MalformedMessage(f"Not a CMS SignedData: {str(exc)[:200]}") from None
    if len(parts.signer_infos) != 1:
        # RFC 8894, 3.1: one signer, the requester.
        raise MalformedMessage("The SignedData must have exactly one SignerInfo.")
    signer = parts.signer_infos[0]
    certificates = tuple(_load_certificate(c) for c in parts.certificates)
    # RFC 8894, 3.1: the signer's certificate is in the certificates set (its
    # self-signed certificate for a first enrolment, RFC 8894, 2.3).
    matching = [c for c in certificates if _is_signer(signer, c)]
    if not matching:
        raise MalformedMessage("The signer certificate is not in the SignedData.")
    try:
        transaction_der = _single_value(signer, OID.transaction_id, "transactionID")
        transaction_id = asn1.decode_string(transaction_der)
        sender_nonce = asn1.decode_octet_string(
            _single_value(signer, OID.sender_nonce, "senderNonce")
        )
    except asn1.DecodeError as exc:
        raise MalformedMessage(f"A SCEP attribute cannot be read: {exc}") from None
    # RFC 8894, 3.2.1.1 and 3.2.1.5: both are needed to answer at all.
    if not 0 < len(transaction_id) <= MAX_TRANSACTION_ID:
        raise MalformedMessage(f"transactionID of {len(transaction_id)} characters.")
    if not MIN_NONCE <= len(sender_nonce) <= MAX_NONCE:
        raise MalformedMessage(f"senderNonce of {len(sender_nonce)} bytes.")
    message_type: int | None = None
    types = signer.values(OID.message_type)
    if len(types) == 1:
        try:
            text = asn1.decode_string(types[0])
        except asn1.DecodeError:
            text = ""
        if text.isascii() and text.isdigit() and len(text) <= 3:
            message_type = int(text)
    return PKIMessage(
        size=len(der),
        transaction_id=transaction_id,
        transaction_id_der=transaction_der,
        sender_nonce=sender_nonce,
        message_type=message_type,
        signer_certificate=matching[0],
        certificates=certificates,
        digest_algorithm=signer.digest_algorithm,
        signature_algorithm=signer.signature_algorithm,
        content_type=parts.content_type,
        content=parts.content,
        signer_info=signer,
    )


# --------------------------------------------------------------------------- payloads


def name(der: bytes) -> x509.Name:
    """A DER Name as an ``x509.Name`` (ValueError if it is not one)."""
    try:
        return x509.load_der_x509_csr(asn1.name_shell(der)).subject
    except asn1.DecodeError as exc:
        raise ValueError(str(exc)) from None


def read_csr(content: bytes) -> x509.CertificateSigningRequest:
    """The PKCS#10 request of a PKCSReq/RenewalReq (RFC 8894, 3.3.1)."""
    try:
        csr = x509.load_der_x509_csr(content)
        csr.subject  # noqa: B018 - parse now, inside the try
    except PARSE_ERRORS:
        raise BadMessageCheck(UNDECRYPTABLE) from None
    return csr


def challenge_password(csr: x509.CertificateSigningRequest) -> str | None:
    """The challengePassword of a CSR (RFC 2985, 5.4.1), None if it has none."""
    try:
        values = asn1.challenge_passwords(csr.public_bytes(serialization.Encoding.DER))
    except asn1.DecodeError as exc:
        raise BadRequest(f"The CSR attributes cannot be read: {exc}") from None
    if len(values) > 1:
        # RFC 2985, 5.4.1: challengePassword is single-valued.
        raise BadRequest("The CSR has more than one challengePassword.")
    return values[0] if values else None


def read_issuer_and_serial(content: bytes) -> IssuerAndSerial:
    """IssuerAndSerialNumber of a GetCert or GetCRL (RFC 8894, 3.3.4)."""
    try:
        issuer_der, serial = asn1.decode_issuer_and_serial(content)
        return IssuerAndSerial(name(issuer_der), serial)
    except _PAYLOAD_ERRORS:
        raise BadMessageCheck(UNDECRYPTABLE) from None


def read_issuer_and_subject(content: bytes) -> IssuerAndSubject:
    """IssuerAndSubject of a CertPoll (RFC 8894, 3.3.3)."""
    try:
        issuer_der, subject_der = asn1.decode_issuer_and_subject(content)
        return IssuerAndSubject(name(issuer_der), name(subject_der))
    except _PAYLOAD_ERRORS:
        raise BadMessageCheck(UNDECRYPTABLE) from None
