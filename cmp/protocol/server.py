"""The CMP server: bytes in, bytes out, no I/O and no framework.

:class:`CMPServer` answers one request at a time and keeps no state between
requests; everything that must survive from the ip/cp to the certConf (the
issued certificate, the nonce we sent) is handed to the
:class:`~.backend_api.Backend`, which can keep it in a database shared by
several worker processes.

Usage (the adapter is a view that posts the body here)::

    server = CMPServer(backend)
    try:
        result = server.handle(request_body)
    except MalformedMessage:
        return HttpResponseBadRequest()
    return HttpResponse(result.body, content_type="application/pkixcmp")

Served (RFC 9483 profile, MAC- or signature-protected requests): ir/ip, cr/cp,
p10cr/cp, kur/kup, certConf/pkiConf, error/pkiConf, rr/rp, genm/genp,
pollReq/pollRep, and implicit confirmation.  :data:`HANDLERS` maps each
request body type to the method that answers it; any other body is answered
with ``badRequest`` "<body> is not supported.".

A failure of the message itself (its protection, header or encoding) is
answered with an ``error`` message; a refusal of what a certificate or
revocation request asks for is answered in the response body of that
request, an ip/cp/kup or rp with status rejection (RFC 9483, 4.1.1, 4.1.3
and 4.2).

Work before the sender is authenticated is bounded: :func:`.decode.decode`
reads only the frame and the header, within the limits of :mod:`.asn1` (a
message over them is answered with badDataFormat before anything else); the
protection is verified next, then the header is checked (so that an error
about it is protected like a response, RFC 9483, 3.6.4), and only then is the
body decoded and are the extraCerts past the protection certificate parsed.
"""

from __future__ import annotations

import datetime
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPublicKeyTypes,
    PublicKeyTypes,
)

from . import asn1, decode, encode, errors, protection
from .asn1 import OID
from .backend_api import (
    Backend,
    CertificationRequest,
    CertReqTemplate,
    GeneralInfo,
    GeneralRequest,
    Issued,
    KeyUpdateRequest,
    PollRequest,
    Rejected,
    RevocationRequest,
    RootCaKeyUpdate,
    SharedSecret,
    Signer,
    Waiting,
)
from .decode import REASONS
from .errors import (
    AddInfoNotAvailable,
    BadCertId,
    BadCertTemplate,
    BadDataFormat,
    BadMessageCheck,
    BadPOP,
    BadRecipientNonce,
    BadRequest,
    BadSenderNonce,
    BadTime,
    CertConfirmed,
    CMPError,
    FailureInfo,
    NotAuthorized,
    TransactionIdInUse,
    UnsupportedVersion,
    WrongIntegrity,
)
from .structures import (
    RESPONSE_BODY,
    AlgorithmId,
    CertId,
    CertRepBody,
    CertRequest,
    CertStatus,
    CRLStatus,
    GenRepBody,
    PKIConfBody,
    PKIStatus,
    PollRepBody,
    Request,
    RequestHeader,
    ResponseBody,
    RevDetails,
    RevRepBody,
    kid_text,
)

__all__ = ["HANDLERS", "CMPServer", "ServerResult"]

_T = TypeVar("_T")


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class ServerResult:
    """The outcome of :meth:`CMPServer.handle`.

    ``body`` is the DER response to send with Content-Type application/pkixcmp.
    ``error`` is set when the request failed: answered with an error message,
    or refused in its response body (``rejected``: an ip/cp/kup or rp with
    status rejection).  ``trace`` holds human-readable lines for a debug log;
    it never contains a secret or a key.
    """

    body: bytes
    body_type: str
    transaction_id: bytes | None
    sender_kid: bytes | None
    error: CMPError | None
    trace: tuple[str, ...]
    rejected: bool = False
    #: The response's sender (the CA that answers), None for the NULL-DN.
    sender: x509.Name | None = None


@dataclass
class _Exchange:
    """Per-request working state (never kept past :meth:`CMPServer.handle`)."""

    request: Request
    trace: list[str]
    secret: SharedSecret | None = None
    sender: x509.Name | None = None
    protector: protection.Protector | None = None
    mac_verified: bool = False
    #: Set once a signature-protected request verified and the backend trusts its signer.
    signer: Signer | None = None
    #: The response body type, when it is not implied by the request's.
    response_type: str | None = None
    #: The refusal sent in the response body (ip/cp/kup/rp with status rejection).
    rejection: CMPError | None = None


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _kid(sender_kid: bytes | None) -> str:
    return kid_text(sender_kid) or "(none)"


#: The body types that continue a transaction rather than start one.
_CONTINUING = frozenset({"certConf", "pollReq", "error"})

#: Failures of the message itself (RFC 9483, 3.5 and 3.6.4): answered with an
#: error message even when found while the body is read.  Any other refusal of
#: a certificate or revocation request goes into its ip/cp/kup or rp.
_MESSAGE_FAILURES = frozenset(
    {
        FailureInfo.badAlg,
        FailureInfo.badMessageCheck,
        FailureInfo.badTime,
        FailureInfo.badDataFormat,
        FailureInfo.wrongIntegrity,
        FailureInfo.badRecipientNonce,
        FailureInfo.badSenderNonce,
        FailureInfo.signerNotTrusted,
        FailureInfo.transactionIdInUse,
        FailureInfo.unsupportedVersion,
        FailureInfo.systemUnavail,
        FailureInfo.systemFailure,
    }
)


def _name(name: x509.Name | None) -> str:
    return name.rfc4514_string() if name else "(NULL-DN)"


def _extra_certs(
    protector: protection.Protector | None, chain: tuple[x509.Certificate, ...] = ()
) -> tuple[x509.Certificate, ...]:
    """extraCerts of a response: a signer's certificates first (RFC 9483, 3.3), then
    ``chain`` without repeating any."""
    out = (
        list(protector.extra_certs) if isinstance(protector, protection.SignatureProtector) else []
    )
    out += [c for c in chain if c not in out]
    return tuple(out)


def _ski(certificate: x509.Certificate) -> bytes | None:
    try:
        ext = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return ext.value.digest


def _same_key(a: object, b: object) -> bool:
    def spki(key: object) -> bytes | None:
        if not isinstance(key, protection.SigningPublicKey):
            return None
        return key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    return spki(a) is not None and spki(a) == spki(b)


#: Unknown infoTypes of a genm named one by one in the trace; the rest are counted.
_TRACED_UNKNOWN_INFO_TYPES = 8

#: genm infoTypes served (RFC 9483, 4.3; RFC 9810, 5.3.19): request OID -> (kind,
#: response OID).  The kinds of :data:`.backend_api.INFO_KINDS` are asked of the
#: backend; preferredSymmAlg and suppLangTags the server answers itself.
_INFO_TYPES = {
    OID.it_ca_certs: ("caCerts", OID.it_ca_certs),
    OID.it_root_ca_cert: ("rootCaCert", OID.it_root_ca_key_update),
    OID.it_cert_req_template: ("certReqTemplate", OID.it_cert_req_template),
    OID.it_crl_status_list: ("crlStatusList", OID.it_crls),
    OID.it_sign_key_pair_types: ("signKeyPairTypes", OID.it_sign_key_pair_types),
    OID.it_enc_key_pair_types: ("encKeyPairTypes", OID.it_enc_key_pair_types),
    OID.it_current_crl: ("currentCRL", OID.it_current_crl),
    OID.it_ca_prot_enc_cert: ("caProtEncCert", OID.it_ca_prot_enc_cert),
    OID.it_preferred_symm_alg: ("preferredSymmAlg", OID.it_preferred_symm_alg),
    OID.it_supp_lang_tags: ("suppLangTags", OID.it_supp_lang_tags),
    # Leniency: clients predating RFC 9480 (OpenSSL 3.0, "-infotype rootCaKeyUpdate")
    # can only ask with the response's infoType; served as rootCaCert without an old root.
    OID.it_root_ca_key_update: ("rootCaCert", OID.it_root_ca_key_update),
}
#: RFC 9810, 5.3.19 / RFC 9483, 4.3: the infoTypes whose request carries a value
#: (rootCaCert: the old root, optional; crlStatusList and suppLangTags: required).
#: Every other served infoType is asked for without one.
_INFO_VALUE_TAKEN = {"rootCaCert": False, "crlStatusList": True, "suppLangTags": True}
#: RFC 9481, 5: the content-encryption algorithm preferred, were anything
#: encrypted for this CA (nothing is: it generates no keys for clients).
PREFERRED_SYMMETRIC_ALGORITHM = AlgorithmId(OID.aes256_cbc)
#: The language of every statusString and text this server writes (RFC 5646 tag).
LANGUAGE = "en"


class CMPServer:
    """Sans-IO CMP server, RFC 9810 with the RFC 9483 profile.

    ``clock`` returns the current aware datetime; ``max_clock_skew`` bounds the
    difference between a request's messageTime and ``clock()``; ``nonce``
    returns a fresh 16-byte nonce.  ``default_sender`` is the header sender of
    errors sent before any enrollment is known (unknown senderKID, bad header);
    None means the NULL-DN (RFC 9810, 5.1.1).  A client that pins the CA
    certificate (OpenSSL ``-srvcert``) only shows the text of an error whose
    sender is that CA's subject.

    ``strict_header_checks`` applies the header rules of RFC 9483, 3.1 that
    lenient clients might break (messageTime required, senderKID for signature
    protection, a MAC sender as directoryName, well-formed implicitConfirm and
    confirmWaitTime); OpenSSL's client and FortiGates meet them all.
    ``rfc9481_only`` refuses PasswordBasedMac with SHA-1 (OpenSSL's default),
    which RFC 9481 does not list.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        clock: Callable[[], datetime.datetime] = _utcnow,
        max_clock_skew: datetime.timedelta = datetime.timedelta(minutes=5),
        nonce: Callable[[], bytes] = encode.new_nonce,
        default_sender: x509.Name | Callable[[], x509.Name | None] | None = None,
        error_signer: Callable[[x509.Name], protection.Protector | None] | None = None,
        strict_header_checks: bool = True,
        rfc9481_only: bool = False,
    ) -> None:
        self.backend = backend
        # A name, or a callable asked only when an answer needs it: most
        # exchanges learn their sender from the enrollment before any answer.
        self.default_sender = default_sender
        self.error_signer = error_signer
        self.clock = clock
        self.max_clock_skew = max_clock_skew
        self.nonce = nonce
        self.strict_header_checks = strict_header_checks
        self.rfc9481_only = rfc9481_only

    def _settle_sender(self, exchange: _Exchange) -> None:
        """The answer's sender: the one the exchange learnt, else the default sender."""
        if exchange.sender is None:
            default = self.default_sender
            exchange.sender = default() if callable(default) else default

    # ------------------------------------------------------------------ entry point

    def handle(self, der: bytes, *, request: Request | None = None) -> ServerResult:
        """Answer one request; raises MalformedMessage if ``der`` is no PKIMessage.

        ``request`` is ``decode.decode(der)`` when the caller has read it already.
        """
        trace = [f"CMP request received: {len(der)} bytes"]
        protector: protection.Protector | None = None
        if request is None:
            request = decode.decode(der)
        header = request.header
        trace.append(f"PKIBody type: {request.body_type}")
        trace.append(f"pvno: {errors.shown(header.pvno)}")
        trace.append(
            "transactionID: " + (header.transaction_id.hex() if header.transaction_id else "(none)")
        )
        trace.append(f"senderKID: {_kid(header.sender_kid)}")
        trace.append(f"sender: {_name(header.sender)}")
        if header.implicit_confirm:
            trace.append("implicitConfirm requested")
        exchange = _Exchange(request=request, trace=trace)
        error: CMPError | None = None
        try:
            response = self._dispatch(exchange)
        except CMPError as exc:
            error = exc
            trace.append(f"error: {exc.failure.name}: {exc.text}")
            self._settle_sender(exchange)
            if exc is request.defect:
                # A limit exceeded or a header field unreadable: no header is
                # trusted, nothing was authenticated, and no client of ours
                # sends such a message. RFC 9483, 3.6.4 allows an unprotected
                # error where the request's protection cannot be verified;
                # answering so costs no signature.
                protector = None
            else:
                protector = self._error_protector(exchange)
            response = errors.error_response(
                exc,
                header,
                sender=exchange.sender,
                protector=protector,
                extra_certs=_extra_certs(protector),
                clock_now=self.clock(),
                nonce=self.nonce(),
            )
        if error is not None:
            sent = "error"
        else:
            sent = exchange.response_type or self._response_type(request)
            if exchange.rejection is not None:
                sent += " (rejection)"
        line = f"CMP response sent: {sent}, {len(response)} bytes"
        if error is not None and protector is None:
            line += ", unprotected"
        trace.append(line)
        return ServerResult(
            body=response,
            body_type=request.body_type,
            transaction_id=header.transaction_id,
            sender_kid=header.sender_kid,
            error=error or exchange.rejection,
            trace=tuple(trace),
            rejected=error is None and exchange.rejection is not None,
            sender=exchange.sender,
        )

    def _error_protector(self, exchange: _Exchange) -> protection.Protector | None:
        """How to protect an error message.

        RFC 9483, 3.6.4 / RFC 9810, 5.1.3: errors are protected where possible.
        With the client's MAC verified, the error is MAC-protected like any
        response. Otherwise (unknown senderKID, wrong password, no protection)
        a MAC with the stored secret would not help a client holding another
        secret, so the error is signed by the CA named as sender, which a
        client pinning that CA certificate verifies and then shows the text.
        """
        if exchange.protector is not None and (exchange.mac_verified or exchange.signer):
            return exchange.protector
        algorithm = exchange.request.header.protection_alg
        if protection.is_signature(algorithm):
            # RFC 9483, 3.2: a client that signs expects signed responses; errors
            # before its signer is trusted are signed by the CA named as sender.
            if exchange.sender is not None:
                try:
                    signer = self.backend.response_signer(exchange.sender)
                except CMPError:
                    signer = None
                if signer is not None:
                    exchange.trace.append("error signed by the CA")
                    return signer.answering(algorithm)
            return None
        if self.error_signer is not None and exchange.sender is not None:
            try:
                error_signer = self.error_signer(exchange.sender)
            except CMPError:
                error_signer = None
            if error_signer is not None:
                exchange.trace.append("error signed by the CA (the request's MAC was not verified)")
                return error_signer
        # Without a signer: the stored secret still serves a client that holds it.
        return exchange.protector

    @staticmethod
    def _response_type(request: Request) -> str:
        return RESPONSE_BODY.get(request.body_type, "pkiConf")

    def _dispatch(self, exchange: _Exchange) -> bytes:
        if exchange.request.defect is not None:
            # A limit exceeded or a header field unreadable: refused before any lookup.
            raise exchange.request.defect
        self._lookup_secret(exchange)
        handler = HANDLERS.get(exchange.request.body_type)
        # The protection first, then the header: an error about the header then
        # carries the protection of a response (RFC 9483, 3.6.4).
        self._check_protection(exchange, trust_signer=handler is not None)
        self._check_header(exchange)
        if handler is None:
            # RFC 9483, 3.5 / RFC 9810, 5.1: the transaction type is not supported.
            raise BadRequest(f"{exchange.request.body_type} is not supported.")
        return handler(self, exchange)

    def _respond(
        self,
        exchange: _Exchange,
        body: ResponseBody,
        *,
        nonce: bytes | None = None,
        implicit_confirm: bool = False,
        chain: tuple[x509.Certificate, ...] = (),
    ) -> bytes:
        """The response message: header answering the request (RFC 9810, 5.1.1), sent as
        ``exchange.sender``, protected like the request (RFC 9483, 3.2).

        ``nonce`` is the senderNonce when the backend stored it (ip/cp/kup and the
        pollRep that may precede them); ``chain`` goes into extraCerts after a
        signer's own certificates.
        """
        self._settle_sender(exchange)
        header = encode.response_header(
            exchange.request.header,
            sender=exchange.sender,
            clock_now=self.clock(),
            nonce=nonce if nonce is not None else self.nonce(),
            implicit_confirm=implicit_confirm,
        )
        return encode.encode_response(
            header,
            body,
            protector=exchange.protector,
            extra_certs=_extra_certs(exchange.protector, chain),
        )

    def _answer_as(self, exchange: _Exchange, sender: x509.Name) -> None:
        """The response comes from the CA ``sender`` (the one that issued, or holds the
        transaction).  A signed response is then signed by that CA (RFC 9483, 3.2),
        which may differ from the one chosen when the signer was trusted (two
        device enrollments on different CAs trusting one vendor CA)."""
        if sender == exchange.sender:
            return
        exchange.sender = sender
        if exchange.signer is not None and isinstance(
            exchange.protector, protection.SignatureProtector
        ):
            exchange.protector = self.backend.response_signer(sender).answering(
                exchange.request.header.protection_alg
            )
            exchange.trace.append(f"Response signed by {_name(sender)}")

    # ------------------------------------------------------------------ common checks

    def _lookup_secret(self, exchange: _Exchange) -> None:
        """Find the shared secret first, so that even errors can be protected."""
        header = exchange.request.header
        algorithm = header.protection_alg
        if algorithm is None or not protection.is_mac(algorithm):
            return
        if not header.sender_kid:
            # RFC 9483, 3.1: senderKID MUST identify the key used for MAC protection.
            raise BadMessageCheck("senderKID is required with MAC-based protection.")
        exchange.secret = self.backend.mac_secret(header.sender_kid)
        if exchange.secret.sender is not None:
            exchange.sender = exchange.secret.sender
        exchange.trace.append(f"Enrollment found for senderKID {_kid(header.sender_kid)}")
        # Raises BadAlg for parameters we do not accept; the error then goes unprotected.
        exchange.protector = protection.MacProtector.like(
            algorithm, exchange.secret.secret, header.sender_kid, rfc9481_only=self.rfc9481_only
        )

    def _check_header(self, exchange: _Exchange) -> None:
        header = exchange.request.header
        # RFC 9810, 5.1.1 and 7: pvno is cmp2000 (2) or cmp2021 (3).
        if header.pvno not in (2, 3):
            raise UnsupportedVersion(f"pvno {errors.shown(header.pvno)} is not supported.")
        # RFC 9810, 5.1.1: transactionID identifies the transaction; RFC 9483, 3.1: MUST be present.
        if not header.transaction_id:
            if exchange.request.body_type in _CONTINUING:
                # RFC 9483, 3.5: a later message names the transaction it continues.
                raise BadRequest(
                    f"A {exchange.request.body_type} must carry the transactionID of its "
                    "transaction."
                )
            raise BadDataFormat("transactionID is missing.")
        # RFC 9483, 3.1: senderNonce MUST be present and at least 128 bits.
        if header.sender_nonce is None or len(header.sender_nonce) < 16:
            raise BadSenderNonce("senderNonce is missing or shorter than 128 bits.")
        # RFC 9810, 5.1.1: messageTime lets the receiver check the sender's clock.
        if header.message_time is not None:
            skew = abs(self.clock() - header.message_time)
            if skew > self.max_clock_skew:
                raise BadTime(
                    f"messageTime differs from the server time by {int(skew.total_seconds())} s."
                )
        if self.strict_header_checks:
            self._check_header_strictly(exchange)

    def _check_header_strictly(self, exchange: _Exchange) -> None:
        """The header rules of RFC 9483, 3.1 behind ``strict_header_checks``."""
        header = exchange.request.header
        # RFC 9483, 3.1: messageTime is present in the messages of this profile, so
        # that the receiver can check it (3.5: badTime).
        if header.message_time is None:
            raise BadTime("messageTime is missing.")
        # RFC 9483, 3.1: with MAC-based protection the sender is a directoryName
        # (with the name the shared secret was agreed for, or the NULL-DN).
        if protection.is_mac(header.protection_alg) and header.sender is None:
            raise BadMessageCheck("With MAC-based protection the sender must be a directoryName.")
        values: dict[str, list[bytes | None]] = {}
        for oid, value in header.general_info:
            values.setdefault(oid, []).append(value)
        implicit = values.get(OID.implicit_confirm, [])
        # RFC 9810, 5.1.1.1: ImplicitConfirmValue ::= NULL.
        if any(value is not None and not asn1.is_null(value) for value in implicit):
            raise BadRequest("The implicitConfirm value must be NULL.")
        wait = values.get(OID.confirm_wait_time, [])
        for value in wait:
            # RFC 9810, 5.1.1.2: ConfirmWaitTimeValue ::= GeneralizedTime.
            try:
                asn1.generalized_time(value or b"")
            except asn1.Asn1Error:
                raise BadDataFormat(
                    "The confirmWaitTime value must be a GeneralizedTime."
                ) from None
        # RFC 9483, 3.1: confirmWaitTime only where implicitConfirm is not asked for.
        if implicit and wait:
            raise BadRequest("implicitConfirm and confirmWaitTime exclude each other.")

    def _check_protection(self, exchange: _Exchange, *, trust_signer: bool = True) -> None:
        request = exchange.request
        algorithm = request.header.protection_alg
        # RFC 9810, 5.1.3 and RFC 9483, 3.2: requests MUST be protected.
        if algorithm is None or request.protection is None:
            raise BadMessageCheck("Message is not protected.")
        if protection.is_mac(algorithm):
            if exchange.secret is None:
                raise BadMessageCheck("No shared secret is known for this sender.")
            # RFC 9810, 5.1.3.1: MAC over DER(ProtectedPart) with the shared secret.
            if isinstance(exchange.protector, protection.MacProtector):
                # The key derived here protects the answer as well.
                exchange.protector.verify(algorithm, request.protected_part, request.protection)
            else:
                protection.verify_mac(
                    algorithm, exchange.secret.secret, request.protected_part, request.protection
                )
            exchange.mac_verified = True
            exchange.trace.append(f"Protection checked: {protection.describe(algorithm)}: OK")
            return
        if protection.is_signature(algorithm):
            self._check_signature(exchange, algorithm, request.protection, trust=trust_signer)
            return
        raise errors.BadAlg(f"Protection algorithm {algorithm.oid} is not supported.")

    def _check_signature(
        self, exchange: _Exchange, algorithm: AlgorithmId, signature: bytes, *, trust: bool
    ) -> None:
        """Verify a signature-protected request and ask the backend to trust its signer."""
        request = exchange.request
        header = request.header
        # RFC 9483, 3.3: extraCerts[0] is the CMP protection certificate; the others
        # are parsed only once its signature verified.
        certificate = decode.protection_certificate(request)
        # RFC 9483, 3.1: senderKID is the protection certificate's subjectKeyIdentifier.
        ski = _ski(certificate)
        if ski is not None and header.sender_kid is not None and header.sender_kid != ski:
            raise BadMessageCheck(
                "senderKID does not match the protection certificate's subjectKeyIdentifier."
            )
        if self.strict_header_checks and ski is not None and header.sender_kid is None:
            # RFC 9483, 3.1: senderKID MUST identify the protection certificate's key.
            raise BadMessageCheck(
                "senderKID is required: the subjectKeyIdentifier of the protection certificate."
            )
        # RFC 9483, 3.1: sender is the subject of the protection certificate.
        if (
            header.sender is not None
            and len(header.sender)
            and header.sender != certificate.subject
        ):
            raise BadMessageCheck("sender does not match the protection certificate's subject.")
        # RFC 9810, 5.1.3.3: the signature is over DER(ProtectedPart).
        protection.verify_signature_protection(
            algorithm, certificate, request.protected_part, signature
        )
        exchange.trace.append(
            f"Protection checked: {protection.describe_signature(algorithm)} by "
            f"{certificate.subject.rfc4514_string()}, serial {certificate.serial_number:x}: OK"
        )
        if request.body_type == "certConf" and header.transaction_id:
            pending = self.backend.pending_confirmation(header.transaction_id)
            if pending is not None and pending.certificate == certificate:
                exchange.sender = pending.sender
                # RFC 9483, 4.1.1: the certConf is protected as the request was, not
                # with the certificate it confirms (which is not in force yet).
                raise BadRequest("A certConf is not signed with the certificate it confirms.")
        if not trust:
            return
        signer = self.backend.signer(certificate, request.extra_certs, request.body_type)
        exchange.signer = signer
        exchange.sender = signer.sender
        exchange.trace.append(
            "Signer trusted" + (f": {signer.reference}" if signer.reference else "")
        )
        # RFC 9483, 3.2: the response to a signed request is signed by the CA.
        exchange.protector = self.backend.response_signer(signer.sender).answering(algorithm)

    def _check_new_transaction(self, exchange: _Exchange) -> None:
        header = exchange.request.header
        # RFC 9483, 3.1: recipNonce is absent in the first message of a transaction
        # (there is no message of the server to answer yet).
        if header.recip_nonce is not None:
            raise BadRecipientNonce(
                "recipNonce must be absent in the first message of a transaction."
            )
        # RFC 9810, 5.1.1: a new transaction must not reuse a transactionID.
        if self.backend.transaction_in_use(header.transaction_id or b""):
            raise TransactionIdInUse("transactionID is already in use.")

    def _check_public_key(self, public_key: PublicKeyTypes) -> protection.SigningPublicKey:
        """The key of a CertReqMsg: the backend's key policy, then what a POP needs.

        The backend decides which keys are strong enough; the protocol refuses only
        the key types whose POPOSigningKey it cannot verify (RFC 4211, 4.1, with the
        RFC 9481, 3 signature algorithms: RSA, ECDSA, EdDSA).
        """
        self.backend.check_public_key(public_key)
        if not isinstance(public_key, protection.SigningPublicKey):
            raise BadCertTemplate(
                "Only RSA, EC, Ed25519 and Ed448 keys can prove possession by signature "
                "to this server."
            )
        return public_key

    def _answer_content(
        self,
        exchange: _Exchange,
        response_type: str,
        cert_req_id: int,
        work: Callable[[], bytes],
        *,
        message_failures: frozenset[FailureInfo] = _MESSAGE_FAILURES,
    ) -> bytes:
        """Run ``work``; a refusal of the request's content becomes the response body
        with status rejection (RFC 9483, 4.1.1, 4.1.3 and 4.2; RFC 9810, 5.3.4),
        a failure of the message itself stays an error message."""
        try:
            return work()
        except CMPError as exc:
            if exc.failure in message_failures:
                raise
            exchange.rejection = exc
            exchange.response_type = response_type
            exchange.trace.append(f"Request rejected: {exc.failure.name}: {exc.text}")
            body: ResponseBody
            if response_type == "rp":
                body = RevRepBody(PKIStatus.rejection, exc.text, int(exc.failure))
            else:
                body = CertRepBody(
                    body_type=response_type,
                    cert_req_id=cert_req_id,
                    status=PKIStatus.rejection,
                    status_text=exc.text,
                    failure=int(exc.failure),
                )
            return self._respond(exchange, body)

    # ------------------------------------------------------------------ ir / cr / p10cr

    def _certification(self, exchange: _Exchange) -> bytes:
        """ir (RFC 9483, 4.1.1) and cr (4.1.2): one CertReqMsg with a signature POP."""
        self._check_new_transaction(exchange)
        return self._answer_content(
            exchange,
            RESPONSE_BODY[exchange.request.body_type],
            0,
            lambda: self._certification_content(exchange),
        )

    def _certification_content(self, exchange: _Exchange) -> bytes:
        cert_req = self._single_cert_request(exchange)
        # RFC 9483, 4.1.1: the template carries subject and publicKey; the subject
        # may be the NULL-DN when a subjectAltName names the subject (RFC 5280, 4.2.1.6).
        subject = cert_req.subject if cert_req.subject is not None else x509.Name([])
        if len(subject) == 0 and not cert_req.subject_alt_names:
            raise BadCertTemplate("The certificate template has no subject and no subjectAltName.")
        if cert_req.public_key is None:
            raise BadCertTemplate("The certificate template has no public key.")
        public_key = self._check_public_key(cert_req.public_key)
        self._check_pop(exchange, cert_req, public_key)
        return self._issue(
            exchange,
            cert_req_id=0,
            subject=subject,
            public_key=public_key,
            extensions=cert_req.extensions,
            not_before=cert_req.not_before,
            not_after=cert_req.not_after,
            csr=None,
        )

    @staticmethod
    def _single_cert_request(exchange: _Exchange) -> CertRequest:
        requests = decode.cert_requests(exchange.request)
        # RFC 9483, 4.1.1 and 4.1.3: exactly one CertReqMsg, with certReqId 0.
        if len(requests) != 1:
            raise BadRequest("Exactly one CertReqMsg is supported.")
        cert_req = requests[0]
        if cert_req.cert_req_id != 0:
            raise BadRequest(f"certReqId must be 0, not {errors.shown(cert_req.cert_req_id)}.")
        return cert_req

    @staticmethod
    def _check_pop(
        exchange: _Exchange,
        cert_req: CertRequest,
        public_key: protection.SigningPublicKey,
    ) -> None:
        pop = cert_req.pop
        if pop.kind == "raVerified":
            # RFC 9483, 4.1.1: raVerified is for an RA that checked the POP, not for an EE.
            raise NotAuthorized("raVerified proof-of-possession is not accepted.")
        if pop.kind == "none":
            raise BadPOP("Proof-of-possession is missing.")
        if pop.kind != "signature":
            raise BadPOP(f"{pop.kind} proof-of-possession is not supported; sign the certReq.")
        if pop.has_poposk_input:
            # RFC 4211, 4.1: poposkInput is only used when the template lacks subject
            # or publicKey, which this server refuses anyway.
            raise BadPOP("POPOSigningKeyInput is not supported.")
        if pop.algorithm is None or pop.signature is None or pop.signed_data is None:
            raise BadPOP("Proof-of-possession is incomplete.")
        # RFC 9481, 3: an algorithm we do not know is badAlg; one that does not fit
        # the template's key cannot prove possession of it.
        scheme = protection.signature_scheme(pop.algorithm)
        if not _fits(scheme, public_key):
            raise BadPOP(
                f"The proof-of-possession algorithm {scheme.name} does not fit the template's key."
            )
        # RFC 4211, 4.1: the signature is over DER(certReq) with the requested key.
        if not protection.verify_signature(
            public_key, pop.algorithm, pop.signature, pop.signed_data
        ):
            raise BadPOP("Proof-of-possession signature does not verify.")
        exchange.trace.append(f"POP signature algorithm: {scheme.name}")
        exchange.trace.append("POP checked: signature over certReq: OK")

    def _p10cr(self, exchange: _Exchange) -> bytes:
        """p10cr, RFC 9483, 4.1.4: a PKCS#10 request, its signature the POP."""
        self._check_new_transaction(exchange)
        return self._answer_content(exchange, "cp", -1, lambda: self._p10cr_content(exchange))

    def _p10cr_content(self, exchange: _Exchange) -> bytes:
        csr = decode.p10cr(exchange.request)
        try:
            public_key = csr.public_key()
        except UnsupportedAlgorithm as exc:
            raise errors.BadAlg("The key algorithm of the CSR is not supported.") from exc
        except ValueError as exc:
            raise BadCertTemplate("The public key in the CSR cannot be parsed.") from exc
        self.backend.check_public_key(public_key)
        # RFC 2986, 3 / RFC 9483, 4.1.4: the CSR is signed with its own key, so only a
        # signing key can prove possession (not X25519 or X448).
        if not isinstance(
            public_key,
            rsa.RSAPublicKey
            | ec.EllipticCurvePublicKey
            | dsa.DSAPublicKey
            | ed25519.Ed25519PublicKey
            | ed448.Ed448PublicKey,
        ):
            raise BadCertTemplate("The key in the CSR cannot sign, so it cannot prove possession.")
        # RFC 9483, 4.1.4 / RFC 2986, 3: the CSR's signature is the proof-of-possession.
        try:
            valid = csr.is_signature_valid
        except UnsupportedAlgorithm as exc:
            raise errors.BadAlg("The CSR signature algorithm is not supported.") from exc
        if not valid:
            raise BadPOP("The PKCS#10 signature does not verify.")
        exchange.trace.append("POP checked: PKCS#10 signature: OK")
        extensions = csr.extensions
        if len(csr.subject) == 0 and not _subject_alt_names(extensions):
            raise BadCertTemplate("The CSR has no subject and no subjectAltName.")
        return self._issue(
            exchange,
            # RFC 9483, 4.1.4: the CertResponse for a p10cr carries certReqId -1.
            cert_req_id=-1,
            subject=csr.subject,
            public_key=public_key,
            extensions=extensions,
            not_before=None,
            not_after=None,
            csr=csr,
        )

    def _issue(
        self,
        exchange: _Exchange,
        *,
        cert_req_id: int,
        subject: x509.Name,
        public_key: CertificateIssuerPublicKeyTypes,
        extensions: x509.Extensions,
        not_before: datetime.datetime | None,
        not_after: datetime.datetime | None,
        csr: x509.CertificateSigningRequest | None,
    ) -> bytes:
        request = exchange.request
        header = request.header
        response_nonce = self.nonce()
        outcome = self.backend.certify(
            CertificationRequest(
                body_type=request.body_type,
                pvno=header.pvno,
                transaction_id=header.transaction_id or b"",
                sender_kid=header.sender_kid,
                sender=header.sender,
                sender_nonce=header.sender_nonce or b"",
                response_nonce=response_nonce,
                implicit_confirm_requested=header.implicit_confirm,
                cert_req_id=cert_req_id,
                subject=subject,
                public_key=public_key,
                extensions=extensions,
                not_before=not_before,
                not_after=not_after,
                csr=csr,
                signer=exchange.signer,
            )
        )
        return self._cert_response(
            exchange,
            request_body_type=request.body_type,
            cert_req_id=cert_req_id,
            outcome=outcome,
            response_nonce=response_nonce,
        )

    def _cert_response(
        self,
        exchange: _Exchange,
        *,
        request_body_type: str,
        cert_req_id: int,
        outcome: Issued | Waiting | Rejected,
        response_nonce: bytes,
    ) -> bytes:
        """The ip/cp/kup for an issued, waiting or finally rejected request."""
        header = exchange.request.header
        body_type = RESPONSE_BODY[request_body_type]
        exchange.response_type = body_type
        implicit = False
        chain: tuple[x509.Certificate, ...] = ()
        if isinstance(outcome, Issued):
            self._answer_as(exchange, outcome.sender)
            certificate = outcome.certificate
            exchange.trace.append(
                f"Certificate signed: serial {certificate.serial_number:x}, "
                f"subject {certificate.subject.rfc4514_string()}, "
                f"issuer {certificate.issuer.rfc4514_string()}"
            )
            # RFC 9810, 5.1.1.1: grant implicit confirmation only when asked for.
            implicit = header.implicit_confirm and outcome.implicit_confirm_granted
            if implicit:
                exchange.trace.append("implicitConfirm granted")
            status = PKIStatus.accepted
            text = None
            if outcome.modifications:
                # RFC 9810, 5.2.3: grantedWithMods, "you got something like what you
                # asked for"; the statusString says what differs.
                status = PKIStatus.grantedWithMods
                text = "; ".join(outcome.modifications)
                exchange.trace.append(f"Granted with modifications: {text}")
            body = CertRepBody(
                body_type=body_type,
                cert_req_id=cert_req_id,
                status=status,
                certificate=certificate,
                # RFC 9483, 4.1.1: caPubs only in an ip (trust anchors for a new EE).
                ca_pubs=outcome.ca_pubs if body_type == "ip" else (),
                status_text=text,
            )
            # RFC 9483, 4.1.1: extraCerts carry the chain of the new certificate.
            chain = outcome.chain
        elif isinstance(outcome, Waiting):
            exchange.trace.append(
                f"Request waiting for approval: check after {outcome.check_after_seconds} s"
            )
            # RFC 9483, 4.4: PKIStatus waiting, no certificate; the client polls.
            body = CertRepBody(
                body_type=body_type,
                cert_req_id=cert_req_id,
                status=PKIStatus.waiting,
                status_text=outcome.reason,
            )
        else:
            exchange.trace.append(f"Request rejected: {outcome.failure.name}: {outcome.reason}")
            body = CertRepBody(
                body_type=body_type,
                cert_req_id=cert_req_id,
                status=PKIStatus.rejection,
                status_text=outcome.reason,
                failure=int(outcome.failure),
            )
        return self._respond(
            exchange, body, nonce=response_nonce, implicit_confirm=implicit, chain=chain
        )

    # ------------------------------------------------------------------ certConf / error

    def _cert_conf(self, exchange: _Exchange) -> bytes:
        """certConf, RFC 9483, 4.1.1 / RFC 9810, 5.3.18: the client accepts or rejects
        the new certificate."""
        header = exchange.request.header
        transaction_id = header.transaction_id or b""
        pending = self.backend.pending_confirmation(transaction_id)
        if pending is None:
            raise BadRequest("No certificate awaits confirmation in this transaction.")
        self._answer_as(exchange, pending.sender)
        # RFC 9483, 4.1.1: the certConf is protected as the request was.
        if pending.mac_protected is not None and pending.mac_protected != exchange.mac_verified:
            raise WrongIntegrity(
                "The certConf must be protected as its request was ("
                + ("MAC" if pending.mac_protected else "signature")
                + ")."
            )
        if pending.sender_kid != header.sender_kid:
            raise NotAuthorized("certConf does not come from the sender of the request.")
        if pending.confirmed:
            # RFC 9810, 5.2.3: certConfirmed, the certificate was confirmed already.
            raise CertConfirmed("The certificate of this transaction was already confirmed.")
        # RFC 9810, 5.1.1: recipNonce is the senderNonce of our previous message.
        if header.recip_nonce is None or not hmac.compare_digest(
            header.recip_nonce, pending.recip_nonce
        ):
            raise BadRecipientNonce("recipNonce does not match the nonce sent in the response.")
        # RFC 9810, 5.1.1: senderNonce is fresh in every message of the transaction.
        if pending.request_nonce is not None and hmac.compare_digest(
            header.sender_nonce or b"", pending.request_nonce
        ):
            raise BadSenderNonce("The certConf reuses the senderNonce of its request.")
        statuses = decode.cert_conf(exchange.request)
        # RFC 9483, 4.1.1: certConf carries exactly one CertStatus.
        if len(statuses) != 1:
            raise BadRequest("certConf must carry exactly one CertStatus.")
        status = statuses[0]
        # RFC 9483, 4.1.1: certReqId is the request's: 0 (ir/cr/kur) or -1 (p10cr).
        if status.cert_req_id != pending.cert_req_id:
            raise BadRequest(
                f"certReqId {errors.shown(status.cert_req_id)} does not match the request "
                f"({pending.cert_req_id})."
            )
        # RFC 9810, 5.3.18: failInfo only goes with a rejection.
        if status.accepted and status.failure_bits:
            raise BadRequest("A CertStatus that accepts the certificate carries no failInfo.")
        self._check_cert_hash(header, status, pending.certificate)
        exchange.trace.append("certHash checked: OK")
        self.backend.confirm(transaction_id, accepted=status.accepted, reason=status.status_text)
        if status.accepted:
            exchange.trace.append("Certificate confirmed")
        else:
            exchange.trace.append(f"Certificate rejected by the client: {status.status_text}")
        return self._respond(exchange, PKIConfBody())

    def _check_cert_hash(
        self, header: RequestHeader, status: CertStatus, certificate: x509.Certificate
    ) -> None:
        # RFC 9810, 5.3.18: certHash is computed with hashAlg if present (pvno 3),
        # otherwise with the hash of the certificate's signature algorithm.
        algorithm: hashes.HashAlgorithm
        if status.hash_alg is not None:
            if header.pvno != 3:
                raise BadRequest("hashAlg requires pvno 3.")
            algorithm = protection.hash_for_oid(status.hash_alg, rfc9481_only=self.rfc9481_only)
        else:
            algorithm = protection.certificate_hash(certificate)
        digest = hashes.Hash(algorithm)
        digest.update(certificate.public_bytes(serialization.Encoding.DER))
        if not hmac.compare_digest(digest.finalize(), status.cert_hash):
            raise BadCertId("certHash does not match the issued certificate.")

    def _client_error(self, exchange: _Exchange) -> bytes:
        """An error from the client ends the transaction, RFC 9483, 3.6.4: answer pkiConf."""
        transaction_id = exchange.request.header.transaction_id or b""
        content = decode.error_content(exchange.request)
        exchange.trace.append(
            f"Error received from the client: status {errors.shown(content.status)}, "
            f"{content.status_text}"
        )
        pending = self.backend.pending_confirmation(transaction_id)
        if pending is not None and not pending.confirmed:
            self._answer_as(exchange, pending.sender)
            self.backend.confirm(
                transaction_id,
                accepted=False,
                reason=content.status_text or "error message from the client",
            )
        return self._respond(exchange, PKIConfBody())

    # ------------------------------------------------------------------ kur

    def _key_update(self, exchange: _Exchange) -> bytes:
        """Key update, RFC 9483, 4.1.3: a new certificate for a new key of a certificate."""
        self._check_new_transaction(exchange)
        return self._answer_content(exchange, "kup", 0, lambda: self._key_update_content(exchange))

    def _key_update_content(self, exchange: _Exchange) -> bytes:
        header = exchange.request.header
        cert_req = self._single_cert_request(exchange)
        # RFC 9483, 4.1.3: the template carries the new publicKey.
        if cert_req.public_key is None:
            raise BadCertTemplate("The certificate template has no public key.")
        public_key = self._check_public_key(cert_req.public_key)
        old_certificate = exchange.signer.certificate if exchange.signer is not None else None
        if old_certificate is not None:
            # RFC 9483, 4.1.3: the kur is signed with the certificate to be updated;
            # oldCertId, if present, names that certificate.
            old_cert_id = CertId.of(old_certificate)
            if cert_req.old_cert_id is not None and cert_req.old_cert_id != old_cert_id:
                raise BadCertId("oldCertId does not match the certificate that signed the kur.")
            if _same_key(public_key, old_certificate.public_key()):
                raise BadCertTemplate("The new public key is the key of the certificate to update.")
        elif cert_req.old_cert_id is None:
            # RFC 9483, 4.1.3: oldCertId is required unless the protection
            # certificate is the certificate to be updated.
            raise BadCertId(
                "oldCertId is required when the kur is not signed by the old certificate."
            )
        else:
            old_cert_id = cert_req.old_cert_id
        self._check_pop(exchange, cert_req, public_key)
        subject = cert_req.subject
        if (subject is None or len(subject) == 0) and old_certificate is not None:
            # RFC 9483, 4.1.3: the subject MAY be omitted; it stays the old one.
            subject = old_certificate.subject
        response_nonce = self.nonce()
        outcome = self.backend.update_key(
            KeyUpdateRequest(
                pvno=header.pvno,
                transaction_id=header.transaction_id or b"",
                sender_kid=header.sender_kid,
                sender=header.sender,
                sender_nonce=header.sender_nonce or b"",
                response_nonce=response_nonce,
                implicit_confirm_requested=header.implicit_confirm,
                cert_req_id=0,
                old_certificate=old_certificate,
                old_cert_id=old_cert_id,
                subject=subject if subject is not None and len(subject) else None,
                public_key=public_key,
                extensions=cert_req.extensions,
                mac_protected=exchange.mac_verified,
                signer=exchange.signer,
                not_before=cert_req.not_before,
                not_after=cert_req.not_after,
            )
        )
        return self._cert_response(
            exchange,
            request_body_type="kur",
            cert_req_id=0,
            outcome=outcome,
            response_nonce=response_nonce,
        )

    # ------------------------------------------------------------------ rr

    def _revocation(self, exchange: _Exchange) -> bytes:
        """Revocation, RFC 9483, 4.2: one RevDetails naming the certificate by issuer and
        serial; a removeFromCRL reason revives a certificate on hold (RFC 9810, 5.3.9)."""
        self._check_new_transaction(exchange)
        details = decode.rev_details(exchange.request)
        # RFC 9483, 4.2: a refused rr is answered in the rp, a wrong reason code
        # (badDataFormat) included.
        return self._answer_content(
            exchange,
            "rp",
            0,
            lambda: self._revocation_content(exchange, details),
            message_failures=_MESSAGE_FAILURES - {FailureInfo.badDataFormat},
        )

    def _revocation_content(self, exchange: _Exchange, details: tuple[RevDetails, ...]) -> bytes:
        header = exchange.request.header
        # RFC 9483, 4.2: exactly one RevDetails.
        if len(details) != 1:
            raise BadRequest("Exactly one RevDetails is supported.")
        revocation = details[0]
        # RFC 9483, 4.2: certDetails MUST carry the issuer and serialNumber.
        if revocation.issuer is None or revocation.serial_number is None:
            raise AddInfoNotAvailable(
                "certDetails must carry the issuer and serialNumber of the certificate to revoke."
            )
        # RFC 9483, 4.2: version, if present, MUST be 2 (the value 1).
        if revocation.version is not None and revocation.version != 1:
            raise BadRequest(
                f"certDetails version must be 2 (1), not {errors.shown(revocation.version)}."
            )
        # RFC 9483, 4.2: crlEntryDetails carries exactly one reasonCode.
        if len(revocation.reason_codes) > 1:
            raise BadRequest("crlEntryDetails must carry exactly one reasonCode.")
        for code in revocation.reason_codes:
            # RFC 5280, 5.3.1: reasonCode is 0..10 without 7.
            if code not in REASONS:
                raise BadDataFormat(f"CRL reason code {errors.shown(code)} is not valid.")
        unknown = [
            oid
            for oid in revocation.entry_extensions
            if oid not in (OID.reason_code, OID.invalidity_date)
        ]
        if unknown:
            # RFC 9483, 4.2: crlEntryDetails holds the reasonCode (RFC 5280, 5.3).
            raise BadRequest(f"crlEntryDetails extension {unknown[0]} is not supported.")
        self.backend.revoke(
            RevocationRequest(
                pvno=header.pvno,
                transaction_id=header.transaction_id or b"",
                sender_kid=header.sender_kid,
                sender=header.sender,
                sender_nonce=header.sender_nonce or b"",
                issuer=revocation.issuer,
                serial_number=revocation.serial_number,
                reason=revocation.reason,
                mac_protected=exchange.mac_verified,
                signer=exchange.signer,
                subject=revocation.subject,
                public_key=revocation.public_key,
                extensions=revocation.extensions,
            )
        )
        revived = revocation.reason == x509.ReasonFlags.remove_from_crl
        exchange.trace.append(
            f"Certificate {'revived' if revived else 'revoked'}: "
            f"serial {revocation.serial_number:x}, "
            f"issuer {revocation.issuer.rfc4514_string()}, "
            f"reason {revocation.reason.name if revocation.reason else '(none)'}"
        )
        exchange.response_type = "rp"
        self.backend.remember_transaction(header.transaction_id or b"", "rr")
        # RFC 9483, 4.2: rp with exactly one PKIStatusInfo, accepted.
        return self._respond(exchange, RevRepBody())

    # ------------------------------------------------------------------ genm

    def _general_message(self, exchange: _Exchange) -> bytes:
        """General message, RFC 9483, 4.3 / RFC 9810, 5.3.19."""
        self._check_new_transaction(exchange)
        header = exchange.request.header
        items = decode.general_messages(exchange.request)
        if not items:
            # RFC 9810, 5.3.19: a genm may leave the content to the receiver
            # (openssl cmp -cmd genm without -infotype sends it empty): answer
            # with what a client needs first, the CA certificates (RFC 9483, 4.3.1).
            exchange.trace.append("genm without infoType: answering caCerts")
            items = ((OID.it_ca_certs, None),)
        old_root = None
        crl_statuses: tuple[CRLStatus, ...] = ()
        languages: tuple[str, ...] = ()
        kinds: list[tuple[str, str]] = []
        asked: list[str] = []
        unknown = 0
        for oid, value in items:
            if oid in asked:
                # One answer per infoType, however often it is asked for.
                continue
            asked.append(oid)
            known = _INFO_TYPES.get(oid)
            if known is None:
                # RFC 9810, 5.3.19: the receiver MAY ignore infoTypes it does not know.
                unknown += 1
                if unknown <= _TRACED_UNKNOWN_INFO_TYPES:
                    exchange.trace.append(f"infoType {oid} is not supported: omitted")
                continue
            if known in kinds:
                continue  # rootCaCert asked for with both of its OIDs
            kind, _response_oid = known
            exchange.trace.append(f"infoType {kind} requested")
            self._check_info_value(kind, oid, value)
            if oid == OID.it_root_ca_cert and value is not None:
                # RFC 9483, 4.3.2: the root CA certificate the client holds.
                old_root = _info(decode.certificate_from_der, value, kind)
            if kind == "crlStatusList" and value is not None:
                # RFC 9483, 4.3.4: the CRLs the client holds.
                crl_statuses = _info(decode.crl_status_list, value, kind)
            if kind == "suppLangTags" and value is not None:
                languages = _info(_language_tags, value, kind)
            kinds.append(known)
        if unknown > _TRACED_UNKNOWN_INFO_TYPES:
            exchange.trace.append(
                f"{unknown - _TRACED_UNKNOWN_INFO_TYPES} more infoTypes not supported: omitted"
            )
        if len(items) > len(asked):
            exchange.trace.append(f"{len(items) - len(asked)} repeated infoTypes answered once")
        request = GeneralRequest(
            pvno=header.pvno,
            transaction_id=header.transaction_id or b"",
            sender_kid=header.sender_kid,
            sender=header.sender,
            info_types=tuple(asked),
            mac_protected=exchange.mac_verified,
            signer=exchange.signer,
            old_root=old_root,
            crl_statuses=crl_statuses,
        )
        answers: list[tuple[str, bytes | None]] = []
        for kind, response_oid in kinds:
            if kind == "preferredSymmAlg":
                value = encode.algorithm_value(PREFERRED_SYMMETRIC_ALGORITHM)
            elif kind == "suppLangTags":
                value = encode.language_tags_value((_choose_language(languages),))
            else:
                value = self._info_value(kind, self.backend.general_info(kind, request))
            answers.append((response_oid, value))
        exchange.response_type = "genp"
        self.backend.remember_transaction(header.transaction_id or b"", "genm")
        return self._respond(exchange, GenRepBody(tuple(answers)))

    @staticmethod
    def _check_info_value(kind: str, oid: str, value: bytes | None) -> None:
        """RFC 9483, 4.3 / RFC 9810, 5.3.19: an infoValue only where the infoType has one."""
        required = _INFO_VALUE_TAKEN.get(kind)
        if oid == OID.it_root_ca_key_update:
            required = None  # the legacy way of asking carries no value
        if required is None and value is not None:
            raise BadRequest(f"infoType {kind} is asked for without an infoValue.")
        if required and value is None:
            raise BadRequest(f"infoType {kind} requires an infoValue.")

    @staticmethod
    def _info_value(kind: str, value: GeneralInfo) -> bytes | None:
        """The DER infoValue of a genp item; None leaves the infoValue absent."""
        if value is None:
            return None
        if isinstance(value, RootCaKeyUpdate):
            # RFC 9483, 4.3.2: rootCaKeyUpdate, absent when there is no update
            return encode.root_ca_key_update_value(
                value.new_with_new, value.new_with_old, value.old_with_new
            )
        if isinstance(value, CertReqTemplate):
            # RFC 9483, 4.3.3: absent when no template applies
            return encode.cert_req_template_value(
                value.subject, value.extensions, value.rsa_key_size, value.ec_curve, value.eddsa
            )
        if kind == "currentCRL" and isinstance(value, x509.CertificateRevocationList):
            # RFC 9810, 5.3.19.6: the CA's current CRL
            return encode.crl_value(value)
        if kind == "caProtEncCert" and isinstance(value, x509.Certificate):
            # RFC 9810, 5.3.19.1: a certificate to encrypt to the CA with
            return encode.certificate_value(value)
        if isinstance(value, tuple):
            if kind == "caCerts":
                # RFC 9483, 4.3.1: caCerts, absent when there is none
                return encode.ca_certs_value(
                    tuple(v for v in value if isinstance(v, x509.Certificate))
                )
            if kind == "crlStatusList":
                # RFC 9483, 4.3.4: crls, absent when the client's CRLs are current
                return encode.crls_value(
                    tuple(v for v in value if isinstance(v, x509.CertificateRevocationList))
                )
            if kind in ("signKeyPairTypes", "encKeyPairTypes"):
                # RFC 9810, 5.3.19.2 and 5.3.19.3
                return encode.algorithms_value(
                    tuple(v for v in value if isinstance(v, AlgorithmId))
                )
        raise errors.SystemFailure(f"The backend answered {kind} with {type(value).__name__}.")

    # ------------------------------------------------------------------ pollReq

    def _poll(self, exchange: _Exchange) -> bytes:
        """Polling for a request answered with status waiting, RFC 9483, 4.4."""
        header = exchange.request.header
        cert_req_ids = decode.poll_requests(exchange.request)
        # RFC 9483, 4.4: one entry, for the one request of the transaction.
        if len(cert_req_ids) != 1:
            raise BadRequest("pollReq must carry exactly one certReqId.")
        response_nonce = self.nonce()
        outcome = self.backend.poll(
            PollRequest(
                pvno=header.pvno,
                transaction_id=header.transaction_id or b"",
                sender_kid=header.sender_kid,
                sender=header.sender,
                cert_req_id=cert_req_ids[0],
                response_nonce=response_nonce,
                implicit_confirm_requested=header.implicit_confirm,
                mac_protected=exchange.mac_verified,
                signer=exchange.signer,
            )
        )
        self._answer_as(exchange, outcome.sender)
        if outcome.sender_kid != header.sender_kid:
            raise NotAuthorized("pollReq does not come from the sender of the request.")
        # RFC 9810, 5.3.22: certReqId names the request polled for.
        if cert_req_ids[0] != outcome.cert_req_id:
            raise BadCertId(
                f"certReqId {errors.shown(cert_req_ids[0])} does not match the request."
            )
        result = outcome.result
        if isinstance(result, Waiting):
            exchange.trace.append(f"Still waiting: check after {result.check_after_seconds} s")
            exchange.response_type = "pollRep"
            body = PollRepBody(
                cert_req_id=outcome.cert_req_id,
                check_after=result.check_after_seconds,
                reason=result.reason,
            )
            return self._respond(exchange, body, nonce=response_nonce)
        # RFC 9483, 4.4: the final response is the ip/cp/kup of the request.
        return self._cert_response(
            exchange,
            request_body_type=outcome.request_body_type,
            cert_req_id=outcome.cert_req_id,
            outcome=result,
            response_nonce=response_nonce,
        )


def _fits(scheme: protection.SignatureScheme, public_key: object) -> bool:
    return {
        "rsa": isinstance(public_key, rsa.RSAPublicKey),
        "ec": isinstance(public_key, ec.EllipticCurvePublicKey),
        "ed25519": isinstance(public_key, ed25519.Ed25519PublicKey),
        "ed448": isinstance(public_key, ed448.Ed448PublicKey),
    }[scheme.key]


def _subject_alt_names(extensions: x509.Extensions) -> tuple[x509.GeneralName, ...]:
    try:
        return tuple(extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return ()


def _info(read: Callable[[bytes], _T], value: bytes, kind: str) -> _T:
    """An infoValue read; RFC 9483, 4.3: a malformed one is badRequest."""
    try:
        return read(value)
    except CMPError as exc:
        raise BadRequest(f"The {kind} infoValue is malformed: {exc.text}") from None


def _language_tags(value: bytes) -> tuple[str, ...]:
    try:
        return asn1.utf8_strings(value)
    except asn1.Asn1Error as exc:
        raise BadDataFormat(str(exc)) from None


def _choose_language(offered: tuple[str, ...]) -> str:
    """RFC 9810, 5.3.19.9: the receiver answers with the one tag it will use.

    Every text this server writes is English: "en" is the answer when the
    client offers it (or a regional variant); otherwise none can be used.
    """
    for tag in offered:
        if tag.lower() == LANGUAGE or tag.lower().startswith(f"{LANGUAGE}-"):
            return LANGUAGE
    raise BadRequest(f"None of the languages offered is supported; this server writes {LANGUAGE}.")


#: The request body types served (RFC 9810, 5.1.2; RFC 9483, 4) and the method that
#: answers each; any other body type is answered with badRequest.
HANDLERS: dict[str, Callable[[CMPServer, _Exchange], bytes]] = {
    "ir": CMPServer._certification,
    "cr": CMPServer._certification,
    "p10cr": CMPServer._p10cr,
    "kur": CMPServer._key_update,
    "certConf": CMPServer._cert_conf,
    "error": CMPServer._client_error,
    "rr": CMPServer._revocation,
    "genm": CMPServer._general_message,
    "pollReq": CMPServer._poll,
}
