"""The CMP server's backend on the database: the only CMP code that touches the ORM.

It implements :class:`cmp.protocol.server.Backend` with certauth services and
the :class:`~cmp.models.CMPTransaction` model, so every piece of protocol
state lives in the database shared by all workers and hosts.
"""

from __future__ import annotations

import datetime as dt
import logging

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from certauth import keystore
from certauth import services as ca_services
from certauth import x509 as x509util
from certauth.models import Certificate, CertificateAuthority, Enrollment
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
    errors,
)
from cmp.protocol.asn1 import OID
from cmp.protocol.messages import AlgorithmId
from cmp.protocol.protection import SignatureProtector

log = logging.getLogger(__name__)

ENROLLMENT_NOT_FOUND = "Enrollment not found."
# Body types a certificate we issued may sign (RFC 9483, 4.1.2, 4.1.3, 4.2, 4.3).
ISSUED_SIGNER_BODIES = {"cr", "kur", "rr", "genm", "certConf", "pollReq", "error", "p10cr"}
# A vendor device certificate authenticates only its initial enrollment (RFC 9483, 4.1.1).
DEVICE_SIGNER_BODIES = {"ir", "certConf", "pollReq", "error", "genm"}
REASONS = {
    x509.ReasonFlags.unspecified: Certificate.Reason.UNSPECIFIED,
    x509.ReasonFlags.key_compromise: Certificate.Reason.KEY_COMPROMISE,
    x509.ReasonFlags.ca_compromise: Certificate.Reason.CA_COMPROMISE,
    x509.ReasonFlags.affiliation_changed: Certificate.Reason.AFFILIATION_CHANGED,
    x509.ReasonFlags.superseded: Certificate.Reason.SUPERSEDED,
    x509.ReasonFlags.cessation_of_operation: Certificate.Reason.CESSATION_OF_OPERATION,
    x509.ReasonFlags.certificate_hold: Certificate.Reason.CERTIFICATE_HOLD,
}
DEVICE_REFERENCE = "device:"


def default_sender(config: CMPConfig) -> x509.Name | None:
    """The CA that answers before an enrollment is known: CMP > General's default CA,
    else the oldest usable local CA. Errors such as "Enrollment not found." name it
    and are signed by it, so a client that pins it shows the error text."""
    ca = config.default_ca or CertificateAuthority.objects.usable().order_by("created").first()
    return ca.certificate.subject if ca is not None else None


def server_for(backend: DatabaseBackend, config: CMPConfig | None = None) -> CMPServer:
    """A protocol server wired to *backend*, with this deployment's settings."""
    config = config or CMPConfig.load()
    backend.config = config
    return CMPServer(
        backend,
        max_clock_skew=dt.timedelta(seconds=settings.FAC_CMP_CLOCK_SKEW),
        default_sender=default_sender(config),
        error_signer=ca_signer,
    )


def _ca_for_name(sender: x509.Name) -> CertificateAuthority | None:
    subject = x509util.format_name(sender)
    for ca in CertificateAuthority.objects.usable().filter(subject=subject):
        if ca.certificate.subject == sender:
            return ca
    return None


def _protector(ca: CertificateAuthority) -> SignatureProtector:
    return SignatureProtector(
        ca.certificate,
        lambda data, algorithm: keystore.sign_data(ca, data, algorithm),
        ca.hash_algorithm if ca.hash_algorithm in x509util.HASHES else "sha256",
        chain=_chain(ca),
    )


def ca_signer(sender: x509.Name) -> SignatureProtector | None:
    """Sign with the local CA whose subject is *sender*; the key stays in the keystore.

    Used for errors whose request MAC could not be verified (unknown
    enrollment, wrong password): the client pins this CA's certificate
    (FortiGate: the CA named in the enroll command; openssl: -srvcert), so a
    signed error is one it can check and then show its text.
    """
    ca = _ca_for_name(sender)
    return _protector(ca) if ca is not None else None


def _reference(sender_kid: bytes | None) -> str:
    if not sender_kid:
        return ""
    try:
        return sender_kid.decode("utf-8")
    except UnicodeDecodeError:
        return sender_kid.hex()


def _chain(ca: CertificateAuthority) -> tuple[x509.Certificate, ...]:
    return tuple(item.certificate for item in ca.chain())


def _spki(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class DatabaseBackend:
    """One instance per HTTP request (it knows the client's address for the log).

    Rows locked with ``select_for_update`` are read without ``select_related``:
    on PostgreSQL a query that waited for the lock re-reads the locked row but
    not the joined ones, so a certificate that the other transaction created
    would look absent. Related rows are loaded after the lock instead.
    """

    def __init__(self, *, source_ip: str | None = None, profile: str | None = None) -> None:
        self.source_ip = source_ip
        # RFC 9811, 3.3: /.well-known/cmp/p/<label>; the label is an enrollment ID.
        self.profile = profile
        self.config: CMPConfig | None = None
        self.actor = ca_services.Actor(user="", source_ip=source_ip)

    def _config(self) -> CMPConfig:
        if self.config is None:
            self.config = CMPConfig.load()
        return self.config

    def _actor(self, enrollment: Enrollment | None) -> ca_services.Actor:
        return ca_services.Actor(
            user=enrollment.reference if enrollment else "", source_ip=self.source_ip
        )

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
        self._check_profile(enrollment)
        return enrollment

    def _check_profile(self, enrollment: Enrollment) -> None:
        if self.profile is not None and self.profile != enrollment.reference:
            raise errors.NotAuthorized(
                f"senderKID {enrollment.reference} does not match the enrollment ID {self.profile} in the path."
            )

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

    # --- signature-protected requests (RFC 9483, 3.2) ---------------------------------

    def signer(
        self,
        certificate: x509.Certificate,
        extra_certs: tuple[x509.Certificate, ...],
        body_type: str,
    ) -> Signer:
        now = timezone.now()
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise errors.SignerNotTrusted("The protection certificate is not valid now.")
        issued = self._our_certificate(certificate)
        if issued is not None:
            if issued.status == Certificate.Status.REVOKED:
                raise errors.CertRevoked(f"Certificate {issued.serial_colons} is revoked.")
            if issued.status != Certificate.Status.ACTIVE:
                raise errors.NotAuthorized(
                    f"Certificate {issued.serial_colons} is not confirmed yet."
                )
            if body_type not in ISSUED_SIGNER_BODIES:
                raise errors.NotAuthorized(
                    f"A certificate we issued cannot sign an {body_type}; use the enrollment password."
                )
            if issued.enrollment is not None:
                self._check_profile(issued.enrollment)
            return Signer(
                certificate=certificate,
                sender=issued.ca.certificate.subject,
                reference=str(issued.pk),
            )
        anchor = self._trusted_anchor(certificate, extra_certs, now)
        if body_type not in DEVICE_SIGNER_BODIES:
            raise errors.NotAuthorized(f"A device certificate cannot sign an {body_type}.")
        enrollments = Enrollment.objects.filter(type=Enrollment.Type.DEVICE, trusted_ca=anchor)
        if self.profile is not None:
            enrollments = enrollments.filter(reference=self.profile)
        first = enrollments.select_related("ca").first()
        if first is None:
            raise errors.SignerNotTrusted(
                f"No device enrollment trusts CA {anchor.subject}, which issued the device certificate."
            )
        return Signer(
            certificate=certificate,
            sender=first.ca.certificate.subject,
            reference=f"{DEVICE_REFERENCE}{anchor.pk}",
        )

    @staticmethod
    def _our_certificate(certificate: x509.Certificate) -> Certificate | None:
        serial = x509util.serial_hex(certificate.serial_number)
        cert = Certificate.objects.select_related("ca", "enrollment").filter(serial=serial).first()
        if cert is None or cert.certificate != certificate:
            return None
        return cert

    @staticmethod
    def _trusted_anchor(
        certificate: x509.Certificate, extra_certs: tuple[x509.Certificate, ...], now: dt.datetime
    ) -> CertificateAuthority:
        """The trusted CA a device certificate chains to, through extraCerts (RFC 9483, 4.1.1)."""
        trusted = list(CertificateAuthority.objects.trusted().filter(revoked_at__isnull=True))
        current = certificate
        for _depth in range(6):
            for ca in trusted:
                if (
                    ca.certificate.subject != current.issuer
                    or not ca.not_before <= now <= ca.not_after
                ):
                    continue
                try:
                    current.verify_directly_issued_by(ca.certificate)
                except (ValueError, TypeError, InvalidSignature):
                    continue
                return ca
            parent = next(
                (c for c in extra_certs if c.subject == current.issuer and c != current), None
            )
            if parent is None:
                break
            try:
                current.verify_directly_issued_by(parent)
            except (ValueError, TypeError, InvalidSignature):
                break
            if not parent.not_valid_before_utc <= now <= parent.not_valid_after_utc:
                break
            current = parent
        raise errors.SignerNotTrusted("The protection certificate does not chain to a trusted CA.")

    def response_signer(self, sender: x509.Name) -> SignatureProtector:
        ca = _ca_for_name(sender)
        if ca is None:
            raise errors.SystemUnavail("The CA cannot sign responses now.")
        return _protector(ca)

    # --- transactions ---------------------------------------------------------------

    def transaction_in_use(self, transaction_id: bytes) -> bool:
        return CMPTransaction.objects.filter(
            transaction_id=transaction_id.hex(), state__in=CMPTransaction.OPEN_STATES
        ).exists()

    def _atomic(self, work, *args):
        try:
            with transaction.atomic():
                return work(*args)
        except IntegrityError:
            # The partial unique index on open transactionIDs: a concurrent
            # request with the same transactionID won (RFC 9810, 5.1.1).
            raise errors.TransactionIdInUse("transactionID is already in use.") from None

    def certify(self, request: CertificationRequest) -> Issued | Waiting:
        return self._atomic(self._certify, request)

    def _enrollment_for(
        self, request: CertificationRequest
    ) -> tuple[Enrollment, Certificate | None]:
        """The enrollment (locked) and, for a signed cr, the certificate that signed it."""
        signer = request.signer
        if signer is None:
            enrollment = self._enrollment(request.sender_kid)
            return Enrollment.objects.select_for_update().get(pk=enrollment.pk), None
        if signer.reference and signer.reference.startswith(DEVICE_REFERENCE):
            anchor_id = int(signer.reference[len(DEVICE_REFERENCE) :])
            subject = x509util.format_name(request.subject)
            candidates = Enrollment.objects.filter(
                type=Enrollment.Type.DEVICE, trusted_ca_id=anchor_id
            )
            if self.profile is not None:
                candidates = candidates.filter(reference=self.profile)
            candidates = list(candidates)
            # The enrollment that names this subject, else the one without a required subject.
            match = [e for e in candidates if e.subject == subject] or [
                e for e in candidates if not e.subject
            ]
            if len(match) != 1:
                raise errors.BadCertTemplate(
                    f'No device enrollment of this trusted CA accepts the subject "{subject}".'
                )
            return Enrollment.objects.select_for_update().get(pk=match[0].pk), None
        signing_cert = Certificate.objects.select_related("enrollment").get(
            pk=int(signer.reference)
        )
        if signing_cert.enrollment is None:
            raise errors.NotAuthorized("The signing certificate belongs to no enrollment.")
        enrollment = Enrollment.objects.select_for_update().get(pk=signing_cert.enrollment_id)
        return enrollment, signing_cert

    def _certify(self, request: CertificationRequest) -> Issued | Waiting:
        # Lock the enrollment row: two requests on one enrollment at the same
        # moment are serialised, so the duplicate check below sees the first.
        enrollment, signing_cert = self._enrollment_for(request)
        self._check_enabled(enrollment)
        subject = x509util.format_name(request.subject)
        if enrollment.subject and subject != enrollment.subject:
            raise errors.BadCertTemplate(
                f'Subject "{subject}" does not match the enrollment\'s required subject "{enrollment.subject}".'
            )
        sans = self._allowed_sans(enrollment, request.subject_alt_names)
        self._check_key(request.public_key)
        current = None
        if signing_cert is None:
            current = (
                enrollment.certificates.filter(
                    status__in=[Certificate.Status.ACTIVE, Certificate.Status.PENDING]
                )
                .exclude(not_after__lte=timezone.now())
                .order_by("-created")
                .first()
            )
            if current is not None and not enrollment.allow_reenrollment:
                raise errors.DuplicateCertReq(
                    f"Enrollment {enrollment.reference} already holds certificate {current.serial_colons}; "
                    "re-enrollment is not allowed."
                )
        record = CMPTransaction(
            transaction_id=request.transaction_id.hex(),
            enrollment=enrollment,
            sender_kid=_reference(request.sender_kid)
            if request.signer is None
            else enrollment.reference,
            request_kid=(request.sender_kid or b"").hex(),
            body_type=request.body_type,
            pvno=request.pvno,
            cert_req_id=request.cert_req_id,
            request_subject=subject,
            request_public_key=_spki(request.public_key),
            request_sans=[x509util.format_san(name) for name in sans],
            implicit_confirm=request.implicit_confirm_requested,
            old_certificate=current,
            server_nonce=request.response_nonce.hex(),
            source_ip=self.source_ip,
        )
        return self._issue_or_wait(record, enrollment, renewal=False)

    def _issue_or_wait(
        self, record: CMPTransaction, enrollment: Enrollment, *, renewal: bool
    ) -> Issued | Waiting:
        if enrollment.method == Enrollment.Method.MANUAL:
            # RFC 9483, 4.4: the request waits for an administrator; the client polls.
            record.state = CMPTransaction.State.WAITING_APPROVAL
            record.save()
            return Waiting(
                check_after_seconds=self._config().poll_interval,
                reason=f"Waiting for an administrator to approve the request of enrollment {enrollment.reference}.",
            )
        record.save()
        return self.issue(record, enrollment, renewal=renewal)

    def issue(self, record: CMPTransaction, enrollment: Enrollment, *, renewal: bool) -> Issued:
        """Issue what *record* asks for (an automatic request, or one an administrator approved)."""
        implicit = record.implicit_confirm
        try:
            cert = ca_services.issue_certificate(
                ca=enrollment.ca,
                subject=x509util.parse_name(record.request_subject)
                if record.request_subject
                else x509.Name([]),
                public_key=serialization.load_der_public_key(bytes(record.request_public_key)),
                sans=[x509util.parse_san(text) for text in record.request_sans],
                key_usage=enrollment.key_usage,
                ext_key_usage=enrollment.ext_key_usage,
                days=enrollment.validity_days,
                kind=enrollment.kind,
                enrollment=enrollment,
                status=Certificate.Status.ACTIVE if implicit else Certificate.Status.PENDING,
                replaces=record.old_certificate,
                renewal=renewal,
                actor=self._actor(enrollment),
            )
        except ca_services.NotAllowed as exc:
            raise errors.NotAuthorized(str(exc)) from None
        except x509util.InvalidInput as exc:
            raise errors.BadCertTemplate(str(exc)) from None
        record.certificate = cert
        record.state = (
            CMPTransaction.State.CONFIRMED if implicit else CMPTransaction.State.WAITING_CONFIRM
        )
        record.save()
        if implicit and record.old_certificate is not None and self._config().revoke_superseded:
            # RFC 9810, 5.1.1.1: with implicit confirmation the certificate is in
            # force at once, so what it renews or re-enrolls is superseded now.
            old = record.old_certificate
            if old.status != Certificate.Status.REVOKED:
                ca_services.revoke_certificate(
                    old, reason=Certificate.Reason.SUPERSEDED, actor=self._actor(enrollment)
                )
        return self._issued(cert, implicit)

    @staticmethod
    def _issued(cert: Certificate, implicit: bool) -> Issued:
        ca = cert.ca
        return Issued(
            certificate=cert.certificate,
            chain=_chain(ca),
            ca_pubs=(ca.root().certificate,),
            sender=ca.certificate.subject,
            implicit_confirm_granted=implicit,
        )

    def check_public_key(self, public_key) -> None:
        """The key-strength policy, asked by the protocol before the POP is checked."""
        self._check_key(public_key)

    @staticmethod
    def _check_key(public_key) -> None:
        try:
            x509util.check_end_entity_key(public_key)
        except x509util.InvalidInput as exc:
            raise errors.BadCertTemplate(str(exc)) from None

    @staticmethod
    def _allowed_sans(
        enrollment: Enrollment, requested: tuple[x509.GeneralName, ...]
    ) -> list[x509.GeneralName]:
        """Requested SANs, each of which the enrollment must allow (RFC 9483, 4.1.1)."""
        allowed = set(enrollment.allowed_sans)
        refused = [
            x509util.format_san(name)
            for name in requested
            if x509util.format_san(name) not in allowed
        ]
        if refused:
            raise errors.BadCertTemplate(
                f"subjectAltName {', '.join(refused)} is not allowed for enrollment {enrollment.reference}."
            )
        return list(requested)

    # --- kur (RFC 9483, 4.1.3) ------------------------------------------------------

    def update_key(self, request: KeyUpdateRequest) -> Issued | Waiting:
        return self._atomic(self._update_key, request)

    def _old_certificate(self, request: KeyUpdateRequest) -> tuple[Certificate, Enrollment]:
        if request.signer is not None:
            old = Certificate.objects.select_related("ca", "enrollment").get(
                pk=int(request.signer.reference)
            )
        else:
            enrollment = self._enrollment(request.sender_kid)
            if not enrollment.allow_mac_kur:
                raise errors.NotAuthorized(
                    f"Enrollment {enrollment.reference} does not allow password-protected renewal; "
                    "sign the kur with the certificate being renewed."
                )
            if request.old_cert_id is None:
                raise errors.BadCertId(
                    "A password-protected kur must name the certificate in oldCertID."
                )
            old = (
                Certificate.objects.select_related("ca", "enrollment")
                .filter(
                    serial=x509util.serial_hex(request.old_cert_id.serial_number),
                    ca__subject=x509util.format_name(request.old_cert_id.issuer),
                )
                .first()
            )
            if old is None or old.enrollment_id != enrollment.pk:
                raise errors.BadCertId(
                    "No certificate of this enrollment has that issuer and serial number."
                )
        if old.enrollment is None:
            raise errors.NotAuthorized(f"Certificate {old.serial_colons} belongs to no enrollment.")
        enrollment = Enrollment.objects.select_for_update().get(pk=old.enrollment_id)
        old = Certificate.objects.select_for_update().get(pk=old.pk)
        return old, enrollment

    def _update_key(self, request: KeyUpdateRequest) -> Issued | Waiting:
        old, enrollment = self._old_certificate(request)
        self._check_enabled(enrollment)
        now = timezone.now()
        if old.status == Certificate.Status.REVOKED:
            raise errors.CertRevoked(f"Certificate {old.serial_colons} is revoked.")
        if old.not_after <= now:
            raise errors.NotAuthorized(
                f"Certificate {old.serial_colons} has expired; enroll again with ir."
            )
        if old.replaced_by.filter(
            status__in=[Certificate.Status.ACTIVE, Certificate.Status.PENDING]
        ).exists():
            raise errors.NotAuthorized(f"Certificate {old.serial_colons} was already renewed.")
        if enrollment.renewable_days:
            opens = old.not_after - dt.timedelta(days=enrollment.renewable_days)
            if now < opens:
                raise errors.NotAuthorized(
                    f"Certificate {old.serial_colons} can be renewed only within {enrollment.renewable_days} "
                    f"days before it expires, from {opens:%Y-%m-%d %H:%M} UTC."
                )
        # RFC 9483, 4.1.3: the new certificate keeps the subject; requested SANs must be allowed.
        subject = old.certificate.subject
        if request.subject is not None and len(request.subject) and request.subject != subject:
            raise errors.BadCertTemplate(
                f'A renewal keeps the subject "{old.subject}"; '
                f'"{x509util.format_name(request.subject)}" was requested.'
            )
        requested = request.subject_alt_names
        sans = (
            self._allowed_sans(enrollment, requested)
            if requested
            else x509util.certificate_sans(old.certificate)
        )
        self._check_key(request.public_key)
        if x509util.public_keys_match(request.public_key, old.certificate.public_key()):
            raise errors.BadCertTemplate(
                "A key update needs a new key, not the certificate's current one."
            )
        record = CMPTransaction(
            transaction_id=request.transaction_id.hex(),
            enrollment=enrollment,
            sender_kid=enrollment.reference,
            request_kid=(request.sender_kid or b"").hex(),
            body_type="kur",
            pvno=request.pvno,
            cert_req_id=request.cert_req_id,
            request_subject=old.subject,
            request_public_key=_spki(request.public_key),
            request_sans=[x509util.format_san(name) for name in sans],
            implicit_confirm=request.implicit_confirm_requested,
            old_certificate=old,
            server_nonce=request.response_nonce.hex(),
            source_ip=self.source_ip,
        )
        return self._issue_or_wait(record, enrollment, renewal=True)

    # --- certConf -----------------------------------------------------------------------

    def pending_confirmation(self, transaction_id: bytes) -> PendingConfirmation | None:
        record = (
            CMPTransaction.objects.select_related("certificate__ca")
            .filter(transaction_id=transaction_id.hex(), state=CMPTransaction.State.WAITING_CONFIRM)
            .first()
        )
        if record is None or record.certificate is None:
            return None
        return PendingConfirmation(
            sender_kid=bytes.fromhex(record.request_kid) if record.request_kid else None,
            recip_nonce=bytes.fromhex(record.server_nonce),
            certificate=record.certificate.certificate,
            sender=record.certificate.ca.certificate.subject,
        )

    def confirm(self, transaction_id: bytes, *, accepted: bool, reason: str | None) -> None:
        with transaction.atomic():
            record = (
                CMPTransaction.objects.select_for_update()
                .filter(
                    transaction_id=transaction_id.hex(), state=CMPTransaction.State.WAITING_CONFIRM
                )
                .first()
            )
            if record is None:
                raise errors.BadRequest("No certificate of this transaction awaits confirmation.")
            cert = record.certificate
            actor = self._actor(record.enrollment)
            if cert is not None and accepted:
                ca_services.confirm_certificate(
                    cert, supersede=self._config().revoke_superseded, actor=actor
                )
                record.state = CMPTransaction.State.CONFIRMED
            elif cert is not None:
                # RFC 9810, 5.3.18: a rejected certificate is revoked.
                ca_services.reject_certificate(cert, reason=reason or "", actor=actor)
                record.state = CMPTransaction.State.REJECTED
            record.save(update_fields=["state", "updated"])

    # --- rr (RFC 9483, 4.2) -------------------------------------------------------

    def revoke(self, request: RevocationRequest) -> None:
        with transaction.atomic():
            cert = (
                Certificate.objects.select_for_update(of=("self",))
                .filter(
                    serial=x509util.serial_hex(request.serial_number),
                    ca__subject=x509util.format_name(request.issuer),
                )
                .first()
            )
            if cert is None:
                raise errors.BadCertId("No certificate of ours has this issuer and serial number.")
            if request.signer is not None:
                # RFC 9483, 4.2: the rr is signed by the certificate being revoked.
                if request.signer.reference != str(cert.pk):
                    raise errors.NotAuthorized(
                        "Only the certificate itself may request its revocation."
                    )
            else:
                enrollment = self._enrollment(request.sender_kid)
                if cert.enrollment_id != enrollment.pk:
                    raise errors.NotAuthorized(
                        f"Certificate {cert.serial_colons} does not belong to enrollment {enrollment.reference}."
                    )
                if not enrollment.allow_mac_kur:
                    raise errors.NotAuthorized(
                        f"Enrollment {enrollment.reference} does not allow password-protected requests "
                        "for an issued certificate; sign the rr with the certificate."
                    )
            if cert.status == Certificate.Status.REVOKED:
                raise errors.CertRevoked(f"Certificate {cert.serial_colons} is already revoked.")
            reason = request.reason or x509.ReasonFlags.unspecified
            if reason not in REASONS:
                raise errors.BadDataFormat(f"Revocation reason {reason.value} cannot be requested.")
            ca_services.revoke_certificate(
                cert, reason=REASONS[reason], actor=self._actor(cert.enrollment)
            )

    # --- genm (RFC 9483, 4.3) ------------------------------------------------------

    def _requesting_enrollment(self, request) -> Enrollment | None:
        if request.signer is None:
            return self._enrollment(request.sender_kid)
        if request.signer.reference and not request.signer.reference.startswith(DEVICE_REFERENCE):
            return (
                Certificate.objects.select_related("enrollment__ca")
                .get(pk=int(request.signer.reference))
                .enrollment
            )
        return None

    def general_info(self, kind: str, request: GeneralRequest) -> GeneralInfo:
        enrollment = self._requesting_enrollment(request)
        if enrollment is not None:
            ca = enrollment.ca
        else:
            ca = _ca_for_name(request.signer.sender) if request.signer else None
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
            return tuple(
                AlgorithmId(oid, b"\x05\x00" if "113549" in oid else None)
                for oid in (
                    OID.sha256_with_rsa,
                    OID.sha384_with_rsa,
                    OID.sha512_with_rsa,
                    OID.ecdsa_with_sha256,
                    OID.ecdsa_with_sha384,
                    OID.ecdsa_with_sha512,
                )
            )
        return None

    @staticmethod
    def _template(enrollment: Enrollment | None) -> CertReqTemplate | None:
        """RFC 9483, 4.3.3: what the enrollment will put in the certificate."""
        if enrollment is None:
            return None
        extensions = []
        if enrollment.key_usage:
            extensions.append(
                x509.Extension(
                    x509.KeyUsage.oid, True, x509util.key_usage_extension(enrollment.key_usage)
                )
            )
        if enrollment.ext_key_usage:
            extensions.append(
                x509.Extension(
                    x509.ExtendedKeyUsage.oid,
                    False,
                    x509util.ext_key_usage_extension(enrollment.ext_key_usage),
                )
            )
        return CertReqTemplate(
            subject=x509util.parse_name(enrollment.subject) if enrollment.subject else None,
            extensions=tuple(extensions),
            rsa_key_size=2048,
            ec_curve="secp256r1",
        )

    @staticmethod
    def _newer_crls(request: GeneralRequest) -> tuple[x509.CertificateRevocationList, ...]:
        """RFC 9483, 4.3.4: the CRLs newer than those the client holds."""
        from certauth.pki_views import crl_url, current_crl

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
                    (c for c in CertificateAuthority.objects.usable() if crl_url(c) in urls), None
                )
            if ca is None:
                continue
            crl = x509.load_der_x509_crl(current_crl(ca))
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
                    state__in=[
                        CMPTransaction.State.WAITING_APPROVAL,
                        CMPTransaction.State.APPROVED,
                        CMPTransaction.State.REJECTED,
                    ],
                )
                .order_by("-created")
                .first()
            )
            if record is None or record.enrollment is None:
                raise errors.BadRequest("No request of this transaction awaits approval.")
            if record.request_kid != (request.sender_kid or b"").hex():
                # RFC 9810, 5.1.1: only the requester may poll its transaction.
                raise errors.NotAuthorized("pollReq does not come from the sender of the request.")
            ca = record.enrollment.ca
            outcome = {
                "request_body_type": record.body_type,
                "sender_kid": bytes.fromhex(record.request_kid) if record.request_kid else None,
                "sender": ca.certificate.subject,
                "cert_req_id": record.cert_req_id,
            }
            if record.state == CMPTransaction.State.WAITING_APPROVAL:
                return PollOutcome(
                    result=Waiting(
                        check_after_seconds=self._config().poll_interval,
                        reason="Waiting for an administrator to approve the request.",
                    ),
                    **outcome,
                )
            if record.state == CMPTransaction.State.REJECTED:
                record.state = CMPTransaction.State.FAILED
                record.save(update_fields=["state", "updated"])
                return PollOutcome(
                    result=Rejected(
                        reason=record.reject_reason
                        or "The request was rejected by an administrator.",
                        failure=errors.FailureInfo.notAuthorized,
                    ),
                    **outcome,
                )
            # Approved: the certificate was issued at approval; the certConf now
            # echoes the nonce of this pollRep's final response (RFC 9810, 5.1.1).
            record.server_nonce = request.response_nonce.hex()
            implicit = record.implicit_confirm and request.implicit_confirm_requested
            record.state = (
                CMPTransaction.State.CONFIRMED if implicit else CMPTransaction.State.WAITING_CONFIRM
            )
            record.save(update_fields=["server_nonce", "state", "updated"])
            cert = record.certificate
            if implicit and cert.status == Certificate.Status.PENDING:
                ca_services.confirm_certificate(
                    cert,
                    supersede=self._config().revoke_superseded,
                    actor=self._actor(record.enrollment),
                )
            return PollOutcome(result=self._issued(cert, implicit), **outcome)
