"""The SCEP side of Debug > Others > SCEP/CMP and of the pcap dump.

The debug page (cmp.gui.views) shows these groups beside the CMP ones, and the
pcap dump carries these exchanges as HTTP GET or POST on the SCEP paths.
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from urllib.parse import quote

from django.db.models import QuerySet
from django.db.models.functions import Length

from cmp.gui import pcap
from scep.models import SCEPTrace

#: Client ports of the synthesized connections: apart from the CMP ones (40000-59999).
PCAP_PORT_BASE = 60000
PCAP_PORTS = 5000


def trace_rows() -> QuerySet[SCEPTrace]:
    return (
        SCEPTrace.objects.defer("request_der", "response_der", "csr_text")
        .annotate(request_size=Length("request_der"), response_size=Length("response_der"))
        .order_by("-id")
    )


def groups(limit: int) -> tuple[list[dict], int, int]:
    """(groups per transactionID, newest first; traces counted; traces shown)."""
    traces = list(trace_rows()[:limit])
    grouped: OrderedDict[str, list[SCEPTrace]] = OrderedDict()
    for trace in traces:  # newest first
        key = trace.transaction_id or f"#{trace.pk}"
        grouped.setdefault(key, []).append(trace)
    result = [
        {"transaction_id": key if not key.startswith("#") else "", "traces": list(reversed(items))}
        for key, items in grouped.items()
    ]
    return result, SCEPTrace.objects.count(), len(traces)


def _target(trace: SCEPTrace, request: bytes) -> str:
    query = f"operation={quote(trace.operation or '')}"
    if trace.method == "GET" and trace.operation == "PKIOperation" and request:
        query += "&message=" + quote(base64.b64encode(request).decode(), safe="")
    return f"{trace.path or '/app/cert/scep'}?{query}"


def exchanges() -> list[pcap.Exchange]:
    """The recorded SCEP exchanges for the pcap dump, oldest first."""
    out = []
    for trace in SCEPTrace.objects.order_by("id").iterator(chunk_size=100):
        request = bytes(trace.request_der or b"")
        response = bytes(trace.response_der or b"")
        post = trace.method == "POST"
        out.append(
            pcap.Exchange(
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
        )
    return out
