"""CMP > General, Debug > Others > SCEP/CMP, trace downloads, the ASN.1 view and the pcap dump."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from certauth import services
from certauth.models import LogEntry
from cmp import services as cmp_services
from cmp.gui import asn1tree, pcap
from cmp.models import CMPConfig, CMPTrace

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cmp"
IR = (FIXTURES / "ir.der").read_bytes()
CERTCONF = (FIXTURES / "certconf.der").read_bytes()


# --- CMP > General ----------------------------------------------------------------------


def test_general_shows_settings(admin_client, root_ca):
    response = admin_client.get("/cmp/general/")
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("Enable CMP", "Default CA", "Confirm wait time (seconds)", "Debug mode"):
        assert label in html
    assert "gui.root" in html


def test_general_only_offers_usable_local_cas(admin_client, root_ca):
    other = services.create_ca(name="revoked.ca", subject="CN=revoked", key_type="ec")
    services.revoke_ca(other)
    form = admin_client.get("/cmp/general/").context["form"]
    assert list(form.fields["default_ca"].queryset) == [root_ca]


def test_general_save_and_log(admin_client, root_ca):
    response = admin_client.post(
        "/cmp/general/",
        {
            "default_ca": root_ca.pk,
            "confirm_wait": "600",
            "debug": "on",
            "revoke_superseded": "on",
            "revoke_reenrolled": "on",
            "poll_interval": "10",
            "strict_header_checks": "on",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/cmp/general/"
    cfg = CMPConfig.load()
    assert not cfg.enabled and cfg.default_ca == root_ca and cfg.confirm_wait == 600 and cfg.debug
    messages = list(LogEntry.objects.filter(log_type_id=30402).values_list("message", "user"))
    assert (
        "CMP settings changed: enable CMP: on -> off; default CA: none -> gui.root; "
        "confirm wait time (seconds): 300 -> 600",
        "admin",
    ) in messages
    assert ("CMP debug mode enabled", "admin") in messages
    assert "CMP settings saved." in admin_client.get("/cmp/general/").content.decode()


def test_general_unchanged_logs_nothing(admin_client):
    response = admin_client.post(
        "/cmp/general/",
        {
            "enabled": "on",
            "confirm_wait": "300",
            "revoke_superseded": "on",
            "revoke_reenrolled": "on",
            "poll_interval": "10",
            "strict_header_checks": "on",
        },
    )
    assert response.status_code == 302
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("wait", ["0", "-5", "86401", "abc", ""])
def test_general_invalid_wait(admin_client, wait):
    response = admin_client.post("/cmp/general/", {"enabled": "on", "confirm_wait": wait})
    assert response.status_code == 200
    assert "confirm_wait" in response.context["form"].errors
    assert CMPConfig.load().confirm_wait == 300


def test_general_read_only(readonly_client, root_ca):
    response = readonly_client.get("/cmp/general/")
    assert response.status_code == 200
    assert "disabled" in response.content.decode()
    response = readonly_client.post("/cmp/general/", {"confirm_wait": "10"})
    assert response.status_code == 403
    assert CMPConfig.load().enabled


# --- Debug page -------------------------------------------------------------------------


def trace(**fields) -> CMPTrace:
    values = {
        "source_ip": "192.0.2.5",
        "transaction_id": "aa" * 16,
        "sender_kid": "fgt100f",
        "body_type": "ir",
        "lines": "ir from 192.0.2.5\nsenderKID fgt100f",
        "request_der": IR,
        "response_der": CERTCONF,
    }
    values.update(fields)
    return cmp_services.record_trace(**values)


def test_debug_toggle(admin_client):
    response = admin_client.post("/debug/cmp/mode/", {"debug": "on"})
    assert response.status_code == 302 and response["Location"] == "/debug/cmp/"
    assert CMPConfig.load().debug
    html = admin_client.get("/debug/cmp/").content.decode()
    assert "CMP debug mode is on" in html and "Exit debug mode" in html
    admin_client.post("/debug/cmp/mode/", {"debug": "off"})
    assert not CMPConfig.load().debug
    assert "Enter debug mode" in admin_client.get("/debug/cmp/").content.decode()
    assert list(LogEntry.objects.order_by("id").values_list("message", flat=True)) == [
        "CMP debug mode enabled",
        "CMP debug mode disabled",
    ]
    assert admin_client.get("/debug/cmp/mode/").status_code == 405
    admin_client.post("/debug/cmp/mode/", {"debug": "maybe"})
    assert not CMPConfig.load().debug


def test_debug_read_only(readonly_client):
    html = readonly_client.get("/debug/cmp/").content.decode()
    assert "/debug/cmp/mode/" not in html
    assert readonly_client.post("/debug/cmp/mode/", {"debug": "on"}).status_code == 403
    assert not CMPConfig.load().debug


def test_debug_lists_traces_grouped(admin_client):
    first = trace()
    other = trace(transaction_id="bb" * 16, sender_kid="other", body_type="p10cr")
    conf = trace(body_type="certConf", lines="certConf <lines & more>")
    loose = trace(transaction_id="", body_type="", error="badMessageCheck", http_status=400)
    response = admin_client.get("/debug/cmp/")
    html = response.content.decode()
    groups = response.context["groups"]
    assert [g["transaction_id"] for g in groups] == ["", "aa" * 16, "bb" * 16]
    assert [t.pk for t in groups[1]["traces"]] == [first.pk, conf.pk]
    assert groups[0]["traces"][0].pk == loose.pk
    assert other.pk == groups[2]["traces"][0].pk
    assert "certConf &lt;lines &amp; more&gt;" in html
    assert f"/debug/cmp/{first.pk}/request.der" in html
    assert f"/debug/cmp/{first.pk}/response.der" in html
    assert "badMessageCheck" in html
    assert f"({len(IR)} B)" in html


def test_der_downloads(admin_client, readonly_client):
    t = trace()
    for client in (admin_client, readonly_client):
        response = client.get(f"/debug/cmp/{t.pk}/request.der")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pkixcmp"
        assert response.content == IR
        assert f'filename="cmp-{t.pk}-request.der"' in response["Content-Disposition"]
        assert client.get(f"/debug/cmp/{t.pk}/response.der").content == CERTCONF
    empty = trace(response_der=b"")
    assert admin_client.get(f"/debug/cmp/{empty.pk}/response.der").status_code == 404
    assert admin_client.get("/debug/cmp/999999/request.der").status_code == 404


def test_trace_decoded_view(admin_client):
    t = trace()
    response = admin_client.get(f"/debug/cmp/{t.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "PKIMessage" in html and "PKIBody: ir" in html and "PKIBody: certConf" in html
    assert "1.2.840.113533.7.66.13 (passwordBasedMac)" in html
    assert "&#x27;fgt100f.local&#x27;" in html
    assert "2.5.29.17 (subjectAltName)" in html


def test_trace_view_survives_junk(admin_client):
    t = trace(request_der=b"\x30\x82\xff\xff junk", response_der=bytes(range(256)))
    response = admin_client.get(f"/debug/cmp/{t.pk}/")
    assert response.status_code == 200
    assert "undecodable" in response.content.decode()


def test_debug_pages_need_login(client):
    for url in ("/debug/cmp/", "/debug/pcap-dump", "/cmp/general/"):
        assert client.get(url).status_code == 302


# --- ASN.1 tree -------------------------------------------------------------------------


def test_asn1_tree_of_pkimessage():
    text = asn1tree.render_text(asn1tree.decode(IR))
    assert text.startswith("SEQUENCE (len 476)  [PKIMessage]")
    assert "INTEGER (len 1): 2" in text  # pvno
    assert "OBJECT IDENTIFIER (len 9): 1.2.840.113533.7.66.13 (passwordBasedMac)" in text
    assert "INTEGER (len 2): 500" in text  # PBM iteration count
    assert "GeneralizedTime (len 15): " in text and "UTC" in text
    assert "[encapsulates DER]" in text


def test_asn1_tree_of_certificate(root_ca):
    der = root_ca.certificate.public_bytes(serialization.Encoding.DER)
    text = asn1tree.render_text(asn1tree.decode(der))
    assert "2.5.4.3 (commonName)" in text
    assert "UTF8String" in text or "PrintableString" in text
    assert "'GUI Root CA'" in text
    assert "1.2.840.10045.4.3.2 (ecdsa-with-SHA256)" in text
    assert "UTCTime" in text or "GeneralizedTime" in text
    assert "2.5.29.19 (basicConstraints)" in text
    assert "BOOLEAN (len 1): TRUE" in text


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x30",
        b"\x30\x80\x00\x00",
        b"\x1f\xff\xff\xff\xff\xff\x01",
        b"\x06\x01\x80",
        b"\x30\x85\x01\x02\x03\x04\x05",
        b"\x02\x00",
        bytes(range(256)),
        IR[:-7],
        IR + b"\x00",
    ],
)
def test_asn1_tree_never_crashes(junk):
    nodes = asn1tree.decode(junk)
    asn1tree.render_text(nodes)
    if junk and junk != IR + b"\x00":
        assert "undecodable" in asn1tree.render_text(nodes)


def test_asn1_tree_deep_nesting_is_bounded():
    data = b"\x05\x00"
    for _ in range(200):
        data = (
            b"\x30" + bytes([len(data)]) + data
            if len(data) < 128
            else (b"\x30\x82" + len(data).to_bytes(2, "big") + data)
        )
    text = asn1tree.render_text(asn1tree.decode(data))
    assert "nesting too deep" in text


def test_asn1_values():
    assert asn1tree.decode(bytes.fromhex("0203010001"))[0].value == "65537"
    assert asn1tree.decode(bytes.fromhex("0201ff"))[0].value == "-1"
    utc = asn1tree.decode(b"\x17\x0d" + b"240102030405Z")[0].value
    assert utc == "2024-01-02 03:04:05 UTC (240102030405Z)"
    long_octets = asn1tree.decode(b"\x04\x81\xc8" + b"\x11" * 200)[0].value
    assert long_octets.endswith("... (200 bytes)")


# --- pcap -------------------------------------------------------------------------------


def parse_pcap(data: bytes) -> list[tuple[float, bytes]]:
    magic, major, minor, _zone, _sigfigs, snaplen, linktype = struct.unpack("<IHHiIII", data[:24])
    assert (magic, major, minor, linktype) == (0xA1B2C3D4, 2, 4, 1)
    assert snaplen == 65535
    packets, pos = [], 24
    while pos < len(data):
        seconds, micros, incl, orig = struct.unpack("<IIII", data[pos : pos + 16])
        assert incl == orig
        packets.append((seconds + micros / 1e6, data[pos + 16 : pos + 16 + incl]))
        pos += 16 + incl
    assert pos == len(data)
    return packets


def decode_frame(frame: bytes) -> dict:
    assert frame[12:14] == b"\x08\x00"
    ip = frame[14:34]
    assert ip[0] == 0x45 and ip[9] == 6
    assert pcap.checksum(ip) == 0  # a correct header sums to 0xffff
    total = struct.unpack("!H", ip[2:4])[0]
    tcp = frame[34 : 14 + total]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(tcp))
    assert pcap.checksum(pseudo + tcp) == 0
    sport, dport, seq, ack, offset, flags = struct.unpack("!HHIIBB", tcp[:14])
    return {
        "src": str(ipaddress.IPv4Address(ip[12:16])),
        "dst": str(ipaddress.IPv4Address(ip[16:20])),
        "sport": sport,
        "dport": dport,
        "seq": seq,
        "ack": ack,
        "flags": flags,
        "payload": tcp[(offset >> 4) * 4 :],
    }


def test_pcap_structure(admin_client):
    big = IR * 8  # several segments
    t1 = trace()
    t2 = trace(source_ip="2001:db8::1", request_der=big, response_der=big)
    t3 = trace(source_ip=None)
    response = admin_client.get("/debug/pcap-dump")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.tcpdump.pcap"
    assert "attachment" in response["Content-Disposition"]
    packets = [decode_frame(frame) for _, frame in parse_pcap(b"".join(response.streaming_content))]

    first = packets[:10]
    assert [p["flags"] for p in first[:3]] == [pcap.SYN, pcap.SYN | pcap.ACK, pcap.ACK]
    assert first[0]["src"] == "192.0.2.5" and first[0]["dst"] == "127.0.0.1"
    assert first[0]["dport"] == 80 and first[0]["sport"] == 40000 + t1.pk
    request = first[3]["payload"]
    head, body = request.split(b"\r\n\r\n", 1)
    assert head.startswith(b"POST /app/cert/cmp2 HTTP/1.1\r\nHost: ")
    assert b"Content-Type: application/pkixcmp" in head
    assert f"Content-Length: {len(IR)}".encode() in head
    assert body == IR
    reply = first[5]["payload"]
    assert reply.startswith(b"HTTP/1.1 200 OK\r\nContent-Type: application/pkixcmp\r\n")
    assert reply.endswith(CERTCONF)
    assert first[5]["src"] == "127.0.0.1" and first[5]["sport"] == 80
    assert first[-3]["flags"] == pcap.FIN | pcap.ACK and first[-2]["flags"] == pcap.FIN | pcap.ACK
    # Sequence numbers follow the bytes sent.
    assert first[6]["ack"] == first[5]["seq"] + len(reply)

    second = [p for p in packets if p["sport"] == 40000 + t2.pk or p["dport"] == 40000 + t2.pk]
    assert second[0]["src"] == pcap.FALLBACK_CLIENT_IP
    data_segments = [p for p in second if p["payload"] and p["dport"] == 80]
    assert all(len(p["payload"]) <= pcap.MSS for p in data_segments)
    assert len(data_segments) == 3
    assert b"".join(p["payload"] for p in data_segments).endswith(big)
    third = [p for p in packets if p["dport"] == 40000 + t3.pk or p["sport"] == 40000 + t3.pk]
    assert third[0]["src"] == pcap.DEFAULT_CLIENT_IP


def test_client_address():
    assert pcap.client_address("198.51.100.1") == "198.51.100.1"
    assert pcap.client_address("::ffff:198.51.100.1") == "198.51.100.1"
    assert pcap.client_address("2001:db8::1") == "192.0.2.1"
    assert pcap.client_address(None) == "127.0.0.1"


def test_checksum_rfc1071_example():
    # RFC 1071, 3: the example bytes sum to ddf2, so the checksum is 220d.
    assert pcap.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


def test_pcap_streams_cmp_and_scep_in_time_order(admin_client):
    """The dump is a stream (bounded memory): the global header goes out before
    any trace is read, then one exchange at a time, CMP and SCEP merged by time."""
    from scep.models import SCEPTrace

    now = timezone.now()
    cmp_traces = [trace(transaction_id=f"{i:032x}") for i in range(3)]
    for offset, item in zip((30, 10, 20), cmp_traces, strict=True):
        CMPTrace.objects.filter(pk=item.pk).update(created=now - dt.timedelta(seconds=offset))
    scep = SCEPTrace.objects.create(
        method="GET",
        path="/app/cert/scep",
        operation="GetCACaps",
        http_status=200,
        response_der=b"SCEPStandard\n",
        content_type="text/plain",
    )
    SCEPTrace.objects.filter(pk=scep.pk).update(created=now - dt.timedelta(seconds=15))
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/debug/pcap-dump")
        chunks = iter(response.streaming_content)
        assert len(next(chunks)) == 24  # the pcap global header
    assert not [q for q in queries if "trace" in q["sql"].lower()]  # no trace read yet
    ports = []
    for chunk in chunks:
        (_when, frame), *_ = parse_pcap(pcap.global_header() + chunk)
        ports.append(decode_frame(frame)["sport"])
    cmp_port = {item.pk: 40000 + item.pk % 20000 for item in cmp_traces}
    assert ports[0] == cmp_port[cmp_traces[0].pk]  # 30 s ago
    assert ports[1] == cmp_port[cmp_traces[2].pk]  # 20 s ago
    assert ports[2] not in cmp_port.values()  # the SCEP exchange, 15 s ago
    assert ports[3] == cmp_port[cmp_traces[1].pk]  # 10 s ago


def test_empty_pcap(admin_client):
    data = b"".join(admin_client.get("/debug/pcap-dump").streaming_content)
    assert len(data) == 24 and parse_pcap(data) == []


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_pcap_decodes_in_tshark(admin_client, tmp_path):
    trace()
    trace(transaction_id="cc" * 16, request_der=IR * 8, response_der=IR * 8, source_ip="::1")
    path = tmp_path / "dump.pcap"
    path.write_bytes(b"".join(admin_client.get("/debug/pcap-dump").streaming_content))

    def tshark(*args: str) -> str:
        result = subprocess.run(
            ["tshark", "-r", str(path), *args], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    http = tshark(
        "-Y",
        "http",
        "-T",
        "fields",
        "-e",
        "http.request.method",
        "-e",
        "http.content_type",
        "-e",
        "http.response.code",
    )
    rows = [line.split("\t") for line in http.splitlines()]
    assert ["POST", "application/pkixcmp", ""] in rows
    assert ["", "application/pkixcmp", "200"] in rows
    assert len(rows) == 4
    cmp_rows = tshark("-Y", "cmp", "-T", "fields", "-e", "cmp.pvno", "-e", "cmp.body")
    assert len(cmp_rows.splitlines()) == 4
    # Wireshark 4.0 names the protocol "PKIXCMP" in the summary and
    # "Certificate Management Protocol" in the detail view.
    assert "PKIXCMP Body=ir" in tshark("-Y", "cmp")
    assert "Certificate Management Protocol" in tshark("-V", "-Y", "cmp")
    checks = tshark(
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "tcp.check_checksum:TRUE",
        "-T",
        "fields",
        "-e",
        "ip.checksum.status",
        "-e",
        "tcp.checksum.status",
    )
    assert set(checks.split()) == {"1"}  # 1: good
    assert "Malformed" not in tshark()


def test_pcap_times_follow_traces():
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    data = pcap.pcap_bytes(
        [pcap.Exchange(when=when, client_ip="192.0.2.9", request=IR, response=b"")]
    )
    times = [t for t, _ in parse_pcap(data)]
    assert times == sorted(times)
    assert abs(times[0] - when.timestamp()) < 0.01
