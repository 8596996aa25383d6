"""End-entity certificates: issuance, validity cap, refusals, revocation, deletion, CRLs."""

import datetime as dt
import ipaddress
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.utils import timezone

from certauth import enrollment, services
from certauth.models import Certificate, CertificateAuthority
from certauth.x509 import InvalidInput
from tests.certauth.conftest import fixture_bytes, make_csr, messages, name

pytestmark = pytest.mark.django_db

REASONS = [
    ("unspecified", "Unspecified", None),
    ("keyCompromise", "Key Compromise", x509.ReasonFlags.key_compromise),
    ("cACompromise", "CA Compromise", x509.ReasonFlags.ca_compromise),
    ("affiliationChanged", "Affiliation Changed", x509.ReasonFlags.affiliation_changed),
    ("superseded", "Superseded", x509.ReasonFlags.superseded),
    ("cessationOfOperation", "Cessation Of Operation", x509.ReasonFlags.cessation_of_operation),
    ("certificateHold", "Certificate Hold", x509.ReasonFlags.certificate_hold),
]


def _ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


def _issue(ca, key, cn="host.example.com", **kwargs) -> Certificate:
    return services.issue_certificate(
        ca=ca, subject=name(cn), public_key=key.public_key(), **kwargs
    )


def _expire(obj) -> None:
    type(obj).objects.filter(pk=obj.pk).update(not_after=timezone.now() - dt.timedelta(seconds=1))


def _openssl(tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], cwd=tmp_path, capture_output=True, text=True)


@pytest.mark.parametrize("ee_type", ["rsa", "ec"])
def test_issue_from_public_key(root_ca, ee_keys, ee_type):
    before = timezone.now()
    cert = services.issue_certificate(
        ca=root_ca,
        subject=x509.Name.from_rfc4514_string("CN=fgt100f.local,O=Example,C=CZ"),
        public_key=ee_keys[ee_type].public_key(),
        sans=[x509.DNSName("fgt100f.local"), x509.IPAddress(ipaddress.ip_address("192.0.2.1"))],
        key_usage=["digitalSignature", "keyEncipherment"],
        ext_key_usage=["serverAuth", "ipsecIKE"],
        days=90,
    )
    c = cert.certificate
    assert cert.subject == "C=CZ, O=Example, CN=fgt100f.local"
    assert cert.name == "fgt100f.local"
    assert c.issuer == root_ca.certificate.subject
    assert cert.status == Certificate.Status.ACTIVE and cert.display_status == "Active"
    assert cert.sans == ["DNS:fgt100f.local", "IP:192.0.2.1"]
    assert int(cert.serial, 16) == c.serial_number and 64 < c.serial_number.bit_length() <= 159
    c.verify_directly_issued_by(root_ca.certificate)
    assert c.signature_hash_algorithm.name == "sha256"
    # RFC 5280 4.2.1.9: an end entity says CA:FALSE.
    bc = _ext(c, x509.BasicConstraints)
    assert bc.critical and bc.value.ca is False
    ku = _ext(c, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.key_encipherment
    assert not ku.value.key_cert_sign
    assert list(_ext(c, x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        x509.ObjectIdentifier("1.3.6.1.5.5.7.3.17"),
    ]
    san = _ext(c, x509.SubjectAlternativeName)
    assert not san.critical
    assert _ext(c, x509.AuthorityKeyIdentifier).value.key_identifier == (
        _ext(root_ca.certificate, x509.SubjectKeyIdentifier).value.digest
    )
    assert (
        dt.timedelta(days=90) - dt.timedelta(seconds=5)
        <= cert.not_after - before
        <= dt.timedelta(days=90, seconds=5)
    )
    assert messages()[-1] == (
        'Certificate signing request "C=CZ, O=Example, CN=fgt100f.local" '
        'signed with CA certificate "CN=fac.cz.root"'
    )


def test_issue_from_openssl_csr(root_ca, tmp_path):
    cert = services.issue_from_csr(
        ca=root_ca, csr_data=fixture_bytes("fgt100f.csr"), ext_key_usage=["serverAuth"]
    )
    assert cert.subject == "CN=fgt100f.local"
    assert cert.sans == ["DNS:fgt100f.local", "IP:192.0.2.1"]
    csr = x509.load_pem_x509_csr(fixture_bytes("fgt100f.csr"))
    assert cert.certificate.public_key() == csr.public_key()
    assert messages()[-1] == (
        'Certificate signing request "CN=fgt100f.local" signed with CA certificate "CN=fac.cz.root"'
    )
    (tmp_path / "root.pem").write_text(root_ca.certificate_pem)
    (tmp_path / "leaf.pem").write_text(cert.certificate_pem)
    result = _openssl(
        tmp_path,
        "verify",
        "-x509_strict",
        "-purpose",
        "sslserver",
        "-CAfile",
        "root.pem",
        "leaf.pem",
    )
    assert result.stdout.strip() == "leaf.pem: OK", result.stderr


def test_csr_sans_can_be_overridden(ec_root, ec_key):
    csr = make_csr(ec_key, "fw", [x509.DNSName("fw.example.com")])
    cert = services.issue_from_csr(ca=ec_root, csr_data=csr, sans=[])
    assert cert.sans == []
    with pytest.raises(x509.ExtensionNotFound):
        _ext(cert.certificate, x509.SubjectAlternativeName)


def test_der_csr(ec_root, ec_key):
    der = x509.load_pem_x509_csr(make_csr(ec_key, "der.local")).public_bytes(
        serialization.Encoding.DER
    )
    assert services.issue_from_csr(ca=ec_root, csr_data=der).subject == "CN=der.local"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a csr", "The file is not a PEM or DER certificate signing request."),
        ("tampered", "The CSR's signature is not valid."),
    ],
)
def test_bad_csr(ec_root, ec_key, data, message):
    if data == "tampered":
        der = bytearray(
            x509.load_pem_x509_csr(make_csr(ec_key, "x")).public_bytes(serialization.Encoding.DER)
        )
        index = der.index(b"x", 20)  # the CN value, inside the signed part
        der[index] = ord("y")
        data = bytes(der)
    with pytest.raises(InvalidInput) as exc:
        services.issue_from_csr(ca=ec_root, csr_data=data)
    assert str(exc.value) == message
    assert not Certificate.objects.exists()


def test_chain_through_intermediate_verifies(root_ca, ec_key, tmp_path):
    sub = services.create_ca(name="sub", subject="CN=sub", key_type="ec", parent=root_ca)
    cert = _issue(sub, ec_key, ext_key_usage=["clientAuth"])
    (tmp_path / "root.pem").write_text(root_ca.certificate_pem)
    (tmp_path / "sub.pem").write_text(sub.certificate_pem)
    (tmp_path / "leaf.pem").write_text(cert.certificate_pem)
    result = _openssl(
        tmp_path, "verify", "-CAfile", "root.pem", "-untrusted", "sub.pem", "leaf.pem"
    )
    assert result.stdout.strip() == "leaf.pem: OK", result.stderr


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
def test_hash_choice(ec_root, rsa_key, hash_name):
    cert = _issue(ec_root, rsa_key, hash_name=hash_name)
    assert cert.certificate.signature_hash_algorithm.name == hash_name


def test_validity_never_beyond_ca(ec_key):
    ca = services.create_ca(name="short", subject="CN=short", key_type="ec", days=30)
    cert = _issue(ca, ec_key, days=365)
    assert cert.not_after == ca.not_after
    assert cert.certificate.not_valid_after_utc == ca.certificate.not_valid_after_utc


def test_no_issuance_from_expired_ca(ec_root, ec_key):
    _expire(ec_root)
    with pytest.raises(services.NotAllowed) as exc:
        _issue(ec_root, ec_key)
    assert str(exc.value) == "CA fac.cz.root has expired and cannot sign."
    assert not Certificate.objects.exists()


def test_no_issuance_from_revoked_ca(ec_root, ec_key):
    services.revoke_ca(ec_root)
    with pytest.raises(services.NotAllowed) as exc:
        _issue(ec_root, ec_key)
    assert str(exc.value) == "CA fac.cz.root is revoked and cannot sign."


def test_no_issuance_from_not_yet_valid_ca(ec_root, ec_key):
    CertificateAuthority.objects.filter(pk=ec_root.pk).update(
        not_before=timezone.now() + dt.timedelta(days=1)
    )
    with pytest.raises(services.NotAllowed) as exc:
        _issue(ec_root, ec_key)
    assert str(exc.value) == "CA fac.cz.root is not yet valid."


def test_no_issuance_from_keyless_ca(trusted_ca, ec_key):
    with pytest.raises(services.NotAllowed) as exc:
        _issue(trusted_ca, ec_key)
    assert str(exc.value) == "CA vendor.root has no private key and cannot sign."


def test_weak_rsa_key_refused(ec_root):
    """An RSA 1024 CSR made by openssl is refused."""
    with pytest.raises(InvalidInput) as exc:
        services.issue_from_csr(ca=ec_root, csr_data=fixture_bytes("weak-rsa1024.csr"))
    assert str(exc.value) == "RSA key of 1024 bits is too short (minimum 2048)."
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - on purpose
    with pytest.raises(InvalidInput):
        _issue(ec_root, weak)
    assert not Certificate.objects.exists()
    assert len(messages()) == 1  # only the CA's creation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 0}, "Certificate validity must be between 1 and 36500 days."),
        (
            {"subject": x509.Name([])},
            "A certificate needs a subject or a subjectAltName (RFC 5280 4.1.2.6).",
        ),
        ({"key_usage": ["sign"]}, None),
        ({"ext_key_usage": ["anyPurpose"]}, None),
    ],
)
def test_issue_refusals(ec_root, ec_key, kwargs, message):
    args = {"ca": ec_root, "subject": name("x"), "public_key": ec_key.public_key(), **kwargs}
    with pytest.raises(InvalidInput) as exc:
        services.issue_certificate(**args)
    if message:
        assert str(exc.value) == message
    assert not Certificate.objects.exists()


def test_empty_subject_makes_san_critical(ec_root, ec_key):
    cert = services.issue_certificate(
        ca=ec_root,
        subject=x509.Name([]),
        public_key=ec_key.public_key(),
        sans=[x509.DNSName("only.san")],
    )
    # RFC 5280 4.2.1.6: critical when the subject is empty.
    assert _ext(cert.certificate, x509.SubjectAlternativeName).critical
    assert (cert.subject, cert.name, cert.sans) == ("", "", ["DNS:only.san"])


@pytest.mark.parametrize(("reason", "label", "flag"), REASONS)
def test_revoke_with_each_reason(ec_root, ec_key, reason, label, flag):
    cert = _issue(ec_root, ec_key, cn="fgt100f.local")
    services.revoke_certificate(cert, reason=reason)
    cert.refresh_from_db()
    assert (cert.status, cert.revocation_reason) == ("revoked", reason)
    assert cert.revoked_at is not None
    # A hold is a suspension, not the end: the GUI says "On hold" (issue 13).
    assert cert.display_status == ("On hold" if reason == "certificateHold" else "Revoked")
    expected = (
        f'Certificate "CN=fgt100f.local" ({cert.serial_colons}) was put on hold'
        if reason == "certificateHold"
        else f'Certificate "CN=fgt100f.local" ({cert.serial_colons}) was revoked (reason: {label})'
    )
    assert messages()[-1] == expected
    crl = services.generate_crl(ec_root)
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    if flag is None:
        # RFC 5280 5.3.1: reasonCode absent rather than unspecified.
        with pytest.raises(x509.ExtensionNotFound):
            entry.extensions.get_extension_for_class(x509.CRLReason)
    else:
        assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == flag


def test_revoke_refusals(ec_root, ec_key):
    cert = _issue(ec_root, ec_key)
    with pytest.raises(InvalidInput) as exc:
        services.revoke_certificate(cert, reason="removeFromCRL")
    assert str(exc.value) == (
        "Unknown revocation reason 'removeFromCRL': use one of unspecified, keyCompromise, cACompromise, "
        "affiliationChanged, superseded, cessationOfOperation, certificateHold."
    )
    services.revoke_certificate(cert, reason="keyCompromise")
    with pytest.raises(services.NotAllowed) as exc:
        services.revoke_certificate(cert)
    assert str(exc.value) == f"Certificate {cert.serial_colons} is already revoked."


def test_unrevoke_from_hold(ec_root, ec_key):
    cert = _issue(ec_root, ec_key, cn="held")
    services.revoke_certificate(cert, reason="certificateHold")
    services.unrevoke_certificate(cert)
    cert.refresh_from_db()
    assert (cert.status, cert.revoked_at, cert.revocation_reason) == ("active", None, "")
    assert messages()[-1] == f'Certificate "CN=held" ({cert.serial_colons}) was released from hold'
    crl = services.generate_crl(ec_root)
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is None


@pytest.mark.parametrize("reason", [r for r, _, _ in REASONS if r != "certificateHold"] + [None])
def test_unrevoke_refused_unless_hold(ec_root, ec_key, reason):
    cert = _issue(ec_root, ec_key)
    if reason:
        services.revoke_certificate(cert, reason=reason)
    with pytest.raises(services.NotAllowed) as exc:
        services.unrevoke_certificate(cert)
    assert (
        str(exc.value)
        == "Only a certificate revoked with reason Certificate Hold can be un-revoked."
    )
    cert.refresh_from_db()
    assert cert.status == ("revoked" if reason else "active")


def test_delete_certificate(ec_root, ec_key):
    active = _issue(ec_root, ec_key, cn="active")
    with pytest.raises(services.NotAllowed) as exc:
        services.delete_certificate(active)
    # A valid certificate deleted would never reach the CRL.
    assert str(exc.value) == (
        f"Certificate {active.serial_colons} is still valid: revoke it first, "
        "so that the CRL lists it."
    )
    _expire(active)
    services.delete_certificate(active)
    assert messages()[-1] == f'Certificate "CN=active" ({active.serial_colons}) was deleted'
    revoked = _issue(ec_root, ec_key, cn="revoked")
    services.revoke_certificate(revoked, reason="keyCompromise")
    with pytest.raises(services.NotAllowed) as exc:
        services.delete_certificate(revoked)
    assert str(exc.value) == (
        f"Certificate {revoked.serial_colons} is revoked and not yet expired: the CRL still needs it."
    )
    assert Certificate.objects.filter(pk=revoked.pk).exists()
    # Once expired the CRL may drop it, and so may we.
    _expire(revoked)
    services.delete_certificate(revoked)
    assert not Certificate.objects.exists()


def test_ca_that_issued_cannot_be_deleted(ec_root, ec_key):
    cert = _issue(ec_root, ec_key)
    with pytest.raises(services.NotAllowed) as exc:
        services.delete_ca(ec_root)
    assert str(exc.value) == "CA fac.cz.root has issued certificates and cannot be deleted."
    # A revoked certificate keeps its CA too.
    services.revoke_certificate(cert)
    with pytest.raises(services.NotAllowed):
        services.delete_ca(ec_root)


def test_crl(root_ca, ec_key, tmp_path):
    certs = {reason: _issue(root_ca, ec_key, cn=reason) for reason, _, _ in REASONS}
    kept = _issue(root_ca, ec_key, cn="kept")
    for reason, cert in certs.items():
        services.revoke_certificate(cert, reason=reason)
    crl = services.generate_crl(root_ca)
    root_ca.refresh_from_db()
    assert crl.is_signature_valid(root_ca.certificate.public_key())
    assert crl.issuer == root_ca.certificate.subject
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    assert crl.extensions.get_extension_for_class(
        x509.AuthorityKeyIdentifier
    ).value.key_identifier == (_ext(root_ca.certificate, x509.SubjectKeyIdentifier).value.digest)
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(hours=24)
    assert root_ca.crl_der == crl.public_bytes(serialization.Encoding.DER)
    assert root_ca.crl_next_update == crl.next_update_utc
    assert {entry.serial_number for entry in crl} == {c.serial_number for c in certs.values()}
    assert crl.get_revoked_certificate_by_serial_number(kept.serial_number) is None

    (tmp_path / "crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "root.pem").write_text(root_ca.certificate_pem)
    text = _openssl(tmp_path, "crl", "-in", "crl.pem", "-noout", "-text").stdout
    assert "Issuer: CN = fac.cz.root" in text
    assert "X509v3 CRL Number: \n                1\n" in text
    for reason, label, flag in REASONS:
        serial = certs[reason].serial
        assert f"Serial Number: {serial}" in text
        block = text.split(f"Serial Number: {serial}")[1].split("Serial Number:")[0]
        if flag is None:
            assert "CRL Reason Code" not in block
        else:
            assert f"X509v3 CRL Reason Code: \n                {label}\n" in block
    verified = _openssl(tmp_path, "crl", "-in", "crl.pem", "-CAfile", "root.pem", "-noout")
    assert verified.stderr.strip() == "verify OK"

    # OpenSSL refuses a revoked certificate when it checks the CRL, accepts the others.
    for cert in (certs["keyCompromise"], kept):
        (tmp_path / f"{cert.name}.pem").write_text(cert.certificate_pem)
    revoked = _openssl(
        tmp_path,
        "verify",
        "-crl_check",
        "-CRLfile",
        "crl.pem",
        "-CAfile",
        "root.pem",
        "keyCompromise.pem",
    )
    assert revoked.returncode != 0
    assert "certificate revoked" in revoked.stdout + revoked.stderr
    ok = _openssl(
        tmp_path, "verify", "-crl_check", "-CRLfile", "crl.pem", "-CAfile", "root.pem", "kept.pem"
    )
    assert ok.stdout.strip() == "kept.pem: OK", ok.stderr


def test_crl_number_increments(ec_root):
    numbers = [
        services.generate_crl(ec_root)
        .extensions.get_extension_for_class(x509.CRLNumber)
        .value.crl_number
        for _ in range(3)
    ]
    assert numbers == [1, 2, 3]
    ec_root.refresh_from_db()
    assert ec_root.crl_number == 3
    assert len(list(x509.load_der_x509_crl(ec_root.crl_der))) == 0


def test_sweep_unconfirmed(ec_root, ec_key):
    late = _issue(ec_root, ec_key, cn="late", status=Certificate.Status.PENDING)
    fresh = _issue(ec_root, ec_key, cn="fresh", status=Certificate.Status.PENDING)
    Certificate.objects.filter(pk=late.pk).update(created=timezone.now() - dt.timedelta(minutes=10))
    assert enrollment.sweep_unconfirmed(wait_seconds=300) == [late.pk]
    late.refresh_from_db()
    fresh.refresh_from_db()
    assert (late.status, late.revocation_reason) == ("revoked", "cessationOfOperation")
    assert fresh.status == "pending"
    assert messages()[-1] == (
        f'Certificate "CN=late" ({late.serial_colons}) was revoked: the client did not confirm it in time'
    )


def test_status_filters(ec_root, ec_key):
    active = _issue(ec_root, ec_key, cn="active")
    revoked = _issue(ec_root, ec_key, cn="revoked")
    expired = _issue(ec_root, ec_key, cn="expired")
    pending = _issue(ec_root, ec_key, cn="pending", status=Certificate.Status.PENDING)
    services.revoke_certificate(revoked)
    _expire(expired)
    qs = Certificate.objects
    assert list(qs.with_status("active")) == [active]
    assert list(qs.with_status("revoked")) == [revoked]
    assert list(qs.with_status("expired")) == [expired]
    assert list(qs.with_status("pending")) == [pending]
    assert list(qs.current()) == [active]
    assert Certificate.objects.get(pk=expired.pk).display_status == "Expired"
