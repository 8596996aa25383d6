"""Certificate profiles: the bounds and defaults every entry point applies.

One place for each of these rules, used by the GUI forms, the CLI, the Django
admin and every enrollment protocol (through :mod:`certauth.enrollment`):

- the validity bounds of CAs, certificates and enrollments;
- the key-strength policy for certified keys and the key types a CA may have;
- the default key usages per key type (an EC key never gets keyEncipherment);
- the syntax of an enrollment ID and the rule for enrollment passwords;
- the revocation reasons a client may ask for.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from certauth.x509 import InvalidInput

# --- Validity -----------------------------------------------------------------------

MIN_VALIDITY_DAYS = 1
#: A hundred years: longer than any device, short of GeneralizedTime trouble.
MAX_VALIDITY_DAYS = 36500
DEFAULT_CA_DAYS = 3650
DEFAULT_CERTIFICATE_DAYS = 365


def check_validity_days(
    days: int, what: str = "Certificate validity", *, field: str | None = None
) -> int:
    """*days* within the bounds, else InvalidInput naming *what*."""
    if not MIN_VALIDITY_DAYS <= days <= MAX_VALIDITY_DAYS:
        raise InvalidInput(
            f"{what} must be between {MIN_VALIDITY_DAYS} and {MAX_VALIDITY_DAYS} days.",
            field=field,
        )
    return days


# --- Keys ---------------------------------------------------------------------------

#: RFC 9481, 3 and NIST SP 800-131A: RSA keys of at least 2048 bits.
MIN_RSA_BITS = 2048
#: Larger keys only cost the CA time to verify their proof of possession.
MAX_RSA_BITS = 8192
#: RFC 9481, 3.2: ECDSA on P-256, P-384 and P-521.
ACCEPTED_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
#: RFC 9481, 3.3: EdDSA, Ed25519 and Ed448 (RFC 8410); FortiAuthenticator has neither.
ACCEPTED_EDDSA = frozenset({"ed25519", "ed448"})


def check_public_key(key: object) -> None:
    """Refuse a key this CA will not certify (weak, oversized or of an unknown type)."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidInput(
                f"RSA key of {key.key_size} bits is too short (minimum {MIN_RSA_BITS})."
            )
        if key.key_size > MAX_RSA_BITS:
            raise InvalidInput(
                f"RSA key of {key.key_size} bits is too long (maximum {MAX_RSA_BITS})."
            )
        return
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ACCEPTED_CURVES:
            raise InvalidInput(f"Elliptic curve {key.curve.name} is not accepted.")
        return
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return
    raise InvalidInput("Only RSA, ECDSA, Ed25519 and Ed448 public keys are accepted.")


def key_type(key: object) -> str:
    """ "rsa", "ec", "ed25519" or "ed448" (the keys check_public_key accepts)."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "rsa"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return "ec"
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, ed448.Ed448PublicKey | ed448.Ed448PrivateKey):
        return "ed448"
    raise InvalidInput("Only RSA, ECDSA, Ed25519 and Ed448 keys are supported.")


# --- Key usages ----------------------------------------------------------------------

#: What an end-entity certificate gets when nothing else is configured.
DEFAULT_KEY_USAGE: dict[str, tuple[str, ...]] = {
    "rsa": ("digitalSignature", "keyEncipherment"),
    # RFC 8813, 3: an id-ecPublicKey certificate never asserts keyEncipherment
    # or dataEncipherment.
    "ec": ("digitalSignature",),
    # RFC 8410, 5: an Ed25519 or Ed448 key signs, nothing else of the end-entity usages.
    "ed25519": ("digitalSignature",),
    "ed448": ("digitalSignature",),
}
#: The key usages an EC key cannot have (RFC 8813, 3).
EC_FORBIDDEN_KEY_USAGE = frozenset({"keyEncipherment", "dataEncipherment"})
#: The key usages an EdDSA key cannot have (RFC 8410, 5: digitalSignature,
#: nonRepudiation, keyCertSign and cRLSign only).
EDDSA_FORBIDDEN_KEY_USAGE = frozenset(
    {"keyEncipherment", "dataEncipherment", "keyAgreement", "encipherOnly", "decipherOnly"}
)
#: The key usages a key type cannot have.
FORBIDDEN_KEY_USAGE: dict[str, frozenset[str]] = {
    "rsa": frozenset(),
    "ec": EC_FORBIDDEN_KEY_USAGE,
    "ed25519": EDDSA_FORBIDDEN_KEY_USAGE,
    "ed448": EDDSA_FORBIDDEN_KEY_USAGE,
}
#: The initial selection in forms and the CLI (an enrollment does not know its key type).
DEFAULT_ENROLLMENT_KEY_USAGE: tuple[str, ...] = DEFAULT_KEY_USAGE["rsa"]


def key_usage_for(public_key: object, configured: Sequence[str] | None) -> list[str]:
    """The key usages a certificate for *public_key* gets from a profile's *configured* list.

    An empty or missing list means the default of the key type; an EC key
    loses the usages RFC 8813, 3 forbids it, an EdDSA key those of RFC 8410, 5.
    """
    kind = key_type(public_key)
    usages = list(configured) if configured else list(DEFAULT_KEY_USAGE[kind])
    if kind != "rsa":
        usages = [name for name in usages if name not in FORBIDDEN_KEY_USAGE[kind]]
        if not usages:
            usages = list(DEFAULT_KEY_USAGE[kind])
    return usages


# --- Enrollments ---------------------------------------------------------------------

MAX_REFERENCE_LENGTH = 128
MAX_PASSWORD_LENGTH = 256


def check_reference(reference: str) -> str:
    """An enrollment ID (the CMP senderKID): 1-128 characters without spaces."""
    reference = reference.strip()
    if (
        not reference
        or len(reference) > MAX_REFERENCE_LENGTH
        or any(c.isspace() or not c.isprintable() for c in reference)
    ):
        raise InvalidInput(
            f"Invalid enrollment ID {reference!r}: 1-{MAX_REFERENCE_LENGTH} characters, no spaces.",
            field="reference",
        )
    return reference


def check_password(password: str) -> str:
    if not password:
        raise InvalidInput("The enrollment password must not be empty.", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"The enrollment password is longer than {MAX_PASSWORD_LENGTH} characters.",
            field="password",
        )
    return password


# --- Revocation -----------------------------------------------------------------------

#: RFC 5280, 5.3.1 reasons (certauth.models.Certificate.Reason values) that a
#: client may ask for in a revocation request; removeFromCRL and
#: privilegeWithdrawn / aACompromise are not among them.
REQUESTABLE_REASONS = frozenset(
    {
        "unspecified",
        "keyCompromise",
        "cACompromise",
        "affiliationChanged",
        "superseded",
        "cessationOfOperation",
        "certificateHold",
    }
)
