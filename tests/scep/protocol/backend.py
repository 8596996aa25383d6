"""An in-memory implementation of the SCEP Backend protocol, with a tiny local CA.

Real behaviour, no mocks: transactions and certificates live in dicts, the CA
signs with ``cryptography``.  Used by the unit tests and by the HTTP harness
that the real ``scepclient`` talks to.
"""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from scep.protocol import (
    CACertificates,
    CertificateQuery,
    CRLQuery,
    EnrollmentRequest,
    Issued,
    LocalRecipientKey,
    MessageType,
    Pending,
    PollRequest,
    Rejected,
    RejectReason,
    ResponseSigner,
    SCEPConfig,
)


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def spki(key) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _key_usage(**set_bits: bool) -> x509.KeyUsage:
    bits = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
        ),
        False,
    )
    bits.update(set_bits)
    return x509.KeyUsage(**bits, encipher_only=False, decipher_only=False)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class LocalCA:
    """An issuing CA (RSA or EC), optionally below a root, optionally with an RSA RA."""

    key: CertificateIssuerPrivateKeyTypes
    certificate: x509.Certificate
    root_key: CertificateIssuerPrivateKeyTypes
    root: x509.Certificate
    ra_key: rsa.RSAPrivateKey | None = None
    ra: x509.Certificate | None = None
    revoked: dict[int, datetime.datetime] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        *,
        kind: str = "rsa",
        with_ra: bool = False,
        intermediate: bool = False,
        common_name: str = "SCEP Test CA",
    ) -> LocalCA:
        now = _now()
        key = cls._new_key(kind)
        if intermediate:
            root_key = cls._new_key(kind)
            root = cls._ca_cert(name(common_name + " Root"), root_key, None, root_key, now)
            certificate = cls._ca_cert(name(common_name), key, root.subject, root_key, now)
        else:
            root_key = key
            certificate = root = cls._ca_cert(name(common_name), key, None, key, now)
        ca = cls(key, certificate, root_key, root)
        if with_ra:
            ca.ra_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            ca.ra = ca._ra_cert(name(common_name + " RA"), ca.ra_key, now)
        return ca

    @staticmethod
    def _new_key(kind: str) -> CertificateIssuerPrivateKeyTypes:
        if kind == "ec":
            return ec.generate_private_key(ec.SECP256R1())
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @staticmethod
    def _ca_cert(subject, key, issuer, issuer_key, now) -> x509.Certificate:
        rsa_key = isinstance(key, rsa.RSAPrivateKey)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer or subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                # An RSA CA also decrypts SCEP requests (RFC 8894, 2.1.2).
                _key_usage(
                    digital_signature=True,
                    key_encipherment=rsa_key,
                    key_cert_sign=True,
                    crl_sign=True,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(issuer_key, hashes.SHA256())
        )

    def _ra_cert(self, subject, key, now) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            # RFC 8894, 2.1.2: the RA decrypts requests and signs replies.
            .add_extension(_key_usage(digital_signature=True, key_encipherment=True), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """The issuing CA and its issuers (sent after an issued certificate)."""
        if self.root == self.certificate:
            return (self.certificate,)
        return (self.certificate, self.root)

    def ca_certificates(self) -> CACertificates:
        return CACertificates(
            ca=self.certificate,
            ra=(self.ra,) if self.ra is not None else (),
            chain=(self.root,) if self.root != self.certificate else (),
        )

    def recipient_keys(self) -> tuple[LocalRecipientKey, ...]:
        if self.ra is not None and self.ra_key is not None:
            return (LocalRecipientKey(self.ra, self.ra_key),)
        if isinstance(self.key, rsa.RSAPrivateKey):
            return (LocalRecipientKey(self.certificate, self.key),)
        return ()

    def response_signer(self) -> ResponseSigner:
        if self.ra is not None:
            return ResponseSigner.with_key(self.ra_key, self.ra)
        return ResponseSigner.with_key(self.key, self.certificate)

    def issue(
        self,
        public_key,
        subject: x509.Name,
        sans: tuple[x509.GeneralName, ...] = (),
        *,
        days: int = 365,
    ) -> x509.Certificate:
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                _key_usage(
                    digital_signature=True,
                    key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def crl(self) -> x509.CertificateRevocationList:
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now - datetime.timedelta(minutes=1))
            .next_update(now + datetime.timedelta(days=1))
        )
        for serial, when in self.revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        return builder.sign(self.key, hashes.SHA256())

    def issued_this(self, certificate: x509.Certificate) -> bool:
        try:
            certificate.verify_directly_issued_by(self.certificate)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True


@dataclass
class Transaction:
    transaction_id: str
    message_type: MessageType
    key: bytes
    subject: x509.Name
    signer: x509.Certificate
    request: EnrollmentRequest
    state: str = "pending"  # "pending", "issued" or "rejected"
    certificate: x509.Certificate | None = None
    reject: Rejected | None = None


class MemoryBackend:
    """The SCEP backend of the tests: one CA, one challenge password, dict storage.

    ``hold`` keeps every new enrollment PENDING until :meth:`approve` or
    :meth:`reject`; ``hold_rounds`` instead answers PENDING that many times and
    then issues by itself (for a client that resends while pending).
    """

    def __init__(
        self,
        ca: LocalCA,
        *,
        config: SCEPConfig | None = None,
        challenge: str | None = "s3cret-Challenge",
        hold: bool = False,
        hold_rounds: int = 0,
        next_ca: LocalCA | None = None,
    ) -> None:
        self.ca = ca
        self._config = config or SCEPConfig()
        self.challenge = challenge
        self.hold = hold
        self.hold_rounds = hold_rounds
        self.next_ca = next_ca
        self.transactions: dict[str, Transaction] = {}
        self.certificates: dict[int, x509.Certificate] = {}
        self.calls: list[tuple[str, Any]] = []
        self.fail_with: Exception | None = None
        self._lock = threading.RLock()

    # --- configuration and keys ---------------------------------------------------

    def config(self) -> SCEPConfig:
        return self._config

    def set_config(self, **changes) -> None:
        self._config = SCEPConfig(**{**self._config.__dict__, **changes})

    def ca_certificates(self, ca_identifier: str | None) -> CACertificates:
        self.calls.append(("ca_certificates", ca_identifier))
        return self.ca.ca_certificates()

    def next_ca_certificates(self, ca_identifier: str | None) -> CACertificates | None:
        return self.next_ca.ca_certificates() if self.next_ca else None

    def recipient_keys(self):
        keys = self.ca.recipient_keys()
        if self.next_ca is not None:
            keys += self.next_ca.recipient_keys()
        return keys

    def response_signer(self) -> ResponseSigner:
        return self.ca.response_signer()

    # --- decisions ------------------------------------------------------------------

    def enroll(self, request: EnrollmentRequest) -> Issued | Pending | Rejected:
        with self._lock:
            self.calls.append(("enroll", request))
            if self.fail_with is not None:
                raise self.fail_with
            key = spki(request.public_key)
            existing = self.transactions.get(request.transaction_id)
            if existing is not None:
                renews_it = (
                    request.renewal
                    and existing.certificate is not None
                    and existing.certificate == request.signer_certificate
                )
                if not renews_it:
                    if existing.key != key or existing.message_type != request.message_type:
                        return Rejected(RejectReason.TRANSACTION_ID_IN_USE)
                    # RFC 8894, 3.2.1.1: a resent request gets the same answer.
                    return self._state(existing, resent=True)
            if request.renewal:
                refusal = self._check_renewal(request)
            else:
                refusal = self._check_enrolment(request)
            if refusal is not None:
                return refusal
            if isinstance(request.public_key, rsa.RSAPublicKey) and (
                request.public_key.key_size < 2048
            ):
                return Rejected(RejectReason.KEY_NOT_ACCEPTED, "RSA keys need 2048 bits.")
            transaction = Transaction(
                transaction_id=request.transaction_id,
                message_type=request.message_type,
                key=key,
                subject=request.subject,
                signer=request.signer_certificate,
                request=request,
            )
            self.transactions[request.transaction_id] = transaction
            if self.hold or self.hold_rounds > 0:
                self.hold_rounds = max(0, self.hold_rounds - 1)
                return Pending("waiting for approval")
            self._issue(transaction)
            return self._state(transaction)

    def _check_enrolment(self, request: EnrollmentRequest) -> Rejected | None:
        if self.challenge is not None and request.challenge_password != self.challenge:
            return Rejected(RejectReason.BAD_CHALLENGE)
        if not request.subject:
            return Rejected(RejectReason.POLICY, "The CSR has no subject.")
        return None

    def _check_renewal(self, request: EnrollmentRequest) -> Rejected | None:
        signer = request.signer_certificate
        now = _now()
        if not self.ca.issued_this(signer):
            return Rejected(RejectReason.RENEWAL_NOT_ALLOWED, "The signer was not issued here.")
        if signer.serial_number in self.ca.revoked:
            return Rejected(RejectReason.RENEWAL_NOT_ALLOWED, "The signer is revoked.")
        if not signer.not_valid_before_utc <= now <= signer.not_valid_after_utc:
            return Rejected(RejectReason.RENEWAL_NOT_ALLOWED, "The signer has expired.")
        if signer.subject != request.subject:
            return Rejected(RejectReason.POLICY, "A renewal keeps the subject.")
        return None

    def _issue(self, transaction: Transaction) -> None:
        request = transaction.request
        certificate = self.ca.issue(request.public_key, request.subject, request.subject_alt_names)
        transaction.certificate = certificate
        transaction.state = "issued"
        self.certificates[certificate.serial_number] = certificate

    def _state(self, transaction: Transaction, *, resent: bool = False):
        if transaction.state == "issued" and transaction.certificate is not None:
            return Issued(transaction.certificate, self.ca.chain, resent=resent)
        if transaction.state == "rejected" and transaction.reject is not None:
            return transaction.reject
        if self.hold_rounds > 0:
            self.hold_rounds -= 1
            return Pending("waiting for approval")
        if not self.hold:
            self._issue(transaction)
            assert transaction.certificate is not None
            return Issued(transaction.certificate, self.ca.chain)
        return Pending("waiting for approval")

    def approve(self, transaction_id: str) -> x509.Certificate:
        with self._lock:
            transaction = self.transactions[transaction_id]
            self._issue(transaction)
            assert transaction.certificate is not None
            return transaction.certificate

    def reject(self, transaction_id: str) -> None:
        with self._lock:
            transaction = self.transactions[transaction_id]
            transaction.state = "rejected"
            transaction.reject = Rejected(RejectReason.REJECTED_BY_OPERATOR)

    def poll(self, request: PollRequest) -> Issued | Pending | Rejected:
        with self._lock:
            self.calls.append(("poll", request))
            transaction = self.transactions.get(request.transaction_id)
            if transaction is None or transaction.subject != request.subject:
                return Rejected(RejectReason.UNKNOWN_TRANSACTION)
            if request.issuer != self.ca.certificate.subject:
                return Rejected(RejectReason.UNKNOWN_TRANSACTION, "Another CA's transaction.")
            return self._state(transaction)

    def get_cert(self, request: CertificateQuery) -> Issued | Rejected:
        self.calls.append(("get_cert", request))
        certificate = self.certificates.get(request.serial_number)
        if certificate is None or certificate.issuer != request.issuer:
            return Rejected(RejectReason.UNKNOWN_CERTIFICATE)
        return Issued(certificate)

    def get_crl(self, request: CRLQuery) -> x509.CertificateRevocationList | Rejected:
        self.calls.append(("get_crl", request))
        if request.issuer != self.ca.certificate.subject:
            return Rejected(RejectReason.NO_CRL)
        return self.ca.crl()
