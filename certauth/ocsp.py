"""OCSP responder for the local CAs (RFC 6960).

``respond(der)`` takes a DER OCSPRequest and returns a DER OCSPResponse
signed by the issuing CA itself (RFC 6960, 4.2.2.2: the CA may sign its own
responses). Requests for an issuer that is not one of our local CAs get
``unauthorized`` (RFC 6960, 2.3); undecodable ones ``malformedRequest``.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from django.utils import timezone
from pyasn1.codec.der import decoder as der_decoder
from pyasn1_alt_modules import rfc5280

from certauth import keystore
from certauth import x509 as x509util
from certauth.models import Certificate, CertificateAuthority

# How long a response may be cached (nextUpdate).
VALIDITY = dt.timedelta(hours=1)


def _key_hash(certificate: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    """Hash of the issuer's subjectPublicKey BIT STRING value (RFC 6960, 4.1.1), for any
    key type (RSA, ECDSA, EdDSA): read from the certificate's SubjectPublicKeyInfo."""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    info, _rest = der_decoder.decode(spki, asn1Spec=rfc5280.SubjectPublicKeyInfo())
    digest = hashes.Hash(algorithm)
    digest.update(info["subjectPublicKey"].asOctets())
    return digest.finalize()


def _name_hash(certificate: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(certificate.subject.public_bytes())
    return digest.finalize()


def _find_issuer(request: ocsp.OCSPRequest) -> CertificateAuthority | None:
    algorithm = request.hash_algorithm
    for ca in CertificateAuthority.objects.local().exclude(encrypted_key__isnull=True):
        cert = ca.certificate
        if (
            _name_hash(cert, algorithm) == request.issuer_name_hash
            and _key_hash(cert, algorithm) == request.issuer_key_hash
        ):
            return ca
    return None


def _status(ca: CertificateAuthority, serial: int) -> tuple:
    """(status, revocation time, reason) of one serial issued by *ca*."""
    text = x509util.serial_hex(serial)
    cert = Certificate.objects.filter(ca=ca, serial=text).first()
    if cert is None:
        child = ca.children.filter(serial=text).first()
        if child is None:
            return ocsp.OCSPCertStatus.UNKNOWN, None, None
        if child.revoked_at:
            return ocsp.OCSPCertStatus.REVOKED, child.revoked_at, _reason(child.revocation_reason)
        return ocsp.OCSPCertStatus.GOOD, None, None
    if cert.status == Certificate.Status.REVOKED:
        return ocsp.OCSPCertStatus.REVOKED, cert.revoked_at, _reason(cert.revocation_reason)
    if cert.status == Certificate.Status.PENDING:
        # Issued but not confirmed by the client (CMP certConf): not yet in force.
        return ocsp.OCSPCertStatus.UNKNOWN, None, None
    return ocsp.OCSPCertStatus.GOOD, None, None


def _reason(value: str) -> x509.ReasonFlags | None:
    if not value or value == Certificate.Reason.UNSPECIFIED:
        return None
    return x509.ReasonFlags(value)


def respond(der: bytes) -> bytes:
    try:
        request = ocsp.load_der_ocsp_request(der)
    except ValueError:
        # Also multiple requests in one OCSPRequest, which is rare.
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    try:
        ca = _find_issuer(request)
    except Exception:  # noqa: BLE001 - e.g. an unsupported hash algorithm in CertID
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    if ca is None:
        return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
    status, revoked_at, reason = _status(ca, request.serial_number)
    now = timezone.now()
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=request.hash_algorithm,
            cert_status=status,
            this_update=now,
            next_update=now + VALIDITY,
            revocation_time=revoked_at,
            revocation_reason=reason,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, ca.certificate)
    )
    try:
        nonce = request.extensions.get_extension_for_class(x509.OCSPNonce)
    except x509.ExtensionNotFound:
        pass
    else:
        # RFC 6960, 4.4.1 / RFC 8954: echo the client's nonce.
        builder = builder.add_extension(nonce.value, critical=False)
    response = keystore.sign_ocsp_response(
        ca, builder, x509util.hash_algorithm(ca.hash_algorithm or "sha256")
    )
    return response.public_bytes(serialization.Encoding.DER)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def internal_error() -> bytes:
    return _unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
