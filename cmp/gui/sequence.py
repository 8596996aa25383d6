"""The sequence diagram of one transaction on the debug pages, as server-side SVG.

Two lifelines, the client and the CA, and one arrow per message in the order
they were recorded: ``ir → ip → certConf → pkiConf`` for CMP, ``PKCSReq →
CertRep PENDING → CertPoll → CertRep SUCCESS`` for SCEP. A message that
failed (an error or a rejection answered, a SCEP FAILURE, an HTTP error, the
client's own error message) is drawn in red with its failInfo under it. The
recorded traces give everything: the bodies are not read (the list page
defers them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

#: RFC 9810, 5.1.2: the answer to each request body, when the trace does not say.
CMP_ANSWERS = {
    "ir": "ip",
    "cr": "cp",
    "p10cr": "cp",
    "kur": "kup",
    "ccr": "ccp",
    "certConf": "pkiConf",
    "rr": "rp",
    "genm": "genp",
    "pollReq": "pollRep",
    "error": "pkiConf",
}
_SENT = re.compile(r"^CMP response sent: ([^\s,]+)( \(rejection\))?", re.MULTILINE)

WIDTH = 640
LEFT = 90
RIGHT = WIDTH - 90
ROW = 46
TOP = 44


@dataclass
class Message:
    """One arrow: *label* from the client (``to_server``) or from the CA."""

    label: str
    to_server: bool
    failed: bool = False
    detail: str = ""
    href: str = ""
    when: str = ""


def _failure(error: str) -> str:
    """The failInfo of a trace's error (``badPOP: text`` -> ``badPOP``), with the text."""
    return error.strip()


def cmp_messages(traces: Iterable) -> list[Message]:
    """The messages of CMP traces (oldest first), request and answer each."""
    messages: list[Message] = []
    for trace in traces:
        href = reverse("cmp_trace", args=[trace.pk])
        when = f"{trace.created:%H:%M:%S}" if trace.created else ""
        body = trace.body_type or "?"
        messages.append(Message(body, True, failed=body == "error", href=href, when=when))
        sent = _SENT.search(trace.lines or "")
        response_size = getattr(trace, "response_size", None)
        if sent:
            label = sent.group(1) + (" (rejection)" if sent.group(2) else "")
        elif response_size == 0 or trace.http_status >= 400:
            label = f"HTTP {trace.http_status}"
        else:
            label = "error" if trace.error else CMP_ANSWERS.get(body, "?")
        failed = bool(trace.error) or trace.http_status >= 400 or label.startswith("error")
        messages.append(
            Message(label, False, failed=failed, detail=_failure(trace.error), href=href)
        )
    return messages


def scep_messages(traces: Iterable) -> list[Message]:
    """The messages of SCEP traces (oldest first)."""
    messages: list[Message] = []
    for trace in traces:
        href = reverse("scep_trace", args=[trace.pk])
        when = f"{trace.created:%H:%M:%S}" if trace.created else ""
        message_type = (trace.message_type or "").split(" (")[0]
        operation = trace.operation or "?"
        request = message_type if operation == "PKIOperation" and message_type else operation
        messages.append(Message(f"{trace.method} {request}", True, href=href, when=when))
        if operation == "PKIOperation":
            label = f"CertRep {trace.pki_status}".strip()
        elif trace.http_status >= 400:
            label = f"HTTP {trace.http_status}"
        else:
            label = {"GetCACaps": "capabilities", "GetCACert": "CA certificates"}.get(
                operation, "reply"
            )
        failed = (
            trace.pki_status == "FAILURE"
            or bool(trace.fail_info)
            or bool(trace.error)
            or trace.http_status >= 400
        )
        detail = " ".join(
            part for part in (trace.fail_info, trace.fail_text or trace.error) if part
        )
        messages.append(Message(label, False, failed=failed, detail=detail, href=href))
    return messages


def _clip(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def svg(messages: list[Message], client: str = "Client", server: str = "CA") -> SafeString:
    """The diagram; every text escaped. Failed arrows have the class ``failed``."""
    height = TOP + ROW * len(messages) + 16
    out = [
        f'<svg class="sequence" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}"'
        f' width="{WIDTH}" height="{height}" role="img" aria-label="Sequence of the transaction">',
        "<defs>"
        '<marker id="seq-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#4a5a6a"/></marker>'
        '<marker id="seq-arrow-failed" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#c62828"/></marker></defs>',
    ]
    for x, name in ((LEFT, client), (RIGHT, server)):
        out.append(
            f'<text class="lifeline-name" x="{x}" y="18" text-anchor="middle" '
            f'font-size="13" font-weight="600">{escape(_clip(name, 30))}</text>'
            f'<line x1="{x}" y1="26" x2="{x}" y2="{height - 6}" stroke="#9aa8b5" '
            'stroke-dasharray="4 3"/>'
        )
    for index, message in enumerate(messages):
        y = TOP + ROW * index + 20
        start, end = (LEFT, RIGHT) if message.to_server else (RIGHT, LEFT)
        colour = "#c62828" if message.failed else "#4a5a6a"
        marker = "seq-arrow-failed" if message.failed else "seq-arrow"
        css = "step failed" if message.failed else "step"
        direction = "request" if message.to_server else "response"
        label = escape(_clip(message.label, 40))
        weight = ' font-weight="600"' if message.failed else ""
        title = escape(message.label + (f": {message.detail}" if message.detail else ""))
        group = [
            f'<g class="{css} {direction}" data-label="{escape(message.label)}">'
            f"<title>{title}</title>",
            f'<line x1="{start}" y1="{y}" x2="{end}" y2="{y}" stroke="{colour}" '
            f'stroke-width="{2 if message.failed else 1.4}" marker-end="url(#{marker})"/>',
            f'<text x="{WIDTH // 2}" y="{y - 6}" text-anchor="middle" font-size="13" '
            f'fill="{colour}"{weight}>{label}</text>',
        ]
        if message.detail:
            group.append(
                f'<text class="fail-info" x="{WIDTH // 2}" y="{y + 15}" text-anchor="middle" '
                f'font-size="11.5" fill="#c62828">{escape(_clip(message.detail))}</text>'
            )
        if message.when:
            group.append(
                f'<text x="6" y="{y + 4}" font-size="11" fill="#6b7885">{message.when}</text>'
            )
        group.append("</g>")
        body = "".join(group)
        if message.href:
            body = f'<a href="{escape(message.href)}">{body}</a>'
        out.append(body)
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped


def first_failure(messages: list[Message]) -> Message | None:
    return next((message for message in messages if message.failed), None)
