"""CRL distribution point and OCSP responder, read by the real ``openssl crl`` and ``openssl ocsp``."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request

import pytest
from cryptography import x509

from tests.cmp.conftest import OPENSSL, Server, requires_openssl_cmp

pytestmark = requires_openssl_cmp


@pytest.fixture(scope="module")
def enrolled(cmp_server: Server) -> Server:
    s = cmp_server
    s.manage("init_ca", "fac.cz.root", "CN=fac.cz.root")
    (s.workdir / "root.pem").write_text(s.manage("dump_ca", "fac.cz.root").stdout)
    s.manage("add_enrollment", "fgt100f", "--password", "fortinet1", "--ca", "fac.cz.root")
    subprocess.run(
        [OPENSSL, "genrsa", "-out", str(s.workdir / "fgt.key"), "2048"],
        check=True,
        capture_output=True,
    )
    result = s.cmp(
        "-cmd",
        "ir",
        "-srvcert",
        "root.pem",
        "-ref",
        "fgt100f",
        "-secret",
        "pass:fortinet1",
        "-newkey",
        "fgt.key",
        "-subject",
        "/CN=fgt100f.local",
        "-certout",
        "fgt.crt",
    )
    assert result.returncode == 0, result.stdout
    return s


def run(*args: str, cwd) -> str:
    result = subprocess.run([OPENSSL, *args], capture_output=True, text=True, cwd=cwd)
    return result.stdout + result.stderr


def fetch_crl(server: Server):
    with urllib.request.urlopen(
        f"{server.url}/app/cert/crl/fac.cz.root.crl", timeout=10
    ) as response:
        assert response.headers["Content-Type"] == "application/pkix-crl"
        der = response.read()
    (server.workdir / "root.crl").write_bytes(der)
    return x509.load_der_x509_crl(der)


def ocsp(server: Server, *extra: str) -> str:
    return run(
        "ocsp",
        "-issuer",
        "root.pem",
        "-CAfile",
        "root.pem",
        "-url",
        f"{server.url}/app/cert/ocsp",
        *extra,
        cwd=server.workdir,
    )


def test_certificate_points_to_crl_and_ocsp(enrolled: Server) -> None:
    cert = x509.load_pem_x509_certificate((enrolled.workdir / "fgt.crt").read_bytes())
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value == f"{enrolled.url}/app/cert/crl/fac.cz.root.crl"
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == f"{enrolled.url}/app/cert/ocsp"


def test_good_then_revoked(enrolled: Server) -> None:
    crl = fetch_crl(enrolled)
    assert len(crl) == 0
    text = run(
        "crl",
        "-inform",
        "DER",
        "-in",
        "root.crl",
        "-noout",
        "-text",
        "-CAfile",
        "root.pem",
        cwd=enrolled.workdir,
    )
    assert "verify OK" in text and "No Revoked Certificates." in text

    out = ocsp(enrolled, "-cert", "fgt.crt")
    assert "Response verify OK" in out and "fgt.crt: good" in out

    cert = x509.load_pem_x509_certificate((enrolled.workdir / "fgt.crt").read_bytes())
    serial = f"{cert.serial_number:X}"
    enrolled.manage("revoke_cert", serial, "--reason", "keyCompromise")

    crl = fetch_crl(enrolled)
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    text = run(
        "crl",
        "-inform",
        "DER",
        "-in",
        "root.crl",
        "-noout",
        "-text",
        "-CAfile",
        "root.pem",
        cwd=enrolled.workdir,
    )
    assert "verify OK" in text and "Key Compromise" in text

    out = ocsp(enrolled, "-cert", "fgt.crt")
    assert "Response verify OK" in out and "fgt.crt: revoked" in out
    assert "Reason: keyCompromise" in out
    # openssl verify with the CRL refuses the certificate.
    run("crl", "-inform", "DER", "-in", "root.crl", "-out", "root.crl.pem", cwd=enrolled.workdir)
    result = subprocess.run(
        [
            OPENSSL,
            "verify",
            "-crl_check",
            "-CAfile",
            "root.pem",
            "-CRLfile",
            "root.crl.pem",
            "fgt.crt",
        ],
        capture_output=True,
        text=True,
        cwd=enrolled.workdir,
    )
    assert result.returncode != 0 and "certificate revoked" in result.stdout + result.stderr


def test_unknown_serial(enrolled: Server) -> None:
    out = ocsp(enrolled, "-serial", "0x0123456789")
    assert "Response verify OK" in out and "0x0123456789: unknown" in out


def test_foreign_issuer_is_unauthorized(enrolled: Server, tmp_path) -> None:
    subprocess.run(
        [
            OPENSSL,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(tmp_path / "k"),
            "-subj",
            "/CN=other",
            "-out",
            str(tmp_path / "other.pem"),
            "-days",
            "2",
        ],
        check=True,
        capture_output=True,
    )
    out = run(
        "ocsp",
        "-issuer",
        str(tmp_path / "other.pem"),
        "-serial",
        "1",
        "-url",
        f"{enrolled.url}/app/cert/ocsp",
        cwd=enrolled.workdir,
    )
    assert "unauthorized" in out


def test_unknown_crl_is_404(enrolled: Server) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{enrolled.url}/app/cert/crl/nope.crl", timeout=10)
    assert info.value.code == 404
