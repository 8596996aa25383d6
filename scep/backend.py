"""The SCEP server's backend on the database: the only SCEP code that touches the ORM.

It answers the questions of :class:`scep.protocol.Backend` with the
enrollment engine (:mod:`certauth.enrollment`), which decides every
enrollment rule, and keeps only what is SCEP's own here: transactions and
their states (:class:`~scep.models.SCEPTransaction`), and which CA or RA key
decrypts requests and signs replies. All of it lives in the database shared
by every worker and host; an instance lives for one HTTP request.

The engine refuses with a reason; :data:`REASONS` turns each reason into the
backend's :class:`~scep.protocol.RejectReason`, which the protocol layer maps
to the failInfo the client sees (RFC 8894, 3.2.1.4).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.padding import AsymmetricPadding
from django.db import IntegrityError, transaction
from django.utils import timezone

from certauth import enrollment as engine
from certauth import keystore
from certauth import services as ca_services
from certauth import x509 as x509util
from certauth.enrollment import Credential, Operation, Reason, Refused
from certauth.events import Actor
from certauth.models import Certificate, CertificateAuthority, CertificateRequest, Enrollment
from certauth.x509 import InvalidInput, PublicKey
from scep import protocol, services
from scep.models import RegistrationAuthority, SCEPConfig, SCEPTransaction, WildcardMember
from scep.protocol import (
    CACertificates,
    CertificateQuery,
    CRLQuery,
    EnrollmentRequest,
    Issued,
    Pending,
    PollRequest,
    Rejected,
    RejectReason,
    ResponseSigner,
)

log = logging.getLogger(__name__)

#: The backend's reason for each refusal of the enrollment engine.
REASONS: dict[Reason, RejectReason] = {
    # A wrong challenge password, an unlisted subject and an unknown enrollment
    # get one answer (UNIFORM_TEXT); the event log tells them apart.
    Reason.ENROLLMENT_NOT_FOUND: RejectReason.BAD_CHALLENGE,
    Reason.WRONG_PASSWORD: RejectReason.BAD_CHALLENGE,
    Reason.SUBJECT_NOT_LISTED: RejectReason.BAD_CHALLENGE,
    Reason.WRONG_ENROLLMENT: RejectReason.BAD_CHALLENGE,
    Reason.NO_PASSWORD: RejectReason.BAD_CHALLENGE,
    Reason.ENROLLMENT_DISABLED: RejectReason.NOT_AUTHORIZED,
    Reason.ENROLLMENT_REJECTED: RejectReason.NOT_AUTHORIZED,
    Reason.ENROLLMENT_PENDING: RejectReason.NOT_AUTHORIZED,
    Reason.ALREADY_ENROLLED: RejectReason.NOT_AUTHORIZED,
    Reason.SUBJECT_MISMATCH: RejectReason.POLICY,
    Reason.SUBJECT_MISSING: RejectReason.POLICY,
    Reason.SAN_NOT_ALLOWED: RejectReason.POLICY,
    Reason.BAD_VALIDITY: RejectReason.POLICY,
    Reason.INVALID_REQUEST: RejectReason.POLICY,
    Reason.DEVICE_SUBJECT_NOT_ACCEPTED: RejectReason.POLICY,
    Reason.RENEWAL_SUBJECT_CHANGED: RejectReason.POLICY,
    Reason.RENEWAL_SAME_KEY: RejectReason.POLICY,
    Reason.BAD_KEY: RejectReason.KEY_NOT_ACCEPTED,
    Reason.CERT_UNKNOWN: RejectReason.RENEWAL_NOT_ALLOWED,
    Reason.CERT_NOT_OF_ENROLLMENT: RejectReason.RENEWAL_NOT_ALLOWED,
    Reason.CERT_WITHOUT_ENROLLMENT: RejectReason.RENEWAL_NOT_ALLOWED,
    Reason.CERT_REVOKED: RejectReason.RENEWAL_NOT_ALLOWED,
    Reason.CERT_NOT_CONFIRMED: RejectReason.RENEWAL_NOT_ALLOWED,
    Reason.CERT_EXPIRED: RejectReason.RENEWAL_NOT_ALLOWED,
    Reason.ALREADY_RENEWED: RejectReason.RENEWAL_NOT_ALLOWED,
    Reason.RENEWAL_PENDING: RejectReason.RENEWAL_NOT_ALLOWED,
    Reason.OUTSIDE_RENEWAL_WINDOW: RejectReason.RENEWAL_NOT_ALLOWED,
    Reason.PASSWORD_RENEWAL_NOT_ALLOWED: RejectReason.RENEWAL_NOT_ALLOWED,
    Reason.SIGNER_NOT_VALID: RejectReason.RENEWAL_NOT_ALLOWED,
    Reason.SIGNER_NOT_TRUSTED: RejectReason.RENEWAL_NOT_ALLOWED,
    Reason.SIGNER_NOT_ALLOWED: RejectReason.RENEWAL_NOT_ALLOWED,
    Reason.NO_DEVICE_ENROLLMENT: RejectReason.NOT_AUTHORIZED,
    Reason.PASSWORD_REVOCATION_NOT_ALLOWED: RejectReason.NOT_AUTHORIZED,
    Reason.NOT_CERTIFICATE_OWNER: RejectReason.UNKNOWN_CERTIFICATE,
    Reason.ALREADY_REVOKED: RejectReason.NOT_AUTHORIZED,
    Reason.BAD_REVOCATION_REASON: RejectReason.NOT_AUTHORIZED,
    Reason.CA_CANNOT_SIGN: RejectReason.SYSTEM_FAILURE,
    Reason.REJECTED_BY_ADMINISTRATOR: RejectReason.REJECTED_BY_OPERATOR,
    Reason.CONFIRMATION_REFUSED: RejectReason.NOT_AUTHORIZED,
    Reason.NOT_WAITING: RejectReason.UNKNOWN_TRANSACTION,
}
#: The refusals the client must not tell apart, and the one text it gets for them.
UNIFORM = frozenset({Reason.ENROLLMENT_NOT_FOUND, Reason.WRONG_PASSWORD, Reason.SUBJECT_NOT_LISTED})
UNIFORM_TEXT = "The challenge password is wrong, or no enrollment accepts this subject."

#: What a wildcard enrollment hands down to the enrollment of each of its devices.
MEMBER_FIELDS = (
    "ca",
    "kind",
    "key_usage",
    "ext_key_usage",
    "allowed_sans",
    "validity_days",
    "renewable_days",
    "method",
    "allow_reenrollment",
    "allow_mac_kur",
)

MESSAGES = {protocol.MessageType.PKCSReq: "PKCSReq", protocol.MessageType.RenewalReq: "RenewalReq"}


def member_reference(wildcard: Enrollment, subject: x509.Name) -> str:
    """``WILDCARD/CN`` (characters outside [A-Za-z0-9.-_@] as ``_``), unique per subject."""
    text = x509util.format_name(subject)
    common = x509util.common_name(subject) or hashlib.sha256(text.encode()).hexdigest()[:16]
    clean = "".join(c if c.isalnum() or c in ".-_@" else "_" for c in common)
    reference = f"{wildcard.reference}/{clean}"[:110]
    taken = Enrollment.objects.filter(reference=reference).exclude(subject=text).exists()
    if taken:
        reference += "-" + hashlib.sha256(text.encode()).hexdigest()[:12]
    return reference


def digest(public_key: object) -> str:
    """SHA-256 of a public key's SubjectPublicKeyInfo, hex."""
    der = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def chain(ca: CertificateAuthority) -> tuple[x509.Certificate, ...]:
    """The issuing CA and its local issuers, up to the root."""
    return tuple(item.certificate for item in ca.chain())


# --- Keys ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """A CA or RA key that requests may be encrypted to; the key stays in the keystore.

    A successful decryption tells the backend which key the client chose, so
    that the reply is signed by the same CA or RA (RFC 8894, 2.1.2).
    """

    certificate: x509.Certificate
    holder: CertificateAuthority | RegistrationAuthority
    ca: CertificateAuthority
    backend: DatabaseBackend = field(repr=False, compare=False)

    def decrypt(self, encrypted_key: bytes, padding: AsymmetricPadding) -> bytes:
        key = keystore.decrypt_key_transport(self.holder, encrypted_key, padding)
        self.backend.decrypted_by = self
        return key


def _signer(
    holder: CertificateAuthority | RegistrationAuthority,
    certificate: x509.Certificate,
    ca: CertificateAuthority,
) -> ResponseSigner:
    issuers = chain(ca)
    extra = issuers[1:] if holder is ca else issuers
    return ResponseSigner(
        certificate,
        lambda data, algorithm: keystore.sign_data(holder, data, algorithm),
        extra,
    )


class DatabaseBackend:
    """One instance per HTTP request: it knows the client's address and what it said."""

    def __init__(self, cfg: SCEPConfig, *, source_ip: str | None = None) -> None:
        self.cfg = cfg
        self.source_ip = source_ip
        #: The engine's refusal of this request, for the event log (its own wording).
        self.refusal: Refused | None = None
        #: The enrollment this request was found to belong to, for the event log.
        self.enrollment: Enrollment | None = None
        #: The CA or RA key that decrypted the request.
        self.decrypted_by: Recipient | None = None
        self._default_ca: CertificateAuthority | None = None

    # --- configuration and keys -------------------------------------------------------

    def config(self) -> protocol.SCEPConfig:
        return services.wire_config(self.cfg)

    def _answering_ca(self) -> CertificateAuthority:
        if self._default_ca is None:
            self._default_ca = services.answering_ca(self.cfg)
        return self._default_ca

    def ca_certificates(self, ca_identifier: str | None) -> CACertificates:
        ca = services.answering_ca(self.cfg, ca_identifier)
        ras: tuple[x509.Certificate, ...] = ()
        if services.needs_ra(ca):
            ras = (services.registration_authority(ca).x509_certificate,)
        return CACertificates(ca=ca.certificate, ra=ras, chain=chain(ca)[1:])

    def next_ca_certificates(self, ca_identifier: str | None) -> CACertificates | None:
        # RFC 8894, 4.7: no CA rollover is configured here.
        return None

    def recipient_keys(self) -> tuple[Recipient, ...]:
        """Every key a client may have been given by GetCACert: the RSA CAs, the RAs.

        The envelope names its recipient (issuer and serial, or key identifier),
        so only the key it names is ever used.
        """
        keys = [
            Recipient(ca.certificate, ca, ca, self)
            for ca in CertificateAuthority.objects.usable()
            if not services.needs_ra(ca)
        ]
        keys += [Recipient(ra.x509_certificate, ra, ra.ca, self) for ra in services.current_ras()]
        return tuple(keys)

    def response_signer(self) -> ResponseSigner:
        """The key that decrypted the request signs the reply; before that, the answering CA's."""
        chosen = self.decrypted_by
        if chosen is not None:
            return _signer(chosen.holder, chosen.certificate, chosen.ca)
        ca = self._answering_ca()
        if services.needs_ra(ca):
            ra = services.registration_authority(ca)
            return _signer(ra, ra.x509_certificate, ca)
        return _signer(ca, ca.certificate, ca)

    # --- refusals ---------------------------------------------------------------------

    def _refuse(self, exc: Refused) -> Rejected:
        self.refusal = exc
        text = UNIFORM_TEXT if exc.reason in UNIFORM else exc.message
        return Rejected(REASONS.get(exc.reason, RejectReason.NOT_AUTHORIZED), text)

    # --- PKCSReq / RenewalReq (RFC 8894, 3.3.1) -----------------------------------

    def enroll(self, request: EnrollmentRequest) -> Issued | Pending | Rejected:
        try:
            return self._enroll(request)
        except Refused as exc:
            return self._refuse(exc)

    def _enroll(self, request: EnrollmentRequest) -> Issued | Pending | Rejected:
        # A RenewalReq renews the certificate that signed it (RFC 8894, 2.3 / 3.3.1);
        # a renewal reusing the enrolment's key (and transactionID) is its own transaction.
        renewal_of = (
            x509util.serial_hex(request.signer_certificate.serial_number) if request.renewal else ""
        )
        key = digest(request.public_key)
        signer_key = digest(request.signer_certificate.public_key())
        with transaction.atomic():
            # RFC 8894, 3.2.1.1: the transactionID names the operation in every
            # message of it; a resent request finds its transaction and its answer,
            # even once the renewed certificate is no longer in force.
            answer = self._resent(request, renewal_of, key, signer_key)
            if answer is not None:
                return answer
            signer: engine.Signer | None = None
            if request.renewal:
                signer = engine.identify_signer(request.signer_certificate, (), Operation.RENEW)
                self.enrollment = engine.signer_enrollment(signer)
            record = SCEPTransaction(
                transaction_id=request.transaction_id,
                renewal_of=renewal_of,
                message_type=MESSAGES[request.message_type],
                state=SCEPTransaction.State.PENDING,
                key_digest=key,
                signer_digest=signer_key,
                subject=x509util.format_name(request.subject),
                source_ip=self.source_ip,
            )
            try:
                with transaction.atomic():
                    record.save(force_insert=True)
            except IntegrityError:
                # Another worker has just opened this transaction: answer as a resend.
                answer = self._resent(request, renewal_of, key, signer_key)
                if answer is None:
                    raise Refused(
                        Reason.INVALID_REQUEST, "The transaction changed meanwhile; resend it."
                    ) from None
                return answer
            decision = engine.request_certificate(self._engine_request(request, signer))
            self.enrollment = decision.enrollment
            record.enrollment = decision.enrollment
            if decision.held is not None:
                # RFC 8894, 3.3.2.3: PENDING; the client polls or resends.
                record.request = decision.held
                record.save(update_fields=["enrollment", "request", "updated"])
                return Pending(self._waiting_text(decision.enrollment))
            assert decision.certificate is not None  # noqa: S101 - a decision holds one
            record.state = SCEPTransaction.State.ISSUED
            record.certificate = decision.certificate
            record.save(update_fields=["enrollment", "state", "certificate", "updated"])
            return self._issued(decision.certificate)

    def _engine_request(
        self, request: EnrollmentRequest, signer: engine.Signer | None
    ) -> engine.Request:
        # The key-strength policy is the engine's; it also admits only RSA and ECDSA keys.
        engine.check_key(request.public_key)
        public_key = cast(PublicKey, request.public_key)
        if request.renewal:
            return engine.Request(
                protocol=Enrollment.Protocol.SCEP,
                operation=Operation.RENEW,
                message="RenewalReq",
                credential=Credential.ISSUED_CERTIFICATE,
                signer=signer,
                subject=request.subject,
                public_key=public_key,
                sans=request.subject_alt_names,
                needs_confirmation=False,
                revoke_replaced=self.cfg.revoke_renewed,
                source_ip=self.source_ip,
            )
        # RFC 8894, 2.4: the challengePassword authorizes the enrolment.
        enrollment = engine.find_by_challenge(
            request.subject,
            request.challenge_password or "",
            protocol=Enrollment.Protocol.SCEP,
            source_ip=self.source_ip,
        )
        if enrollment.wildcard:
            enrollment = self._member(enrollment, request)
        self.enrollment = enrollment
        return engine.Request(
            protocol=Enrollment.Protocol.SCEP,
            operation=Operation.ENROLL,
            message="PKCSReq",
            credential=Credential.PASSWORD,
            enrollment=enrollment,
            subject=request.subject,
            public_key=public_key,
            sans=request.subject_alt_names,
            needs_confirmation=False,
            revoke_replaced=self.cfg.revoke_renewed,
            source_ip=self.source_ip,
        )

    def _member(self, wildcard: Enrollment, request: EnrollmentRequest) -> Enrollment:
        """The device's own enrollment under *wildcard* (see :class:`WildcardMember`).

        The engine has found *wildcard* by the challenge and checked the subject
        pattern; the device's enrollment copies its profile, for this exact
        subject, and the engine then decides the request on it.
        """
        subject = x509util.format_name(request.subject)
        fields = {field: getattr(wildcard, field) for field in MEMBER_FIELDS}
        try:
            with transaction.atomic():
                member = ca_services.create_enrollment(
                    reference=member_reference(wildcard, request.subject),
                    password=request.challenge_password or "",
                    protocol=Enrollment.Protocol.SCEP,
                    subject=subject,
                    actor=Actor(user=wildcard.reference, source_ip=self.source_ip),
                    **fields,
                )
                WildcardMember.objects.create(enrollment=member, wildcard=wildcard)
            return member
        except InvalidInput as exc:
            # A concurrent first request of the same device made it: it is found now.
            found = Enrollment.objects.filter(protocol="scep", wildcard=False, subject=subject)
            if found.exists():
                return engine.find_by_challenge(
                    request.subject, request.challenge_password or "", protocol="scep"
                )
            raise Refused(
                Reason.INVALID_REQUEST,
                f"No enrollment can be made for {subject} under {wildcard.reference}: {exc}",
            ) from None

    def _resent(
        self, request: EnrollmentRequest, renewal_of: str, key: str, signer_key: str
    ) -> Issued | Pending | Rejected | None:
        """The answer to a request whose transaction is open; None starts a new one."""
        record = (
            SCEPTransaction.objects.open()
            .select_for_update()
            .filter(transaction_id=request.transaction_id, renewal_of=renewal_of)
            .first()
        )
        if record is None:
            return None
        if (
            record.key_digest != key
            or record.signer_digest != signer_key
            or record.message_type != MESSAGES[request.message_type]
        ):
            return Rejected(RejectReason.TRANSACTION_ID_IN_USE)
        return self._state(record, resent=True)

    def _state(
        self, record: SCEPTransaction, *, resent: bool
    ) -> Issued | Pending | Rejected | None:
        """What the (locked) transaction has to say now; None when it is over (closed here)."""
        if record.enrollment_id is not None:
            self.enrollment = Enrollment.objects.filter(pk=record.enrollment_id).first()
        if record.state == SCEPTransaction.State.PENDING:
            held = (
                CertificateRequest.objects.select_related("certificate")
                .filter(pk=record.request_id)
                .first()
                if record.request_id
                else None
            )
            if held is None:
                return self._close(record)
            if held.state == CertificateRequest.State.WAITING:
                return Pending(self._waiting_text(self.enrollment))
            if held.state == CertificateRequest.State.REJECTED or held.certificate is None:
                # The rejection is delivered once; a later request starts afresh.
                self._close(record)
                return Rejected(
                    RejectReason.REJECTED_BY_OPERATOR,
                    held.reason or "The request was rejected by an administrator.",
                )
            # Approved: the certificate was issued at approval and is delivered now.
            record.state = SCEPTransaction.State.ISSUED
            record.certificate = held.certificate
            record.save(update_fields=["state", "certificate", "updated"])
            return self._issued(held.certificate)
        cert = (
            Certificate.objects.select_related("ca").filter(pk=record.certificate_id).first()
            if record.certificate_id
            else None
        )
        if (
            record.state != SCEPTransaction.State.ISSUED
            or cert is None
            or cert.status not in (Certificate.Status.ACTIVE, Certificate.Status.PENDING)
            or cert.not_after <= timezone.now()
        ):
            # Its certificate is no longer the enrollment's: a new request enrolls afresh.
            return self._close(record)
        return self._issued(cert, resent=resent)

    @staticmethod
    def _close(record: SCEPTransaction) -> None:
        record.state = SCEPTransaction.State.CLOSED
        record.save(update_fields=["state", "updated"])
        return None

    @staticmethod
    def _issued(cert: Certificate, *, resent: bool = False) -> Issued:
        return Issued(certificate=cert.certificate, chain=chain(cert.ca), resent=resent)

    @staticmethod
    def _waiting_text(enrollment: Enrollment | None) -> str:
        reference = f" of enrollment {enrollment.reference}" if enrollment else ""
        return f"Waiting for an administrator to approve the request{reference}."

    # --- CertPoll (RFC 8894, 3.3.3) ----------------------------------------------------

    def poll(self, request: PollRequest) -> Issued | Pending | Rejected:
        with transaction.atomic():
            record = (
                SCEPTransaction.objects.open()
                .select_for_update()
                .filter(
                    transaction_id=request.transaction_id,
                    subject=x509util.format_name(request.subject),
                )
                .order_by("-created", "-pk")
                .first()
            )
            # RFC 8894, 3.3.3: the CertPoll comes from the requester, signed as its request was.
            if record is None or record.signer_digest != digest(
                request.signer_certificate.public_key()
            ):
                return Rejected(RejectReason.UNKNOWN_TRANSACTION)
            answer = self._state(record, resent=True)
        if answer is None:
            return Rejected(RejectReason.UNKNOWN_TRANSACTION)
        return answer

    # --- GetCert and GetCRL (RFC 8894, 3.3.4) ------------------------------------------

    def get_cert(self, request: CertificateQuery) -> Issued | Rejected:
        cert = engine.find_certificate(request.issuer, request.serial_number)
        # Only to a requester that holds the certificate's key (it signed the GetCert).
        if cert is None or digest(cert.certificate.public_key()) != digest(
            request.signer_certificate.public_key()
        ):
            return Rejected(RejectReason.UNKNOWN_CERTIFICATE)
        return Issued(certificate=cert.certificate, chain=chain(cert.ca))

    def get_crl(self, request: CRLQuery) -> x509.CertificateRevocationList | Rejected:
        subject = x509util.format_name(request.issuer)
        for ca in CertificateAuthority.objects.local().filter(subject=subject):
            if ca.certificate.subject != request.issuer or not ca.has_key:
                continue
            try:
                return x509.load_der_x509_crl(ca_services.current_crl(ca))
            except (ca_services.ServiceError, keystore.KeystoreError):
                log.warning("SCEP GetCRL: CA %s cannot sign its CRL", ca.name, exc_info=True)
        return Rejected(RejectReason.NO_CRL)
