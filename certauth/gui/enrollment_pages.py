"""What the CMP and SCEP enrollment pages share: the CA a device imports and pins, and
the certificates issued through the enrollment with the state an administrator reads.

A device pins the CA that issues its certificate, the enrollment's CA: for an
intermediate CA, the intermediate, not the root (a client that pins the root
expects replies from the root and refuses the intermediate's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from certauth.models import Certificate, CertificateAuthority, Enrollment

#: The state an enrollment page shows, by Certificate.display_state.
STATE_LABELS = {
    Certificate.Status.ACTIVE: "Active",
    Certificate.Status.PENDING: "Awaiting confirmation",
    "hold": "On hold",
    Certificate.Status.REVOKED: "Revoked",
    Certificate.Status.EXPIRED: "Expired",
    Certificate.Status.SUPERSEDED: "Superseded",
}


@dataclass(frozen=True)
class IssuingCA:
    ca: CertificateAuthority
    chain: list[CertificateAuthority]  # the CA first, its root last

    @property
    def is_intermediate(self) -> bool:
        return len(self.chain) > 1

    @property
    def root(self) -> CertificateAuthority:
        return self.chain[-1]

    @property
    def issuers(self) -> list[CertificateAuthority]:
        return self.chain[1:]


def issuing_ca(enrollment: Enrollment) -> IssuingCA:
    return IssuingCA(ca=enrollment.ca, chain=enrollment.ca.chain())


def with_states(
    certificates: Iterable[Certificate], now: dt.datetime | None = None
) -> list[Certificate]:
    """The certificates, each with ``state`` (the badge's CSS suffix) and ``state_label``."""
    now = now or timezone.now()
    rows = []
    for cert in certificates:
        state = "hold" if cert.on_hold else cert.status_at(now)
        # Values for templates/includes/enrollment_certificates.html; the model has none.
        cert.state = state  # type: ignore[attr-defined]
        cert.state_label = STATE_LABELS.get(state, cert.display_status)  # type: ignore[attr-defined]
        rows.append(cert)
    return rows
