"""Business rules for CAs, certificates and enrollments.

Every entry point (GUI, CLI, CMP, admin) goes through these functions, so a
rule (validity cap, one active certificate per enrollment, no deleting a CA
that issued certificates) lives in exactly one place. Multi-model work runs
under ``transaction.atomic``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from certauth import events, keystore
from certauth import x509 as x509util
from certauth.models import Certificate, CertificateAuthority, Enrollment, LogEntry
from certauth.x509 import InvalidInput, PublicKey

log = logging.getLogger(__name__)

__all__ = [
    "Actor",
    "InvalidInput",
    "ServiceError",
    "NotAllowed",
    "create_ca",
    "import_ca",
    "import_ca_pkcs12",
    "delete_ca",
    "revoke_ca",
    "export_ca_pkcs12",
    "issue_certificate",
    "issue_from_csr",
    "confirm_certificate",
    "reject_certificate",
    "revoke_certificate",
    "unrevoke_certificate",
    "delete_certificate",
    "generate_crl",
    "check_enrollment_fields",
    "create_enrollment",
    "update_enrollment",
    "delete_enrollment",
    "refresh_due_crls",
    "sweep_unconfirmed",
]


class ServiceError(Exception):
    """A request that the rules refuse; the message is shown to the administrator."""


class NotAllowed(ServiceError):
    """The action is forbidden by a rule (e.g. deleting a CA that issued certificates)."""


@dataclass(frozen=True)
class Actor:
    """Who did it, for the event log."""

    user: str = ""
    source_ip: str | None = None


SYSTEM = Actor(user="system")


def _log(log_type: events.LogType, message: str, actor: Actor) -> None:
    LogEntry.objects.log(
        message,
        level=log_type.level,
        subcategory=log_type.subcategory,
        log_type=log_type.id,
        user=actor.user,
        source_ip=actor.source_ip,
    )


def _public_url(path: str) -> str | None:
    """A URL on this server for certificate extensions (CRL DP, AIA), if FAC_PUBLIC_URL is set."""
    return f"{settings.FAC_PUBLIC_URL}{path}" if settings.FAC_PUBLIC_URL else None


def _unique_serial() -> int:
    """A random serial (>= 64 bits of entropy) not used by any CA or certificate."""
    while True:
        serial = x509util.random_serial()
        text = x509util.serial_hex(serial)
        if not (
            Certificate.objects.filter(serial=text).exists()
            or CertificateAuthority.objects.filter(serial=text).exists()
        ):
            return serial


def _validate_ca_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or any(c.isspace() or c in "/\\" for c in name):
        raise InvalidInput(
            f"Invalid certificate ID {name!r}: 1-64 characters, no spaces or slashes."
        )
    if CertificateAuthority.objects.filter(name=name).exists():
        raise InvalidInput(f"A CA with certificate ID {name!r} already exists.")
    return name


def _ca_fields(certificate: x509.Certificate) -> dict:
    key_type, size, curve = x509util.describe_key(certificate.public_key())
    hash_alg = certificate.signature_hash_algorithm
    return {
        "subject": x509util.format_name(certificate.subject),
        "issuer": x509util.format_name(certificate.issuer),
        "serial": x509util.serial_hex(certificate.serial_number),
        "certificate_pem": certificate.public_bytes(serialization.Encoding.PEM).decode(),
        "key_type": key_type,
        "key_size": size,
        "curve": curve,
        "hash_algorithm": hash_alg.name if hash_alg else "",
        "not_before": certificate.not_valid_before_utc,
        "not_after": certificate.not_valid_after_utc,
    }


def _check_signer(ca: CertificateAuthority, now: dt.datetime) -> None:
    """No issuance from an expired, revoked, not-yet-valid or key-less CA."""
    if ca.kind != CertificateAuthority.Kind.LOCAL or not ca.has_key:
        raise NotAllowed(f"CA {ca.name} has no private key and cannot sign.")
    if ca.revoked_at:
        raise NotAllowed(f"CA {ca.name} is revoked and cannot sign.")
    if ca.not_after <= now:
        raise NotAllowed(f"CA {ca.name} has expired and cannot sign.")
    if ca.not_before > now:
        raise NotAllowed(f"CA {ca.name} is not yet valid.")


# --- Certificate authorities -------------------------------------------------------------


def create_ca(
    *,
    name: str,
    subject: str,
    key_type: str = "rsa",
    key_size: int = 2048,
    curve: str = "p256",
    hash_name: str = "sha256",
    days: int = 3650,
    parent: CertificateAuthority | None = None,
    actor: Actor = SYSTEM,
) -> CertificateAuthority:
    """Create a self-signed root CA, or an intermediate CA signed by *parent*."""
    name = _validate_ca_name(name)
    subject_name = x509util.parse_name(subject)
    algorithm = x509util.hash_algorithm(hash_name)
    if days < 1 or days > 36500:
        raise InvalidInput("Validity must be between 1 and 36500 days.")
    key = x509util.generate_private_key(key_type, key_size=key_size, curve=curve)
    now = timezone.now()
    not_after = now + dt.timedelta(days=days)
    with transaction.atomic():
        if parent is not None:
            parent = CertificateAuthority.objects.select_for_update().get(pk=parent.pk)
            _check_signer(parent, now)
            # RFC 5280 6.1: a certificate must not outlive its issuer.
            not_after = min(not_after, parent.not_after)
            parent_cert = parent.certificate
            constraints = parent_cert.extensions.get_extension_for_class(
                x509.BasicConstraints
            ).value
            if constraints.path_length == 0:
                raise NotAllowed(
                    f"CA {parent.name} may not sign further CAs (pathLenConstraint 0)."
                )
            path_length = None if constraints.path_length is None else constraints.path_length - 1
            builder = x509util.ca_builder(
                subject=subject_name,
                issuer=parent_cert.subject,
                public_key=key.public_key(),
                issuer_public_key=parent_cert.public_key(),
                serial=_unique_serial(),
                not_before=now - dt.timedelta(minutes=5),
                not_after=not_after,
                path_length=path_length,
            )
            certificate = keystore.sign_certificate(parent, builder, algorithm)
        else:
            builder = x509util.ca_builder(
                subject=subject_name,
                issuer=subject_name,
                public_key=key.public_key(),
                issuer_public_key=key.public_key(),
                serial=_unique_serial(),
                not_before=now - dt.timedelta(minutes=5),
                not_after=not_after,
                path_length=None,
            )
            certificate = keystore.sign_certificate(None, builder, algorithm, self_signed_key=key)
        ca = CertificateAuthority.objects.create(
            name=name,
            kind=CertificateAuthority.Kind.LOCAL,
            encrypted_key=keystore.seal_private_key(key),
            parent=parent,
            **_ca_fields(certificate),
        )
        _log(events.CA_CREATED, events.ca_created(ca.subject), actor)
    return ca


def _find_local_parent(certificate: x509.Certificate) -> CertificateAuthority | None:
    if certificate.issuer == certificate.subject:
        return None
    issuer = x509util.format_name(certificate.issuer)
    for candidate in CertificateAuthority.objects.local().filter(subject=issuer):
        try:
            certificate.verify_directly_issued_by(candidate.certificate)
        except (ValueError, TypeError, InvalidSignature):
            continue  # another CA with the same name: not the issuer
        return candidate
    return None


def import_ca(
    *,
    name: str,
    certificate_data: bytes,
    key_data: bytes | None = None,
    key_passphrase: bytes | None = None,
    trusted: bool = False,
    actor: Actor = SYSTEM,
) -> CertificateAuthority:
    """Import a CA certificate (PEM/DER), with its private key for a local CA."""
    certificate = x509util.load_certificate(certificate_data)
    key = x509util.load_private_key(key_data, key_passphrase) if key_data else None
    return _import(name=name, certificate=certificate, key=key, trusted=trusted, actor=actor)


def import_ca_pkcs12(
    *, name: str, data: bytes, passphrase: bytes | None, actor: Actor = SYSTEM
) -> CertificateAuthority:
    """Import a local CA from a PKCS#12 file (certificate and key)."""
    try:
        key, certificate, _extra = pkcs12.load_key_and_certificates(data, passphrase)
    except ValueError:
        raise InvalidInput(
            "Cannot read the PKCS#12 file: wrong passphrase or not PKCS#12."
        ) from None
    if certificate is None or key is None:
        raise InvalidInput("The PKCS#12 file must hold a certificate and its private key.")
    if not isinstance(key, x509util.PrivateKey):
        raise InvalidInput("Only RSA and ECDSA private keys are supported.")
    return _import(name=name, certificate=certificate, key=key, trusted=False, actor=actor)


def _import(
    *,
    name: str,
    certificate: x509.Certificate,
    key: x509util.PrivateKey | None,
    trusted: bool,
    actor: Actor,
) -> CertificateAuthority:
    name = _validate_ca_name(name)
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise InvalidInput(
            "The certificate is not a CA certificate (basicConstraints CA:TRUE missing)."
        )
    if trusted and key is not None:
        raise InvalidInput("A trusted CA is imported without its private key.")
    if not trusted and key is None:
        raise InvalidInput("A local CA needs its private key (use --trusted for a CA without key).")
    if key is not None and not x509util.public_keys_match(
        key.public_key(), certificate.public_key()
    ):
        raise InvalidInput("The private key does not belong to the certificate.")
    fields = _ca_fields(certificate)
    if CertificateAuthority.objects.filter(
        kind=CertificateAuthority.Kind.TRUSTED if trusted else CertificateAuthority.Kind.LOCAL,
        serial=fields["serial"],
        issuer=fields["issuer"],
    ).exists():
        raise InvalidInput("This CA certificate is already imported.")
    with transaction.atomic():
        ca = CertificateAuthority.objects.create(
            name=name,
            kind=CertificateAuthority.Kind.TRUSTED if trusted else CertificateAuthority.Kind.LOCAL,
            encrypted_key=keystore.seal_private_key(key) if key is not None else None,
            parent=None if trusted else _find_local_parent(certificate),
            imported=True,
            **fields,
        )
        message = events.trusted_ca_imported if trusted else events.ca_imported
        _log(events.CA_IMPORTED, message(ca.subject), actor)
    return ca


def delete_ca(ca: CertificateAuthority, *, actor: Actor = SYSTEM) -> None:
    """Delete a CA that has issued nothing and that nothing refers to."""
    with transaction.atomic():
        ca = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
        if ca.issued.exists():
            raise NotAllowed(f"CA {ca.name} has issued certificates and cannot be deleted.")
        if ca.children.exists():
            raise NotAllowed(f"CA {ca.name} has signed other CAs and cannot be deleted.")
        if ca.enrollments.exists() or ca.device_enrollments.exists():
            raise NotAllowed(f"CA {ca.name} is used by CMP enrollments and cannot be deleted.")
        subject = ca.subject
        ca.delete()
        _log(events.CA_DELETED, events.ca_deleted(subject), actor)


def export_ca_pkcs12(ca: CertificateAuthority, *, passphrase: str, actor: Actor = SYSTEM) -> bytes:
    """The CA's key, certificate and chain as PKCS#12, encrypted with *passphrase*; logged."""
    if not passphrase:
        raise InvalidInput("A passphrase is needed to protect the exported private key.")
    if not ca.has_key:
        raise NotAllowed(f"CA {ca.name} has no private key to export.")
    data = pkcs12.serialize_key_and_certificates(
        name=ca.name.encode(),
        key=keystore.private_key_for_export(ca),
        cert=ca.certificate,
        cas=[parent.certificate for parent in ca.chain()[1:]] or None,
        encryption_algorithm=serialization.BestAvailableEncryption(passphrase.encode()),
    )
    _log(events.CA_KEY_EXPORTED, events.ca_key_exported(ca.subject), actor)
    return data


def revoke_ca(
    ca: CertificateAuthority, *, reason: str = "unspecified", actor: Actor = SYSTEM
) -> CertificateAuthority:
    """Mark a local CA revoked (it stops signing); its parent's CRL lists it."""
    reason_label = Certificate.Reason(reason).label if reason in Certificate.Reason.values else None
    if reason_label is None:
        raise InvalidInput(f"Unknown revocation reason {reason!r}.")
    with transaction.atomic():
        ca = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
        if ca.revoked_at:
            raise NotAllowed(f"CA {ca.name} is already revoked.")
        ca.revoked_at = timezone.now()
        ca.revocation_reason = reason
        ca.save(update_fields=["revoked_at", "revocation_reason", "updated"])
        _log(events.CA_REVOKED, events.ca_revoked(ca.subject, reason_label), actor)
    return ca


# --- Certificates ------------------------------------------------------------------


def issue_certificate(
    *,
    ca: CertificateAuthority,
    subject: x509.Name,
    public_key: PublicKey,
    sans: Sequence[x509.GeneralName] = (),
    key_usage: Sequence[str] = ("digitalSignature", "keyEncipherment"),
    ext_key_usage: Sequence[str] = (),
    days: int = 365,
    kind: str = Certificate.Kind.LOCAL_SERVICE,
    name: str = "",
    enrollment: Enrollment | None = None,
    status: str = Certificate.Status.ACTIVE,
    replaces: Certificate | None = None,
    hash_name: str | None = None,
    actor: Actor = SYSTEM,
    renewal: bool = False,
) -> Certificate:
    """Sign a certificate for an end entity and log it.

    The validity is capped at the CA's own (RFC 5280 6.1.3: a path is valid
    only while every certificate in it is).
    """
    x509util.check_end_entity_key(public_key)
    if days < 1:
        raise InvalidInput("Validity must be at least one day.")
    if len(subject) == 0 and not sans:
        raise InvalidInput("A certificate needs a subject or a subjectAltName (RFC 5280 4.1.2.6).")
    now = timezone.now()
    with transaction.atomic():
        ca = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
        _check_signer(ca, now)
        not_after = min(now + dt.timedelta(days=days), ca.not_after)
        serial = _unique_serial()
        builder = x509util.end_entity_builder(
            subject=subject,
            ca_certificate=ca.certificate,
            public_key=public_key,
            serial=serial,
            not_before=now - dt.timedelta(minutes=5),
            not_after=not_after,
            key_usage=key_usage,
            ext_key_usage=ext_key_usage,
            sans=sans,
            crl_url=_public_url(f"/app/cert/crl/{ca.name}.crl"),
            ocsp_url=_public_url("/app/cert/ocsp"),
        )
        algorithm = x509util.hash_algorithm(hash_name or ca.hash_algorithm or "sha256")
        certificate = keystore.sign_certificate(ca, builder, algorithm)
        subject_text = x509util.format_name(subject)
        cert = Certificate.objects.create(
            name=name or x509util.common_name(subject) or subject_text,
            kind=kind,
            ca=ca,
            enrollment=enrollment,
            serial=x509util.serial_hex(serial),
            subject=subject_text,
            sans=[x509util.format_san(san) for san in sans],
            key_usage=list(key_usage),
            ext_key_usage=list(ext_key_usage),
            certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            status=status,
            replaces=replaces,
        )
        if renewal:
            _log(events.CERT_RENEWED, events.cert_renewed(subject_text, cert.serial_colons), actor)
        else:
            _log(events.CERT_SIGNED, events.csr_signed(subject_text, ca.subject), actor)
    return cert


def issue_from_csr(
    *,
    ca: CertificateAuthority,
    csr_data: bytes,
    sans: Sequence[x509.GeneralName] | None = None,
    **kwargs,
) -> Certificate:
    """Sign a PKCS#10 request; SANs default to those the CSR asks for."""
    csr = x509util.load_csr(csr_data)
    if sans is None:
        try:
            sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        except x509.ExtensionNotFound:
            sans = []
    return issue_certificate(
        ca=ca, subject=csr.subject, public_key=csr.public_key(), sans=sans, **kwargs
    )


def confirm_certificate(
    cert: Certificate, *, supersede: bool = True, actor: Actor = SYSTEM
) -> Certificate:
    """A pending certificate becomes active; what it replaces is revoked as superseded."""
    with transaction.atomic():
        cert = Certificate.objects.select_for_update().get(pk=cert.pk)
        if cert.status != Certificate.Status.PENDING:
            return cert
        cert.status = Certificate.Status.ACTIVE
        cert.save(update_fields=["status", "updated"])
        _log(events.CERT_CONFIRMED, events.cert_confirmed(cert.subject, cert.serial_colons), actor)
        if cert.replaces_id and supersede:
            old = Certificate.objects.select_for_update().get(pk=cert.replaces_id)
            if old.status != Certificate.Status.REVOKED:
                _revoke(old, Certificate.Reason.SUPERSEDED, actor)
    return cert


def reject_certificate(
    cert: Certificate, *, reason: str = "", actor: Actor = SYSTEM
) -> Certificate:
    """The client refused a pending certificate (CMP certConf rejection): revoke it."""
    with transaction.atomic():
        cert = Certificate.objects.select_for_update().get(pk=cert.pk)
        if cert.status == Certificate.Status.REVOKED:
            return cert
        _revoke(
            cert,
            Certificate.Reason.CESSATION_OF_OPERATION,
            actor,
            message=events.cert_rejected(cert.subject, cert.serial_colons, reason),
            log_type=events.CERT_REJECTED,
        )
    return cert


def _revoke(
    cert: Certificate,
    reason: str,
    actor: Actor,
    *,
    message: str | None = None,
    log_type: events.LogType = events.CERT_REVOKED,
) -> None:
    cert.status = Certificate.Status.REVOKED
    cert.revoked_at = timezone.now()
    cert.revocation_reason = reason
    cert.save(update_fields=["status", "revoked_at", "revocation_reason", "updated"])
    label = Certificate.Reason(reason).label
    _log(
        log_type,
        message or events.cert_revoked(cert.subject, cert.serial_colons, label),
        actor,
    )
    # The CRL reflects a revocation at once (it is re-signed when fetched, too).
    transaction.on_commit(lambda: _refresh_crl(cert.ca_id))


def _refresh_crl(ca_id: int) -> None:
    ca = CertificateAuthority.objects.filter(pk=ca_id).first()
    if ca is not None and ca.has_key and ca.status == CertificateAuthority.Status.ACTIVE:
        try:
            generate_crl(ca)
        except ServiceError as exc:
            log.warning("CRL of CA %s not regenerated: %s", ca.name, exc)


def revoke_certificate(
    cert: Certificate, *, reason: str = Certificate.Reason.UNSPECIFIED, actor: Actor = SYSTEM
) -> Certificate:
    if reason not in Certificate.Reason.values:
        choices = ", ".join(Certificate.Reason.values)
        raise InvalidInput(f"Unknown revocation reason {reason!r}: use one of {choices}.")
    with transaction.atomic():
        cert = Certificate.objects.select_for_update().get(pk=cert.pk)
        if cert.status == Certificate.Status.REVOKED:
            raise NotAllowed(f"Certificate {cert.serial_colons} is already revoked.")
        _revoke(cert, reason, actor)
    return cert


def unrevoke_certificate(cert: Certificate, *, actor: Actor = SYSTEM) -> Certificate:
    """Release a certificate from hold (RFC 5280 5.3.1: only certificateHold is reversible)."""
    with transaction.atomic():
        cert = Certificate.objects.select_for_update().get(pk=cert.pk)
        if (
            cert.status != Certificate.Status.REVOKED
            or cert.revocation_reason != Certificate.Reason.CERTIFICATE_HOLD
        ):
            raise NotAllowed(
                "Only a certificate revoked with reason Certificate Hold can be un-revoked."
            )
        cert.status = Certificate.Status.ACTIVE
        cert.revoked_at = None
        cert.revocation_reason = ""
        cert.save(update_fields=["status", "revoked_at", "revocation_reason", "updated"])
        _log(events.CERT_UNREVOKED, events.cert_unrevoked(cert.subject, cert.serial_colons), actor)
    return cert


def delete_certificate(cert: Certificate, *, actor: Actor = SYSTEM) -> None:
    """Delete a certificate, unless it is revoked and unexpired (the CRL still lists it)."""
    with transaction.atomic():
        cert = Certificate.objects.select_for_update().get(pk=cert.pk)
        if cert.status == Certificate.Status.REVOKED and cert.not_after > timezone.now():
            raise NotAllowed(
                f"Certificate {cert.serial_colons} is revoked and not yet expired: "
                "the CRL still needs it."
            )
        subject, serial = cert.subject, cert.serial_colons
        cert.delete()
        _log(events.CERT_DELETED, events.cert_deleted(subject, serial), actor)


def generate_crl(
    ca: CertificateAuthority, *, next_update_hours: int = 24, actor: Actor = SYSTEM
) -> x509.CertificateRevocationList:
    """Sign a fresh CRL for *ca* (RFC 5280 5), store it and return it."""
    now = timezone.now()
    with transaction.atomic():
        ca = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
        if ca.kind != CertificateAuthority.Kind.LOCAL or not ca.has_key:
            raise NotAllowed(f"CA {ca.name} has no private key and cannot sign a CRL.")
        ca.crl_number += 1
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.certificate.subject)
            .last_update(now)
            .next_update(now + dt.timedelta(hours=next_update_hours))
            # RFC 5280 5.2.1 / 5.2.3: AKI and cRLNumber in every CRL.
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.certificate.public_key()),
                critical=False,
            )
            .add_extension(x509.CRLNumber(ca.crl_number), critical=False)
        )
        revoked = list(ca.issued.revoked().values_list("serial", "revoked_at", "revocation_reason"))
        revoked += list(
            ca.children.filter(revoked_at__isnull=False).values_list(
                "serial", "revoked_at", "revocation_reason"
            )
        )
        for serial, revoked_at, reason in revoked:
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(int(serial, 16))
                .revocation_date(revoked_at)
            )
            if reason and reason != Certificate.Reason.UNSPECIFIED:
                # RFC 5280 5.3.1: reasonCode absent rather than unspecified.
                entry = entry.add_extension(
                    x509.CRLReason(x509.ReasonFlags(reason)), critical=False
                )
            builder = builder.add_revoked_certificate(entry.build())
        algorithm = x509util.hash_algorithm(ca.hash_algorithm or "sha256")
        crl = keystore.sign_crl(ca, builder, algorithm)
        ca.crl_der = crl.public_bytes(serialization.Encoding.DER)
        ca.crl_next_update = crl.next_update_utc
        ca.save(update_fields=["crl_number", "crl_der", "crl_next_update", "updated"])
        _log(events.CRL_GENERATED, events.crl_generated(ca.subject, len(revoked)), actor)
    return crl


# --- Enrollments ------------------------------------------------------------------------


def check_enrollment_fields(
    *,
    ca: CertificateAuthority,
    subject: str,
    key_usage: Sequence[str],
    ext_key_usage: Sequence[str],
    allowed_sans: Sequence[str],
    validity_days: int,
) -> tuple[str, list[str]]:
    if ca.kind != CertificateAuthority.Kind.LOCAL or not ca.has_key:
        raise InvalidInput(f"CA {ca.name} is not a local CA with a private key.")
    if subject:
        subject = x509util.format_name(x509util.parse_name(subject))
    x509util.key_usage_extension(key_usage)
    x509util.ext_key_usage_extension(ext_key_usage)
    sans = [x509util.format_san(x509util.parse_san(text)) for text in allowed_sans]
    if validity_days < 1 or validity_days > 36500:
        raise InvalidInput("Certificate validity must be between 1 and 36500 days.")
    return subject, sans


def _check_choices(*, type: str, method: str, kind: str, status: str, renewable_days: int) -> None:  # noqa: A002
    """The enrollment's choice fields hold one of their choices."""
    if type not in Enrollment.Type.values:
        raise InvalidInput(f"Unknown enrollment type {type!r}: use regular or device.")
    if method not in Enrollment.Method.values:
        raise InvalidInput(
            f"Unknown method {method!r}: use {' or '.join(Enrollment.Method.values)}."
        )
    if kind not in Certificate.Kind.values:
        raise InvalidInput(
            f"Unknown certificate category {kind!r}: use {', '.join(Certificate.Kind.values)}."
        )
    if status not in Enrollment.Status.values:
        raise InvalidInput(f"Unknown status {status!r}: use {', '.join(Enrollment.Status.values)}.")
    if renewable_days < 0:
        raise InvalidInput("Renewable before expiry must be 0 or more days.")


def _check_password(password: str) -> None:
    if not password:
        raise InvalidInput("The enrollment password must not be empty.")
    if len(password) > 256:
        raise InvalidInput("The enrollment password is longer than 256 characters.")


def create_enrollment(
    *,
    reference: str,
    password: str,
    ca: CertificateAuthority,
    subject: str = "",
    key_usage: Sequence[str] = ("digitalSignature", "keyEncipherment"),
    ext_key_usage: Sequence[str] = (),
    allowed_sans: Sequence[str] = (),
    validity_days: int = 365,
    renewable_days: int = 0,
    type: str = Enrollment.Type.REGULAR,  # noqa: A002 - the field's name
    method: str = Enrollment.Method.AUTOMATIC,
    kind: str = Certificate.Kind.LOCAL_SERVICE,
    allow_reenrollment: bool = False,
    allow_mac_kur: bool = False,
    trusted_ca: CertificateAuthority | None = None,
    status: str = Enrollment.Status.APPROVED,
    enabled: bool = True,
    actor: Actor = SYSTEM,
) -> Enrollment:
    reference = reference.strip()
    if not reference or len(reference) > 128 or any(c.isspace() for c in reference):
        raise InvalidInput(f"Invalid enrollment ID {reference!r}: 1-128 characters, no spaces.")
    _check_choices(
        type=type, method=method, kind=kind, status=status, renewable_days=renewable_days
    )
    if type == Enrollment.Type.REGULAR:
        _check_password(password)
    subject, sans = check_enrollment_fields(
        ca=ca,
        subject=subject,
        key_usage=key_usage,
        ext_key_usage=ext_key_usage,
        allowed_sans=allowed_sans,
        validity_days=validity_days,
    )
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(
                reference=reference,
                encrypted_password=keystore.seal_secret(password) if password else None,
                ca=ca,
                subject=subject,
                key_usage=list(key_usage),
                ext_key_usage=list(ext_key_usage),
                allowed_sans=sans,
                validity_days=validity_days,
                renewable_days=renewable_days,
                type=type,
                method=method,
                kind=kind,
                allow_reenrollment=allow_reenrollment,
                allow_mac_kur=allow_mac_kur,
                trusted_ca=trusted_ca,
                status=status,
                enabled=enabled,
            )
            _log(events.ENROLLMENT_CREATED, events.enrollment_created(reference), actor)
    except IntegrityError:
        raise InvalidInput(f"An enrollment with ID {reference!r} already exists.") from None
    return enrollment


_EDITABLE = {
    "ca",
    "subject",
    "key_usage",
    "ext_key_usage",
    "allowed_sans",
    "validity_days",
    "renewable_days",
    "type",
    "method",
    "kind",
    "allow_reenrollment",
    "allow_mac_kur",
    "trusted_ca",
    "status",
    "enabled",
}


def update_enrollment(
    enrollment: Enrollment, *, password: str | None = None, actor: Actor = SYSTEM, **changes
) -> Enrollment:
    """Change an enrollment; *password* None keeps the stored one (it is write-only)."""
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        values = {field: changes.get(field, getattr(enrollment, field)) for field in _EDITABLE}
        subject, sans = check_enrollment_fields(
            ca=values["ca"],
            subject=values["subject"],
            key_usage=values["key_usage"],
            ext_key_usage=values["ext_key_usage"],
            allowed_sans=values["allowed_sans"],
            validity_days=values["validity_days"],
        )
        values["subject"], values["allowed_sans"] = subject, sans
        _check_choices(
            type=values["type"],
            method=values["method"],
            kind=values["kind"],
            status=values["status"],
            renewable_days=values["renewable_days"],
        )
        if (
            values["type"] == Enrollment.Type.REGULAR
            and password is None
            and not enrollment.encrypted_password
        ):
            # A regular enrollment authenticates with its password (MAC): it must have one.
            raise InvalidInput("The enrollment password must not be empty.")
        for field, value in values.items():
            setattr(enrollment, field, value)
        if password is not None:
            _check_password(password)
            enrollment.encrypted_password = keystore.seal_secret(password)
        enrollment.save()
        _log(events.ENROLLMENT_CHANGED, events.enrollment_changed(enrollment.reference), actor)
    return enrollment


def delete_enrollment(enrollment: Enrollment, *, actor: Actor = SYSTEM) -> None:
    """Delete an enrollment; the certificates it issued stay (their link is cleared)."""
    with transaction.atomic():
        reference = enrollment.reference
        enrollment.delete()
        _log(events.ENROLLMENT_DELETED, events.enrollment_deleted(reference), actor)


def refresh_due_crls(*, margin: dt.timedelta = dt.timedelta(hours=6), actor: Actor = SYSTEM) -> int:
    """Re-sign the CRLs that are missing or within *margin* of their nextUpdate.

    RFC 5280, 5.1.2.5: a new CRL is issued before the previous one's
    nextUpdate. Runs with every CMP request's housekeeping and from
    ``manage.py refresh_crls``; fetching a CRL refreshes it too.
    """
    due = (
        CertificateAuthority.objects.usable()
        .filter(Q(crl_next_update__isnull=True) | Q(crl_next_update__lte=timezone.now() + margin))
        .values_list("pk", flat=True)
    )
    count = 0
    for pk in due:
        with transaction.atomic():
            ca = CertificateAuthority.objects.select_for_update().get(pk=pk)
            # Another worker may have re-signed it while this one waited for the lock.
            if ca.crl_next_update is not None and ca.crl_next_update > timezone.now() + margin:
                continue
            try:
                generate_crl(ca, actor=actor)
            except ServiceError as exc:
                log.warning("CRL of CA %s not refreshed: %s", ca.name, exc)
                continue
        count += 1
    return count


def sweep_unconfirmed(*, wait_seconds: int, actor: Actor = SYSTEM) -> int:
    """Revoke pending certificates whose certConf did not come within *wait_seconds*.

    RFC 9810, 5.3.18: the server may revoke a certificate the client never
    confirmed. Returns how many were revoked.
    """
    cutoff = timezone.now() - dt.timedelta(seconds=wait_seconds)
    count = 0
    for pk in Certificate.objects.pending().filter(created__lt=cutoff).values_list("pk", flat=True):
        with transaction.atomic():
            cert = Certificate.objects.select_for_update().get(pk=pk)
            if cert.status != Certificate.Status.PENDING:
                continue
            _revoke(
                cert,
                Certificate.Reason.CESSATION_OF_OPERATION,
                actor,
                message=events.cert_unconfirmed(cert.subject, cert.serial_colons),
                log_type=events.CERT_UNCONFIRMED,
            )
            count += 1
    return count
