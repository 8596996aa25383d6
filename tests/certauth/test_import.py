"""Importing CAs made by OpenSSL: certificate + key, PKCS#12, trusted CAs."""

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.utils import timezone

from certauth import keystore, services
from certauth import x509 as x509util
from certauth.models import CertificateAuthority
from certauth.x509 import InvalidInput, key_pem
from tests.certauth.conftest import FIXTURE_PASSPHRASE, fixture_bytes, messages, name, pem

pytestmark = pytest.mark.django_db


def _assert_openssl_root(ca: CertificateAuthority) -> None:
    assert ca.subject == ca.issuer == "C=CZ, O=Example, CN=openssl.root"
    assert (ca.kind, ca.key_type, ca.key_size, ca.hash_algorithm) == (
        "local",
        "rsa",
        2048,
        "sha256",
    )
    assert ca.imported and ca.has_key and ca.is_root
    assert keystore.check_key(ca)
    assert messages() == [
        "CA certificate 'C=CZ, O=Example, CN=openssl.root' was successfully imported"
    ]


@pytest.mark.parametrize("cert_file", ["openssl-root.pem", "openssl-root.der"])
def test_import_pem_or_der_certificate_with_key(cert_file):
    ca = services.import_ca(
        name="openssl.root",
        certificate_data=fixture_bytes(cert_file),
        key_data=fixture_bytes("openssl-root.key"),
    )
    _assert_openssl_root(ca)


def test_import_encrypted_key():
    ca = services.import_ca(
        name="openssl.root",
        certificate_data=fixture_bytes("openssl-root.pem"),
        key_data=fixture_bytes("openssl-root-encrypted.key"),
        key_passphrase=FIXTURE_PASSPHRASE,
    )
    _assert_openssl_root(ca)


@pytest.mark.parametrize(
    ("passphrase", "message"),
    [
        (None, "The private key is encrypted: give its passphrase."),
        (b"wrong", "The file is not a private key, or its passphrase is wrong."),
    ],
)
def test_encrypted_key_needs_its_passphrase(passphrase, message):
    with pytest.raises(InvalidInput) as exc:
        services.import_ca(
            name="openssl.root",
            certificate_data=fixture_bytes("openssl-root.pem"),
            key_data=fixture_bytes("openssl-root-encrypted.key"),
            key_passphrase=passphrase,
        )
    assert str(exc.value) == message
    assert not CertificateAuthority.objects.exists()


def test_import_ec_root_and_issue(ec_key):
    ca = services.import_ca(
        name="openssl.ec.root",
        certificate_data=fixture_bytes("openssl-ec-root.pem"),
        key_data=fixture_bytes("openssl-ec-root.key"),
    )
    assert (ca.key_type, ca.key_size, ca.curve, ca.hash_algorithm) == ("ec", 256, "p256", "sha384")
    cert = services.issue_certificate(ca=ca, subject=name("host"), public_key=ec_key.public_key())
    cert.certificate.verify_directly_issued_by(ca.certificate)
    # The CA's own hash is used when none is asked for.
    assert cert.certificate.signature_hash_algorithm.name == "sha384"


def test_import_pkcs12():
    ca = services.import_ca_pkcs12(
        name="openssl.root", data=fixture_bytes("openssl-root.p12"), passphrase=FIXTURE_PASSPHRASE
    )
    _assert_openssl_root(ca)
    exported = keystore.private_key_for_export(ca)
    assert (
        exported.private_numbers()
        == serialization.load_pem_private_key(
            fixture_bytes("openssl-root.key"), None
        ).private_numbers()
    )


@pytest.mark.parametrize("passphrase", [b"wrong", None])
def test_pkcs12_wrong_passphrase(passphrase):
    with pytest.raises(InvalidInput) as exc:
        services.import_ca_pkcs12(
            name="openssl.root", data=fixture_bytes("openssl-root.p12"), passphrase=passphrase
        )
    assert str(exc.value) == "Cannot read the PKCS#12 file: wrong passphrase or not PKCS#12."
    assert not CertificateAuthority.objects.exists()


def test_pkcs12_without_key():
    data = pkcs12.serialize_key_and_certificates(
        b"x",
        None,
        x509.load_pem_x509_certificate(fixture_bytes("openssl-root.pem")),
        None,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(InvalidInput) as exc:
        services.import_ca_pkcs12(name="openssl.root", data=data, passphrase=b"pw")
    assert str(exc.value) == "The PKCS#12 file must hold a certificate and its private key."


@pytest.mark.parametrize("cert_file", ["vendor-root.pem", "vendor-root.der"])
def test_import_trusted_ca(cert_file, ec_key):
    ca = services.import_ca(
        name="vendor.root", certificate_data=fixture_bytes(cert_file), trusted=True
    )
    assert ca.kind == CertificateAuthority.Kind.TRUSTED
    assert ca.subject == "O=Vendor, CN=vendor.root"
    assert (ca.key_type, ca.curve) == ("ec", "p384")
    assert not ca.has_key and ca.encrypted_key is None
    assert messages() == [
        "Trusted CA certificate 'O=Vendor, CN=vendor.root' was successfully imported"
    ]
    # A trusted CA never signs.
    with pytest.raises(services.NotAllowed) as exc:
        services.issue_certificate(ca=ca, subject=name("host"), public_key=ec_key.public_key())
    assert str(exc.value) == "CA vendor.root has no private key and cannot sign."
    with pytest.raises(services.NotAllowed) as exc:
        services.generate_crl(ca)
    assert str(exc.value) == "CA vendor.root has no private key and cannot sign a CRL."


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"certificate_data": "leaf.pem", "key_data": "leaf.key"},
            "The certificate is not a CA certificate (basicConstraints CA:TRUE missing).",
        ),
        (
            {"certificate_data": "leaf.pem", "trusted": True},
            "The certificate is not a CA certificate (basicConstraints CA:TRUE missing).",
        ),
        (
            {"certificate_data": "openssl-root.pem", "key_data": "openssl-ec-root.key"},
            "The private key does not belong to the certificate.",
        ),
        (
            {"certificate_data": "openssl-root.pem"},
            "A local CA needs its private key (use --trusted for a CA without key).",
        ),
        (
            {
                "certificate_data": "openssl-root.pem",
                "key_data": "openssl-root.key",
                "trusted": True,
            },
            "A trusted CA is imported without its private key.",
        ),
        (
            {"certificate_data": "fgt100f.csr", "trusted": True},
            "The file is not a PEM or DER X.509 certificate.",
        ),
        (
            {"certificate_data": "openssl-root.pem", "key_data": "openssl-root.pem"},
            "The file is not a private key, or its passphrase is wrong.",
        ),
    ],
)
def test_import_refusals(kwargs, message):
    args = {k: fixture_bytes(v) if k.endswith("_data") else v for k, v in kwargs.items()}
    with pytest.raises(InvalidInput) as exc:
        services.import_ca(name="imported", **args)
    assert str(exc.value) == message
    assert not CertificateAuthority.objects.exists()
    assert messages() == []


def test_duplicate_name_refused(ec_root):
    with pytest.raises(InvalidInput) as exc:
        services.import_ca(
            name="fac.cz.root", certificate_data=fixture_bytes("vendor-root.pem"), trusted=True
        )
    assert str(exc.value) == "A CA with certificate ID 'fac.cz.root' already exists."


@pytest.mark.parametrize("trusted", [False, True])
def test_already_imported_refused(trusted):
    key = None if trusted else fixture_bytes("openssl-root.key")
    services.import_ca(
        name="first",
        certificate_data=fixture_bytes("openssl-root.pem"),
        key_data=key,
        trusted=trusted,
    )
    with pytest.raises(InvalidInput) as exc:
        services.import_ca(
            name="second",
            certificate_data=fixture_bytes("openssl-root.der"),
            key_data=key,
            trusted=trusted,
        )
    assert str(exc.value) == "This CA certificate is already imported."
    assert CertificateAuthority.objects.count() == 1


def test_pkcs12_already_imported_refused():
    services.import_ca(
        name="first",
        certificate_data=fixture_bytes("openssl-root.pem"),
        key_data=fixture_bytes("openssl-root.key"),
    )
    with pytest.raises(InvalidInput) as exc:
        services.import_ca_pkcs12(
            name="second", data=fixture_bytes("openssl-root.p12"), passphrase=FIXTURE_PASSPHRASE
        )
    assert str(exc.value) == "This CA certificate is already imported."


def test_import_own_ca_export_again_refused(ec_root):
    """A CA created here, exported and imported back, is the same CA."""
    key = keystore.private_key_for_export(ec_root)
    with pytest.raises(InvalidInput) as exc:
        services.import_ca(
            name="again", certificate_data=ec_root.certificate_pem.encode(), key_data=key_pem(key)
        )
    assert str(exc.value) == "This CA certificate is already imported."


def test_imported_intermediate_finds_its_local_parent(ec_root, rsa_key):
    """An intermediate signed elsewhere with a local CA's key is linked to that CA."""
    now = timezone.now()
    builder = x509util.ca_builder(
        subject=name("outside.sub"),
        issuer=ec_root.certificate.subject,
        public_key=rsa_key.public_key(),
        issuer_public_key=ec_root.certificate.public_key(),
        serial=x509.random_serial_number(),
        not_before=now,
        not_after=now + dt.timedelta(days=30),
        path_length=0,
    )
    cert = builder.sign(keystore.private_key_for_export(ec_root), hashes.SHA256())
    ca = services.import_ca(
        name="outside.sub", certificate_data=pem(cert), key_data=key_pem(rsa_key)
    )
    assert ca.parent == ec_root and not ca.is_root
    assert ca.chain() == [ca, ec_root]
