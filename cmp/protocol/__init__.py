"""CMP (RFC 9810, RFC 9483) on the wire, sans-IO: bytes in, dataclasses out, bytes back.

No Django here.  :class:`~cmp.protocol.server.CMPServer` answers requests using a
:class:`~cmp.protocol.server.Backend` that the adapter implements.
"""

from .errors import CMPError, MalformedMessage
from .server import (
    Backend,
    CertificationRequest,
    CMPServer,
    Issued,
    PendingConfirmation,
    ServerResult,
    SharedSecret,
)

__all__ = [
    "Backend",
    "CMPError",
    "CMPServer",
    "CertificationRequest",
    "Issued",
    "MalformedMessage",
    "PendingConfirmation",
    "ServerResult",
    "SharedSecret",
]
