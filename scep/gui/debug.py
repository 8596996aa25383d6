"""The SCEP side of the pcap dump of Debug > Others > SCEP/CMP.

The debug page lists the SCEP exchanges beside the CMP ones (cmp.gui.traces,
filtered and paged alike); the pcap dump carries them as HTTP GET or POST on
the SCEP paths.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import quote

from cmp.gui import pcap
from scep.models import SCEPTrace

#: Client ports of the synthesized connections: apart from the CMP ones (40000-59999).
PCAP_PORT_BASE = 60000
PCAP_PORTS = 5000


def _target(trace: SCEPTrace, request: bytes) -> str:
    query = f"operation={quote(trace.operation or '')}"
    if trace.method == "GET" and trace.operation == "PKIOperation" and request:
        query += "&message=" + quote(base64.b64encode(request).decode(), safe="")
    return f"{trace.path or '/app/cert/scep'}?{query}"


def exchanges() -> Iterator[pcap.Exchange]:
    """The recorded SCEP exchanges for the pcap dump, oldest first, a chunk at a time."""
    for trace in SCEPTrace.objects.order_by("created", "id").iterator(chunk_size=50):
        request = bytes(trace.request_der or b"")
        response = bytes(trace.response_der or b"")
        post = trace.method == "POST"
        yield pcap.Exchange(
            when=trace.created,
            client_ip=trace.source_ip,
            request=request if post else b"",
            response=response,
            http_status=trace.http_status,
            client_port=PCAP_PORT_BASE + trace.pk % PCAP_PORTS,
            method="POST" if post else "GET",
            target=_target(trace, request),
            request_content_type="application/x-pki-message",
            response_content_type=trace.content_type or "text/plain",
        )
