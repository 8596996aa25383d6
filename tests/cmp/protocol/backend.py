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
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
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
        key_type: str = "ec",
        name: str = "Test",
    ) -> LocalCA:
        """``key_type`` "ec" (P-256), "rsa" (2048) or "ed25519" for the CA keys."""
        now = now or datetime.datetime.now(datetime.UTC)
        root_key = _new_key(key_type)
        root_name = _name(f"{name} Root CA")
        root = cls._ca_cert(root_name, root_key, root_name, root_key, now)
        issuing_key, issuing = root_key, root
        if intermediate:
            issuing_key = _new_key(key_type)
            issuing = cls._ca_cert(
                _name(f"{name} Issuing CA"), issuing_key, root.subject, root_key, now
            )
        return cls(root_key, root, issuing_key, issuing, hash_algorithm or hashes.SHA256())

    def _hash(self, key=None) -> hashes.HashAlgorithm | None:
        """EdDSA keys sign without a separate hash (RFC 8410)."""
        key = key if key is not None else self.issuing_key
        return None if isinstance(key, ed25519.Ed25519PrivateKey) else self.hash_algorithm

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
            .sign(
                issuer_key,
                None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256(),
            )
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
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(request.public_key), critical=False
            )
        )
        if request.subject_alt_names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(list(request.subject_alt_names)), critical=False
            )
        return builder.sign(self.issuing_key, self._hash())

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
        return builder.sign(self.issuing_key, self._hash() and hashes.SHA256())


def _new_key(key_type: str):
    if key_type == "rsa":
        return rsa.generate_private_key(65537, 2048)
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


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
    #: A kur of it was answered and awaits its certConf.
    update_pending: bool = False


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
    request_nonce: bytes | None = None  # the request's senderNonce
    mac_protected: bool | None = None


#: The key-strength policy of this CA (RFC 9481, 3.2: ECDSA on P-256, P-384, P-521).
ACCEPTED_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192

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
        #: A certificate of ours may sign an ir (RFC 9483, 4.1.1).
        self.issued_may_sign_ir = True
        #: What each issued certificate is said to grant otherwise than asked.
        self.modifications: tuple[str, ...] = ()
        #: RA certificates trusted to revoke any certificate of this CA (RFC 9483, 5.3.2).
        self.ra_certificates: tuple[x509.Certificate, ...] = ()
        #: Further CAs by subject, and the one a device subject is issued by (the
        #: signer is answered by self.ca, as the first of several device enrollments).
        self.cas: dict[x509.Name, LocalCA] = {ca.issuing.subject: ca}
        self.device_ca_for_subject: dict[x509.Name, LocalCA] = {}
        #: transactionIDs of answered rr/genm (bounded: the oldest are forgotten).
        self.remembered: dict[bytes, str] = {}
        self.remember_limit = 1000
        self.crl_now: x509.CertificateRevocationList | None = None
        self.encryption_certificate: x509.Certificate | None = None
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
            raise errors.BadMessageCheck("Enrollment not found.")
        if enrollment.status != "active":
            raise errors.NotAuthorized(f"Enrollment is {enrollment.status}.")
        return SharedSecret(secret=enrollment.secret, sender=self.ca.issuing.subject)

    def transaction_in_use(self, transaction_id: bytes) -> bool:
        with self._lock:
            return transaction_id in self.transactions or transaction_id in self.remembered

    def remember_transaction(self, transaction_id: bytes, body_type: str) -> None:
        with self._lock:
            self.remembered[transaction_id] = body_type
            while len(self.remembered) > self.remember_limit:
                del self.remembered[next(iter(self.remembered))]

    def check_public_key(self, public_key: PublicKeyTypes) -> None:
        self.calls.append(("check_public_key", public_key))
        if isinstance(public_key, rsa.RSAPublicKey):
            if public_key.key_size < MIN_RSA_BITS:
                raise errors.BadCertTemplate(
                    f"RSA key of {public_key.key_size} bits is too short (minimum {MIN_RSA_BITS})."
                )
            if public_key.key_size > MAX_RSA_BITS:
                raise errors.BadCertTemplate(
                    f"RSA key of {public_key.key_size} bits is too long (maximum {MAX_RSA_BITS})."
                )
            return
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            if public_key.curve.name not in ACCEPTED_CURVES:
                raise errors.BadCertTemplate(f"EC curve {public_key.curve.name} is not accepted.")
            return
        if isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            return  # RFC 9481, 3.3
        raise errors.BadCertTemplate(
            "Only RSA, EC (P-256, P-384, P-521), Ed25519 and Ed448 keys are accepted."
        )

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
            ca = self.ca
            if (
                request.signer is not None
                and request.signer.reference == self.device_enrollment.decode()
            ):
                ca = self.device_ca_for_subject.get(request.subject, self.ca)
            return self._issue_or_hold(request, enrollment.reference, ca=ca)

    def _issue_or_hold(
        self,
        request: CertificationRequest | KeyUpdateRequest,
        reference: bytes,
        replaces: int | None = None,
        ca: LocalCA | None = None,
    ) -> Issued | Waiting:
        ca = ca or self.ca
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
                request_nonce=request.sender_nonce,
                mac_protected=request.signer is None,
            )
            return Waiting(self.check_after, "Waiting for the administrator's approval.")
        transaction = Transaction(
            sender_kid=request.sender_kid,
            nonce=request.response_nonce,
            certificate=None,
            sender=ca.issuing.subject,
            body_type=body_type,
            cert_req_id=request.cert_req_id,
            request=request,
            replaces=replaces,
            request_nonce=request.sender_nonce,
            mac_protected=request.signer is None,
        )
        self.transactions[request.transaction_id] = transaction
        return self._issue(transaction, request.implicit_confirm_requested, reference, ca)

    def _issue(
        self,
        transaction: Transaction,
        implicit_requested: bool,
        reference: bytes,
        ca: LocalCA | None = None,
    ) -> Issued:
        assert transaction.request is not None
        ca = ca or self.ca
        certificate = ca.issue(transaction.request)
        self.issued[certificate.serial_number] = IssuedCert(certificate, reference)
        implicit = implicit_requested and self.allow_implicit_confirm
        transaction.certificate = certificate
        transaction.state = "implicit" if implicit else "waiting"
        if transaction.replaces is not None:
            if implicit:
                self.issued[transaction.replaces].updated = True
            else:
                self.issued[transaction.replaces].update_pending = True
        return Issued(
            certificate=certificate,
            chain=ca.chain,
            ca_pubs=(ca.root,),
            sender=ca.issuing.subject,
            implicit_confirm_granted=implicit,
            modifications=self.modifications,
        )

    def pending_confirmation(self, transaction_id: bytes) -> PendingConfirmation | None:
        with self._lock:
            transaction = self.transactions.get(transaction_id)
            if transaction is None or transaction.state not in ("waiting", "confirmed"):
                return None
            assert transaction.certificate is not None and transaction.nonce is not None
            return PendingConfirmation(
                sender_kid=transaction.sender_kid,
                recip_nonce=transaction.nonce,
                certificate=transaction.certificate,
                sender=transaction.sender,
                cert_req_id=transaction.cert_req_id,
                request_nonce=transaction.request_nonce,
                mac_protected=transaction.mac_protected,
                confirmed=transaction.state == "confirmed",
            )

    def confirm(self, transaction_id: bytes, *, accepted: bool, reason: str | None) -> None:
        with self._lock:
            transaction = self.transactions[transaction_id]
            transaction.state = "confirmed" if accepted else "rejected"
            transaction.reason = reason
            if transaction.replaces is not None:
                self.issued[transaction.replaces].update_pending = False
                if accepted:
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
        if certificate in self.ra_certificates:
            # RFC 9483, 5.3.2: a PKI management entity revokes on behalf of others.
            if body_type not in ("rr", "genm"):
                raise errors.NotAuthorized(f"The RA certificate may not sign {body_type}.")
            return Signer(certificate, self.ca.issuing.subject, "ra")
        record = self.issued.get(certificate.serial_number)
        if record is not None and record.certificate == certificate:
            if record.is_revoked:
                raise errors.CertRevoked("The signer's certificate is revoked.")
            allowed = {"cr", "kur", "rr", "genm", "certConf", "pollReq", "error"}
            if self.issued_may_sign_ir:
                allowed.add("ir")
            if body_type not in allowed:
                raise errors.NotAuthorized(f"A certificate of ours may not sign {body_type}.")
            if record.update_pending and body_type in ("ir", "cr", "kur", "rr"):
                raise errors.BadRequest(
                    "A key update of the signer's certificate awaits its certConf."
                )
            return Signer(certificate, self.ca.issuing.subject, record.reference.decode())
        if self.vendor_roots and chains_to(certificate, extra_certs[1:], self.vendor_roots):
            # 3GPP-style: a device certificate of a trusted vendor may enroll (ir) only.
            if body_type not in ("ir", "certConf", "pollReq", "error"):
                raise errors.NotAuthorized(f"A device certificate may not sign {body_type}.")
            return Signer(certificate, self.ca.issuing.subject, self.device_enrollment.decode())
        raise errors.SignerNotTrusted("The signer's certificate is not trusted.")

    def response_signer(self, sender: x509.Name) -> SignatureProtector:
        ca = self.cas.get(sender)
        if ca is None:
            raise errors.SystemUnavail(f"No CA key for {sender.rfc4514_string()}.")
        return SignatureProtector.with_key(ca.issuing_key, ca.issuing, "sha256", chain=ca.chain)

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
                    # RFC 9483, 4.1.3: a kur is signed with the certificate it updates
                    raise errors.WrongIntegrity("Key update needs the old certificate's signature.")
                if record.reference != request.sender_kid:
                    raise errors.NotAuthorized("The certificate belongs to another enrollment.")
            if record.is_revoked:
                raise errors.CertRevoked("The certificate to update is revoked.")
            if record.updated:
                raise errors.NotAuthorized("The certificate was already updated.")
            if record.update_pending:
                raise errors.BadRequest("A key update of the certificate awaits its certConf.")
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
                if request.signer.reference == "ra":
                    pass  # RFC 9483, 5.3.2: the RA revokes any certificate of this CA
                elif request.revive:
                    raise errors.NotAuthorized("A certificate on hold does not revive itself.")
                elif request.signer.certificate != record.certificate:
                    raise errors.NotAuthorized(
                        "Only the certificate itself may ask its revocation."
                    )
            elif not self.allow_mac_rr or record.reference != request.sender_kid:
                raise errors.NotAuthorized("This enrollment may not revoke the certificate.")
            if request.subject is not None and request.subject != record.certificate.subject:
                raise errors.BadCertTemplate("The subject in certDetails is not the certificate's.")
            if (
                request.public_key is not None
                and request.public_key != record.certificate.public_key()
            ):
                raise errors.BadCertTemplate(
                    "The public key in certDetails is not the certificate's."
                )
            if request.revive:
                if not record.is_revoked or record.revoked != x509.ReasonFlags.certificate_hold:
                    raise errors.BadCertId("The certificate is not on hold.")
                record.is_revoked = False
                record.revoked = None
                return
            if record.is_revoked and record.revoked != x509.ReasonFlags.certificate_hold:
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
        if kind == "encKeyPairTypes":
            return SIGN_KEY_PAIR_TYPES
        if kind == "currentCRL":
            revoked = {s: r.revoked for s, r in self.issued.items() if r.is_revoked}
            return self.crl_now or self.ca.crl(revoked)
        if kind == "caProtEncCert":
            return self.encryption_certificate
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
