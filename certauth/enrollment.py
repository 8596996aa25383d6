"""The enrollment engine: every protocol's certificate requests are decided here.

A protocol adapter (CMP, SCEP, ...) authenticates the client its own way
(a MAC with the enrollment password, a signature, a challenge password),
asks this module who the client is (:func:`find_enrollment`,
:func:`identify_signer`), and hands over a protocol-neutral :class:`Request`.
:func:`request_certificate` applies the enrollment's rules and returns a
:class:`Decision`: a certificate issued now, or a request held for an
administrator's approval. A refusal is a :class:`Refused` exception carrying a
:class:`Reason`; each adapter maps reasons to its wire codes in one table.

Nothing here knows a protocol: adapters import this module, never the reverse.

The invariants this module guarantees for every entry point:

- at most one *active* certificate per enrollment at any moment. When a
  certificate comes into force (confirmed, or issued without confirmation),
  every older active or pending certificate of its enrollment is superseded:
  revoked (reason superseded) when the adapter asks for it, else marked
  ``superseded`` (still valid, no longer the enrollment's certificate). A
  partial unique index backs this up in the database;
- a confirmation of a superseded or revoked certificate is refused;
- the validity a client asks for is honoured within the enrollment's profile
  and the CA's own validity.
"""

from __future__ import annotations

import datetime as dt
import enum
import fnmatch
import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from certauth import events, keystore, profiles, services, throttle
from certauth import x509 as x509util
from certauth.events import Actor
from certauth.models import (
    Certificate,
    CertificateAuthority,
    CertificateRequest,
    Enrollment,
)
from certauth.prepared import Prepared, update
from certauth.x509 import InvalidInput, PublicKey

log = logging.getLogger(__name__)

ENROLLMENT_NOT_FOUND = "Enrollment not found."
#: How many certificates a device certificate may chain through (extraCerts) to its trusted CA.
MAX_DEVICE_CHAIN = 6


class Reason(enum.StrEnum):
    """Why the engine refuses a request."""

    ENROLLMENT_NOT_FOUND = "enrollment_not_found"
    WRONG_ENROLLMENT = "wrong_enrollment"  # the path names another enrollment
    WRONG_PASSWORD = "wrong_password"  # noqa: S105
    SUBJECT_NOT_LISTED = "subject_not_listed"
    ENROLLMENT_DISABLED = "enrollment_disabled"
    ENROLLMENT_REJECTED = "enrollment_rejected"
    ENROLLMENT_PENDING = "enrollment_pending"
    NO_PASSWORD = "no_password"  # noqa: S105
    SUBJECT_MISMATCH = "subject_mismatch"
    SUBJECT_MISSING = "subject_missing"
    SAN_NOT_ALLOWED = "san_not_allowed"
    BAD_KEY = "bad_key"
    BAD_VALIDITY = "bad_validity"
    ALREADY_ENROLLED = "already_enrolled"
    CERT_UNKNOWN = "cert_unknown"
    CERT_NOT_OF_ENROLLMENT = "cert_not_of_enrollment"
    CERT_WITHOUT_ENROLLMENT = "cert_without_enrollment"
    CERT_REVOKED = "cert_revoked"
    CERT_NOT_CONFIRMED = "cert_not_confirmed"
    CERT_EXPIRED = "cert_expired"
    ALREADY_RENEWED = "already_renewed"
    OUTSIDE_RENEWAL_WINDOW = "outside_renewal_window"
    RENEWAL_SAME_KEY = "renewal_same_key"
    RENEWAL_SUBJECT_CHANGED = "renewal_subject_changed"
    PASSWORD_RENEWAL_NOT_ALLOWED = "password_renewal_not_allowed"  # noqa: S105
    PASSWORD_REVOCATION_NOT_ALLOWED = "password_revocation_not_allowed"  # noqa: S105
    NOT_CERTIFICATE_OWNER = "not_certificate_owner"
    ALREADY_REVOKED = "already_revoked"
    BAD_REVOCATION_REASON = "bad_revocation_reason"
    SIGNER_NOT_VALID = "signer_not_valid"
    SIGNER_NOT_TRUSTED = "signer_not_trusted"
    SIGNER_NOT_ALLOWED = "signer_not_allowed"
    NO_DEVICE_ENROLLMENT = "no_device_enrollment"
    DEVICE_SUBJECT_NOT_ACCEPTED = "device_subject_not_accepted"
    CA_CANNOT_SIGN = "ca_cannot_sign"
    INVALID_REQUEST = "invalid_request"
    REJECTED_BY_ADMINISTRATOR = "rejected_by_administrator"
    CONFIRMATION_REFUSED = "confirmation_refused"
    NOT_WAITING = "not_waiting"
    RENEWAL_PENDING = "renewal_pending"  # a replacement awaits its confirmation


class Refused(services.ServiceError):
    """The engine refuses a request; ``reason`` says why, the message says it in words."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Operation(enum.StrEnum):
    """What a client asks for; each protocol maps its messages to these."""

    ENROLL = "enroll"  # a first certificate (CMP ir, SCEP PKCSReq)
    REQUEST = "request"  # a further certificate (CMP cr, p10cr)
    RENEW = "renew"  # a key update of a certificate (CMP kur, SCEP RenewalReq)
    REVOKE = "revoke"  # CMP rr
    QUERY = "query"  # CA certificates, templates, CRLs (CMP genm)
    CONTINUE = "continue"  # the later messages of a transaction (confirmation, polling)


class Credential(enum.StrEnum):
    PASSWORD = "password"  # noqa: S105 - the enrollment password (CMP MAC, SCEP challenge)
    ISSUED_CERTIFICATE = "issued"  # a certificate this CA issued, of the enrollment
    DEVICE_CERTIFICATE = "device"  # a vendor certificate chaining to a trusted CA
    MANAGEMENT_ENTITY = "management"  # the RA a CA trusts to revoke for others


#: What each kind of certificate may authorize (RFC 9483, 4.1-4.3 and 5.3.2): a
#: vendor certificate only its device's initial enrollment; a certificate we
#: issued further certificates of its enrollment (an ir or cr, where the
#: enrollment accepts requests signed by its certificates), its renewal and
#: revocation; a trusted management entity revocations for others.
SIGNER_OPERATIONS = {
    Credential.ISSUED_CERTIFICATE: frozenset(
        {
            Operation.ENROLL,
            Operation.REQUEST,
            Operation.RENEW,
            Operation.REVOKE,
            Operation.QUERY,
            Operation.CONTINUE,
        }
    ),
    Credential.DEVICE_CERTIFICATE: frozenset(
        {Operation.ENROLL, Operation.QUERY, Operation.CONTINUE}
    ),
    Credential.MANAGEMENT_ENTITY: frozenset(
        {Operation.REVOKE, Operation.QUERY, Operation.CONTINUE}
    ),
}
#: The operations that ask for a new certificate with an issued certificate's
#: signature: each needs its enrollment's "accept requests signed by certificates
#: it issued".
_NEW_CERTIFICATE = frozenset({Operation.ENROLL, Operation.REQUEST})
#: The operations a certificate may not sign while a certificate replacing it
#: awaits its confirmation (RFC 9483, 4.1.3).
_REPLACING = frozenset({Operation.ENROLL, Operation.REQUEST, Operation.RENEW, Operation.REVOKE})


@dataclass(frozen=True)
class Signer:
    """Who signed a request, once :func:`identify_signer` trusts the signature's certificate.

    ``certificate``: our certificate that signed (issued credential).
    ``anchor``: the trusted CA a vendor certificate chains to, and ``enrollments``
    the device enrollments that trust it (device credential).
    ``ca``: the CA that answers this signer (for a management entity: the CA
    that trusts it, whose certificates it may revoke).
    """

    credential: Credential
    ca: CertificateAuthority
    certificate: Certificate | None = None
    anchor: CertificateAuthority | None = None
    enrollments: tuple[Enrollment, ...] = ()


@dataclass(frozen=True)
class Request:
    """A certificate request, protocol-neutral, from an authenticated client.

    ``enrollment`` is the enrollment the credential belongs to, or None for a
    vendor certificate (the engine then picks the device enrollment by subject).
    ``renews`` is the certificate being renewed (RENEW). ``not_before`` /
    ``not_after`` are the validity the client asks for, if any.
    ``needs_confirmation``: the certificate stays pending until the client
    confirms it (CMP without implicit confirmation).
    ``revoke_replaced``: revoke what the new certificate replaces, once it is in force.
    ``extensions``: the extensions the client asks for (subjectAltName aside,
    which ``sans`` carries); what the enrollment's profile grants otherwise is
    told in :attr:`Decision.modified`, what it cannot grant is refused.
    """

    protocol: str
    operation: Operation
    message: str  # the protocol's name for it, for logs: "ir", "kur", "PKCSReq"
    credential: Credential
    subject: x509.Name
    public_key: PublicKey
    enrollment: Enrollment | None = None
    signer: Signer | None = None
    sans: tuple[x509.GeneralName, ...] = ()
    renews: Certificate | None = None
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    needs_confirmation: bool = False
    revoke_replaced: bool = True
    source_ip: str | None = None
    extensions: tuple[x509.Extension, ...] = ()


@dataclass(frozen=True)
class Decision:
    """What :func:`request_certificate` decided: exactly one of the two is set.

    ``modified`` says, in words, where the certificate differs from what the
    request asked for (an extension replaced or dropped by the profile, a
    shorter validity); empty when it is what was asked (RFC 9810, 5.2.3:
    grantedWithMods for CMP).
    """

    enrollment: Enrollment
    certificate: Certificate | None = None
    held: CertificateRequest | None = None
    modified: tuple[str, ...] = ()

    @property
    def waiting(self) -> bool:
        return self.held is not None


@dataclass(frozen=True)
class Template:
    """What an enrollment puts in its certificates (CMP genm certReqTemplate, RFC 9483, 4.3.3).

    The key it suggests is one of: an RSA key of ``rsa_key_size`` bits, an EC
    key on ``ec_curve``, an EdDSA key of type ``eddsa`` (RFC 9483, 4.3.3: one
    key type, never several).
    """

    subject: x509.Name | None
    key_usage: tuple[str, ...]
    ext_key_usage: tuple[str, ...]
    rsa_key_size: int | None = profiles.MIN_RSA_BITS
    ec_curve: str | None = None
    extensions: tuple[x509.Extension, ...] = field(default=())
    eddsa: str | None = None


def _actor(enrollment: Enrollment | None, source_ip: str | None) -> Actor:
    return Actor(user=enrollment.reference if enrollment else "", source_ip=source_ip)


# --- Who is asking -------------------------------------------------------------------


def enrollments_by_reference(reference: str) -> QuerySet[Enrollment]:
    """The lookup of :func:`find_enrollment`: the enrollment a client names, with its
    CA (it signs and it is checked), but not the CA's CRL, which grows with every
    revocation. A protocol may annotate it to learn more in the same statement, and
    hand the row to :func:`found_enrollment`."""
    return (
        Enrollment.objects.select_related("ca")
        .defer("ca__crl_der")
        .filter(reference=reference)
        .order_by()
    )


_ENROLLMENT_BY_REFERENCE = Prepared(lambda reference: enrollments_by_reference(reference)[:1], str)
_LOCKED_ENROLLMENT = Prepared(
    lambda pk: Enrollment.objects.select_for_update().filter(pk=pk).order_by()[:1], int
)
_LOCKED_CERTIFICATE = Prepared(
    lambda pk: Certificate.objects.select_for_update().filter(pk=pk).order_by()[:1], int
)
_CURRENT_CERTIFICATE = Prepared(
    lambda enrollment_id, now: Certificate.objects.filter(
        enrollment_id=enrollment_id,
        status__in=[Certificate.Status.ACTIVE, Certificate.Status.PENDING],
        not_after__gt=now,
    ).order_by("-pk")[:1],
    int,
    dt.datetime,
)
#: A certificate and its enrollment's older certificates in force or pending, locked
#: in one statement (the enrollment is locked first, as everywhere).
_LOCKED_CERTIFICATE_AND_OLDER = Prepared(
    lambda enrollment_id, pk: (
        Certificate.objects.select_for_update()
        .filter(enrollment_id=enrollment_id)
        .filter(
            Q(pk=pk)
            | Q(pk__lt=pk, status__in=[Certificate.Status.ACTIVE, Certificate.Status.PENDING])
        )
        .order_by("pk")
    ),
    int,
    int,
)
_OLDER_CERTIFICATES = Prepared(
    lambda enrollment_id, pk: Certificate.objects.select_for_update().filter(
        enrollment_id=enrollment_id,
        pk__lt=pk,
        status__in=[Certificate.Status.ACTIVE, Certificate.Status.PENDING],
    ),
    int,
    int,
)


def find_enrollment(reference: str, *, label: str | None = None) -> Enrollment:
    """The enrollment a client names (CMP senderKID), exact match.

    *label* is an enrollment ID the request's URL names (RFC 9811, 3.3
    ``/.well-known/cmp/p/<label>``); the enrollment must be that one.
    """
    enrollment = _ENROLLMENT_BY_REFERENCE.first(reference) if reference else None
    return found_enrollment(enrollment, reference, label=label)


def found_enrollment(
    enrollment: Enrollment | None, reference: str, *, label: str | None = None
) -> Enrollment:
    """:func:`find_enrollment` for a row a protocol looked up itself (with
    :func:`enrollments_by_reference`, or through a row naming the enrollment)."""
    # The database's collation may match case-insensitively: the ID is exact.
    if not reference or enrollment is None or enrollment.reference != reference:
        raise Refused(Reason.ENROLLMENT_NOT_FOUND, ENROLLMENT_NOT_FOUND)
    _check_label(enrollment, label)
    return enrollment


def _check_label(enrollment: Enrollment, label: str | None) -> None:
    if label is not None and label != enrollment.reference:
        raise Refused(
            Reason.WRONG_ENROLLMENT,
            f"Enrollment {enrollment.reference} does not match the enrollment ID {label} in the path.",
        )


def shared_secret(enrollment: Enrollment) -> bytes:
    """The enrollment password, to check a MAC or a challenge (from the keystore)."""
    if not enrollment.has_password:
        raise Refused(
            Reason.NO_PASSWORD,
            f"Enrollment {enrollment.reference} has no password: "
            "it authenticates with a device certificate.",
        )
    return keystore.secret_for(enrollment)


def find_by_challenge(
    subject: x509.Name, challenge: str, *, protocol: str, source_ip: str | None = None
) -> Enrollment:
    """The enrollment a request with a challenge password belongs to (SCEP, RFC 8894, 2.2).

    A regular enrollment is found by the subject it names; a wildcard one by
    the keyed digest of its challenge (no password is decrypted to search),
    then its subject pattern. The three failures have their own reasons
    (unknown enrollment, wrong password, subject not listed), which the
    protocol may answer alike and log apart.
    """
    text = x509util.format_name(subject)
    keys = [f"{protocol}-subject:{text[:150]}"] + (
        [f"{protocol}-ip:{source_ip}"] if source_ip else []
    )
    wait, _tracked = throttle.status(keys)
    if wait is not None:
        # Locked out (certauth.throttle): refused before any password is compared.
        raise Refused(
            Reason.WRONG_PASSWORD,
            f'Too many failed attempts for "{text}"'
            + (f" or from {source_ip}" if source_ip else "")
            + f"; try again in {wait} s.",
        )
    try:
        return _find_by_challenge(subject, text, challenge, protocol=protocol)
    except Refused:
        throttle.record_failure(keys, actor=Actor(source_ip=source_ip))
        raise


def _find_by_challenge(
    subject: x509.Name, text: str, challenge: str, *, protocol: str
) -> Enrollment:
    regular = (
        Enrollment.objects.select_related("ca")
        .filter(protocol=protocol, wildcard=False, subject=text)
        .first()
    )
    if regular is not None:
        if not regular.has_password or not hmac.compare_digest(
            keystore.secret_for(regular), challenge.encode()
        ):
            raise Refused(
                Reason.WRONG_PASSWORD,
                f'Wrong challenge password for enrollment {regular.reference} ("{text}").',
            )
        return regular
    index = keystore.secret_index(challenge.encode()) if challenge else ""
    candidates = list(
        Enrollment.objects.select_related("ca").filter(
            protocol=protocol, wildcard=True, password_index=index
        )
    )
    # The digest finds the candidates; the password itself decides.
    candidates = [
        e
        for e in candidates
        if e.has_password and hmac.compare_digest(keystore.secret_for(e), challenge.encode())
    ]
    if not candidates:
        raise Refused(
            Reason.ENROLLMENT_NOT_FOUND,
            f'No enrollment names the subject "{text}" or has this challenge password.',
        )
    for enrollment in sorted(candidates, key=lambda e: e.reference):
        if not enrollment.subject_pattern or subject_matches(subject, enrollment.subject_pattern):
            return enrollment
    raise Refused(
        Reason.SUBJECT_NOT_LISTED,
        f'Subject "{text}" does not match the subject pattern of enrollment '
        f"{candidates[0].reference} ({candidates[0].subject_pattern}).",
    )


def check_usable(enrollment: Enrollment) -> None:
    """An enrollment that is switched off, rejected or not yet approved issues nothing."""
    if not enrollment.enabled:
        raise Refused(Reason.ENROLLMENT_DISABLED, f"Enrollment {enrollment.reference} is disabled.")
    if enrollment.status == Enrollment.Status.REJECTED:
        raise Refused(
            Reason.ENROLLMENT_REJECTED, f"Enrollment {enrollment.reference} was rejected."
        )
    if enrollment.status == Enrollment.Status.PENDING:
        raise Refused(
            Reason.ENROLLMENT_PENDING, f"Enrollment {enrollment.reference} is pending approval."
        )


def issued_certificate(certificate: x509.Certificate) -> Certificate | None:
    """Our record of *certificate*, if this CA issued exactly it."""
    serial = x509util.serial_hex(certificate.serial_number)
    cert = Certificate.objects.select_related("ca", "enrollment").filter(serial=serial).first()
    if cert is None or cert.certificate != certificate:
        return None
    return cert


def identify_signer(
    certificate: x509.Certificate,
    extra_certs: Sequence[x509.Certificate],
    operation: Operation,
    *,
    label: str | None = None,
    now: dt.datetime | None = None,
) -> Signer:
    """Trust the certificate whose key signed a request, or refuse.

    A certificate we issued speaks for its enrollment; any other certificate
    must chain (through *extra_certs*) to a trusted CA that a device enrollment
    names (RFC 9483, 4.1.1).
    """
    now = now or timezone.now()
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise Refused(Reason.SIGNER_NOT_VALID, "The protection certificate is not valid now.")
    managing = management_entity_of(certificate)
    if managing is not None:
        # RFC 9483, 5.3.2: a PKI management entity revokes on behalf of others.
        if operation not in SIGNER_OPERATIONS[Credential.MANAGEMENT_ENTITY]:
            raise Refused(
                Reason.SIGNER_NOT_ALLOWED,
                f"The management entity of CA {managing.name} may revoke certificates, "
                "not request them.",
            )
        return Signer(credential=Credential.MANAGEMENT_ENTITY, ca=managing)
    issued = issued_certificate(certificate)
    if issued is not None:
        _check_issued_signer(issued, operation)
        if issued.enrollment is not None:
            _check_label(issued.enrollment, label)
        return Signer(credential=Credential.ISSUED_CERTIFICATE, ca=issued.ca, certificate=issued)
    if operation not in SIGNER_OPERATIONS[Credential.DEVICE_CERTIFICATE]:
        # RFC 9483, 4.1.2-4.2: a cr, kur or rr is signed by a certificate of this PKI.
        raise Refused(
            Reason.SIGNER_NOT_ALLOWED,
            "The protection certificate was not issued by this CA: only an initial "
            "enrollment (ir) may be signed by a certificate of another PKI.",
        )
    anchor = trusted_anchor(certificate, extra_certs, now)
    if operation not in SIGNER_OPERATIONS[Credential.DEVICE_CERTIFICATE]:
        raise Refused(
            Reason.SIGNER_NOT_ALLOWED,
            "A device certificate authorizes only the initial enrollment of its device.",
        )
    candidates = Enrollment.objects.select_related("ca").filter(
        type=Enrollment.Type.DEVICE, trusted_ca=anchor
    )
    if label is not None:
        candidates = candidates.filter(reference=label)
    enrollments = tuple(candidates.order_by("reference"))
    if not enrollments:
        raise Refused(
            Reason.NO_DEVICE_ENROLLMENT,
            f"No device enrollment trusts CA {anchor.subject}, which issued the device certificate.",
        )
    return Signer(
        credential=Credential.DEVICE_CERTIFICATE,
        ca=enrollments[0].ca,
        anchor=anchor,
        enrollments=enrollments,
    )


def _check_issued_signer(issued: Certificate, operation: Operation) -> None:
    """A certificate we issued may sign *operation* now, or a Refused says why not."""
    if issued.status == Certificate.Status.REVOKED:
        # RFC 9483, 4.1.3: also a certificate revoked as superseded after its update.
        raise Refused(Reason.CERT_REVOKED, f"Certificate {issued.serial_colons} is revoked.")
    if issued.status == Certificate.Status.SUPERSEDED:
        raise Refused(
            Reason.ALREADY_RENEWED,
            f"Certificate {issued.serial_colons} was replaced by a newer certificate.",
        )
    if issued.status != Certificate.Status.ACTIVE:
        raise Refused(
            Reason.CERT_NOT_CONFIRMED, f"Certificate {issued.serial_colons} is not in force."
        )
    if operation not in SIGNER_OPERATIONS[Credential.ISSUED_CERTIFICATE]:  # pragma: no cover
        raise Refused(Reason.SIGNER_NOT_ALLOWED, f"A certificate we issued cannot {operation}.")
    enrollment = issued.enrollment
    if operation in _NEW_CERTIFICATE and enrollment is not None:
        if not enrollment.accept_issued_signer:
            raise Refused(
                Reason.SIGNER_NOT_ALLOWED,
                f"Enrollment {enrollment.reference} does not accept requests signed by "
                "certificates it issued; use the enrollment password.",
            )
    if (
        operation in _REPLACING
        and issued.replaced_by.filter(status=Certificate.Status.PENDING).exists()
    ):
        # RFC 9483, 4.1.3: while the update of a certificate awaits its certConf,
        # the certificate signs nothing new (but that certConf).
        raise Refused(
            Reason.RENEWAL_PENDING,
            f"A certificate replacing {issued.serial_colons} awaits its confirmation.",
        )


def management_entity_of(certificate: x509.Certificate) -> CertificateAuthority | None:
    """The local CA that trusts *certificate* as its management entity (RFC 9483, 5.3.2)."""
    for ca in CertificateAuthority.objects.usable().exclude(management_entity_pem=""):
        try:
            if ca.management_entity == certificate:
                return ca
        except ValueError:  # an unreadable stored certificate trusts nobody
            log.warning("CA %s: the management entity certificate cannot be read", ca.name)
    return None


def trusted_anchor(
    certificate: x509.Certificate, extra_certs: Sequence[x509.Certificate], now: dt.datetime
) -> CertificateAuthority:
    """The trusted CA a device certificate chains to, through *extra_certs* (RFC 9483, 4.1.1)."""
    trusted = list(CertificateAuthority.objects.trusted().filter(revoked_at__isnull=True))
    current = certificate
    for _depth in range(MAX_DEVICE_CHAIN):
        for ca in trusted:
            if ca.certificate.subject != current.issuer or not ca.not_before <= now <= ca.not_after:
                continue
            try:
                current.verify_directly_issued_by(ca.certificate)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                continue
            return ca
        parent = next(
            (c for c in extra_certs if c.subject == current.issuer and c != current), None
        )
        if parent is None:
            break
        try:
            current.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            break
        if not parent.not_valid_before_utc <= now <= parent.not_valid_after_utc:
            break
        current = parent
    raise Refused(
        Reason.SIGNER_NOT_TRUSTED, "The protection certificate does not chain to a trusted CA."
    )


def signer_enrollment(signer: Signer) -> Enrollment | None:
    """The enrollment a certificate signer speaks for (None for a vendor certificate)."""
    return signer.certificate.enrollment if signer.certificate is not None else None


def find_certificate(issuer: x509.Name, serial_number: int) -> Certificate | None:
    return (
        Certificate.objects.select_related("ca", "enrollment")
        .filter(serial=x509util.serial_hex(serial_number), ca__subject=x509util.format_name(issuer))
        .first()
    )


# --- Certificate requests ---------------------------------------------------------------


def request_certificate(
    request: Request, *, record: Callable[[Decision], object] | None = None
) -> Decision:
    """Decide *request*: issue now, or hold it for approval (manual enrollments).

    Runs under one transaction with the enrollment's row locked, so that two
    requests of one enrollment at the same moment are decided one after the other.
    *record* is the protocol's bookkeeping of the decision (its transaction
    row), run within that transaction: a protocol then needs no transaction of
    its own around this one.
    """
    with transaction.atomic():
        decision = _decide(request)
        if record is not None:
            record(decision)
    return decision


def _decide(request: Request) -> Decision:
    """The decision of :func:`request_certificate`, within its transaction."""
    enrollment, renews = _locked_enrollment(request)
    check_usable(enrollment)
    now = timezone.now()
    if request.operation == Operation.RENEW:
        assert renews is not None  # noqa: S101 - _locked_enrollment guarantees it
        subject, sans = _check_renewal(request, enrollment, renews, now)
        replaces: Certificate | None = renews
    else:
        subject, sans = _check_subject(request, enrollment)
        replaces = _current_certificate(enrollment, now)
        if (
            replaces is not None
            and request.credential != Credential.ISSUED_CERTIFICATE
            and not enrollment.allow_reenrollment
            and not enrollment.reenroll_once
        ):
            raise Refused(
                Reason.ALREADY_ENROLLED,
                f"Enrollment {enrollment.reference} already holds certificate "
                f"{replaces.serial_colons}; re-enrollment is not allowed.",
            )
    check_key(request.public_key)
    check_extensions(request.extensions)
    not_before, not_after = _validity(request, enrollment, now)
    if enrollment.method == Enrollment.Method.MANUAL:
        # The request waits for an administrator (RFC 9483, 4.4 for CMP).
        held = CertificateRequest.objects.create(
            enrollment=enrollment,
            reference=enrollment.reference,
            protocol=request.protocol,
            operation=request.message,
            subject=x509util.format_name(subject),
            public_key=_spki(request.public_key),
            sans=[x509util.format_san(name) for name in sans],
            renews=replaces if request.operation == Operation.RENEW else None,
            replaces=replaces,
            not_before=not_before,
            not_after=not_after,
            needs_confirmation=request.needs_confirmation,
            revoke_replaced=request.revoke_replaced,
            source_ip=request.source_ip,
        )
        return Decision(enrollment=enrollment, held=held)
    if enrollment.reenroll_once and request.operation != Operation.RENEW:
        # The reset is used up by this enrollment.
        Enrollment.objects.filter(pk=enrollment.pk).update(reenroll_once=False)
    cert = _issue(
        enrollment,
        subject=subject,
        public_key=request.public_key,
        sans=sans,
        not_before=not_before,
        not_after=not_after,
        replaces=replaces,
        renewal=request.operation == Operation.RENEW,
        confirmed=not request.needs_confirmation,
        revoke_replaced=request.revoke_replaced,
        actor=_actor(enrollment, request.source_ip),
    )
    return Decision(
        enrollment=enrollment,
        certificate=cert,
        modified=modifications(request, cert.certificate),
    )


#: The extensions of a request the profile can honour; a critical one of any
#: other kind cannot be granted (RFC 5280, 4.2: a critical extension the
#: relying party does not process makes the certificate unusable).
_HONOURED_EXTENSIONS = frozenset(
    {
        x509.SubjectAlternativeName.oid,
        x509.KeyUsage.oid,
        x509.ExtendedKeyUsage.oid,
        x509.BasicConstraints.oid,
        x509.SubjectKeyIdentifier.oid,
        x509.AuthorityKeyIdentifier.oid,
    }
)
_EXTENSION_NAMES = {
    x509.KeyUsage.oid: "keyUsage",
    x509.ExtendedKeyUsage.oid: "extendedKeyUsage",
    x509.BasicConstraints.oid: "basicConstraints",
    x509.SubjectKeyIdentifier.oid: "subjectKeyIdentifier",
    x509.AuthorityKeyIdentifier.oid: "authorityKeyIdentifier",
}


def _extension_name(extension: x509.Extension) -> str:
    return _EXTENSION_NAMES.get(extension.oid, extension.oid.dotted_string)


def check_extensions(extensions: Sequence[x509.Extension]) -> None:
    """Refuse the extensions an end-entity enrollment cannot grant (RFC 9483, 5)."""
    for extension in extensions:
        value = extension.value
        if isinstance(value, x509.BasicConstraints):
            if value.ca:
                raise Refused(
                    Reason.INVALID_REQUEST,
                    "basicConstraints cA=TRUE: this enrollment issues end-entity certificates.",
                )
        elif isinstance(value, x509.KeyUsage):
            if value.key_cert_sign:
                raise Refused(
                    Reason.INVALID_REQUEST,
                    "keyUsage keyCertSign: this enrollment issues end-entity certificates.",
                )
        elif extension.critical and extension.oid not in _HONOURED_EXTENSIONS:
            raise Refused(
                Reason.INVALID_REQUEST,
                f"The critical extension {_extension_name(extension)} cannot be granted.",
            )


def modifications(request: Request, certificate: x509.Certificate) -> tuple[str, ...]:
    """Where *certificate* differs from what *request* asked for, in words.

    An extension asked for is replaced by the profile's or left out; the
    validity is shorter, or starts later, than asked.  What the request left
    open (an extension it did not ask for, no validity) is no modification.
    """
    issued = {extension.oid: extension for extension in certificate.extensions}
    out: list[str] = []
    for extension in request.extensions:
        if extension.oid == x509.SubjectAlternativeName.oid:
            continue  # granted as asked, or refused (allowed_sans)
        granted = issued.get(extension.oid)
        if granted is None:
            out.append(f"{_extension_name(extension)} not granted")
        elif granted.value != extension.value:
            out.append(f"{_extension_name(extension)} as the enrollment's profile sets it")
    margin = dt.timedelta(seconds=1)
    if (
        request.not_after is not None
        and certificate.not_valid_after_utc < request.not_after - margin
    ):
        out.append(f"validity shortened to {certificate.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC")
    if (
        request.not_before is not None
        and certificate.not_valid_before_utc > request.not_before + margin
    ):
        out.append(f"validity starting {certificate.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC")
    return tuple(out)


def check_key(public_key: object) -> None:
    try:
        profiles.check_public_key(public_key)
    except InvalidInput as exc:
        raise Refused(Reason.BAD_KEY, str(exc)) from None


def _locked_enrollment(request: Request) -> tuple[Enrollment, Certificate | None]:
    """The request's enrollment, row-locked, and the certificate it renews (locked too).

    Rows locked with ``select_for_update`` are read without joins: on
    PostgreSQL a query that waited for the lock re-reads the locked row but not
    the joined ones.
    """
    if request.operation == Operation.RENEW:
        renews = request.renews
        if request.credential == Credential.PASSWORD:
            if request.enrollment is None:
                raise Refused(Reason.ENROLLMENT_NOT_FOUND, ENROLLMENT_NOT_FOUND)
            check_password_renewal(request.enrollment)
            if renews is None or renews.enrollment_id != request.enrollment.pk:
                raise Refused(
                    Reason.CERT_UNKNOWN,
                    "No certificate of this enrollment has that issuer and serial number.",
                )
        elif request.signer is not None and request.signer.certificate is not None:
            # RFC 9483, 4.1.3: a signed renewal renews the certificate that signed it.
            renews = request.signer.certificate
        if renews is None:
            raise Refused(
                Reason.CERT_UNKNOWN, "The request does not name the certificate to renew."
            )
        if renews.enrollment_id is None:
            raise Refused(
                Reason.CERT_WITHOUT_ENROLLMENT,
                f"Certificate {renews.serial_colons} belongs to no enrollment.",
            )
        enrollment = _lock(renews.enrollment_id)
        return enrollment, Certificate.objects.select_for_update().get(pk=renews.pk)
    if request.credential == Credential.DEVICE_CERTIFICATE:
        assert request.signer is not None  # noqa: S101 - device requests are signed
        subject = x509util.format_name(request.subject)
        candidates = request.signer.enrollments
        # The enrollment that names this subject, else the one without a required subject.
        match = [e for e in candidates if e.subject == subject] or [
            e for e in candidates if not e.subject
        ]
        if len(match) != 1:
            raise Refused(
                Reason.DEVICE_SUBJECT_NOT_ACCEPTED,
                f'No device enrollment of this trusted CA accepts the subject "{subject}".',
            )
        return _lock(match[0].pk), None
    if request.credential == Credential.ISSUED_CERTIFICATE:
        assert request.signer is not None and request.signer.certificate is not None  # noqa: S101
        signing = request.signer.certificate
        if signing.enrollment_id is None:
            raise Refused(
                Reason.CERT_WITHOUT_ENROLLMENT, "The signing certificate belongs to no enrollment."
            )
        return _lock(signing.enrollment_id), None
    if request.enrollment is None:
        raise Refused(Reason.ENROLLMENT_NOT_FOUND, ENROLLMENT_NOT_FOUND)
    return _lock(request.enrollment.pk, found=request.enrollment), None


def check_password_renewal(enrollment: Enrollment) -> None:
    """A renewal authenticated by the enrollment password needs the enrollment's consent."""
    if not enrollment.allow_mac_kur:
        raise Refused(
            Reason.PASSWORD_RENEWAL_NOT_ALLOWED,
            f"Enrollment {enrollment.reference} does not allow password-protected renewal; "
            "sign the request with the certificate being renewed.",
        )


def _lock(enrollment_id: int, *, found: Enrollment | None = None) -> Enrollment:
    """The enrollment, row-locked and read afresh.

    *found* is the same enrollment as this request found it, with its CA: the
    locked row keeps that CA object when it still names it (CAs are not locked
    by an issuance; it was read within this request), so that it is not read again.
    """
    enrollment = _LOCKED_ENROLLMENT.first(enrollment_id)
    if enrollment is None:
        raise Refused(Reason.ENROLLMENT_NOT_FOUND, ENROLLMENT_NOT_FOUND)
    if found is not None and found.ca_id == enrollment.ca_id and Enrollment.ca.is_cached(found):
        enrollment.ca = found.ca
    return enrollment


def _check_subject(
    request: Request, enrollment: Enrollment
) -> tuple[x509.Name, tuple[x509.GeneralName, ...]]:
    subject = x509util.format_name(request.subject)
    if len(request.subject) == 0 and not request.sans:
        raise Refused(Reason.SUBJECT_MISSING, "The request has no subject.")
    if enrollment.subject and subject != enrollment.subject:
        raise Refused(
            Reason.SUBJECT_MISMATCH,
            f'Subject "{subject}" does not match the enrollment\'s required subject '
            f'"{enrollment.subject}".',
        )
    if enrollment.subject_pattern and not subject_matches(
        request.subject, enrollment.subject_pattern
    ):
        raise Refused(
            Reason.SUBJECT_MISMATCH,
            f'Subject "{subject}" does not match the enrollment\'s subject pattern '
            f'"{enrollment.subject_pattern}".',
        )
    return request.subject, allowed_sans(enrollment, request.sans)


def subject_matches(subject: x509.Name, pattern: str) -> bool:
    """*subject* has the pattern's attributes, in order, each value matching its glob.

    ``CN=*.branch.example.net`` accepts ``CN=fw1.branch.example.net``; ``*``
    and ``?`` work within one attribute value, case-insensitively.
    """
    wanted = [
        (attribute.oid, str(attribute.value))
        for rdn in x509util.parse_name(pattern).rdns
        for attribute in rdn
    ]
    actual = [(attribute.oid, str(attribute.value)) for rdn in subject.rdns for attribute in rdn]
    return len(wanted) == len(actual) and all(
        oid == got_oid and fnmatch.fnmatch(value.lower(), glob.lower())
        for (oid, glob), (got_oid, value) in zip(wanted, actual, strict=True)
    )


def _san_allowed(text: str, allowed: Sequence[str]) -> bool:
    """*text* (``DNS:fw1.branch.example.net``) is listed, or matches a ``DNS:*.suffix`` entry.

    A ``*`` stands for exactly one DNS label, as in a TLS wildcard name.
    """
    if text in allowed:
        return True
    kind, _, value = text.partition(":")
    if kind != "DNS":
        return False
    label, dot, rest = value.partition(".")
    return bool(dot and label) and f"DNS:*.{rest}" in allowed


def allowed_sans(
    enrollment: Enrollment, requested: Sequence[x509.GeneralName]
) -> tuple[x509.GeneralName, ...]:
    """The requested SANs, each of which the enrollment must allow (RFC 9483, 4.1.1)."""
    allowed = list(enrollment.allowed_sans)
    refused = [
        x509util.format_san(name)
        for name in requested
        if not _san_allowed(x509util.format_san(name), allowed)
    ]
    if refused:
        raise Refused(
            Reason.SAN_NOT_ALLOWED,
            f"subjectAltName {', '.join(refused)} is not allowed for enrollment "
            f"{enrollment.reference}.",
        )
    return tuple(requested)


def _current_certificate(enrollment: Enrollment, now: dt.datetime) -> Certificate | None:
    """The enrollment's unexpired certificate in force or awaiting confirmation."""
    return _CURRENT_CERTIFICATE.first(enrollment.pk, now)


def _check_renewal(
    request: Request, enrollment: Enrollment, old: Certificate, now: dt.datetime
) -> tuple[x509.Name, tuple[x509.GeneralName, ...]]:
    """RFC 9483, 4.1.3: the renewal of an unrevoked, unexpired, not yet renewed certificate."""
    if old.status == Certificate.Status.REVOKED:
        raise Refused(Reason.CERT_REVOKED, f"Certificate {old.serial_colons} is revoked.")
    if old.not_after <= now:
        raise Refused(
            Reason.CERT_EXPIRED,
            f"Certificate {old.serial_colons} has expired; enroll again.",
        )
    if old.replaced_by.filter(status=Certificate.Status.PENDING).exists():
        # RFC 9483, 4.1.3: one key update at a time; the first awaits its certConf.
        raise Refused(
            Reason.RENEWAL_PENDING,
            f"A certificate replacing {old.serial_colons} awaits its confirmation.",
        )
    if (
        old.status == Certificate.Status.SUPERSEDED
        or old.replaced_by.filter(status=Certificate.Status.ACTIVE).exists()
    ):
        raise Refused(
            Reason.ALREADY_RENEWED, f"Certificate {old.serial_colons} was already renewed."
        )
    if enrollment.renewable_days:
        opens = old.not_after - dt.timedelta(days=enrollment.renewable_days)
        if now < opens:
            raise Refused(
                Reason.OUTSIDE_RENEWAL_WINDOW,
                f"Certificate {old.serial_colons} can be renewed only within "
                f"{enrollment.renewable_days} days before it expires, from "
                f"{opens:%Y-%m-%d %H:%M} UTC.",
            )
    # RFC 9483, 4.1.3: the new certificate keeps the subject.
    subject = old.certificate.subject
    if len(request.subject) and request.subject != subject:
        raise Refused(
            Reason.RENEWAL_SUBJECT_CHANGED,
            f'A renewal keeps the subject "{old.subject}"; '
            f'"{x509util.format_name(request.subject)}" was requested.',
        )
    if x509util.public_keys_match(request.public_key, x509util.public_key_of(old.certificate)):
        raise Refused(
            Reason.RENEWAL_SAME_KEY,
            "A key update needs a new key, not the certificate's current one.",
        )
    sans = (
        allowed_sans(enrollment, request.sans)
        if request.sans
        else tuple(x509util.certificate_sans(old.certificate))
    )
    return subject, sans


def _validity(
    request: Request, enrollment: Enrollment, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The validity to grant: what the client asks for, within the profile and the CA's own."""
    not_before = now - services.BACKDATE
    if request.not_before is not None and request.not_before > now:
        not_before = request.not_before
    not_after = min(now + dt.timedelta(days=enrollment.validity_days), enrollment.ca.not_after)
    if request.not_after is not None:
        not_after = min(not_after, request.not_after)
    if not_after <= not_before:
        raise Refused(Reason.BAD_VALIDITY, "The requested validity period is empty.")
    return not_before, not_after


def _issue(
    enrollment: Enrollment,
    *,
    subject: x509.Name,
    public_key: PublicKey,
    sans: Sequence[x509.GeneralName],
    not_before: dt.datetime | None,
    not_after: dt.datetime | None,
    replaces: Certificate | None,
    renewal: bool,
    confirmed: bool,
    revoke_replaced: bool,
    actor: Actor,
) -> Certificate:
    """Sign the enrollment's certificate; in force at once when *confirmed*."""
    try:
        cert = services.issue_certificate(
            ca=enrollment.ca,
            # Read in this request (with the enrollment, or just now through it).
            ca_is_current=True,
            subject=subject,
            public_key=public_key,
            sans=sans,
            key_usage=profiles.key_usage_for(public_key, enrollment.key_usage),
            ext_key_usage=enrollment.ext_key_usage,
            days=enrollment.validity_days,
            not_before=not_before,
            not_after=not_after,
            kind=enrollment.kind,
            enrollment=enrollment,
            status=Certificate.Status.PENDING,
            replaces=replaces,
            renewal=renewal,
            actor=actor,
        )
    except services.NotAllowed as exc:
        raise Refused(Reason.CA_CANNOT_SIGN, str(exc)) from None
    except InvalidInput as exc:
        raise Refused(Reason.INVALID_REQUEST, str(exc)) from None
    if confirmed:
        _activate(cert, revoke=revoke_replaced, actor=actor)
    return cert


def _activate(
    cert: Certificate,
    *,
    revoke: bool,
    actor: Actor,
    older: Sequence[Certificate] | None = None,
) -> None:
    """*cert* (locked, pending) comes into force: the enrollment's older certificates give way.

    Older active certificates are revoked as superseded when *revoke*, else
    marked superseded (valid, but no longer the enrollment's); older pending
    ones never came into force and are revoked. They go before *cert* is
    marked active, so the one-active-certificate index never sees two.
    """
    if cert.enrollment_id is not None:
        now = timezone.now()
        if older is None:  # else locked with the certificate
            older = _OLDER_CERTIFICATES(cert.enrollment_id, cert.pk)
        for old in older:
            if old.status == Certificate.Status.PENDING or (revoke and old.not_after > now):
                services.revoke_locked(old, Certificate.Reason.SUPERSEDED, actor)
            else:
                old.status = Certificate.Status.SUPERSEDED
                old.save(update_fields=["status", "updated"])
                events.log(
                    events.CERT_SUPERSEDED,
                    actor,
                    subject=old.subject,
                    serial=old.serial_colons,
                    new_serial=cert.serial_colons,
                )
    cert.status = Certificate.Status.ACTIVE
    update(cert, ["status", "updated"])


# --- Confirmation (CMP certConf, RFC 9810, 5.3.18) ----------------------------------------


def confirm_certificate(
    cert: Certificate, *, revoke_replaced: bool = True, actor: Actor = events.SYSTEM
) -> Certificate:
    """The client accepted its pending certificate: it comes into force.

    A certificate already in force is confirmed again without change; one
    that was superseded or revoked meanwhile cannot be. No savepoint of its
    own: a refusal is raised once the block has written nothing, so that a
    caller's transaction (CMP records the failed transaction) goes on.
    """
    refused: Refused | None = None
    with transaction.atomic(savepoint=False):
        # The enrollment first, then its certificate: the order request_certificate locks in.
        older: list[Certificate] | None = None
        if cert.enrollment_id is not None and _LOCKED_ENROLLMENT.first(cert.enrollment_id) is None:
            refused = Refused(Reason.ENROLLMENT_NOT_FOUND, ENROLLMENT_NOT_FOUND)
        else:
            if cert.enrollment_id is not None:
                # The certificate with the ones it may replace: one statement.
                rows = _LOCKED_CERTIFICATE_AND_OLDER(cert.enrollment_id, cert.pk)
                locked = next((row for row in rows if row.pk == cert.pk), None)
                if locked is not None and locked.enrollment_id == cert.enrollment_id:
                    older = [row for row in rows if row.pk != cert.pk]
                else:  # not of that enrollment (any more): read as it is
                    locked = _LOCKED_CERTIFICATE.first(cert.pk)
            else:
                locked = _LOCKED_CERTIFICATE.first(cert.pk)
            if locked is None:
                raise Certificate.DoesNotExist(f"Certificate {cert.pk} does not exist.")
            cert = locked
            if cert.status == Certificate.Status.ACTIVE:
                return cert
            if cert.status != Certificate.Status.PENDING:
                refused = Refused(
                    Reason.CONFIRMATION_REFUSED,
                    f"Certificate {cert.serial_colons} was "
                    f"{Certificate.Status(cert.status).label.lower()} "
                    "meanwhile and cannot be confirmed.",
                )
            else:
                _activate(cert, revoke=revoke_replaced, actor=actor, older=older)
                events.log(
                    events.CERT_CONFIRMED, actor, subject=cert.subject, serial=cert.serial_colons
                )
    if refused is not None:
        raise refused
    return cert


def reject_certificate(
    cert: Certificate, *, reason: str = "", actor: Actor = events.SYSTEM
) -> Certificate:
    """The client refused its pending certificate (CMP certConf rejection): revoke it."""
    with transaction.atomic():
        cert = Certificate.objects.select_for_update().get(pk=cert.pk)
        if cert.status in (Certificate.Status.PENDING, Certificate.Status.ACTIVE):
            services.revoke_locked(
                cert,
                Certificate.Reason.CESSATION_OF_OPERATION,
                actor,
                log_type=events.CERT_REJECTED,
                reason=reason,
            )
    return cert


def sweep_unconfirmed(*, wait_seconds: int, actor: Actor = events.SYSTEM) -> list[int]:
    """Revoke pending certificates whose confirmation did not come within *wait_seconds*.

    RFC 9810, 5.3.18: the server may revoke a certificate the client never
    confirmed. One locked read, one update and one insert of log lines
    whatever their number, and each CA's CRL re-signed once. Returns the ids
    of the certificates revoked.
    """
    cutoff = timezone.now() - dt.timedelta(seconds=wait_seconds)
    with transaction.atomic():
        late = list(
            Certificate.objects.select_for_update()
            .filter(status=Certificate.Status.PENDING, created__lt=cutoff)
            .values_list("pk", "subject", "serial", "ca_id")
        )
        if not late:
            return []
        ids = [pk for pk, _subject, _serial, _ca in late]
        Certificate.objects.filter(pk__in=ids).update(
            status=Certificate.Status.REVOKED,
            revoked_at=timezone.now(),
            revocation_reason=Certificate.Reason.CESSATION_OF_OPERATION,
            updated=timezone.now(),
        )
        events.log_many(
            events.CERT_UNCONFIRMED,
            actor,
            [
                {"subject": subject, "serial": x509util.serial_colons(serial)}
                for _pk, subject, serial, _ca in late
            ],
        )
        for ca_id in {ca for _pk, _subject, _serial, ca in late}:
            services.refresh_crl_on_commit(ca_id)
    return ids


# --- Revocation requests ---------------------------------------------------------------


#: The CRLReason that asks to take a certificate off hold (RFC 5280, 5.3.1).
REMOVE_FROM_CRL = "removeFromCRL"


def revoke_certificate(
    *,
    issuer: x509.Name,
    serial_number: int,
    reason: str | None,
    credential: Credential,
    enrollment: Enrollment | None = None,
    signer: Signer | None = None,
    source_ip: str | None = None,
    subject: x509.Name | None = None,
    public_key: object | None = None,
    extensions: Sequence[x509.Extension] = (),
) -> Certificate:
    """A client asks to revoke a certificate (CMP rr, RFC 9483, 4.2), or, with *reason*
    removeFromCRL, to take it off hold (RFC 9810, 5.3.9).

    Signed by the certificate itself (a revocation only: a certificate on hold
    does not revive itself), by the management entity its CA trusts (RFC 9483,
    5.3.2), or with the password of its enrollment where the enrollment allows
    password-protected requests for issued certificates.  *subject*,
    *public_key* and *extensions*, when the client names them, must be the
    certificate's.
    """
    with transaction.atomic():
        found = find_certificate(issuer, serial_number)
        if found is None:
            raise Refused(
                Reason.CERT_UNKNOWN, "No certificate of ours has this issuer and serial number."
            )
        cert = Certificate.objects.select_for_update().get(pk=found.pk)
        revive = reason == REMOVE_FROM_CRL
        if credential == Credential.PASSWORD:
            if enrollment is None or cert.enrollment_id != enrollment.pk:
                name = enrollment.reference if enrollment else "?"
                raise Refused(
                    Reason.NOT_CERTIFICATE_OWNER,
                    f"Certificate {cert.serial_colons} does not belong to enrollment {name}.",
                )
            if not enrollment.allow_mac_kur:
                raise Refused(
                    Reason.PASSWORD_REVOCATION_NOT_ALLOWED,
                    f"Enrollment {enrollment.reference} does not allow password-protected requests "
                    "for an issued certificate; sign the request with the certificate.",
                )
        elif credential == Credential.MANAGEMENT_ENTITY:
            # RFC 9483, 5.3.2: the management entity of the certificate's CA.
            if signer is None or signer.ca.pk != cert.ca_id:
                raise Refused(
                    Reason.NOT_CERTIFICATE_OWNER,
                    f"The management entity is not trusted by the CA of {cert.serial_colons}.",
                )
        elif signer is None or signer.certificate is None or signer.certificate.pk != cert.pk:
            # RFC 9483, 4.2: the request is signed by the certificate being revoked.
            raise Refused(
                Reason.NOT_CERTIFICATE_OWNER,
                "Only the certificate itself may request its revocation.",
            )
        elif revive:
            # A certificate on hold does not take itself off hold.
            raise Refused(
                Reason.BAD_REVOCATION_REASON,
                f"Certificate {cert.serial_colons} cannot take itself off hold.",
            )
        _check_named(cert, subject, public_key, extensions)
        owner = cert.enrollment if cert.enrollment_id else None
        if revive:
            return _revive(cert, owner, source_ip)
        on_hold = cert.revocation_reason == Certificate.Reason.CERTIFICATE_HOLD
        reason = reason or Certificate.Reason.UNSPECIFIED
        if cert.status == Certificate.Status.REVOKED and (
            not on_hold or reason == Certificate.Reason.CERTIFICATE_HOLD
        ):
            # RFC 5280, 5.3.1: only a hold may still become a revocation for good.
            raise Refused(
                Reason.ALREADY_REVOKED, f"Certificate {cert.serial_colons} is already revoked."
            )
        if reason not in profiles.REQUESTABLE_REASONS:
            raise Refused(
                Reason.BAD_REVOCATION_REASON, f"Revocation reason {reason} cannot be requested."
            )
        services.revoke_locked(cert, reason, _actor(owner, source_ip))
    return cert


def _check_named(
    cert: Certificate,
    subject: x509.Name | None,
    public_key: object | None,
    extensions: Sequence[x509.Extension],
) -> None:
    """What a revocation request says of the certificate must be true of it (RFC 9483, 4.2)."""
    certificate = cert.certificate
    if subject is not None and len(subject) and subject != certificate.subject:
        raise Refused(
            Reason.INVALID_REQUEST,
            f"The subject named is not that of certificate {cert.serial_colons}.",
        )
    if public_key is not None:
        named = getattr(public_key, "public_bytes", None)
        fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if named is None or named(*fmt) != certificate.public_key().public_bytes(*fmt):
            raise Refused(
                Reason.INVALID_REQUEST,
                f"The public key named is not that of certificate {cert.serial_colons}.",
            )
    own = {extension.oid: extension.value for extension in certificate.extensions}
    for extension in extensions:
        if own.get(extension.oid) != extension.value:
            raise Refused(
                Reason.INVALID_REQUEST,
                f"Certificate {cert.serial_colons} has no extension "
                f"{_extension_name(extension)} as named.",
            )


def _revive(cert: Certificate, owner: Enrollment | None, source_ip: str | None) -> Certificate:
    """Take *cert* (locked) off hold: RFC 5280, 5.3.1, only certificateHold is reversible."""
    if (
        cert.status != Certificate.Status.REVOKED
        or cert.revocation_reason != Certificate.Reason.CERTIFICATE_HOLD
    ):
        raise Refused(Reason.CERT_UNKNOWN, f"Certificate {cert.serial_colons} is not on hold.")
    if (
        cert.enrollment_id is not None
        and Certificate.objects.filter(
            enrollment_id=cert.enrollment_id, status=Certificate.Status.ACTIVE
        )
        .exclude(pk=cert.pk)
        .exists()
    ):
        raise Refused(
            Reason.ALREADY_RENEWED,
            f"Certificate {cert.serial_colons} was replaced while on hold; it stays revoked.",
        )
    return services.unrevoke_certificate(cert, actor=_actor(owner, source_ip))


# --- Manual approval -------------------------------------------------------------------


def waiting_requests():
    return CertificateRequest.objects.filter(state=CertificateRequest.State.WAITING).select_related(
        "enrollment", "renews"
    )


def approve_request(pk: int, *, actor: Actor = events.SYSTEM) -> CertificateRequest:
    """Approve a held request: its certificate is issued now (the client collects it by polling)."""
    with transaction.atomic():
        held = CertificateRequest.objects.select_for_update().filter(pk=pk).first()
        if held is None or held.state != CertificateRequest.State.WAITING:
            raise Refused(Reason.NOT_WAITING, f"Request {pk} is not waiting for approval.")
        if held.enrollment_id is None:
            raise Refused(
                Reason.ENROLLMENT_NOT_FOUND,
                f"The enrollment {held.reference} of request {pk} was deleted; reject the request.",
            )
        enrollment = _lock(held.enrollment_id)
        replaces = (
            Certificate.objects.select_for_update().filter(pk=held.replaces_id).first()
            if held.replaces_id
            else None
        )
        try:
            cert = _issue(
                enrollment,
                subject=x509util.parse_name(held.subject) if held.subject else x509.Name([]),
                public_key=serialization.load_der_public_key(bytes(held.public_key)),  # type: ignore[arg-type]
                sans=[x509util.parse_san(text) for text in held.sans],
                not_before=held.not_before,
                not_after=min(held.not_after, enrollment.ca.not_after) if held.not_after else None,
                replaces=replaces,
                renewal=held.renews_id is not None,
                confirmed=not held.needs_confirmation,
                revoke_replaced=held.revoke_replaced,
                actor=_actor(enrollment, held.source_ip),
            )
        except Refused as exc:
            raise Refused(exc.reason, f"Cannot issue the certificate: {exc.message}") from None
        held.state = CertificateRequest.State.APPROVED
        held.certificate = cert
        held.decided_by = actor.user
        held.decided_at = timezone.now()
        held.save(update_fields=["state", "certificate", "decided_by", "decided_at"])
        events.log(
            events.REQUEST_APPROVED,
            actor,
            protocol=held.protocol_label,
            operation=held.operation,
            reference=held.reference,
            subject=held.subject,
        )
    return held


def reject_request(
    pk: int, *, reason: str = "", actor: Actor = events.SYSTEM
) -> CertificateRequest:
    with transaction.atomic():
        held = CertificateRequest.objects.select_for_update().filter(pk=pk).first()
        if held is None or held.state != CertificateRequest.State.WAITING:
            raise Refused(Reason.NOT_WAITING, f"Request {pk} is not waiting for approval.")
        held.state = CertificateRequest.State.REJECTED
        held.reason = reason.strip()[:512] or "The request was rejected by an administrator."
        held.decided_by = actor.user
        held.decided_at = timezone.now()
        held.save(update_fields=["state", "reason", "decided_by", "decided_at"])
        events.log(
            events.REQUEST_REJECTED,
            actor,
            protocol=held.protocol_label,
            operation=held.operation,
            reference=held.reference,
            subject=held.subject,
            reason=held.reason,
        )
    return held


# --- What an enrollment offers --------------------------------------------------------------


def certificate_template(enrollment: Enrollment) -> Template:
    """RFC 9483, 4.3.3: what the enrollment will put in the certificate.

    Any accepted key type is certified; the key suggested is of the CA's own
    type (an RSA key of the minimum size, an EC key on the CA's curve, an
    EdDSA key of the CA's kind).
    """
    ca_key = enrollment.ca.key_type
    key: dict = {"rsa_key_size": profiles.MIN_RSA_BITS}
    if ca_key == CertificateAuthority.KeyType.EC:
        curve = x509util.public_key_of(enrollment.ca.certificate)
        name = curve.curve.name if isinstance(curve, ec.EllipticCurvePublicKey) else "secp256r1"
        key = {"rsa_key_size": None, "ec_curve": name}
    elif ca_key in (CertificateAuthority.KeyType.ED25519, CertificateAuthority.KeyType.ED448):
        key = {"rsa_key_size": None, "eddsa": str(ca_key)}
    return Template(
        subject=x509util.parse_name(enrollment.subject) if enrollment.subject else None,
        key_usage=tuple(enrollment.key_usage),
        ext_key_usage=tuple(enrollment.ext_key_usage),
        **key,
    )


def _spki(public_key: PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
