"""A PKCSReq captured from Debian's scepclient (tests/fixtures/scep/regenerate.sh).

Runs without scepclient installed: the request, its CA and the client key are
checked in.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from scep.protocol import FailInfo, PKIStatus, SCEPConfig, SCEPServer, decode

from .backend import LocalCA, MemoryBackend
from .client import read_reply

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "scep"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def fixture_ca() -> LocalCA:
    key = serialization.load_pem_private_key(load("ca.key"), None)
    certificate = x509.load_pem_x509_certificate(load("ca.pem"))
    return LocalCA(key, certificate, key, certificate)  # type: ignore[arg-type]


def test_scepclient_request_fields():
    message = decode.read_pki_message(load("pkcsreq.der"))
    assert message.message_type == 19
    assert len(message.transaction_id) == 28  # base64 of a SHA-1 of the key
    assert len(message.sender_nonce) == 16
    assert message.self_signed
    assert message.signer_certificate.subject.rfc4514_string() == "CN=SCEP SIGNER,O=scep-client"
    assert message.digest_algorithm.oid == "1.3.14.3.2.26"  # SHA-1
    assert message.signature_algorithm.oid == "1.2.840.113549.1.1.5"  # sha1WithRSAEncryption


def test_scepclient_request_is_served_with_the_legacy_setting(fixture_ca):
    config = SCEPConfig(legacy_algorithms=True, single_des=True)
    backend = MemoryBackend(fixture_ca, config=config)
    result = SCEPServer(backend).handle("PKIOperation", body=load("pkcsreq.der"))
    assert result.pki_status == PKIStatus.SUCCESS
    csr = x509.load_pem_x509_csr(load("csr.pem"))
    assert result.csr == csr
    assert "pkcsPKIEnvelope: DES-CBC, rsaEncryption, to CN=SCEP Fixture CA" in result.trace
    key = serialization.load_pem_private_key(load("key.pem"), None)
    message = decode.read_pki_message(load("pkcsreq.der"))
    reply = read_reply(result.body, key, message.signer_certificate)
    assert reply.cipher == "des" and reply.digest_oid == "1.3.14.3.2.26"
    assert reply.certificates[0].subject == csr.subject
    assert reply.recipient_nonce == message.sender_nonce


def test_scepclient_request_without_the_legacy_setting(fixture_ca):
    result = SCEPServer(MemoryBackend(fixture_ca)).handle("PKIOperation", body=load("pkcsreq.der"))
    assert (result.pki_status, result.fail_info) == (PKIStatus.FAILURE, FailInfo.badAlg)
    config = SCEPConfig(legacy_algorithms=True)  # SHA-1 and 3DES, but not DES
    result = SCEPServer(MemoryBackend(fixture_ca, config=config)).handle(
        "PKIOperation", body=load("pkcsreq.der")
    )
    assert result.fail_info == FailInfo.badAlg
    assert result.fail_text == "DES-CBC is not accepted by this CA's settings."
