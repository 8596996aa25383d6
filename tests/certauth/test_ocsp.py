"""The OCSP responder in-process (certauth.ocsp): every local CA key type finds its issuer.

``openssl ocsp`` drives it over HTTP in tests/cmp/test_crl_ocsp_openssl.py.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as x509_ocsp

from certauth import ocsp, services
from tests.certauth.conftest import name

pytestmark = pytest.mark.django_db


def ask(certificate, issuer, algorithm=None) -> x509_ocsp.OCSPResponse:
    request = (
        x509_ocsp.OCSPRequestBuilder()
        .add_certificate(certificate, issuer, algorithm or hashes.SHA1())  # noqa: S303 - the CertID hash of RFC 6960 clients
        .build()
    )
    return x509_ocsp.load_der_ocsp_response(
        ocsp.respond(request.public_bytes(serialization.Encoding.DER))
    )


@pytest.mark.parametrize(
    ("key_type", "extra"),
    [("rsa", {"key_size": 2048}), ("ec", {}), ("ed25519", {}), ("ed448", {})],
)
def test_each_key_type_answers_good_then_revoked(key_type, extra):
    ca = services.create_ca(
        name=f"{key_type}.root", subject=f"CN={key_type}.root", key_type=key_type, **extra
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = services.issue_certificate(
        ca=ca, subject=name("dev.example.net"), public_key=key.public_key()
    )
    for algorithm in (hashes.SHA1(), hashes.SHA256()):  # noqa: S303 - what clients send
        response = ask(cert.certificate, ca.certificate, algorithm)
        assert response.response_status == x509_ocsp.OCSPResponseStatus.SUCCESSFUL
        assert response.certificate_status == x509_ocsp.OCSPCertStatus.GOOD
        assert response.serial_number == cert.certificate.serial_number
    # signed by the CA itself (RFC 6960, 4.2.2.2), with its own algorithm
    public = ca.certificate.public_key()
    if key_type in ("ed25519", "ed448"):
        public.verify(response.signature, response.tbs_response_bytes)
    elif key_type == "ec":
        public.verify(
            response.signature,
            response.tbs_response_bytes,
            ec.ECDSA(response.signature_hash_algorithm),
        )
    services.revoke_certificate(cert, reason="keyCompromise")
    assert ask(cert.certificate, ca.certificate).certificate_status == (
        x509_ocsp.OCSPCertStatus.REVOKED
    )


def test_another_issuer_is_unauthorized(ec_root):
    """RFC 6960, 2.3: a CertID naming no local CA (here: our CA's name with another
    CA's key) is answered unauthorized."""
    other = services.create_ca(name="other.root", subject="CN=other.root", key_type="ed25519")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = services.issue_certificate(ca=ec_root, subject=name("dev"), public_key=key.public_key())
    response = ask(cert.certificate, other.certificate)
    assert response.response_status == x509_ocsp.OCSPResponseStatus.UNAUTHORIZED
    assert ask(cert.certificate, ec_root.certificate).certificate_status == (
        x509_ocsp.OCSPCertStatus.GOOD
    )
