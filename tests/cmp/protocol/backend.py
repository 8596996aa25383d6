"""An in-memory implementation of the CMP Backend protocol, with a tiny local CA.

Real behaviour, no mocks: enrollments and transactions live in dicts, the CA
signs with ``cryptography``.  Used by the unit tests and by the HTTP harness
that the real ``openssl cmp`` client talks to.
"""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cmp.protocol import errors
from cmp.protocol.server import (
    CertificationRequest,
    Issued,
    PendingConfirmation,
    SharedSecret,
)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class LocalCA:
    """A root CA, optionally with an issuing intermediate CA below it."""

    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    issuing_key: ec.EllipticCurvePrivateKey
    issuing: x509.Certificate
    hash_algorithm: hashes.HashAlgorithm = field(default_factory=hashes.SHA256)

    @classmethod
    def create(
        cls,
        *,
        intermediate: bool = False,
        now: datetime.datetime | None = None,
        hash_algorithm: hashes.HashAlgorithm | None = None,
    ) -> LocalCA:
        now = now or datetime.datetime.now(datetime.UTC)
        root_key = ec.generate_private_key(ec.SECP256R1())
        root = cls._ca_cert(_name("Test Root CA"), root_key, _name("Test Root CA"), root_key, now)
        issuing_key, issuing = root_key, root
        if intermediate:
            issuing_key = ec.generate_private_key(ec.SECP256R1())
            issuing = cls._ca_cert(
                _name("Test Issuing CA"), issuing_key, root.subject, root_key, now
            )
        return cls(root_key, root, issuing_key, issuing, hash_algorithm or hashes.SHA256())

    @staticmethod
    def _ca_cert(subject, key, issuer, issuer_key, now) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(issuer_key, hashes.SHA256())
        )

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        if self.issuing == self.root:
            return (self.root,)
        return (self.issuing, self.root)

    def issue(self, request: CertificationRequest) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(request.subject)
            .issuer_name(self.issuing.subject)
            .public_key(request.public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.issuing_key.public_key()),
                critical=False,
            )
        )
        if request.subject_alt_names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(list(request.subject_alt_names)), critical=False
            )
        return builder.sign(self.issuing_key, self.hash_algorithm)


@dataclass
class Enrollment:
    reference: bytes
    secret: bytes
    status: str = "active"  # "active", "disabled"
    subject: x509.Name | None = None  # when set, the only subject allowed


@dataclass
class Transaction:
    sender_kid: bytes | None
    nonce: bytes
    certificate: x509.Certificate
    sender: x509.Name
    state: str = "waiting"  # "waiting", "confirmed", "rejected", "implicit"
    reason: str | None = None


class MemoryBackend:
    """The Backend protocol over dicts; thread-safe for the HTTP harness."""

    def __init__(self, ca: LocalCA, *, allow_implicit_confirm: bool = True) -> None:
        self.ca = ca
        self.allow_implicit_confirm = allow_implicit_confirm
        self.enrollments: dict[bytes, Enrollment] = {}
        self.transactions: dict[bytes, Transaction] = {}
        self.certify_calls: list[CertificationRequest] = []
        self._lock = threading.Lock()

    def add_enrollment(self, reference: str, secret: str, **kwargs) -> Enrollment:
        enrollment = Enrollment(reference.encode(), secret.encode(), **kwargs)
        self.enrollments[enrollment.reference] = enrollment
        return enrollment

    # Backend protocol -----------------------------------------------------------

    def mac_secret(self, sender_kid: bytes) -> SharedSecret:
        enrollment = self.enrollments.get(sender_kid)
        if enrollment is None:
            raise errors.SignerNotTrusted("Enrollment not found.")
        if enrollment.status != "active":
            raise errors.NotAuthorized(f"Enrollment is {enrollment.status}.")
        return SharedSecret(secret=enrollment.secret, sender=self.ca.issuing.subject)

    def transaction_in_use(self, transaction_id: bytes) -> bool:
        with self._lock:
            transaction = self.transactions.get(transaction_id)
            return transaction is not None and transaction.state == "waiting"

    def certify(self, request: CertificationRequest) -> Issued:
        with self._lock:
            self.certify_calls.append(request)
            enrollment = self.enrollments[request.sender_kid or b""]
            if enrollment.subject is not None and request.subject != enrollment.subject:
                raise errors.BadCertTemplate(
                    f"Subject {request.subject.rfc4514_string()} is not allowed for this enrollment."
                )
            if request.transaction_id in self.transactions:
                raise errors.TransactionIdInUse("transactionID is already in use.")
            certificate = self.ca.issue(request)
            implicit = request.implicit_confirm_requested and self.allow_implicit_confirm
            self.transactions[request.transaction_id] = Transaction(
                sender_kid=request.sender_kid,
                nonce=request.response_nonce,
                certificate=certificate,
                sender=self.ca.issuing.subject,
                state="implicit" if implicit else "waiting",
            )
            return Issued(
                certificate=certificate,
                chain=self.ca.chain,
                ca_pubs=(self.ca.root,),
                sender=self.ca.issuing.subject,
                implicit_confirm_granted=implicit,
            )

    def pending_confirmation(self, transaction_id: bytes) -> PendingConfirmation | None:
        with self._lock:
            transaction = self.transactions.get(transaction_id)
            if transaction is None or transaction.state != "waiting":
                return None
            return PendingConfirmation(
                sender_kid=transaction.sender_kid,
                recip_nonce=transaction.nonce,
                certificate=transaction.certificate,
                sender=transaction.sender,
            )

    def confirm(self, transaction_id: bytes, *, accepted: bool, reason: str | None) -> None:
        with self._lock:
            transaction = self.transactions[transaction_id]
            transaction.state = "confirmed" if accepted else "rejected"
            transaction.reason = reason

    # Extended protocol (implemented next) ----------------------------------------

    def signer(self, certificate, extra_certs, body_type):
        raise NotImplementedError

    def response_signer(self, sender):
        raise NotImplementedError

    def update_key(self, request):
        raise NotImplementedError

    def revoke(self, request):
        raise NotImplementedError

    def general_info(self, kind, request):
        raise NotImplementedError

    def poll(self, request):
        raise NotImplementedError
