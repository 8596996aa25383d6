"""CMP (RFC 9810, RFC 9483) on the wire, sans-IO: bytes in, dataclasses out, bytes back.

No Django here.  :class:`~cmp.protocol.server.CMPServer` answers requests using a
:class:`~cmp.protocol.server.Backend` that the adapter implements.
"""

from .errors import CMPError, MalformedMessage
from .server import (
    INFO_KINDS,
    Backend,
    CertId,
    CertificationRequest,
    CertReqTemplate,
    CMPServer,
    CRLStatus,
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
    ServerResult,
    SharedSecret,
    Signer,
    Waiting,
)

__all__ = [
    "INFO_KINDS",
    "Backend",
    "CMPError",
    "CMPServer",
    "CRLStatus",
    "CertId",
    "CertReqTemplate",
    "CertificationRequest",
    "GeneralInfo",
    "GeneralRequest",
    "Issued",
    "KeyUpdateRequest",
    "MalformedMessage",
    "PendingConfirmation",
    "PollOutcome",
    "PollRequest",
    "Rejected",
    "RevocationRequest",
    "RootCaKeyUpdate",
    "ServerResult",
    "SharedSecret",
    "Signer",
    "Waiting",
]
