"""The SCEP endpoint: GET and POST on ``/app/cert/scep`` and the other SCEP paths (RFC 8894, 4.1).

One thin view. It checks the method and the size, hands the query and the
body to the sans-IO server (scep.protocol) with a database-backed backend,
and is the single place where failures become responses: a request that can
be answered gets a CertRep (FAILURE with its failInfo where it is refused), a
message that cannot be answered at all gets a plain 400, and anything
unexpected is logged with its traceback and answered with a plain 503, never
with a 500 page.
"""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives import serialization
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from certauth import events
from certauth import x509 as x509util
from scep import services
from scep.backend import DatabaseBackend
from scep.debug import describe_csr
from scep.protocol import MalformedMessage, MessageType, PKIStatus, SCEPResult, SCEPServer
from scep.protocol import decode as wire_decode

log = logging.getLogger(__name__)

# The headers FortiAuthenticator sends with its responses.
RESPONSE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cache-Control": "no-store",
}


def _response(body: bytes, status: int, content_type: str) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type=content_type)
    for name, value in RESPONSE_HEADERS.items():
        response[name] = value
    return response


def _plain(text: str, status: int) -> HttpResponse:
    return _response(text.encode() + b"\n", status, "text/plain; charset=utf-8")


def _message_name(value: int | None) -> str:
    if value is None:
        return ""
    try:
        return MessageType(value).name
    except ValueError:
        return str(value)


@csrf_exempt
def scep_endpoint(request: HttpRequest) -> HttpResponse:
    # RFC 8894, 4.1: operations are sent with GET, PKIOperation also with POST.
    if request.method not in ("GET", "POST"):
        response = _plain("SCEP requests are sent with GET or POST.", 405)
        response["Allow"] = "GET, POST"
        return response
    operation = request.GET.get("operation")
    message = request.GET.get("message")
    body: bytes | None = None
    if request.method == "POST":
        limit = services.MAX_BODY
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _plain("Invalid Content-Length.", 400)
        if declared > limit:
            return _plain(f"SCEP message larger than {limit} bytes.", 413)
        body = request.read(limit + 1)
        if len(body) > limit:
            return _plain(f"SCEP message larger than {limit} bytes.", 413)

    source_ip = request.META.get("REMOTE_ADDR") or None
    trace = _Trace(request, operation, message, body, source_ip)
    try:
        cfg = services.config()
        if not cfg.enabled:
            trace.record(status=503, error="SCEP is disabled")
            return _plain("The SCEP service is disabled.", 503)
        backend = DatabaseBackend(cfg, source_ip=source_ip)
        result = SCEPServer(backend).handle(operation, message=message, body=body)
    except MalformedMessage as exc:
        # No CertRep can be addressed: nothing is stored, a plain 400.
        trace.record(status=400, error=exc.text, lines=exc.trace)
        return _plain(f"Malformed SCEP message: {exc.text}", 400)
    except services.NoCA as exc:
        trace.record(status=503, error=str(exc))
        return _plain(str(exc), 503)
    except Exception:  # noqa: BLE001 - the one place that turns anything else into a 503
        log.exception("SCEP %s from %s failed unexpectedly", operation, source_ip)
        trace.record(status=503, error="internal error")
        return _plain("The SCEP request could not be processed; see the server log.", 503)

    if result.pki_status == PKIStatus.FAILURE:
        _log_failure(result, backend, source_ip)
    trace.record(result=result)
    return _response(result.body, result.status, result.content_type)


def _log_failure(result: SCEPResult, backend: DatabaseBackend, source_ip: str | None) -> None:
    """SCEP_REQUEST_FAILED with the reason in the engine's own words (never a password)."""
    refusal = backend.refusal
    text = refusal.message if refusal is not None else (result.fail_text or "")
    if result.csr is not None:
        sender = x509util.format_name(result.csr.subject)
    elif result.signer_certificate is not None:
        sender = x509util.format_name(result.signer_certificate.subject)
    else:
        sender = ""
    reference = backend.enrollment.reference if backend.enrollment is not None else ""
    failure = result.fail_info.name if result.fail_info is not None else "failure"
    try:
        events.log(
            events.SCEP_REQUEST_FAILED,
            events.Actor(user=reference, source_ip=source_ip),
            operation=_message_name(result.message_type) or result.operation,
            sender=sender,
            text=text,
            failure=failure,
        )
    except Exception:  # noqa: BLE001 - the log line never breaks the answer
        log.exception("Could not log a SCEP failure")


class _Trace:
    """Debug > Others > SCEP/CMP: the exchange, recorded while debug mode is on."""

    def __init__(
        self,
        request: HttpRequest,
        operation: str | None,
        message: str | None,
        body: bytes | None,
        source_ip: str | None,
    ) -> None:
        self.method = request.method or ""
        self.path = request.path[:64]
        self.operation = (operation or "")[:32]
        self.message = message
        self.body = body
        self.source_ip = source_ip

    def _request_der(self) -> bytes:
        if self.body is not None:
            return self.body
        if self.operation == "PKIOperation" and self.message:
            try:
                return wire_decode.message_from_query(self.message, services.MAX_MESSAGE_SIZE)
            except MalformedMessage:
                return b""
        return b""

    def record(
        self,
        *,
        result: SCEPResult | None = None,
        status: int = 200,
        error: str = "",
        lines: tuple[str, ...] = (),
    ) -> None:
        try:
            if not services.debug_enabled():
                return
            fields: dict[str, object] = {
                "source_ip": self.source_ip,
                "method": self.method,
                "path": self.path,
                "operation": self.operation,
                "http_status": status,
                "error": error,
                "lines": "\n".join(lines),
                "request_der": self._request_der(),
            }
            if result is not None:
                fields.update(_result_fields(result))
            services.record_trace(**fields)
        except Exception:  # noqa: BLE001 - a trace must never break the exchange
            log.exception("Could not record a SCEP debug trace")


def _result_fields(result: SCEPResult) -> dict[str, object]:
    fields: dict[str, object] = {
        "operation": result.operation,
        "http_status": result.status,
        "content_type": result.content_type[:64],
        "lines": "\n".join(result.trace),
        "response_der": result.body if result.operation == "PKIOperation" else b"",
    }
    if result.operation in ("GetCACert", "GetNextCACert") and result.status == 200:
        fields["response_der"] = result.body
    if result.message_type is not None:
        fields["message_type"] = f"{_message_name(result.message_type)} ({result.message_type})"
    fields["transaction_id"] = result.transaction_id or ""
    fields["sender_nonce"] = result.sender_nonce.hex() if result.sender_nonce else ""
    fields["recipient_nonce"] = result.recipient_nonce.hex() if result.recipient_nonce else ""
    fields["response_nonce"] = result.response_nonce.hex() if result.response_nonce else ""
    fields["pki_status"] = result.pki_status.name if result.pki_status is not None else ""
    if result.fail_info is not None:
        fields["fail_info"] = f"{result.fail_info.name} ({int(result.fail_info)})"
    fields["fail_text"] = result.fail_text or ""
    if result.csr is not None:
        fields["csr_text"] = describe_csr(result.csr)
    if result.certificate is not None:
        issued = result.certificate
        fields["lines"] = str(fields["lines"]) + (
            "\nissued certificate:\n"
            + issued.public_bytes(serialization.Encoding.PEM).decode().strip()
        )
    return fields
