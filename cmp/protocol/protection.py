"""Message protection: password-based MAC, PBMAC1 and signatures.

* PasswordBasedMac (RFC 9810, 5.1.3.1; RFC 9481, 6.1.1): OID
  1.2.840.113533.7.66.13 with PBMParameter {salt, owf, iterationCount, mac}.
  The base key is ``owf(password || salt)`` and owf is applied again until it
  has been applied ``iterationCount`` times in total; the MAC is
  ``mac(key, DER(ProtectedPart))``.  owf: SHA-1/SHA-224/256/384/512; mac:
  HMAC-SHA1 or HMAC-SHA2.  iterationCount is accepted only in 100..100000, the
  range OpenSSL's CRMF code accepts, so a client cannot make us spin.  SHA-1
  (OpenSSL's and FortiGate's default MAC) is not an RFC 9481 algorithm: with
  ``rfc9481_only`` it is refused.
* PBMAC1 (RFC 9481, 6.1.2; RFC 8018, 7.1): PBKDF2 with an HMAC-SHA2 PRF, then
  HMAC-SHA2 over DER(ProtectedPart); iterationCount 100..1,000,000, computed by
  :func:`hashlib.pbkdf2_hmac` (common clients use 262,144 and more).
* Signatures (RFC 9481, 3): RSASSA-PKCS1-v1_5 and ECDSA with SHA-224/256/384/512,
  RSASSA-PSS with SHA-224/256/384/512 and MGF1 with the same hash (RFC 4056),
  ECDSA with SHAKE128/256 (RFC 8702), Ed25519 and Ed448 (RFC 8419), for
  signature-protected messages and for signature proof-of-possession.
  RSASSA-PSS with SHAKE (RFC 8702, 3.2.1) needs SHAKE as its mask generation
  function, which ``cryptography`` does not offer: refused with ``badAlg``.

Anything outside these allow-lists is ``badAlg``.  MACs are compared with
:func:`hmac.compare_digest`.  A response is protected the same way as its
request, with the same password and parameters, salt included
(:class:`MacProtector`), or signed by the CA, with RSASSA-PSS when the request
was (:meth:`SignatureProtector.answering`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, utils

from . import asn1
from .asn1 import OID
from .errors import BadAlg, BadMessageCheck, shown
from .structures import AlgorithmId

#: One-way functions and the hashes behind HMAC / signature algorithms; the
#: SHAKEs with the output lengths of RFC 9481, 2.2 (certConf hashAlg).
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    OID.sha1: hashes.SHA1,
    OID.sha224: hashes.SHA224,
    OID.sha256: hashes.SHA256,
    OID.sha384: hashes.SHA384,
    OID.sha512: hashes.SHA512,
    OID.shake128: lambda: hashes.SHAKE128(32),
    OID.shake256: lambda: hashes.SHAKE256(64),
}
#: PasswordBasedMac mac algorithms, RFC 9481, 6.1.1 (HMAC-SHA1 of RFC 4210 too).
PBM_MACS: dict[str, str] = {
    OID.hmac_sha1: "sha1",
    OID.hmac_with_sha1: "sha1",
    OID.hmac_with_sha224: "sha224",
    OID.hmac_with_sha256: "sha256",
    OID.hmac_with_sha384: "sha384",
    OID.hmac_with_sha512: "sha512",
}
#: PBKDF2 PRFs and PBMAC1 MACs: HMAC-SHA2 only, RFC 9481, 6.1.2 and 6.2.1.
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
#: The hash constructors the PBM key derivation iterates: hashlib's (OpenSSL), except
#: for SHA-256, whose builtin implementation (HACL*, module _sha256 or _sha2) makes
#: a 32-byte digest about 17% faster: no EVP context per call. The same bytes.
_OWF_ITERATE: dict[str, Callable[[bytes], Any]] = {
    oid: getattr(hashlib, name) for oid, name in _OWF_NAMES.items()
}
for _module in ("_sha2", "_sha256"):  # Python 3.12 and later, 3.11
    try:
        _OWF_ITERATE[OID.sha256] = importlib.import_module(_module).sha256
        break
    except (ImportError, AttributeError):  # a build without them: hashlib's
        continue
#: What RFC 9481 (2.1, 6.1.1, 6.2.1) leaves out of the PBM algorithms: SHA-1.
_NOT_RFC9481 = frozenset({OID.sha1, OID.hmac_sha1, OID.hmac_with_sha1})

#: The key type behind each name of :class:`SignatureScheme`.
_KEY_TYPES: dict[str, type] = {
    "rsa": rsa.RSAPublicKey,
    "ec": ec.EllipticCurvePublicKey,
    "ed25519": ed25519.Ed25519PublicKey,
    "ed448": ed448.Ed448PublicKey,
}
_PRIVATE_KEY_TYPES: dict[str, type] = {
    "rsa": rsa.RSAPrivateKey,
    "ec": ec.EllipticCurvePrivateKey,
    "ed25519": ed25519.Ed25519PrivateKey,
    "ed448": ed448.Ed448PrivateKey,
}
#: The keys that can sign a CMP message or a POP (RFC 9481, 3).
SigningPublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)


@dataclass(frozen=True)
class SignatureScheme:
    """How a signature algorithm signs and verifies.

    ``key`` names the key type ("rsa", "ec", "ed25519", "ed448"); ``hash`` the
    digest (None for EdDSA, which hashes itself); ``pss`` an RSASSA-PSS
    signature with MGF1 of the same hash and a salt of ``salt_length`` bytes;
    ``prehash`` an ECDSA signature over a SHAKE digest (RFC 8702, 3.2.2).
    """

    name: str
    key: str
    hash: Callable[[], hashes.HashAlgorithm] | None
    pss: bool = False
    salt_length: int = 0
    prehash: bool = False


#: Signature algorithms without parameters to read: OID -> scheme, RFC 9481, 3.
SIGNATURES: dict[str, SignatureScheme] = {
    OID.sha224_with_rsa: SignatureScheme("sha224WithRSAEncryption", "rsa", hashes.SHA224),
    OID.sha256_with_rsa: SignatureScheme("sha256WithRSAEncryption", "rsa", hashes.SHA256),
    OID.sha384_with_rsa: SignatureScheme("sha384WithRSAEncryption", "rsa", hashes.SHA384),
    OID.sha512_with_rsa: SignatureScheme("sha512WithRSAEncryption", "rsa", hashes.SHA512),
    OID.ecdsa_with_sha224: SignatureScheme("ecdsa-with-SHA224", "ec", hashes.SHA224),
    OID.ecdsa_with_sha256: SignatureScheme("ecdsa-with-SHA256", "ec", hashes.SHA256),
    OID.ecdsa_with_sha384: SignatureScheme("ecdsa-with-SHA384", "ec", hashes.SHA384),
    OID.ecdsa_with_sha512: SignatureScheme("ecdsa-with-SHA512", "ec", hashes.SHA512),
    # RFC 8702, 3.2.2: ECDSA over SHAKE128 (256 bits) and SHAKE256 (512 bits).
    OID.ecdsa_with_shake128: SignatureScheme(
        "id-ecdsa-with-shake128", "ec", lambda: hashes.SHAKE128(32), prehash=True
    ),
    OID.ecdsa_with_shake256: SignatureScheme(
        "id-ecdsa-with-shake256", "ec", lambda: hashes.SHAKE256(64), prehash=True
    ),
    # RFC 9481, 3.3 / RFC 8410, 3: EdDSA, no parameters, no separate hash.
    OID.ed25519: SignatureScheme("Ed25519", "ed25519", None),
    OID.ed448: SignatureScheme("Ed448", "ed448", None),
}
#: RSASSA-PSS hash algorithms, RFC 9481, 3.1 (RFC 4056).
PSS_HASHES: dict[str, tuple[str, Callable[[], hashes.HashAlgorithm]]] = {
    OID.sha224: ("sha224", hashes.SHA224),
    OID.sha256: ("sha256", hashes.SHA256),
    OID.sha384: ("sha384", hashes.SHA384),
    OID.sha512: ("sha512", hashes.SHA512),
}
_PSS_HASH_OIDS = {name: oid for oid, (name, _hash) in PSS_HASHES.items()}
#: Recognised as signatures, refused as badAlg (cryptography has no SHAKE MGF).
_UNSUPPORTED_SIGNATURES = {
    OID.rsassa_pss_shake128: "RSASSA-PSS with SHAKE128",
    OID.rsassa_pss_shake256: "RSASSA-PSS with SHAKE256",
}

PBM_MIN_ITERATIONS = 100
PBM_MAX_ITERATIONS = 100_000
PBMAC1_MIN_ITERATIONS = 100
#: RFC 9481, 6.1.2 refers to RFC 8018, which sets no maximum; NIST SP 800-132
#: asks for counts as large as feasible.  Bounded all the same: the count is
#: read before the sender is authenticated (about 0.25 s of CPU at this count).
PBMAC1_MAX_ITERATIONS = 1_000_000
#: The PBM range kept under its old names.
MIN_ITERATIONS = PBM_MIN_ITERATIONS
MAX_ITERATIONS = PBM_MAX_ITERATIONS
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
    return algorithm is not None and (
        algorithm.oid in SIGNATURES
        or algorithm.oid == OID.rsassa_pss
        or algorithm.oid in _UNSUPPORTED_SIGNATURES
    )


def is_pss(algorithm: AlgorithmId | None) -> bool:
    return algorithm is not None and algorithm.oid == OID.rsassa_pss


def hash_for_oid(oid: str, *, rfc9481_only: bool = False) -> hashes.HashAlgorithm:
    """The hash for a digest OID (certConf hashAlg); badAlg if not allowed."""
    if rfc9481_only and oid in _NOT_RFC9481:
        raise BadAlg(f"Hash algorithm {oid} (SHA-1) is not an RFC 9481 algorithm.")
    try:
        return HASHES[oid]()
    except KeyError:
        raise BadAlg(f"Hash algorithm {oid} is not supported.") from None


def certificate_hash(certificate: x509.Certificate) -> hashes.HashAlgorithm:
    """The hash of a certConf certHash without hashAlg (RFC 9810, 5.3.18).

    The hash of the certificate's signature algorithm; for an EdDSA signature,
    which has none, SHA-512 (Ed25519) or SHAKE256 of 512 bits (Ed448), as RFC
    9481, 3.3 prescribes.
    """
    algorithm = certificate.signature_hash_algorithm
    if algorithm is not None:
        return algorithm
    oid = certificate.signature_algorithm_oid.dotted_string
    if oid == OID.ed25519:
        return hashes.SHA512()
    if oid == OID.ed448:
        return hashes.SHAKE256(64)
    raise BadAlg("The certificate's signature has no hash; send hashAlg.")


# --------------------------------------------------------------------------- MAC


def _check_iterations(count: int, low: int = PBM_MIN_ITERATIONS, high: int = PBM_MAX_ITERATIONS):
    if not low <= count <= high:
        raise BadAlg(f"Iteration count {shown(count)} is outside {low}..{high}.")


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
    def from_algorithm(cls, algorithm: AlgorithmId, *, rfc9481_only: bool = False) -> PBMParameters:
        if algorithm.parameters is None:
            raise BadAlg("PasswordBasedMac without parameters.")
        params = cls(*asn1.decode_pbm_parameter(algorithm.parameters))
        if params.owf not in _OWF_NAMES:
            raise BadAlg(f"PBM one-way function {params.owf} is not supported.")
        if params.mac not in PBM_MACS:
            raise BadAlg(f"PBM MAC algorithm {params.mac} is not supported.")
        if rfc9481_only:
            # RFC 9481, 6.1.1: owf from Section 2 (SHA-2), mac from 6.2 (HMAC-SHA2).
            for oid, what in ((params.owf, "one-way function"), (params.mac, "MAC algorithm")):
                if oid in _NOT_RFC9481:
                    raise BadAlg(
                        f"PBM {what} {oid} (SHA-1) is not an RFC 9481 algorithm; "
                        "this server accepts only RFC 9481 algorithms."
                    )
        # RFC 9810, 5.1.3.1 sets no bounds; these are OpenSSL's.
        _check_iterations(params.iteration_count)
        _check_salt(params.salt)
        return params

    def algorithm(self) -> AlgorithmId:
        return AlgorithmId(
            OID.password_based_mac,
            asn1.encode_pbm_parameter(self.salt, self.owf, self.iteration_count, self.mac),
        )

    def derive_key(self, secret: bytes) -> bytes:
        """The base key: the one-way function iterated over secret || salt."""
        owf = _OWF_ITERATE[self.owf]  # a constructor: faster than hashlib.new()
        key = owf(secret + self.salt).digest()
        for _ in range(self.iteration_count - 1):
            key = owf(key).digest()
        return key

    def mac_with_key(self, key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, PBM_MACS[self.mac]).digest()

    def mac_value(self, secret: bytes, data: bytes) -> bytes:
        return self.mac_with_key(self.derive_key(secret), data)


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
            # RFC 9481, 6.1.2 asks for keyLength; default to the MAC's output size.
            key_length = hashlib.new(HMAC_SHA2[mac]).digest_size
        if not MIN_KEY_LENGTH <= key_length <= MAX_KEY_LENGTH:
            raise BadAlg(f"PBKDF2 key length {shown(key_length)} is not supported.")
        _check_iterations(count, PBMAC1_MIN_ITERATIONS, PBMAC1_MAX_ITERATIONS)
        _check_salt(salt)
        return cls(salt, count, key_length, prf, mac)

    def algorithm(self) -> AlgorithmId:
        return AlgorithmId(
            OID.pbmac1,
            asn1.encode_pbmac1_parameter(
                self.salt, self.iteration_count, self.key_length, self.prf, self.mac
            ),
        )

    def derive_key(self, secret: bytes) -> bytes:
        return hashlib.pbkdf2_hmac(
            HMAC_SHA2[self.prf], secret, self.salt, self.iteration_count, self.key_length
        )

    def mac_with_key(self, key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, HMAC_SHA2[self.mac]).digest()

    def mac_value(self, secret: bytes, data: bytes) -> bytes:
        return self.mac_with_key(self.derive_key(secret), data)


@functools.lru_cache(maxsize=64)
def mac_parameters(
    algorithm: AlgorithmId, *, rfc9481_only: bool = False
) -> PBMParameters | PBMAC1Parameters:
    """Parse and allow-list the parameters of a MAC protection algorithm.

    Cached: a request's AlgorithmIdentifier is read three times (for the
    protector, the verification and the trace), before its MAC is checked.
    """
    if algorithm.oid == OID.password_based_mac:
        return PBMParameters.from_algorithm(algorithm, rfc9481_only=rfc9481_only)
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
    _check_mac(compute_mac(algorithm, secret, data), protection)


def _check_mac(expected: bytes, protection: bytes) -> None:
    if not hmac.compare_digest(expected, protection):
        raise BadMessageCheck("Message protection (MAC) does not verify.")


# --------------------------------------------------------------------------- signatures


@functools.lru_cache(maxsize=64)
def signature_scheme(algorithm: AlgorithmId) -> SignatureScheme:
    """The allow-listed scheme of a signature AlgorithmIdentifier; badAlg otherwise.

    RFC 9481, 3.1 / RFC 4056, 3: id-RSASSA-PSS carries RSASSA-PSS-params; the
    hash is SHA-224..512, MGF1 uses the same hash, trailerField is 1.
    """
    scheme = SIGNATURES.get(algorithm.oid)
    if scheme is not None:
        return scheme
    if algorithm.oid in _UNSUPPORTED_SIGNATURES:
        raise BadAlg(f"{_UNSUPPORTED_SIGNATURES[algorithm.oid]} is not supported.")
    if algorithm.oid != OID.rsassa_pss:
        raise BadAlg(f"Signature algorithm {algorithm.oid} is not supported.")
    if algorithm.parameters is None:
        raise BadAlg("RSASSA-PSS without parameters.")
    hash_oid, mgf, mgf_hash, salt_length, trailer = asn1.decode_rsassa_pss_params(
        algorithm.parameters
    )
    if hash_oid not in PSS_HASHES:
        raise BadAlg(f"RSASSA-PSS hash {hash_oid} is not supported.")
    if mgf != OID.mgf1 or mgf_hash != hash_oid:
        # RFC 4056, 3: MGF1 with the same hash as the signature's.
        raise BadAlg("RSASSA-PSS must use MGF1 with its own hash algorithm.")
    if trailer != 1 or not 0 <= salt_length <= 512:
        raise BadAlg("RSASSA-PSS parameters are not supported.")
    name, hash_type = PSS_HASHES[hash_oid]
    return SignatureScheme(f"RSASSA-PSS with {name}", "rsa", hash_type, True, salt_length)


def verify_signature(
    public_key: object, algorithm: AlgorithmId, signature: bytes, data: bytes
) -> bool:
    """True if ``signature`` by ``public_key`` over ``data`` verifies.

    Raises BadAlg for algorithms outside the allow-list or not matching the key.
    """
    scheme = signature_scheme(algorithm)
    if not isinstance(public_key, _KEY_TYPES[scheme.key]):
        raise BadAlg(f"Signature algorithm {algorithm.oid} does not match the key type.")
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size > MAX_RSA_BITS:
        raise BadAlg(f"RSA keys longer than {MAX_RSA_BITS} bits are not verified.")
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            assert scheme.hash is not None  # noqa: S101 - every RSA scheme has a hash
            public_key.verify(signature, data, _rsa_padding(scheme), scheme.hash())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, *_ecdsa(scheme, data))
        elif isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _rsa_padding(scheme: SignatureScheme) -> padding.AsymmetricPadding:
    if scheme.pss:
        assert scheme.hash is not None  # noqa: S101
        return padding.PSS(padding.MGF1(scheme.hash()), scheme.salt_length)
    return padding.PKCS1v15()


def _ecdsa(scheme: SignatureScheme, data: bytes) -> tuple[bytes, ec.ECDSA]:
    """(what is signed, the ECDSA algorithm) for an ECDSA scheme."""
    assert scheme.hash is not None  # noqa: S101 - every ECDSA scheme has a hash
    if scheme.prehash:
        digest = hashes.Hash(scheme.hash())
        digest.update(data)
        return digest.finalize(), ec.ECDSA(utils.Prehashed(scheme.hash()))
    return data, ec.ECDSA(scheme.hash())


def verify_signature_protection(
    algorithm: AlgorithmId, certificate: x509.Certificate, data: bytes, protection: bytes
) -> None:
    """Raise BadMessageCheck unless the message is signed by ``certificate``'s key."""
    if not verify_signature(certificate.public_key(), algorithm, protection, data):
        raise BadMessageCheck("Message protection (signature) does not verify.")


def describe_signature(algorithm: AlgorithmId) -> str:
    """A signature algorithm for the trace."""
    return signature_scheme(algorithm).name


def _key_name(key: object) -> str:
    for name, key_type in (*_KEY_TYPES.items(), *_PRIVATE_KEY_TYPES.items()):
        if isinstance(key, key_type):
            return name
    raise BadAlg("Only RSA, ECDSA, Ed25519 and Ed448 keys can sign CMP messages.")


#: The signature OID for each (key type, hash) a response is signed with.
_PKCS1_OR_ECDSA = {
    ("rsa", "sha224"): OID.sha224_with_rsa,
    ("rsa", "sha256"): OID.sha256_with_rsa,
    ("rsa", "sha384"): OID.sha384_with_rsa,
    ("rsa", "sha512"): OID.sha512_with_rsa,
    ("ec", "sha224"): OID.ecdsa_with_sha224,
    ("ec", "sha256"): OID.ecdsa_with_sha256,
    ("ec", "sha384"): OID.ecdsa_with_sha384,
    ("ec", "sha512"): OID.ecdsa_with_sha512,
}


def signature_algorithm(public_key: object, hash_name: str, *, pss: bool = False) -> AlgorithmId:
    """The AlgorithmIdentifier a key of this type signs with (RFC 9481, 3).

    RFC 4055, 5: sha*WithRSAEncryption parameters are NULL; RFC 5758, 3.2:
    ecdsa-with-SHA* parameters are absent; RFC 8410, 3: EdDSA parameters are
    absent; RFC 4055, 3.1: RSASSA-PSS-params with MGF1 and a salt as long as
    the hash (RFC 9481, 3.1).
    """
    key = _key_name(public_key)
    if key in ("ed25519", "ed448"):
        return AlgorithmId(OID.ed25519 if key == "ed25519" else OID.ed448)
    if pss and key == "rsa":
        if hash_name not in _PSS_HASH_OIDS:
            raise BadAlg(f"Hash {hash_name} is not supported for RSASSA-PSS.")
        hash_oid = _PSS_HASH_OIDS[hash_name]
        salt_length = PSS_HASHES[hash_oid][1]().digest_size
        return AlgorithmId(OID.rsassa_pss, asn1.encode_rsassa_pss_params(hash_oid, salt_length))
    try:
        oid = _PKCS1_OR_ECDSA[(key, hash_name)]
    except KeyError:
        raise BadAlg(f"Hash {hash_name} is not supported for signatures.") from None
    return AlgorithmId(oid, b"\x05\x00" if key == "rsa" else None)


# --------------------------------------------------------------------------- protectors


class Protector(Protocol):
    """Protects an outgoing message.

    ``new_algorithm`` is called once per message (a MAC protector gives the
    request's algorithm again); ``protect`` computes the protection of DER(ProtectedPart) for
    that algorithm.  ``sender_kid``, when not None, overrides the header's.
    """

    @property
    def sender_kid(self) -> bytes | None: ...

    def new_algorithm(self) -> AlgorithmId: ...

    def protect(self, algorithm: AlgorithmId, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class MacProtector:
    """Protects with the request's MAC algorithm and parameters, same secret.

    RFC 9483, 3.2 / RFC 9810, 5.1.3.1: the response is MAC-protected with the
    same shared secret; RFC 9810, 5.1.3.1 recommends that the PBMParameter
    fields remain constant throughout the messages of a transaction, to reduce
    the cost of the key derivation. So the answer carries the request's
    parameters, salt included, and the key derived to verify the request
    (:meth:`verify`) protects the answer without a second derivation. The key
    lives as long as this protector: one request.
    """

    secret: bytes = field(repr=False)
    parameters: PBMParameters | PBMAC1Parameters
    sender_kid: bytes | None = None
    #: The request's AlgorithmIdentifier, given again to the answer.
    algorithm: AlgorithmId | None = None
    _keys: dict[PBMParameters | PBMAC1Parameters, bytes] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def like(
        cls,
        algorithm: AlgorithmId,
        secret: bytes,
        sender_kid: bytes | None = None,
        *,
        rfc9481_only: bool = False,
    ) -> MacProtector:
        return cls(
            secret=secret,
            parameters=mac_parameters(algorithm, rfc9481_only=rfc9481_only),
            sender_kid=sender_kid,
            algorithm=algorithm,
        )

    def new_algorithm(self) -> AlgorithmId:
        if self.algorithm is not None:
            return self.algorithm
        return self.parameters.algorithm()

    def _key(self, parameters: PBMParameters | PBMAC1Parameters) -> bytes:
        key = self._keys.get(parameters)
        if key is None:
            key = self._keys[parameters] = parameters.derive_key(self.secret)
        return key

    def verify(self, algorithm: AlgorithmId, data: bytes, protection: bytes) -> None:
        """Raise BadMessageCheck unless ``protection`` is the MAC of ``data`` (the
        request's; its derived key is kept for :meth:`protect`)."""
        _check_mac(self.protect(algorithm, data), protection)

    def protect(self, algorithm: AlgorithmId, data: bytes) -> bytes:
        parameters = mac_parameters(algorithm)
        return parameters.mac_with_key(self._key(parameters), data)


@dataclass(frozen=True)
class SignatureProtector:
    """Signs with a CA or RA key; senderKID is the certificate's key identifier.

    RFC 9483, 3.1: for signature protection senderKID is the
    SubjectKeyIdentifier of the protecting certificate, if it has one.
    ``sign_with(data, hash)`` makes an RSASSA-PKCS1-v1_5, ECDSA or (hash None)
    EdDSA signature, so the private key can stay in a keystore or an HSM;
    ``sign_pss_with(data, hash)``, when given, makes an RSASSA-PSS signature
    (MGF1 with the same hash, a salt as long as the hash).  :meth:`with_key`
    wraps a key object held here.
    """

    certificate: x509.Certificate
    sign_with: Callable[[bytes, hashes.HashAlgorithm | None], bytes] = field(repr=False)
    hash_name: str = "sha256"
    #: extraCerts of the signed message: the protecting certificate first, then
    #: its issuers (RFC 9483, 3.3).  Empty: the certificate alone is sent.
    chain: tuple[x509.Certificate, ...] = ()
    sign_pss_with: Callable[[bytes, hashes.HashAlgorithm], bytes] | None = field(
        default=None, repr=False
    )
    #: Sign with RSASSA-PSS (set by :meth:`answering`).
    pss: bool = False

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
        def sign_with(data: bytes, algorithm: hashes.HashAlgorithm | None) -> bytes:
            if isinstance(private_key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
                return private_key.sign(data)
            if algorithm is None:
                raise BadAlg("RSA and ECDSA signatures need a hash.")
            if isinstance(private_key, rsa.RSAPrivateKey):
                return private_key.sign(data, padding.PKCS1v15(), algorithm)
            if isinstance(private_key, ec.EllipticCurvePrivateKey):
                return private_key.sign(data, ec.ECDSA(algorithm))
            raise BadAlg("Only RSA, ECDSA, Ed25519 and Ed448 keys can sign CMP messages.")

        def sign_pss_with(data: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
            if not isinstance(private_key, rsa.RSAPrivateKey):
                raise BadAlg("Only an RSA key signs with RSASSA-PSS.")
            return private_key.sign(
                data, padding.PSS(padding.MGF1(algorithm), algorithm.digest_size), algorithm
            )

        # refuse unsupported keys and hashes now
        signature_algorithm(_public(private_key), hash_name)
        return cls(certificate, sign_with, hash_name, chain, sign_pss_with)

    def answering(self, request_algorithm: AlgorithmId | None) -> SignatureProtector:
        """This protector for the response to a request signed with ``request_algorithm``.

        A request signed with RSASSA-PSS is answered with RSASSA-PSS when the
        CA's key is RSA and can sign so (RFC 9481, 3.1); otherwise as usual.
        """
        pss = (
            is_pss(request_algorithm)
            and self.sign_pss_with is not None
            and isinstance(self.certificate.public_key(), rsa.RSAPublicKey)
        )
        return self if pss == self.pss else replace(self, pss=pss)

    @property
    def sender_kid(self) -> bytes | None:
        try:
            ext = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except x509.ExtensionNotFound:
            return None
        return ext.value.digest

    def new_algorithm(self) -> AlgorithmId:
        return signature_algorithm(self.certificate.public_key(), self.hash_name, pss=self.pss)

    def protect(self, algorithm: AlgorithmId, data: bytes) -> bytes:
        scheme = signature_scheme(algorithm)
        if scheme.pss:
            if self.sign_pss_with is None:  # pragma: no cover - answering() checks it
                raise BadAlg("This signer cannot sign with RSASSA-PSS.")
            assert scheme.hash is not None  # noqa: S101
            return self.sign_pss_with(data, scheme.hash())
        return self.sign_with(data, scheme.hash() if scheme.hash is not None else None)


def _public(private_key: object) -> object:
    public_key = getattr(private_key, "public_key", None)
    if public_key is None:
        raise BadAlg("Only RSA, ECDSA, Ed25519 and Ed448 keys can sign CMP messages.")
    return public_key()
