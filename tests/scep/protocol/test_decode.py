"""Reading requests: GET-style PKIOperation encodings, BER input, bounded parsing."""

from __future__ import annotations

import base64
import random
import textwrap
import urllib.parse

import pytest

from scep.protocol import MalformedMessage, SCEPServer, asn1, decode

from .backend import MemoryBackend
from .client import Client, make_csr, subject

CHALLENGE = "s3cret-Challenge"


@pytest.fixture
def pkcs_req(rsa_ca, client) -> bytes:
    csr = make_csr(client.key, subject("device-get"), challenge=CHALLENGE)
    return client.pkcs_req(csr, [rsa_ca.certificate])


def _std(der: bytes) -> str:
    return base64.b64encode(der).decode()


# What the web framework hands over after decoding the query once.
GET_VARIANTS = {
    "standard": _std,
    # '+' left unencoded by the client: form decoding made it a space
    "plus-as-space": lambda der: _std(der).replace("+", " "),
    # Cisco IOS percent-encodes the value twice
    "double-encoded": lambda der: urllib.parse.quote(_std(der), safe=""),
    # go clients (micromdm scepclient) use the URL-safe alphabet
    "url-safe": lambda der: base64.urlsafe_b64encode(der).decode(),
    "no-padding": lambda der: _std(der).rstrip("="),
    "line-breaks": lambda der: "\n".join(textwrap.wrap(_std(der), 64)) + "\n",
}


@pytest.mark.parametrize("variant", list(GET_VARIANTS))
def test_get_pki_operation(server, client, pkcs_req, variant):
    # RFC 8894, 4.1: PKIOperation with GET carries the base64 message in the query.
    value = GET_VARIANTS[variant](pkcs_req)
    assert decode.message_from_query(value, 64 * 1024) == pkcs_req
    result = server.handle("PKIOperation", message=value)
    assert "SCEP PKIOperation (GET)" in result.trace
    assert client.read_reply(result.body).status == "0"


@pytest.mark.parametrize("value", ["not base64!", "", "%%%", "A"])
def test_get_message_that_is_not_base64(server, value):
    with pytest.raises(MalformedMessage):
        server.handle("PKIOperation", message=value)


def test_get_message_size_is_bounded_before_decoding():
    with pytest.raises(MalformedMessage, match="longer than"):
        decode.message_from_query("A" * 200_000, 64 * 1024)


# --------------------------------------------------------------------------- BER input


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _parse(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """(tag, content, whole TLV) of each DER TLV in ``data``."""
    out = []
    i = 0
    while i < len(data):
        tag, first = data[i], data[i + 1]
        j = i + 2
        length = first
        if first & 0x80:
            count = first & 0x7F
            length = int.from_bytes(data[j : j + count], "big")
            j += count
        out.append((tag, data[j : j + length], data[i : j + length]))
        i = j + length
    return out


def _indefinite(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + b"\x80" + content + b"\x00\x00"


def to_ber(der: bytes) -> bytes:
    """The pkiMessage with indefinite lengths outside and a chunked eContent, as streamers send."""
    ((_, ci, _),) = _parse(der)
    (oid, explicit) = _parse(ci)
    ((_, signed, _),) = _parse(explicit[1])
    parts = _parse(signed)
    (content_type, econtent) = _parse(parts[2][1])
    ((_, octets, _),) = _parse(econtent[1])
    half = len(octets) // 2
    chunks = b"".join(b"\x04" + _length(len(c)) + c for c in (octets[:half], octets[half:]))
    encap = _indefinite(0x30, content_type[2] + _indefinite(0xA0, _indefinite(0x24, chunks)))
    body = parts[0][2] + parts[1][2] + encap + b"".join(p[2] for p in parts[3:])
    return _indefinite(0x30, oid[2] + _indefinite(0xA0, _indefinite(0x30, body)))


def test_ber_indefinite_length_request(server, client, pkcs_req):
    ber = to_ber(pkcs_req)
    assert ber != pkcs_req and b"\x30\x80" in ber[:2]
    reply = client.read_reply(server.handle("PKIOperation", body=ber).body)
    assert reply.status == "0"


# --------------------------------------------------------------------------- bounds


@pytest.mark.parametrize(
    "data",
    [
        b"\x30\x80" * 40 + b"\x00\x00" * 40,  # nesting deeper than MAX_DEPTH
        b"\x30\x80" + b"\x05\x00" * 300 + b"\x00\x00",  # more than MAX_CHILDREN
        b"\x30\x85\x01\x00\x00\x00\x00",  # five length octets
        b"\x1f\x81\x01\x00",  # high tag number
        b"\x04\x80\x00\x00",  # indefinite primitive
        b"\x30\x80\x05\x00",  # no end-of-contents
    ],
    ids=["deep", "wide", "long-length", "high-tag", "indefinite-primitive", "no-eoc"],
)
def test_hostile_encodings_are_malformed(server, data):
    with pytest.raises(MalformedMessage):
        server.handle("PKIOperation", body=data)
    with pytest.raises(asn1.DecodeError):
        asn1.decode_signed_data(data)


def test_constructed_octet_string():
    assert asn1.decode_octet_string(b"\x24\x80\x04\x01a\x04\x02bc\x00\x00") == b"abc"


def test_read_pki_message_fields(rsa_ca):
    client = Client(digest="sha512")
    csr = make_csr(client.key, subject("fields"))
    message = decode.read_pki_message(
        client.pkcs_req(csr, [rsa_ca.certificate], transaction_id="T-1", sender_nonce=b"n" * 16)
    )
    assert (message.transaction_id, message.sender_nonce, message.message_type) == (
        "T-1",
        b"n" * 16,
        19,
    )
    assert message.transaction_id_der == b"\x13\x03T-1"  # PrintableString, echoed as is
    assert message.signer_certificate == client.certificate and message.self_signed
    assert message.digest_algorithm.oid == "2.16.840.1.101.3.4.2.3"


def test_server_result_trace_for_malformed(rsa_ca):
    server = SCEPServer(MemoryBackend(rsa_ca))
    with pytest.raises(MalformedMessage) as info:
        server.handle("PKIOperation", body=b"\x30\x00")
    assert info.value.trace[-1].startswith("malformed request: Not a CMS SignedData")


def test_mutated_requests_never_raise_anything_else(server, pkcs_req):
    # Never an uncaught exception: a CertRep or MalformedMessage for any bytes.
    rng = random.Random(8894)
    answered = malformed = 0
    for _ in range(300):
        data = bytearray(pkcs_req)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        try:
            result = server.handle("PKIOperation", body=bytes(data))
        except MalformedMessage:
            malformed += 1
        else:
            assert result.status == 200 and result.pki_status is not None
            answered += 1
    assert answered and malformed
