"""The only module that decrypts a CA private key or an enrollment secret.

Keys and secrets are stored encrypted (AES-256-GCM, authenticated) with a key
derived (HKDF-SHA256) from ``FAC_KEYSTORE_KEY``. Each blob is bound by its
associated data to its purpose, so a CA key cannot be passed off as an
enrollment password. The public interface is small on purpose, so that an HSM
backend can replace the default one: ``seal_private_key``, ``seal_secret``,
``sign_certificate``, ``sign_crl``, ``sign_ocsp_response``, ``sign_data``,
``decrypt_key_transport``, ``private_key_for_export``, ``secret_for`` and ``stored_secret``;
``seal_download`` and ``open_download`` keep a PKCS#12 made for an administrator sealed until
its one download (certauth.gui.once).

Blob format: version byte (1) | 12-byte nonce | ciphertext+tag.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from typing import TYPE_CHECKING, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.padding import AsymmetricPadding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509 import ocsp
from django.conf import settings

from certauth.x509 import PrivateKey, SignatureHash

if TYPE_CHECKING:
    from certauth.models import CertificateAuthority, Enrollment

log = logging.getLogger(__name__)

_VERSION = b"\x01"
_PURPOSE_CA_KEY = b"fac:ca-private-key"
_PURPOSE_SECRET = b"fac:enrollment-secret"
_PURPOSE_DOWNLOAD = b"fac:one-time-download"


class KeystoreError(Exception):
    """A blob cannot be decrypted (wrong FAC_KEYSTORE_KEY, or corrupted data)."""


class HasSealedKey(Protocol):
    # Read-only members: a model's BinaryField reads back as bytes or, on
    # PostgreSQL, as memoryview.
    @property
    def name(self) -> str: ...

    @property
    def encrypted_key(self) -> bytes | memoryview | None: ...


_key_lock = threading.Lock()
_derived: dict[str, bytes] = {}


def _master_key() -> str:
    configured = settings.FAC_KEYSTORE_KEY
    if configured:
        return configured
    from fac.datafiles import read_or_create_secret

    path = settings.DATA_DIR / "keystore.key"
    if not path.exists():
        log.warning(
            "FAC_KEYSTORE_KEY is not set: generated a keystore key into %s. "
            "A multi-host deployment must set FAC_KEYSTORE_KEY to the same value on every host.",
            path,
        )
    return read_or_create_secret(path)


def _aead() -> AESGCM:
    master = _master_key()
    with _key_lock:
        key = _derived.get(master)
        if key is None:
            key = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"fac keystore v1"
            ).derive(master.encode())
            _derived.clear()
            _derived[master] = key
    return AESGCM(key)


def _seal(plaintext: bytes, purpose: bytes) -> bytes:
    nonce = os.urandom(12)
    return _VERSION + nonce + _aead().encrypt(nonce, plaintext, purpose)


def _open(blob: bytes | memoryview, purpose: bytes) -> bytes:
    blob = bytes(blob)
    if len(blob) < 13 or blob[:1] != _VERSION:
        raise KeystoreError("Unknown keystore blob format.")
    try:
        return _aead().decrypt(blob[1:13], blob[13:], purpose)
    except InvalidTag:
        raise KeystoreError(
            "Cannot decrypt a stored key: FAC_KEYSTORE_KEY differs from the one it was stored with."
        ) from None


# --- Sealing (encrypting for storage) --------------------------------------------


def seal_private_key(key: PrivateKey) -> bytes:
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _seal(der, _PURPOSE_CA_KEY)


def seal_secret(secret: str) -> bytes:
    return _seal(secret.encode(), _PURPOSE_SECRET)


def seal_download(data: bytes) -> bytes:
    """A file holding a private key (a PKCS#12), kept a few minutes until it is downloaded."""
    return _seal(data, _PURPOSE_DOWNLOAD)


def open_download(blob: bytes) -> bytes:
    return _open(blob, _PURPOSE_DOWNLOAD)


# --- Using sealed material ----------------------------------------------------


def _private_key(ca: HasSealedKey) -> PrivateKey:
    if not ca.encrypted_key:
        raise KeystoreError(f"CA {ca.name} has no private key.")
    # The blob is authenticated (AES-GCM), so it is the key we validated when
    # it was stored: skip the costly RSA consistency check on every use.
    key = serialization.load_der_private_key(
        _open(ca.encrypted_key, _PURPOSE_CA_KEY), None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(key, PrivateKey):
        raise KeystoreError(f"CA {ca.name}: unsupported key type.")
    return key


def _hash_for(key: PrivateKey, algorithm: SignatureHash | None) -> SignatureHash | None:
    """The hash to sign with: none for an EdDSA key (RFC 8410, 6), else *algorithm*."""
    return None if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) else algorithm


def sign_certificate(
    ca: CertificateAuthority | None,
    builder: x509.CertificateBuilder,
    algorithm: SignatureHash | None,
    *,
    self_signed_key: PrivateKey | None = None,
) -> x509.Certificate:
    """Sign *builder* with the CA's key (or, for a new root, with its own new key).

    *algorithm* is ignored for an EdDSA key, which signs without a separate hash.
    """
    if self_signed_key is not None:
        key = self_signed_key
    elif ca is not None:
        key = _private_key(ca)
    else:
        raise KeystoreError("A certificate is signed by a CA or, for a new root, by its own key.")
    return builder.sign(key, _hash_for(key, algorithm))


def sign_crl(
    ca: CertificateAuthority,
    builder: x509.CertificateRevocationListBuilder,
    algorithm: SignatureHash | None,
) -> x509.CertificateRevocationList:
    key = _private_key(ca)
    return builder.sign(key, _hash_for(key, algorithm))


def sign_ocsp_response(
    ca: CertificateAuthority, builder: ocsp.OCSPResponseBuilder, algorithm: SignatureHash | None
) -> ocsp.OCSPResponse:
    """Sign an OCSP response (cryptography's OCSPResponseBuilder) with the CA's key."""
    key = _private_key(ca)
    return builder.sign(key, _hash_for(key, algorithm))


def sign_data(
    ca: HasSealedKey, data: bytes, algorithm: hashes.HashAlgorithm | None, *, pss: bool = False
) -> bytes:
    """Sign raw bytes with the key of a CA (CMP message protection, OCSP responses, SCEP
    replies) or of another holder of a sealed key (a SCEP RA).

    RSA keys sign with PKCS #1 v1.5, or with *pss* RSASSA-PSS (MGF1 with the same
    hash, a salt as long as the hash: RFC 9481, 3.1); EdDSA keys ignore *algorithm*.
    """
    key = _private_key(ca)
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return key.sign(data)
    if algorithm is None:
        raise KeystoreError(f"{ca.name}: RSA and ECDSA signatures need a hash.")
    if isinstance(key, rsa.RSAPrivateKey):
        if pss:
            return key.sign(
                data, padding.PSS(padding.MGF1(algorithm), algorithm.digest_size), algorithm
            )
        return key.sign(data, padding.PKCS1v15(), algorithm)
    return key.sign(data, ec.ECDSA(algorithm))


def decrypt_key_transport(
    holder: HasSealedKey, encrypted_key: bytes, key_padding: AsymmetricPadding
) -> bytes:
    """Unwrap a content-encryption key sent to *holder*'s RSA key (RSA key transport).

    SCEP requests are encrypted to the CA's or the RA's certificate (RFC 8894,
    3.2.2); the private key stays here. Raises on any failure, which the
    caller reports uniformly (no padding oracle).
    """
    key = _private_key(holder)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeystoreError(f"{holder.name}: only an RSA key decrypts key transport.")
    return key.decrypt(encrypted_key, key_padding)


def private_key_for_export(ca: CertificateAuthority) -> PrivateKey:
    """The CA's key, for a PKCS#12 export that an administrator asked for."""
    return _private_key(ca)


def secret_for(enrollment: Enrollment) -> bytes:
    """The enrollment password in clear, to check and apply a password-based MAC."""
    if not enrollment.encrypted_password:
        raise KeystoreError(f"Enrollment {enrollment.reference} has no password.")
    return _open(enrollment.encrypted_password, _PURPOSE_SECRET)


def stored_secret(blob: bytes | memoryview) -> bytes:
    """A secret sealed with :func:`seal_secret` and kept elsewhere than on an enrollment
    (the SCEP default enrollment password), in clear."""
    return _open(blob, _PURPOSE_SECRET)


def check_key(ca: HasSealedKey) -> bool:
    """Whether the stored key of *ca* can be decrypted with the configured key."""
    try:
        _private_key(ca)
    except KeystoreError:
        return False
    return True


def secret_index(secret: bytes) -> str:
    """A keyed digest of an enrollment secret (HMAC-SHA256, hex), to find it without decrypting.

    SCEP wildcard enrollments are found by their challenge password: the
    digest is stored beside the sealed password and looked up, so no stored
    password is decrypted to search. Its key is derived from
    FAC_KEYSTORE_KEY apart from the sealing key, so the digest says nothing
    to whoever does not hold that key.
    """
    master = _master_key()
    with _key_lock:
        key = _index_keys.get(master)
        if key is None:
            key = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"fac secret index v1"
            ).derive(master.encode())
            _index_keys.clear()
            _index_keys[master] = key
    return hmac.new(key, secret, "sha256").hexdigest()


_index_keys: dict[str, bytes] = {}
