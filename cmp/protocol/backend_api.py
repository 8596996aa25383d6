"""What the CMP server asks of the certificate authority, and what it hands over.

:class:`Backend` is the ``typing.Protocol`` the adapter implements (the
database-backed :mod:`cmp.backend`, the in-memory test backend).  The
dataclasses are the questions (:class:`CertificationRequest`,
:class:`KeyUpdateRequest`, :class:`RevocationRequest`, :class:`GeneralRequest`,
:class:`PollRequest`) and the answers (:class:`SharedSecret`, :class:`Signer`,
:class:`Issued`, :class:`Waiting`, :class:`Rejected`, :class:`PollOutcome`,
:class:`PendingConfirmation`, :data:`GeneralInfo`).  The protocol layer checks
the protocol; the backend decides policy: who may enroll, which keys are
strong enough, what a certificate contains.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPublicKeyTypes,
    PublicKeyTypes,
)

from . import errors, protection
from .structures import AlgorithmId, CertId, CRLStatus, subject_alt_names

__all__ = [
    "INFO_KINDS",
    "Backend",
    "CertReqTemplate",
    "CertificationRequest",
    "GeneralInfo",
    "GeneralRequest",
    "Issued",
    "KeyUpdateRequest",
    "PendingConfirmation",
    "PollOutcome",
    "PollRequest",
    "Rejected",
    "RevocationRequest",
    "RootCaKeyUpdate",
    "SharedSecret",
    "Signer",
    "Waiting",
]


@dataclass(frozen=True)
class SharedSecret:
    """What the backend knows about a senderKID (an enrollment reference).

    ``secret`` is the password the client MACs with.  ``sender`` is the name of
    the CA that answers for this enrollment: every response of the transaction,
    errors included, carries it as header sender, because the client pins the
    CA certificate and rejects a response whose sender differs (OpenSSL:
    "does not match expected sender").
    """

    secret: bytes = field(repr=False)
    sender: x509.Name | None = None


@dataclass(frozen=True)
class CertificationRequest:
    """An ir/cr/p10cr that passed every protocol check, for the backend to decide.

    ``response_nonce`` is the senderNonce the ip/cp will carry: the certConf
    must echo it as recipNonce, so the backend stores it with the transaction.
    """

    body_type: str  # "ir", "cr" or "p10cr"
    pvno: int
    transaction_id: bytes
    sender_kid: bytes | None
    sender: x509.Name | None
    sender_nonce: bytes
    response_nonce: bytes
    implicit_confirm_requested: bool
    cert_req_id: int
    subject: x509.Name
    public_key: CertificateIssuerPublicKeyTypes
    extensions: x509.Extensions
    not_before: datetime.datetime | None = None
    not_after: datetime.datetime | None = None
    csr: x509.CertificateSigningRequest | None = None  # p10cr only
    #: Set when the request is signature-protected (a device certificate for an
    #: ir, RFC 9483, 4.1.1; a certificate we issued for a cr, 4.1.2).
    signer: Signer | None = None

    @property
    def subject_alt_names(self) -> tuple[x509.GeneralName, ...]:
        return subject_alt_names(self.extensions)


@dataclass(frozen=True)
class Issued:
    """The backend's answer to :meth:`Backend.certify`.

    ``chain``: issuing CA first, up to the root (sent as extraCerts).
    ``ca_pubs``: root certificate(s), sent in caPubs of an ip only.
    ``sender``: the issuing CA's subject, the response's header sender (and
    the CA that signs the response to a signed request, RFC 9483, 3.2).
    ``implicit_confirm_granted``: the backend agreed to implicit confirmation
    (only looked at when the client asked for it) and then expects no certConf.
    ``modifications``: what the certificate grants otherwise than the request
    asked (an extension replaced or dropped, a shorter validity), in words;
    when any, the status is grantedWithMods (RFC 9810, 5.2.3) with them as
    statusString.
    """

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    ca_pubs: tuple[x509.Certificate, ...]
    sender: x509.Name
    implicit_confirm_granted: bool = False
    modifications: tuple[str, ...] = ()


@dataclass(frozen=True)
class PendingConfirmation:
    """An issued certificate waiting for certConf (stored by ``certify``).

    ``cert_req_id`` is the request's certReqId (0, or -1 for a p10cr), which
    the CertStatus must repeat; ``request_nonce`` the request's senderNonce,
    which the certConf must not reuse; ``mac_protected`` how the request was
    protected (None: not known), which the certConf must follow (RFC 9483,
    4.1.1); ``confirmed`` is set when the certificate was confirmed already
    (a repeated certConf is answered with certConfirmed).
    """

    sender_kid: bytes | None
    recip_nonce: bytes  # the senderNonce we sent in the ip/cp
    certificate: x509.Certificate
    sender: x509.Name
    cert_req_id: int = 0
    request_nonce: bytes | None = None
    mac_protected: bool | None = None
    confirmed: bool = False


@dataclass(frozen=True)
class Signer:
    """A trusted signer of a signature-protected request (:meth:`Backend.signer`).

    ``certificate`` is the CMP protection certificate (extraCerts[0], whose key
    verified the signature).  ``sender`` is the subject of the CA that answers:
    the response's header sender; responses to signed requests are always signed,
    by :meth:`Backend.response_signer` for that name (RFC 9483, 3.2).
    ``reference`` is whatever the backend wants handed back in later calls of
    this request (an enrollment reference, a device record id); the server only
    passes it on.
    """

    certificate: x509.Certificate
    sender: x509.Name
    reference: str | None = None


@dataclass(frozen=True)
class KeyUpdateRequest:
    """A kur that passed every protocol check, for the backend to decide (RFC 9483, 4.1.3).

    ``old_certificate`` is the certificate being updated when the kur is
    signature-protected (it is the protecting certificate, ``signer.certificate``);
    None when the kur is MAC-protected, which only a backend that allows it
    (FortiGate "renewal" with the enrollment password) accepts: it then finds
    the certificate by ``old_cert_id`` and the enrollment by ``sender_kid``.
    ``old_cert_id`` is the oldCertId control when present (already checked to
    match ``old_certificate`` when both are present).  ``subject`` is the
    template's subject or, when the template has none, the old certificate's.
    ``response_nonce`` is the senderNonce of the kup, which the certConf echoes.
    """

    pvno: int
    transaction_id: bytes
    sender_kid: bytes | None
    sender: x509.Name | None
    sender_nonce: bytes
    response_nonce: bytes
    implicit_confirm_requested: bool
    cert_req_id: int
    old_certificate: x509.Certificate | None
    old_cert_id: CertId | None
    subject: x509.Name | None
    public_key: CertificateIssuerPublicKeyTypes
    extensions: x509.Extensions
    mac_protected: bool
    signer: Signer | None = None
    not_before: datetime.datetime | None = None
    not_after: datetime.datetime | None = None

    @property
    def subject_alt_names(self) -> tuple[x509.GeneralName, ...]:
        return subject_alt_names(self.extensions)


@dataclass(frozen=True)
class RevocationRequest:
    """An rr that passed every protocol check (RFC 9483, 4.2).

    The certificate to revoke is named by ``issuer`` and ``serial_number``
    (certDetails); ``reason`` is the crlEntryDetails reasonCode, None when
    absent; ``removeFromCRL`` asks to revive a certificate on hold (RFC 9810,
    5.3.9).  ``subject``, ``public_key`` and ``extensions`` are the other
    certDetails fields the client sent, which must match the certificate.
    ``signer`` is set for a signature-protected rr (RFC 9483, 4.2: the
    certificate being revoked, or an authorized RA, 5.3.2); ``mac_protected``
    with ``sender_kid`` for a MAC-protected one, which only a backend that
    allows it accepts.
    """

    pvno: int
    transaction_id: bytes
    sender_kid: bytes | None
    sender: x509.Name | None
    sender_nonce: bytes
    issuer: x509.Name
    serial_number: int
    reason: x509.ReasonFlags | None
    mac_protected: bool
    signer: Signer | None = None
    subject: x509.Name | None = None
    public_key: PublicKeyTypes | None = None
    extensions: x509.Extensions | None = None

    @property
    def revive(self) -> bool:
        return self.reason == x509.ReasonFlags.remove_from_crl


@dataclass(frozen=True)
class GeneralRequest:
    """A genm that passed the protection checks (RFC 9483, 4.3).

    ``info_types`` are the dotted OIDs requested, in order.  ``old_root`` is
    the root CA certificate sent with a rootCaCert request (RFC 9483, 4.3.2);
    ``crl_statuses`` are the entries of a crlStatusList request (4.3.4).
    """

    pvno: int
    transaction_id: bytes
    sender_kid: bytes | None
    sender: x509.Name | None
    info_types: tuple[str, ...]
    mac_protected: bool
    signer: Signer | None = None
    old_root: x509.Certificate | None = None
    crl_statuses: tuple[CRLStatus, ...] = ()


@dataclass(frozen=True)
class RootCaKeyUpdate:
    """RootCaKeyUpdateContent, RFC 9810, 5.3.19.15 / RFC 9483, 4.3.2."""

    new_with_new: x509.Certificate
    new_with_old: x509.Certificate | None = None
    old_with_new: x509.Certificate | None = None


@dataclass(frozen=True)
class CertReqTemplate:
    """What an enrollment asks for (CertReqTemplateContent, RFC 9483, 4.3.3).

    ``subject`` and ``extensions`` go into the certTemplate (omitted when None
    or empty).  The key the client must generate goes into keySpec, one of:
    an RSA key of ``rsa_key_size`` bits (id-regCtrl-rsaKeyLen), an EC key on
    ``ec_curve`` (a cryptography curve name such as "secp256r1", sent as
    id-regCtrl-algId id-ecPublicKey with that namedCurve), or an EdDSA key
    (``eddsa`` "ed25519" or "ed448", id-regCtrl-algId id-Ed25519/id-Ed448).
    RFC 9483, 4.3.3: keySpec carries either rsaKeyLen or algId, never both.
    """

    subject: x509.Name | None = None
    extensions: tuple[x509.Extension, ...] = ()
    rsa_key_size: int | None = None
    ec_curve: str | None = None
    eddsa: str | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.rsa_key_size, self.ec_curve, self.eddsa) if v is not None]
        if len(given) > 1:
            raise ValueError("A certReqTemplate names one key type (RFC 9483, 4.3.3).")
        if self.eddsa is not None and self.eddsa not in ("ed25519", "ed448"):
            raise ValueError(f"Unknown EdDSA key type {self.eddsa!r}.")


#: The infoTypes of genm the server answers (RFC 9483, 4.3), by the name passed
#: to :meth:`Backend.general_info`, and what that method returns for each:
#:
#: * "caCerts" (id-it 17): ``tuple[x509.Certificate, ...]`` (may be empty);
#: * "rootCaCert" (id-it 20): ``RootCaKeyUpdate | None`` (None: no update);
#: * "certReqTemplate" (id-it 19): ``CertReqTemplate | None`` (None: no template);
#: * "crlStatusList" (id-it 22): ``tuple[x509.CertificateRevocationList, ...]``,
#:   the CRLs newer than the client's (empty: all up to date);
#: * "signKeyPairTypes" (id-it 2): ``tuple[AlgorithmId, ...]``;
#: * "encKeyPairTypes" (id-it 3): ``tuple[AlgorithmId, ...]``, the key types the
#:   CA certifies for encryption or key agreement;
#: * "currentCRL" (id-it 6): ``x509.CertificateRevocationList | None``;
#: * "caProtEncCert" (id-it 1): ``x509.Certificate | None``, a CA certificate
#:   whose key can encrypt to the CA (None: the CA has none).
#:
#: preferredSymmAlg (id-it 4) and suppLangTags (id-it 16) are answered by the
#: server itself: it encrypts nothing and writes its texts in English.
INFO_KINDS = (
    "caCerts",
    "rootCaCert",
    "certReqTemplate",
    "crlStatusList",
    "signKeyPairTypes",
    "encKeyPairTypes",
    "currentCRL",
    "caProtEncCert",
)

GeneralInfo = (
    tuple[x509.Certificate, ...]
    | RootCaKeyUpdate
    | CertReqTemplate
    | tuple[x509.CertificateRevocationList, ...]
    | tuple[AlgorithmId, ...]
    | x509.CertificateRevocationList
    | x509.Certificate
    | None
)


@dataclass(frozen=True)
class Waiting:
    """The request awaits manual approval: answer PKIStatus waiting (RFC 9483, 4.4).

    ``certify`` or ``update_key`` returns this instead of :class:`Issued`,
    after storing the transaction (transactionID, sender_kid, request) so that
    :meth:`Backend.poll` can find it.  ``check_after_seconds`` goes into the
    pollRep's checkAfter, ``reason`` into its reason text.
    """

    check_after_seconds: int = 60
    reason: str | None = None


@dataclass(frozen=True)
class Rejected:
    """A waiting request that was finally refused (RFC 9483, 4.4).

    Sent as the final ip/cp/kup with PKIStatus rejection, ``reason`` as
    statusString and the single failInfo bit ``failure``.
    """

    reason: str
    failure: errors.FailureInfo = errors.FailureInfo.notAuthorized


@dataclass(frozen=True)
class PollRequest:
    """A pollReq that passed the protection checks (RFC 9810, 5.3.22).

    ``response_nonce`` is the senderNonce of the message this poll is answered
    with: when :meth:`Backend.poll` returns :class:`Issued` (and implicit
    confirmation is not granted) it must store it, because the certConf then
    echoes it as recipNonce (RFC 9810, 5.1.1).
    """

    pvno: int
    transaction_id: bytes
    sender_kid: bytes | None
    sender: x509.Name | None
    cert_req_id: int
    response_nonce: bytes
    implicit_confirm_requested: bool
    mac_protected: bool
    signer: Signer | None = None


@dataclass(frozen=True)
class PollOutcome:
    """The backend's answer to :meth:`Backend.poll`.

    ``request_body_type`` is the body type of the request being polled for
    ("ir", "cr", "p10cr" or "kur"): the final response is the matching
    ip/cp/kup (RFC 9483, 4.4).  ``sender_kid`` is the senderKID of that
    request (the server refuses a poll from another sender, as for certConf);
    ``sender`` the answering CA's subject.  ``cert_req_id`` is the request's
    certReqId (0, or -1 for a p10cr).
    """

    request_body_type: str
    sender_kid: bytes | None
    sender: x509.Name
    cert_req_id: int
    result: Issued | Waiting | Rejected


class Backend(Protocol):
    """What the server needs from the certificate authority.

    Every method may raise a :class:`~cmp.protocol.errors.CMPError` subclass,
    which becomes the error message sent to the client.  No state is kept by
    the server between calls: a certConf may reach another process than its ir.
    """

    def mac_secret(self, sender_kid: bytes) -> SharedSecret:
        """The shared secret and CA name for a senderKID (the enrollment reference).

        Raise ``errors.BadMessageCheck("Enrollment not found.")`` (this exact
        text: FortiAuthenticator's) if unknown (RFC 9483, 3.5: the MAC cannot
        be checked); ``errors.NotAuthorized(...)`` for a disabled, pending or
        rejected enrollment.  Errors raised here cannot be MAC-protected.
        """
        ...

    def transaction_in_use(self, transaction_id: bytes) -> bool:
        """True if this transactionID is taken: by an open transaction, or by one that
        ended recently (RFC 9810, 5.1.1: a new transaction's ID is unique).  How long
        an ended transaction's ID is remembered is the backend's bound."""
        ...

    def remember_transaction(self, transaction_id: bytes, body_type: str) -> None:
        """A one-message transaction (rr/rp, genm/genp) was answered: remember its
        transactionID, so that :meth:`transaction_in_use` refuses it as well."""
        ...

    def check_public_key(self, public_key: PublicKeyTypes) -> None:
        """Refuse a key the CA does not certify: too weak, or of a type it does not accept.

        Called for ir, cr, kur and p10cr with the requested public key, after
        the protection is verified and before the proof-of-possession is
        checked (a weak key is refused without spending a signature check on
        it).  Raise ``errors.BadCertTemplate`` with the reason; the server itself
        refuses only keys whose POP it cannot verify.
        """
        ...

    def certify(self, request: CertificationRequest) -> Issued | Waiting:
        """Issue the certificate and store the pending transaction atomically.

        Return :class:`Waiting` instead to hold the request for manual approval
        (RFC 9483, 4.4); the client then polls (:meth:`poll`).

        Store transaction_id, sender_kid, request.response_nonce, the
        certificate and the sender name so that :meth:`pending_confirmation`
        can return them, unless implicit confirmation is granted.  Raise
        BadCertTemplate, NotAuthorized, DuplicateCertReq, TransactionIdInUse...
        to refuse: a refusal of the request is sent in the ip/cp (RFC 9483,
        4.1.1).  ``request.subject`` may be the NULL-DN when a subjectAltName
        names the subject.
        """
        ...

    def pending_confirmation(self, transaction_id: bytes) -> PendingConfirmation | None:
        """The certificate awaiting certConf in this transaction, or None."""
        ...

    def confirm(self, transaction_id: bytes, *, accepted: bool, reason: str | None) -> None:
        """Close the transaction: the client accepted or rejected the certificate."""
        ...

    # --- signature-protected requests (RFC 9483, 3.2) ------------------------------

    def signer(
        self,
        certificate: x509.Certificate,
        extra_certs: tuple[x509.Certificate, ...],
        body_type: str,
    ) -> Signer:
        """Decide whether the protecting certificate may sign a ``body_type`` request.

        Called for every signature-protected request after the signature
        verified with ``certificate`` (= ``extra_certs[0]``, RFC 9483, 3.3);
        ``extra_certs`` is the whole extraCerts, with which a device
        certificate is chained to a trusted vendor CA (RFC 9483, 4.1.1).  Check
        the chain, validity and revocation here.  Raise
        ``errors.SignerNotTrusted`` (unknown or untrusted),
        ``errors.CertRevoked`` (revoked) or ``errors.NotAuthorized`` (trusted,
        but not for this body type).
        """
        ...

    def response_signer(self, sender: x509.Name) -> protection.SignatureProtector:
        """The protector that signs responses as the CA whose subject is ``sender``.

        Its ``chain`` (the CA certificate first) is sent as extraCerts (RFC
        9483, 3.3).  Used for every response to a signature-protected request.
        Raise ``errors.SystemUnavail`` if that CA cannot sign.
        """
        ...

    # --- kur, rr, genm, pollReq ----------------------------------------------------

    def update_key(self, request: KeyUpdateRequest) -> Issued | Waiting:
        """Issue the updated certificate (RFC 9483, 4.1.3), stored as for :meth:`certify`.

        The backend decides: renewal window, revoked or already updated
        certificate, MAC-protected kur allowed or not.  Raise BadCertId (unknown
        certificate), CertRevoked, NotAuthorized, BadCertTemplate...
        """
        ...

    def revoke(self, request: RevocationRequest) -> None:
        """Revoke the certificate (RFC 9483, 4.2), or with ``request.revive`` take it off
        hold (RFC 9810, 5.3.9).

        Raise BadCertId (no such certificate, or none on hold to revive),
        CertRevoked (already revoked), NotAuthorized (the signer or enrollment
        may not revoke it), BadCertTemplate (subject, key or extensions named
        are not the certificate's).  Every refusal is sent in the rp.
        """
        ...

    def general_info(self, kind: str, request: GeneralRequest) -> GeneralInfo:
        """The content for one infoType of a genm; ``kind`` is one of :data:`INFO_KINDS`.

        See :data:`INFO_KINDS` for the type returned for each kind.  Raise
        AddInfoNotAvailable or NotAuthorized to refuse the whole genm.
        """
        ...

    def poll(self, request: PollRequest) -> PollOutcome:
        """The state of a request that was answered with :class:`Waiting` (RFC 9483, 4.4).

        Return a result of :class:`Waiting` while still pending, :class:`Issued`
        once approved (store ``request.response_nonce`` for the certConf, as
        ``certify`` stores the ip's nonce), :class:`Rejected` when refused.
        Raise BadRequest if nothing awaits in this transaction.
        """
        ...
