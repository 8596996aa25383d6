"""Helpers shared by the CA, certificate and CRL pages: decoding and downloads."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtensionOID
from django.http import HttpRequest, HttpResponse

from certauth import x509 as x509util

PEM_TYPE = "application/x-pem-file"
DER_TYPE = "application/pkix-cert"
CRL_DER_TYPE = "application/pkix-crl"
PKCS12_TYPE = "application/x-pkcs12"

_EXTENSION_NAMES = {
    ExtensionOID.BASIC_CONSTRAINTS: "Basic Constraints",
    ExtensionOID.KEY_USAGE: "Key Usage",
    ExtensionOID.EXTENDED_KEY_USAGE: "Extended Key Usage",
    ExtensionOID.SUBJECT_KEY_IDENTIFIER: "Subject Key Identifier",
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER: "Authority Key Identifier",
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME: "Subject Alternative Name",
    ExtensionOID.ISSUER_ALTERNATIVE_NAME: "Issuer Alternative Name",
    ExtensionOID.CRL_DISTRIBUTION_POINTS: "CRL Distribution Points",
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS: "Authority Information Access",
    ExtensionOID.CERTIFICATE_POLICIES: "Certificate Policies",
    ExtensionOID.NAME_CONSTRAINTS: "Name Constraints",
    ExtensionOID.POLICY_CONSTRAINTS: "Policy Constraints",
    ExtensionOID.INHIBIT_ANY_POLICY: "Inhibit anyPolicy",
}
_EKU_LABELS = {
    oid.dotted_string: x509util.EXT_KEY_USAGE_LABELS[name]
    for name, oid in x509util.EXT_KEY_USAGES.items()
}


def colon_hex(data: bytes) -> str:
    return ":".join(f"{b:02X}" for b in data)


def _names(names: Iterable[x509.GeneralName]) -> list[str]:
    return [x509util.format_san(name) for name in names]


def _extension_values(value: x509.ExtensionType) -> list[str]:
    """An extension's value as lines a person can read."""
    if isinstance(value, x509.BasicConstraints):
        text = "CA: TRUE" if value.ca else "CA: FALSE"
        if value.ca and value.path_length is not None:
            text += f", path length: {value.path_length}"
        return [text]
    if isinstance(value, x509.KeyUsage):
        lines = []
        for name, attribute in x509util.KEY_USAGES.items():
            if attribute in ("encipher_only", "decipher_only") and not value.key_agreement:
                continue
            if getattr(value, attribute):
                lines.append(x509util.KEY_USAGE_LABELS[name])
        return lines
    if isinstance(value, x509.ExtendedKeyUsage):
        return [
            _EKU_LABELS.get(
                oid.dotted_string, oid._name if oid._name != "Unknown OID" else oid.dotted_string
            )
            for oid in value
        ]
    if isinstance(value, x509.SubjectKeyIdentifier):
        return [colon_hex(value.digest)]
    if isinstance(value, x509.AuthorityKeyIdentifier):
        lines = []
        if value.key_identifier:
            lines.append(f"Key ID: {colon_hex(value.key_identifier)}")
        if value.authority_cert_issuer:
            lines.append("Issuer: " + ", ".join(_names(value.authority_cert_issuer)))
        if value.authority_cert_serial_number is not None:
            lines.append(f"Serial: {x509util.serial_colons(value.authority_cert_serial_number)}")
        return lines
    if isinstance(value, x509.SubjectAlternativeName | x509.IssuerAlternativeName):
        return _names(value)
    if isinstance(value, x509.CRLDistributionPoints):
        lines = []
        for point in value:
            lines.extend(_names(point.full_name or []))
            if point.relative_name is not None:
                lines.append(f"Relative name: {point.relative_name.rfc4514_string()}")
        return lines
    if isinstance(value, x509.AuthorityInformationAccess):
        return [
            f"{description.access_method._name}: {x509util.format_san(description.access_location)}"
            for description in value
        ]
    if isinstance(value, x509.CertificatePolicies):
        return [policy.policy_identifier.dotted_string for policy in value]
    if isinstance(value, x509.UnrecognizedExtension):
        return [
            f"{len(value.value)} bytes: {colon_hex(value.value[:32])}{'…' if len(value.value) > 32 else ''}"
        ]
    return [str(value)]


def extension_rows(certificate: x509.Certificate) -> list[dict]:
    rows = []
    for extension in certificate.extensions:
        oid = extension.oid
        name = _EXTENSION_NAMES.get(oid) or (oid._name if oid._name != "Unknown OID" else "")
        rows.append(
            {
                "name": name or oid.dotted_string,
                "oid": oid.dotted_string,
                "critical": extension.critical,
                "values": _extension_values(extension.value),
            }
        )
    return rows


def describe_key(public_key) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA {public_key.key_size} bits"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"ECDSA {public_key.curve.name} ({public_key.curve.key_size} bits)"
    return type(public_key).__name__


def describe_certificate(certificate: x509.Certificate) -> dict:
    """Everything the detail pages show of a certificate."""
    algorithm = certificate.signature_hash_algorithm
    return {
        "subject": x509util.format_name(certificate.subject),
        "issuer": x509util.format_name(certificate.issuer),
        "serial": x509util.serial_colons(certificate.serial_number),
        "version": certificate.version.name,
        "not_before": certificate.not_valid_before_utc,
        "not_after": certificate.not_valid_after_utc,
        "public_key": describe_key(certificate.public_key()),
        "signature_algorithm": (
            certificate.signature_algorithm_oid._name
            + (f" ({algorithm.name})" if algorithm else "")
        ),
        "sha256": x509util.fingerprint(certificate),
        "sha1": x509util.fingerprint(certificate, hashes.SHA1()),  # noqa: S303 - a display fingerprint
        "extensions": extension_rows(certificate),
        "pem": certificate.public_bytes(serialization.Encoding.PEM).decode(),
    }


def safe_filename(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "certificate"


def attachment(data: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{safe_filename(filename)}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def certificate_download(certificates: list[x509.Certificate], stem: str, fmt: str) -> HttpResponse:
    """One certificate as PEM or DER, or several as one PEM bundle."""
    if fmt == "der" and len(certificates) == 1:
        return attachment(
            certificates[0].public_bytes(serialization.Encoding.DER), f"{stem}.cer", DER_TYPE
        )
    data = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)
    return attachment(data, f"{stem}.pem", PEM_TYPE)


def pkcs12_download(
    *,
    name: str,
    key,
    certificate: x509.Certificate,
    chain: list[x509.Certificate],
    passphrase: str,
    stem: str,
) -> HttpResponse:
    """Key, certificate and chain as PKCS#12, encrypted with the administrator's passphrase."""
    data = pkcs12.serialize_key_and_certificates(
        name=name.encode(),
        key=key,
        cert=certificate,
        cas=chain or None,
        encryption_algorithm=serialization.BestAvailableEncryption(passphrase.encode()),
    )
    return attachment(data, f"{stem}.p12", PKCS12_TYPE)


def selected_ids(request: HttpRequest) -> list[int]:
    ids = []
    for value in request.POST.getlist("selected"):
        try:
            ids.append(int(value))
        except ValueError:
            continue
    return ids
