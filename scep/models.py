"""SCEP server state kept in the database.

Several gunicorn workers, and several hosts, serve one deployment: the
CertPoll or the resend of a PKCSReq may reach another process than the
request itself, so every piece of protocol state lives here, never in process
memory. Enrollments, certificates and held requests are certauth's; this app
keeps only what is SCEP's own: its settings, its transactions, the RA of an
ECDSA CA and the debug traces.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property

from cryptography import x509
from django.db import models
from django.db.models import Q
from django.utils import timezone

from certauth.models import Certificate, CertificateAuthority, CertificateRequest, Enrollment


class SCEPConfig(models.Model):
    """The SCEP > General settings: one row."""

    enabled = models.BooleanField("enable SCEP", default=True)
    default_ca = models.ForeignKey(
        CertificateAuthority,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        limit_choices_to={"kind": CertificateAuthority.Kind.LOCAL},
        help_text="The CA that GetCACert returns when the client names none.",
    )
    # Sealed by certauth.keystore; write-only: never shown anywhere.
    encrypted_password = models.BinaryField(null=True, blank=True, editable=False)
    method = models.CharField(
        "enrollment method",
        max_length=10,
        choices=Enrollment.Method.choices,
        default=Enrollment.Method.AUTOMATIC,
        help_text="The method new SCEP enrollment requests get.",
    )
    revoke_renewed = models.BooleanField(
        "revoke the old certificate on renewal",
        default=True,
        help_text="After a RenewalReq, revoke the renewed certificate as superseded.",
    )
    legacy_algorithms = models.BooleanField(
        "allow legacy algorithms (3DES, SHA-1)",
        default=False,
        help_text="For clients that predate SHA-2 and AES.",
    )
    single_des = models.BooleanField(
        "allow single DES",
        default=False,
        help_text="With the legacy algorithms: also DES-CBC (Debian's scepclient, very old clients).",
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SCEP settings"
        verbose_name_plural = "SCEP settings"

    def __str__(self) -> str:
        return "SCEP settings"

    @classmethod
    def load(cls) -> SCEPConfig:
        config, _ = cls.objects.get_or_create(pk=1)
        return config

    @property
    def has_password(self) -> bool:
        return bool(self.encrypted_password)


class WildcardMember(models.Model):
    """The enrollment a wildcard enrollment made for one device, on its first request.

    An enrollment holds one certificate in force (certauth.enrollment); a
    wildcard enrollment serves many devices, so each device that its challenge
    password and subject pattern admit gets a regular enrollment of its own,
    named after the wildcard one and the device's common name, with the
    wildcard's profile, for its exact subject. Renewal, Reset and revocation
    then work per device.
    """

    enrollment = models.OneToOneField(
        Enrollment, on_delete=models.CASCADE, related_name="scep_wildcard_member"
    )
    wildcard = models.ForeignKey(
        Enrollment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scep_members",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-pk"]
        verbose_name = "SCEP wildcard member"
        verbose_name_plural = "SCEP wildcard members"

    def __str__(self) -> str:
        return str(self.enrollment_id)


class SCEPTransactionQuerySet(models.QuerySet["SCEPTransaction"]):
    def open(self) -> SCEPTransactionQuerySet:
        return self.exclude(state=SCEPTransaction.State.CLOSED)


class SCEPTransaction(models.Model):
    """One SCEP enrolment: a PKCSReq or RenewalReq and what became of it.

    RFC 8894, 3.2.1.1: the client keeps the transactionID for every message of
    the operation; a resent request (after a timeout, or while PENDING) finds
    its transaction here and gets the same answer, never a second certificate.
    A transaction stays open while its certificate is the enrollment's; it is
    closed when that certificate is revoked, superseded or gone, or once a
    rejection has been delivered, so that a client keeping its key (and so,
    for many clients, its transactionID) can enroll again.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        ISSUED = "issued", "Issued"
        REJECTED = "rejected", "Rejected"
        CLOSED = "closed", "Closed"

    transaction_id = models.CharField("transactionID", max_length=255, db_index=True)
    # The serial (hex) of the certificate a RenewalReq renews; "" for a PKCSReq.
    # A renewal that reuses the enrolment's key and transactionID is a new transaction.
    renewal_of = models.CharField(max_length=64, blank=True)
    message_type = models.CharField("messageType", max_length=16)
    state = models.CharField(max_length=10, choices=State.choices)
    # SHA-256 of the requested public key (SubjectPublicKeyInfo DER), hex: a
    # resend must be for the same key.
    key_digest = models.CharField(max_length=64)
    # SHA-256 of the signer's public key: CertPoll comes from the requester.
    signer_digest = models.CharField(max_length=64)
    subject = models.CharField(max_length=1024, blank=True)
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    request = models.ForeignKey(
        CertificateRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    certificate = models.ForeignKey(
        Certificate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_ip = models.GenericIPAddressField("source IP", null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    updated = models.DateTimeField(auto_now=True)

    objects = SCEPTransactionQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-pk"]
        verbose_name = "SCEP transaction"
        verbose_name_plural = "SCEP transactions"
        constraints = [
            # At most one open transaction per transactionID (and renewed certificate):
            # a concurrent resend on another worker waits for this one and finds it.
            models.UniqueConstraint(
                fields=["transaction_id", "renewal_of"],
                condition=~Q(state="closed"),
                name="scep_open_transaction_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id} ({self.state})"


class RegistrationAuthorityQuerySet(models.QuerySet["RegistrationAuthority"]):
    def current(self, now: dt.datetime | None = None) -> RegistrationAuthorityQuerySet:
        """RAs within their validity whose certificate is still in force (not revoked or deleted)."""
        now = now or timezone.now()
        return self.filter(
            not_before__lte=now,
            not_after__gt=now,
            certificate__status=Certificate.Status.ACTIVE,
        )


class RegistrationAuthority(models.Model):
    """The RSA RA of a CA whose own key cannot decrypt SCEP requests (an ECDSA CA).

    RFC 8894, 2.1.2: requests are encrypted to, and replies signed by, the RA,
    whose certificate the CA issued with keyEncipherment and digitalSignature.
    Created on first use and renewed before it expires; the certificate is
    recorded among the CA's certificates (so it can be revoked and is listed
    on the CRL), the key is sealed by certauth.keystore.
    """

    ca = models.ForeignKey(CertificateAuthority, on_delete=models.CASCADE, related_name="scep_ras")
    certificate = models.ForeignKey(
        Certificate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    certificate_pem = models.TextField()
    # Sealed by certauth.keystore; never shown anywhere.
    encrypted_key = models.BinaryField(editable=False)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField(db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = RegistrationAuthorityQuerySet.as_manager()

    class Meta:
        ordering = ["-not_after", "-pk"]
        verbose_name = "SCEP RA certificate"
        verbose_name_plural = "SCEP RA certificates"

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """How the keystore names this key in its errors."""
        return f"SCEP RA of {self.ca.name}"

    @cached_property
    def x509_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode())


class SCEPTraceQuerySet(models.QuerySet["SCEPTrace"]):
    def trim(self, keep: int) -> int:
        """Delete all but the newest *keep* traces; returns how many went."""
        ids = list(self.order_by("-id").values_list("id", flat=True)[keep : keep + 1])
        if not ids:
            return 0
        deleted, _ = self.filter(id__lte=ids[0]).delete()
        return deleted


class SCEPTrace(models.Model):
    """One recorded SCEP exchange while debug mode is on (Debug > Others > SCEP/CMP).

    It never holds a secret: the request is the client's message as sent (the
    CSR inside is encrypted to the CA), the decoded CSR shows the
    challengePassword only as present or absent.
    """

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=64)
    operation = models.CharField(max_length=32, blank=True)
    message_type = models.CharField("messageType", max_length=32, blank=True)
    transaction_id = models.CharField("transactionID", max_length=255, blank=True, db_index=True)
    sender_nonce = models.CharField(max_length=128, blank=True)
    recipient_nonce = models.CharField(max_length=128, blank=True)
    response_nonce = models.CharField(max_length=128, blank=True)
    pki_status = models.CharField("pkiStatus", max_length=16, blank=True)
    fail_info = models.CharField("failInfo", max_length=32, blank=True)
    fail_text = models.CharField("failInfoText", max_length=512, blank=True)
    http_status = models.PositiveSmallIntegerField(default=200)
    content_type = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=512, blank=True)
    lines = models.TextField(blank=True)
    csr_text = models.TextField("decrypted CSR", blank=True)
    request_der = models.BinaryField(blank=True)
    response_der = models.BinaryField(blank=True)

    objects = SCEPTraceQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = "SCEP trace"
        verbose_name_plural = "SCEP traces"

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.operation} {self.transaction_id}"
