"""CMP failures: one exception class per PKIFailureInfo bit.

Every failure the protocol layer can report is a subclass of :class:`CMPError`
carrying the PKIFailureInfo bit it stands for (RFC 9810, 5.2.3, numbering below)
and a human-readable status text that goes into the error message's
``statusString``.  Raise them with a more precise text when one helps the
client's operator: ``raise BadPOP("POP signature does not verify.")``.

:class:`MalformedMessage` is not a CMPError: it means the bytes are not a
PKIMessage at all, so no CMP error message can be addressed to the sender; the
HTTP layer answers it with a plain 400.

:func:`error_response` turns an exception plus the request header into the DER
of an error message (RFC 9810, 5.3.21).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    import datetime

    from cryptography import x509

    from .protection import Protector
    from .structures import RequestHeader


class FailureInfo(enum.IntEnum):
    """PKIFailureInfo bit numbers, RFC 9810, 5.2.3."""

    badAlg = 0
    badMessageCheck = 1
    badRequest = 2
    badTime = 3
    badCertId = 4
    badDataFormat = 5
    wrongAuthority = 6
    incorrectData = 7
    missingTimeStamp = 8
    badPOP = 9
    certRevoked = 10
    certConfirmed = 11
    wrongIntegrity = 12
    badRecipientNonce = 13
    timeNotAvailable = 14
    unacceptedPolicy = 15
    unacceptedExtension = 16
    addInfoNotAvailable = 17
    badSenderNonce = 18
    badCertTemplate = 19
    signerNotTrusted = 20
    transactionIdInUse = 21
    unsupportedVersion = 22
    notAuthorized = 23
    systemUnavail = 24
    systemFailure = 25
    duplicateCertReq = 26


def shown(value: int) -> str:
    """An integer from the wire, for a status text or a trace line.

    Its digits when it has at most 20; otherwise its size, because an INTEGER
    can be longer than Python converts to text (4,300 digits) and its digits
    would tell nobody anything.
    """
    if -(10**20) < value < 10**20:
        return str(value)
    return f"({value.bit_length()}-bit integer)"


class MalformedMessage(Exception):
    """The request is not a DER PKIMessage at all (HTTP 400, no CMP answer)."""


#: The longest statusString sent (and handed to the adapter), in characters.
MAX_TEXT = 300


class CMPError(Exception):
    """A failure reported to the client as a CMP error message.

    ``failure`` is the PKIFailureInfo bit, ``text`` the statusString.
    """

    failure: ClassVar[FailureInfo] = FailureInfo.systemFailure
    default_text: ClassVar[str] = "System failure."

    def __init__(self, text: str | None = None) -> None:
        text = text if text is not None else self.default_text
        # The text may quote a parser's complaint about the client's bytes: it is
        # cut to a length a person reads (and the adapter stores).
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 3] + "..."
        self.text = text
        super().__init__(self.text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"


class BadAlg(CMPError):
    failure = FailureInfo.badAlg
    default_text = "Unrecognized or unsupported algorithm."


class BadMessageCheck(CMPError):
    failure = FailureInfo.badMessageCheck
    default_text = "Message protection check failed."


class BadRequest(CMPError):
    failure = FailureInfo.badRequest
    default_text = "Transaction not permitted or supported."


class BadTime(CMPError):
    failure = FailureInfo.badTime
    default_text = "messageTime is not sufficiently close to the system time."


class BadCertId(CMPError):
    failure = FailureInfo.badCertId
    default_text = "No certificate could be found matching the provided criteria."


class BadDataFormat(CMPError):
    failure = FailureInfo.badDataFormat
    default_text = "The data submitted has the wrong format."


class WrongAuthority(CMPError):
    failure = FailureInfo.wrongAuthority
    default_text = "The authority indicated in the request is different from this one."


class IncorrectData(CMPError):
    failure = FailureInfo.incorrectData
    default_text = "The requester's data is incorrect."


class MissingTimeStamp(CMPError):
    failure = FailureInfo.missingTimeStamp
    default_text = "Timestamp was missing but should be there by policy."


class BadPOP(CMPError):
    failure = FailureInfo.badPOP
    default_text = "The proof-of-possession failed."


class CertRevoked(CMPError):
    failure = FailureInfo.certRevoked
    default_text = "The certificate has already been revoked."


class CertConfirmed(CMPError):
    failure = FailureInfo.certConfirmed
    default_text = "The certificate has already been confirmed."


class WrongIntegrity(CMPError):
    failure = FailureInfo.wrongIntegrity
    default_text = "Integrity protection is not of the expected kind."


class BadRecipientNonce(CMPError):
    failure = FailureInfo.badRecipientNonce
    default_text = "recipNonce does not match the nonce sent by the server."


class TimeNotAvailable(CMPError):
    failure = FailureInfo.timeNotAvailable
    default_text = "The TSA's time source is not available."


class UnacceptedPolicy(CMPError):
    failure = FailureInfo.unacceptedPolicy
    default_text = "The requested policy is not supported."


class UnacceptedExtension(CMPError):
    failure = FailureInfo.unacceptedExtension
    default_text = "The requested extension is not supported."


class AddInfoNotAvailable(CMPError):
    failure = FailureInfo.addInfoNotAvailable
    default_text = "The additional information requested is not available."


class BadSenderNonce(CMPError):
    failure = FailureInfo.badSenderNonce
    default_text = "senderNonce is missing or too short."


class BadCertTemplate(CMPError):
    failure = FailureInfo.badCertTemplate
    default_text = "The certificate template is not acceptable."


class SignerNotTrusted(CMPError):
    failure = FailureInfo.signerNotTrusted
    default_text = "The signer of the message is unknown or not trusted."


class TransactionIdInUse(CMPError):
    failure = FailureInfo.transactionIdInUse
    default_text = "The transactionID is already in use."


class UnsupportedVersion(CMPError):
    failure = FailureInfo.unsupportedVersion
    default_text = "The protocol version is not supported."


class NotAuthorized(CMPError):
    failure = FailureInfo.notAuthorized
    default_text = "The sender is not authorized to make this request."


class SystemUnavail(CMPError):
    failure = FailureInfo.systemUnavail
    default_text = "The service is not available."


class SystemFailure(CMPError):
    failure = FailureInfo.systemFailure
    default_text = "System failure."


class DuplicateCertReq(CMPError):
    failure = FailureInfo.duplicateCertReq
    default_text = "A certificate has already been issued for this request."


def error_response(
    exc: CMPError,
    request: RequestHeader | None,
    *,
    sender: x509.Name | None = None,
    protector: Protector | None = None,
    extra_certs: tuple[x509.Certificate, ...] = (),
    clock_now: datetime.datetime | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """Build the DER error message answering ``request`` with ``exc``.

    RFC 9810, 5.3.21: PKIStatus rejection, statusString [exc.text], failInfo with
    the single bit ``exc.failure``.  The header echoes the request's pvno,
    transactionID and senderNonce (as recipNonce); ``sender`` is the CA name or,
    when no CA is known yet, the NULL-DN.  ``protector`` protects the message
    (pass None to send it unprotected).
    """
    # Imported here: every module imports errors, so errors imports nothing at load time.
    from . import encode
    from .structures import ErrorBody, PKIStatus

    header = encode.response_header(request, sender=sender, clock_now=clock_now, nonce=nonce)
    body = ErrorBody(status=PKIStatus.rejection, status_text=exc.text, failure=int(exc.failure))
    return encode.encode_response(header, body, protector=protector, extra_certs=extra_certs)
