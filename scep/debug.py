"""The decrypted CSR of a SCEP request as text, for Debug > Others > SCEP/CMP.

The challengePassword is a secret: the text says whether it is present and
how long it is, never what it is.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AttributeOID

from certauth import x509 as x509util
from scep.protocol import MalformedMessage, SCEPError
from scep.protocol import decode as wire_decode

_READ_ERRORS: tuple[type[Exception], ...] = (ValueError, TypeError, KeyError, SCEPError)


def _key_text(csr: x509.CertificateSigningRequest) -> str:
    try:
        key = csr.public_key()
    except _READ_ERRORS:
        return "unreadable"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size} bits"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    return type(key).__name__


def _extension_text(extension: x509.Extension) -> str:
    value = extension.value
    name = getattr(extension.oid, "_name", None) or extension.oid.dotted_string
    critical = " (critical)" if extension.critical else ""
    if isinstance(value, x509.SubjectAlternativeName):
        body = ", ".join(x509util.format_san(n) for n in value)
    elif isinstance(value, x509.KeyUsage):
        bits = [
            label
            for label, attr in x509util.KEY_USAGES.items()
            if attr not in ("encipher_only", "decipher_only") and getattr(value, attr)
        ]
        body = ", ".join(bits)
    elif isinstance(value, x509.ExtendedKeyUsage):
        body = ", ".join(getattr(oid, "_name", oid.dotted_string) for oid in value)
    else:
        body = repr(value)[:300]
    return f"  {name}{critical}: {body}"


def describe_csr(csr: x509.CertificateSigningRequest) -> str:
    """Subject, key, extensions and attributes of *csr*; the challenge only as present/absent."""
    lines = [f"subject: {x509util.format_name(csr.subject) or '(empty)'}"]
    lines.append(f"public key: {_key_text(csr)}")
    algorithm = csr.signature_algorithm_oid
    lines.append(f"signature: {getattr(algorithm, '_name', algorithm.dotted_string)}")
    try:
        lines.append("signature valid: " + ("yes" if csr.is_signature_valid else "no"))
    except _READ_ERRORS:
        lines.append("signature valid: cannot be checked")
    try:
        extensions = list(csr.extensions)
    except _READ_ERRORS:
        extensions = []
        lines.append("extensions: unreadable")
    if extensions:
        lines.append("extensions:")
        lines.extend(_extension_text(extension) for extension in extensions)
    try:
        password = wire_decode.challenge_password(csr)
    except (SCEPError, MalformedMessage):
        password = None
        lines.append("challengePassword: unreadable")
    else:
        lines.append(
            "challengePassword: "
            + ("absent" if password is None else f"present ({len(password)} characters)")
        )
    try:
        others = [
            attribute.oid.dotted_string
            for attribute in csr.attributes
            if attribute.oid
            not in (
                AttributeOID.CHALLENGE_PASSWORD,
                x509.oid.ObjectIdentifier("1.2.840.113549.1.9.14"),
            )
        ]
    except _READ_ERRORS:
        others = []
    if others:
        lines.append("other attributes: " + ", ".join(others))
    return "\n".join(lines)
