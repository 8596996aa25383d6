"""The CMP server's backend on the database: the only CMP code that touches the ORM.

It implements the protocol's :class:`cmp.protocol.Backend` questions with the
enrollment engine (:mod:`certauth.enrollment`), which decides every
enrollment rule, and keeps only what is CMP's own here: transactions, the
nonces they expect, their states (:class:`~cmp.models.CMPTransaction`), and
the protection of responses. All of it lives in the database shared by every
worker and host.

The engine refuses with a reason; :data:`FAILURES` turns each reason into
the PKIFailureInfo bit the client sees (RFC 9810, 5.2.3).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TypeVar

from cryptography import x509
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, Q, QuerySet
from django.utils import timezone

from certauth import enrollment as engine
from certauth import profiles
from certauth import services as ca_services
from certauth import x509 as x509util
from certauth.ca_cache import LocalCAs
from certauth.enrollment import Credential, Operation, Reason, Refused
from certauth.events import Actor
from certauth.models import Certificate, CertificateAuthority, CertificateRequest, Enrollment
from certauth.prepared import Prepared, insert, update, update_returning
from cmp.models import CMPConfig, CMPTransaction
from cmp.protocol import (
    CertificationRequest,
    CertReqTemplate,
    CMPServer,
    GeneralInfo,
    GeneralRequest,
    Issued,
    KeyUpdateRequest,
    PendingConfirmation,
    PollOutcome,
    PollRequest,
    Rejected,
    RevocationRequest,
    SharedSecret,
    Signer,
    Waiting,
    asn1,
    errors,
    kid_text,
)
from cmp.protocol.asn1 import OID
from cmp.protocol.encode import CURVE_OIDS
from cmp.protocol.messages import AlgorithmId, Request
from cmp.protocol.protection import SignatureProtector

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The PKIFailureInfo bit for each refusal of the enrollment engine.
FAILURES: dict[Reason, type[errors.CMPError]] = {
    # "Enrollment not found." is FortiAuthenticator's text; RFC 9483, 3.5: the
    # MAC cannot be checked (badMessageCheck). OpenSSL shows the text with any bit.
    Reason.ENROLLMENT_NOT_FOUND: errors.BadMessageCheck,
    Reason.WRONG_ENROLLMENT: errors.NotAuthorized,
    Reason.ENROLLMENT_DISABLED: errors.NotAuthorized,
    Reason.ENROLLMENT_REJECTED: errors.NotAuthorized,
    Reason.ENROLLMENT_PENDING: errors.NotAuthorized,
    Reason.NO_PASSWORD: errors.NotAuthorized,
    Reason.SUBJECT_MISMATCH: errors.BadCertTemplate,
    Reason.SUBJECT_MISSING: errors.BadCertTemplate,
    Reason.SAN_NOT_ALLOWED: errors.BadCertTemplate,
    Reason.BAD_KEY: errors.BadCertTemplate,
    Reason.BAD_VALIDITY: errors.BadCertTemplate,
    Reason.ALREADY_ENROLLED: errors.DuplicateCertReq,
    Reason.CERT_UNKNOWN: errors.BadCertId,
    Reason.CERT_NOT_OF_ENROLLMENT: errors.NotAuthorized,
    Reason.CERT_WITHOUT_ENROLLMENT: errors.NotAuthorized,
    Reason.CERT_REVOKED: errors.CertRevoked,
    Reason.CERT_NOT_CONFIRMED: errors.NotAuthorized,
    Reason.CERT_EXPIRED: errors.NotAuthorized,
    Reason.ALREADY_RENEWED: errors.NotAuthorized,
    # RFC 9483, 4.1.3: a second kur while the first awaits its certConf.
    Reason.RENEWAL_PENDING: errors.BadRequest,
    Reason.OUTSIDE_RENEWAL_WINDOW: errors.NotAuthorized,
    Reason.RENEWAL_SAME_KEY: errors.BadCertTemplate,
    Reason.RENEWAL_SUBJECT_CHANGED: errors.BadCertTemplate,
    # RFC 9483, 4.1.3 and 4.2: signature protection is expected, not a MAC.
    Reason.PASSWORD_RENEWAL_NOT_ALLOWED: errors.WrongIntegrity,
    Reason.PASSWORD_REVOCATION_NOT_ALLOWED: errors.WrongIntegrity,
    Reason.NOT_CERTIFICATE_OWNER: errors.NotAuthorized,
    Reason.ALREADY_REVOKED: errors.CertRevoked,
    Reason.BAD_REVOCATION_REASON: errors.BadDataFormat,
    Reason.SIGNER_NOT_VALID: errors.SignerNotTrusted,
    Reason.SIGNER_NOT_TRUSTED: errors.SignerNotTrusted,
    Reason.SIGNER_NOT_ALLOWED: errors.NotAuthorized,
    Reason.NO_DEVICE_ENROLLMENT: errors.SignerNotTrusted,
    Reason.DEVICE_SUBJECT_NOT_ACCEPTED: errors.BadCertTemplate,
    Reason.CA_CANNOT_SIGN: errors.NotAuthorized,
    Reason.INVALID_REQUEST: errors.BadCertTemplate,
    Reason.REJECTED_BY_ADMINISTRATOR: errors.NotAuthorized,
    Reason.CONFIRMATION_REFUSED: errors.CertRevoked,
    Reason.NOT_WAITING: errors.BadRequest,
}

#: What each CMP body asks the engine for (RFC 9483, 4).
OPERATIONS: dict[str, Operation] = {
    "ir": Operation.ENROLL,
    "cr": Operation.REQUEST,
    "p10cr": Operation.REQUEST,
    "kur": Operation.RENEW,
    "rr": Operation.REVOKE,
    "genm": Operation.QUERY,
    "certConf": Operation.CONTINUE,
    "pollReq": Operation.CONTINUE,
    "error": Operation.CONTINUE,
}

#: Signature algorithms the CA accepts for a new key's POP (genm signKeyPairTypes,
#: RFC 9810, 5.3.19.2): those of RFC 9481, 3 the protocol verifies.
SIGN_KEY_PAIR_TYPES = (
    AlgorithmId(OID.sha224_with_rsa, b"\x05\x00"),
    AlgorithmId(OID.sha256_with_rsa, b"\x05\x00"),
    AlgorithmId(OID.sha384_with_rsa, b"\x05\x00"),
    AlgorithmId(OID.sha512_with_rsa, b"\x05\x00"),
    AlgorithmId(OID.rsassa_pss, asn1.encode_rsassa_pss_params(OID.sha256, 32)),
    AlgorithmId(OID.ecdsa_with_sha224),
    AlgorithmId(OID.ecdsa_with_sha256),
    AlgorithmId(OID.ecdsa_with_sha384),
    AlgorithmId(OID.ecdsa_with_sha512),
    AlgorithmId(OID.ecdsa_with_shake128),
    AlgorithmId(OID.ecdsa_with_shake256),
    AlgorithmId(OID.ed25519),
    AlgorithmId(OID.ed448),
)
DEVICE_REFERENCE = "device:"
MANAGEMENT_REFERENCE = "management:"
#: How long the transactionID of an ended transaction stays taken (RFC 9810,
#: 5.1.1: unique per transaction); open transactions keep theirs until they end.
TRANSACTION_ID_MEMORY = dt.timedelta(days=7)


def _transactions_holding(transaction_id: str, since: dt.datetime) -> QuerySet[CMPTransaction]:
    """The transactions that keep *transaction_id* taken: open, or ended since *since*."""
    return CMPTransaction.objects.filter(transaction_id=transaction_id).filter(
        Q(state__in=CMPTransaction.OPEN_STATES) | Q(updated__gte=since)
    )


#: The queries every enrollment makes, compiled once (certauth.prepared).
_TRANSACTION_ID_TAKEN = Prepared(
    lambda transaction_id, since: (
        _transactions_holding(transaction_id, since).order_by().values_list("pk")[:1]
    ),
    str,
    dt.datetime,
)
#: The first message of a transaction: its enrollment, and whether its
#: transactionID is taken, in one statement.
_ENROLLMENT_AND_TRANSACTION_ID = Prepared(
    lambda reference, transaction_id, since: engine.enrollments_by_reference(reference).annotate(
        transaction_id_taken=Exists(_transactions_holding(transaction_id, since))
    )[:1],
    str,
    str,
    dt.datetime,
)
#: A certConf's transaction with its certificate, and the enrollment (with its CA)
#: whose password checks the certConf's MAC, in one statement.
_AWAITING_CONFIRMATION = Prepared(
    lambda transaction_id: (
        CMPTransaction.objects.select_related("certificate", "enrollment__ca")
        .defer("enrollment__ca__crl_der")
        .filter(
            transaction_id=transaction_id,
            state__in=[CMPTransaction.State.WAITING_CONFIRM, CMPTransaction.State.CONFIRMED],
        )
        .order_by("-created", "-pk")[:1]
    ),
    str,
)
#: The bodies that begin a transaction (the server checks their transactionID is new).
NEW_TRANSACTION_BODIES = frozenset({"ir", "cr", "kur", "p10cr", "rr", "genm"})
#: The CAs that answer before an enrollment is known (errors are signed by them).
_OLDEST_USABLE_CA = Prepared(
    lambda now: CertificateAuthority.objects.usable(now).defer("crl_der").order_by("created")[:1],
    dt.datetime,
)
_USABLE_CA_BY_SUBJECT = Prepared(
    lambda subject, now: (
        CertificateAuthority.objects.usable(now).filter(subject=subject).defer("crl_der")
    ),
    str,
    dt.datetime,
)


def failure(exc: Refused) -> errors.CMPError:
    """The CMP error for an engine refusal."""
    return FAILURES.get(exc.reason, errors.NotAuthorized)(exc.message)


def default_sender(config: CMPConfig, cas: LocalCAs | None = None) -> x509.Name | None:
    """The CA that answers before an enrollment is known: CMP > General's default CA,
    else the oldest usable local CA. Errors such as "Enrollment not found." name it
    and are signed by it, so a client that pins it shows the error text.

    *cas*: the local CAs as this request read their version (no query then).
    """
    if cas is not None:
        ca = cas.get(config.default_ca_id) or cas.oldest_usable(timezone.now())
    else:
        ca = config.default_ca or _OLDEST_USABLE_CA.first(timezone.now())
    return ca.certificate.subject if ca is not None else None


def server_for(backend: DatabaseBackend, config: CMPConfig | None = None) -> CMPServer:
    """A protocol server wired to *backend*, with this deployment's settings."""
    config = config or CMPConfig.load()
    backend.config = config
    return CMPServer(
        backend,
        max_clock_skew=dt.timedelta(seconds=settings.FAC_CMP_CLOCK_SKEW),
        # Asked only when an answer goes out before its enrollment is known.
        default_sender=lambda: default_sender(config, backend.cas),
        error_signer=lambda sender: ca_signer(sender, backend.cas),
        strict_header_checks=config.strict_header_checks,
        rfc9481_only=config.rfc9481_only,
    )


def _ca_for_name(sender: x509.Name, cas: LocalCAs | None = None) -> CertificateAuthority | None:
    """The usable local CA named *sender* (from *cas* when given: no query)."""
    if cas is not None:
        return cas.usable_named(sender, timezone.now())
    for ca in _USABLE_CA_BY_SUBJECT(x509util.format_name(sender), timezone.now()):
        if ca.certificate.subject == sender:
            return ca
    return None


def _protector(ca: CertificateAuthority) -> SignatureProtector:
    from certauth import keystore

    return SignatureProtector(
        ca.certificate,
        lambda data, algorithm: keystore.sign_data(ca, data, algorithm),
        ca.hash_algorithm if ca.hash_algorithm in x509util.HASHES else "sha256",
        chain=_chain(ca),
        # RFC 9481, 3.1: a request signed with RSASSA-PSS is answered alike.
        sign_pss_with=lambda data, algorithm: keystore.sign_data(ca, data, algorithm, pss=True),
    )


def ca_signer(sender: x509.Name, cas: LocalCAs | None = None) -> SignatureProtector | None:
    """Sign with the local CA whose subject is *sender*; the key stays in the keystore.

    Used for errors whose request MAC could not be verified (unknown
    enrollment, wrong password): the client pins this CA's certificate
    (FortiGate: the CA named in the enroll command; openssl: -srvcert), so a
    signed error is one it can check and then show its text.
    """
    ca = _ca_for_name(sender, cas)
    return _protector(ca) if ca is not None else None


def _chain(ca: CertificateAuthority) -> tuple[x509.Certificate, ...]:
    return tuple(item.certificate for item in ca.chain())


def _requested_extensions(extensions: x509.Extensions) -> tuple[x509.Extension, ...]:
    """The extensions a template asks for, for the engine; the SANs go apart."""
    return tuple(e for e in extensions if e.oid != x509.SubjectAlternativeName.oid)


def _encryption_certificate(ca: CertificateAuthority | None) -> x509.Certificate | None:
    if ca is None:
        return None
    try:
        usage = ca.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return ca.certificate if usage.key_encipherment or usage.key_agreement else None


class DatabaseBackend:
    """One instance per HTTP request (it knows the client's address for the log)."""

    def __init__(
        self,
        *,
        source_ip: str | None = None,
        profile: str | None = None,
        request: Request | None = None,
        cas: LocalCAs | None = None,
    ) -> None:
        self.source_ip = source_ip
        #: The local CAs as this request read their version (certauth.ca_cache), if it did.
        self.cas = cas
        # RFC 9811, 3.3: /.well-known/cmp/p/<label>; the label is an enrollment ID.
        self.profile = profile
        self.config: CMPConfig | None = None
        # The engine's view of the request's signer, from signer().
        self._signer: engine.Signer | None = None
        self._mac_enrollment: Enrollment | None = None
        # Enrollments found by senderKID in this request.
        self._found: dict[str, Enrollment] = {}
        # The request being answered, when known: the enrollment's lookup then
        # reads what the request's transaction needs in the same statement.
        self._request = request
        self._transaction_taken: dict[bytes, bool] = {}
        self._awaiting: dict[bytes, CMPTransaction | None] = {}

    def _config(self) -> CMPConfig:
        if self.config is None:
            self.config = CMPConfig.load()
        return self.config

    def _actor(self, enrollment: Enrollment | None) -> Actor:
        return Actor(user=enrollment.reference if enrollment else "", source_ip=self.source_ip)

    @staticmethod
    def _engine(work: Callable[..., T], *args, **kwargs) -> T:
        """Run an engine call; a refusal becomes its CMP error."""
        try:
            return work(*args, **kwargs)
        except Refused as exc:
            raise failure(exc) from None

    def _atomic(self, work: Callable[..., T], *args) -> T:
        try:
            with transaction.atomic():
                return self._engine(work, *args)
        except IntegrityError:
            # The partial unique index on open transactionIDs: a concurrent
            # request with the same transactionID won (RFC 9810, 5.1.1).
            raise errors.TransactionIdInUse("transactionID is already in use.") from None

    def _enrollment(self, sender_kid: bytes | None) -> Enrollment:
        # RFC 9483, 3.1 / FortiAuthenticator: senderKID is the enrollment ID, exact match.
        # Found once per request: the engine locks it afresh where it decides.
        reference = kid_text(sender_kid)
        found = self._found.get(reference)
        if found is None:
            found = self._engine(self._look_up, reference)
            self._found[reference] = found
        return found

    def enrollment_found(self, reference: str) -> Enrollment | None:
        """The enrollment this request's senderKID named, if it was looked up (no query)."""
        return self._found.get(reference)

    def _look_up(self, reference: str) -> Enrollment:
        """The enrollment of *reference*, with what the request's transaction needs
        read in the same statement: whether a new transaction's ID is taken, or the
        certConf's transaction awaiting confirmation (whose enrollment it is)."""
        request = self._request
        transaction_id = request.header.transaction_id if request is not None else None
        if not reference or not transaction_id or request is None:
            return engine.find_enrollment(reference, label=self.profile)
        if request.body_type == "certConf":
            record = _AWAITING_CONFIRMATION.first(transaction_id.hex())
            self._awaiting[transaction_id] = record
            enrollment = record.enrollment if record is not None else None
            if enrollment is not None and enrollment.reference == reference:
                return engine.found_enrollment(enrollment, reference, label=self.profile)
            return engine.find_enrollment(reference, label=self.profile)
        if request.body_type in NEW_TRANSACTION_BODIES:
            since = timezone.now() - TRANSACTION_ID_MEMORY
            found = _ENROLLMENT_AND_TRANSACTION_ID.first(reference, transaction_id.hex(), since)
            if found is not None:
                self._transaction_taken[transaction_id] = found.transaction_id_taken
            return engine.found_enrollment(found, reference, label=self.profile)
        return engine.find_enrollment(reference, label=self.profile)

    # --- authentication -------------------------------------------------------------

    def mac_secret(self, sender_kid: bytes) -> SharedSecret:
        enrollment = self._enrollment(sender_kid)
        self._mac_enrollment = enrollment
        secret = self._engine(engine.shared_secret, enrollment)
        return SharedSecret(secret=secret, sender=enrollment.ca.certificate.subject)

    def check_public_key(self, public_key) -> None:
        """The key-strength policy, asked by the protocol before the POP is checked."""
        self._engine(engine.check_key, public_key)

    def signer(
        self,
        certificate: x509.Certificate,
        extra_certs: tuple[x509.Certificate, ...],
        body_type: str,
    ) -> Signer:
        operation = OPERATIONS.get(body_type)
        if operation is None:
            raise errors.NotAuthorized(f"A signed {body_type} is not accepted.")
        signer = self._engine(
            engine.identify_signer, certificate, extra_certs, operation, label=self.profile
        )
        self._signer = signer
        if signer.credential == Credential.MANAGEMENT_ENTITY:
            reference = f"{MANAGEMENT_REFERENCE}{signer.ca.pk}"
        elif signer.certificate is not None:
            reference = str(signer.certificate.pk)
        else:
            assert signer.anchor is not None  # noqa: S101 - a device signer has its anchor
            reference = f"{DEVICE_REFERENCE}{signer.anchor.pk}"
        return Signer(
            certificate=certificate, sender=signer.ca.certificate.subject, reference=reference
        )

    def response_signer(self, sender: x509.Name) -> SignatureProtector:
        ca = _ca_for_name(sender, self.cas)
        if ca is None:
            raise errors.SystemUnavail("The CA cannot sign responses now.")
        return _protector(ca)

    def _credential(self, request_signer: Signer | None) -> tuple[Credential, engine.Signer | None]:
        if request_signer is None:
            return Credential.PASSWORD, None
        signer = self._signer
        if signer is None:  # pragma: no cover - the server asks signer() first
            raise errors.SystemFailure("The request's signer was not identified.")
        return signer.credential, signer

    # --- transactions ---------------------------------------------------------------

    def transaction_in_use(self, transaction_id: bytes) -> bool:
        """Open, or ended within :data:`TRANSACTION_ID_MEMORY` (RFC 9810, 5.1.1)."""
        taken = self._transaction_taken.get(transaction_id)
        if taken is not None:
            return bool(taken)  # read with the enrollment, earlier in this request
        since = timezone.now() - TRANSACTION_ID_MEMORY
        return bool(_TRANSACTION_ID_TAKEN(transaction_id.hex(), since))

    def remember_transaction(self, transaction_id: bytes, body_type: str) -> None:
        """An answered rr or genm: its transactionID is taken from now on."""
        signer = self._signer
        enrollment = (
            engine.signer_enrollment(signer) if signer is not None else self._mac_enrollment
        )
        CMPTransaction.objects.create(
            transaction_id=transaction_id.hex(),
            enrollment=enrollment,
            sender_kid=enrollment.reference if enrollment is not None else "",
            body_type=body_type,
            state=CMPTransaction.State.COMPLETED,
            server_nonce="",
            source_ip=self.source_ip,
        )

    def certify(self, request: CertificationRequest) -> Issued | Waiting:
        # The engine's transaction holds the CMP transaction's row as well: no
        # transaction (nor savepoint) around it.
        try:
            return self._engine(self._certify, request)
        except IntegrityError:
            # The partial unique index on open transactionIDs: a concurrent
            # request with the same transactionID won (RFC 9810, 5.1.1).
            raise errors.TransactionIdInUse("transactionID is already in use.") from None

    def _certify(self, request: CertificationRequest) -> Issued | Waiting:
        credential, signer = self._credential(request.signer)
        enrollment = self._enrollment(request.sender_kid) if signer is None else None
        answer: list[Issued | Waiting] = []
        engine.request_certificate(
            engine.Request(
                protocol=Enrollment.Protocol.CMP,
                operation=OPERATIONS[request.body_type],
                message=request.body_type,
                credential=credential,
                enrollment=enrollment,
                signer=signer,
                subject=request.subject,
                public_key=request.public_key,
                sans=request.subject_alt_names,
                not_before=request.not_before,
                not_after=request.not_after,
                needs_confirmation=not request.implicit_confirm_requested,
                revoke_replaced=self._config().revoke_reenrolled,
                source_ip=self.source_ip,
                extensions=_requested_extensions(request.extensions),
            ),
            record=lambda decision: answer.append(
                self._record(request, decision, body_type=request.body_type)
            ),
        )
        return answer[0]

    def _record(self, request, decision: engine.Decision, *, body_type: str) -> Issued | Waiting:
        """The CMP transaction of *decision*, and the answer to give."""
        implicit = request.implicit_confirm_requested
        record = CMPTransaction(
            transaction_id=request.transaction_id.hex(),
            enrollment=decision.enrollment,
            sender_kid=decision.enrollment.reference,
            request_kid=(request.sender_kid or b"").hex(),
            body_type=body_type,
            pvno=request.pvno,
            client_nonce=request.sender_nonce.hex(),
            protection="signature" if request.signer is not None else "mac",
            cert_req_id=request.cert_req_id,
            implicit_confirm=implicit,
            server_nonce=request.response_nonce.hex(),
            source_ip=self.source_ip,
        )
        if decision.held is not None:
            # RFC 9483, 4.4: the request waits for an administrator; the client polls.
            record.state = CMPTransaction.State.WAITING_APPROVAL
            record.request = decision.held
            record.save()
            return Waiting(
                check_after_seconds=self._config().poll_interval,
                reason="Waiting for an administrator to approve the request of enrollment "
                f"{decision.enrollment.reference}.",
            )
        assert decision.certificate is not None  # noqa: S101 - a decision holds one of the two
        record.certificate = decision.certificate
        record.state = (
            CMPTransaction.State.CONFIRMED if implicit else CMPTransaction.State.WAITING_CONFIRM
        )
        insert(record)
        return self._issued(decision.certificate, implicit, decision.modified)

    @staticmethod
    def _issued(cert: Certificate, implicit: bool, modified: tuple[str, ...] = ()) -> Issued:
        ca = cert.ca
        return Issued(
            certificate=cert.certificate,
            chain=_chain(ca),
            ca_pubs=(ca.root().certificate,),
            sender=ca.certificate.subject,
            implicit_confirm_granted=implicit,
            modifications=modified,
        )

    def _revoke_replaced(self, body_type: str) -> bool:
        """CMP > General: revoke after renewal (kur), after re-enrollment (ir/cr/p10cr)."""
        config = self._config()
        return config.revoke_superseded if body_type == "kur" else config.revoke_reenrolled

    # --- kur (RFC 9483, 4.1.3) ------------------------------------------------------

    def update_key(self, request: KeyUpdateRequest) -> Issued | Waiting:
        return self._atomic(self._update_key, request)

    def _update_key(self, request: KeyUpdateRequest) -> Issued | Waiting:
        credential, signer = self._credential(request.signer)
        enrollment = renews = None
        if signer is None:
            enrollment = self._enrollment(request.sender_kid)
            if request.old_cert_id is None:
                engine.check_password_renewal(enrollment)
                # RFC 9483, 4.1.3: without a signature, the oldCertID control names it.
                raise errors.BadCertId(
                    "A password-protected kur must name the certificate in oldCertID."
                )
            renews = engine.find_certificate(
                request.old_cert_id.issuer, request.old_cert_id.serial_number
            )
        decision = engine.request_certificate(
            engine.Request(
                protocol=Enrollment.Protocol.CMP,
                operation=Operation.RENEW,
                message="kur",
                credential=credential,
                enrollment=enrollment,
                signer=signer,
                renews=renews,
                subject=request.subject if request.subject is not None else x509.Name([]),
                public_key=request.public_key,
                sans=request.subject_alt_names,
                not_before=request.not_before,
                not_after=request.not_after,
                needs_confirmation=not request.implicit_confirm_requested,
                revoke_replaced=self._config().revoke_superseded,
                source_ip=self.source_ip,
                extensions=_requested_extensions(request.extensions),
            )
        )
        return self._record(request, decision, body_type="kur")

    # --- certConf -----------------------------------------------------------------------

    def pending_confirmation(self, transaction_id: bytes) -> PendingConfirmation | None:
        if transaction_id in self._awaiting:
            record = self._awaiting[transaction_id]  # read with the enrollment
        else:
            record = _AWAITING_CONFIRMATION.first(transaction_id.hex())
        if record is None or record.certificate is None or not record.server_nonce:
            return None
        cert = record.certificate
        if record.enrollment is not None and record.enrollment.ca_id == cert.ca_id:
            cert.ca = record.enrollment.ca  # the same CA: not read again
        return PendingConfirmation(
            sender_kid=bytes.fromhex(record.request_kid) if record.request_kid else None,
            recip_nonce=bytes.fromhex(record.server_nonce),
            certificate=record.certificate.certificate,
            sender=record.certificate.ca.certificate.subject,
            cert_req_id=record.cert_req_id,
            request_nonce=bytes.fromhex(record.client_nonce) if record.client_nonce else None,
            mac_protected={"mac": True, "signature": False}.get(record.protection),
            confirmed=record.state == CMPTransaction.State.CONFIRMED,
        )

    def confirm(self, transaction_id: bytes, *, accepted: bool, reason: str | None) -> None:
        refused: Refused | None = None
        state = CMPTransaction.State.CONFIRMED if accepted else CMPTransaction.State.REJECTED
        with transaction.atomic():
            # The transaction is claimed, locked and given its outcome in one
            # statement (a concurrent certConf finds nothing to claim); only an
            # outcome other than the client's writes it again.
            claimed = update_returning(
                CMPTransaction,
                {"state": state, "updated": timezone.now()},
                {
                    "transaction_id": transaction_id.hex(),
                    "state": CMPTransaction.State.WAITING_CONFIRM,
                },
                ("pk", "certificate", "enrollment", "sender_kid", "body_type"),
            )
            if not claimed:
                raise errors.BadRequest("No certificate of this transaction awaits confirmation.")
            pk, certificate_id, enrollment_id, sender_kid, body_type = claimed[0]
            outcome = state
            # The engine locks and re-reads the certificate and its enrollment:
            # their ids are all it needs from here.
            actor = Actor(user=sender_kid, source_ip=self.source_ip)
            if certificate_id is None:
                outcome = CMPTransaction.State.FAILED
            else:
                cert = Certificate(pk=certificate_id, enrollment_id=enrollment_id)
                if accepted:
                    try:
                        engine.confirm_certificate(
                            cert, revoke_replaced=self._revoke_replaced(body_type), actor=actor
                        )
                    except Refused as exc:
                        # Superseded or revoked meanwhile: the transaction ends here.
                        refused = exc
                        outcome = CMPTransaction.State.FAILED
                else:
                    # RFC 9810, 5.3.18: a rejected certificate is revoked.
                    engine.reject_certificate(cert, reason=reason or "", actor=actor)
            if outcome != state:
                update(CMPTransaction(pk=pk, state=outcome), ["state", "updated"])
        if refused is not None:
            raise failure(refused)

    # --- rr (RFC 9483, 4.2) -------------------------------------------------------

    def revoke(self, request: RevocationRequest) -> None:
        credential, signer = self._credential(request.signer)
        enrollment = self._enrollment(request.sender_kid) if signer is None else None
        self._engine(
            engine.revoke_certificate,
            issuer=request.issuer,
            serial_number=request.serial_number,
            # removeFromCRL asks to take the certificate off hold (RFC 9810, 5.3.9).
            reason=request.reason.value if request.reason is not None else None,
            credential=credential,
            enrollment=enrollment,
            signer=signer,
            source_ip=self.source_ip,
            subject=request.subject,
            public_key=request.public_key,
            extensions=tuple(request.extensions or ()),
        )

    # --- genm (RFC 9483, 4.3) ------------------------------------------------------

    def _requesting_ca(
        self, request: GeneralRequest
    ) -> tuple[CertificateAuthority | None, Enrollment | None]:
        if request.signer is None:
            enrollment = self._enrollment(request.sender_kid)
            return enrollment.ca, enrollment
        signer = self._signer
        enrollment = engine.signer_enrollment(signer) if signer is not None else None
        if enrollment is not None:
            return enrollment.ca, enrollment
        return (signer.ca if signer is not None else _ca_for_name(request.signer.sender)), None

    def general_info(self, kind: str, request: GeneralRequest) -> GeneralInfo:
        ca, enrollment = self._requesting_ca(request)
        if kind == "caCerts":
            # RFC 9483, 4.3.1: the CA certificates the client may need: the chain.
            return _chain(ca) if ca is not None else ()
        if kind == "rootCaCert":
            # RFC 9483, 4.3.2: no root CA key update is pending.
            return None
        if kind == "certReqTemplate":
            return self._template(enrollment)
        if kind == "crlStatusList":
            return self._newer_crls(request)
        if kind == "signKeyPairTypes":
            # RFC 9483, 4.3: signature algorithms the CA accepts for new keys' POP.
            return SIGN_KEY_PAIR_TYPES
        if kind == "encKeyPairTypes":
            # RFC 9810, 5.3.19.3: the key types certified for encryption or key
            # agreement: RSA, and EC on the curves of the key policy.
            return (AlgorithmId(OID.rsa_encryption, b"\x05\x00"),) + tuple(
                AlgorithmId(OID.ec_public_key, asn1.encode_oid(CURVE_OIDS[curve]))
                for curve in sorted(profiles.ACCEPTED_CURVES)
                if curve in CURVE_OIDS
            )
        if kind == "currentCRL":
            # RFC 9810, 5.3.19.6: the CA's CRL, re-signed first when due.
            return x509.load_der_x509_crl(ca_services.current_crl(ca)) if ca is not None else None
        if kind == "caProtEncCert":
            # RFC 9810, 5.3.19.1: only a CA certificate whose key may encrypt.
            return _encryption_certificate(ca)
        return None

    @staticmethod
    def _template(enrollment: Enrollment | None) -> CertReqTemplate | None:
        """RFC 9483, 4.3.3: what the enrollment will put in the certificate."""
        if enrollment is None:
            return None
        template = engine.certificate_template(enrollment)
        extensions = []
        if template.key_usage:
            extensions.append(
                x509.Extension(
                    x509.KeyUsage.oid, True, x509util.key_usage_extension(template.key_usage)
                )
            )
        if template.ext_key_usage:
            extensions.append(
                x509.Extension(
                    x509.ExtendedKeyUsage.oid,
                    False,
                    x509util.ext_key_usage_extension(template.ext_key_usage),
                )
            )
        return CertReqTemplate(
            subject=template.subject,
            extensions=tuple(extensions),
            rsa_key_size=template.rsa_key_size,
            ec_curve=template.ec_curve,
            eddsa=template.eddsa,
        )

    @staticmethod
    def _newer_crls(request: GeneralRequest) -> tuple[x509.CertificateRevocationList, ...]:
        """RFC 9483, 4.3.4: the CRLs newer than those the client holds."""
        crls = []
        for status in request.crl_statuses:
            ca = None
            if status.issuer is not None:
                ca = _ca_for_name(status.issuer)
            elif status.distribution_point:
                urls = {
                    name.value
                    for name in status.distribution_point
                    if isinstance(name, x509.UniformResourceIdentifier)
                }
                ca = next(
                    (
                        c
                        for c in CertificateAuthority.objects.usable()
                        if ca_services.crl_url(c) in urls
                    ),
                    None,
                )
            if ca is None:
                continue
            crl = x509.load_der_x509_crl(ca_services.current_crl(ca))
            if status.this_update is None or crl.last_update_utc > status.this_update:
                crls.append(crl)
        return tuple(crls)

    # --- pollReq (RFC 9483, 4.4) ---------------------------------------------------

    def poll(self, request: PollRequest) -> PollOutcome:
        with transaction.atomic():
            record = (
                CMPTransaction.objects.select_for_update()
                .filter(
                    transaction_id=request.transaction_id.hex(),
                    state=CMPTransaction.State.WAITING_APPROVAL,
                )
                .order_by("-created")
                .first()
            )
            held = (
                CertificateRequest.objects.filter(pk=record.request_id).first()
                if record is not None and record.request_id
                else None
            )
            if record is None or held is None or record.enrollment_id is None:
                raise errors.BadRequest("No request of this transaction awaits approval.")
            if record.request_kid != (request.sender_kid or b"").hex():
                # RFC 9810, 5.1.1: only the requester may poll its transaction.
                raise errors.NotAuthorized("pollReq does not come from the sender of the request.")
            ca = Enrollment.objects.select_related("ca").get(pk=record.enrollment_id).ca
            outcome = {
                "request_body_type": record.body_type,
                "sender_kid": bytes.fromhex(record.request_kid) if record.request_kid else None,
                "sender": ca.certificate.subject,
                "cert_req_id": record.cert_req_id,
            }
            if held.state == CertificateRequest.State.WAITING:
                return PollOutcome(
                    result=Waiting(
                        check_after_seconds=self._config().poll_interval,
                        reason="Waiting for an administrator to approve the request.",
                    ),
                    **outcome,
                )
            cert = (
                Certificate.objects.select_related("ca").filter(pk=held.certificate_id).first()
                if held.certificate_id
                else None
            )
            if held.state == CertificateRequest.State.REJECTED or cert is None:
                record.state = CMPTransaction.State.FAILED
                record.save(update_fields=["state", "updated"])
                return PollOutcome(
                    result=Rejected(
                        reason=held.reason or "The request was rejected by an administrator.",
                        failure=errors.FailureInfo.notAuthorized,
                    ),
                    **outcome,
                )
            # Approved: the certificate was issued at approval; the certConf now
            # echoes the nonce of this pollRep's final response (RFC 9810, 5.1.1).
            implicit = record.implicit_confirm and request.implicit_confirm_requested
            record.server_nonce = request.response_nonce.hex()
            record.certificate = cert
            record.state = (
                CMPTransaction.State.CONFIRMED if implicit else CMPTransaction.State.WAITING_CONFIRM
            )
            record.save(update_fields=["server_nonce", "certificate", "state", "updated"])
            if implicit and cert.status == Certificate.Status.PENDING:
                self._engine(
                    engine.confirm_certificate,
                    cert,
                    revoke_replaced=self._revoke_replaced(record.body_type),
                    actor=self._actor(record.enrollment),
                )
            return PollOutcome(result=self._issued(cert, implicit), **outcome)
