"""PasswordBasedMac, PBMAC1 and signature protection; error messages."""

from __future__ import annotations

import datetime
import hmac
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from cmp.protocol import errors, messages, protection
from cmp.protocol.asn1 import OID
from cmp.protocol.errors import FailureInfo
from cmp.protocol.protection import MacProtector, PBMAC1Parameters, PBMParameters

from .client import read_response

DATA = b"DER(ProtectedPart) stand-in"
OWFS = [OID.sha1, OID.sha224, OID.sha256, OID.sha384, OID.sha512]
PBM_MACS = [
    OID.hmac_sha1,
    OID.hmac_with_sha1,
    OID.hmac_with_sha224,
    OID.hmac_with_sha256,
    OID.hmac_with_sha384,
    OID.hmac_with_sha512,
]


@pytest.mark.parametrize("owf", OWFS)
@pytest.mark.parametrize("mac", PBM_MACS)
def test_pbm_round_trip(owf, mac):
    algorithm = PBMParameters(os.urandom(16), owf, 100, mac).algorithm()
    value = protection.compute_mac(algorithm, b"fortinet1", DATA)
    protection.verify_mac(algorithm, b"fortinet1", DATA, value)
    with pytest.raises(errors.BadMessageCheck):
        protection.verify_mac(algorithm, b"fortinet2", DATA, value)
    with pytest.raises(errors.BadMessageCheck):
        protection.verify_mac(algorithm, b"fortinet1", DATA + b"!", value)


def test_pbm_known_answer():
    """RFC 9810, 5.1.3.1 computed by hand: owf applied iterationCount times in total."""
    salt = bytes(range(16))
    params = PBMParameters(salt, OID.sha256, 3, OID.hmac_with_sha256)
    key = hashes.Hash(hashes.SHA256())
    key.update(b"secret" + salt)
    k = key.finalize()
    for _ in range(2):
        h = hashes.Hash(hashes.SHA256())
        h.update(k)
        k = h.finalize()
    expected = hmac.new(k, DATA, "sha256").digest()
    assert params.mac_value(b"secret", DATA) == expected


@pytest.mark.parametrize("count", [100, 100_000])
def test_pbm_iteration_bounds_accepted(count):
    algorithm = PBMParameters(os.urandom(16), OID.sha256, count, OID.hmac_sha1).algorithm()
    assert PBMParameters.from_algorithm(algorithm).iteration_count == count


def test_pbm_short_salt_refused():
    algorithm = PBMParameters(b"1234", OID.sha256, 500, OID.hmac_sha1).algorithm()
    with pytest.raises(errors.BadAlg, match="Salt length 4"):
        protection.mac_parameters(algorithm)


@pytest.mark.parametrize("prf", [OID.hmac_with_sha256, OID.hmac_with_sha384, OID.hmac_with_sha512])
def test_pbmac1_round_trip_and_known_answer(prf):
    salt = os.urandom(16)
    algorithm = PBMAC1Parameters(salt, 1000, 32, prf, OID.hmac_with_sha256).algorithm()
    parsed = protection.mac_parameters(algorithm)
    assert parsed == PBMAC1Parameters(salt, 1000, 32, prf, OID.hmac_with_sha256)
    value = protection.compute_mac(algorithm, b"fortinet1", DATA)
    protection.verify_mac(algorithm, b"fortinet1", DATA, value)
    # independent computation with cryptography's PBKDF2 (RFC 8018, 5.2)
    hash_type = {
        OID.hmac_with_sha256: hashes.SHA256,
        OID.hmac_with_sha384: hashes.SHA384,
        OID.hmac_with_sha512: hashes.SHA512,
    }[prf]
    key = PBKDF2HMAC(hash_type(), 32, salt, 1000).derive(b"fortinet1")
    assert value == hmac.new(key, DATA, "sha256").digest()
    with pytest.raises(errors.BadMessageCheck):
        protection.verify_mac(algorithm, b"nope", DATA, value)


def test_pbmac1_refuses_sha1_mac():
    algorithm = PBMAC1Parameters(
        os.urandom(16), 1000, 32, OID.hmac_with_sha256, OID.hmac_with_sha1
    ).algorithm()
    with pytest.raises(errors.BadAlg, match="PBMAC1 MAC algorithm"):
        protection.mac_parameters(algorithm)


@pytest.mark.parametrize(
    "algorithm",
    [
        PBMParameters(os.urandom(16), OID.sha384, 777, OID.hmac_with_sha512).algorithm(),
        PBMAC1Parameters(
            os.urandom(20), 2000, 48, OID.hmac_with_sha384, OID.hmac_with_sha512
        ).algorithm(),
    ],
)
def test_mac_protector_keeps_the_request_parameters_and_its_key(algorithm, monkeypatch):
    """RFC 9810, 5.1.3.1: the PBMParameter fields stay constant in a transaction; the
    key derived to verify the request protects the answer, derived once."""
    protector = MacProtector.like(algorithm, b"fortinet1", b"fgt100f")
    data = b"the request's ProtectedPart"
    mac = protection.compute_mac(algorithm, b"fortinet1", data)
    params = protection.mac_parameters(algorithm)
    derived = []
    real = type(params).derive_key
    monkeypatch.setattr(
        type(params), "derive_key", lambda self, secret: derived.append(1) or real(self, secret)
    )
    protector.verify(algorithm, data, mac)
    with pytest.raises(errors.BadMessageCheck):
        protector.verify(algorithm, data, bytes(len(mac)))
    answer = protector.new_algorithm()
    assert answer == algorithm
    assert protector.protect(answer, b"the answer") == protection.compute_mac(
        algorithm, b"fortinet1", b"the answer"
    )
    assert len(derived) == 2  # the protector once; compute_mac (the reference) once
    assert "fortinet1" not in repr(protector)


@pytest.mark.parametrize("key_name", ["rsa", "ec"])
def test_signature_protection_round_trip(key_name, rsa_key, ec_key, ca):
    key = rsa_key if key_name == "rsa" else ec_key
    # a CMP signer certificate for the key, issued by the test CA
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=CMP signer"))
        .issuer_name(ca.root.subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(ca.root_key, hashes.SHA256())
    )
    signer = protection.SignatureProtector.with_key(key, certificate)
    header = messages.ResponseHeader(
        pvno=2,
        sender=certificate.subject,
        recipient=None,
        message_time=now,
        sender_kid=None,
        transaction_id=b"t" * 16,
        sender_nonce=b"n" * 16,
        recip_nonce=None,
    )
    der = messages.encode_response(header, messages.PKIConfBody(), protector=signer)
    response = read_response(der)
    assert response.algorithm.oid == (
        OID.sha256_with_rsa if key_name == "rsa" else OID.ecdsa_with_sha256
    )
    assert response.sender_kid == signer.sender_kid
    protection.verify_signature_protection(
        response.algorithm, certificate, response.protected_part, response.protection
    )
    with pytest.raises(errors.BadMessageCheck):
        protection.verify_signature_protection(
            response.algorithm, certificate, response.protected_part + b"x", response.protection
        )


def test_verify_signature_refuses_unknown_or_mismatched_algorithms(ec_key):
    with pytest.raises(errors.BadAlg, match="not supported"):
        protection.verify_signature(
            ec_key.public_key(), messages.AlgorithmId("1.2.840.10045.4.1"), b"", b""
        )
    with pytest.raises(errors.BadAlg, match="does not match the key type"):
        protection.verify_signature(
            ec_key.public_key(), messages.AlgorithmId(OID.sha256_with_rsa), b"", b""
        )


def test_error_response_fields():
    request = messages.RequestHeader(
        pvno=3,
        sender=None,
        recipient=None,
        message_time=None,
        protection_alg=None,
        sender_kid=b"fgt100f",
        recip_kid=None,
        transaction_id=b"t" * 16,
        sender_nonce=b"s" * 16,
        recip_nonce=None,
    )
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    algorithm = PBMParameters(os.urandom(16), OID.sha256, 500, OID.hmac_sha1).algorithm()
    der = errors.error_response(
        errors.BadPOP("POP is wrong."),
        request,
        protector=MacProtector.like(algorithm, b"fortinet1", b"fgt100f"),
        clock_now=now,
        nonce=b"n" * 16,
    )
    response = read_response(der)
    assert response.body_type == "error"
    assert (response.status, response.status_text, response.failure_bits) == (
        2,
        "POP is wrong.",
        (FailureInfo.badPOP,),
    )
    assert response.pvno == 3 and response.transaction_id == b"t" * 16
    assert response.recip_nonce == b"s" * 16 and response.sender_nonce == b"n" * 16
    assert response.sender_kid == b"fgt100f" and response.mac_ok()
    assert messages.decode(der).header.message_time == now
