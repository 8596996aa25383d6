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

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from certauth import events, keystore, prepared, profiles
from certauth import x509 as x509util
from certauth.events import SYSTEM, Actor
from certauth.models import Certificate, CertificateAuthority, Enrollment
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
    "rename_ca",
    "set_management_entity",
    "issue_certificate",
    "issue_from_csr",
    "revoke_certificate",
    "unrevoke_certificate",
    "delete_certificate",
    "generate_crl",
    "check_enrollment_fields",
    "create_enrollment",
    "update_enrollment",
    "delete_enrollment",
    "refresh_due_crls",
    "current_crl",
    "crl_url",
    "ocsp_url",
]


class ServiceError(Exception):
    """A request that the rules refuse; the message is shown to the administrator."""


class NotAllowed(ServiceError):
    """The action is forbidden by a rule (e.g. deleting a CA that issued certificates)."""


#: Certificates start a few minutes in the past, for clients whose clock is behind.
BACKDATE = dt.timedelta(minutes=5)
#: A CRL is re-signed when less than this is left before its nextUpdate.
CRL_REFRESH_MARGIN = dt.timedelta(hours=6)
#: nextUpdate of a new CRL.
CRL_LIFETIME = dt.timedelta(hours=24)


def _public_url(view: str, **kwargs: str) -> str | None:
    """A URL on this server for certificate extensions (CRL DP, AIA), if FAC_PUBLIC_URL is set."""
    from django.urls import reverse

    base = settings.FAC_PUBLIC_URL
    return f"{base}{reverse(view, kwargs=kwargs or None)}" if base else None


def crl_url(ca: CertificateAuthority) -> str | None:
    """Where devices fetch *ca*'s CRL (the CRL distribution point of its certificates)."""
    return _public_url("crl", name=ca.name)


def ocsp_url() -> str | None:
    """The OCSP responder named in certificates (authorityInfoAccess)."""
    return _public_url("ocsp")


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


def check_ca_name(name: str) -> str:
    """A new certificate ID: 1-64 characters without spaces or slashes, not in use."""
    name = name.strip()
    if not name or len(name) > 64 or any(c.isspace() or c in "/\\" for c in name):
        raise InvalidInput(
            f"Invalid certificate ID {name!r}: 1-64 characters, no spaces or slashes."
        )
    if CertificateAuthority.objects.filter(name=name).exists():
        raise InvalidInput(f"A CA with certificate ID {name!r} already exists.")
    return name


def _ca_fields(certificate: x509.Certificate) -> dict:
    key_type, size, curve = x509util.describe_key(x509util.public_key_of(certificate))
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
    name = check_ca_name(name)
    subject_name = x509util.parse_name(subject)
    algorithm = x509util.hash_algorithm(hash_name)
    profiles.check_validity_days(days, "Validity")
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
                issuer_public_key=x509util.public_key_of(parent_cert),
                serial=_unique_serial(),
                not_before=now - BACKDATE,
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
                not_before=now - BACKDATE,
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
        events.log(events.CA_CREATED, actor, subject=ca.subject)
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
    name = check_ca_name(name)
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
        key.public_key(), x509util.public_key_of(certificate)
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
        log_type = events.TRUSTED_CA_IMPORTED if trusted else events.CA_IMPORTED
        events.log(log_type, actor, subject=ca.subject)
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
        events.log(events.CA_DELETED, actor, subject=subject)


def set_management_entity(
    ca: CertificateAuthority, certificate_data: bytes | None, *, actor: Actor = SYSTEM
) -> CertificateAuthority:
    """Name (or, with None, clear) the PKI management entity a local CA trusts.

    RFC 9483, 5.3.2: an RA whose signed revocation requests the CA accepts for
    any certificate it issued, and whose removeFromCRL takes one off hold.
    The certificate is an end-entity certificate (PEM or DER), valid now.
    """
    pem = ""
    if certificate_data:
        certificate = x509util.load_certificate(certificate_data)
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
            is_ca = constraints.value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if is_ca:
            raise InvalidInput("The management entity is an RA, not a CA certificate.")
        now = timezone.now()
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise InvalidInput("The management entity's certificate is not valid now.")
        x509util.public_key_of(certificate)
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    with transaction.atomic():
        ca = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
        if ca.kind != CertificateAuthority.Kind.LOCAL:
            raise InvalidInput(f"CA {ca.name} is not a local CA.")
        changed = ca.management_entity_pem != pem
        ca.management_entity_pem = pem
        ca.save(update_fields=["management_entity_pem", "updated"])
        if changed and pem:
            events.log(
                events.CA_MANAGEMENT_ENTITY_SET,
                actor,
                subject=ca.subject,
                entity=x509util.format_name(certificate.subject),
                fingerprint=certificate.fingerprint(hashes.SHA256()).hex(":").upper()[:23],
            )
        elif changed:
            events.log(events.CA_MANAGEMENT_ENTITY_CLEARED, actor, subject=ca.subject)
    return ca


def rename_ca(
    ca: CertificateAuthority, name: str, *, actor: Actor = SYSTEM
) -> CertificateAuthority:
    """Give a CA another certificate ID (the name in CRL URLs and the CLI)."""
    with transaction.atomic():
        ca = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
        if name.strip() == ca.name:
            return ca
        new = check_ca_name(name)
        old, ca.name = ca.name, new
        ca.save(update_fields=["name", "updated"])
        events.log(events.CA_RENAMED, actor, subject=ca.subject, old=old, new=new)
    return ca


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
    events.log(events.CA_KEY_EXPORTED, actor, subject=ca.subject)
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
        events.log(events.CA_REVOKED, actor, subject=ca.subject, reason=reason_label)
    return ca


# --- Certificates ------------------------------------------------------------------


def issue_certificate(
    *,
    ca: CertificateAuthority,
    subject: x509.Name,
    public_key: PublicKey,
    sans: Sequence[x509.GeneralName] = (),
    key_usage: Sequence[str] | None = None,
    ext_key_usage: Sequence[str] = (),
    days: int = profiles.DEFAULT_CERTIFICATE_DAYS,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    kind: str = Certificate.Kind.LOCAL_SERVICE,
    name: str = "",
    enrollment: Enrollment | None = None,
    status: str = Certificate.Status.ACTIVE,
    replaces: Certificate | None = None,
    hash_name: str | None = None,
    actor: Actor = SYSTEM,
    renewal: bool = False,
    ca_is_current: bool = False,
) -> Certificate:
    """Sign a certificate for an end entity and log it.

    *key_usage* None means the profile's default for the key type. The
    validity is *days* from now, or *not_before*..*not_after* when given, and
    always capped at the CA's own (RFC 5280 6.1.3: a path is valid only while
    every certificate in it is). Enrollment certificates come through
    :mod:`certauth.enrollment`, which applies the enrollment's rules first.
    *ca_is_current*: *ca* was read within the caller's request, not read again.
    Every check and the signature come before the database is written, so the
    writes need no savepoint of their own.
    """
    profiles.check_public_key(public_key)
    profiles.check_validity_days(days)
    if len(subject) == 0 and not sans:
        raise InvalidInput("A certificate needs a subject or a subjectAltName (RFC 5280 4.1.2.6).")
    if key_usage is None:
        key_usage = profiles.key_usage_for(public_key, None)
    now = timezone.now()
    if not ca_is_current:
        # Read afresh (its state may have changed), but not locked: issuances
        # of one CA run side by side.
        ca = CertificateAuthority.objects.defer("crl_der").get(pk=ca.pk)
    _check_signer(ca, now)
    not_after = min(not_after or now + dt.timedelta(days=days), ca.not_after)
    not_before = not_before or now - BACKDATE
    if not_after <= not_before:
        raise InvalidInput("The validity period is empty.")
    # 159 random bits (RFC 5280, 4.1.2.2): the unique index on the serial
    # is the check; a collision is never expected.
    serial = x509util.random_serial()
    builder = x509util.end_entity_builder(
        subject=subject,
        ca_certificate=ca.certificate,
        public_key=public_key,
        serial=serial,
        not_before=not_before,
        not_after=not_after,
        key_usage=key_usage,
        ext_key_usage=ext_key_usage,
        sans=sans,
        crl_url=crl_url(ca),
        ocsp_url=ocsp_url(),
    )
    algorithm = x509util.hash_algorithm(hash_name or ca.hash_algorithm or "sha256")
    certificate = keystore.sign_certificate(ca, builder, algorithm)
    subject_text = x509util.format_name(subject)
    with transaction.atomic(savepoint=False):
        cert = Certificate(
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
        prepared.insert(cert)
        if renewal:
            events.log(events.CERT_RENEWED, actor, subject=subject_text, serial=cert.serial_colons)
        else:
            # serial is not in the wording: it links the line to the certificate.
            events.log(
                events.CERT_SIGNED,
                actor,
                subject=subject_text,
                ca=ca.subject,
                serial=cert.serial_colons,
            )
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
        except (x509.ExtensionNotFound, ValueError):
            sans = []
    try:
        public_key = x509util.public_key_of(csr)
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidInput("The CSR's public key is of an unsupported type.") from None
    return issue_certificate(ca=ca, subject=csr.subject, public_key=public_key, sans=sans, **kwargs)


def revoke_locked(
    cert: Certificate,
    code: str,
    actor: Actor,
    /,
    *,
    log_type: events.LogType = events.CERT_REVOKED,
    **params: object,
) -> None:
    """Revoke *cert* (locked by the caller) with reason *code*; log it with *log_type*.

    *params* fill the log type's template; ``reason`` defaults to the label of *code*.
    """
    cert.status = Certificate.Status.REVOKED
    cert.revoked_at = timezone.now()
    cert.revocation_reason = code
    cert.save(update_fields=["status", "revoked_at", "revocation_reason", "updated"])
    params.setdefault("reason", Certificate.Reason(code).label)
    if code == Certificate.Reason.CERTIFICATE_HOLD and log_type is events.CERT_REVOKED:
        # A hold suspends the certificate; it is not revoked for good (RFC 5280, 5.3.1).
        log_type = events.CERT_HELD
    events.log(log_type, actor, subject=cert.subject, serial=cert.serial_colons, **params)
    # The CRL reflects a revocation at once (it is re-signed when fetched, too).
    refresh_crl_on_commit(cert.ca_id)


def refresh_crl_on_commit(ca_id: int) -> None:
    """Re-sign *ca_id*'s CRL once the transaction commits: once, however many revocations."""
    connection = transaction.get_connection()
    if any(
        getattr(callback, "fac_crl_ca", None) == ca_id
        for _savepoints, callback, _robust in connection.run_on_commit
    ):
        return

    def refresh() -> None:
        _refresh_crl(ca_id)

    refresh.fac_crl_ca = ca_id  # type: ignore[attr-defined]
    transaction.on_commit(refresh)


def _refresh_crl(ca_id: int) -> None:
    ca = CertificateAuthority.objects.filter(pk=ca_id).first()
    if ca is not None and ca.has_key and ca.status == CertificateAuthority.Status.ACTIVE:
        try:
            generate_crl(ca)
        except Exception:  # noqa: BLE001 - the revocation stands; the CRL is re-signed later
            log.exception("CRL of CA %s not regenerated", ca.name)


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
        revoke_locked(cert, reason, actor)
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
        events.log(events.CERT_UNREVOKED, actor, subject=cert.subject, serial=cert.serial_colons)
        # The CRL stops listing it at once, as OCSP does.
        transaction.on_commit(lambda: _refresh_crl(cert.ca_id))
    return cert


def delete_certificate(cert: Certificate, *, actor: Actor = SYSTEM) -> None:
    """Delete an expired certificate, or one never in force (rejected or unconfirmed, expired).

    An unexpired certificate stays: a valid one must be revoked first, so that
    it reaches the CRL, and a revoked one is still listed there.
    """
    with transaction.atomic():
        cert = Certificate.objects.select_for_update().get(pk=cert.pk)
        if cert.not_after > timezone.now():
            if cert.status == Certificate.Status.REVOKED:
                raise NotAllowed(
                    f"Certificate {cert.serial_colons} is revoked and not yet expired: "
                    "the CRL still needs it."
                )
            raise NotAllowed(
                f"Certificate {cert.serial_colons} is still valid: revoke it first, "
                "so that the CRL lists it."
            )
        subject, serial = cert.subject, cert.serial_colons
        cert.delete()
        events.log(events.CERT_DELETED, actor, subject=subject, serial=serial)


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
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    x509util.public_key_of(ca.certificate)
                ),
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
                .revocation_date(revoked_at or now)
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
        events.log(events.CRL_GENERATED, actor, subject=ca.subject, count=len(revoked))
    return crl


# --- Enrollments ------------------------------------------------------------------------


def _in_field(field: str, check, *args):
    """Run *check*; its InvalidInput names *field*."""
    try:
        return check(*args)
    except InvalidInput as exc:
        raise InvalidInput(str(exc), field=field) from None


def check_enrollment_fields(
    *,
    ca: CertificateAuthority,
    subject: str,
    key_usage: Sequence[str],
    ext_key_usage: Sequence[str],
    allowed_sans: Sequence[str],
    validity_days: int,
) -> tuple[str, list[str]]:
    """The profile fields of an enrollment, checked; returns (subject, SANs) normalised."""
    if ca.kind != CertificateAuthority.Kind.LOCAL or not ca.has_key:
        raise InvalidInput(f"CA {ca.name} is not a local CA with a private key.", field="ca")
    if subject:
        subject = _in_field("subject", lambda: x509util.format_name(x509util.parse_name(subject)))
    _in_field("key_usage", x509util.key_usage_extension, key_usage)
    _in_field("ext_key_usage", x509util.ext_key_usage_extension, ext_key_usage)
    sans = list(
        dict.fromkeys(
            _in_field(
                "allowed_sans", lambda text=text: x509util.format_san(x509util.parse_san(text))
            )
            for text in allowed_sans
        )
    )
    profiles.check_validity_days(validity_days, field="validity_days")
    return subject, sans


def _check_choices(values: dict) -> None:
    """The enrollment's choice fields hold one of their choices; a device names its vendor CA."""
    choices = {
        "protocol": Enrollment.Protocol.values,
        "type": Enrollment.Type.values,
        "method": Enrollment.Method.values,
        "kind": Certificate.Kind.values,
        "status": Enrollment.Status.values,
    }
    labels = {"kind": "certificate category", "type": "enrollment type"}
    for field, allowed in choices.items():
        if values[field] not in allowed:
            alternatives = f"{', '.join(allowed[:-1])} or {allowed[-1]}"
            raise InvalidInput(
                f"Unknown {labels.get(field, field)} {values[field]!r}: use {alternatives}.",
                field=field,
            )
    if values["renewable_days"] < 0:
        raise InvalidInput(
            "Renewable before expiry must be 0 or more days.", field="renewable_days"
        )
    profiles.check_validity_days(
        values["renewable_days"] or 1, "Renewable before expiry", field="renewable_days"
    )
    trusted = values["trusted_ca"]
    if values["type"] == Enrollment.Type.DEVICE and trusted is None:
        raise InvalidInput(
            "A device enrollment needs the trusted CA of its vendor.", field="trusted_ca"
        )
    if trusted is not None and trusted.kind != CertificateAuthority.Kind.TRUSTED:
        raise InvalidInput(f"CA {trusted.name} is not a trusted CA.", field="trusted_ca")
    if values["protocol"] == Enrollment.Protocol.SCEP:
        # RFC 8894, 2.2: a SCEP client authenticates with the challenge password.
        if values["type"] != Enrollment.Type.REGULAR:
            raise InvalidInput(
                "A SCEP enrollment authenticates with its challenge password: type regular.",
                field="type",
            )
        if not values["wildcard"] and not values["subject"]:
            raise InvalidInput(
                "A regular SCEP enrollment names the subject its device requests "
                "(or make it a wildcard enrollment).",
                field="subject",
            )
    elif values["wildcard"]:
        raise InvalidInput("Wildcard enrollments are SCEP enrollments.", field="wildcard")
    if values["wildcard"] and values["subject"]:
        raise InvalidInput(
            "A wildcard enrollment limits subjects with a pattern, not a required subject.",
            field="subject",
        )


_EDITABLE = (
    "protocol",
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
    "accept_issued_signer",
    "trusted_ca",
    "status",
    "enabled",
    "wildcard",
    "subject_pattern",
)
_DEFAULTS = {
    "protocol": Enrollment.Protocol.CMP,
    "subject": "",
    "key_usage": profiles.DEFAULT_ENROLLMENT_KEY_USAGE,
    "ext_key_usage": (),
    "allowed_sans": (),
    "validity_days": profiles.DEFAULT_CERTIFICATE_DAYS,
    "renewable_days": 0,
    "type": Enrollment.Type.REGULAR,
    "method": Enrollment.Method.AUTOMATIC,
    "kind": Certificate.Kind.LOCAL_SERVICE,
    "allow_reenrollment": False,
    "allow_mac_kur": False,
    "accept_issued_signer": True,
    "trusted_ca": None,
    "status": Enrollment.Status.APPROVED,
    "enabled": True,
    "wildcard": False,
    "subject_pattern": "",
}


def _checked_enrollment(values: dict) -> dict:
    """All the fields of an enrollment checked and normalised, ready to store."""
    _check_choices(values)
    subject, sans = check_enrollment_fields(
        ca=values["ca"],
        subject=values["subject"],
        key_usage=values["key_usage"],
        ext_key_usage=values["ext_key_usage"],
        allowed_sans=values["allowed_sans"],
        validity_days=values["validity_days"],
    )
    pattern = values["subject_pattern"].strip()
    if pattern:
        pattern = _in_field(
            "subject_pattern", lambda: x509util.format_name(x509util.parse_name(pattern))
        )
    return {
        **values,
        "subject": subject,
        "subject_pattern": pattern,
        "allowed_sans": sans,
        "key_usage": [name for name in x509util.KEY_USAGES if name in set(values["key_usage"])],
        "ext_key_usage": list(dict.fromkeys(values["ext_key_usage"])),
    }


def validate_enrollment(*, reference: str, password: str, unique: bool = True, **fields) -> dict:
    """Check a new enrollment without storing it; returns the values create_enrollment stores.

    The GUI, the admin, ``add_enrollment`` and ``import_enrollments`` all come
    here. *unique* False leaves the check for an existing ID to the caller
    (an import checks all its IDs in one query).
    """
    unknown = set(fields) - set(_EDITABLE)
    if unknown:
        raise InvalidInput(f"Unknown enrollment fields {', '.join(sorted(unknown))}.")
    values = _checked_enrollment({**_DEFAULTS, **fields})
    values["reference"] = profiles.check_reference(reference)
    if unique and Enrollment.objects.filter(reference=values["reference"]).exists():
        raise InvalidInput(
            f"An enrollment with ID {values['reference']!r} already exists.", field="reference"
        )
    # A regular enrollment authenticates with its password (CMP MAC, SCEP challenge).
    if values["type"] == Enrollment.Type.REGULAR or password:
        profiles.check_password(password)
    return values


def create_enrollment(
    *, reference: str, password: str, actor: Actor = SYSTEM, **fields
) -> Enrollment:
    """Create an enrollment (fields as :data:`_DEFAULTS`; ``ca`` is required)."""
    if "ca" not in fields:
        raise InvalidInput("An enrollment needs a CA.")
    values = validate_enrollment(reference=reference, password=password, **fields)
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(**_sealed(password), **values)
            events.log(
                events.ENROLLMENT_CREATED,
                actor,
                protocol=enrollment.protocol_label,
                reference=enrollment.reference,
            )
    except IntegrityError:
        raise InvalidInput(
            f"An enrollment with ID {values['reference']!r} already exists.", field="reference"
        ) from None
    return enrollment


def _sealed(password: str) -> dict:
    """The stored form of an enrollment password: sealed, and its lookup digest."""
    if not password:
        return {"encrypted_password": None, "password_index": ""}
    return {
        "encrypted_password": keystore.seal_secret(password),
        "password_index": keystore.secret_index(password.encode()),
    }


def reset_enrollment(enrollment: Enrollment, *, actor: Actor = SYSTEM) -> Enrollment:
    """The client lost its certificate and key: its next request may enroll afresh.

    The new certificate then replaces the current one, as a re-enrollment does.
    """
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        enrollment.reenroll_once = True
        enrollment.save(update_fields=["reenroll_once", "updated"])
        events.log(
            events.ENROLLMENT_RESET,
            actor,
            protocol=enrollment.protocol_label,
            reference=enrollment.reference,
        )
    return enrollment


def create_enrollments(
    rows: Sequence[tuple[dict, str]], *, source: str, actor: Actor = SYSTEM
) -> list[Enrollment]:
    """Store checked enrollments (values from :func:`validate_enrollment`) all or nothing."""
    objects = [Enrollment(**_sealed(password), **values) for values, password in rows]
    try:
        with transaction.atomic():
            created = Enrollment.objects.bulk_create(objects, batch_size=500)
            events.log_many(
                events.ENROLLMENT_CREATED,
                actor,
                [{"protocol": e.protocol_label, "reference": e.reference} for e in created],
            )
            events.log(events.ENROLLMENTS_IMPORTED, actor, count=len(created), source=source)
    except IntegrityError:
        raise InvalidInput(
            "An enrollment of the file was created meanwhile; nothing was imported."
        ) from None
    return created


def validate_enrollment_change(
    enrollment: Enrollment, *, password: str | None = None, **changes
) -> dict:
    """Check changes to *enrollment* without storing them; returns all its new values."""
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))}.")
    values = _checked_enrollment(
        {field: changes.get(field, getattr(enrollment, field)) for field in _EDITABLE}
    )
    if password is not None:
        profiles.check_password(password)
    elif values["type"] == Enrollment.Type.REGULAR and not enrollment.encrypted_password:
        # A regular enrollment authenticates with its password: it must have one.
        profiles.check_password("")
    return values


def update_enrollment(
    enrollment: Enrollment, *, password: str | None = None, actor: Actor = SYSTEM, **changes
) -> Enrollment:
    """Change an enrollment; *password* None keeps the stored one (it is write-only)."""
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        values = validate_enrollment_change(enrollment, password=password, **changes)
        for field, value in values.items():
            setattr(enrollment, field, value)
        if password is not None:
            for field, value in _sealed(password).items():
                setattr(enrollment, field, value)
        enrollment.save()
        events.log(
            events.ENROLLMENT_CHANGED,
            actor,
            protocol=enrollment.protocol_label,
            reference=enrollment.reference,
        )
    return enrollment


def delete_enrollment(enrollment: Enrollment, *, actor: Actor = SYSTEM) -> None:
    """Delete an enrollment; the certificates it issued stay (their link is cleared)."""
    with transaction.atomic():
        reference, protocol = enrollment.reference, enrollment.protocol_label
        enrollment.delete()
        events.log(events.ENROLLMENT_DELETED, actor, protocol=protocol, reference=reference)


# --- CRLs -------------------------------------------------------------------------------


def _crl_due(ca: CertificateAuthority, margin: dt.timedelta) -> bool:
    return (
        not ca.crl_der
        or ca.crl_next_update is None
        or ca.crl_next_update <= timezone.now() + margin
    )


def current_crl(ca: CertificateAuthority) -> bytes:
    """The CA's CRL (DER), re-signed first when missing or close to its nextUpdate.

    Concurrent callers wait for the CA's row lock and re-check, so a due CRL
    is signed once, not once per caller.
    """
    if not _crl_due(ca, CRL_REFRESH_MARGIN):
        return bytes(ca.crl_der or b"")
    with transaction.atomic():
        locked = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
        if _crl_due(locked, CRL_REFRESH_MARGIN):
            generate_crl(locked)
            locked.refresh_from_db(fields=["crl_der", "crl_next_update", "crl_number"])
    return bytes(locked.crl_der or b"")


def refresh_due_crls(*, margin: dt.timedelta = CRL_REFRESH_MARGIN, actor: Actor = SYSTEM) -> int:
    """Re-sign the CRLs that are missing or within *margin* of their nextUpdate.

    RFC 5280, 5.1.2.5: a new CRL is issued before the previous one's
    nextUpdate. Runs with the housekeeping and from ``manage.py refresh_crls``;
    fetching a CRL refreshes it too. One CA that cannot sign (a keystore
    failure) does not keep the others from being refreshed.
    """
    due = (
        CertificateAuthority.objects.usable()
        .filter(Q(crl_next_update__isnull=True) | Q(crl_next_update__lte=timezone.now() + margin))
        .values_list("pk", flat=True)
    )
    count = 0
    for pk in due:
        try:
            with transaction.atomic():
                ca = CertificateAuthority.objects.select_for_update().get(pk=pk)
                # Another worker may have re-signed it while this one waited for the lock.
                if not _crl_due(ca, margin):
                    continue
                generate_crl(ca, actor=actor)
        except Exception:  # noqa: BLE001 - logged; the next run tries again
            log.exception("CRL of CA %s not refreshed", pk)
            continue
        count += 1
    return count
