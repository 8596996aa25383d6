"""Pure ``cryptography`` helpers: names, keys, extensions, certificate builders.

Nothing here touches the database or a private key's storage; the keystore
signs what these helpers build.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

RSA_KEY_SIZES = (2048, 3072, 4096)
CURVES: dict[str, ec.EllipticCurve] = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1()}
CURVE_NAMES = {"secp256r1": "p256", "secp384r1": "p384", "secp521r1": "p521"}
# The hashes a certificate or CRL is signed with (cryptography's builders accept
# only the SHA-2 and SHA-3 families).
SignatureHash = hashes.SHA256 | hashes.SHA384 | hashes.SHA512
HASHES: dict[str, type[SignatureHash]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

# The nine RFC 5280 (4.2.1.3) keyUsage bits: our name -> cryptography's argument.
KEY_USAGES: dict[str, str] = {
    "digitalSignature": "digital_signature",
    "nonRepudiation": "content_commitment",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
    "keyCertSign": "key_cert_sign",
    "cRLSign": "crl_sign",
    "encipherOnly": "encipher_only",
    "decipherOnly": "decipher_only",
}
KEY_USAGE_LABELS: dict[str, str] = {
    "digitalSignature": "Digital Signature",
    "nonRepudiation": "Non Repudiation",
    "keyEncipherment": "Key Encipherment",
    "dataEncipherment": "Data Encipherment",
    "keyAgreement": "Key Agreement",
    "keyCertSign": "Certificate Sign",
    "cRLSign": "CRL Sign",
    "encipherOnly": "Encipher Only",
    "decipherOnly": "Decipher Only",
}
IPSEC_IKE = ObjectIdentifier("1.3.6.1.5.5.7.3.17")  # RFC 4945
EXT_KEY_USAGES: dict[str, ObjectIdentifier] = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "OCSPSigning": ExtendedKeyUsageOID.OCSP_SIGNING,
    "ipsecIKE": IPSEC_IKE,
}
EXT_KEY_USAGE_LABELS: dict[str, str] = {
    "serverAuth": "Server Authentication",
    "clientAuth": "Client Authentication",
    "codeSigning": "Code Signing",
    "emailProtection": "Secure Email",
    "timeStamping": "Time Stamping",
    "OCSPSigning": "OCSP Signing",
    "ipsecIKE": "IPsec IKE",
}

_SHORT_NAMES = {
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COMMON_NAME: "CN",
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.DOMAIN_COMPONENT: "DC",
    NameOID.USER_ID: "UID",
    NameOID.STREET_ADDRESS: "street",
    NameOID.TITLE: "title",
    NameOID.GIVEN_NAME: "GN",
    NameOID.SURNAME: "SN",
}
_ATTRIBUTES = {short.lower(): oid for oid, short in _SHORT_NAMES.items()}
_ATTRIBUTES.update({"email": NameOID.EMAIL_ADDRESS, "e": NameOID.EMAIL_ADDRESS})


class InvalidInput(ValueError):
    """Input (a DN, a SAN, a key size) that cannot be used; the message says why.

    ``field`` names the form field at fault, where one is (forms show the
    message next to it).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)
PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)
#: EdDSA keys (RFC 8410): they sign without a separate hash.
EdDSAKey = (
    ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | ed25519.Ed25519PublicKey
    | ed448.Ed448PublicKey
)
#: The key types a CA or an end entity may have.
KEY_TYPES = ("rsa", "ec", "ed25519", "ed448")


# --- Names -----------------------------------------------------------------


def _split_unescaped(text: str, separators: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char in separators:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    out, escaped = [], False
    for char in value:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    if escaped:
        raise InvalidInput("a backslash at the end of a value escapes nothing")
    return "".join(out)


def parse_name(text: str) -> x509.Name:
    """Parse a DN as an administrator types it.

    Accepted forms: ``CN=fac.cz.root``, ``C=CZ, O=Example, CN=host`` (written
    in the order the attributes appear in the certificate, as our logs print
    them) and OpenSSL's ``/C=CZ/O=Example/CN=host``. A comma or slash inside a
    value is escaped with a backslash.
    """
    text = text.strip()
    if not text:
        raise InvalidInput("The subject is empty.")
    if text.startswith("/"):
        parts = _split_unescaped(text[1:], "/")
    else:
        parts = _split_unescaped(text, ",")
    attributes = []
    for part in parts:
        part = part.strip()
        if not part:
            raise InvalidInput(f"Malformed DN {text!r}: empty attribute.")
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"Malformed DN {text!r}: {part!r} is not ATTRIBUTE=value.")
        oid = _ATTRIBUTES.get(key.strip().lower())
        if oid is None:
            raise InvalidInput(f"Malformed DN {text!r}: unknown attribute {key.strip()!r}.")
        try:
            value = _unescape(value.strip())
        except InvalidInput as exc:
            raise InvalidInput(f"Malformed DN {text!r}: {exc}.") from None
        if not value:
            raise InvalidInput(f"Malformed DN {text!r}: {key.strip()} has no value.")
        if oid == NameOID.COUNTRY_NAME and len(value) != 2:
            raise InvalidInput(f"Malformed DN {text!r}: C must be a two-letter country code.")
        try:
            attributes.append(x509.NameAttribute(oid, value))
        except ValueError as exc:
            raise InvalidInput(f"Malformed DN {text!r}: {exc}") from None
    return x509.Name(attributes)


def short_name(oid: x509.ObjectIdentifier) -> str:
    """The short name of a DN attribute (``CN``, ``O``, ``serialNumber``), else its OID."""
    return _SHORT_NAMES.get(oid, oid.dotted_string)


def format_name(name: x509.Name) -> str:
    """A DN as FortiAuthenticator prints it: ``C=CZ, O=Example, CN=host``."""
    parts = []
    for rdn in name.rdns:
        for attribute in rdn:
            short = short_name(attribute.oid)
            value = str(attribute.value).replace("\\", "\\\\").replace(",", "\\,")
            parts.append(f"{short}={value}")
    return ", ".join(parts)


def common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[-1].value) if values else ""


# --- Serial numbers ------------------------------------------------------------


def random_serial() -> int:
    """A random positive serial of 159 bits (RFC 5280 4.1.2.2: at most 20 octets)."""
    return x509.random_serial_number()


def serial_hex(serial: int) -> str:
    """Serial as upper-case hex without separators (the database key)."""
    text = f"{serial:X}"
    return text if len(text) % 2 == 0 else "0" + text


def serial_colons(serial: int | str) -> str:
    """Serial as FortiAuthenticator logs it: ``DC:3D:D3:26:0D:9E:2D:9F``."""
    text = serial_hex(serial) if isinstance(serial, int) else serial.upper()
    if len(text) % 2:
        text = "0" + text
    return ":".join(text[i : i + 2] for i in range(0, len(text), 2))


# --- Keys ------------------------------------------------------------------


def generate_private_key(key_type: str, *, key_size: int = 2048, curve: str = "p256") -> PrivateKey:
    if key_type == "rsa":
        if key_size not in RSA_KEY_SIZES:
            sizes = ", ".join(map(str, RSA_KEY_SIZES))
            raise InvalidInput(f"Unsupported RSA key size {key_size}: use one of {sizes}.")
        return rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    if key_type == "ec":
        if curve not in CURVES:
            raise InvalidInput(f"Unsupported curve {curve!r}: use one of {', '.join(CURVES)}.")
        return ec.generate_private_key(CURVES[curve])
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if key_type == "ed448":
        return ed448.Ed448PrivateKey.generate()
    raise InvalidInput(f"Unsupported key type {key_type!r}: use {', '.join(KEY_TYPES)}.")


def public_key_of(item: x509.Certificate | x509.CertificateSigningRequest) -> PublicKey:
    """The RSA, ECDSA or EdDSA public key of a certificate or CSR; other key types are refused."""
    key = item.public_key()
    if not isinstance(key, PublicKey):
        raise InvalidInput("Only RSA, ECDSA, Ed25519 and Ed448 keys are supported.")
    return key


#: Sizes of the EdDSA keys in bits (RFC 8032, 5.1 and 5.2), for describe_key.
_EDDSA_BITS = {"ed25519": 256, "ed448": 456}


def describe_key(key: PublicKey | PrivateKey) -> tuple[str, int, str]:
    """(key type, size in bits, curve short name or '')."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "rsa", key.key_size, ""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ec", key.curve.key_size, CURVE_NAMES.get(key.curve.name, key.curve.name)
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "ed25519", _EDDSA_BITS["ed25519"], ""
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
        return "ed448", _EDDSA_BITS["ed448"], ""
    raise InvalidInput("Only RSA, ECDSA, Ed25519 and Ed448 keys are supported.")


def signing_hash(key: PublicKey | PrivateKey, hash_name: str) -> SignatureHash | None:
    """The hash a key signs certificates and CRLs with: *hash_name*, or None for an
    EdDSA key (RFC 8410, 6: Ed25519 and Ed448 hash within the signature)."""
    if isinstance(key, EdDSAKey):
        return None
    return hash_algorithm(hash_name or "sha256")


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


# --- Extensions ------------------------------------------------------------------


def key_usage_extension(names: Iterable[str]) -> x509.KeyUsage:
    chosen = set(names)
    unknown = chosen - set(KEY_USAGES)
    if unknown:
        raise InvalidInput(
            f"Unknown key usage {', '.join(sorted(unknown))}: use {', '.join(KEY_USAGES)}."
        )
    flags = {arg: name in chosen for name, arg in KEY_USAGES.items()}
    if (flags["encipher_only"] or flags["decipher_only"]) and not flags["key_agreement"]:
        raise InvalidInput("encipherOnly and decipherOnly need keyAgreement (RFC 5280 4.2.1.3).")
    return x509.KeyUsage(**flags)


def ext_key_usage_extension(names: Iterable[str]) -> x509.ExtendedKeyUsage:
    chosen = list(dict.fromkeys(names))
    unknown = [name for name in chosen if name not in EXT_KEY_USAGES]
    if unknown:
        raise InvalidInput(
            f"Unknown extended key usage {', '.join(unknown)}: use {', '.join(EXT_KEY_USAGES)}."
        )
    return x509.ExtendedKeyUsage([EXT_KEY_USAGES[name] for name in chosen])


def parse_san(text: str) -> x509.GeneralName:
    """One SAN written as ``DNS:host``, ``IP:192.0.2.1``, ``email:a@b`` or ``URI:...``."""
    kind, sep, value = text.strip().partition(":")
    kind = kind.strip().upper()
    value = value.strip()
    if not sep or not value:
        raise InvalidInput(
            f"SAN {text!r} must be written as TYPE:value, e.g. DNS:host.example.com."
        )
    if kind == "DNS":
        label = value[2:] if value.startswith("*.") else value
        if not all(
            part and len(part) < 64 and part.replace("-", "").isalnum() for part in label.split(".")
        ):
            raise InvalidInput(f"SAN {text!r} is not a valid DNS name.")
        return x509.DNSName(value.lower())
    if kind == "IP":
        try:
            return x509.IPAddress(ipaddress.ip_address(value))
        except ValueError:
            raise InvalidInput(f"SAN {text!r} is not a valid IP address.") from None
    if kind in ("EMAIL", "RFC822"):
        if "@" not in value:
            raise InvalidInput(f"SAN {text!r} is not a valid e-mail address.")
        return x509.RFC822Name(value)
    if kind == "URI":
        return x509.UniformResourceIdentifier(value)
    raise InvalidInput(f"SAN {text!r}: type must be DNS, IP, email or URI.")


def format_san(name: x509.GeneralName) -> str:
    if isinstance(name, x509.DNSName):
        return f"DNS:{name.value}"
    if isinstance(name, x509.IPAddress):
        return f"IP:{name.value}"
    if isinstance(name, x509.RFC822Name):
        return f"email:{name.value}"
    if isinstance(name, x509.UniformResourceIdentifier):
        return f"URI:{name.value}"
    if isinstance(name, x509.DirectoryName):
        return f"DirName:{format_name(name.value)}"
    return f"othername:{name!r}"


def hash_algorithm(hash_name: str) -> SignatureHash:
    if hash_name not in HASHES:
        raise InvalidInput(f"Unsupported hash {hash_name!r}: use sha256, sha384 or sha512.")
    return HASHES[hash_name]()


def ca_builder(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    public_key: PublicKey,
    issuer_public_key: PublicKey,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    path_length: int | None,
) -> x509.CertificateBuilder:
    """A CA certificate with the extensions RFC 5280 (4.2.1) asks of a CA."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        # RFC 5280 4.2.1.9: basicConstraints is critical in CA certificates.
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        # RFC 5280 4.2.1.3: keyCertSign for CAs; critical.
        .add_extension(
            key_usage_extension(["digitalSignature", "keyCertSign", "cRLSign"]), critical=True
        )
        # RFC 5280 4.2.1.2 / 4.2.1.1: SKI in CA certificates, AKI in all but self-signed.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), critical=False
        )
    )


def end_entity_builder(
    *,
    subject: x509.Name,
    ca_certificate: x509.Certificate,
    public_key: PublicKey,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    key_usage: Sequence[str],
    ext_key_usage: Sequence[str],
    sans: Sequence[x509.GeneralName],
    crl_url: str | None = None,
    ocsp_url: str | None = None,
) -> x509.CertificateBuilder:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_certificate.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key_of(ca_certificate)),
            critical=False,
        )
    )
    if key_usage:
        builder = builder.add_extension(key_usage_extension(key_usage), critical=True)
    if ext_key_usage:
        builder = builder.add_extension(ext_key_usage_extension(ext_key_usage), critical=False)
    if sans:
        # RFC 5280 4.2.1.6: critical only when the subject is empty.
        builder = builder.add_extension(
            x509.SubjectAlternativeName(list(sans)), critical=len(subject) == 0
        )
    if crl_url:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(crl_url)], None, None, None
                    )
                ]
            ),
            critical=False,
        )
    if ocsp_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(ocsp_url),
                    )
                ]
            ),
            critical=False,
        )
    return builder


def certificate_sans(certificate: x509.Certificate) -> list[x509.GeneralName]:
    try:
        return list(
            certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        )
    except x509.ExtensionNotFound:
        return []


def fingerprint(
    certificate: x509.Certificate, algorithm: hashes.HashAlgorithm | None = None
) -> str:
    digest = certificate.fingerprint(algorithm or hashes.SHA256())
    return ":".join(f"{b:02X}" for b in digest)


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from PEM or DER bytes."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise InvalidInput("The file is not a PEM or DER X.509 certificate.") from None


def load_private_key(data: bytes, password: bytes | None = None) -> PrivateKey:
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=password)
        else:
            key = serialization.load_der_private_key(data, password=password)
    except TypeError:
        raise InvalidInput("The private key is encrypted: give its passphrase.") from None
    except ValueError:
        raise InvalidInput("The file is not a private key, or its passphrase is wrong.") from None
    if not isinstance(key, PrivateKey):
        raise InvalidInput("Only RSA, ECDSA, Ed25519 and Ed448 private keys are supported.")
    return key


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    try:
        if b"-----BEGIN" in data:
            csr = x509.load_pem_x509_csr(data)
        else:
            csr = x509.load_der_x509_csr(data)
    except ValueError:
        raise InvalidInput("The file is not a PEM or DER certificate signing request.") from None
    try:
        # cryptography parses lazily: an unknown key or signature algorithm shows here.
        public_key_of(csr)
        valid = csr.is_signature_valid
    except (UnsupportedAlgorithm, ValueError, TypeError):
        raise InvalidInput(
            "The CSR's key or signature algorithm is not supported (RSA or ECDSA keys)."
        ) from None
    if not valid:
        raise InvalidInput("The CSR's signature is not valid.")
    return csr


def public_keys_match(a: PublicKey, b: PublicKey) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return a.public_bytes(*fmt) == b.public_bytes(*fmt)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
