"""The CMP endpoint: ``POST /app/cert/cmp2`` (RFC 9811, HTTP transfer for CMP).

One thin view. It checks method, content type and size, hands the bytes to
the sans-IO server (cmp.protocol) with a database-backed backend, and is the
single place where failures become responses: a CMP failure is answered with
a CMP error message (HTTP 200: OpenSSL discards the body of any other
status), anything unexpected is logged with its traceback and answered with
``systemFailure``, never with a 500 page.
"""

from __future__ import annotations

import contextlib
import logging

from cryptography import x509
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from certauth import diagnostics, events, throttle
from certauth.models import Enrollment
from certauth.x509 import format_name
from cmp import services
from cmp.backend import DatabaseBackend, ca_signer, default_sender, server_for
from cmp.protocol import errors, kid_text, messages

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/pkixcmp"
# The headers FortiAuthenticator sends with its CMP responses.
RESPONSE_HEADERS = {
    "X-XSS-Protection": "1; mode=block",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "fullscreen=(self)",
}


def _response(body: bytes, status: int = 200, content_type: str = CONTENT_TYPE) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type=content_type)
    for name, value in RESPONSE_HEADERS.items():
        response[name] = value
    response["Cache-Control"] = "no-store"
    return response


def _plain(text: str, status: int) -> HttpResponse:
    return _response(text.encode() + b"\n", status, "text/plain; charset=utf-8")


def _source_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _unaddressed_error(
    exc: errors.CMPError, received: messages.Request | None, config, cas=None
) -> bytes:
    """An error outside the protocol server (service disabled, lockout, internal error).

    It echoes the header of the request as the view decoded it (*received*;
    junk: nothing is echoed), and is sent as and signed by the default CA where
    the database still answers, so that the client can verify it and show its
    text; otherwise it goes unprotected.
    """
    header = received.header if received is not None else None
    sender = protector = None
    try:
        sender = default_sender(config, cas)
        protector = ca_signer(sender, cas) if sender is not None else None
    except Exception:  # noqa: BLE001 - e.g. the database is down: unprotected then
        log.exception("No CA to sign a CMP error message")
        sender = protector = None
    return errors.error_response(exc, header, sender=sender, protector=protector)


@csrf_exempt
def cmp_endpoint(request: HttpRequest, profile: str | None = None) -> HttpResponse:
    # RFC 9811, 3.2: CMP messages are sent with HTTP POST only.
    if request.method != "POST":
        response = _plain("CMP requests must be sent with POST.", 405)
        response["Allow"] = "POST"
        return response
    # RFC 9811, 3.4: the media type is application/pkixcmp.
    if request.content_type != CONTENT_TYPE:
        return _plain(f"Content-Type must be {CONTENT_TYPE}.", 415)
    limit = settings.FAC_CMP_MAX_BODY
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _plain("Invalid Content-Length.", 400)
    if declared > limit:
        return _plain(f"CMP message larger than {limit} bytes.", 413)
    body = request.read(limit + 1)
    if len(body) > limit:
        return _plain(f"CMP message larger than {limit} bytes.", 413)
    if not body:
        return _plain("Empty request body: a DER-encoded PKIMessage is expected.", 400)

    source_ip = _source_ip(request)
    received = _decoded(body)
    keys = _throttle_keys(received, source_ip)
    # The settings (read, never changed, here) and the throttle in one statement.
    config, wait, tracked, cas = services.config_and_throttle(keys)
    if not config.enabled:
        return _response(
            _unaddressed_error(
                errors.SystemUnavail("The CMP service is disabled."), received, config, cas
            )
        )
    if wait is not None:
        # Locked out: refused before any MAC is computed, the right password too.
        refused = errors.NotAuthorized(f"Too many failed attempts; try again in {wait} s.")
        return _response(_unaddressed_error(refused, received, config, cas))

    try:
        services.housekeeping(config)
    except Exception:  # noqa: BLE001 - housekeeping never fails a CMP request
        log.exception("CMP housekeeping failed")
    try:
        backend = DatabaseBackend(source_ip=source_ip, profile=profile, request=received, cas=cas)
        result = server_for(backend, config).handle(body, request=received)
    except errors.MalformedMessage as exc:
        _trace(
            config,
            source_ip=source_ip,
            request_der=body,
            status=400,
            error=str(exc),
            lines=[
                f"request received: {len(body)} bytes from {source_ip}",
                f"not a PKIMessage: {exc}",
            ],
        )
        return _plain(f"Not a DER-encoded PKIMessage: {exc}", 400)
    except Exception:  # noqa: BLE001 - the one place that turns anything else into systemFailure
        log.exception("CMP request from %s failed unexpectedly", source_ip)
        failure = errors.SystemFailure("Internal error; see the server log.")
        response_der = _unaddressed_error(failure, received, config)
        _trace(
            config,
            source_ip=source_ip,
            request_der=body,
            response_der=response_der,
            error=failure.text,
            lines=[f"request received: {len(body)} bytes", "internal error"],
        )
        return _response(response_der)

    kid = kid_text(result.sender_kid)
    transaction_hex = result.transaction_id.hex() if result.transaction_id else ""
    if result.error is None:
        _count_attempt(result, keys, tracked, source_ip)
    else:
        client = _Client.of(received, kid, backend)
        # The Logs line and the throttle's count (of a guess) in one transaction:
        # one commit; a line alone is one statement.
        counted = result.error.failure in GUESSING_FAILURES
        with transaction.atomic() if counted else contextlib.nullcontext():
            events.log(
                events.CMP_REQUEST_FAILED,
                events.Actor(user=client.identity, source_ip=source_ip),
                body_type=result.body_type or "request",
                sender=kid,
                text=result.error.text,
                failure=result.error.failure.name,
                # Not in the wording: the Logs page links the line with them.
                reference=client.enrollment.reference if client.enrollment else "",
                transaction_id=transaction_hex,
            )
            if counted:
                _count_attempt(result, keys, tracked, source_ip)
    _explain_pinned_ca(received, kid, result, source_ip, backend)
    _trace(
        config,
        source_ip=source_ip,
        request_der=body,
        response_der=result.body,
        transaction_id=transaction_hex,
        sender_kid=kid,
        body_type=result.body_type or "",
        error=f"{result.error.failure.name}: {result.error.text}" if result.error else "",
        lines=list(result.trace),
    )
    return _response(result.body)


#: Failures that mean a wrong password, an unknown enrollment or an untrusted
#: signature: what guessing produces, and what the throttle counts.
GUESSING_FAILURES = frozenset(
    {errors.FailureInfo.badMessageCheck, errors.FailureInfo.signerNotTrusted}
)


def _decoded(body: bytes) -> messages.Request | None:
    try:
        return messages.decode(body)
    except Exception:  # noqa: BLE001 - not a PKIMessage
        return None


class _Client:
    """Who sent a request, in the Logs page's words: the enrollment ID of a
    password-protected request; for a signed one, the enrollment of the
    certificate that signed it, else its subject's common name (the key ID
    stays in the message)."""

    def __init__(self, identity: str, enrollment: Enrollment | None) -> None:
        self.identity = identity
        self.enrollment = enrollment

    @classmethod
    def of(
        cls, received: messages.Request | None, kid: str, backend: DatabaseBackend | None = None
    ) -> _Client:
        if received is None or received.defect is not None:
            # RFC 9483, 3.6.4: no header field of such a message is trusted, its
            # senderKID names no enrollment (shown as sent, looked up nowhere).
            return cls(kid, None)
        try:
            signer = _protection_certificate(received)
            if signer is not None:
                return cls(
                    diagnostics.signer_identity(signer), diagnostics.signer_enrollment(signer)
                )
            found = backend.enrollment_found(kid) if backend is not None else None
            return cls(kid, found or diagnostics.enrollment_named(kid))
        except Exception:  # noqa: BLE001 - naming the client never fails the exchange
            log.exception("Could not name the CMP client")
            return cls(kid, None)


def _protection_certificate(received: messages.Request | None) -> x509.Certificate | None:
    """The certificate of a signature-protected request (RFC 9483, 3.3: the first
    extraCerts entry, whose key ID is the senderKID), or None."""
    if received is None or not received.extra_certs or received.header.sender_kid is None:
        return None
    first = received.extra_certs[0]
    try:
        key_id = first.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None
    return first if key_id == received.header.sender_kid else None


#: Bodies that open a transaction: the one place a wrong pin is worth a line
#: (certConf, pollReq and the client's error continue what was logged).
_OPENING_BODIES = frozenset({"ir", "cr", "p10cr", "kur", "rr", "genm"})


def _explain_pinned_ca(
    received: messages.Request | None,
    kid: str,
    result,
    source_ip: str | None,
    backend: DatabaseBackend | None = None,
) -> None:
    """RFC 9810, 5.1.1: the recipient is the CA the client expects to answer, the
    certificate it pinned. When that is another local CA of ours than the CA of
    its enrollment, the reply (sent and signed by the enrollment's CA) will be
    refused by the client; say so in the event log. A reply whose sender is the
    recipient costs no query and no decoding."""
    if received is None or result.body_type not in _OPENING_BODIES:
        return
    expected = received.header.recipient
    if expected is None or len(expected) == 0:
        return
    try:
        if result.sender is not None and result.sender == expected:
            return
        client = _Client.of(received, kid, backend)
        wrong = diagnostics.wrong_pin(client.enrollment, expected)
        if wrong is not None:
            events.log(
                events.CMP_WRONG_CA_PINNED,
                events.Actor(user=client.identity, source_ip=source_ip),
                body_type=result.body_type,
                reference=wrong.enrollment.reference,
                expected=format_name(wrong.expected.certificate.subject),
                ca=format_name(wrong.ca.certificate.subject),
                transaction_id=result.transaction_id.hex() if result.transaction_id else "",
            )
    except Exception:  # noqa: BLE001 - an explanation never fails the exchange
        log.exception("Could not check the CA a CMP client pinned")


def _throttle_keys(received: messages.Request | None, source_ip: str | None) -> list[str]:
    """The throttle keys of a request: its source address and the enrollment ID it names
    (the address alone when it is not a PKIMessage)."""
    keys = [f"cmp-ip:{source_ip}"] if source_ip else []
    kid = received.header.sender_kid if received is not None else None
    if kid:
        keys.append(f"cmp-ref:{kid_text(kid)[:128]}")
    return keys


def _count_attempt(result, keys: list[str], tracked: frozenset[str], source_ip: str | None) -> None:
    try:
        if result.error is not None and result.error.failure in GUESSING_FAILURES:
            throttle.record_failure(keys, actor=events.Actor(source_ip=source_ip))
        elif result.error is None:
            # Only where failures were counted: a clean success costs no query.
            forget = [key for key in keys if key.startswith("cmp-ref:") and key in tracked]
            if forget:
                throttle.record_success(forget)
    except Exception:  # noqa: BLE001 - the throttle's bookkeeping never fails the exchange
        log.exception("CMP throttle bookkeeping failed")


def _trace(
    config,
    *,
    source_ip,
    request_der,
    lines,
    response_der=b"",
    status=200,
    error="",
    transaction_id="",
    sender_kid="",
    body_type="",
) -> None:
    """Record the exchange for Debug > Others > SCEP/CMP while debug mode is on."""
    if not config.debug:
        return
    try:
        services.record_trace(
            source_ip=source_ip,
            request_der=request_der,
            response_der=response_der,
            http_status=status,
            error=error[:512],
            transaction_id=transaction_id,
            sender_kid=sender_kid[:256],
            body_type=body_type,
            lines="\n".join(lines),
        )
    except Exception:  # noqa: BLE001 - a trace must never break the exchange
        log.exception("Could not record a CMP debug trace")
