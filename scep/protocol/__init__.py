"""SCEP (RFC 8894) on the wire, sans-IO: query and body in, dataclasses out, bytes back.

No Django here.  :class:`~scep.protocol.server.SCEPServer` answers requests
using a :class:`~scep.protocol.server.Backend` that the adapter implements.
"""

from .envelope import LocalRecipientKey, RecipientKey
from .errors import FAIL_INFO, FailInfo, MalformedMessage, RejectReason, SCEPError
from .messages import IssuerAndSerial, IssuerAndSubject, MessageType, PKIStatus
from .protection import ResponseSigner
from .server import (
    Backend,
    CACertificates,
    CertificateQuery,
    CRLQuery,
    EnrollmentRequest,
    Issued,
    Pending,
    PollRequest,
    Rejected,
    SCEPConfig,
    SCEPResult,
    SCEPServer,
    capabilities,
)

__all__ = [
    "FAIL_INFO",
    "Backend",
    "CACertificates",
    "CRLQuery",
    "CertificateQuery",
    "EnrollmentRequest",
    "FailInfo",
    "IssuerAndSerial",
    "IssuerAndSubject",
    "Issued",
    "LocalRecipientKey",
    "MalformedMessage",
    "MessageType",
    "PKIStatus",
    "Pending",
    "PollRequest",
    "RecipientKey",
    "Rejected",
    "RejectReason",
    "ResponseSigner",
    "SCEPConfig",
    "SCEPError",
    "SCEPResult",
    "SCEPServer",
    "capabilities",
]
