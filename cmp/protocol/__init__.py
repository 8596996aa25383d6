"""CMP (RFC 9810, RFC 9483) on the wire, sans-IO: bytes in, dataclasses out, bytes back.

No Django here.  :class:`~cmp.protocol.server.CMPServer` answers requests using a
:class:`~cmp.protocol.backend_api.Backend` that the adapter implements.

Modules: :mod:`.asn1` (the only pyasn1 user), :mod:`.structures` (the message
dataclasses), :mod:`.decode` (reading requests), :mod:`.encode` (writing
responses), :mod:`.protection` (MACs and signatures), :mod:`.errors` (one class
per failInfo bit), :mod:`.backend_api` (the Backend protocol and what it is
handed), :mod:`.server` (the dispatch); :mod:`.messages` re-exports the three
message modules under one name.
"""

from .asn1 import OID
from .backend_api import (
    INFO_KINDS,
    Backend,
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
    Signer,
    Waiting,
)
from .errors import CMPError, FailureInfo, MalformedMessage
from .protection import SignatureProtector
from .server import CMPServer, ServerResult
from .structures import AlgorithmId, CertId, CRLStatus, kid_text

__all__ = [
    "INFO_KINDS",
    "OID",
    "AlgorithmId",
    "Backend",
    "CMPError",
    "CMPServer",
    "CRLStatus",
    "CertId",
    "CertReqTemplate",
    "CertificationRequest",
    "FailureInfo",
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
    "SignatureProtector",
    "Signer",
    "Waiting",
    "kid_text",
]
