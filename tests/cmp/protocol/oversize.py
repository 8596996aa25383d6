"""Oversize messages that cost CPU before their sender is authenticated, and their cost.

The three shapes a fuzzing run found expensive before the limits of
:mod:`cmp.protocol.asn1`: a header with 520,000 empty freeText strings (1 MiB),
one with 170,000 generalInfo items, and 1,250 extraCerts.  The tests assert how
they are refused; the CPU they cost is measured with::

    python -m tests.cmp.protocol.oversize
"""

from __future__ import annotations

import sys
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cmp.protocol import CMPServer, MalformedMessage, asn1

from .backend import LocalCA, MemoryBackend
from .client import Client


def with_header_field(der: bytes, tag: int, value: bytes) -> bytes:
    """``der`` with the header field [tag] set to ``value`` (its content), in tag order.

    The protection is left as it was: these messages are refused before it is checked.
    """
    _, start, end = asn1._read_tlv(der, 0)
    parts = asn1._children(der, start, end)
    header = parts[0]
    fields = asn1._children(der, header.content, header.end)
    content = b""
    placed = False
    for index, item in enumerate(fields):
        if not placed and index >= 3 and item.tag >= tag:
            content += asn1.tlv(tag, value)
            placed = True
            if item.tag == tag:
                continue
        content += der[item.start : item.end]
    if not placed:
        content += asn1.tlv(tag, value)
    rest = b"".join(der[p.start : p.end] for p in parts[1:])
    return asn1.tlv(0x30, asn1.tlv(0x30, content) + rest)


def with_extra_certs(der: bytes, certificates: list[bytes]) -> bytes:
    """``der`` with extraCerts [1] replaced by ``certificates`` (DER)."""
    _, start, end = asn1._read_tlv(der, 0)
    kept = b"".join(der[p.start : p.end] for p in asn1._children(der, start, end) if p.tag != 0xA1)
    return asn1.tlv(0x30, kept + asn1.tlv(0xA1, asn1.sequence_of(certificates)))


def free_text_flood(request: bytes, count: int = 520_000) -> bytes:
    """freeText [7] with ``count`` empty UTF8Strings (1 MiB for the default)."""
    return with_header_field(request, 0xA7, asn1.tlv(0x30, b"\x0c\x00" * count))


def general_info_flood(request: bytes, count: int = 170_000) -> bytes:
    """generalInfo [8] with ``count`` InfoTypeAndValue { 1.2 } items."""
    return with_header_field(request, 0xA8, asn1.tlv(0x30, b"\x30\x03\x06\x01\x2a" * count))


def extra_certs_flood(request: bytes, certificate: bytes, count: int = 1_250) -> bytes:
    return with_extra_certs(request, [certificate] * count)


def cpu_ms(server: CMPServer, der: bytes, repeat: int = 20) -> tuple[float, str]:
    """Mean CPU time of ``server.handle(der)`` in ms, and what it answered."""
    outcome = ""
    started = time.process_time()
    for _ in range(repeat):
        try:
            result = server.handle(der)
        except MalformedMessage:
            outcome = "MalformedMessage"
            continue
        outcome = result.error.failure.name if result.error else result.body_type
    return (time.process_time() - started) / repeat * 1000, outcome


def main() -> int:
    ca = LocalCA.create()
    backend = MemoryBackend(ca)
    backend.add_enrollment("fgt100f", "fortinet1")
    server = CMPServer(backend)
    key = ec.generate_private_key(ec.SECP256R1())
    # A known senderKID with a wrong password: everything here is unauthenticated.
    request = Client(wrong_mac=True).ir(key)
    certificate = ca.root.public_bytes(serialization.Encoding.DER)
    stranger = LocalCA.create()
    shapes = [
        ("520,000 empty freeText strings", free_text_flood(request)),
        ("170,000 generalInfo items", general_info_flood(request)),
        ("1,250 extraCerts", extra_certs_flood(request, certificate)),
        ("64 KiB: 32,000 freeText strings", free_text_flood(request, 32_000)),
        ("an ir with a wrong MAC (500 iterations)", request),
        ("an ir from an unknown senderKID", Client(sender_kid=b"nobody").ir(key)),
        (
            "a cr signed by an untrusted certificate",
            Client().signed(stranger.root_key, stranger.root).ir(key, body_type="cr"),
        ),
    ]
    for name, der in shapes:
        ms, outcome = cpu_ms(server, der)
        print(f"{name:42s} {len(der):8d} bytes {ms:8.2f} ms CPU  -> {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
