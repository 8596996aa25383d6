"""Recorded CMP and SCEP exchanges as a classic libpcap file, for Wireshark.

Each trace becomes one synthesized TCP connection over Ethernet/IPv4 to port
80: the three-way handshake, the HTTP request (a CMP POST with the request
DER; a SCEP GET, or POST with the pkiMessage), the response with its body
(segmented at 1400 bytes), and the FIN exchange. Wireshark's HTTP dissector
decodes it, and hands ``application/pkixcmp`` bodies to its CMP dissector.

File format: https://wiki.wireshark.org/Development/LibpcapFileFormat
(magic a1b2c3d4, version 2.4, LINKTYPE_ETHERNET = 1).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
SNAPLEN = 65535
MSS = 1400
SERVER_IP = "127.0.0.1"
SERVER_PORT = 80
DEFAULT_CLIENT_IP = "127.0.0.1"
FALLBACK_CLIENT_IP = "192.0.2.1"  # RFC 5737 TEST-NET-1, for IPv6 or unknown clients
CMP_PATH = "/app/cert/cmp2"
_CLIENT_MAC = bytes.fromhex("020000000001")
_SERVER_MAC = bytes.fromhex("020000000002")

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass(frozen=True)
class Exchange:
    """One request/response pair to write."""

    when: dt.datetime
    client_ip: str | None
    request: bytes
    response: bytes
    http_status: int = 200
    client_port: int = 40000
    host: str = "localhost"
    method: str = "POST"
    target: str = CMP_PATH
    request_content_type: str = "application/pkixcmp"
    #: None: application/pkixcmp for a body, text/plain without one.
    response_content_type: str | None = None


def global_header() -> bytes:
    return struct.pack("<IHHiIII", MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def client_address(source_ip: str | None) -> str:
    if not source_ip:
        return DEFAULT_CLIENT_IP
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return FALLBACK_CLIENT_IP
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        return str(mapped) if mapped else FALLBACK_CLIENT_IP
    return str(address)


def ipv4_tcp_frame(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
    ident: int = 0,
) -> bytes:
    src_b = ipaddress.IPv4Address(src).packed
    dst_b = ipaddress.IPv4Address(dst).packed
    tcp_header = struct.pack(
        "!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0
    )
    pseudo = struct.pack("!4s4sBBH", src_b, dst_b, 0, 6, len(tcp_header) + len(payload))
    tcp_sum = checksum(pseudo + tcp_header + payload)
    tcp = tcp_header[:16] + struct.pack("!H", tcp_sum) + tcp_header[18:] + payload
    total = 20 + len(tcp)
    ip_header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, total, ident & 0xFFFF, 0x4000, 64, 6, 0, src_b, dst_b
    )
    ip_header = ip_header[:10] + struct.pack("!H", checksum(ip_header)) + ip_header[12:]
    # Ethernet: destination MAC, then source MAC.
    from_client = dport == SERVER_PORT
    macs = _SERVER_MAC + _CLIENT_MAC if from_client else _CLIENT_MAC + _SERVER_MAC
    return macs + b"\x08\x00" + ip_header + tcp


def record(when: dt.datetime, frame: bytes) -> bytes:
    seconds = int(when.timestamp())
    return struct.pack("<IIII", seconds, when.microsecond, len(frame), len(frame)) + frame


def http_request(exchange: Exchange) -> bytes:
    if exchange.method == "GET":
        head = (
            f"GET {exchange.target} HTTP/1.1\r\nHost: {exchange.host}\r\nConnection: close\r\n\r\n"
        )
        return head.encode("ascii")
    head = (
        f"{exchange.method} {exchange.target} HTTP/1.1\r\n"
        f"Host: {exchange.host}\r\n"
        f"Content-Type: {exchange.request_content_type}\r\n"
        f"Content-Length: {len(exchange.request)}\r\n"
        "Connection: close\r\n"
        "\r\n"
    )
    return head.encode("ascii") + exchange.request


_REASONS = {
    200: "OK",
    400: "Bad Request",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def http_response(exchange: Exchange) -> bytes:
    status = exchange.http_status or 200
    reason = _REASONS.get(status, "Unknown")
    content_type = exchange.response_content_type or (
        "application/pkixcmp" if exchange.response else "text/plain"
    )
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(exchange.response)}\r\n"
        "Connection: close\r\n"
        "\r\n"
    )
    return head.encode("ascii") + exchange.response


def exchange_packets(exchange: Exchange) -> Iterator[bytes]:
    """The pcap records of one synthesized TCP connection."""
    client = client_address(exchange.client_ip)
    server = SERVER_IP
    cport, sport = exchange.client_port, SERVER_PORT
    clock = exchange.when
    ident = [0]

    def step() -> dt.datetime:
        nonlocal clock
        clock += dt.timedelta(microseconds=100)
        return clock

    def c2s(seq: int, ack: int, flags: int, payload: bytes = b"") -> bytes:
        ident[0] += 1
        return record(
            step(), ipv4_tcp_frame(client, server, cport, sport, seq, ack, flags, payload, ident[0])
        )

    def s2c(seq: int, ack: int, flags: int, payload: bytes = b"") -> bytes:
        ident[0] += 1
        return record(
            step(), ipv4_tcp_frame(server, client, sport, cport, seq, ack, flags, payload, ident[0])
        )

    c_isn, s_isn = 1000, 5000
    yield c2s(c_isn, 0, SYN)
    yield s2c(s_isn, c_isn + 1, SYN | ACK)
    cseq, sseq = c_isn + 1, s_isn + 1
    yield c2s(cseq, sseq, ACK)
    request = http_request(exchange)
    for start in range(0, len(request), MSS):
        chunk = request[start : start + MSS]
        last = start + MSS >= len(request)
        yield c2s(cseq, sseq, ACK | (PSH if last else 0), chunk)
        cseq += len(chunk)
    yield s2c(sseq, cseq, ACK)
    response = http_response(exchange)
    for start in range(0, len(response), MSS):
        chunk = response[start : start + MSS]
        last = start + MSS >= len(response)
        yield s2c(sseq, cseq, ACK | (PSH if last else 0), chunk)
        sseq += len(chunk)
    yield c2s(cseq, sseq, ACK)
    # The server closes (Connection: close), the client answers.
    yield s2c(sseq, cseq, FIN | ACK)
    sseq += 1
    yield c2s(cseq, sseq, FIN | ACK)
    cseq += 1
    yield s2c(sseq, cseq, ACK)


def pcap_stream(exchanges: Iterable[Exchange]) -> Iterator[bytes]:
    """The file, piece by piece (for a streamed download)."""
    yield global_header()
    for exchange in exchanges:
        yield b"".join(exchange_packets(exchange))


def pcap_bytes(exchanges: Iterable[Exchange]) -> bytes:
    return b"".join(pcap_stream(exchanges))
