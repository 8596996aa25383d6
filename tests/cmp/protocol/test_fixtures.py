"""Requests captured from ``openssl cmp`` (tests/fixtures/cmp/regenerate.sh)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from cmp.protocol import CMPServer, errors, messages, protection
from cmp.protocol.asn1 import OID

from .backend import MemoryBackend
from .client import read_response

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cmp"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def spki(key) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def fixture_key():
    return serialization.load_pem_private_key(load("key-ec.pem"), None)


def test_ir_header():
    request = messages.decode(load("ir.der"))
    header = request.header
    assert request.body_type == "ir" and request.size == len(load("ir.der"))
    assert header.pvno == 2
    assert header.sender == x509.Name.from_rfc4514_string("CN=fgt100f.local")
    assert header.recipient == x509.Name.from_rfc4514_string("CN=Mock_CA")
    assert header.sender_kid == b"fgt100f"
    assert len(header.transaction_id) == 16 and len(header.sender_nonce) == 16
    assert header.recip_nonce is None
    assert header.message_time is not None and header.message_time.utcoffset().total_seconds() == 0
    assert header.protection_alg.oid == OID.password_based_mac
    params = protection.mac_parameters(header.protection_alg)
    assert (params.owf, params.iteration_count, params.mac) == (OID.sha256, 500, OID.hmac_sha1)


def test_ir_mac_matches_openssl():
    request = messages.decode(load("ir.der"))
    alg = request.header.protection_alg
    protection.verify_mac(alg, b"fortinet1", request.protected_part, request.protection)
    with pytest.raises(errors.BadMessageCheck):
        protection.verify_mac(alg, b"fortinet2", request.protected_part, request.protection)


def test_ir_body(fixture_key):
    (cert_req,) = messages.cert_requests(messages.decode(load("ir.der")))
    assert cert_req.cert_req_id == 0
    assert cert_req.subject == x509.Name.from_rfc4514_string("CN=fgt100f.local")
    assert spki(cert_req.public_key) == spki(fixture_key.public_key())
    assert cert_req.subject_alt_names == (
        x509.DNSName("fgt100f.local"),
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
    )
    pop = cert_req.pop
    assert pop.kind == "signature" and pop.algorithm.oid == OID.ecdsa_with_sha256
    assert not pop.has_poposk_input
    # RFC 4211, 4.1: the POP signs the original DER of certReq
    assert protection.verify_signature(
        cert_req.public_key, pop.algorithm, pop.signature, pop.signed_data
    )
    assert not protection.verify_signature(
        cert_req.public_key, pop.algorithm, pop.signature, pop.signed_data + b"\x00"
    )


def test_certconf():
    request = messages.decode(load("certconf.der"))
    assert request.body_type == "certConf"
    (status,) = messages.cert_conf(request)
    issued = x509.load_pem_x509_certificate(load("issued.pem"))
    digest = hashes.Hash(issued.signature_hash_algorithm)
    digest.update(issued.public_bytes(serialization.Encoding.DER))
    assert status.cert_hash == digest.finalize()
    assert (status.cert_req_id, status.accepted, status.hash_alg) == (0, True, None)
    ir = messages.decode(load("ir.der")).header
    assert request.header.transaction_id == ir.transaction_id
    assert request.header.recip_nonce is not None


def test_p10cr():
    request = messages.decode(load("p10cr.der"))
    csr = messages.p10cr(request)
    assert csr.is_signature_valid
    assert csr.subject == x509.Name.from_rfc4514_string("CN=fgt100f.local")
    params = protection.mac_parameters(request.header.protection_alg)
    assert params.mac == OID.hmac_with_sha256
    protection.verify_mac(
        request.header.protection_alg, b"fortinet1", request.protected_part, request.protection
    )


@pytest.mark.parametrize("name", ["ir.der", "p10cr.der"])
def test_server_answers_captured_requests_at_their_time(ca, name):
    """Frozen clock: the captured messageTime is the server's now."""
    der = load(name)
    moment = messages.decode(der).header.message_time
    backend = MemoryBackend(ca)
    backend.add_enrollment("fgt100f", "fortinet1")
    result = CMPServer(backend, clock=lambda: moment).handle(der)
    response = read_response(result.body)
    assert result.error is None, result.error
    assert response.body_type == ("ip" if name == "ir.der" else "cp")
    assert response.mac_ok() and response.status == 0
    assert response.recip_nonce == messages.decode(der).header.sender_nonce


def test_server_refuses_captured_request_replayed_later(ca):
    der = load("ir.der")
    later = messages.decode(der).header.message_time + datetime.timedelta(hours=1)
    backend = MemoryBackend(ca)
    backend.add_enrollment("fgt100f", "fortinet1")
    result = CMPServer(backend, clock=lambda: later).handle(der)
    response = read_response(result.body)
    assert response.failure_bits == (errors.FailureInfo.badTime,)
    assert response.status_text == "messageTime differs from the server time by 3600 s."
