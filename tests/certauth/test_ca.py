"""Local root and intermediate CAs: keys, hashes, RFC 5280 extensions, validity, deletion."""

import datetime as dt
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.utils import timezone

from certauth import keystore, services
from certauth.models import CertificateAuthority, LogEntry
from certauth.x509 import InvalidInput, key_pem
from tests.certauth.conftest import messages, name, pem

pytestmark = pytest.mark.django_db


def _ext(cert: x509.Certificate, cls):
    return cert.extensions.get_extension_for_class(cls)


def assert_ca_extensions(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    # RFC 5280 4.2.1.9: basicConstraints CA:TRUE, critical.
    bc = _ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca is True
    # RFC 5280 4.2.1.3: keyCertSign and cRLSign, critical.
    ku = _ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.key_encipherment
    # RFC 5280 4.2.1.2 / 4.2.1.1: SKI from our key, AKI = the issuer's SKI.
    ski = _ext(cert, x509.SubjectKeyIdentifier)
    assert not ski.critical
    assert ski.value.digest == x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    aki = _ext(cert, x509.AuthorityKeyIdentifier)
    assert not aki.critical
    assert aki.value.key_identifier == _ext(issuer, x509.SubjectKeyIdentifier).value.digest
    assert cert.version == x509.Version.v3


@pytest.mark.parametrize(
    ("key_type", "key_size", "curve", "hash_name", "expected_size", "expected_curve"),
    [
        ("rsa", 2048, "p256", "sha256", 2048, ""),
        ("rsa", 3072, "p256", "sha384", 3072, ""),
        ("rsa", 4096, "p256", "sha512", 4096, ""),
        ("ec", 2048, "p256", "sha256", 256, "p256"),
        ("ec", 2048, "p384", "sha384", 384, "p384"),
        ("ec", 2048, "p256", "sha512", 256, "p256"),
    ],
)
def test_create_root(key_type, key_size, curve, hash_name, expected_size, expected_curve):
    ca = services.create_ca(
        name="fac.cz.root",
        subject="C=CZ, O=Example, CN=fac.cz.root",
        key_type=key_type,
        key_size=key_size,
        curve=curve,
        hash_name=hash_name,
        days=3650,
    )
    cert = ca.certificate
    assert (ca.key_type, ca.key_size, ca.curve, ca.hash_algorithm) == (
        key_type,
        expected_size,
        expected_curve,
        hash_name,
    )
    assert cert.signature_hash_algorithm.name == hash_name
    assert cert.subject == cert.issuer
    assert ca.subject == ca.issuer == "C=CZ, O=Example, CN=fac.cz.root"
    assert ca.is_root and ca.has_key and not ca.imported and ca.parent is None
    assert ca.kind == CertificateAuthority.Kind.LOCAL
    assert ca.status == CertificateAuthority.Status.ACTIVE
    pub = cert.public_key()
    if key_type == "rsa":
        assert isinstance(pub, rsa.RSAPublicKey) and pub.key_size == key_size
    else:
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        assert pub.curve.name == {"p256": "secp256r1", "p384": "secp384r1"}[curve]
    assert_ca_extensions(cert, cert)
    assert _ext(cert, x509.BasicConstraints).value.path_length is None
    cert.verify_directly_issued_by(cert)
    # The stored row mirrors the certificate.
    assert int(ca.serial, 16) == cert.serial_number
    assert ca.not_after == cert.not_valid_after_utc
    assert ca.not_before == cert.not_valid_before_utc
    assert keystore.check_key(ca)


def test_defaults_are_rsa_2048_sha256_ten_years():
    before = timezone.now()
    ca = services.create_ca(name="fac.cz.root", subject="CN=fac.cz.root")
    assert (ca.key_type, ca.key_size, ca.hash_algorithm) == ("rsa", 2048, "sha256")
    lifetime = ca.not_after - before
    assert (
        dt.timedelta(days=3650) - dt.timedelta(seconds=5)
        <= lifetime
        <= dt.timedelta(days=3650, seconds=5)
    )
    # Backdated a little for clock skew, never in the future.
    assert ca.not_before <= before


def test_serials_random_long_and_unique(ec_root):
    serials = [ec_root.certificate.serial_number]
    for i in range(5):
        serials.append(
            services.create_ca(
                name=f"sub{i}", subject=f"CN=sub{i}", key_type="ec", parent=ec_root
            ).certificate.serial_number
        )
    assert len(set(serials)) == len(serials)
    # RFC 5280 4.1.2.2: positive, <= 20 octets; at least 64 random bits.
    assert all(64 < s.bit_length() <= 159 for s in serials)
    assert len({ca.serial for ca in CertificateAuthority.objects.all()}) == 6


def test_intermediate(root_ca, tmp_path):
    sub = services.create_ca(
        name="fac.cz.sub",
        subject="CN=fac.cz.sub",
        key_type="ec",
        curve="p384",
        parent=root_ca,
    )
    cert = sub.certificate
    assert sub.parent == root_ca
    assert not sub.is_root
    assert sub.issuer == "CN=fac.cz.root"
    assert sub.chain() == [sub, root_ca] and sub.root() == root_ca
    assert_ca_extensions(cert, root_ca.certificate)
    cert.verify_directly_issued_by(root_ca.certificate)
    # Signed with the parent's key type: an EC key under an RSA root and vice versa.
    assert sub.key_type == "ec" and sub.curve == "p384"
    (tmp_path / "root.pem").write_text(root_ca.certificate_pem)
    (tmp_path / "intermediate.pem").write_text(sub.certificate_pem)
    result = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-CAfile", "root.pem", "intermediate.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "intermediate.pem: OK"), result.stderr
    assert messages() == [
        "CA certificate 'CN=fac.cz.root' was successfully created",
        "CA certificate 'CN=fac.cz.sub' was successfully created",
    ]


def test_openssl_reads_ca_extensions(ec_root, tmp_path):
    (tmp_path / "root.pem").write_text(ec_root.certificate_pem)
    out = subprocess.run(
        [
            "openssl",
            "x509",
            "-in",
            "root.pem",
            "-noout",
            "-ext",
            "basicConstraints,keyUsage,subjectKeyIdentifier,authorityKeyIdentifier",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "X509v3 Basic Constraints: critical\n    CA:TRUE" in out
    assert "X509v3 Key Usage: critical\n    Digital Signature, Certificate Sign, CRL Sign" in out
    assert "X509v3 Subject Key Identifier:" in out
    assert "X509v3 Authority Key Identifier:" in out


def test_intermediate_validity_capped_at_parent(ec_root):
    root = services.create_ca(name="short.root", subject="CN=short.root", key_type="ec", days=30)
    sub = services.create_ca(
        name="long.sub", subject="CN=long.sub", key_type="ec", days=3650, parent=root
    )
    assert sub.not_after == root.not_after
    assert sub.certificate.not_valid_after_utc == root.certificate.not_valid_after_utc
    # A shorter intermediate keeps its own validity.
    short = services.create_ca(
        name="short.sub", subject="CN=short.sub", key_type="ec", days=10, parent=ec_root
    )
    assert short.not_after < ec_root.not_after


def test_intermediate_of_intermediate(ec_root, tmp_path):
    sub = services.create_ca(name="sub", subject="CN=sub", key_type="ec", parent=ec_root)
    issuing = services.create_ca(name="issuing", subject="CN=issuing", key_type="ec", parent=sub)
    assert issuing.chain() == [issuing, sub, ec_root]
    (tmp_path / "root.pem").write_text(ec_root.certificate_pem)
    (tmp_path / "sub.pem").write_text(sub.certificate_pem)
    (tmp_path / "issuing.pem").write_text(issuing.certificate_pem)
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", "root.pem", "-untrusted", "sub.pem", "issuing.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.stdout.strip() == "issuing.pem: OK", result.stderr


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"name": "has space"},
            "Invalid certificate ID 'has space': 1-64 characters, no spaces or slashes.",
        ),
        ({"name": "a/b"}, "Invalid certificate ID 'a/b': 1-64 characters, no spaces or slashes."),
        (
            {"name": "x" * 65},
            f"Invalid certificate ID {'x' * 65!r}: 1-64 characters, no spaces or slashes.",
        ),
        ({"subject": "CNN=fac"}, "Malformed DN 'CNN=fac': unknown attribute 'CNN'."),
        (
            {"subject": "fac.cz.root"},
            "Malformed DN 'fac.cz.root': 'fac.cz.root' is not ATTRIBUTE=value.",
        ),
        ({"key_size": 1024}, "Unsupported RSA key size 1024: use one of 2048, 3072, 4096."),
        ({"key_type": "ec", "curve": "p521"}, "Unsupported curve 'p521': use one of p256, p384."),
        ({"hash_name": "sha1"}, "Unsupported hash 'sha1': use sha256, sha384 or sha512."),
        ({"days": 0}, "Validity must be between 1 and 36500 days."),
        ({"days": 36501}, "Validity must be between 1 and 36500 days."),
    ],
)
def test_create_refusals(kwargs, message):
    args = {"name": "fac.cz.root", "subject": "CN=fac.cz.root", **kwargs}
    with pytest.raises(InvalidInput) as exc:
        services.create_ca(**args)
    assert str(exc.value) == message
    assert not CertificateAuthority.objects.exists()
    assert not LogEntry.objects.exists()


def test_duplicate_name_refused(ec_root):
    with pytest.raises(InvalidInput) as exc:
        services.create_ca(name="fac.cz.root", subject="CN=other", key_type="ec")
    assert str(exc.value) == "A CA with certificate ID 'fac.cz.root' already exists."
    assert CertificateAuthority.objects.count() == 1


def test_no_intermediate_from_trusted_ca(trusted_ca):
    with pytest.raises(services.NotAllowed) as exc:
        services.create_ca(name="sub", subject="CN=sub", key_type="ec", parent=trusted_ca)
    assert str(exc.value) == "CA vendor.root has no private key and cannot sign."


def test_no_intermediate_from_expired_or_revoked_parent(ec_root):
    CertificateAuthority.objects.filter(pk=ec_root.pk).update(
        not_after=timezone.now() - dt.timedelta(seconds=1)
    )
    with pytest.raises(services.NotAllowed) as exc:
        services.create_ca(name="sub", subject="CN=sub", key_type="ec", parent=ec_root)
    assert str(exc.value) == "CA fac.cz.root has expired and cannot sign."
    other = services.create_ca(name="other.root", subject="CN=other.root", key_type="ec")
    services.revoke_ca(other, reason="cACompromise")
    with pytest.raises(services.NotAllowed) as exc:
        services.create_ca(name="sub", subject="CN=sub", key_type="ec", parent=other)
    assert str(exc.value) == "CA other.root is revoked and cannot sign."
    assert not CertificateAuthority.objects.filter(name="sub").exists()


def test_path_length_zero_parent_refuses_sub_ca(ec_key):
    """An imported root with pathLenConstraint 0 may not sign CAs (RFC 5280 4.2.1.9)."""
    now = timezone.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("plen0"))
        .issuer_name(name("plen0"))
        .public_key(ec_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ec_key, hashes.SHA256())
    )
    ca = services.import_ca(
        name="plen0",
        certificate_data=pem(cert),
        key_data=key_pem(ec_key),
    )
    with pytest.raises(services.NotAllowed) as exc:
        services.create_ca(name="sub", subject="CN=sub", key_type="ec", parent=ca)
    assert str(exc.value) == "CA plen0 may not sign further CAs (pathLenConstraint 0)."


def test_revoke_ca(ec_root):
    sub = services.create_ca(name="sub", subject="CN=sub", key_type="ec", parent=ec_root)
    services.revoke_ca(sub, reason="keyCompromise")
    sub.refresh_from_db()
    assert sub.status == CertificateAuthority.Status.REVOKED
    assert sub.revocation_reason == "keyCompromise"
    assert not CertificateAuthority.objects.usable().filter(pk=sub.pk).exists()
    assert messages()[-1] == "CA certificate 'CN=sub' was revoked (reason: Key Compromise)"
    with pytest.raises(services.NotAllowed) as exc:
        services.revoke_ca(sub)
    assert str(exc.value) == "CA sub is already revoked."
    with pytest.raises(InvalidInput) as exc:
        services.revoke_ca(ec_root, reason="bored")
    assert str(exc.value) == "Unknown revocation reason 'bored'."
    # The parent's CRL lists the revoked intermediate with its reason.
    crl = services.generate_crl(ec_root)
    entry = crl.get_revoked_certificate_by_serial_number(sub.certificate.serial_number)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )


def test_usable_queryset(ec_root, trusted_ca):
    expired = services.create_ca(name="expired", subject="CN=expired", key_type="ec")
    CertificateAuthority.objects.filter(pk=expired.pk).update(not_after=timezone.now())
    assert list(CertificateAuthority.objects.usable()) == [ec_root]
    assert list(CertificateAuthority.objects.trusted()) == [trusted_ca]
    expired.refresh_from_db()
    assert expired.status == CertificateAuthority.Status.EXPIRED


def test_delete_unused_ca(ec_root):
    services.delete_ca(ec_root)
    assert not CertificateAuthority.objects.exists()
    assert messages() == [
        "CA certificate 'CN=fac.cz.root' was successfully created",
        "CA certificate 'CN=fac.cz.root' was deleted",
    ]


def test_delete_refused_while_in_use(ec_root, ec_key):
    sub = services.create_ca(name="sub", subject="CN=sub", key_type="ec", parent=ec_root)
    with pytest.raises(services.NotAllowed) as exc:
        services.delete_ca(ec_root)
    assert str(exc.value) == "CA fac.cz.root has signed other CAs and cannot be deleted."
    services.issue_certificate(ca=sub, subject=name("host"), public_key=ec_key.public_key())
    with pytest.raises(services.NotAllowed) as exc:
        services.delete_ca(sub)
    assert str(exc.value) == "CA sub has issued certificates and cannot be deleted."
    other = services.create_ca(name="other", subject="CN=other", key_type="ec")
    services.create_enrollment(reference="fgt", password="secret-1", ca=other)
    with pytest.raises(services.NotAllowed) as exc:
        services.delete_ca(other)
    assert str(exc.value) == "CA other is used by CMP enrollments and cannot be deleted."
    assert CertificateAuthority.objects.count() == 3
    assert not any("was deleted" in m for m in messages())
