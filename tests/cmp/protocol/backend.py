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
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cmp.protocol import (
    AlgorithmId,
    CertId,
    CertificationRequest,
    CertReqTemplate,
    GeneralInfo,
    GeneralRequest,
    Issued,
    KeyUpdateRequest,
    PendingConfirmation,
    PollOutcome,
    PollRequest,
    Rejected,
    RevocationRequest,
    RootCaKeyUpdate,
    SharedSecret,
    SignatureProtector,
    Signer,
    Waiting,
    errors,
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

    def issue(self, request: CertificationRequest | KeyUpdateRequest) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(request.subject or x509.Name([]))
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

    def crl(self, revoked: dict[int, x509.ReasonFlags | None], this_update=None):
        now = this_update or datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.issuing.subject)
            .last_update(now)
            .next_update(now + datetime.timedelta(days=1))
        )
        for serial, reason in revoked.items():
            entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now)
            if reason is not None:
                entry = entry.add_extension(x509.CRLReason(reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return builder.sign(self.issuing_key, hashes.SHA256())


def chains_to(
    certificate: x509.Certificate,
    untrusted: tuple[x509.Certificate, ...],
    anchors: tuple[x509.Certificate, ...],
) -> bool:
    """True if ``certificate`` chains through ``untrusted`` to one of ``anchors``."""
    current = certificate
    for _ in range(5):
        for anchor in anchors:
            if current.issuer == anchor.subject:
                try:
                    current.verify_directly_issued_by(anchor)
                except (ValueError, TypeError, InvalidSignature):
                    continue
                return True
        parent = next((c for c in untrusted if c.subject == current.issuer and c != current), None)
        if parent is None:
            return False
        try:
            current.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            return False
        current = parent
    return False


@dataclass
class Enrollment:
    reference: bytes
    secret: bytes
    status: str = "active"  # "active", "disabled"
    subject: x509.Name | None = None  # when set, the only subject allowed


@dataclass
class IssuedCert:
    certificate: x509.Certificate
    reference: bytes  # the enrollment it was issued for
    revoked: x509.ReasonFlags | None = None
    is_revoked: bool = False
    updated: bool = False


@dataclass
class Transaction:
    sender_kid: bytes | None
    nonce: bytes | None
    certificate: x509.Certificate | None
    sender: x509.Name
    state: str = "waiting"  # "waiting", "confirmed", "rejected", "implicit", "approval"
    reason: str | None = None
    body_type: str = "ir"
    cert_req_id: int = 0
    request: CertificationRequest | KeyUpdateRequest | None = None
    polls_left: int = 0
    replaces: int | None = None  # serial of the certificate a kur updates


#: The key-strength policy of this CA (RFC 9481, 3.2: ECDSA on P-256, P-384, P-521).
ACCEPTED_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
MIN_RSA_BITS = 2048

#: RFC 9481, 3: the key pair types this CA certifies (signKeyPairTypes).
SIGN_KEY_PAIR_TYPES = (
    AlgorithmId("1.2.840.113549.1.1.1", b"\x05\x00"),  # rsaEncryption
    AlgorithmId("1.2.840.10045.2.1", bytes.fromhex("06082a8648ce3d030107")),  # EC P-256
)


class MemoryBackend:
    """The Backend protocol over dicts; thread-safe for the HTTP harness.

    Knobs for the tests: ``approval_polls`` holds ir/cr/kur for that many polls
    before issuing (``reject_on_approval`` refuses instead); ``vendor_roots``
    are the trusted device-certificate CAs whose devices enroll under
    ``device_enrollment``; ``allow_mac_kur`` / ``allow_mac_rr`` accept
    MAC-protected kur / rr for certificates of the same enrollment.
    """

    def __init__(self, ca: LocalCA, *, allow_implicit_confirm: bool = True) -> None:
        self.ca = ca
        self.allow_implicit_confirm = allow_implicit_confirm
        self.enrollments: dict[bytes, Enrollment] = {}
        self.transactions: dict[bytes, Transaction] = {}
        self.certify_calls: list[CertificationRequest] = []
        self.issued: dict[int, IssuedCert] = {}
        self.approval_polls: int | None = None
        self.check_after = 1
        self.reject_on_approval = False
        self.vendor_roots: tuple[x509.Certificate, ...] = ()
        self.device_enrollment = b"fgt100f"
        self.allow_mac_kur = True
        self.allow_mac_rr = True
        self.root_update: RootCaKeyUpdate | None = None
        self.template: CertReqTemplate | None = None
        self.calls: list[tuple[str, object]] = []
        self._lock = threading.Lock()

    def add_enrollment(self, reference: str, secret: str, **kwargs) -> Enrollment:
        enrollment = Enrollment(reference.encode(), secret.encode(), **kwargs)
        self.enrollments[enrollment.reference] = enrollment
        return enrollment

    def record(self, certificate: x509.Certificate, reference: bytes = b"fgt100f") -> IssuedCert:
        """Note a certificate as issued by this CA (for tests that start with one)."""
        self.issued[certificate.serial_number] = IssuedCert(certificate, reference)
        return self.issued[certificate.serial_number]

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
            return transaction is not None and transaction.state in ("waiting", "approval")

    def check_public_key(self, public_key: PublicKeyTypes) -> None:
        self.calls.append(("check_public_key", public_key))
        if isinstance(public_key, rsa.RSAPublicKey):
            if public_key.key_size < MIN_RSA_BITS:
                raise errors.BadCertTemplate(
                    f"RSA key of {public_key.key_size} bits is too short (minimum {MIN_RSA_BITS})."
                )
            return
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            if public_key.curve.name not in ACCEPTED_CURVES:
                raise errors.BadCertTemplate(f"EC curve {public_key.curve.name} is not accepted.")
            return
        raise errors.BadCertTemplate("Only RSA and EC (P-256, P-384, P-521) keys are accepted.")

    def _reference(self, request) -> bytes:
        if request.signer is not None:
            return (request.signer.reference or "").encode()
        return request.sender_kid or b""

    def certify(self, request: CertificationRequest) -> Issued | Waiting:
        with self._lock:
            self.certify_calls.append(request)
            enrollment = self.enrollments[self._reference(request)]
            if enrollment.subject is not None and request.subject != enrollment.subject:
                raise errors.BadCertTemplate(
                    f"Subject {request.subject.rfc4514_string()} is not allowed for this enrollment."
                )
            if request.transaction_id in self.transactions:
                raise errors.TransactionIdInUse("transactionID is already in use.")
            return self._issue_or_hold(request, enrollment.reference)

    def _issue_or_hold(
        self,
        request: CertificationRequest | KeyUpdateRequest,
        reference: bytes,
        replaces: int | None = None,
    ) -> Issued | Waiting:
        body_type = getattr(request, "body_type", "kur")
        if self.approval_polls is not None:
            self.transactions[request.transaction_id] = Transaction(
                sender_kid=request.sender_kid,
                nonce=None,
                certificate=None,
                sender=self.ca.issuing.subject,
                state="approval",
                body_type=body_type,
                cert_req_id=request.cert_req_id,
                request=request,
                polls_left=self.approval_polls,
                replaces=replaces,
            )
            return Waiting(self.check_after, "Waiting for the administrator's approval.")
        transaction = Transaction(
            sender_kid=request.sender_kid,
            nonce=request.response_nonce,
            certificate=None,
            sender=self.ca.issuing.subject,
            body_type=body_type,
            cert_req_id=request.cert_req_id,
            request=request,
            replaces=replaces,
        )
        self.transactions[request.transaction_id] = transaction
        return self._issue(transaction, request.implicit_confirm_requested, reference)

    def _issue(
        self, transaction: Transaction, implicit_requested: bool, reference: bytes
    ) -> Issued:
        assert transaction.request is not None
        certificate = self.ca.issue(transaction.request)
        self.issued[certificate.serial_number] = IssuedCert(certificate, reference)
        implicit = implicit_requested and self.allow_implicit_confirm
        transaction.certificate = certificate
        transaction.state = "implicit" if implicit else "waiting"
        if implicit and transaction.replaces is not None:
            self.issued[transaction.replaces].updated = True
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
            assert transaction.certificate is not None and transaction.nonce is not None
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
            if accepted and transaction.replaces is not None:
                self.issued[transaction.replaces].updated = True

    # signature-protected requests ------------------------------------------------

    def signer(
        self,
        certificate: x509.Certificate,
        extra_certs: tuple[x509.Certificate, ...],
        body_type: str,
    ) -> Signer:
        self.calls.append(("signer", body_type))
        now = datetime.datetime.now(datetime.UTC)
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise errors.SignerNotTrusted("The signer's certificate is not valid now.")
        record = self.issued.get(certificate.serial_number)
        if record is not None and record.certificate == certificate:
            if record.is_revoked:
                raise errors.CertRevoked("The signer's certificate is revoked.")
            if body_type not in ("cr", "kur", "rr", "genm", "certConf", "pollReq", "error"):
                raise errors.NotAuthorized(f"A certificate of ours may not sign {body_type}.")
            return Signer(certificate, self.ca.issuing.subject, record.reference.decode())
        if self.vendor_roots and chains_to(certificate, extra_certs[1:], self.vendor_roots):
            # 3GPP-style: a device certificate of a trusted vendor may enroll (ir) only.
            if body_type not in ("ir", "certConf", "pollReq", "error"):
                raise errors.NotAuthorized(f"A device certificate may not sign {body_type}.")
            return Signer(certificate, self.ca.issuing.subject, self.device_enrollment.decode())
        raise errors.SignerNotTrusted("The signer's certificate is not trusted.")

    def response_signer(self, sender: x509.Name) -> SignatureProtector:
        if sender != self.ca.issuing.subject:
            raise errors.SystemUnavail(f"No CA key for {sender.rfc4514_string()}.")
        return SignatureProtector.with_key(
            self.ca.issuing_key, self.ca.issuing, "sha256", chain=self.ca.chain
        )

    # kur, rr, genm, pollReq -------------------------------------------------------

    def _find(self, cert_id: CertId) -> IssuedCert:
        record = self.issued.get(cert_id.serial_number)
        if record is None or record.certificate.issuer != cert_id.issuer:
            raise errors.BadCertId("No certificate of ours has this issuer and serial number.")
        return record

    def update_key(self, request: KeyUpdateRequest) -> Issued | Waiting:
        with self._lock:
            self.calls.append(("update_key", request))
            assert request.old_cert_id is not None
            record = self._find(request.old_cert_id)
            if request.mac_protected:
                if not self.allow_mac_kur:
                    raise errors.NotAuthorized("Key update needs the old certificate's signature.")
                if record.reference != request.sender_kid:
                    raise errors.NotAuthorized("The certificate belongs to another enrollment.")
            if record.is_revoked:
                raise errors.CertRevoked("The certificate to update is revoked.")
            if record.updated:
                raise errors.NotAuthorized("The certificate was already updated.")
            if request.transaction_id in self.transactions:
                raise errors.TransactionIdInUse("transactionID is already in use.")
            if request.subject is None:
                from dataclasses import replace

                request = replace(request, subject=record.certificate.subject)
            return self._issue_or_hold(
                request, record.reference, replaces=record.certificate.serial_number
            )

    def revoke(self, request: RevocationRequest) -> None:
        with self._lock:
            self.calls.append(("revoke", request))
            record = self._find(CertId(request.issuer, request.serial_number))
            if request.signer is not None:
                if request.signer.certificate != record.certificate:
                    raise errors.NotAuthorized(
                        "Only the certificate itself may ask its revocation."
                    )
            elif not self.allow_mac_rr or record.reference != request.sender_kid:
                raise errors.NotAuthorized("This enrollment may not revoke the certificate.")
            if record.is_revoked:
                raise errors.CertRevoked("The certificate is already revoked.")
            record.is_revoked = True
            record.revoked = request.reason

    def general_info(self, kind: str, request: GeneralRequest) -> GeneralInfo:
        self.calls.append(("general_info", (kind, request)))
        if kind == "caCerts":
            return self.ca.chain
        if kind == "rootCaCert":
            return self.root_update
        if kind == "certReqTemplate":
            return self.template
        if kind == "crlStatusList":
            revoked = {s: r.revoked for s, r in self.issued.items() if r.is_revoked}
            crl = self.ca.crl(revoked)
            for status in request.crl_statuses:
                if status.this_update is not None and status.this_update >= crl.last_update_utc:
                    return ()
            return (crl,)
        if kind == "signKeyPairTypes":
            return SIGN_KEY_PAIR_TYPES
        raise errors.AddInfoNotAvailable(f"{kind} is not available.")

    def poll(self, request: PollRequest) -> PollOutcome:
        with self._lock:
            self.calls.append(("poll", request))
            transaction = self.transactions.get(request.transaction_id)
            if transaction is None or transaction.state not in ("approval",):
                raise errors.BadRequest("No request of this transaction awaits approval.")
            if transaction.sender_kid != request.sender_kid:
                raise errors.NotAuthorized("pollReq does not come from the sender of the request.")
            outcome: Issued | Waiting | Rejected
            transaction.polls_left -= 1
            if transaction.polls_left > 0:
                outcome = Waiting(self.check_after, "Waiting for the administrator's approval.")
            elif self.reject_on_approval:
                transaction.state = "rejected"
                outcome = Rejected("The administrator rejected the request.")
            else:
                assert transaction.request is not None
                reference = (
                    self._reference(transaction.request)
                    if transaction.body_type != "kur"
                    else self.issued[transaction.replaces].reference  # type: ignore[index]
                )
                transaction.nonce = request.response_nonce
                outcome = self._issue(transaction, request.implicit_confirm_requested, reference)
            return PollOutcome(
                request_body_type=transaction.body_type,
                sender_kid=transaction.sender_kid,
                sender=transaction.sender,
                cert_req_id=transaction.cert_req_id,
                result=outcome,
            )
