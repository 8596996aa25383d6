"""The SCEP server: operation and message in, HTTP status, content type and body out.

:class:`SCEPServer` answers one HTTP request at a time, without I/O and
without a framework, and keeps no state between requests; every decision (may
this device have this certificate? what happened to this transaction?) is a
question to the :class:`Backend`, which the adapter implements on the
enrollment engine.

Usage (the adapter is a view that passes the query and the body here)::

    server = SCEPServer(backend)
    try:
        result = server.handle(
            request.GET.get("operation"),
            message=request.GET.get("message"),
            body=request.body if request.method == "POST" else None,
        )
    except MalformedMessage:
        return HttpResponseBadRequest()
    return HttpResponse(result.body, status=result.status, content_type=result.content_type)

Operations (RFC 8894, 4): GetCACaps, GetCACert, GetNextCACert and
PKIOperation (POST body, or GET ``message`` in base64).  PKIOperation message
types (RFC 8894, 3.3): PKCSReq, RenewalReq, CertPoll, GetCert and GetCRL, each
answered with a CertRep signed by the backend's :class:`ResponseSigner`.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from . import decode, encode, envelope, protection
from .envelope import ContentCipher, RecipientKey
from .errors import (
    FAIL_INFO,
    REASON_TEXT,
    BadAlg,
    BadMessageCheck,
    BadRequest,
    FailInfo,
    MalformedMessage,
    RejectReason,
    SCEPError,
)
from .messages import (
    PARSE_ERRORS,
    MessageType,
    PKIMessage,
    PKIStatus,
    message_type_name,
    new_nonce,
)
from .protection import AlgorithmPolicy, ResponseSigner

__all__ = [
    "Backend",
    "CACertificates",
    "CRLQuery",
    "CertificateQuery",
    "EnrollmentRequest",
    "Issued",
    "Pending",
    "PollRequest",
    "Rejected",
    "SCEPConfig",
    "SCEPResult",
    "SCEPServer",
    "capabilities",
]

log = logging.getLogger(__name__)

CONTENT_TYPE_PKI_MESSAGE = "application/x-pki-message"  # RFC 8894, 4.3
CONTENT_TYPE_NEXT_CA_CERT = "application/x-x509-next-ca-cert"  # RFC 8894, 4.7.1
CONTENT_TYPE_TEXT = "text/plain"


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SCEPConfig:
    """What the CA offers over SCEP (from the backend, read on every request).

    ``legacy_algorithms`` admits SHA-1 and 3DES and announces them ("SHA-1",
    "DES3"); ``single_des`` additionally admits DES-CBC (announced by no
    capability; needed by Debian's ``scepclient`` 2.1.0, which always sends
    SHA-1 with DES-CBC).  ``renewal`` announces and accepts RenewalReq.
    ``max_message_size`` and ``max_certificates`` bound the work done before
    the sender is authenticated.  ``max_clock_skew``, when set, refuses a
    request whose signingTime is further from the server's clock (badTime).
    """

    legacy_algorithms: bool = False
    single_des: bool = False
    renewal: bool = True
    max_message_size: int = 64 * 1024
    max_certificates: int = 10
    max_clock_skew: datetime.timedelta | None = None

    @property
    def policy(self) -> AlgorithmPolicy:
        return AlgorithmPolicy(legacy=self.legacy_algorithms, single_des=self.single_des)


def capabilities(config: SCEPConfig, *, next_ca: bool) -> tuple[str, ...]:
    """The GetCACaps keywords for ``config`` (RFC 8894, 3.5.2)."""
    caps = ["POSTPKIOperation", "SHA-256", "SHA-512", "AES"]
    if config.renewal:
        caps.append("Renewal")
    if config.legacy_algorithms:
        caps += ["SHA-1", "DES3"]
    if next_ca:
        caps.append("GetNextCACert")
    # "SCEPStandard" implies AES, POSTPKIOperation and SHA-256 (RFC 8894, 3.5.2).
    caps.append("SCEPStandard")
    return tuple(caps)


@dataclass(frozen=True)
class CACertificates:
    """The certificates GetCACert returns (RFC 8894, 4.2.1).

    ``ca`` issues the certificates.  ``ra`` are RA certificates, which
    requests are encrypted to and replies signed with when the CA's own key
    cannot do it (an ECDSA CA cannot decrypt RSA key transport; RFC 8894,
    2.1.2 and 3.2.2).  ``chain`` holds the CA's issuers, up to the root.
    """

    ca: x509.Certificate
    ra: tuple[x509.Certificate, ...] = ()
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def certificates(self) -> tuple[x509.Certificate, ...]:
        out = [self.ca]
        out += [c for c in (*self.ra, *self.chain) if c not in out]
        return tuple(out)


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class EnrollmentRequest:
    """A PKCSReq or RenewalReq that passed every protocol check (RFC 8894, 3.3.1).

    The outer signature verified with ``signer_certificate`` (self-signed, or
    a certificate from this or another CA; for RenewalReq never self-signed),
    the pkcsPKIEnvelope decrypted, and the CSR's own signature verified.
    ``challenge_password`` is the CSR's challengePassword (None: absent).
    ``subject``, ``subject_alt_names``, ``public_key`` and ``extensions`` are
    read from the CSR.
    """

    message_type: MessageType
    transaction_id: str
    sender_nonce: bytes
    csr: x509.CertificateSigningRequest
    challenge_password: str | None = field(repr=False)
    subject: x509.Name
    subject_alt_names: tuple[x509.GeneralName, ...]
    public_key: CertificatePublicKeyTypes
    extensions: x509.Extensions
    signer_certificate: x509.Certificate
    signer_self_signed: bool

    @property
    def renewal(self) -> bool:
        return self.message_type == MessageType.RenewalReq


@dataclass(frozen=True)
class PollRequest:
    """A CertPoll (GetCertInitial), RFC 8894, 3.3.3: the state of a PENDING request."""

    transaction_id: str
    sender_nonce: bytes
    issuer: x509.Name
    subject: x509.Name
    signer_certificate: x509.Certificate


@dataclass(frozen=True)
class CertificateQuery:
    """A GetCert, RFC 8894, 3.3.4: the certificate with this issuer and serial number."""

    transaction_id: str
    issuer: x509.Name
    serial_number: int
    signer_certificate: x509.Certificate


@dataclass(frozen=True)
class CRLQuery:
    """A GetCRL, RFC 8894, 3.3.4: the CRL covering the certificate with this issuer and serial."""

    transaction_id: str
    issuer: x509.Name
    serial_number: int
    signer_certificate: x509.Certificate


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Issued:
    """A certificate for the client: pkiStatus SUCCESS (RFC 8894, 3.3.2.1).

    ``chain`` (the issuing CA first) is sent after the certificate in the
    degenerate PKCS#7.  ``resent`` tells the trace that this is the
    certificate issued earlier in the same transaction (RFC 8894, 3.2.1.1).
    """

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()
    resent: bool = False


@dataclass(frozen=True)
class Pending:
    """The request waits for an operator: pkiStatus PENDING (RFC 8894, 3.3.2.3)."""

    reason: str | None = None


@dataclass(frozen=True)
class Rejected:
    """The request is refused: pkiStatus FAILURE with the failInfo of ``reason``.

    ``text`` goes into failInfoText; without it the reason's default text is sent.
    """

    reason: RejectReason
    text: str | None = None

    @property
    def fail_info(self) -> FailInfo:
        return FAIL_INFO[self.reason]

    @property
    def message(self) -> str:
        return self.text or REASON_TEXT[self.reason]


class Backend(Protocol):
    """What the server needs from the certificate authority.

    Decisions are returned, never raised: :class:`Rejected` with a
    :class:`~scep.protocol.errors.RejectReason` (the server maps it to the
    failInfo through :data:`~scep.protocol.errors.FAIL_INFO`).  An exception
    raised by ``enroll``, ``poll``, ``get_cert`` or ``get_crl`` is logged and
    answered with FAILURE badRequest; one raised by the other methods
    propagates (no CertRep can be made without the signer).  The server keeps
    no state: the CertPoll of a PENDING PKCSReq may reach another process.
    """

    def config(self) -> SCEPConfig:
        """The SCEP settings of this CA (capabilities, legacy algorithms, limits)."""
        ...

    def ca_certificates(self, ca_identifier: str | None) -> CACertificates:
        """The CA (and RA) certificates for GetCACert (RFC 8894, 4.2).

        ``ca_identifier`` is the GetCACert ``message`` value, which clients fill
        with anything (or nothing); a backend serving one CA ignores it.
        """
        ...

    def next_ca_certificates(self, ca_identifier: str | None) -> CACertificates | None:
        """The rollover CA (and RA) certificates for GetNextCACert, None when there is none.

        RFC 8894, 4.7: announced as "GetNextCACert" only while this is not None.
        """
        ...

    def recipient_keys(self) -> tuple[RecipientKey, ...]:
        """The keys requests are encrypted to: the RA's, or the CA's if it is RSA.

        During a rollover, the current key first and then the next one.
        """
        ...

    def response_signer(self) -> ResponseSigner:
        """The RA (or RSA/ECDSA CA) that signs CertRep and GetNextCACert replies."""
        ...

    def enroll(self, request: EnrollmentRequest) -> Issued | Pending | Rejected:
        """Decide a PKCSReq or RenewalReq, and remember the transaction.

        RFC 8894, 3.2.1.1: the transactionID is kept for every message of an
        operation, so look ``request.transaction_id`` up first.  A request
        that repeats one already answered (same transactionID and CSR public
        key; clients resend after a timeout or while PENDING, with the same
        transactionID) gets the same answer: ``Issued`` with the certificate
        issued then (``resent=True``), or ``Pending`` while it waits; never a
        second certificate.  The same transactionID with another key is
        ``Rejected(TRANSACTION_ID_IN_USE)``.  A new PKCSReq is checked with
        ``challenge_password`` (``BAD_CHALLENGE``) or the signer certificate
        (a device certificate from another CA, RFC 8894, 2.3).  A RenewalReq
        must be signed by a valid certificate this CA issued
        (``RENEWAL_NOT_ALLOWED`` otherwise); a renewal that reuses the key
        (and so, with many clients, the transactionID of the enrolment) is a
        new transaction when its signer is the certificate issued in it.
        Return ``Pending`` to hold the request for an operator, after storing it.
        """
        ...

    def poll(self, request: PollRequest) -> Issued | Pending | Rejected:
        """The state of the transaction a CertPoll asks about (RFC 8894, 3.3.3).

        ``Rejected(UNKNOWN_TRANSACTION)`` when no request with this
        transactionID (from this subject) exists; ``Rejected(REJECTED_BY_OPERATOR)``
        when it was refused.
        """
        ...

    def get_cert(self, request: CertificateQuery) -> Issued | Rejected:
        """The certificate named by issuer and serial number (RFC 8894, 3.3.4).

        ``Rejected(UNKNOWN_CERTIFICATE)`` when there is none, or when the
        requester may not have it.
        """
        ...

    def get_crl(self, request: CRLQuery) -> x509.CertificateRevocationList | Rejected:
        """The current CRL of the issuer (RFC 8894, 3.3.4); ``Rejected(NO_CRL)`` if none."""
        ...


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class SCEPResult:
    """The outcome of :meth:`SCEPServer.handle`: an HTTP response and what it said.

    ``status``, ``content_type`` and ``body`` make the HTTP response.  For a
    PKIOperation the decoded fields describe the request and the CertRep sent:
    ``sender_nonce`` is the request's, ``recipient_nonce`` the reply's (equal,
    RFC 8894, 3.2.1.5) and ``response_nonce`` the reply's fresh senderNonce.
    ``trace`` holds human-readable lines for a debug log; it never contains a
    secret or a key.
    """

    status: int
    content_type: str
    body: bytes
    operation: str
    message_type: int | None = None
    transaction_id: str | None = None
    sender_nonce: bytes | None = None
    recipient_nonce: bytes | None = None
    response_nonce: bytes | None = None
    pki_status: PKIStatus | None = None
    fail_info: FailInfo | None = None
    fail_text: str | None = None
    csr: x509.CertificateSigningRequest | None = None
    certificate: x509.Certificate | None = None
    signer_certificate: x509.Certificate | None = None
    trace: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Call:
    operation: str
    message: str | None
    body: bytes | None
    config: SCEPConfig
    trace: list[str]


@dataclass
class _Exchange:
    """Per-PKIOperation working state (never kept past :meth:`SCEPServer.handle`)."""

    request: PKIMessage
    config: SCEPConfig
    trace: list[str]
    cipher: ContentCipher | None = None
    csr: x509.CertificateSigningRequest | None = None
    certificate: x509.Certificate | None = None


@dataclass(frozen=True)
class _Reply:
    status: PKIStatus
    envelope: bytes | None = None
    fail_info: FailInfo | None = None
    fail_text: str | None = None


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _name(name: x509.Name) -> str:
    try:
        return name.rfc4514_string() or "(empty)"
    except PARSE_ERRORS:
        return "(unreadable name)"


def _spki(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


T = TypeVar("T")


class SCEPServer:
    """Sans-IO SCEP server, RFC 8894.

    ``clock`` returns the current aware datetime (signingTime of replies, the
    badTime check); ``nonce`` returns a fresh senderNonce.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        clock: Callable[[], datetime.datetime] = _utcnow,
        nonce: Callable[[], bytes] = new_nonce,
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.nonce = nonce

    # ------------------------------------------------------------------ entry point

    #: RFC 8894, 4: the operations, by the ``operation`` query value.
    OPERATIONS: dict[str, str] = {
        "GetCACaps": "_get_ca_caps",
        "GetCACert": "_get_ca_cert",
        "GetNextCACert": "_get_next_ca_cert",
        "PKIOperation": "_pki_operation",
    }
    #: RFC 8894, 3.3: the PKIOperation message types, by messageType.
    MESSAGE_TYPES: dict[MessageType, str] = {
        MessageType.PKCSReq: "_pkcs_req",
        MessageType.RenewalReq: "_renewal_req",
        MessageType.CertPoll: "_cert_poll",
        MessageType.GetCert: "_get_cert",
        MessageType.GetCRL: "_get_crl",
    }

    def handle(
        self, operation: str | None, *, message: str | None = None, body: bytes | None = None
    ) -> SCEPResult:
        """Answer one HTTP request.

        ``operation`` and ``message`` are the query parameters (decoded once by
        the web framework); ``body`` is the POST body (None for GET).  Raises
        :class:`MalformedMessage` for a PKIOperation that cannot be answered
        with a CertRep (answer HTTP 400).
        """
        name = self._operation_name(operation or "")
        config = self.backend.config()
        trace = [f"SCEP {name or repr(operation)} ({'POST' if body is not None else 'GET'})"]
        if name is None:
            trace.append("unknown operation")
            return SCEPResult(
                status=400,
                content_type=CONTENT_TYPE_TEXT,
                body=b"Unknown or missing SCEP operation.\n",
                operation=operation or "",
                trace=tuple(trace),
            )
        handler = getattr(self, self.OPERATIONS[name])
        call = _Call(name, message, body, config, trace)
        try:
            result: SCEPResult = handler(call)
        except MalformedMessage as exc:
            trace.append(f"malformed request: {exc.text}")
            log.info("SCEP %s: malformed request: %s", name, exc.text)
            raise MalformedMessage(exc.text, tuple(trace)) from None
        return result

    def _operation_name(self, operation: str) -> str | None:
        if operation in self.OPERATIONS:
            return operation
        # Leniency: some clients do not keep the case of the operation names.
        for known in self.OPERATIONS:
            if known.lower() == operation.lower():
                return known
        return None

    # ------------------------------------------------------------------ GetCACaps / GetCACert

    def _get_ca_caps(self, call: _Call) -> SCEPResult:
        # RFC 8894, 3.5.2: one keyword per line, text/plain.
        next_ca = self.backend.next_ca_certificates(call.message) is not None
        caps = capabilities(call.config, next_ca=next_ca)
        call.trace.append("capabilities: " + ", ".join(caps))
        return SCEPResult(
            status=200,
            content_type=CONTENT_TYPE_TEXT,
            body="".join(f"{c}\n" for c in caps).encode("ascii"),
            operation=call.operation,
            trace=tuple(call.trace),
        )

    def _get_ca_cert(self, call: _Call) -> SCEPResult:
        certs = self.backend.ca_certificates(call.message).certificates
        body, content_type = encode.ca_certificates(certs)
        call.trace.append(
            f"{len(certs)} certificate(s) as {content_type}: "
            + "; ".join(_name(c.subject) for c in certs)
        )
        return SCEPResult(
            status=200,
            content_type=content_type,
            body=body,
            operation=call.operation,
            trace=tuple(call.trace),
        )

    def _get_next_ca_cert(self, call: _Call) -> SCEPResult:
        # RFC 8894, 4.7.1: the next CA (and RA) certificates in a degenerate
        # PKCS#7, inside a SignedData signed with the current CA or RA key.
        upcoming = self.backend.next_ca_certificates(call.message)
        if upcoming is None:
            call.trace.append("no rollover certificate")
            return SCEPResult(
                status=404,
                content_type=CONTENT_TYPE_TEXT,
                body=b"No next CA certificate.\n",
                operation=call.operation,
                trace=tuple(call.trace),
            )
        certs = upcoming.certificates
        body = encode.signed(
            encode.degenerate(certs),
            [],
            self.backend.response_signer(),
            protection.reply_digest(None, call.config.policy),
            self.clock(),
        )
        call.trace.append("next CA: " + "; ".join(_name(c.subject) for c in certs))
        return SCEPResult(
            status=200,
            content_type=CONTENT_TYPE_NEXT_CA_CERT,
            body=body,
            operation=call.operation,
            trace=tuple(call.trace),
        )

    # ------------------------------------------------------------------ PKIOperation

    def _pki_operation(self, call: _Call) -> SCEPResult:
        config = call.config
        if call.body is not None:
            der = call.body
        elif call.message:
            # RFC 8894, 4.1: with GET the message is base64 in the query.
            der = decode.message_from_query(call.message, config.max_message_size)
        else:
            raise MalformedMessage("PKIOperation without a message.")
        if not der:
            raise MalformedMessage("PKIOperation without a message.")
        if len(der) > config.max_message_size:
            raise MalformedMessage(f"The message is larger than {config.max_message_size} bytes.")
        trace = call.trace
        trace.append(f"pkiMessage received: {len(der)} bytes")
        try:
            request = decode.read_pki_message(der, max_certificates=config.max_certificates)
            signer = request.signer_certificate
            signer_text = f"{_name(signer.subject)} (serial {signer.serial_number:x}" + (
                ", self-signed)" if request.self_signed else ")"
            )
        except PARSE_ERRORS as exc:
            # cryptography's lazy parsing of a certificate the reader let through
            raise MalformedMessage(f"The SignedData cannot be read: {str(exc)[:200]}") from None
        trace.append(f"messageType: {message_type_name(request.message_type)}")
        trace.append(f"transactionID: {request.transaction_id}")
        trace.append(f"senderNonce: {request.sender_nonce.hex()}")
        trace.append(f"signer: {signer_text}")
        trace.append(
            "digest: "
            + protection.algorithm_name(request.digest_algorithm.oid)
            + ", signature: "
            + protection.algorithm_name(request.signature_algorithm.oid)
        )
        exchange = _Exchange(request=request, config=config, trace=trace)
        try:
            reply = self._process(exchange)
        except SCEPError as exc:
            trace.append(f"failure: {exc.fail_info.name}: {exc.text}")
            reply = _Reply(PKIStatus.FAILURE, fail_info=exc.fail_info, fail_text=exc.text)
        return self._cert_rep(call, exchange, reply)

    def _process(self, exchange: _Exchange) -> _Reply:
        request = exchange.request
        protection.verify_signer_info(
            request.signer_info,
            request.signer_certificate,
            request.content,
            exchange.config.policy,
            now=self.clock(),
            max_clock_skew=exchange.config.max_clock_skew,
        )
        exchange.trace.append("signature verified")
        if request.message_type is None:
            raise BadRequest("The messageType attribute is missing or not a number.")
        message_type = next((t for t in self.MESSAGE_TYPES if t == request.message_type), None)
        if message_type is None:
            # RFC 8894, 3.2.1.2: undefined message types are treated as an error.
            raise BadRequest(f"messageType {request.message_type} is not supported.")
        handler = getattr(self, self.MESSAGE_TYPES[message_type])
        try:
            reply: _Reply = handler(exchange)
        except PARSE_ERRORS as exc:
            # A cryptography or parsing error the checks above did not foresee.
            log.warning("SCEP %s: unexpected error", message_type.name, exc_info=True)
            raise BadRequest(f"The request cannot be processed: {str(exc)[:200]}") from None
        return reply

    def _require_rsa_signer(self, exchange: _Exchange) -> None:
        # RFC 8894, 3.3.2.1: the reply is encrypted to the signer certificate,
        # with RSA key transport (3.2.2).
        if not isinstance(exchange.request.signer_certificate.public_key(), rsa.RSAPublicKey):
            raise BadAlg(
                "The reply cannot be encrypted to a signer certificate without an RSA key."
            )

    def _open_envelope(self, exchange: _Exchange) -> bytes:
        request = exchange.request
        if request.content is None:
            raise BadRequest("The pkiMessage has no pkcsPKIEnvelope.")
        decrypted = envelope.decrypt(
            request.content, tuple(self.backend.recipient_keys()), exchange.config.policy
        )
        exchange.cipher = decrypted.cipher
        exchange.trace.append(
            f"pkcsPKIEnvelope: {decrypted.cipher.name}, {decrypted.key_transport}, "
            f"to {_name(decrypted.recipient.subject)}"
        )
        return decrypted.content

    def _ask(self, exchange: _Exchange, method: Callable[[T], object], request: T) -> object:
        """Call a backend decision; an exception becomes FAILURE badRequest."""
        try:
            return method(request)
        except SCEPError:
            raise
        except Exception:
            log.exception(
                "SCEP backend %s failed (transactionID %s)",
                getattr(method, "__name__", "call"),
                exchange.request.transaction_id,
            )
            exchange.trace.append("backend error")
            raise BadRequest(REASON_TEXT[RejectReason.SYSTEM_FAILURE]) from None

    # ------------------------------------------------------------------ message types

    def _pkcs_req(self, exchange: _Exchange) -> _Reply:
        return self._enroll(exchange, MessageType.PKCSReq)

    def _renewal_req(self, exchange: _Exchange) -> _Reply:
        if not exchange.config.renewal:
            # RFC 8894, 3.5.2: RenewalReq only from a CA announcing "Renewal".
            raise BadRequest("Renewal is not supported by this CA.")
        if exchange.request.self_signed:
            # RFC 8894, 3.3.1: a RenewalReq is signed with the certificate being renewed.
            raise BadRequest("A RenewalReq must be signed with the current certificate.")
        return self._enroll(exchange, MessageType.RenewalReq)

    def _enroll(self, exchange: _Exchange, message_type: MessageType) -> _Reply:
        request = exchange.request
        self._require_rsa_signer(exchange)
        csr = decode.read_csr(self._open_envelope(exchange))
        exchange.csr = csr
        # The key first: verifying the signature parses it, and a malformed key
        # is the request's fault (badRequest), an unknown type badAlg.
        try:
            public_key = csr.public_key()
        except UnsupportedAlgorithm:
            raise BadAlg("The CSR's public key type is not supported.") from None
        except PARSE_ERRORS:
            raise BadRequest("The CSR's public key cannot be read.") from None
        try:
            signature_ok = csr.is_signature_valid
        except UnsupportedAlgorithm:
            raise BadAlg("The CSR's signature algorithm is not supported.") from None
        except PARSE_ERRORS:
            signature_ok = False
        if not signature_ok:
            # RFC 2986, 3: the CSR's signature is the proof of possession of its key.
            raise BadMessageCheck("The CSR signature does not verify.")
        try:
            extensions = csr.extensions
        except PARSE_ERRORS as exc:
            raise BadRequest(f"The CSR's extensions cannot be read: {exc}") from None
        password = decode.challenge_password(csr)
        if request.self_signed and _spki(request.signer_certificate.public_key()) != _spki(
            public_key
        ):
            # RFC 8894, 2.3: without a certificate, the client signs with a
            # self-signed certificate for the key it asks a certificate for.
            raise BadRequest("The self-signed signer certificate is not for the CSR's key.")
        try:
            sans = tuple(extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        except x509.ExtensionNotFound:
            sans = ()
        exchange.trace.append(f"CSR subject: {_name(csr.subject)}")
        if sans:
            exchange.trace.append("CSR subjectAltName: " + ", ".join(str(n.value) for n in sans))
        exchange.trace.append(
            "challengePassword: "
            + ("absent" if password is None else f"present ({len(password)} characters)")
        )
        enrollment = EnrollmentRequest(
            message_type=message_type,
            transaction_id=request.transaction_id,
            sender_nonce=request.sender_nonce,
            csr=csr,
            challenge_password=password,
            subject=csr.subject,
            subject_alt_names=sans,
            public_key=public_key,
            extensions=extensions,
            signer_certificate=request.signer_certificate,
            signer_self_signed=request.self_signed,
        )
        outcome = self._ask(exchange, self.backend.enroll, enrollment)
        return self._outcome(exchange, outcome, "enroll")

    def _cert_poll(self, exchange: _Exchange) -> _Reply:
        self._require_rsa_signer(exchange)
        content = decode.read_issuer_and_subject(self._open_envelope(exchange))
        exchange.trace.append(
            f"CertPoll: issuer {_name(content.issuer)}, subject {_name(content.subject)}"
        )
        poll = PollRequest(
            transaction_id=exchange.request.transaction_id,
            sender_nonce=exchange.request.sender_nonce,
            issuer=content.issuer,
            subject=content.subject,
            signer_certificate=exchange.request.signer_certificate,
        )
        return self._outcome(exchange, self._ask(exchange, self.backend.poll, poll), "poll")

    def _get_cert(self, exchange: _Exchange) -> _Reply:
        self._require_rsa_signer(exchange)
        content = decode.read_issuer_and_serial(self._open_envelope(exchange))
        exchange.trace.append(
            f"GetCert: issuer {_name(content.issuer)}, serial {content.serial_number:x}"
        )
        query = CertificateQuery(
            transaction_id=exchange.request.transaction_id,
            issuer=content.issuer,
            serial_number=content.serial_number,
            signer_certificate=exchange.request.signer_certificate,
        )
        outcome = self._ask(exchange, self.backend.get_cert, query)
        if isinstance(outcome, Pending):
            outcome = None  # not an answer to GetCert
        return self._outcome(exchange, outcome, "get_cert")

    def _get_crl(self, exchange: _Exchange) -> _Reply:
        self._require_rsa_signer(exchange)
        content = decode.read_issuer_and_serial(self._open_envelope(exchange))
        exchange.trace.append(
            f"GetCRL: issuer {_name(content.issuer)}, serial {content.serial_number:x}"
        )
        query = CRLQuery(
            transaction_id=exchange.request.transaction_id,
            issuer=content.issuer,
            serial_number=content.serial_number,
            signer_certificate=exchange.request.signer_certificate,
        )
        outcome = self._ask(exchange, self.backend.get_crl, query)
        if isinstance(outcome, x509.CertificateRevocationList):
            # RFC 8894, 3.3.4 / 4.6.1: the CRL in a degenerate PKCS#7, enveloped.
            exchange.trace.append(f"CRL of {_name(outcome.issuer)}")
            return self._success(exchange, encode.degenerate(crls=(outcome,)))
        return self._outcome(exchange, outcome, "get_crl")

    def _outcome(self, exchange: _Exchange, outcome: object, method: str) -> _Reply:
        if isinstance(outcome, Issued):
            exchange.certificate = outcome.certificate
            exchange.trace.append(
                (
                    "certificate already issued in this transaction: "
                    if outcome.resent
                    else "issued: "
                )
                + f"{_name(outcome.certificate.subject)}, serial {outcome.certificate.serial_number:x}"
            )
            # RFC 8894, 3.3.2.1: the issued certificate (first) in a degenerate PKCS#7.
            return self._success(exchange, encode.degenerate((outcome.certificate, *outcome.chain)))
        if isinstance(outcome, Pending):
            exchange.trace.append("pending" + (f": {outcome.reason}" if outcome.reason else ""))
            return _Reply(PKIStatus.PENDING)
        if isinstance(outcome, Rejected):
            exchange.trace.append(f"rejected: {outcome.reason.value}: {outcome.message}")
            return _Reply(PKIStatus.FAILURE, fail_info=outcome.fail_info, fail_text=outcome.message)
        log.error("SCEP backend %s returned %r", method, type(outcome).__name__)
        raise BadRequest(REASON_TEXT[RejectReason.SYSTEM_FAILURE])

    def _success(self, exchange: _Exchange, content: bytes) -> _Reply:
        # RFC 8894, 3.3.2.1: encrypted to the requester's signer certificate,
        # with the content cipher its request used.
        cipher = exchange.cipher or envelope.AES256_CBC
        sealed = envelope.encrypt(content, exchange.request.signer_certificate, cipher)
        return _Reply(PKIStatus.SUCCESS, envelope=sealed)

    # ------------------------------------------------------------------ CertRep

    def _cert_rep(self, call: _Call, exchange: _Exchange, reply: _Reply) -> SCEPResult:
        request = exchange.request
        signer = self.backend.response_signer()
        digest_oid = protection.reply_digest(request.digest_algorithm.oid, exchange.config.policy)
        response_nonce = self.nonce()
        body = encode.cert_rep(
            transaction_id_der=request.transaction_id_der,
            recipient_nonce=request.sender_nonce,
            sender_nonce=response_nonce,
            status=reply.status,
            fail_info=reply.fail_info,
            fail_text=reply.fail_text,
            envelope=reply.envelope,
            signer=signer,
            digest_oid=digest_oid,
            now=self.clock(),
        )
        outcome = reply.status.name + (f" {reply.fail_info.name}" if reply.fail_info else "")
        call.trace.append(
            f"CertRep sent: {outcome}, {protection.algorithm_name(digest_oid)}, "
            f"signed by {_name(signer.certificate.subject)}, {len(body)} bytes"
        )
        log.info(
            "SCEP %s transactionID=%s: %s",
            message_type_name(request.message_type),
            request.transaction_id,
            outcome,
        )
        return SCEPResult(
            status=200,
            content_type=CONTENT_TYPE_PKI_MESSAGE,
            body=body,
            operation=call.operation,
            message_type=request.message_type,
            transaction_id=request.transaction_id,
            sender_nonce=request.sender_nonce,
            recipient_nonce=request.sender_nonce,
            response_nonce=response_nonce,
            pki_status=reply.status,
            fail_info=reply.fail_info,
            fail_text=reply.fail_text,
            csr=exchange.csr,
            certificate=exchange.certificate,
            signer_certificate=request.signer_certificate,
            trace=tuple(call.trace),
        )
