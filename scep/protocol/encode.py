"""Writing SCEP replies: CertRep, degenerate PKCS#7 and the GetCACert bodies.

A CertRep (RFC 8894, 3.3.2) is a SignedData signed by the CA or RA whose
signed attributes are the SCEP transaction attributes; ``cryptography``'s
PKCS7SignatureBuilder cannot add those (it writes only its own
contentType/signingTime/messageDigest/SMIMECapabilities), so the SignedData is
assembled here and only the signature itself is delegated to the
:class:`~scep.protocol.protection.ResponseSigner`.
"""

from __future__ import annotations

import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from . import asn1
from .asn1 import OID
from .errors import FailInfo
from .messages import MessageType, PKIStatus
from .protection import DIGESTS, ResponseSigner

DER = serialization.Encoding.DER


def degenerate(
    certificates: tuple[x509.Certificate, ...] = (),
    crls: tuple[x509.CertificateRevocationList, ...] = (),
) -> bytes:
    """A degenerate certificates-only SignedData (RFC 8894, 3.4), in the order given.

    Used inside CertRep envelopes, where the certificate issued to the client
    comes first (clients such as micromdm's take the first one).
    ``cryptography``'s ``serialize_certificates`` sorts the set (DER SET OF),
    so it is used only where the order does not matter (:func:`ca_certificates`).
    """
    return asn1.encode_signed_data(
        certificates=[c.public_bytes(DER) for c in certificates],
        crls=[c.public_bytes(DER) for c in crls],
    )


def ca_certificates(certificates: tuple[x509.Certificate, ...]) -> tuple[bytes, str]:
    """The body and content type of a GetCACert reply (RFC 8894, 4.2.1).

    One certificate: its DER as application/x-x509-ca-cert (4.2.1.1).  More (a
    CA with an RA, or with its issuers): a degenerate certificates-only PKCS#7
    as application/x-x509-ca-ra-cert (4.2.1.2).
    """
    if len(certificates) == 1:
        return certificates[0].public_bytes(DER), "application/x-x509-ca-cert"
    return pkcs7.serialize_certificates(list(certificates), DER), "application/x-x509-ca-ra-cert"


def signed(
    content: bytes | None,
    attributes: list[bytes],
    signer: ResponseSigner,
    digest_oid: str,
    now: datetime.datetime,
) -> bytes:
    """A SignedData of ``content`` (None: eContent absent) signed by ``signer``.

    The signed attributes are contentType, signingTime and messageDigest (RFC
    5652, 5.3 and 11) plus ``attributes``; the certificates set holds the
    signer's certificate and chain.
    """
    spec = DIGESTS[digest_oid]
    signed_attrs = asn1.encode_set_of(
        [
            asn1.encode_attribute(OID.content_type, [asn1.encode_oid(OID.data)]),
            asn1.encode_attribute(OID.signing_time, [asn1.encode_time(now)]),
            asn1.encode_attribute(
                OID.message_digest,
                [asn1.encode_octet_string(hashlib.new(spec.hashlib_name, content or b"").digest())],
            ),
            *attributes,
        ]
    )
    signature_algorithm = signer.signature_algorithm(digest_oid)
    cert_der = signer.certificate.public_bytes(DER)
    issuer_der, serial = asn1.certificate_issuer_and_serial(cert_der)
    # RFC 5754, 2: the SHA-2 AlgorithmIdentifiers are sent without parameters.
    digest_algorithm = asn1.encode_algorithm(digest_oid)
    signer_info = asn1.encode_signer_info(
        issuer_der=issuer_der,
        serial_number=serial,
        digest_algorithm=digest_algorithm,
        signed_attrs_der=signed_attrs,
        signature_algorithm=asn1.encode_algorithm(
            signature_algorithm.oid, signature_algorithm.parameters
        ),
        signature=signer.sign(signed_attrs, digest_oid),
    )
    certificates = [cert_der] + [
        c.public_bytes(DER) for c in signer.chain if c != signer.certificate
    ]
    return asn1.encode_signed_data(
        digest_algorithms=[digest_algorithm],
        content=content,
        certificates=certificates,
        signer_infos=[signer_info],
    )


def cert_rep(
    *,
    transaction_id_der: bytes,
    recipient_nonce: bytes,
    sender_nonce: bytes,
    status: PKIStatus,
    fail_info: FailInfo | None,
    fail_text: str | None,
    envelope: bytes | None,
    signer: ResponseSigner,
    digest_oid: str,
    now: datetime.datetime,
) -> bytes:
    """A CertRep pkiMessage (RFC 8894, 3.3.2).

    RFC 8894, 3.2.1: transactionID as the request sent it, messageType "3",
    pkiStatus, senderNonce fresh, recipientNonce the request's senderNonce
    (3.2.1.5); failInfo (and failInfoText) only with FAILURE (3.2.1.4).  The
    pkcsPKIEnvelope is the content only with SUCCESS (3.3.2.1); FAILURE and
    PENDING have none.
    """
    attributes = [
        asn1.encode_attribute(OID.transaction_id, [transaction_id_der]),
        asn1.encode_attribute(
            OID.message_type, [asn1.encode_printable_string(str(int(MessageType.CertRep)))]
        ),
        asn1.encode_attribute(OID.pki_status, [asn1.encode_printable_string(str(int(status)))]),
        asn1.encode_attribute(OID.sender_nonce, [asn1.encode_octet_string(sender_nonce)]),
        asn1.encode_attribute(OID.recipient_nonce, [asn1.encode_octet_string(recipient_nonce)]),
    ]
    if status == PKIStatus.FAILURE:
        if fail_info is None:
            raise ValueError("a FAILURE CertRep needs a failInfo")
        attributes.append(
            asn1.encode_attribute(
                OID.fail_info, [asn1.encode_printable_string(str(int(fail_info)))]
            )
        )
        if fail_text:
            attributes.append(
                asn1.encode_attribute(OID.fail_info_text, [asn1.encode_utf8_string(fail_text)])
            )
    content = envelope if status == PKIStatus.SUCCESS else None
    return signed(content, attributes, signer, digest_oid, now)
