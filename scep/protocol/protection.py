"""Signatures of SCEP messages: verifying requests, signing replies.

A pkiMessage is a CMS SignedData whose single SignerInfo carries signed
attributes (RFC 8894, 3.1 and 3.2.1).  A request is accepted when

* its digestAlgorithm is allowed: SHA-256, SHA-384 or SHA-512, and SHA-1 only
  with the legacy setting (RFC 8894, 3.5.2: SHA-1 is what a CA that does not
  announce "SHA-256"/"SHA-512" gets; RFC 8894, 7.9 on its weakness);
* its signatureAlgorithm is RSA PKCS#1 v1.5 (rsaEncryption or
  sha*WithRSAEncryption agreeing with the digest) or ECDSA with that digest;
* the messageDigest attribute is the digest of the eContent (RFC 5652, 5.4,
  compared with :func:`hmac.compare_digest`); and
* the signature over the DER of the signed attributes verifies with the
  signer certificate's key.

Anything outside the allow-lists is ``badAlg``; a digest or signature that
does not match is ``badMessageCheck``; a signingTime outside the allowed skew
(when the caller sets one) is ``badTime``.

Replies are signed by a :class:`ResponseSigner`: the CA or the RA certificate
and a callback that makes the signature, so the private key can stay in a
keystore or an HSM.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from . import asn1
from .asn1 import OID, AlgorithmId, SignerInfoParts
from .errors import BadAlg, BadMessageCheck, BadTime
from .messages import PARSE_ERRORS


@dataclass(frozen=True)
class AlgorithmPolicy:
    """Which algorithms requests may use.

    ``legacy`` admits SHA-1 and 3DES (the "SHA-1" and "DES3" capabilities,
    RFC 8894, 3.5.2), for clients that predate SHA-2 and AES.  ``single_des``
    additionally admits DES-CBC content encryption, which no capability
    announces but some clients use whatever the capabilities say (Debian's
    ``scepclient`` 2.1.0, through go.mozilla.org/pkcs7's default); it has no
    effect without ``legacy``.
    """

    legacy: bool = False
    single_des: bool = False

    @property
    def des(self) -> bool:
        return self.legacy and self.single_des


@dataclass(frozen=True)
class Digest:
    name: str
    hash_type: type[hashes.HashAlgorithm]
    legacy: bool = False

    @property
    def hashlib_name(self) -> str:
        return self.hash_type().name


#: Message digests, by OID.  MD5 is never accepted.
DIGESTS: dict[str, Digest] = {
    OID.sha1: Digest("SHA-1", hashes.SHA1, legacy=True),
    OID.sha256: Digest("SHA-256", hashes.SHA256),
    OID.sha384: Digest("SHA-384", hashes.SHA384),
    OID.sha512: Digest("SHA-512", hashes.SHA512),
}

#: signatureAlgorithm OID -> (key type, digest OID the algorithm fixes, or
#: None when the SignerInfo's digestAlgorithm decides: rsaEncryption, RFC 3370, 3.2).
SIGNATURES: dict[str, tuple[str, str | None]] = {
    OID.rsa_encryption: ("rsa", None),
    OID.sha1_with_rsa: ("rsa", OID.sha1),
    OID.sha256_with_rsa: ("rsa", OID.sha256),
    OID.sha384_with_rsa: ("rsa", OID.sha384),
    OID.sha512_with_rsa: ("rsa", OID.sha512),
    OID.ecdsa_with_sha1: ("ec", OID.sha1),
    OID.ecdsa_with_sha256: ("ec", OID.sha256),
    OID.ecdsa_with_sha384: ("ec", OID.sha384),
    OID.ecdsa_with_sha512: ("ec", OID.sha512),
}

_SIGNATURE_FOR: dict[tuple[str, str], str] = {
    ("rsa", OID.sha1): OID.sha1_with_rsa,
    ("rsa", OID.sha256): OID.sha256_with_rsa,
    ("rsa", OID.sha384): OID.sha384_with_rsa,
    ("rsa", OID.sha512): OID.sha512_with_rsa,
    ("ec", OID.sha1): OID.ecdsa_with_sha1,
    ("ec", OID.sha256): OID.ecdsa_with_sha256,
    ("ec", OID.sha384): OID.ecdsa_with_sha384,
    ("ec", OID.sha512): OID.ecdsa_with_sha512,
}

_NAMES = {
    OID.rsa_encryption: "rsaEncryption",
    OID.sha1_with_rsa: "sha1WithRSAEncryption",
    OID.sha256_with_rsa: "sha256WithRSAEncryption",
    OID.sha384_with_rsa: "sha384WithRSAEncryption",
    OID.sha512_with_rsa: "sha512WithRSAEncryption",
    OID.rsassa_pss: "RSASSA-PSS",
    OID.ecdsa_with_sha1: "ecdsa-with-SHA1",
    OID.ecdsa_with_sha256: "ecdsa-with-SHA256",
    OID.ecdsa_with_sha384: "ecdsa-with-SHA384",
    OID.ecdsa_with_sha512: "ecdsa-with-SHA512",
    OID.md5: "MD5",
}


def algorithm_name(oid: str) -> str:
    """A readable name for a digest or signature OID (for traces)."""
    if oid in DIGESTS:
        return DIGESTS[oid].name
    return _NAMES.get(oid, oid)


def digest(oid: str, policy: AlgorithmPolicy) -> Digest:
    """The allowed digest for ``oid``; BadAlg otherwise."""
    spec = DIGESTS.get(oid)
    if spec is None:
        raise BadAlg(f"Digest algorithm {algorithm_name(oid)} is not supported.")
    if spec.legacy and not policy.legacy:
        raise BadAlg(f"{spec.name} is only accepted with the legacy algorithms setting.")
    return spec


def reply_digest(request_oid: str | None, policy: AlgorithmPolicy) -> str:
    """The digest of a reply: the request's when allowed, SHA-256 otherwise."""
    if request_oid is not None:
        spec = DIGESTS.get(request_oid)
        if spec is not None and (policy.legacy or not spec.legacy):
            return request_oid
    return OID.sha256


def _key_kind(public_key: object) -> str | None:
    if isinstance(public_key, rsa.RSAPublicKey):
        return "rsa"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "ec"
    return None


def verify_signer_info(
    signer_info: SignerInfoParts,
    certificate: x509.Certificate,
    content: bytes | None,
    policy: AlgorithmPolicy,
    *,
    now: datetime.datetime | None = None,
    max_clock_skew: datetime.timedelta | None = None,
) -> Digest:
    """Check the signature of a request's SignerInfo (module docstring); return its digest."""
    spec = digest(signer_info.digest_algorithm.oid, policy)
    sig_oid = signer_info.signature_algorithm.oid
    if sig_oid not in SIGNATURES:
        raise BadAlg(f"Signature algorithm {algorithm_name(sig_oid)} is not supported.")
    kind, fixed_digest = SIGNATURES[sig_oid]
    if fixed_digest is not None and fixed_digest != signer_info.digest_algorithm.oid:
        raise BadAlg(
            f"Signature algorithm {algorithm_name(sig_oid)} does not match digest {spec.name}."
        )
    try:
        public_key = certificate.public_key()
    except PARSE_ERRORS:
        raise BadAlg("The signer certificate's public key cannot be read.") from None
    if _key_kind(public_key) != kind:
        raise BadAlg(
            f"Signature algorithm {algorithm_name(sig_oid)} does not match the signer's key."
        )
    if signer_info.signed_attrs_der is None:
        # RFC 8894, 3.1: the SCEP attributes are signed attributes.
        raise BadMessageCheck("The SignerInfo has no signed attributes.")
    # RFC 5652, 5.3 / 11.2: exactly one messageDigest, the digest of the eContent.
    digests = signer_info.values(OID.message_digest)
    if signer_info.count(OID.message_digest) != 1 or len(digests) != 1:
        raise BadMessageCheck("The messageDigest attribute is missing or repeated.")
    try:
        claimed = asn1.decode_octet_string(digests[0])
    except asn1.DecodeError:
        raise BadMessageCheck("The messageDigest attribute is not an OCTET STRING.") from None
    actual = hashlib.new(spec.hashlib_name, content or b"").digest()
    if not hmac.compare_digest(claimed, actual):
        raise BadMessageCheck("messageDigest does not match the content.")
    content_types = signer_info.values(OID.content_type)
    if content_types:
        # RFC 5652, 11.1: the contentType attribute names the eContentType.
        try:
            named = asn1.decode_oid(content_types[0])
        except asn1.DecodeError:
            raise BadMessageCheck("The contentType attribute is not an OID.") from None
        if named != OID.data:
            raise BadMessageCheck("The contentType attribute is not id-data.")
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(
                signer_info.signature,
                signer_info.signed_attrs_der,
                padding.PKCS1v15(),
                spec.hash_type(),
            )
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(
                signer_info.signature, signer_info.signed_attrs_der, ec.ECDSA(spec.hash_type())
            )
    except InvalidSignature:
        raise BadMessageCheck(
            "The signature does not verify with the signer certificate."
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise BadAlg(f"The signature cannot be checked: {exc}") from None
    if max_clock_skew is not None and now is not None:
        _check_signing_time(signer_info, now, max_clock_skew)
    return spec


def _check_signing_time(
    signer_info: SignerInfoParts, now: datetime.datetime, max_clock_skew: datetime.timedelta
) -> None:
    # RFC 8894, 3.2.1.4: badTime, "the signingTime attribute from the CMS
    # authenticatedAttributes was not sufficiently close to the system time".
    values = signer_info.values(OID.signing_time)
    if not values:
        return
    try:
        signed_at = asn1.decode_time(values[0])
    except asn1.DecodeError:
        raise BadTime("The signingTime attribute cannot be read.") from None
    if abs(now - signed_at) > max_clock_skew:
        raise BadTime(
            f"signingTime {signed_at:%Y-%m-%d %H:%M:%S}Z is more than "
            f"{int(max_clock_skew.total_seconds())} s from the server's time."
        )


# --------------------------------------------------------------------------- signing


def _sign_with_key(private_key: object) -> Callable[[bytes, hashes.HashAlgorithm], bytes]:
    if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError("Only RSA and ECDSA keys can sign SCEP replies.")

    def sign_with(data: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
        if isinstance(private_key, rsa.RSAPrivateKey):
            return private_key.sign(data, padding.PKCS1v15(), algorithm)
        return private_key.sign(data, ec.ECDSA(algorithm))

    return sign_with


@dataclass(frozen=True)
class ResponseSigner:
    """Signs replies as the CA or the RA (RFC 8894, 2.1.2).

    ``sign_with(data, hash)`` makes an RSA PKCS#1 v1.5 or ECDSA signature of
    ``data`` with the key of ``certificate``; :meth:`with_key` wraps a key
    object held in memory.  ``chain`` is sent after the certificate in the
    reply's certificates set (its issuers, when the client may not have them).
    """

    certificate: x509.Certificate
    sign_with: Callable[[bytes, hashes.HashAlgorithm], bytes] = field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()

    @classmethod
    def with_key(
        cls,
        private_key: object,
        certificate: x509.Certificate,
        chain: tuple[x509.Certificate, ...] = (),
    ) -> ResponseSigner:
        return cls(certificate, _sign_with_key(private_key), chain)

    @property
    def key_kind(self) -> str:
        kind = _key_kind(self.certificate.public_key())
        if kind is None:
            raise TypeError("Only RSA and ECDSA certificates can sign SCEP replies.")
        return kind

    def signature_algorithm(self, digest_oid: str) -> AlgorithmId:
        oid = _SIGNATURE_FOR[(self.key_kind, digest_oid)]
        # RFC 4055, 5: sha*WithRSAEncryption parameters are NULL; RFC 5758, 3.2:
        # ecdsa-with-SHA* parameters are absent.
        return AlgorithmId(oid, b"\x05\x00" if self.key_kind == "rsa" else None)

    def sign(self, data: bytes, digest_oid: str) -> bytes:
        return self.sign_with(data, DIGESTS[digest_oid].hash_type())
