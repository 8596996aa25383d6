"""The CMP server's backend on the database: the only CMP code that touches the ORM.

It implements :class:`cmp.protocol.server.Backend` with certauth services and
the :class:`~cmp.models.CMPTransaction` model, so every piece of protocol
state lives in the database shared by all workers and hosts.
"""

from __future__ import annotations

import datetime as dt
import logging

from cryptography import x509
from django.conf import settings
from django.db import IntegrityError, transaction

from certauth import keystore
from certauth import services as ca_services
from certauth import x509 as x509util
from certauth.models import Certificate, CertificateAuthority, Enrollment
from cmp.models import CMPConfig, CMPTransaction
from cmp.protocol import errors
from cmp.protocol.protection import SignatureProtector
from cmp.protocol.server import (
    CertificationRequest,
    CMPServer,
    Issued,
    PendingConfirmation,
    SharedSecret,
)

log = logging.getLogger(__name__)

ENROLLMENT_NOT_FOUND = "Enrollment not found."


def server_for(backend: DatabaseBackend, config: CMPConfig | None = None) -> CMPServer:
    """A protocol server wired to *backend*, with this deployment's settings."""
    config = config or CMPConfig.load()
    default_sender = None
    ca = config.default_ca or CertificateAuthority.objects.usable().order_by("created").first()
    if ca is not None:
        # Errors sent before an enrollment is known (e.g. "Enrollment not found.")
        # name the default CA: a client that pins it then shows the error text.
        default_sender = ca.certificate.subject
    return CMPServer(
        backend,
        max_clock_skew=dt.timedelta(seconds=settings.FAC_CMP_CLOCK_SKEW),
        default_sender=default_sender,
        error_signer=ca_signer,
    )


def ca_signer(sender: x509.Name) -> SignatureProtector | None:
    """Sign with the local CA whose subject is *sender*; the key stays in the keystore.

    Used for errors whose request MAC could not be verified (unknown
    enrollment, wrong password): the client pins this CA's certificate
    (FortiGate: the CA named in the enroll command; openssl: -srvcert), so a
    signed error is one it can check and then show its text.
    """
    subject = x509util.format_name(sender)
    for ca in CertificateAuthority.objects.usable().filter(subject=subject):
        if ca.certificate.subject != sender:
            continue
        return SignatureProtector(
            ca.certificate,
            lambda data, algorithm, ca=ca: keystore.sign_data(ca, data, algorithm),
            ca.hash_algorithm if ca.hash_algorithm in x509util.HASHES else "sha256",
        )
    return None


def _reference(sender_kid: bytes | None) -> str:
    if not sender_kid:
        return ""
    try:
        return sender_kid.decode("utf-8")
    except UnicodeDecodeError:
        return sender_kid.hex()


def _chain(ca: CertificateAuthority) -> tuple[x509.Certificate, ...]:
    return tuple(item.certificate for item in ca.chain())


class DatabaseBackend:
    """One instance per HTTP request (it knows the client's address for the log)."""

    def __init__(self, *, source_ip: str | None = None, profile: str | None = None) -> None:
        self.source_ip = source_ip
        # RFC 9811, 3.3: /.well-known/cmp/p/<label>; the label is an enrollment ID.
        self.profile = profile
        self.actor = ca_services.Actor(user="", source_ip=source_ip)

    # --- authentication -------------------------------------------------------------

    def _enrollment(self, sender_kid: bytes | None) -> Enrollment:
        # RFC 9483, 3.1 / FortiAuthenticator: senderKID is the enrollment ID, exact match.
        reference = _reference(sender_kid)
        enrollment = (
            Enrollment.objects.select_related("ca").filter(reference=reference).first()
            if reference
            else None
        )
        if enrollment is None or enrollment.reference != reference:
            raise errors.SignerNotTrusted(ENROLLMENT_NOT_FOUND)
        if self.profile is not None and self.profile != reference:
            raise errors.NotAuthorized(
                f"senderKID {reference} does not match the enrollment ID {self.profile} in the path."
            )
        return enrollment

    def mac_secret(self, sender_kid: bytes) -> SharedSecret:
        enrollment = self._enrollment(sender_kid)
        if not enrollment.has_password:
            raise errors.NotAuthorized(
                f"Enrollment {enrollment.reference} has no password: it authenticates with a device certificate."
            )
        return SharedSecret(
            secret=keystore.secret_for(enrollment), sender=enrollment.ca.certificate.subject
        )

    @staticmethod
    def _check_enabled(enrollment: Enrollment) -> None:
        if not enrollment.enabled:
            raise errors.NotAuthorized(f"Enrollment {enrollment.reference} is disabled.")
        if enrollment.status == Enrollment.Status.REJECTED:
            raise errors.NotAuthorized(f"Enrollment {enrollment.reference} was rejected.")
        if enrollment.status == Enrollment.Status.PENDING:
            raise errors.NotAuthorized(f"Enrollment {enrollment.reference} is pending approval.")

    # --- transactions ---------------------------------------------------------------

    def transaction_in_use(self, transaction_id: bytes) -> bool:
        return CMPTransaction.objects.filter(
            transaction_id=transaction_id.hex(), state__in=CMPTransaction.OPEN_STATES
        ).exists()

    def certify(self, request: CertificationRequest) -> Issued:
        try:
            with transaction.atomic():
                return self._certify(request)
        except IntegrityError:
            # The partial unique index on open transactionIDs: a concurrent
            # request with the same transactionID won (RFC 9810, 5.1.1).
            raise errors.TransactionIdInUse("transactionID is already in use.") from None

    def _certify(self, request: CertificationRequest) -> Issued:
        # Lock the enrollment row: two requests on one enrollment at the same
        # moment are serialised, so the duplicate check below sees the first.
        enrollment = Enrollment.objects.select_for_update().select_related("ca").get(
            pk=self._enrollment(request.sender_kid).pk
        )
        self._check_enabled(enrollment)
        subject = x509util.format_name(request.subject)
        if enrollment.subject and subject != enrollment.subject:
            raise errors.BadCertTemplate(
                f'Subject "{subject}" does not match the enrollment\'s required subject "{enrollment.subject}".'
            )
        sans = self._allowed_sans(enrollment, request.subject_alt_names)
        try:
            x509util.check_end_entity_key(request.public_key)
        except x509util.InvalidInput as exc:
            raise errors.BadCertTemplate(str(exc)) from None

        current = enrollment.certificates.filter(
            status__in=[Certificate.Status.ACTIVE, Certificate.Status.PENDING]
        ).exclude(not_after__lte=dt.datetime.now(dt.UTC)).order_by("-created").first()
        if current is not None and not enrollment.allow_reenrollment:
            raise errors.DuplicateCertReq(
                f"Enrollment {enrollment.reference} already holds certificate {current.serial_colons}; "
                "re-enrollment is not allowed."
            )

        implicit = request.implicit_confirm_requested
        try:
            cert = ca_services.issue_certificate(
                ca=enrollment.ca,
                subject=request.subject,
                public_key=request.public_key,
                sans=sans,
                key_usage=enrollment.key_usage,
                ext_key_usage=enrollment.ext_key_usage,
                days=enrollment.validity_days,
                kind=enrollment.kind,
                enrollment=enrollment,
                status=Certificate.Status.ACTIVE if implicit else Certificate.Status.PENDING,
                replaces=current,
                actor=ca_services.Actor(user=enrollment.reference, source_ip=self.source_ip),
            )
        except ca_services.NotAllowed as exc:
            raise errors.NotAuthorized(str(exc)) from None
        except x509util.InvalidInput as exc:
            raise errors.BadCertTemplate(str(exc)) from None

        CMPTransaction.objects.create(
            transaction_id=request.transaction_id.hex(),
            enrollment=enrollment,
            sender_kid=enrollment.reference,
            body_type=request.body_type,
            state=CMPTransaction.State.CONFIRMED if implicit else CMPTransaction.State.WAITING_CONFIRM,
            server_nonce=request.response_nonce.hex(),
            certificate=cert,
            pvno=request.pvno,
        )
        if implicit and current is not None:
            # RFC 9810, 5.1.1.1: with implicit confirmation the certificate is in
            # force at once, so what it re-enrolls is superseded now.
            ca_services.revoke_certificate(
                current, reason=Certificate.Reason.SUPERSEDED, actor=self.actor
            )
        ca = enrollment.ca
        return Issued(
            certificate=cert.certificate,
            chain=_chain(ca),
            ca_pubs=(ca.root().certificate,),
            sender=ca.certificate.subject,
            implicit_confirm_granted=implicit,
        )

    @staticmethod
    def _allowed_sans(
        enrollment: Enrollment, requested: tuple[x509.GeneralName, ...]
    ) -> list[x509.GeneralName]:
        """Requested SANs, each of which the enrollment must allow (RFC 9483, 4.1.1)."""
        allowed = set(enrollment.allowed_sans)
        refused = [x509util.format_san(name) for name in requested if x509util.format_san(name) not in allowed]
        if refused:
            raise errors.BadCertTemplate(
                f"subjectAltName {', '.join(refused)} is not allowed for enrollment {enrollment.reference}."
            )
        return list(requested)

    def pending_confirmation(self, transaction_id: bytes) -> PendingConfirmation | None:
        record = (
            CMPTransaction.objects.select_related("certificate__ca")
            .filter(transaction_id=transaction_id.hex(), state=CMPTransaction.State.WAITING_CONFIRM)
            .first()
        )
        if record is None or record.certificate is None:
            return None
        return PendingConfirmation(
            sender_kid=record.sender_kid.encode(),
            recip_nonce=bytes.fromhex(record.server_nonce),
            certificate=record.certificate.certificate,
            sender=record.certificate.ca.certificate.subject,
        )

    def confirm(self, transaction_id: bytes, *, accepted: bool, reason: str | None) -> None:
        with transaction.atomic():
            record = (
                CMPTransaction.objects.select_for_update()
                .filter(transaction_id=transaction_id.hex(), state=CMPTransaction.State.WAITING_CONFIRM)
                .first()
            )
            if record is None:
                raise errors.BadRequest("No certificate of this transaction awaits confirmation.")
            cert = record.certificate
            actor = ca_services.Actor(user=record.sender_kid, source_ip=self.source_ip)
            if cert is not None and accepted:
                ca_services.confirm_certificate(cert, actor=actor)
                record.state = CMPTransaction.State.CONFIRMED
            elif cert is not None:
                # RFC 9810, 5.3.18: a rejected certificate is revoked.
                ca_services.reject_certificate(cert, reason=reason or "", actor=actor)
                record.state = CMPTransaction.State.REJECTED
            record.save(update_fields=["state", "updated"])
