"""Management commands run in-process with ``call_command``."""

import datetime as dt
import io
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command
from django.utils import timezone

from certauth import keystore, services
from certauth.models import Certificate, CertificateAuthority, Enrollment, LogEntry
from tests.certauth.conftest import FIXTURE_PASSPHRASE, FIXTURES, messages, name

pytestmark = pytest.mark.django_db

PASSWORD = "Cli-Enroll-Secret-42"


def run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **kwargs)
    return out.getvalue()


def fail(*args) -> str:
    with pytest.raises(CommandError) as exc:
        run(*args)
    return str(exc.value)


def _issue(ca, key, cn) -> Certificate:
    return services.issue_certificate(ca=ca, subject=name(cn), public_key=key.public_key())


# --- init_ca ----------------------------------------------------------------------------


def test_init_ca_defaults():
    before = timezone.now()
    out = run("init_ca", "fac.cz.root", "CN=fac.cz.root")
    ca = CertificateAuthority.objects.get(name="fac.cz.root")
    assert out == (
        f"Created root CA fac.cz.root: CN=fac.cz.root, serial {ca.serial_colons}, "
        f"valid until {ca.not_after:%Y-%m-%d}\n"
    )
    assert (ca.key_type, ca.key_size, ca.hash_algorithm, ca.kind) == (
        "rsa",
        2048,
        "sha256",
        "local",
    )
    assert ca.certificate.signature_hash_algorithm.name == "sha256"
    assert abs(ca.not_after - (before + dt.timedelta(days=3650))) < dt.timedelta(seconds=5)
    entry = LogEntry.objects.get()
    assert (entry.message, entry.user, entry.log_type_id, entry.subcategory) == (
        "CA certificate 'CN=fac.cz.root' was successfully created",
        "cli",
        30101,
        "Certificate Management",
    )


def test_init_ca_options_and_parent():
    run(
        "init_ca",
        "fac.cz.root",
        "/C=CZ/O=Example/CN=fac.cz.root",
        "--key-type",
        "ec",
        "--curve",
        "p384",
        "--hash",
        "sha384",
        "--days",
        "100",
    )
    out = run(
        "init_ca",
        "fac.cz.sub",
        "C=CZ, O=Example, CN=fac.cz.sub",
        "--parent",
        "fac.cz.root",
        "--key-type",
        "ec",
        "--hash",
        "sha512",
        "--days",
        "3650",
    )
    root = CertificateAuthority.objects.get(name="fac.cz.root")
    sub = CertificateAuthority.objects.get(name="fac.cz.sub")
    assert out.startswith(
        "Created intermediate CA fac.cz.sub: C=CZ, O=Example, CN=fac.cz.sub, serial "
    )
    assert (root.key_type, root.curve, root.hash_algorithm) == ("ec", "p384", "sha384")
    assert (sub.parent, sub.curve, sub.hash_algorithm) == (root, "p256", "sha512")
    assert sub.not_after == root.not_after  # capped at the parent
    sub.certificate.verify_directly_issued_by(root.certificate)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("init_ca", "x", "CN=x", "--parent", "nope"), "Unknown CA 'nope'."),
        (("init_ca", "x", "CNN=x"), "Malformed DN 'CNN=x': unknown attribute 'CNN'."),
        (
            ("init_ca", "x", "CN=x", "--key-size", "1024"),
            "Unsupported RSA key size 1024: use one of 2048, 3072, 4096.",
        ),
        (
            ("init_ca", "x", "CN=x", "--key-size", "big"),
            "Error: argument --key-size: invalid int value: 'big'",
        ),
        (
            ("init_ca", "x", "CN=x", "--hash", "md5"),
            "Error: argument --hash: invalid choice: 'md5' (choose from 'sha256', 'sha384', 'sha512')",
        ),
        (("init_ca", "x", "CN=x", "--days", "0"), "Validity must be between 1 and 36500 days."),
        (("init_ca", "x"), "Error: the following arguments are required: subject"),
    ],
)
def test_init_ca_errors(args, message):
    assert fail(*args) == message
    assert not CertificateAuthority.objects.exists()


def test_init_ca_duplicate_and_trusted_parent(trusted_ca):
    run("init_ca", "fac.cz.root", "CN=fac.cz.root", "--key-type", "ec")
    assert fail("init_ca", "fac.cz.root", "CN=other", "--key-type", "ec") == (
        "A CA with certificate ID 'fac.cz.root' already exists."
    )
    # --parent must be a local CA.
    assert fail("init_ca", "x", "CN=x", "--parent", "vendor.root") == "Unknown CA 'vendor.root'."


# --- import_ca -------------------------------------------------------------------------


def _f(name: str) -> str:
    return str(FIXTURES / name)


@pytest.mark.parametrize(
    "args",
    [
        (_f("openssl-root.pem"), "--key", _f("openssl-root.key")),
        (
            _f("openssl-root.der"),
            "--key",
            _f("openssl-root-encrypted.key"),
            "--passphrase",
            FIXTURE_PASSPHRASE.decode(),
        ),
        ("--pkcs12", _f("openssl-root.p12"), "--passphrase", FIXTURE_PASSPHRASE.decode()),
        ("--pkcs12", _f("openssl-root.p12"), "--passphrase", "env:FIXTURE_P12_PASS"),
    ],
    ids=["pem+key", "der+encrypted-key", "pkcs12", "pkcs12-env"],
)
def test_import_local(args, monkeypatch):
    monkeypatch.setenv("FIXTURE_P12_PASS", FIXTURE_PASSPHRASE.decode())
    out = run("import_ca", "openssl.root", *args)
    ca = CertificateAuthority.objects.get(name="openssl.root")
    assert out == (
        f"Imported local CA openssl.root: C=CZ, O=Example, CN=openssl.root, valid until {ca.not_after:%Y-%m-%d}\n"
    )
    assert ca.has_key and ca.imported and keystore.check_key(ca)
    assert messages() == [
        "CA certificate 'C=CZ, O=Example, CN=openssl.root' was successfully imported"
    ]


@pytest.mark.parametrize("cert_file", ["vendor-root.pem", "vendor-root.der"])
def test_import_trusted(cert_file):
    out = run("import_ca", "vendor.root", _f(cert_file), "--trusted")
    ca = CertificateAuthority.objects.get()
    assert (
        out
        == f"Imported trusted CA vendor.root: O=Vendor, CN=vendor.root, valid until {ca.not_after:%Y-%m-%d}\n"
    )
    assert ca.kind == "trusted" and not ca.has_key
    assert messages() == [
        "Trusted CA certificate 'O=Vendor, CN=vendor.root' was successfully imported"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--pkcs12", _f("openssl-root.p12"), "--passphrase", "wrong"),
            "Cannot read the PKCS#12 file: wrong passphrase or not PKCS#12.",
        ),
        (
            (
                _f("openssl-root.pem"),
                "--key",
                _f("openssl-root-encrypted.key"),
                "--passphrase",
                "wrong",
            ),
            "The file is not a private key, or its passphrase is wrong.",
        ),
        (
            (_f("openssl-root.pem"), "--key", _f("openssl-root-encrypted.key")),
            "The private key is encrypted: give its passphrase.",
        ),
        (
            (_f("openssl-root.pem"), "--key", _f("openssl-ec-root.key")),
            "The private key does not belong to the certificate.",
        ),
        (
            (_f("leaf.pem"), "--trusted"),
            "The certificate is not a CA certificate (basicConstraints CA:TRUE missing).",
        ),
        (
            (_f("openssl-root.pem"),),
            "A local CA needs its private key (use --trusted for a CA without key).",
        ),
        (
            ("--pkcs12", _f("openssl-root.p12"), "--trusted"),
            "--pkcs12 imports a local CA with its key; it cannot be --trusted.",
        ),
        ((), "Give CERT_FILE, or --pkcs12 FILE."),
        (
            ("/nonexistent/ca.pem", "--trusted"),
            "Cannot read /nonexistent/ca.pem: No such file or directory.",
        ),
        (
            ("--pkcs12", _f("openssl-root.p12"), "--passphrase", "env:FAC_TEST_UNSET_VARIABLE"),
            "Environment variable FAC_TEST_UNSET_VARIABLE is not set.",
        ),
        (
            (_f("openssl-root.pem"), "--key", "k", "--pkcs12", "p"),
            "Error: argument --pkcs12: not allowed with argument --key",
        ),
    ],
)
def test_import_errors(args, message):
    assert fail("import_ca", "imported", *args) == message
    assert not CertificateAuthority.objects.exists()


def test_import_already_imported():
    run("import_ca", "first", _f("vendor-root.pem"), "--trusted")
    assert (
        fail("import_ca", "second", _f("vendor-root.der"), "--trusted")
        == "This CA certificate is already imported."
    )
    assert fail("import_ca", "first", _f("openssl-root.pem"), "--trusted") == (
        "A CA with certificate ID 'first' already exists."
    )


# --- dump_ca, list_cas -------------------------------------------------------------------


def test_dump_ca(ec_root, tmp_path, capsysbinary):
    call_command("dump_ca", "fac.cz.root")
    assert capsysbinary.readouterr().out == ec_root.certificate_pem.encode()
    call_command("dump_ca", "fac.cz.root", "--format", "der")
    assert capsysbinary.readouterr().out == ec_root.certificate.public_bytes(
        serialization.Encoding.DER
    )
    call_command("dump_ca", "fac.cz.root", "--format", "der", "-o", str(tmp_path / "root.der"))
    assert capsysbinary.readouterr().out == b""
    assert (
        x509.load_der_x509_certificate((tmp_path / "root.der").read_bytes()) == ec_root.certificate
    )
    call_command("dump_ca", "fac.cz.root", "--output", str(tmp_path / "root.pem"))
    assert (tmp_path / "root.pem").read_text() == ec_root.certificate_pem
    assert fail("dump_ca", "nope") == "Unknown CA 'nope'."
    assert fail("dump_ca", "fac.cz.root", "-o", str(tmp_path / "missing" / "x.pem")) == (
        f"Cannot write {tmp_path / 'missing' / 'x.pem'}: No such file or directory."
    )
    assert fail("dump_ca", "fac.cz.root", "--format", "p12") == (
        "Error: argument --format: invalid choice: 'p12' (choose from 'pem', 'der')"
    )


def test_list_cas(trusted_ca):
    run("init_ca", "fac.cz.root", "CN=fac.cz.root")
    run("init_ca", "fac.cz.sub", "CN=fac.cz.sub", "--parent", "fac.cz.root", "--key-type", "ec")
    expired = services.create_ca(name="old", subject="CN=old", key_type="ec", curve="p384")
    CertificateAuthority.objects.filter(pk=expired.pk).update(
        not_after=timezone.now() - dt.timedelta(days=1)
    )
    cas = {ca.name: ca for ca in CertificateAuthority.objects.all()}
    lines = run("list_cas").splitlines()
    assert lines[0].split() == ["CERTIFICATE", "ID", "TYPE", "STATUS", "KEY", "EXPIRES", "SUBJECT"]
    rows = [line.split(None, 5) for line in lines[1:]]
    assert [row[0] for row in rows] == ["fac.cz.root", "fac.cz.sub", "old", "vendor.root"]
    assert lines[1].split() == [
        "fac.cz.root",
        "root",
        "active",
        "RSA",
        "2048",
        f"{cas['fac.cz.root'].not_after:%Y-%m-%d}",
        "CN=fac.cz.root",
    ]
    assert lines[2].split() == [
        "fac.cz.sub",
        "intermediate",
        "active",
        "EC",
        "p256",
        f"{cas['fac.cz.sub'].not_after:%Y-%m-%d}",
        "CN=fac.cz.sub",
    ]
    assert lines[3].split()[:5] == ["old", "root", "expired", "EC", "p384"]
    assert lines[4].split()[:5] == ["vendor.root", "trusted", "active", "EC", "p384"]
    assert lines[4].endswith("O=Vendor, CN=vendor.root")


# --- enrollments ------------------------------------------------------------------------


def test_add_enrollment_with_all_options(ec_root, trusted_ca):
    out = run(
        "add_enrollment",
        "fgt100f",
        "--password",
        PASSWORD,
        "--ca",
        "fac.cz.root",
        "--subject",
        "CN=fgt100f.local",
        "--key-usage",
        "digitalSignature, keyAgreement",
        "--ext-key-usage",
        "clientAuth,ipsecIKE",
        "--san",
        "DNS:fgt100f.local",
        "--san",
        "IP:192.0.2.1",
        "--san",
        "email:noc@example.com",
        "--days",
        "730",
        "--renewable-days",
        "30",
        "--type",
        "device",
        "--manual",
        "--category",
        "device",
        "--allow-reenrollment",
        "--allow-mac-kur",
        "--trusted-ca",
        "vendor.root",
        "--disabled",
    )
    assert out == "Created enrollment fgt100f (CA fac.cz.root)\n"
    e = Enrollment.objects.get()
    assert (e.subject, e.key_usage, e.ext_key_usage) == (
        "CN=fgt100f.local",
        ["digitalSignature", "keyAgreement"],
        ["clientAuth", "ipsecIKE"],
    )
    assert e.allowed_sans == ["DNS:fgt100f.local", "IP:192.0.2.1", "email:noc@example.com"]
    assert (e.validity_days, e.renewable_days, e.type, e.method, e.kind) == (
        730,
        30,
        "device",
        "manual",
        "device",
    )
    assert e.allow_reenrollment and e.allow_mac_kur and not e.enabled
    assert e.trusted_ca == trusted_ca
    assert keystore.secret_for(e) == PASSWORD.encode()
    entry = LogEntry.objects.order_by("id").last()
    assert (entry.message, entry.user, entry.log_type_id, entry.subcategory) == (
        "CMP enrollment request 'fgt100f' was created",
        "cli",
        30301,
        "Admin Configuration",
    )


def test_add_enrollment_defaults(ec_root):
    run("add_enrollment", "fgt", "--password", PASSWORD, "--ca", "fac.cz.root")
    e = Enrollment.objects.get()
    assert (e.type, e.method, e.kind, e.enabled, e.validity_days) == (
        "regular",
        "automatic",
        "service",
        True,
        365,
    )
    assert e.key_usage == ["digitalSignature", "keyEncipherment"] and e.ext_key_usage == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--ca", "nope"), "Unknown CA 'nope'."),
        (("--ca", "vendor.root"), "Unknown CA 'vendor.root'."),
        (("--ca", "fac.cz.root", "--trusted-ca", "nope"), "Unknown CA 'nope'."),
        ((), "Error: the following arguments are required: --ca"),
        (
            ("--ca", "fac.cz.root", "--san", "host.example.com"),
            "SAN 'host.example.com' must be written as TYPE:value, e.g. DNS:host.example.com.",
        ),
        (
            ("--ca", "fac.cz.root", "--san", "IP:10.0.0.999"),
            "SAN 'IP:10.0.0.999' is not a valid IP address.",
        ),
        (
            ("--ca", "fac.cz.root", "--key-usage", "digitalSignature,sign"),
            "Unknown key usage sign: use digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, "
            "keyAgreement, keyCertSign, cRLSign, encipherOnly, decipherOnly.",
        ),
        (
            ("--ca", "fac.cz.root", "--ext-key-usage", "vpn"),
            "Unknown extended key usage vpn: use serverAuth, clientAuth, codeSigning, emailProtection, "
            "timeStamping, OCSPSigning, ipsecIKE.",
        ),
        (
            ("--ca", "fac.cz.root", "--subject", "fgt100f"),
            "Malformed DN 'fgt100f': 'fgt100f' is not ATTRIBUTE=value.",
        ),
        (
            ("--ca", "fac.cz.root", "--type", "vip"),
            "Error: argument --type: invalid choice: 'vip' (choose from 'regular', 'device')",
        ),
    ],
)
def test_add_enrollment_errors(ec_root, trusted_ca, args, message):
    assert fail("add_enrollment", "fgt100f", "--password", PASSWORD, *args) == message
    assert not Enrollment.objects.exists()


def test_add_enrollment_regular_needs_password(ec_root):
    assert (
        fail("add_enrollment", "fgt100f", "--ca", "fac.cz.root")
        == "The enrollment password must not be empty."
    )
    run("add_enrollment", "fgt100f", "--password", PASSWORD, "--ca", "fac.cz.root")
    assert fail("add_enrollment", "fgt100f", "--password", PASSWORD, "--ca", "fac.cz.root") == (
        "An enrollment with ID 'fgt100f' already exists."
    )


def test_list_enrollments_never_prints_password(ec_root):
    run(
        "add_enrollment",
        "fgt100f",
        "--password",
        PASSWORD,
        "--ca",
        "fac.cz.root",
        "--subject",
        "CN=fgt100f.local",
        "--ext-key-usage",
        "serverAuth",
    )
    run(
        "add_enrollment",
        "fgt200f",
        "--password",
        PASSWORD + "2",
        "--ca",
        "fac.cz.root",
        "--disabled",
        "--days",
        "30",
    )
    out = run("list_enrollments")
    assert PASSWORD not in out
    lines = out.splitlines()
    assert lines[0].split() == [
        "ENROLLMENT",
        "ID",
        "STATUS",
        "TYPE",
        "ENABLED",
        "CA",
        "DAYS",
        "KEY",
        "USAGE",
        "SUBJECT",
    ]
    assert lines[1].split() == [
        "fgt100f",
        "approved",
        "regular",
        "yes",
        "fac.cz.root",
        "365",
        "digitalSignature,keyEncipherment",
        "CN=fgt100f.local",
    ]
    assert lines[2].split() == [
        "fgt200f",
        "approved",
        "regular",
        "no",
        "fac.cz.root",
        "30",
        "digitalSignature,keyEncipherment",
        "-",
    ]


# --- certificates -----------------------------------------------------------------------


def test_list_certs(ec_root, ec_key):
    other = services.create_ca(name="other", subject="CN=other", key_type="ec")
    active = _issue(ec_root, ec_key, "active.local")
    revoked = _issue(ec_root, ec_key, "revoked.local")
    foreign = _issue(other, ec_key, "other.local")
    services.revoke_certificate(revoked, reason="keyCompromise")

    def serials(*args):
        return [line.split()[0] for line in run("list_certs", *args).splitlines()[1:]]

    header = run("list_certs").splitlines()[0]
    assert header.split() == ["SERIAL", "STATUS", "EXPIRES", "CA", "ENROLLMENT", "SUBJECT"]
    assert serials() == [active.serial_colons, revoked.serial_colons, foreign.serial_colons]
    assert serials("--ca", "fac.cz.root") == [active.serial_colons, revoked.serial_colons]
    assert serials("--ca", "fac.cz.root", "--status", "revoked") == [revoked.serial_colons]
    assert serials("--status", "active") == [active.serial_colons, foreign.serial_colons]
    assert serials("--status", "expired") == []
    line = run("list_certs", "--status", "revoked").splitlines()[1]
    assert line.split() == [
        revoked.serial_colons,
        "revoked",
        f"{revoked.not_after:%Y-%m-%d}",
        "fac.cz.root",
        "-",
        "CN=revoked.local",
    ]
    assert fail("list_certs", "--ca", "nope") == "Unknown CA 'nope'."
    assert fail("list_certs", "--status", "bogus") == (
        "Error: argument --status: invalid choice: 'bogus' "
        "(choose from 'active', 'pending', 'revoked', 'expired', 'superseded', 'all')"
    )


@pytest.mark.parametrize("form", ["colons", "plain", "lower"])
def test_revoke_cert(ec_root, ec_key, form):
    cert = _issue(ec_root, ec_key, "fgt100f.local")
    serial = {
        "colons": cert.serial_colons,
        "plain": cert.serial,
        "lower": cert.serial_colons.lower(),
    }[form]
    out = run("revoke_cert", serial, "--reason", "keyCompromise")
    assert out == f"Revoked CN=fgt100f.local ({cert.serial_colons}): keyCompromise\n"
    cert.refresh_from_db()
    assert (cert.status, cert.revocation_reason) == ("revoked", "keyCompromise")
    entry = LogEntry.objects.order_by("id").last()
    assert (entry.message, entry.user, entry.level) == (
        f'Certificate "CN=fgt100f.local" ({cert.serial_colons}) was revoked (reason: Key Compromise)',
        "cli",
        "warning",
    )


def test_revoke_cert_default_reason_and_errors(ec_root, ec_key):
    cert = _issue(ec_root, ec_key, "fgt100f.local")
    assert fail("revoke_cert", cert.serial, "--reason", "removeFromCRL").startswith(
        "Error: argument --reason: invalid choice: 'removeFromCRL' (choose from 'unspecified', "
    )
    assert fail("revoke_cert", "ZZ:01") == "'ZZ:01' is not a hexadecimal serial number."
    assert fail("revoke_cert", "01:02:03") == "No certificate with serial 01:02:03."
    run("revoke_cert", cert.serial)
    cert.refresh_from_db()
    assert cert.revocation_reason == "unspecified"
    assert (
        fail("revoke_cert", cert.serial) == f"Certificate {cert.serial_colons} is already revoked."
    )


def test_dump_crl(ec_root, ec_key, tmp_path, capsysbinary):
    revoked = _issue(ec_root, ec_key, "revoked.local")
    services.revoke_certificate(revoked, reason="superseded")
    call_command("dump_crl", "fac.cz.root")
    pem = capsysbinary.readouterr().out
    crl = x509.load_pem_x509_crl(pem)
    assert crl.is_signature_valid(ec_root.certificate.public_key())
    assert crl.get_revoked_certificate_by_serial_number(revoked.serial_number) is not None
    (tmp_path / "crl.pem").write_bytes(pem)
    text = subprocess.run(
        ["openssl", "crl", "-in", str(tmp_path / "crl.pem"), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Serial Number: {revoked.serial}" in text
    assert "X509v3 CRL Reason Code: \n                Superseded" in text
    call_command("dump_crl", "fac.cz.root", "--format", "der", "-o", str(tmp_path / "crl.der"))
    der = x509.load_der_x509_crl((tmp_path / "crl.der").read_bytes())
    assert der.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2


def test_dump_crl_errors(trusted_ca):
    assert fail("dump_crl", "vendor.root") == "Unknown CA 'vendor.root'."
    assert fail("dump_crl", "nope") == "Unknown CA 'nope'."


# --- management_entity ------------------------------------------------------------------


def test_management_entity_set_show_clear(ec_root, ec_key, tmp_path):
    """RFC 9483, 5.3.2: the RA a local CA trusts to revoke its certificates, from the CLI."""
    ra = _issue(ec_root, ec_key, "ra.example.net")
    path = tmp_path / "ra.pem"
    path.write_text(ra.certificate_pem)
    assert (
        run("management_entity", ec_root.name) == f"CA {ec_root.name} trusts no management entity\n"
    )
    out = run("management_entity", ec_root.name, "--certificate", str(path))
    assert out.startswith(f"CA {ec_root.name} trusts management entity CN=ra.example.net (issuer ")
    ec_root.refresh_from_db()
    assert ec_root.management_entity_pem == ra.certificate_pem
    assert messages()[-1].startswith(
        f"CA certificate '{ec_root.subject}' trusts management entity \"CN=ra.example.net\" ("
    )
    # the same certificate again changes nothing and logs nothing
    count = LogEntry.objects.count()
    run("management_entity", ec_root.name, "--certificate", str(path))
    assert LogEntry.objects.count() == count
    assert run("management_entity", ec_root.name, "--clear") == (
        f"CA {ec_root.name} trusts no management entity\n"
    )
    assert messages()[-1] == f"CA certificate '{ec_root.subject}' trusts no management entity"
    ec_root.refresh_from_db()
    assert ec_root.management_entity_pem == ""


def test_management_entity_refusals(ec_root, trusted_ca, tmp_path):
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(ec_root.certificate_pem)
    assert fail("management_entity", ec_root.name, "--certificate", str(ca_file)) == (
        "The management entity is an RA, not a CA certificate."
    )
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a certificate")
    assert fail("management_entity", ec_root.name, "--certificate", str(junk))
    assert "No such file" in fail("management_entity", ec_root.name, "--certificate", "/nope")
    assert fail("management_entity", "no.such.ca") == "Unknown CA 'no.such.ca'."
    assert fail("management_entity", trusted_ca.name) == f"Unknown CA {trusted_ca.name!r}."
    ec_root.refresh_from_db()
    assert ec_root.management_entity_pem == ""
