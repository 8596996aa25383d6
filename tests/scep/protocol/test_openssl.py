"""The replies read by an independent CMS implementation: ``openssl cms``.

``openssl cms -verify`` checks the CertRep's signature and messageDigest
(RFC 5652, 5.4), ``openssl cms -decrypt`` opens the pkcsPKIEnvelope with the
device key, and ``openssl pkcs7`` reads the degenerate PKCS#7 inside.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from scep.protocol import SCEPConfig, SCEPServer

from .backend import MemoryBackend
from .client import Client, make_csr, subject

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
PEM = serialization.Encoding.PEM


def _openssl(*args: str) -> subprocess.CompletedProcess:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True, timeout=60)


def _write_key(path: Path, key) -> Path:
    path.write_bytes(
        key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


@pytest.mark.parametrize("cipher", ["aes128", "aes192", "aes256", "3des"])
def test_openssl_verifies_and_decrypts_cert_rep(tmp_path, rsa_ca, device_key, cipher):
    backend = MemoryBackend(rsa_ca, config=SCEPConfig(legacy_algorithms=True))
    client = Client(device_key, cipher=cipher, digest="sha1" if cipher == "3des" else "sha256")
    csr = make_csr(device_key, subject("openssl-check"), challenge="s3cret-Challenge")
    result = SCEPServer(backend).handle(
        "PKIOperation", body=client.pkcs_req(csr, [rsa_ca.certificate])
    )
    (tmp_path / "rep.der").write_bytes(result.body)
    (tmp_path / "ca.pem").write_bytes(rsa_ca.certificate.public_bytes(PEM))
    assert client.certificate is not None
    (tmp_path / "signer.pem").write_bytes(client.certificate.public_bytes(PEM))
    _write_key(tmp_path / "key.pem", device_key)
    verified = _openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "rep.der"),
        "-CAfile", str(tmp_path / "ca.pem"), "-purpose", "any", "-out", str(tmp_path / "env.der"),
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert "Verification successful" in verified.stderr
    decrypted = _openssl(
        "cms", "-decrypt", "-binary", "-inform", "DER", "-in", str(tmp_path / "env.der"),
        "-recip", str(tmp_path / "signer.pem"), "-inkey", str(tmp_path / "key.pem"),
        "-out", str(tmp_path / "inner.der"),
    )  # fmt: skip
    assert decrypted.returncode == 0, decrypted.stderr
    printed = _openssl(
        "pkcs7", "-inform", "DER", "-in", str(tmp_path / "inner.der"), "-print_certs"
    )
    assert printed.returncode == 0, printed.stderr
    first = x509.load_pem_x509_certificates(printed.stdout.encode())[0]
    assert first == result.certificate and first.subject == subject("openssl-check")


def test_openssl_verifies_failure_cert_rep(tmp_path, rsa_ca, device_key):
    client = Client(device_key)
    csr = make_csr(device_key, subject("openssl-fail"), challenge="wrong")
    result = SCEPServer(MemoryBackend(rsa_ca)).handle(
        "PKIOperation", body=client.pkcs_req(csr, [rsa_ca.certificate])
    )
    (tmp_path / "rep.der").write_bytes(result.body)
    (tmp_path / "ca.pem").write_bytes(rsa_ca.certificate.public_bytes(PEM))
    (tmp_path / "empty").write_bytes(b"")
    # no pkcsPKIEnvelope: the signature covers an absent (empty) content
    verified = _openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "rep.der"),
        "-CAfile", str(tmp_path / "ca.pem"), "-purpose", "any", "-content", str(tmp_path / "empty"),
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    printed = _openssl(
        "cms", "-cmsout", "-print", "-inform", "DER", "-in", str(tmp_path / "rep.der")
    )
    assert "eContent: <ABSENT>" in printed.stdout


def test_openssl_reads_ca_ra_certificates(tmp_path, ec_ca):
    result = SCEPServer(MemoryBackend(ec_ca)).handle("GetCACert")
    (tmp_path / "ca.p7b").write_bytes(result.body)
    printed = _openssl("pkcs7", "-inform", "DER", "-in", str(tmp_path / "ca.p7b"), "-print_certs")
    assert printed.returncode == 0, printed.stderr
    assert set(x509.load_pem_x509_certificates(printed.stdout.encode())) == {
        ec_ca.certificate,
        ec_ca.ra,
        ec_ca.root,
    }
