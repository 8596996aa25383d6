"""The TLV reader of CertReqMessages against the pyasn1 one, request for request.

``decode.cert_requests`` reads the shape OpenSSL and FortiGates send with the
TLV reader and leaves every other shape to pyasn1 (``full_cert_requests``);
both must give the same requests, and the same error for a broken one.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from cmp.protocol import asn1, decode
from cmp.protocol.errors import CMPError

from .client import Client, pss

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cmp"
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()


def _comparable(found):
    """CertRequests with their keys as SubjectPublicKeyInfo DER (keys and Extensions compare by identity)."""
    return tuple(
        dataclasses.replace(
            item,
            public_key=item.public_key.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            if item.public_key is not None
            else None,
            extensions=list(item.extensions) if item.extensions is not None else None,
        )
        for item in found
    )


def _outcome(read, request):
    try:
        return ("ok", _comparable(read(request)))
    except CMPError as exc:
        return (type(exc).__name__, exc.text)


def _same(request) -> None:
    assert _outcome(decode.cert_requests, request) == _outcome(decode.full_cert_requests, request)


def _shapes() -> list[tuple[str, bytes]]:
    client = Client(sender=x509.Name.from_rfc4514_string("CN=fgt100f.local"))
    now = datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)
    san = (
        x509.DNSName("fgt100f.local"),
        x509.IPAddress(__import__("ipaddress").ip_address("10.0.0.1")),
    )
    usage = x509.Extension(
        x509.KeyUsage.oid,
        True,
        x509.KeyUsage(True, False, False, False, False, False, False, False, False),
    )
    return [
        ("openssl ir", (FIXTURES / "ir.der").read_bytes()),
        ("ec", client.ir(EC_KEY)),
        ("rsa", client.ir(RSA_KEY)),
        ("ed25519", client.ir(ED_KEY)),
        ("rsa pss pop", client.ir(RSA_KEY, pop_algorithm=pss())),
        ("cr", client.ir(EC_KEY, body_type="cr")),
        ("kur", client.ir(EC_KEY, body_type="kur")),
        ("no subject", client.ir(EC_KEY, None, sans=san)),
        ("sans", client.ir(EC_KEY, sans=san)),
        ("extensions", client.ir(EC_KEY, extensions=(usage,))),
        ("two requests", client.ir(EC_KEY, count=2)),
        ("certReqId 5", client.ir(EC_KEY, cert_req_id=5)),
        ("no key", client.ir(EC_KEY, include_key=False, pop="none")),
        ("no pop", client.ir(EC_KEY, pop="none")),
        ("raVerified", client.ir(EC_KEY, pop="raVerified")),
        ("validity", client.ir(EC_KEY, validity=(now, now + datetime.timedelta(days=30)))),
        ("bad pop", client.ir(EC_KEY, pop="bad")),
        ("multi-valued rdn", client.ir(EC_KEY, "CN=a+O=b,C=CZ")),
    ]


SHAPES = _shapes()


@pytest.mark.parametrize(("name", "der"), SHAPES, ids=[name for name, _ in SHAPES])
def test_both_readers_agree(name, der):
    request = decode.decode(der)
    _same(request)


def test_the_common_shape_is_read_without_pyasn1():
    for name in ("openssl ir", "ec", "rsa", "no subject", "sans", "two requests", "kur"):
        der = dict(SHAPES)[name]
        request = decode.decode(der)
        assert asn1.simple_cert_requests(request.body_der, request.body_type) is not None, name
    for name in ("raVerified", "validity"):
        request = decode.decode(dict(SHAPES)[name])
        assert asn1.simple_cert_requests(request.body_der, request.body_type) is None


@pytest.mark.parametrize("seed", range(8))
def test_both_readers_agree_on_broken_bodies(seed):
    """Bytes flipped, cut, inserted and retagged in the body: the same requests or error."""
    rng = random.Random(seed)
    for _, der in SHAPES:
        request = decode.decode(der)
        body = bytearray(request.body_der)
        for _ in range(40):
            mutated = bytearray(body)
            kind = rng.randrange(4)
            pos = rng.randrange(len(mutated))
            if kind == 0:
                mutated[pos] ^= 1 << rng.randrange(8)
            elif kind == 1:
                mutated = mutated[: max(pos, 1)]
            elif kind == 2:
                mutated[pos:pos] = bytes([rng.randrange(256)])
            else:
                mutated[pos] = rng.choice(
                    [0x30, 0x31, 0x02, 0x03, 0x04, 0x05, 0x06, 0xA0, 0xA1, 0xA5, 0xA6, 0xA9]
                )
            _same(dataclasses.replace(request, body_der=bytes(mutated)))


def _conf_outcome(read, request):
    try:
        return ("ok", read(request))
    except CMPError as exc:
        return (type(exc).__name__, exc.text)


def _conf_shapes() -> list[tuple[str, bytes]]:
    client = Client(sender=x509.Name.from_rfc4514_string("CN=fgt100f.local"))
    issued = x509.load_pem_x509_certificate((FIXTURES / "issued.pem").read_bytes())
    ours = bytes.fromhex("3003020100")  # statusInfo { accepted }, as OpenSSL sends it
    cert_hash = bytes(32)
    openssl = asn1.tlv(
        0xB8, asn1.tlv(0x30, asn1.tlv(0x30, asn1.tlv(0x04, cert_hash) + b"\x02\x01\x00" + ours))
    )
    return [
        ("openssl certConf", (FIXTURES / "certconf.der").read_bytes()),
        ("status accepted", client.finish(openssl)),
        ("no statusInfo", client.cert_conf(issued)),
        ("rejected", client.cert_conf(issued, accepted=False)),
        ("rejected with text", client.cert_conf(issued, accepted=False, text="no thanks")),
        ("failInfo", client.cert_conf(issued, accepted=False, failure=9)),
        ("hashAlg", client.cert_conf(issued, hash_alg="2.16.840.1.101.3.4.2.1")),
        ("two", client.cert_conf(issued, count=2)),
        ("certReqId 7", client.cert_conf(issued, cert_req_id=7)),
    ]


CONF_SHAPES = _conf_shapes()


@pytest.mark.parametrize(("name", "der"), CONF_SHAPES, ids=[name for name, _ in CONF_SHAPES])
def test_both_cert_conf_readers_agree(name, der):
    request = decode.decode(der)
    assert request.body_type == "certConf"
    assert _conf_outcome(decode.cert_conf, request) == _conf_outcome(decode.full_cert_conf, request)


def test_openssl_cert_conf_is_read_without_pyasn1():
    for name in ("openssl certConf", "status accepted", "no statusInfo", "rejected", "two"):
        assert asn1.simple_cert_conf(decode.decode(dict(CONF_SHAPES)[name]).body_der), name


@pytest.mark.parametrize("seed", range(8))
def test_both_cert_conf_readers_agree_on_broken_bodies(seed):
    rng = random.Random(seed)
    for _, der in CONF_SHAPES:
        request = decode.decode(der)
        body = bytearray(request.body_der)
        for _ in range(60):
            mutated = bytearray(body)
            kind = rng.randrange(4)
            pos = rng.randrange(len(mutated))
            if kind == 0:
                mutated[pos] ^= 1 << rng.randrange(8)
            elif kind == 1:
                mutated = mutated[: max(pos, 1)]
            elif kind == 2:
                mutated[pos:pos] = bytes([rng.randrange(256)])
            else:
                mutated[pos] = rng.choice([0x30, 0x02, 0x03, 0x04, 0x05, 0x0C, 0xA0, 0xB8])
            broken = dataclasses.replace(request, body_der=bytes(mutated))
            assert _conf_outcome(decode.cert_conf, broken) == _conf_outcome(
                decode.full_cert_conf, broken
            )
