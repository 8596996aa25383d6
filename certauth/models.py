"""Certificate authorities, issued certificates, enrollments and their requests, the event log."""

from __future__ import annotations

import datetime as dt
from functools import cached_property

from cryptography import x509
from django.db import models
from django.urls import reverse
from django.utils import timezone

from certauth.x509 import serial_colons

# --- Certificate authorities -------------------------------------------------------------


class CAQuerySet(models.QuerySet["CertificateAuthority"]):
    def local(self) -> CAQuerySet:
        return self.filter(kind=CertificateAuthority.Kind.LOCAL)

    def trusted(self) -> CAQuerySet:
        return self.filter(kind=CertificateAuthority.Kind.TRUSTED)

    def usable(self, now: dt.datetime | None = None) -> CAQuerySet:
        """Local CAs that may sign: a key, not revoked, within validity
        (``CertificateAuthority.is_usable`` is the same rule for one CA)."""
        now = now or timezone.now()
        return (
            self.local()
            .filter(revoked_at__isnull=True, not_before__lte=now, not_after__gt=now)
            .exclude(encrypted_key__isnull=True)
        )


class CertificateAuthority(models.Model):
    class Kind(models.TextChoices):
        LOCAL = "local", "Local CA"
        TRUSTED = "trusted", "Trusted CA"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    class KeyType(models.TextChoices):
        RSA = "rsa", "RSA"
        EC = "ec", "ECDSA"
        ED25519 = "ed25519", "Ed25519"
        ED448 = "ed448", "Ed448"

    name = models.CharField(
        "certificate ID",
        max_length=64,
        unique=True,
        help_text="Unique certificate ID, e.g. fac.cz.root.",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.LOCAL)
    subject = models.CharField(max_length=1024, db_index=True)
    issuer = models.CharField(max_length=1024)
    serial = models.CharField(max_length=64, db_index=True)
    certificate_pem = models.TextField()
    # Sealed by certauth.keystore; never shown anywhere.
    encrypted_key = models.BinaryField(null=True, blank=True, editable=False)
    key_type = models.CharField(max_length=8, choices=KeyType.choices)
    key_size = models.PositiveIntegerField()
    curve = models.CharField(max_length=10, blank=True)
    hash_algorithm = models.CharField(max_length=10, default="sha256")
    not_before = models.DateTimeField()
    not_after = models.DateTimeField(db_index=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="The local CA that signed this one (intermediate CAs).",
    )
    imported = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=32, blank=True)
    crl_number = models.PositiveBigIntegerField(default=0)
    crl_der = models.BinaryField(null=True, blank=True, editable=False)
    crl_next_update = models.DateTimeField(null=True, blank=True)
    # RFC 9483, 5.3.2: a PKI management entity (an RA) that may revoke, and revive,
    # certificates of this CA on behalf of their holders.
    management_entity_pem = models.TextField(
        "trusted management entity certificate",
        blank=True,
        help_text="The certificate of an RA whose signed revocation requests this CA accepts "
        "for any certificate it issued (PEM).",
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = CAQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "certificate authority"
        verbose_name_plural = "certificate authorities"
        permissions = [
            ("manage_pki", "Can change CAs, certificates, enrollments and CMP settings"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("ca_detail", args=[self.pk])

    @cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode())

    @property
    def has_key(self) -> bool:
        return bool(self.encrypted_key)

    def is_usable(self, now: dt.datetime) -> bool:
        """This CA is among ``CertificateAuthority.objects.usable(now)`` (the same rule)."""
        return (
            self.kind == self.Kind.LOCAL
            and self.revoked_at is None
            and self.not_before <= now < self.not_after
            and self.encrypted_key is not None
        )

    @cached_property
    def management_entity(self) -> x509.Certificate | None:
        """The trusted management entity's certificate (RFC 9483, 5.3.2), if one is set."""
        if not self.management_entity_pem:
            return None
        return x509.load_pem_x509_certificate(self.management_entity_pem.encode())

    @property
    def is_root(self) -> bool:
        return self.certificate.issuer == self.certificate.subject

    def status_at(self, now: dt.datetime | None = None) -> str:
        now = now or timezone.now()
        if self.revoked_at:
            return self.Status.REVOKED
        if self.not_after <= now:
            return self.Status.EXPIRED
        return self.Status.ACTIVE

    @property
    def status(self) -> str:
        return self.status_at()

    @property
    def serial_colons(self) -> str:
        return serial_colons(self.serial)

    def chain(self) -> list[CertificateAuthority]:
        """This CA and its local issuers, up to the root."""
        chain: list[CertificateAuthority] = [self]
        seen = {self.pk}
        current = self
        while current.parent_id and current.parent_id not in seen:
            current = current.parent  # type: ignore[assignment]
            seen.add(current.pk)
            chain.append(current)
        return chain

    def root(self) -> CertificateAuthority:
        return self.chain()[-1]


# --- End-entity certificates ------------------------------------------------------------


class CertificateQuerySet(models.QuerySet["Certificate"]):
    def current(self, now: dt.datetime | None = None) -> CertificateQuerySet:
        """Certificates in force: active (confirmed), unexpired."""
        now = now or timezone.now()
        return self.filter(status=Certificate.Status.ACTIVE, not_after__gt=now)

    def revoked(self) -> CertificateQuerySet:
        return self.filter(status=Certificate.Status.REVOKED)

    def pending(self) -> CertificateQuerySet:
        return self.filter(status=Certificate.Status.PENDING)

    def with_status(self, status: str, now: dt.datetime | None = None) -> CertificateQuerySet:
        """Filter by the status the GUI shows (expiry is derived from the dates)."""
        now = now or timezone.now()
        S = Certificate.Status
        if status == S.EXPIRED:
            return self.exclude(status=S.REVOKED).filter(not_after__lte=now)
        if status in (S.ACTIVE, S.PENDING, S.SUPERSEDED):
            return self.filter(status=status, not_after__gt=now)
        if status == S.REVOKED:
            return self.filter(status=S.REVOKED)
        return self.all()


class Certificate(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PENDING = "pending", "Pending"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"
        # Replaced by a newer certificate of its enrollment, and not revoked:
        # still valid, no longer the enrollment's certificate.
        SUPERSEDED = "superseded", "Superseded"

    class Kind(models.TextChoices):
        USER = "user", "User"
        DEVICE = "device", "Device"
        LOCAL_SERVICE = "service", "Local service"

    class Reason(models.TextChoices):
        # RFC 5280 5.3.1 CRLReason names, as x509.ReasonFlags values.
        UNSPECIFIED = "unspecified", "Unspecified"
        KEY_COMPROMISE = "keyCompromise", "Key Compromise"
        CA_COMPROMISE = "cACompromise", "CA Compromise"
        AFFILIATION_CHANGED = "affiliationChanged", "Affiliation Changed"
        SUPERSEDED = "superseded", "Superseded"
        CESSATION_OF_OPERATION = "cessationOfOperation", "Cessation Of Operation"
        CERTIFICATE_HOLD = "certificateHold", "Certificate Hold"

    name = models.CharField("certificate ID", max_length=128, blank=True, db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DEVICE)
    ca = models.ForeignKey(CertificateAuthority, on_delete=models.PROTECT, related_name="issued")
    enrollment = models.ForeignKey(
        "Enrollment", null=True, blank=True, on_delete=models.SET_NULL, related_name="certificates"
    )
    serial = models.CharField(max_length=64, unique=True)
    subject = models.CharField(max_length=1024, db_index=True)
    sans = models.JSONField(default=list, blank=True)
    key_usage = models.JSONField(default=list, blank=True)
    ext_key_usage = models.JSONField(default=list, blank=True)
    certificate_pem = models.TextField()
    not_before = models.DateTimeField()
    not_after = models.DateTimeField(db_index=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=32, choices=Reason.choices, blank=True)
    replaces = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replaced_by",
        help_text="The certificate this one renews or re-enrolls; revoked as superseded once confirmed.",
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    updated = models.DateTimeField(auto_now=True)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        verbose_name = "certificate"
        verbose_name_plural = "certificates"
        indexes = [models.Index(fields=["ca", "status"])]
        constraints = [
            # certauth.enrollment: at most one certificate in force per enrollment.
            models.UniqueConstraint(
                fields=["enrollment"],
                condition=models.Q(status="active"),
                name="one_active_certificate_per_enrollment",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} ({self.serial_colons})"

    def get_absolute_url(self) -> str:
        return reverse("cert_detail", args=[self.pk])

    @cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode())

    @property
    def serial_colons(self) -> str:
        return serial_colons(self.serial)

    @property
    def serial_number(self) -> int:
        return int(self.serial, 16)

    def status_at(self, now: dt.datetime | None = None) -> str:
        now = now or timezone.now()
        if self.status == self.Status.REVOKED:
            return self.status
        if self.not_after <= now:
            return self.Status.EXPIRED
        return self.status

    @property
    def on_hold(self) -> bool:
        """Revoked with reason certificateHold: suspended, and may be released."""
        return (
            self.status == self.Status.REVOKED
            and self.revocation_reason == self.Reason.CERTIFICATE_HOLD
        )

    @property
    def display_state(self) -> str:
        """The state a badge shows: ``hold`` for a certificate on hold, else :meth:`status_at`."""
        return "hold" if self.on_hold else self.status_at()

    @property
    def display_status(self) -> str:
        if self.on_hold:
            return "On hold"
        return self.Status(self.status_at()).label


# --- CMP enrollments ---------------------------------------------------------------------


class EnrollmentQuerySet(models.QuerySet["Enrollment"]):
    def usable(self) -> EnrollmentQuerySet:
        return self.filter(enabled=True, status=Enrollment.Status.APPROVED)


class Enrollment(models.Model):
    """A client's enrollment: its ID, password, protocol, CA and certificate profile."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class Type(models.TextChoices):
        REGULAR = "regular", "Regular"
        DEVICE = "device", "Device"

    class Method(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic"
        MANUAL = "manual", "Manual approval"

    class Protocol(models.TextChoices):
        CMP = "cmp", "CMP"
        SCEP = "scep", "SCEP"

    reference = models.CharField(
        "enrollment ID",
        max_length=128,
        unique=True,
        help_text="The reference the client sends (CMP senderKID); matched exactly.",
    )
    # Sealed by certauth.keystore: needed in clear to check a password-based MAC.
    encrypted_password = models.BinaryField(null=True, blank=True, editable=False)
    protocol = models.CharField(max_length=8, choices=Protocol.choices, default=Protocol.CMP)
    ca = models.ForeignKey(
        CertificateAuthority, on_delete=models.PROTECT, related_name="enrollments"
    )
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.REGULAR)
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.AUTOMATIC)
    kind = models.CharField(
        "certificate category",
        max_length=10,
        choices=Certificate.Kind.choices,
        default=Certificate.Kind.LOCAL_SERVICE,
    )
    subject = models.CharField(
        "required subject",
        max_length=1024,
        blank=True,
        help_text="If set, the request's subject must be exactly this DN.",
    )
    allowed_sans = models.JSONField(
        "allowed SAN names",
        default=list,
        blank=True,
        help_text="SANs a request may carry (e.g. DNS:fw.example.com, IP:192.0.2.1); others are refused.",
    )
    key_usage = models.JSONField(default=list, blank=True)
    ext_key_usage = models.JSONField(default=list, blank=True)
    validity_days = models.PositiveIntegerField("certificate validity (days)", default=365)
    renewable_days = models.PositiveIntegerField(
        "renewable before expiry (days)",
        default=0,
        help_text="Renewal (kur) is allowed this many days before expiry; 0 allows it any time.",
    )
    allow_reenrollment = models.BooleanField(
        default=False,
        help_text="Allow a new ir while a certificate is active; the old one is revoked as superseded.",
    )
    allow_mac_kur = models.BooleanField(
        "allow password-protected renewal",
        default=False,
        help_text="Accept key update requests protected with the enrollment password (FortiGate 'renewal').",
    )
    accept_issued_signer = models.BooleanField(
        "accept requests signed by certificates it issued",
        default=True,
        help_text="A certificate of this enrollment may sign an initialization or certification "
        "request (CMP ir, cr, p10cr) for a further certificate of it (RFC 9483, 4.1.1).",
    )
    reenroll_once = models.BooleanField(
        "reset",
        default=False,
        help_text="The client lost its certificate and key: its next request enrolls afresh "
        "and replaces the current certificate.",
    )
    # SCEP: a regular enrollment names its subject; a wildcard enrollment
    # accepts any subject matching its pattern, with a shared challenge password.
    wildcard = models.BooleanField(
        default=False,
        help_text="SCEP: any subject that matches the subject pattern, with this challenge password.",
    )
    subject_pattern = models.CharField(
        max_length=1024,
        blank=True,
        help_text="Wildcard enrollments: e.g. CN=*.branch.example.net; empty accepts any subject.",
    )
    # A keyed digest of the password (certauth.keystore.secret_index), so that
    # a challenge finds its wildcard enrollment without decrypting every password.
    password_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    trusted_ca = models.ForeignKey(
        CertificateAuthority,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="device_enrollments",
        help_text="Device enrollments: the trusted CA that vendor certificates chain to.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.APPROVED)
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = EnrollmentQuerySet.as_manager()

    class Meta:
        ordering = ["reference"]
        verbose_name = "enrollment request"
        verbose_name_plural = "enrollment requests"

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        return reverse("enrollment_detail", args=[self.pk])

    @property
    def has_password(self) -> bool:
        return bool(self.encrypted_password)

    @property
    def protocol_label(self) -> str:
        return self.Protocol(self.protocol).label


class CertificateRequest(models.Model):
    """A certificate request of a manual-approval enrollment, and its decision.

    Protocol-neutral (CMP, SCEP): the protocol keeps its own transaction state
    and finds the outcome here when the client polls.
    """

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting for approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    # The enrollment ID, kept when the enrollment is deleted.
    reference = models.CharField("enrollment ID", max_length=128)
    protocol = models.CharField(max_length=8, choices=Enrollment.Protocol.choices)
    operation = models.CharField(max_length=16, help_text="The protocol's message, e.g. ir, kur.")
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.WAITING, db_index=True
    )
    subject = models.CharField(max_length=1024, blank=True)
    public_key = models.BinaryField()  # SubjectPublicKeyInfo DER
    sans = models.JSONField("SANs", default=list, blank=True)
    renews = models.ForeignKey(
        Certificate,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The certificate a renewal request updates.",
    )
    replaces = models.ForeignKey(
        Certificate,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The enrollment's certificate the new one will replace.",
    )
    not_before = models.DateTimeField(null=True, blank=True)
    not_after = models.DateTimeField(null=True, blank=True)
    needs_confirmation = models.BooleanField(default=False)
    revoke_replaced = models.BooleanField(default=True)
    source_ip = models.GenericIPAddressField("source IP", null=True, blank=True)
    certificate = models.ForeignKey(
        Certificate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=512, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "pending request"
        verbose_name_plural = "pending requests"

    def __str__(self) -> str:
        return f"{self.protocol_label} {self.operation} of {self.reference} ({self.state})"

    @property
    def protocol_label(self) -> str:
        return Enrollment.Protocol(self.protocol).label

    @property
    def progress(self) -> str:
        """What became of the request, as Pending Requests shows it."""
        if self.state == self.State.WAITING:
            return "Waiting for approval"
        if self.state == self.State.REJECTED:
            return "The client gets the rejection at its next poll"
        cert = self.certificate
        if cert is None:
            return "Certificate deleted"
        return {
            Certificate.Status.PENDING: "Certificate issued, waiting for the client",
            Certificate.Status.ACTIVE: "Certificate in force",
            Certificate.Status.REVOKED: "Certificate revoked",
            Certificate.Status.SUPERSEDED: "Certificate superseded",
        }.get(Certificate.Status(cert.status), cert.display_status)


# --- Event log ----------------------------------------------------------------------


class LogEntryManager(models.Manager["LogEntry"]):
    def log(
        self,
        message: str,
        *,
        level: str = "information",
        category: str = "Event",
        subcategory: str = "Certificate Management",
        log_type: int = 0,
        user: str = "",
        source_ip: str | None = None,
    ) -> LogEntry:
        """Write one event (certauth.events.log composes the message)."""
        entry = self.build(
            message,
            level=level,
            category=category,
            subcategory=subcategory,
            log_type=log_type,
            user=user,
            source_ip=source_ip,
        )
        entry.save(force_insert=True)
        return entry

    def build(
        self,
        message: str,
        *,
        level: str = "information",
        category: str = "Event",
        subcategory: str = "Certificate Management",
        log_type: int = 0,
        user: str = "",
        source_ip: str | None = None,
        params: dict[str, str] | None = None,
    ) -> LogEntry:
        """An unsaved entry with its fields cut to their sizes (for bulk_create)."""
        return self.model(
            level=level,
            category=category,
            subcategory=subcategory,
            log_type_id=log_type,
            user=user[:150],
            source_ip=source_ip or None,
            message=message[:2000],
            params=params or {},
        )


class LogEntry(models.Model):
    class Level(models.TextChoices):
        EMERGENCY = "emergency", "Emergency"
        ALERT = "alert", "Alert"
        CRITICAL = "critical", "Critical"
        ERROR = "error", "Error"
        WARNING = "warning", "Warning"
        NOTIFICATION = "notification", "Notification"
        INFORMATION = "information", "Information"
        DEBUG = "debug", "Debug"

    timestamp = models.DateTimeField(default=timezone.now, db_index=True)
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.INFORMATION)
    category = models.CharField(max_length=32, default="Event")
    subcategory = models.CharField("sub category", max_length=64)
    log_type_id = models.PositiveIntegerField("log type ID", default=0)
    user = models.CharField(max_length=150, blank=True)
    source_ip = models.GenericIPAddressField("source IP", null=True, blank=True)
    message = models.TextField()
    # The parameters of the message (certauth.events), so that the GUI links an
    # entry to the certificate, CA, enrollment or transaction it concerns.
    params = models.JSONField(default=dict, blank=True, editable=False)

    objects = LogEntryManager()

    class Meta:
        ordering = ["-timestamp", "-id"]
        verbose_name = "log entry"
        verbose_name_plural = "log entries"
        indexes = [models.Index(fields=["level", "timestamp"])]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.level}: {self.message}"


# --- Guessing throttle ------------------------------------------------------------


class Throttle(models.Model):
    """Failed authentications of one key ("cmp-ref:fgt100f", "gui-ip:192.0.2.7") and its lockout.

    Kept in the database, so every worker and host throttles alike; written
    only by :mod:`certauth.throttle`.
    """

    key = models.CharField(max_length=200, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_start = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True, db_index=True)
    lockouts = models.PositiveIntegerField(
        default=0, help_text="Lockouts in a row: each one lasts twice as long as the last."
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "lockout"
        verbose_name_plural = "lockouts"
        ordering = ["-updated"]

    def __str__(self) -> str:
        return self.key


# --- Expiry alerts -------------------------------------------------------------------


class AlertSettings(models.Model):
    """System > Alerts: the expiry warning window and where the daily summary goes.

    One row, changed through :mod:`certauth.alerts` (which logs every change).
    """

    email = models.CharField(
        "alert e-mail address",
        max_length=254,
        blank=True,
        help_text="The daily expiry summary goes here; empty: the warnings are only logged.",
    )
    warning_days = models.PositiveIntegerField(
        "warning window (days)",
        default=30,
        help_text="A CA or certificate is warned about once, when it enters this many days "
        "before its expiry.",
    )
    last_run = models.DateTimeField(null=True, blank=True, editable=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "alert settings"
        verbose_name_plural = "alert settings"

    def __str__(self) -> str:
        return "Alert settings"

    @classmethod
    def load(cls) -> AlertSettings:
        settings, _ = cls.objects.get_or_create(pk=1)
        return settings
