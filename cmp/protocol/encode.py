"""Writing responses: :mod:`.structures` dataclasses in, DER out.

:func:`response_header` derives a :class:`~.structures.ResponseHeader` from
the request header (RFC 9810, 5.1.1) and :func:`encode_response` produces the
DER of a response message, protected by a
:class:`~cmp.protocol.protection.Protector` when one is given.  The
``*_value`` functions build the DER infoValues of a genp (RFC 9483, 4.3).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from . import asn1
from .structures import (
    AlgorithmId,
    CertRepBody,
    ErrorBody,
    GenRepBody,
    PKIConfBody,
    PollRepBody,
    RequestHeader,
    ResponseBody,
    ResponseHeader,
    RevRepBody,
)

if TYPE_CHECKING:  # pragma: no cover
    from .protection import Protector


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


def _cert_rep_body(body: CertRepBody) -> bytes:
    return asn1.encode_cert_rep_body(
        body_type=body.body_type,
        ca_pubs=tuple(_der(c) for c in body.ca_pubs),
        cert_req_id=body.cert_req_id,
        status=int(body.status),
        status_text=body.status_text,
        failure=body.failure,
        certificate=_der(body.certificate) if body.certificate is not None else None,
    )


def _pkiconf_body(body: PKIConfBody) -> bytes:
    return asn1.encode_pkiconf_body()


def _error_body(body: ErrorBody) -> bytes:
    return asn1.encode_error_body(
        status=int(body.status), status_text=body.status_text, failure=body.failure
    )


def _rev_rep_body(body: RevRepBody) -> bytes:
    return asn1.encode_rev_rep_body(
        status=int(body.status), status_text=body.status_text, failure=body.failure
    )


def _gen_rep_body(body: GenRepBody) -> bytes:
    return asn1.encode_genp_body(body.items)


def _poll_rep_body(body: PollRepBody) -> bytes:
    return asn1.encode_poll_rep_body(
        cert_req_id=body.cert_req_id, check_after=body.check_after, reason=body.reason
    )


#: The writer of each response body (RFC 9810, 5.1.2), by dataclass.
WRITERS: dict[type, Callable[[Any], bytes]] = {
    CertRepBody: _cert_rep_body,
    PKIConfBody: _pkiconf_body,
    ErrorBody: _error_body,
    RevRepBody: _rev_rep_body,
    GenRepBody: _gen_rep_body,
    PollRepBody: _poll_rep_body,
}


def encode_body(body: ResponseBody) -> bytes:
    """DER of the PKIBody for ``body``."""
    return WRITERS[type(body)](body)


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


#: EdDSA key types and their OIDs, for id-regCtrl-algId (RFC 9483, 4.3.3; RFC 8410, 3).
EDDSA_OIDS = {"ed25519": asn1.OID.ed25519, "ed448": asn1.OID.ed448}


def cert_req_template_value(
    subject: x509.Name | None,
    extensions: tuple[x509.Extension, ...],
    rsa_key_size: int | None,
    ec_curve: str | None,
    eddsa: str | None = None,
) -> bytes:
    """certReqTemplate infoValue, CertReqTemplateContent (RFC 9483, 4.3.3).

    keySpec holds one control: id-regCtrl-algId for an EC or EdDSA key, or
    id-regCtrl-rsaKeyLen for an RSA key; RFC 9483, 4.3.3 never puts both.
    """
    controls: list[tuple[str, bytes]] = []
    if eddsa is not None:
        # id-regCtrl-algId: AlgorithmIdentifier id-Ed25519 / id-Ed448, parameters absent
        controls.append(
            (asn1.OID.reg_ctrl_alg_id, asn1.encode_algorithm_identifier(EDDSA_OIDS[eddsa], None))
        )
    elif ec_curve is not None:
        # id-regCtrl-algId: AlgorithmIdentifier id-ecPublicKey with the namedCurve
        controls.append(
            (
                asn1.OID.reg_ctrl_alg_id,
                asn1.encode_algorithm_identifier(
                    asn1.OID.ec_public_key, asn1.encode_oid(CURVE_OIDS[ec_curve])
                ),
            )
        )
    elif rsa_key_size is not None:
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


def crl_value(crl: x509.CertificateRevocationList) -> bytes:
    """currentCRL infoValue: CertificateList (RFC 9810, 5.3.19.6)."""
    return crl.public_bytes(serialization.Encoding.DER)


def certificate_value(certificate: x509.Certificate) -> bytes:
    """caProtEncCert infoValue: CMPCertificate (RFC 9810, 5.3.19.1)."""
    return _der(certificate)


def algorithm_value(algorithm: AlgorithmId) -> bytes:
    """preferredSymmAlg infoValue: AlgorithmIdentifier (RFC 9810, 5.3.19.4)."""
    return asn1.encode_algorithm_identifier(algorithm.oid, algorithm.parameters)


def language_tags_value(tags: tuple[str, ...]) -> bytes:
    """suppLangTags infoValue: SEQUENCE OF UTF8String (RFC 9810, 5.3.19.9)."""
    return asn1.sequence_of([asn1.tlv(0x0C, tag.encode()) for tag in tags])


def algorithms_value(algorithms: tuple[AlgorithmId, ...]) -> bytes:
    """signKeyPairTypes / encKeyPairTypes infoValue: SEQUENCE OF AlgorithmIdentifier
    (RFC 9810, 5.3.19.2 and 5.3.19.3)."""
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
