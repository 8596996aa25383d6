"""``manage.py`` in a subprocess: exit codes, one-line errors, stdin, files, real openssl.

Each test gets its own copy of an SQLite database file that was migrated (and,
for ``seeded_cli``, given a local root ``fac.cz.root`` and a trusted
``vendor.root``) once per session.
"""

import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.certauth.conftest import FIXTURE_PASSPHRASE, FIXTURES, copy_cli

PASSWORD = "Subprocess-Enroll-Secret-7"

ISSUE = """
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from certauth import services
from certauth.models import CertificateAuthority
ca = CertificateAuthority.objects.get(name="fac.cz.sub")
for cn in ("fgt100f.local", "fgt200f.local", "kept.local"):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = services.issue_certificate(
        ca=ca, subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]), public_key=key.public_key()
    )
    print(cert.serial)
"""


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    return result.stdout.decode()


def test_end_to_end(cli, tmp_path):
    out = ok(cli("init_ca", "fac.cz.root", "CN=fac.cz.root"))
    assert out.startswith("Created root CA fac.cz.root: CN=fac.cz.root, serial ")
    out = ok(
        cli(
            "init_ca",
            "fac.cz.sub",
            "CN=fac.cz.sub",
            "--parent",
            "fac.cz.root",
            "--key-type",
            "ec",
            "--curve",
            "p384",
            "--hash",
            "sha384",
        )
    )
    assert out.startswith("Created intermediate CA fac.cz.sub: CN=fac.cz.sub, serial ")

    # A trusted CA from DER, a local one from PKCS#12 with the passphrase on stdin
    # (the other forms run in-process in test_commands.py).
    ok(cli("import_ca", "vendor.root", str(FIXTURES / "vendor-root.der"), "--trusted"))
    out = ok(
        cli(
            "import_ca",
            "openssl.root",
            "--pkcs12",
            str(FIXTURES / "openssl-root.p12"),
            "--passphrase",
            "-",
            input=FIXTURE_PASSPHRASE + b"\n",
        )
    )
    assert out.startswith(
        "Imported local CA openssl.root: C=CZ, O=Example, CN=openssl.root, valid until "
    )

    out = ok(cli("list_cas"))
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert names == ["fac.cz.root", "fac.cz.sub", "openssl.root", "vendor.root"]

    # dump_ca: PEM to stdout, DER to a file; openssl accepts the chain.
    root_pem = ok(cli("dump_ca", "fac.cz.root"))
    assert root_pem.startswith("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "root.pem").write_text(root_pem)
    ok(cli("dump_ca", "fac.cz.sub", "--format", "der", "-o", str(tmp_path / "intermediate.der")))
    intermediate = x509.load_der_x509_certificate((tmp_path / "intermediate.der").read_bytes())
    (tmp_path / "intermediate.pem").write_bytes(
        intermediate.public_bytes(serialization.Encoding.PEM)
    )
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", "root.pem", "intermediate.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert verify.stdout.strip() == "intermediate.pem: OK", verify.stderr

    # Enrollment with every option, password from stdin; never listed.
    out = ok(
        cli(
            "add_enrollment",
            "fgt100f",
            "--password",
            "-",
            "--ca",
            "fac.cz.sub",
            "--subject",
            "CN=fgt100f.local",
            "--key-usage",
            "digitalSignature",
            "--ext-key-usage",
            "clientAuth,ipsecIKE",
            "--san",
            "DNS:fgt100f.local",
            "--san",
            "IP:192.0.2.1",
            "--days",
            "90",
            "--renewable-days",
            "10",
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
            input=f"{PASSWORD}\n".encode(),
        )
    )
    assert out == "Created enrollment fgt100f (CA fac.cz.sub)\n"
    out = ok(cli("list_enrollments"))
    assert PASSWORD not in out
    assert out.splitlines()[1].split() == [
        "fgt100f",
        "approved",
        "device",
        "no",
        "fac.cz.sub",
        "90",
        "digitalSignature",
        "CN=fgt100f.local",
    ]

    # Certificates (issued through the services, as the GUI and CMP do), revoked by serial.
    serials = ok(cli("shell", "--verbosity", "0", "--command", ISSUE)).split()
    assert len(serials) == 3
    colons = ":".join(serials[0][i : i + 2] for i in range(0, len(serials[0]), 2))
    out = ok(cli("revoke_cert", colons, "--reason", "keyCompromise"))
    assert out == f"Revoked CN=fgt100f.local ({colons}): keyCompromise\n"
    ok(cli("revoke_cert", serials[1].lower(), "--reason", "certificateHold"))
    listed = ok(cli("list_certs", "--ca", "fac.cz.sub", "--status", "revoked")).splitlines()
    assert [line.split()[0].replace(":", "") for line in listed[1:]] == serials[:2]

    # dump_crl through openssl.
    (tmp_path / "crl.pem").write_bytes(cli("dump_crl", "fac.cz.sub").stdout)
    text = subprocess.run(
        ["openssl", "crl", "-in", "crl.pem", "-noout", "-text"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"Serial Number: {serials[0]}" in text and f"Serial Number: {serials[1]}" in text
    assert serials[2] not in text
    assert "Key Compromise" in text and "Certificate Hold" in text
    check = subprocess.run(
        ["openssl", "crl", "-in", "crl.pem", "-CAfile", "intermediate.pem", "-noout"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert check.stderr.strip() == "verify OK"

    # The stored rows: init_ca defaults and the event log as the Logs page shows it.
    db = sqlite3.connect(cli.database)
    try:
        log = db.execute("SELECT user, message FROM certauth_logentry ORDER BY id").fetchall()
        defaults = db.execute(
            "SELECT key_type, key_size, hash_algorithm, julianday(not_after) - julianday(not_before)"
            " FROM certauth_certificateauthority WHERE name = 'fac.cz.root'"
        ).fetchone()
    finally:
        db.close()
    # init_ca defaults: RSA 2048, SHA-256, 3650 days (not_before is backdated 5 minutes).
    assert defaults[:3] == ("rsa", 2048, "sha256")
    assert abs(defaults[3] - (3650 + 5 / 1440)) < 1 / 1440
    assert log[:4] == [
        ("cli", "CA certificate 'CN=fac.cz.root' was successfully created"),
        ("cli", "CA certificate 'CN=fac.cz.sub' was successfully created"),
        ("cli", "Trusted CA certificate 'O=Vendor, CN=vendor.root' was successfully imported"),
        ("cli", "CA certificate 'C=CZ, O=Example, CN=openssl.root' was successfully imported"),
    ]
    assert ("cli", "CMP enrollment request 'fgt100f' was created") in log
    assert (
        "cli",
        f'Certificate "CN=fgt100f.local" ({colons}) was revoked (reason: Key Compromise)',
    ) in log


# The refusals the issue names; the others are checked in-process (test_commands.py),
# where the message is the same without the "CommandError: " prefix.
ERRORS = [
    (
        ("init_ca", "fac.cz.root", "CN=fac.cz.root"),
        "CommandError: A CA with certificate ID 'fac.cz.root' already exists.",
    ),
    (("init_ca", "sub", "CN=sub", "--parent", "nope"), "CommandError: Unknown CA 'nope'."),
    (("init_ca", "x", "CNN=x"), "CommandError: Malformed DN 'CNN=x': unknown attribute 'CNN'."),
    (
        ("init_ca", "x", "CN=x", "--key-size", "1024"),
        "CommandError: Unsupported RSA key size 1024: use one of 2048, 3072, 4096.",
    ),
    (
        ("init_ca", "x", "CN=x", "--hash", "md5"),
        "manage.py init_ca: error: argument --hash: invalid choice: 'md5' (choose from 'sha256', 'sha384', 'sha512')",
    ),
    (
        (
            "import_ca",
            "p12",
            "--pkcs12",
            str(FIXTURES / "openssl-root.p12"),
            "--passphrase",
            "wrong",
        ),
        "CommandError: Cannot read the PKCS#12 file: wrong passphrase or not PKCS#12.",
    ),
    (
        ("import_ca", "leaf", str(FIXTURES / "leaf.pem"), "--trusted"),
        "CommandError: The certificate is not a CA certificate (basicConstraints CA:TRUE missing).",
    ),
    (
        ("add_enrollment", "fgt", "--password", PASSWORD),
        "manage.py add_enrollment: error: the following arguments are required: --ca",
    ),
    (("revoke_cert", "01:02:03"), "CommandError: No certificate with serial 01:02:03."),
]
# These also run the system checks, as an administrator's shell does.
WITH_CHECKS = {0, 4}


@pytest.fixture(scope="module")
def error_results(seeded_sqlite, tmp_path_factory) -> list[tuple[int, bytes, bytes]]:
    """Every refused command, each on its own copy of the database, run side by side."""
    base = tmp_path_factory.mktemp("cli-errors")

    def run(i: int) -> tuple[int, bytes, bytes]:
        result = copy_cli(seeded_sqlite, base / str(i))(*ERRORS[i][0], checks=i in WITH_CHECKS)
        return result.returncode, result.stdout, result.stderr

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(run, range(len(ERRORS))))


@pytest.mark.parametrize(
    ("index", "stderr"),
    [(i, stderr) for i, (_args, stderr) in enumerate(ERRORS)],
    ids=[" ".join(args[:2]) + f"-{i}" for i, (args, _stderr) in enumerate(ERRORS)],
)
def test_errors_are_one_line(error_results, index, stderr):
    returncode, stdout, err = error_results[index]
    assert returncode == 1
    assert err.decode() == stderr + "\n"
    assert stdout == b""
