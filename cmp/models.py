"""CMP server state kept in the database.

Several gunicorn workers, and several hosts, serve one deployment: the
certConf of a transaction may reach another process than its ir, so every
piece of protocol state lives here, never in process memory.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from certauth.models import Certificate, CertificateAuthority, CertificateRequest, Enrollment


class CMPConfig(models.Model):
    """The CMP > General settings: one row."""

    enabled = models.BooleanField("enable CMP", default=True)
    default_ca = models.ForeignKey(
        CertificateAuthority,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        limit_choices_to={"kind": CertificateAuthority.Kind.LOCAL},
    )
    confirm_wait = models.PositiveIntegerField(
        "confirm wait time (seconds)",
        default=300,
        help_text="An issued certificate whose certConf does not come within this time is revoked.",
    )
    debug = models.BooleanField("debug mode", default=False)
    revoke_superseded = models.BooleanField(
        "revoke after renewal (kur)",
        default=True,
        help_text="Once the certificate of a key update (kur) is confirmed, revoke the old "
        "certificate as superseded; off: it is marked Superseded and stays valid.",
    )
    revoke_reenrolled = models.BooleanField(
        "revoke after re-enrollment (ir/cr)",
        default=True,
        help_text="Once the certificate of a re-enrollment (ir, cr, p10cr) is confirmed, revoke "
        "the enrollment's previous certificate as superseded; off: it is marked Superseded "
        "and stays valid.",
    )
    strict_header_checks = models.BooleanField(
        "strict header checks",
        default=True,
        help_text="Apply every header rule of RFC 9483, 3.1: messageTime present, senderKID "
        "with signatures, a directoryName sender with MACs, well-formed implicitConfirm and "
        "confirmWaitTime. OpenSSL's client and FortiGates meet them.",
    )
    rfc9481_only = models.BooleanField(
        "only RFC 9481 algorithms",
        default=False,
        help_text="Refuse password-based MACs with SHA-1, which RFC 9481 does not list; "
        "OpenSSL and FortiGates use HMAC-SHA1 unless told otherwise.",
    )
    poll_interval = models.PositiveIntegerField(
        "poll interval (seconds)",
        default=10,
        help_text="checkAfter sent to clients whose request waits for manual approval.",
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "CMP settings"
        verbose_name_plural = "CMP settings"

    def __str__(self) -> str:
        return "CMP settings"

    @classmethod
    def load(cls) -> CMPConfig:
        config, _ = cls.objects.get_or_create(
            pk=1, defaults={"confirm_wait": settings.FAC_CMP_CONFIRM_WAIT}
        )
        return config


class CMPTransaction(models.Model):
    """One CMP transaction (RFC 9810, 5.1.1: identified by its transactionID)."""

    class State(models.TextChoices):
        # The request is held (certauth.CertificateRequest); the client polls
        # until an administrator decides.
        WAITING_APPROVAL = "waiting_approval", "Waiting for approval"
        WAITING_CONFIRM = "waiting_confirm", "Waiting for certConf"
        CONFIRMED = "confirmed", "Confirmed"
        REJECTED = "rejected", "Rejected by the client"
        EXPIRED = "expired", "Confirmation not received"
        FAILED = "failed", "Failed"
        # An rr or genm answered: kept so that its transactionID is not reused.
        COMPLETED = "completed", "Completed"

    OPEN_STATES = (State.WAITING_APPROVAL, State.WAITING_CONFIRM)

    transaction_id = models.CharField(max_length=256, db_index=True)  # hex
    enrollment = models.ForeignKey(
        Enrollment, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    sender_kid = models.CharField(max_length=256, blank=True)  # as shown: the enrollment ID
    # The request's senderKID bytes (hex): later messages of the transaction must carry it.
    request_kid = models.CharField(max_length=512, blank=True)
    body_type = models.CharField(max_length=16)
    state = models.CharField(max_length=20, choices=State.choices)
    # The senderNonce we sent: the certConf must carry it as recipNonce (RFC 9810, 5.1.1).
    server_nonce = models.CharField(max_length=128)
    certificate = models.ForeignKey(
        Certificate, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    pvno = models.PositiveSmallIntegerField(default=2)
    # The request's senderNonce (hex): the certConf must not repeat it (RFC 9810, 5.1.1).
    client_nonce = models.CharField(max_length=256, blank=True)
    # How the request was protected: the certConf is protected alike (RFC 9483, 4.1.1).
    protection = models.CharField(
        max_length=10, blank=True, choices=[("mac", "MAC"), ("signature", "Signature")]
    )
    source_ip = models.GenericIPAddressField("source IP", null=True, blank=True)
    cert_req_id = models.IntegerField(default=0)
    implicit_confirm = models.BooleanField(default=False)
    # A request held for manual approval (RFC 9483, 4.4): what it asks for and its decision.
    request = models.ForeignKey(
        CertificateRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "CMP transaction"
        verbose_name_plural = "CMP transactions"
        constraints = [
            # RFC 9810, 5.1.1: a transactionID identifies one open transaction.
            models.UniqueConstraint(
                fields=["transaction_id"],
                condition=Q(state__in=["waiting_approval", "waiting_confirm"]),
                name="cmp_open_transaction_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


class CMPTraceQuerySet(models.QuerySet["CMPTrace"]):
    def trim(self, keep: int, max_bytes: int | None = None) -> int:
        """Delete all but the newest *keep* traces, and the oldest beyond *max_bytes*
        of stored messages; returns how many went."""
        from django.db.models.functions import Coalesce, Length

        sizes = (
            self.order_by("-id")
            .annotate(
                size=Coalesce(Length("request_der"), 0)
                + Coalesce(Length("response_der"), 0)
                + Coalesce(Length("lines"), 0)
            )
            .values_list("id", "size")[: keep + 1]
        )
        total, cutoff = 0, None
        for index, (pk, size) in enumerate(sizes):
            total += size
            if index >= keep or (max_bytes is not None and total > max_bytes and index > 0):
                cutoff = pk
                break
        if cutoff is None:
            return 0
        deleted, _ = self.filter(id__lte=cutoff).delete()
        return deleted


class CMPTrace(models.Model):
    """One recorded exchange while debug mode is on (Debug > Others > SCEP/CMP)."""

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    transaction_id = models.CharField(max_length=256, blank=True, db_index=True)
    sender_kid = models.CharField(max_length=256, blank=True)
    body_type = models.CharField(max_length=16, blank=True)
    http_status = models.PositiveSmallIntegerField(default=200)
    error = models.CharField(max_length=512, blank=True)
    lines = models.TextField()
    request_der = models.BinaryField()
    response_der = models.BinaryField(blank=True)

    objects = CMPTraceQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = "CMP trace"
        verbose_name_plural = "CMP traces"

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.body_type} {self.transaction_id}"
