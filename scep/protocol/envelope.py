"""The pkcsPKIEnvelope: CMS EnvelopedData with RSA key transport (RFC 8894, 3.2.2).

Requests are encrypted to the CA or RA certificate; the server decrypts them
through a :class:`RecipientKey`, whose ``decrypt`` callback unwraps the content
encryption key, so the RSA private key can stay in a keystore or an HSM.
``cryptography``'s ``pkcs7_decrypt_der`` cannot be used for this: it needs the
private key object, and it knows neither OAEP nor the 3DES/DES that legacy
clients send.  Key transport: RSA PKCS#1 v1.5 (rsaEncryption) or RSAES-OAEP
(RFC 8017, 7.1; RFC 4055, 4.1).  Content encryption: AES-128/192/256-CBC
(RFC 3565), and with the legacy setting DES-EDE3-CBC and, separately allowed,
DES-CBC (RFC 8018, B.2.1).

Replies are encrypted to the requester's signer certificate with the cipher
the request used.  AES-128-CBC and AES-256-CBC replies are made by
``cryptography``'s :class:`~cryptography.hazmat.primitives.serialization.pkcs7.PKCS7EnvelopeBuilder`
(RSA PKCS#1 v1.5 key transport, issuerAndSerialNumber, binary content: exactly
what SCEP needs); AES-192, 3DES and DES, which the builder does not offer, are
encrypted here the same way.

Every failure after the key transport step (RSA decryption, key length, CBC
padding, and the caller's parse of the decrypted content) is reported with the
same failInfo and text, :data:`UNDECRYPTABLE`, and a failed RSA decryption is
followed by a CBC decryption with a random key, so that a client cannot use the
replies as a padding oracle on the RSA key (Bleichenbacher).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import padding as symmetric_padding
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.padding import AsymmetricPadding
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import pkcs7

from . import asn1
from .asn1 import OID, AlgorithmId, RecipientParts
from .errors import BadAlg, BadMessageCheck, BadRequest
from .protection import DIGESTS, AlgorithmPolicy

#: The one text for every failure to decrypt or read a pkcsPKIEnvelope.
UNDECRYPTABLE = "The pkcsPKIEnvelope cannot be decrypted or its content is not valid."


@dataclass(frozen=True)
class ContentCipher:
    """A CBC content-encryption algorithm of EnvelopedData."""

    name: str
    oid: str
    key_size: int
    block_size: int
    family: str  # "aes", "3des" or "des"

    def allowed(self, policy: AlgorithmPolicy) -> bool:
        if self.family == "3des":
            return policy.legacy
        if self.family == "des":
            return policy.des
        return True

    def algorithm(self, key: bytes) -> BlockCipherAlgorithm:
        if self.family == "aes":
            return algorithms.AES(key)
        if self.family == "des":
            # DES is 3DES with K1 = K2 = K3 (the EDE steps cancel out).
            return TripleDES(key * 3)
        return TripleDES(key)

    def encrypt(self, key: bytes, iv: bytes, data: bytes) -> bytes:
        padder = symmetric_padding.PKCS7(self.block_size * 8).padder()
        padded = padder.update(data) + padder.finalize()
        encryptor = Cipher(self.algorithm(key), modes.CBC(iv)).encryptor()
        return encryptor.update(padded) + encryptor.finalize()

    def decrypt(self, key: bytes, iv: bytes, data: bytes) -> bytes:
        """Decrypt and unpad; ValueError on bad padding."""
        decryptor = Cipher(self.algorithm(key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = symmetric_padding.PKCS7(self.block_size * 8).unpadder()
        return unpadder.update(padded) + unpadder.finalize()


AES128_CBC = ContentCipher("AES-128-CBC", OID.aes128_cbc, 16, 16, "aes")
AES192_CBC = ContentCipher("AES-192-CBC", OID.aes192_cbc, 24, 16, "aes")
AES256_CBC = ContentCipher("AES-256-CBC", OID.aes256_cbc, 32, 16, "aes")
DES_EDE3_CBC = ContentCipher("DES-EDE3-CBC", OID.des_ede3_cbc, 24, 8, "3des")
DES_CBC = ContentCipher("DES-CBC", OID.des_cbc, 8, 8, "des")

#: Content-encryption algorithms, by OID.
CIPHERS: dict[str, ContentCipher] = {
    c.oid: c for c in (AES128_CBC, AES192_CBC, AES256_CBC, DES_EDE3_CBC, DES_CBC)
}

#: The ciphers cryptography's PKCS7EnvelopeBuilder offers.
_BUILDER_CIPHERS: dict[str, type[algorithms.AES128] | type[algorithms.AES256]] = {
    OID.aes128_cbc: algorithms.AES128,
    OID.aes256_cbc: algorithms.AES256,
}


class RecipientKey(Protocol):
    """The CA or RA key that requests are encrypted to.

    ``certificate`` is the certificate clients encrypt to (from GetCACert);
    ``decrypt`` unwraps an encryptedKey with the given padding (PKCS1v15 or
    OAEP) and returns the content-encryption key, raising on failure.
    """

    @property
    def certificate(self) -> x509.Certificate: ...

    def decrypt(self, encrypted_key: bytes, padding: AsymmetricPadding) -> bytes: ...


@dataclass(frozen=True)
class LocalRecipientKey:
    """A :class:`RecipientKey` whose RSA private key is held in memory."""

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey = field(repr=False)

    def decrypt(self, encrypted_key: bytes, padding: AsymmetricPadding) -> bytes:
        return self.private_key.decrypt(encrypted_key, padding)


@dataclass(frozen=True)
class Decrypted:
    """The decrypted content of a pkcsPKIEnvelope and how it was protected."""

    content: bytes
    cipher: ContentCipher
    key_transport: str  # "rsaEncryption" or "RSAES-OAEP (SHA-256)"
    recipient: x509.Certificate


def _matches(recipient: RecipientParts, certificate: x509.Certificate) -> bool:
    if recipient.subject_key_id is not None:
        try:
            ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except x509.ExtensionNotFound:
            return False
        return ski.value.digest == recipient.subject_key_id
    if recipient.serial_number != certificate.serial_number or recipient.issuer_der is None:
        return False
    issuer_der, _serial = asn1.certificate_issuer_and_serial(
        certificate.public_bytes(serialization.Encoding.DER)
    )
    return recipient.issuer_der == issuer_der


def _key_transport_padding(algorithm: AlgorithmId) -> tuple[AsymmetricPadding, str]:
    if algorithm.oid == OID.rsa_encryption:
        return padding.PKCS1v15(), "rsaEncryption"
    if algorithm.oid == OID.rsaes_oaep:
        try:
            hash_oid, mgf_hash_oid, label = asn1.decode_oaep_parameters(algorithm.parameters)
        except asn1.DecodeError as exc:
            raise BadAlg(f"RSAES-OAEP parameters cannot be read: {exc}") from None
        if hash_oid not in DIGESTS or mgf_hash_oid not in DIGESTS:
            raise BadAlg("RSAES-OAEP with this hash is not supported.")
        hash_type = DIGESTS[hash_oid].hash_type
        oaep = padding.OAEP(
            mgf=padding.MGF1(DIGESTS[mgf_hash_oid].hash_type()),
            algorithm=hash_type(),
            label=label or None,
        )
        return oaep, f"RSAES-OAEP ({DIGESTS[hash_oid].name})"
    raise BadAlg(f"Key transport algorithm {algorithm.oid} is not supported.")


def decrypt(
    envelope_der: bytes, keys: tuple[RecipientKey, ...], policy: AlgorithmPolicy
) -> Decrypted:
    """Decrypt a pkcsPKIEnvelope with the first of ``keys`` it is encrypted to.

    BadRequest: not an EnvelopedData of id-data; BadAlg: an algorithm outside
    the allow-list or the policy; BadMessageCheck: not encrypted to any of
    ``keys``, or (with :data:`UNDECRYPTABLE`) it does not decrypt.
    """
    try:
        parts = asn1.decode_enveloped_data(envelope_der)
    except asn1.DecodeError as exc:
        raise BadRequest(f"The pkcsPKIEnvelope is not an EnvelopedData: {exc}") from None
    if parts.content_type != OID.data:
        raise BadRequest("The pkcsPKIEnvelope does not hold id-data.")
    cipher = CIPHERS.get(parts.content_encryption.oid)
    if cipher is None:
        raise BadAlg(
            f"Content encryption algorithm {parts.content_encryption.oid} is not supported."
        )
    if not cipher.allowed(policy):
        # RFC 8894, 3.5.2: DES3 only when announced (the legacy setting).
        raise BadAlg(f"{cipher.name} is not accepted by this CA's settings.")
    try:
        iv = asn1.decode_octet_string(parts.content_encryption.parameters or b"")
    except asn1.DecodeError:
        raise BadRequest(f"{cipher.name} without an IV.") from None
    if len(iv) != cipher.block_size:
        raise BadRequest(f"{cipher.name} IV of {len(iv)} bytes.")
    chosen: tuple[RecipientParts, RecipientKey] | None = None
    for recipient in parts.recipients:
        for key in keys:
            if _matches(recipient, key.certificate):
                chosen = (recipient, key)
                break
        if chosen:
            break
    if chosen is None:
        raise BadMessageCheck("The pkcsPKIEnvelope is not encrypted to this CA's certificate.")
    recipient, key = chosen
    pad, key_transport = _key_transport_padding(recipient.key_encryption)
    encrypted = parts.encrypted_content or b""
    failed = False
    try:
        cek: bytes | None = key.decrypt(recipient.encrypted_key, pad)
    except Exception:  # noqa: BLE001 - the keystore's failure, whatever it is, is uniform
        cek = None
    if cek is None or len(cek) != cipher.key_size:
        # Go on with a random key: same work, same answer as a padding failure.
        cek = os.urandom(cipher.key_size)
        failed = True
    content = b""
    if encrypted and len(encrypted) % cipher.block_size == 0:
        try:
            content = cipher.decrypt(cek, iv, encrypted)
        except ValueError:
            failed = True
    else:
        failed = True
    if failed:
        raise BadMessageCheck(UNDECRYPTABLE)
    return Decrypted(content, cipher, key_transport, key.certificate)


def _odd_parity(key: bytes) -> bytes:
    """DES keys with odd parity in each byte, as strict decoders expect (FIPS 46-3)."""
    return bytes(b & 0xFE | (bin(b >> 1).count("1") + 1) % 2 for b in key)


def encrypt(content: bytes, recipient: x509.Certificate, cipher: ContentCipher) -> bytes:
    """An EnvelopedData of ``content`` for ``recipient`` (RSA PKCS#1 v1.5 key transport)."""
    public_key = recipient.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        # RFC 8894, 3.2.2: key transport needs an RSA key.
        raise BadAlg("The reply cannot be encrypted to a certificate without an RSA key.")
    builder_cipher = _BUILDER_CIPHERS.get(cipher.oid)
    if builder_cipher is not None:
        return (
            pkcs7.PKCS7EnvelopeBuilder()
            .set_data(content)
            .add_recipient(recipient)
            .set_content_encryption_algorithm(builder_cipher)
            .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
        )
    cek = os.urandom(cipher.key_size)
    if cipher.family != "aes":
        cek = _odd_parity(cek)
    iv = os.urandom(cipher.block_size)
    issuer_der, serial = asn1.certificate_issuer_and_serial(
        recipient.public_bytes(serialization.Encoding.DER)
    )
    recipient_info = asn1.encode_key_trans_recipient(
        issuer_der=issuer_der,
        serial_number=serial,
        key_encryption=asn1.encode_algorithm(OID.rsa_encryption, b"\x05\x00"),
        encrypted_key=public_key.encrypt(cek, padding.PKCS1v15()),
    )
    return asn1.encode_enveloped_data(
        recipients=[recipient_info],
        content_encryption=asn1.encode_algorithm(cipher.oid, asn1.encode_octet_string(iv)),
        encrypted=cipher.encrypt(cek, iv, content),
    )


__all__ = [
    "CIPHERS",
    "UNDECRYPTABLE",
    "ContentCipher",
    "Decrypted",
    "LocalRecipientKey",
    "RecipientKey",
    "decrypt",
    "encrypt",
]
