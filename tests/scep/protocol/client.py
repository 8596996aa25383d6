"""A SCEP client for the tests, building messages the way real clients do.

Independent of ``scep.protocol`` (so that a shared mistake cannot hide): the
structures are built and read with pyasn1-alt-modules' ``rfc5652`` types, the
crypto is ``cryptography``'s, and AES envelopes are made and opened by
``cryptography``'s PKCS#7 functions, as a client built on a CMS library would.

Knobs for the legacy clients and for broken messages: digest (SHA-1/256/384/
512, MD5), content cipher (AES-128/192/256-CBC, 3DES, DES), key transport
(PKCS#1 v1.5 or OAEP), and ``tamper`` options that change one thing after
signing or encrypting.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AttributeOID, NameOID
from pyasn1.codec.der import decoder, encoder
from pyasn1.type import char, univ, useful
from pyasn1_alt_modules import rfc4055, rfc5280, rfc5652, rfc8894

DER = serialization.Encoding.DER

DIGEST_OIDS = {
    "sha1": "1.3.14.3.2.26",
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
    "md5": "1.2.840.113549.2.5",
}
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "md5": hashes.MD5,
}
RSA_SIGNATURE_OIDS = {
    "sha1": "1.2.840.113549.1.1.5",
    "sha256": "1.2.840.113549.1.1.11",
    "sha384": "1.2.840.113549.1.1.12",
    "sha512": "1.2.840.113549.1.1.13",
    "md5": "1.2.840.113549.1.1.4",
}
EC_SIGNATURE_OIDS = {
    "sha1": "1.2.840.10045.4.1",
    "sha256": "1.2.840.10045.4.3.2",
    "sha384": "1.2.840.10045.4.3.3",
    "sha512": "1.2.840.10045.4.3.4",
}
#: name -> (OID, key size, block size)
CIPHERS = {
    "aes128": ("2.16.840.1.101.3.4.1.2", 16, 16),
    "aes192": ("2.16.840.1.101.3.4.1.22", 24, 16),
    "aes256": ("2.16.840.1.101.3.4.1.42", 32, 16),
    "3des": ("1.2.840.113549.3.7", 24, 8),
    "des": ("1.3.14.3.2.7", 8, 8),
    "rc2": ("1.2.840.113549.3.2", 16, 8),
}
CIPHER_NAMES = {oid: n for n, (oid, _k, _b) in CIPHERS.items()}
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"

PKCS_REQ, RENEWAL_REQ, CERT_POLL, GET_CERT, GET_CRL = 19, 17, 20, 21, 22


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def subject(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def self_signed(key, name: x509.Name | None = None) -> x509.Certificate:
    """The signer certificate of a first enrolment (RFC 8894, 2.3), as scepclient makes it."""
    name = name or subject("SCEP SIGNER")
    now = datetime.datetime.now(datetime.UTC)
    algorithm = hashes.SHA256()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, algorithm)
    )


def make_csr(
    key,
    name: x509.Name,
    *,
    challenge: str | None = None,
    sans: tuple[x509.GeneralName, ...] = (),
    algorithm: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None = None,
) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(name)
    if challenge is not None:
        builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(key, algorithm or hashes.SHA256())


def _asn1_name(name: x509.Name) -> rfc5280.Name:
    return decoder.decode(name.public_bytes(), asn1Spec=rfc5280.Name())[0]


def _any(value) -> univ.Any:
    return univ.Any(encoder.encode(value))


def _attribute(oid, value) -> rfc5652.Attribute:
    attribute = rfc5652.Attribute()
    attribute["attrType"] = univ.ObjectIdentifier(str(oid))
    attribute["attrValues"].append(_any(value))
    return attribute


def _issuer_and_serial(target, certificate: x509.Certificate) -> None:
    target["issuer"] = _asn1_name(certificate.issuer)
    target["serialNumber"] = certificate.serial_number


def issuer_and_serial(issuer: x509.Name, serial: int) -> bytes:
    value = rfc5652.IssuerAndSerialNumber()
    value["issuer"] = _asn1_name(issuer)
    value["serialNumber"] = serial
    return encoder.encode(value)


def issuer_and_subject(issuer: x509.Name, name: x509.Name) -> bytes:
    value = rfc8894.IssuerAndSubject()
    value["issuer"] = _asn1_name(issuer)
    value["subject"] = _asn1_name(name)
    return encoder.encode(value)


def _cipher(name: str, key: bytes):
    if name.startswith("aes"):
        return algorithms.AES(key)
    if name == "des":
        return TripleDES(key * 3)
    return TripleDES(key)


def _content_info(content_type, value) -> bytes:
    info = rfc5652.ContentInfo()
    info["contentType"] = content_type
    info["content"] = _any(value)
    return encoder.encode(info)


@dataclass
class Client:
    """Builds PKIOperation messages; one instance per requester identity.

    ``cipher``/``key_transport``/``oaep_hash`` choose the pkcsPKIEnvelope,
    ``digest`` the SignedData digest (and signature hash).
    """

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = field(default_factory=rsa_key)
    certificate: x509.Certificate | None = None
    digest: str = "sha256"
    cipher: str = "aes128"
    key_transport: str = "pkcs1"
    oaep_hash: str = "sha256"
    #: rsaEncryption as signatureAlgorithm (RFC 3370, 3.2) instead of sha*WithRSAEncryption.
    rsa_encryption_oid: bool = False

    def __post_init__(self) -> None:
        if self.certificate is None:
            self.certificate = self_signed(self.key)

    # ------------------------------------------------------------------ envelope

    def envelope(self, content: bytes, recipients: list[x509.Certificate]) -> bytes:
        """A pkcsPKIEnvelope of ``content`` for ``recipients`` (RFC 8894, 3.2.2)."""
        if self.key_transport == "pkcs1" and self.cipher in ("aes128", "aes256"):
            builder = pkcs7.PKCS7EnvelopeBuilder().set_data(content)
            for recipient in recipients:
                builder = builder.add_recipient(recipient)
            algorithm = algorithms.AES128 if self.cipher == "aes128" else algorithms.AES256
            return builder.set_content_encryption_algorithm(algorithm).encrypt(
                DER, [pkcs7.PKCS7Options.Binary]
            )
        oid, key_size, block = CIPHERS[self.cipher]
        cek = os.urandom(key_size)
        iv = os.urandom(block)
        padder = sym_padding.PKCS7(block * 8).padder()
        data = padder.update(content) + padder.finalize()
        if self.cipher == "rc2":
            encrypted = os.urandom(len(data))
        else:
            encryptor = Cipher(_cipher(self.cipher, cek), modes.CBC(iv)).encryptor()
            encrypted = encryptor.update(data) + encryptor.finalize()
        enveloped = rfc5652.EnvelopedData()
        enveloped["version"] = 0
        for recipient in recipients:
            info = rfc5652.RecipientInfo()
            ktri = info["ktri"]
            ktri["version"] = 0
            _issuer_and_serial(ktri["rid"]["issuerAndSerialNumber"], recipient)
            public_key = recipient.public_key()
            assert isinstance(public_key, rsa.RSAPublicKey)
            if self.key_transport == "oaep":
                hash_type = HASHES[self.oaep_hash]
                params = rfc4055.RSAES_OAEP_params()
                hash_alg = params["hashFunc"]
                hash_alg["algorithm"] = univ.ObjectIdentifier(DIGEST_OIDS[self.oaep_hash])
                mgf = params["maskGenFunc"]
                mgf["algorithm"] = rfc4055.id_mgf1
                inner = rfc5280.AlgorithmIdentifier()
                inner["algorithm"] = univ.ObjectIdentifier(DIGEST_OIDS[self.oaep_hash])
                mgf["parameters"] = _any(inner)
                ktri["keyEncryptionAlgorithm"]["algorithm"] = rfc4055.id_RSAES_OAEP
                ktri["keyEncryptionAlgorithm"]["parameters"] = _any(params)
                wrapped = public_key.encrypt(
                    cek,
                    padding.OAEP(mgf=padding.MGF1(hash_type()), algorithm=hash_type(), label=None),
                )
            else:
                ktri["keyEncryptionAlgorithm"]["algorithm"] = univ.ObjectIdentifier(RSA_ENCRYPTION)
                ktri["keyEncryptionAlgorithm"]["parameters"] = univ.Any(b"\x05\x00")
                wrapped = public_key.encrypt(cek, padding.PKCS1v15())
            ktri["encryptedKey"] = wrapped
            enveloped["recipientInfos"].append(info)
        eci = enveloped["encryptedContentInfo"]
        eci["contentType"] = rfc5652.id_data
        eci["contentEncryptionAlgorithm"]["algorithm"] = univ.ObjectIdentifier(oid)
        eci["contentEncryptionAlgorithm"]["parameters"] = _any(univ.OctetString(iv))
        eci["encryptedContent"] = encrypted
        return _content_info(rfc5652.id_envelopedData, enveloped)

    # ------------------------------------------------------------------ pkiMessage

    def pki_message(
        self,
        message_type: int | str | None,
        content: bytes | None,
        recipients: list[x509.Certificate] | None = None,
        *,
        transaction_id: str | None = None,
        sender_nonce: bytes | None = None,
        encrypt: bool = True,
        tamper: str | None = None,
        signing_time: datetime.datetime | None = None,
        extra_certificates: tuple[x509.Certificate, ...] = (),
        include_signer: bool = True,
        omit: tuple[str, ...] = (),
    ) -> bytes:
        """A SignedData pkiMessage (RFC 8894, 3.1/3.2) of ``content``.

        ``tamper``: "signature" flips a signature bit, "digest" signs a wrong
        messageDigest, "content" changes the eContent after signing.
        ``omit``: names of SCEP attributes to leave out.
        """
        assert self.certificate is not None
        payload = content
        if content is not None and encrypt:
            payload = self.envelope(content, recipients or [])
        digest_oid = DIGEST_OIDS[self.digest]
        hash_type = HASHES[self.digest]
        message_digest = hashlib.new(hash_type().name, payload or b"").digest()
        if tamper == "content" and payload is not None:
            payload = payload[:-1] + bytes([payload[-1] ^ 1])
        if tamper == "digest":
            message_digest = bytes(len(message_digest))
        transaction_id = (
            transaction_id
            or hashlib.sha256(
                self.certificate.public_key().public_bytes(
                    DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            ).hexdigest()
        )
        self.last_transaction_id = transaction_id
        self.last_nonce = sender_nonce or os.urandom(16)

        signer_info = rfc5652.SignerInfo()
        signer_info["version"] = 1
        _issuer_and_serial(signer_info["sid"]["issuerAndSerialNumber"], self.certificate)
        signer_info["digestAlgorithm"]["algorithm"] = univ.ObjectIdentifier(digest_oid)
        attributes = signer_info["signedAttrs"]
        attributes.append(_attribute(rfc5652.id_contentType, rfc5652.id_data))
        attributes.append(_attribute(rfc5652.id_messageDigest, univ.OctetString(message_digest)))
        if signing_time is not None:
            attributes.append(
                _attribute(
                    rfc5652.id_signingTime,
                    useful.UTCTime.fromDateTime(signing_time.astimezone(datetime.UTC)),
                )
            )
        if "transactionID" not in omit:
            attributes.append(
                _attribute(rfc8894.id_transactionID, char.PrintableString(transaction_id))
            )
        if "messageType" not in omit and message_type is not None:
            attributes.append(
                _attribute(rfc8894.id_messageType, char.PrintableString(str(message_type)))
            )
        if "senderNonce" not in omit:
            attributes.append(_attribute(rfc8894.id_senderNonce, univ.OctetString(self.last_nonce)))
        to_sign = b"\x31" + encoder.encode(attributes)[1:]
        if isinstance(self.key, rsa.RSAPrivateKey):
            oid = RSA_ENCRYPTION if self.rsa_encryption_oid else RSA_SIGNATURE_OIDS[self.digest]
            signer_info["signatureAlgorithm"]["algorithm"] = univ.ObjectIdentifier(oid)
            signer_info["signatureAlgorithm"]["parameters"] = univ.Any(b"\x05\x00")
            signature = self.key.sign(to_sign, padding.PKCS1v15(), hash_type())
        else:
            signer_info["signatureAlgorithm"]["algorithm"] = univ.ObjectIdentifier(
                EC_SIGNATURE_OIDS[self.digest]
            )
            signature = self.key.sign(to_sign, ec.ECDSA(hash_type()))
        if tamper == "signature":
            signature = signature[:-1] + bytes([signature[-1] ^ 1])
        signer_info["signature"] = signature

        signed = rfc5652.SignedData()
        signed["version"] = 1
        algorithm = rfc5280.AlgorithmIdentifier()
        algorithm["algorithm"] = univ.ObjectIdentifier(digest_oid)
        signed["digestAlgorithms"].append(algorithm)
        signed["encapContentInfo"]["eContentType"] = rfc5652.id_data
        if payload is not None:
            signed["encapContentInfo"]["eContent"] = payload
        certificates = ([self.certificate] if include_signer else []) + list(extra_certificates)
        for certificate in certificates:
            choice = rfc5652.CertificateChoices()
            choice["certificate"] = decoder.decode(
                certificate.public_bytes(DER), asn1Spec=rfc5280.Certificate()
            )[0]
            signed["certificates"].append(choice)
        signed["signerInfos"].append(signer_info)
        return _content_info(rfc5652.id_signedData, signed)

    def pkcs_req(
        self, csr: x509.CertificateSigningRequest, recipients: list[x509.Certificate], **kw
    ) -> bytes:
        return self.pki_message(PKCS_REQ, csr.public_bytes(DER), recipients, **kw)

    def renewal_req(
        self, csr: x509.CertificateSigningRequest, recipients: list[x509.Certificate], **kw
    ) -> bytes:
        return self.pki_message(RENEWAL_REQ, csr.public_bytes(DER), recipients, **kw)

    def cert_poll(
        self, issuer: x509.Name, name: x509.Name, recipients: list[x509.Certificate], **kw
    ) -> bytes:
        return self.pki_message(CERT_POLL, issuer_and_subject(issuer, name), recipients, **kw)

    def get_cert(
        self, issuer: x509.Name, serial: int, recipients: list[x509.Certificate], **kw
    ) -> bytes:
        return self.pki_message(GET_CERT, issuer_and_serial(issuer, serial), recipients, **kw)

    def get_crl(
        self, issuer: x509.Name, serial: int, recipients: list[x509.Certificate], **kw
    ) -> bytes:
        return self.pki_message(GET_CRL, issuer_and_serial(issuer, serial), recipients, **kw)

    # ------------------------------------------------------------------ replies

    def read_reply(self, der: bytes, ca_signer: x509.Certificate | None = None) -> Reply:
        return read_reply(der, self.key, self.certificate, ca_signer)


@dataclass
class Reply:
    """A CertRep as a client reads it."""

    message_type: str
    status: str
    fail_info: str | None
    fail_text: str | None
    transaction_id: str
    sender_nonce: bytes
    recipient_nonce: bytes
    digest_oid: str
    signature_oid: str
    signer: x509.Certificate
    certificates_sent: list[x509.Certificate]
    signing_time: datetime.datetime | None
    envelope: bytes | None = None
    cipher: str | None = None
    certificates: list[x509.Certificate] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    attribute_oids: list[str] = field(default_factory=list)


def _string(raw) -> str:
    return str(decoder.decode(bytes(raw))[0])


def _octets(raw) -> bytes:
    return bytes(decoder.decode(bytes(raw), asn1Spec=univ.OctetString())[0])


def parse_signed_data(der: bytes) -> rfc5652.SignedData:
    info = decoder.decode(der, asn1Spec=rfc5652.ContentInfo())[0]
    assert info["contentType"] == rfc5652.id_signedData
    return decoder.decode(bytes(info["content"]), asn1Spec=rfc5652.SignedData())[0]


def degenerate_contents(
    der: bytes,
) -> tuple[list[x509.Certificate], list[x509.CertificateRevocationList]]:
    """Certificates (in order) and CRLs of a degenerate certificates-only SignedData."""
    signed = parse_signed_data(der)
    assert len(signed["signerInfos"]) == 0
    certificates = [
        x509.load_der_x509_certificate(encoder.encode(choice["certificate"]))
        for choice in signed["certificates"]
    ]
    crls = [
        x509.load_der_x509_crl(encoder.encode(choice["crl"]))
        for choice in signed["crls"]
        if choice.getName() == "crl"
    ]
    return certificates, crls


def decrypt_envelope(
    der: bytes, key: rsa.RSAPrivateKey, certificate: x509.Certificate
) -> tuple[bytes, str]:
    """Open a pkcsPKIEnvelope as a client: (content, cipher name)."""
    info = decoder.decode(der, asn1Spec=rfc5652.ContentInfo())[0]
    enveloped = decoder.decode(bytes(info["content"]), asn1Spec=rfc5652.EnvelopedData())[0]
    eci = enveloped["encryptedContentInfo"]
    oid = str(eci["contentEncryptionAlgorithm"]["algorithm"])
    name = CIPHER_NAMES[oid]
    if name in ("aes128", "aes256"):
        return pkcs7.pkcs7_decrypt_der(der, certificate, key, []), name
    ktri = enveloped["recipientInfos"][0]["ktri"]
    serial = int(ktri["rid"]["issuerAndSerialNumber"]["serialNumber"])
    assert serial == certificate.serial_number
    cek = key.decrypt(bytes(ktri["encryptedKey"]), padding.PKCS1v15())
    iv = _octets(eci["contentEncryptionAlgorithm"]["parameters"])
    decryptor = Cipher(_cipher(name, cek), modes.CBC(iv)).decryptor()
    data = decryptor.update(bytes(eci["encryptedContent"])) + decryptor.finalize()
    unpadder = sym_padding.PKCS7(CIPHERS[name][2] * 8).unpadder()
    return unpadder.update(data) + unpadder.finalize(), name


def read_reply(
    der: bytes,
    key=None,
    certificate: x509.Certificate | None = None,
    ca_signer: x509.Certificate | None = None,
) -> Reply:
    """Verify and read a CertRep (RFC 8894, 3.3.2); decrypt it with ``key`` on SUCCESS."""
    signed = parse_signed_data(der)
    sent = [
        x509.load_der_x509_certificate(encoder.encode(c["certificate"]))
        for c in signed["certificates"]
    ]
    signer_info = signed["signerInfos"][0]
    serial = int(signer_info["sid"]["issuerAndSerialNumber"]["serialNumber"])
    signer = ca_signer or next(c for c in sent if c.serial_number == serial)
    assert signer.serial_number == serial
    attributes: dict[str, list] = {}
    order: list[str] = []
    for attribute in signer_info["signedAttrs"]:
        oid = str(attribute["attrType"])
        order.append(oid)
        attributes.setdefault(oid, []).extend(attribute["attrValues"])
    digest_oid = str(signer_info["digestAlgorithm"]["algorithm"])
    hash_name = next(n for n, o in DIGEST_OIDS.items() if o == digest_oid)
    content = None
    if signed["encapContentInfo"]["eContent"].isValue:
        content = bytes(signed["encapContentInfo"]["eContent"])
    digest = _octets(attributes[str(rfc5652.id_messageDigest)][0])
    assert digest == hashlib.new(hash_name, content or b"").digest(), "messageDigest mismatch"
    to_verify = b"\x31" + encoder.encode(signer_info["signedAttrs"])[1:]
    public_key = signer.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(
            bytes(signer_info["signature"]), to_verify, padding.PKCS1v15(), HASHES[hash_name]()
        )
    else:
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        public_key.verify(bytes(signer_info["signature"]), to_verify, ec.ECDSA(HASHES[hash_name]()))

    def one(attr) -> Any:
        values = attributes.get(str(attr))
        return values[0] if values else None

    fail_info = one(rfc8894.id_failInfo)
    fail_text = one(rfc8894.id_scep_failInfoText)
    signing_time = one(rfc5652.id_signingTime)
    reply = Reply(
        message_type=_string(one(rfc8894.id_messageType)),
        status=_string(one(rfc8894.id_pkiStatus)),
        fail_info=_string(fail_info) if fail_info is not None else None,
        fail_text=_string(fail_text) if fail_text is not None else None,
        transaction_id=_string(one(rfc8894.id_transactionID)),
        sender_nonce=_octets(one(rfc8894.id_senderNonce)),
        recipient_nonce=_octets(one(rfc8894.id_recipientNonce)),
        digest_oid=digest_oid,
        signature_oid=str(signer_info["signatureAlgorithm"]["algorithm"]),
        signer=signer,
        certificates_sent=sent,
        signing_time=(
            decoder.decode(bytes(signing_time))[0].asDateTime if signing_time is not None else None
        ),
        envelope=content,
        attribute_oids=order,
    )
    if content is not None and key is not None and certificate is not None:
        inner, reply.cipher = decrypt_envelope(content, key, certificate)
        reply.certificates, reply.crls = degenerate_contents(inner)
    return reply
