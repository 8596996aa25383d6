"""SCEP failures: one exception class per failInfo value, and the backend's reasons.

Every failure the protocol layer reports to a client is a subclass of
:class:`SCEPError` carrying the failInfo it stands for (RFC 8894, 3.2.1.4) and
a human-readable text that goes into the CertRep's failInfoText attribute.
Raise them with a more precise text when one helps the client's operator:
``raise BadAlg("SHA-1 is only accepted with the legacy setting.")``.

:class:`MalformedMessage` is not an SCEPError: it means the bytes cannot be
answered with a CertRep at all (no SignedData, no signer certificate, no
transactionID or senderNonce to address a reply with); the HTTP adapter answers
it with a plain 400.

The backend does not raise these: it returns
:class:`~scep.protocol.server.Rejected` with a :class:`RejectReason`, and
:data:`FAIL_INFO` is the one table that turns a reason into a failInfo.
"""

from __future__ import annotations

import enum
from typing import ClassVar


class FailInfo(enum.IntEnum):
    """failInfo values, RFC 8894, 3.2.1.4 (sent as a decimal PrintableString)."""

    badAlg = 0
    badMessageCheck = 1
    badRequest = 2
    badTime = 3
    badCertId = 4


class MalformedMessage(Exception):
    """The request cannot be answered with a CertRep (HTTP 400, no SCEP reply).

    ``trace`` holds the lines the server had written before giving up, for the
    adapter's debug log.
    """

    def __init__(self, text: str, trace: tuple[str, ...] = ()) -> None:
        super().__init__(text)
        self.text = text
        self.trace = trace


class SCEPError(Exception):
    """A failure reported to the client as a CertRep with pkiStatus FAILURE."""

    fail_info: ClassVar[FailInfo] = FailInfo.badRequest
    default_text: ClassVar[str] = "Transaction not permitted or supported."

    def __init__(self, text: str | None = None) -> None:
        self.text = text if text is not None else self.default_text
        super().__init__(self.text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"


class BadAlg(SCEPError):
    fail_info = FailInfo.badAlg
    default_text = "Unrecognized or unsupported algorithm."


class BadMessageCheck(SCEPError):
    fail_info = FailInfo.badMessageCheck
    default_text = "Integrity check of the message failed."


class BadRequest(SCEPError):
    fail_info = FailInfo.badRequest
    default_text = "Transaction not permitted or supported."


class BadTime(SCEPError):
    fail_info = FailInfo.badTime
    default_text = "signingTime is not sufficiently close to the system time."


class BadCertId(SCEPError):
    fail_info = FailInfo.badCertId
    default_text = "No certificate could be identified matching the provided criteria."


#: The exception class for each failInfo.
ERRORS: dict[FailInfo, type[SCEPError]] = {
    FailInfo.badAlg: BadAlg,
    FailInfo.badMessageCheck: BadMessageCheck,
    FailInfo.badRequest: BadRequest,
    FailInfo.badTime: BadTime,
    FailInfo.badCertId: BadCertId,
}


class RejectReason(enum.Enum):
    """Why the backend refuses a request; :data:`FAIL_INFO` maps each to its failInfo."""

    #: PKCSReq without the right challengePassword (RFC 8894, 2.4).
    BAD_CHALLENGE = "bad_challenge"
    #: The requester may not have this certificate (unknown device, disabled enrollment).
    NOT_AUTHORIZED = "not_authorized"
    #: The subject, SANs, extensions or validity are not allowed by the profile.
    POLICY = "policy"
    #: The public key is of a type or size the CA does not certify.
    KEY_NOT_ACCEPTED = "key_not_accepted"
    #: RenewalReq signed by a certificate this CA did not issue, or one that is
    #: expired, revoked or already renewed.
    RENEWAL_NOT_ALLOWED = "renewal_not_allowed"
    #: The transactionID is in use by another request (another key or signer).
    TRANSACTION_ID_IN_USE = "transaction_id_in_use"
    #: An operator refused a request that was PENDING.
    REJECTED_BY_OPERATOR = "rejected_by_operator"
    #: CertPoll for a transaction that does not exist (or is not this signer's).
    UNKNOWN_TRANSACTION = "unknown_transaction"
    #: GetCert for an issuer and serial number that name no certificate.
    UNKNOWN_CERTIFICATE = "unknown_certificate"
    #: GetCRL for an issuer whose CRL is not available here.
    NO_CRL = "no_crl"
    #: Anything else the backend could not do (database down, CA key unusable).
    SYSTEM_FAILURE = "system_failure"


#: The one table from the backend's reasons to the failInfo sent (RFC 8894,
#: 3.2.1.4: badRequest is "transaction not permitted or supported", badCertId
#: "no certificate could be identified matching the provided criteria").
FAIL_INFO: dict[RejectReason, FailInfo] = {
    RejectReason.BAD_CHALLENGE: FailInfo.badRequest,
    RejectReason.NOT_AUTHORIZED: FailInfo.badRequest,
    RejectReason.POLICY: FailInfo.badRequest,
    RejectReason.KEY_NOT_ACCEPTED: FailInfo.badAlg,
    RejectReason.RENEWAL_NOT_ALLOWED: FailInfo.badRequest,
    RejectReason.TRANSACTION_ID_IN_USE: FailInfo.badRequest,
    RejectReason.REJECTED_BY_OPERATOR: FailInfo.badRequest,
    RejectReason.UNKNOWN_TRANSACTION: FailInfo.badCertId,
    RejectReason.UNKNOWN_CERTIFICATE: FailInfo.badCertId,
    RejectReason.NO_CRL: FailInfo.badCertId,
    RejectReason.SYSTEM_FAILURE: FailInfo.badRequest,
}

#: failInfoText sent when the backend gives no text of its own.
REASON_TEXT: dict[RejectReason, str] = {
    RejectReason.BAD_CHALLENGE: "The challenge password is wrong or missing.",
    RejectReason.NOT_AUTHORIZED: "The request is not authorized.",
    RejectReason.POLICY: "The request does not match the certificate profile.",
    RejectReason.KEY_NOT_ACCEPTED: "The public key is not accepted.",
    RejectReason.RENEWAL_NOT_ALLOWED: "The signer certificate cannot be renewed here.",
    RejectReason.TRANSACTION_ID_IN_USE: "The transactionID is in use by another request.",
    RejectReason.REJECTED_BY_OPERATOR: "The request was rejected.",
    RejectReason.UNKNOWN_TRANSACTION: "No request is known for this transactionID.",
    RejectReason.UNKNOWN_CERTIFICATE: "No certificate matches this issuer and serial number.",
    RejectReason.NO_CRL: "No CRL is available for this issuer.",
    RejectReason.SYSTEM_FAILURE: "The request could not be processed.",
}
