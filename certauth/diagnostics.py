"""Questions a protocol adapter asks to explain a client's trouble in plain words.

They decide nothing about a request (the enrollment engine does): they tell
who a client is in words an administrator recognizes, and whether a client
pinned another CA of ours than the one that answers for its enrollment.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from certauth import enrollment as engine
from certauth import x509 as x509util
from certauth.models import Certificate, CertificateAuthority, Enrollment


@dataclass(frozen=True)
class WrongPin:
    """The client expects replies from *expected*; the enrollment's CA is *ca*."""

    enrollment: Enrollment
    expected: CertificateAuthority
    ca: CertificateAuthority


def local_ca_named(name: x509.Name) -> CertificateAuthority | None:
    """The local CA whose subject is *name*, exactly."""
    for ca in CertificateAuthority.objects.local().filter(subject=x509util.format_name(name)):
        if ca.certificate.subject == name:
            return ca
    return None


def issued_certificate(certificate: x509.Certificate) -> Certificate | None:
    """Our record of *certificate*, if one of our CAs issued it."""
    found = (
        Certificate.objects.select_related("enrollment")
        .filter(
            serial=x509util.serial_hex(certificate.serial_number),
            ca__subject=x509util.format_name(certificate.issuer),
        )
        .first()
    )
    if found is None or found.certificate != certificate:
        return None
    return found


def signer_identity(certificate: x509.Certificate) -> str:
    """A signer as the Logs page names it: the enrollment ID of a certificate we
    issued, else the subject's common name (else the whole subject)."""
    ours = issued_certificate(certificate)
    if ours is not None and ours.enrollment is not None:
        return ours.enrollment.reference
    return x509util.common_name(certificate.subject) or x509util.format_name(certificate.subject)


def signer_enrollment(certificate: x509.Certificate) -> Enrollment | None:
    ours = issued_certificate(certificate)
    return ours.enrollment if ours is not None else None


def enrollment_named(reference: str) -> Enrollment | None:
    """The enrollment a client named, as the engine finds it; None when there is none."""
    try:
        return engine.find_enrollment(reference)
    except engine.Refused:
        return None


def wrong_pin(enrollment: Enrollment | None, expected: x509.Name | None) -> WrongPin | None:
    """Whether a client of *enrollment* that addressed its request to *expected*
    (CMP: the header's recipient, the CA certificate it pinned) pinned another
    local CA of ours than the one that answers for the enrollment (its issuing
    CA). Replies are sent and signed by the issuing CA, so such a client
    rejects them (OpenSSL: "does not match expected sender")."""
    if enrollment is None or expected is None or len(expected) == 0:
        return None
    ca = enrollment.ca
    if ca.certificate.subject == expected:
        return None
    other = local_ca_named(expected)
    if other is None or other.pk == ca.pk:
        return None
    return WrongPin(enrollment=enrollment, expected=other, ca=ca)
