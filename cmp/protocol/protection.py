"""Message protection: password-based MAC, PBMAC1 and signatures.

* PasswordBasedMac (RFC 9810, 5.1.3.1; RFC 9481, 6.1.1): OID
  1.2.840.113533.7.66.13 with PBMParameter {salt, owf, iterationCount, mac}.
  The base key is ``owf(password || salt)`` and owf is applied again until it
  has been applied ``iterationCount`` times in total; the MAC is
  ``mac(key, DER(ProtectedPart))``.  owf: SHA-1/SHA-224/256/384/512; mac:
  HMAC-SHA1 or HMAC-SHA2.  iterationCount is accepted only in 100..100000, the
  range OpenSSL's CRMF code accepts, so a client cannot make us spin.
* PBMAC1 (RFC 9481, 4.1.2; RFC 8018, 7.1): PBKDF2 with an HMAC-SHA2 PRF, then
  HMAC-SHA2 over DER(ProtectedPart).
* Signatures (RFC 9481, 3): RSA PKCS#1 v1.5 and ECDSA with SHA-256/384/512, for
  signature-protected messages and for signature proof-of-possession.

Anything outside these allow-lists is ``badAlg``.  MACs are compared with
:func:`hmac.compare_digest`.  A response is protected the same way as its
request, with the same password and parameters but a fresh salt
(:class:`MacProtector`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from . import asn1
from .asn1 import OID
from .errors import BadAlg, BadMessageCheck, shown
from .structures import AlgorithmId

#: One-way functions and the hashes behind HMAC / signature algorithms.
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    OID.sha1: hashes.SHA1,
    OID.sha224: hashes.SHA224,
    OID.sha256: hashes.SHA256,
    OID.sha384: hashes.SHA384,
    OID.sha512: hashes.SHA512,
}
#: PasswordBasedMac mac algorithms, RFC 9481, 6.1.
PBM_MACS: dict[str, str] = {
    OID.hmac_sha1: "sha1",
    OID.hmac_with_sha1: "sha1",
    OID.hmac_with_sha224: "sha224",
    OID.hmac_with_sha256: "sha256",
    OID.hmac_with_sha384: "sha384",
    OID.hmac_with_sha512: "sha512",
}
#: PBKDF2 PRFs and PBMAC1 MACs: HMAC-SHA2 only, RFC 9481, 4.1.2 and 6.1.
HMAC_SHA2: dict[str, str] = {
    OID.hmac_with_sha224: "sha224",
    OID.hmac_with_sha256: "sha256",
    OID.hmac_with_sha384: "sha384",
    OID.hmac_with_sha512: "sha512",
}
_OWF_NAMES = {
    OID.sha1: "sha1",
    OID.sha224: "sha224",
    OID.sha256: "sha256",
    OID.sha384: "sha384",
    OID.sha512: "sha512",
}
#: Signature algorithms: OID -> (key type, hash), RFC 9481, 3.1 / 3.2.
SIGNATURES: dict[str, tuple[type, type[hashes.HashAlgorithm]]] = {
    OID.sha256_with_rsa: (rsa.RSAPublicKey, hashes.SHA256),
    OID.sha384_with_rsa: (rsa.RSAPublicKey, hashes.SHA384),
    OID.sha512_with_rsa: (rsa.RSAPublicKey, hashes.SHA512),
    OID.ecdsa_with_sha256: (ec.EllipticCurvePublicKey, hashes.SHA256),
    OID.ecdsa_with_sha384: (ec.EllipticCurvePublicKey, hashes.SHA384),
    OID.ecdsa_with_sha512: (ec.EllipticCurvePublicKey, hashes.SHA512),
}

MIN_ITERATIONS = 100
MAX_ITERATIONS = 100_000
MIN_SALT = 8  # RFC 8018, 4.1: at least eight octets
MAX_SALT = 128
MIN_KEY_LENGTH = 16
MAX_KEY_LENGTH = 64

MAC_ALGORITHMS = frozenset({OID.password_based_mac, OID.pbmac1})

#: The longest RSA key a signature is verified with.  The cost of a verification
#: grows with the square of the modulus: about 0.3 ms at 8192 bits here, four
#: times that at OpenSSL's limit of 16384, spent before the signer is trusted.
MAX_RSA_BITS = 8192


def is_mac(algorithm: AlgorithmId | None) -> bool:
    return algorithm is not None and algorithm.oid in MAC_ALGORITHMS


def is_signature(algorithm: AlgorithmId | None) -> bool:
    return algorithm is not None and algorithm.oid in SIGNATURES


def hash_for_oid(oid: str) -> hashes.HashAlgorithm:
    """The hash for a digest OID (certConf hashAlg); badAlg if not allowed."""
    try:
        return HASHES[oid]()
    except KeyError:
        raise BadAlg(f"Hash algorithm {oid} is not supported.") from None


# --------------------------------------------------------------------------- MAC


def _check_iterations(count: int) -> None:
    if not MIN_ITERATIONS <= count <= MAX_ITERATIONS:
        raise BadAlg(
            f"Iteration count {shown(count)} is outside {MIN_ITERATIONS}..{MAX_ITERATIONS}."
        )


def _check_salt(salt: bytes) -> None:
    if not MIN_SALT <= len(salt) <= MAX_SALT:
        raise BadAlg(f"Salt length {len(salt)} is outside {MIN_SALT}..{MAX_SALT}.")


@dataclass(frozen=True)
class PBMParameters:
    """PBMParameter, RFC 9810, 5.1.3.1."""

    salt: bytes
    owf: str
    iteration_count: int
    mac: str

    @classmethod
    def from_algorithm(cls, algorithm: AlgorithmId) -> PBMParameters:
        if algorithm.parameters is None:
            raise BadAlg("PasswordBasedMac without parameters.")
        params = cls(*asn1.decode_pbm_parameter(algorithm.parameters))
        if params.owf not in _OWF_NAMES:
            raise BadAlg(f"PBM one-way function {params.owf} is not supported.")
        if params.mac not in PBM_MACS:
            raise BadAlg(f"PBM MAC algorithm {params.mac} is not supported.")
        _check_iterations(params.iteration_count)
        _check_salt(params.salt)
        return params

    def algorithm(self) -> AlgorithmId:
        return AlgorithmId(
            OID.password_based_mac,
            asn1.encode_pbm_parameter(self.salt, self.owf, self.iteration_count, self.mac),
        )

    def mac_value(self, secret: bytes, data: bytes) -> bytes:
        owf = getattr(hashlib, _OWF_NAMES[self.owf])  # the constructor: faster than new()
        key = owf(secret + self.salt).digest()
        for _ in range(self.iteration_count - 1):
            key = owf(key).digest()
        return hmac.new(key, data, PBM_MACS[self.mac]).digest()


@dataclass(frozen=True)
class PBMAC1Parameters:
    """PBMAC1-params with PBKDF2-params, RFC 8018, A.2 and A.5."""

    salt: bytes
    iteration_count: int
    key_length: int
    prf: str
    mac: str

    @classmethod
    def from_algorithm(cls, algorithm: AlgorithmId) -> PBMAC1Parameters:
        if algorithm.parameters is None:
            raise BadAlg("PBMAC1 without parameters.")
        salt, count, key_length, prf, mac = asn1.decode_pbmac1_parameter(algorithm.parameters)
        if prf not in HMAC_SHA2:
            raise BadAlg(f"PBKDF2 PRF {prf} is not supported.")
        if mac not in HMAC_SHA2:
            raise BadAlg(f"PBMAC1 MAC algorithm {mac} is not supported.")
        if key_length is None:
            # RFC 9481, 4.1.2 asks for keyLength; default to the MAC's output size.
            key_length = hashlib.new(HMAC_SHA2[mac]).digest_size
        if not MIN_KEY_LENGTH <= key_length <= MAX_KEY_LENGTH:
            raise BadAlg(f"PBKDF2 key length {shown(key_length)} is not supported.")
        _check_iterations(count)
        _check_salt(salt)
        return cls(salt, count, key_length, prf, mac)

    def algorithm(self) -> AlgorithmId:
        return AlgorithmId(
            OID.pbmac1,
            asn1.encode_pbmac1_parameter(
                self.salt, self.iteration_count, self.key_length, self.prf, self.mac
            ),
        )

    def mac_value(self, secret: bytes, data: bytes) -> bytes:
        key = hashlib.pbkdf2_hmac(
            HMAC_SHA2[self.prf], secret, self.salt, self.iteration_count, self.key_length
        )
        return hmac.new(key, data, HMAC_SHA2[self.mac]).digest()


@functools.lru_cache(maxsize=64)
def mac_parameters(algorithm: AlgorithmId) -> PBMParameters | PBMAC1Parameters:
    """Parse and allow-list the parameters of a MAC protection algorithm.

    Cached: a request's AlgorithmIdentifier is read three times (for the
    protector, the verification and the trace), before its MAC is checked.
    """
    if algorithm.oid == OID.password_based_mac:
        return PBMParameters.from_algorithm(algorithm)
    if algorithm.oid == OID.pbmac1:
        return PBMAC1Parameters.from_algorithm(algorithm)
    raise BadAlg(f"Protection algorithm {algorithm.oid} is not supported.")


def describe(algorithm: AlgorithmId) -> str:
    """A MAC algorithm and its parameters, for the trace (no secret in it)."""
    params = mac_parameters(algorithm)
    if isinstance(params, PBMParameters):
        return (
            f"PasswordBasedMac (owf {_OWF_NAMES[params.owf]}, "
            f"{params.iteration_count} iterations, mac hmac-{PBM_MACS[params.mac]})"
        )
    return (
        f"PBMAC1 (PBKDF2 hmac-{HMAC_SHA2[params.prf]}, "
        f"{params.iteration_count} iterations, mac hmac-{HMAC_SHA2[params.mac]})"
    )


def compute_mac(algorithm: AlgorithmId, secret: bytes, data: bytes) -> bytes:
    return mac_parameters(algorithm).mac_value(secret, data)


def verify_mac(algorithm: AlgorithmId, secret: bytes, data: bytes, protection: bytes) -> None:
    """Raise BadMessageCheck unless ``protection`` is the MAC of ``data``."""
    expected = compute_mac(algorithm, secret, data)
    if not hmac.compare_digest(expected, protection):
        raise BadMessageCheck("Message protection (MAC) does not verify.")


# --------------------------------------------------------------------------- signatures


def verify_signature(
    public_key: object, algorithm: AlgorithmId, signature: bytes, data: bytes
) -> bool:
    """True if ``signature`` by ``public_key`` over ``data`` verifies.

    Raises BadAlg for algorithms outside the allow-list or not matching the key.
    """
    try:
        key_type, hash_type = SIGNATURES[algorithm.oid]
    except KeyError:
        raise BadAlg(f"Signature algorithm {algorithm.oid} is not supported.") from None
    if not isinstance(public_key, key_type):
        raise BadAlg(f"Signature algorithm {algorithm.oid} does not match the key type.")
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size > MAX_RSA_BITS:
        raise BadAlg(f"RSA keys longer than {MAX_RSA_BITS} bits are not verified.")
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), hash_type())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hash_type()))
    except InvalidSignature:
        return False
    return True


def verify_signature_protection(
    algorithm: AlgorithmId, certificate: x509.Certificate, data: bytes, protection: bytes
) -> None:
    """Raise BadMessageCheck unless the message is signed by ``certificate``'s key."""
    if not verify_signature(certificate.public_key(), algorithm, protection, data):
        raise BadMessageCheck("Message protection (signature) does not verify.")


def _signature_oid(private_key: object, hash_name: str) -> str:
    if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise BadAlg("Only RSA and ECDSA keys can sign CMP messages.")
    return _signature_oid_for(private_key.public_key(), hash_name)


def _signature_oid_for(public_key: object, hash_name: str) -> str:
    table = {
        (True, "sha256"): OID.sha256_with_rsa,
        (True, "sha384"): OID.sha384_with_rsa,
        (True, "sha512"): OID.sha512_with_rsa,
        (False, "sha256"): OID.ecdsa_with_sha256,
        (False, "sha384"): OID.ecdsa_with_sha384,
        (False, "sha512"): OID.ecdsa_with_sha512,
    }
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise BadAlg("Only RSA and ECDSA keys can sign CMP messages.")
    try:
        return table[(isinstance(public_key, rsa.RSAPublicKey), hash_name)]
    except KeyError:
        raise BadAlg(f"Hash {hash_name} is not supported for signatures.") from None


# --------------------------------------------------------------------------- protectors


class Protector(Protocol):
    """Protects an outgoing message.

    ``new_algorithm`` is called once per message (a MAC protector draws a fresh
    salt there); ``protect`` computes the protection of DER(ProtectedPart) for
    that algorithm.  ``sender_kid``, when not None, overrides the header's.
    """

    @property
    def sender_kid(self) -> bytes | None: ...

    def new_algorithm(self) -> AlgorithmId: ...

    def protect(self, algorithm: AlgorithmId, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class MacProtector:
    """Protects with the request's MAC algorithm, same secret, fresh salt.

    RFC 9483, 3.2 / RFC 9810, 5.1.3.1: the response is MAC-protected with the
    same shared secret; parameters other than the salt are kept.
    """

    secret: bytes = field(repr=False)
    parameters: PBMParameters | PBMAC1Parameters
    sender_kid: bytes | None = None

    @classmethod
    def like(
        cls, algorithm: AlgorithmId, secret: bytes, sender_kid: bytes | None = None
    ) -> MacProtector:
        return cls(secret=secret, parameters=mac_parameters(algorithm), sender_kid=sender_kid)

    def new_algorithm(self) -> AlgorithmId:
        salt = os.urandom(max(16, len(self.parameters.salt)))
        return type(self.parameters)(
            salt, *[getattr(self.parameters, f) for f in self._fields()]
        ).algorithm()

    def _fields(self) -> tuple[str, ...]:
        if isinstance(self.parameters, PBMParameters):
            return ("owf", "iteration_count", "mac")
        return ("iteration_count", "key_length", "prf", "mac")

    def protect(self, algorithm: AlgorithmId, data: bytes) -> bytes:
        return compute_mac(algorithm, self.secret, data)


@dataclass(frozen=True)
class SignatureProtector:
    """Signs with a CA or RA key; senderKID is the certificate's key identifier.

    RFC 9483, 3.1: for signature protection senderKID is the
    SubjectKeyIdentifier of the protecting certificate, if it has one.
    ``sign_with(data, hash)`` makes the signature, so the private key can stay
    in a keystore or an HSM; :meth:`with_key` wraps a key object held here.
    """

    certificate: x509.Certificate
    sign_with: Callable[[bytes, hashes.HashAlgorithm], bytes] = field(repr=False)
    hash_name: str = "sha256"
    #: extraCerts of the signed message: the protecting certificate first, then
    #: its issuers (RFC 9483, 3.3).  Empty: the certificate alone is sent.
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def extra_certs(self) -> tuple[x509.Certificate, ...]:
        return self.chain or (self.certificate,)

    @classmethod
    def with_key(
        cls,
        private_key: object,
        certificate: x509.Certificate,
        hash_name: str = "sha256",
        chain: tuple[x509.Certificate, ...] = (),
    ) -> SignatureProtector:
        def sign_with(data: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
            if isinstance(private_key, rsa.RSAPrivateKey):
                return private_key.sign(data, padding.PKCS1v15(), algorithm)
            if isinstance(private_key, ec.EllipticCurvePrivateKey):
                return private_key.sign(data, ec.ECDSA(algorithm))
            raise BadAlg("Only RSA and ECDSA keys can sign CMP messages.")

        _signature_oid(private_key, hash_name)  # refuse unsupported keys and hashes now
        return cls(certificate, sign_with, hash_name, chain)

    @property
    def sender_kid(self) -> bytes | None:
        try:
            ext = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except x509.ExtensionNotFound:
            return None
        return ext.value.digest

    def new_algorithm(self) -> AlgorithmId:
        oid = _signature_oid_for(self.certificate.public_key(), self.hash_name)
        # RFC 4055, 5: sha*WithRSAEncryption parameters are NULL; RFC 5758, 3.2:
        # ecdsa-with-SHA* parameters are absent.
        return AlgorithmId(oid, b"\x05\x00" if oid in _RSA_SIGNATURES else None)

    def protect(self, algorithm: AlgorithmId, data: bytes) -> bytes:
        _key_type, hash_type = SIGNATURES[algorithm.oid]
        return self.sign_with(data, hash_type())


_RSA_SIGNATURES = frozenset({OID.sha256_with_rsa, OID.sha384_with_rsa, OID.sha512_with_rsa})
