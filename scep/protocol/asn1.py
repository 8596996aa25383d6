"""ASN.1 for SCEP: the only module of the protocol layer that imports pyasn1.

SCEP messages are CMS (RFC 5652) SignedData and EnvelopedData with PKCS#10
(RFC 2986) and a handful of SCEP attributes (RFC 8894, 3.2.1).  The OIDs come
from **pyasn1-alt-modules** (``rfc5652``, ``rfc8894``, ``rfc3565``, ``rfc8018``,
``rfc4055``, ``rfc2985``); pyasn1 decodes and encodes the primitive values
(OIDs, INTEGERs, strings, times).

The *structure* of a SignedData is walked here with a small BER-aware TLV
reader instead of decoding it into pyasn1 objects, because the layer needs the
original bytes of three things that a decode/re-encode round trip can change:

* the signedAttrs field, over whose DER encoding (as a SET OF, RFC 5652, 5.4)
  the client computed its signature, in the order the client wrote them;
* each certificate of the certificates set, which ``cryptography`` loads as is
  (its signature covers the original TBSCertificate);
* the issuer Name of an IssuerAndSerialNumber, which some clients compare
  byte for byte with the certificate's.

The reader accepts BER (indefinite lengths, constructed OCTET STRINGs: some
clients stream their PKCS#7), but is bounded: nesting depth, number of
children and the input size (checked by the caller) limit the work done before
the sender is authenticated.

Everything here takes and returns plain Python values (bytes, ints, dotted
OID strings, small frozen dataclasses); errors are :class:`DecodeError`, which
callers turn into the right SCEP failure.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from pyasn1.codec.ber import decoder as ber_decoder
from pyasn1.codec.der import encoder as der_encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import char, univ, useful
from pyasn1_alt_modules import rfc2985, rfc3565, rfc4055, rfc5652, rfc8018, rfc8894

__all__ = [
    "OID",
    "AlgorithmId",
    "DecodeError",
    "EnvelopedDataParts",
    "RecipientParts",
    "SignedDataParts",
    "SignerInfoParts",
    "decode_enveloped_data",
    "decode_signed_data",
]

#: Nesting depth accepted in a message (a SignedData with an EnvelopedData,
#: certificates and attributes needs about a dozen levels).
MAX_DEPTH = 32
#: Children of one constructed value (RDNs, attributes, extensions...).
MAX_CHILDREN = 256


class DecodeError(ValueError):
    """The bytes are not the ASN.1 structure expected."""


class OID:
    """Dotted-string OIDs the protocol layer compares against."""

    data = str(rfc5652.id_data)  # 1.2.840.113549.1.7.1
    signed_data = str(rfc5652.id_signedData)  # 1.2.840.113549.1.7.2
    enveloped_data = str(rfc5652.id_envelopedData)  # 1.2.840.113549.1.7.3
    content_type = str(rfc5652.id_contentType)  # 1.2.840.113549.1.9.3
    message_digest = str(rfc5652.id_messageDigest)  # 1.2.840.113549.1.9.4
    signing_time = str(rfc5652.id_signingTime)  # 1.2.840.113549.1.9.5
    challenge_password = str(rfc2985.pkcs_9_at_challengePassword)  # 1.2.840.113549.1.9.7
    # RFC 8894, 3.2.1: the SCEP signed attributes
    transaction_id = str(rfc8894.id_transactionID)  # 2.16.840.1.113733.1.9.7
    message_type = str(rfc8894.id_messageType)  # 2.16.840.1.113733.1.9.2
    pki_status = str(rfc8894.id_pkiStatus)  # 2.16.840.1.113733.1.9.3
    fail_info = str(rfc8894.id_failInfo)  # 2.16.840.1.113733.1.9.4
    sender_nonce = str(rfc8894.id_senderNonce)  # 2.16.840.1.113733.1.9.5
    recipient_nonce = str(rfc8894.id_recipientNonce)  # 2.16.840.1.113733.1.9.6
    fail_info_text = str(rfc8894.id_scep_failInfoText)  # 1.3.6.1.5.5.7.24.1
    # digests
    sha1 = str(rfc4055.id_sha1)
    sha224 = str(rfc4055.id_sha224)
    sha256 = str(rfc4055.id_sha256)
    sha384 = str(rfc4055.id_sha384)
    sha512 = str(rfc4055.id_sha512)
    md5 = "1.2.840.113549.2.5"
    # signatures
    rsa_encryption = "1.2.840.113549.1.1.1"
    sha1_with_rsa = "1.2.840.113549.1.1.5"
    sha256_with_rsa = str(rfc4055.sha256WithRSAEncryption)  # 1.2.840.113549.1.1.11
    sha384_with_rsa = str(rfc4055.sha384WithRSAEncryption)
    sha512_with_rsa = str(rfc4055.sha512WithRSAEncryption)
    rsassa_pss = str(rfc4055.id_RSASSA_PSS)
    ecdsa_with_sha1 = "1.2.840.10045.4.1"
    ecdsa_with_sha256 = "1.2.840.10045.4.3.2"
    ecdsa_with_sha384 = "1.2.840.10045.4.3.3"
    ecdsa_with_sha512 = "1.2.840.10045.4.3.4"
    # key transport
    rsaes_oaep = str(rfc4055.id_RSAES_OAEP)  # 1.2.840.113549.1.1.7
    mgf1 = str(rfc4055.id_mgf1)
    p_specified = str(rfc4055.id_pSpecified)
    # content encryption
    aes128_cbc = str(rfc3565.id_aes128_CBC)
    aes192_cbc = str(rfc3565.id_aes192_CBC)
    aes256_cbc = str(rfc3565.id_aes256_CBC)
    des_ede3_cbc = str(rfc8018.des_EDE3_CBC)  # 1.2.840.113549.3.7
    des_cbc = str(rfc8018.desCBC)  # 1.3.14.3.2.7


# --------------------------------------------------------------------------- TLV reader


@dataclass(frozen=True, slots=True)
class _TLV:
    """One BER TLV of ``data``: tag byte and offsets (content_end < end for indefinite)."""

    tag: int
    start: int
    content: int
    content_end: int
    end: int

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    @property
    def definite(self) -> bool:
        return self.content_end == self.end


def _read(data: bytes, offset: int, limit: int, depth: int = 0) -> _TLV:
    if depth > MAX_DEPTH:
        raise DecodeError("nesting too deep")
    if offset + 2 > limit:
        raise DecodeError("truncated TLV")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise DecodeError("high tag numbers are not used in SCEP")
    first = data[offset + 1]
    pos = offset + 2
    if first == 0x80:
        # BER indefinite length: children up to the end-of-contents octets.
        if not tag & 0x20:
            raise DecodeError("indefinite length on a primitive value")
        count = 0
        while True:
            if pos + 2 > limit:
                raise DecodeError("truncated indefinite-length value")
            if data[pos] == 0 and data[pos + 1] == 0:
                return _TLV(tag, offset, offset + 2, pos, pos + 2)
            pos = _read(data, pos, limit, depth + 1).end
            count += 1
            if count > MAX_CHILDREN:
                raise DecodeError("too many children")
    if first < 0x80:
        length = first
    else:
        size = first & 0x7F
        if size > 4 or pos + size > limit:
            raise DecodeError("bad length")
        length = int.from_bytes(data[pos : pos + size], "big")
        pos += size
    end = pos + length
    if end > limit:
        raise DecodeError("truncated TLV")
    return _TLV(tag, offset, pos, end, end)


def _children(data: bytes, parent: _TLV, depth: int = 0) -> list[_TLV]:
    out: list[_TLV] = []
    pos = parent.content
    while pos < parent.content_end:
        child = _read(data, pos, parent.content_end, depth + 1)
        out.append(child)
        if len(out) > MAX_CHILDREN:
            raise DecodeError("too many children")
        pos = child.end
    return out


def _top(data: bytes, tag: int) -> _TLV:
    """The single TLV that must make up all of ``data``."""
    top = _read(data, 0, len(data))
    if top.tag != tag:
        raise DecodeError(f"expected tag 0x{tag:02x}, found 0x{top.tag:02x}")
    if top.end != len(data):
        raise DecodeError("trailing data")
    return top


def _expect(node: _TLV, tag: int, what: str) -> _TLV:
    if node.tag != tag:
        raise DecodeError(f"{what}: expected tag 0x{tag:02x}, found 0x{node.tag:02x}")
    return node


def _raw(data: bytes, node: _TLV) -> bytes:
    return data[node.start : node.end]


def _octets(data: bytes, node: _TLV, depth: int = 0) -> bytes:
    """Content of an OCTET STRING (any tag), joining BER constructed segments."""
    if not node.constructed:
        return data[node.content : node.content_end]
    return b"".join(_octets(data, c, depth + 1) for c in _children(data, node, depth))


def _decode_value(raw: bytes, spec=None):
    try:
        if spec is None:
            value, rest = ber_decoder.decode(raw)
        else:
            value, rest = ber_decoder.decode(raw, asn1Spec=spec)
    except PyAsn1Error as exc:
        raise DecodeError(str(exc)[:200]) from exc
    if rest:
        raise DecodeError("trailing data")
    return value


def _oid(data: bytes, node: _TLV) -> str:
    _expect(node, 0x06, "OBJECT IDENTIFIER")
    return str(_decode_value(_raw(data, node), univ.ObjectIdentifier()))


def _integer(data: bytes, node: _TLV) -> int:
    _expect(node, 0x02, "INTEGER")
    return int(_decode_value(_raw(data, node), univ.Integer()))


def tlv(tag: int, content: bytes) -> bytes:
    """Encode one DER TLV with a single-byte ``tag``."""
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def retag(der: bytes, tag: int) -> bytes:
    """Replace the (single-byte) outer tag of ``der``: apply or undo an IMPLICIT tag."""
    return bytes([tag]) + der[1:]


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class AlgorithmId:
    """An AlgorithmIdentifier: dotted OID and the DER of its parameters (None: absent)."""

    oid: str
    parameters: bytes | None = None


def _algorithm(data: bytes, node: _TLV) -> AlgorithmId:
    parts = _children(data, _expect(node, 0x30, "AlgorithmIdentifier"))
    if not 1 <= len(parts) <= 2:
        raise DecodeError("AlgorithmIdentifier needs an OID and at most one parameter")
    params = _raw(data, parts[1]) if len(parts) == 2 else None
    return AlgorithmId(_oid(data, parts[0]), params)


def decode_algorithm(der: bytes) -> AlgorithmId:
    return _algorithm(der, _top(der, 0x30))


_STRING_TYPES = (
    char.PrintableString,
    char.UTF8String,
    char.IA5String,
    char.TeletexString,
    char.BMPString,
    char.UniversalString,
    char.VisibleString,
)


def decode_string(der: bytes) -> str:
    """A PrintableString (or another character string a lenient client sends) as str."""
    value = _decode_value(der)
    if not isinstance(value, _STRING_TYPES):
        raise DecodeError("not a character string")
    try:
        return str(value)
    except (PyAsn1Error, UnicodeError) as exc:
        raise DecodeError("undecodable character string") from exc


def decode_octet_string(der: bytes) -> bytes:
    if not der or der[0] not in (0x04, 0x24):
        raise DecodeError("not an OCTET STRING")
    return _octets(der, _top(der, der[0]))


def decode_oid(der: bytes) -> str:
    return _oid(der, _top(der, 0x06))


def decode_time(der: bytes) -> datetime.datetime:
    """A UTCTime or GeneralizedTime (signingTime, RFC 5652, 11.3) as an aware datetime."""
    value = _decode_value(der)
    if not isinstance(value, useful.UTCTime | useful.GeneralizedTime):
        raise DecodeError("not a UTCTime or GeneralizedTime")
    try:
        moment = value.asDateTime
    except (PyAsn1Error, ValueError) as exc:
        raise DecodeError("bad time value") from exc
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def decode_oaep_parameters(der: bytes | None) -> tuple[str, str, bytes]:
    """(hash OID, MGF1 hash OID, label) of RSAES-OAEP-params, RFC 4055, 4.1.

    Absent fields take the defaults: SHA-1, MGF1 with SHA-1, empty label.
    """
    hash_oid = mgf_hash = OID.sha1
    label = b""
    if der is None or der == b"\x05\x00":
        return hash_oid, mgf_hash, label
    top = _top(der, 0x30)
    for field in _children(der, top):
        inner = _children(der, field)
        if len(inner) != 1:
            raise DecodeError("bad RSAES-OAEP-params field")
        if field.tag == 0xA0:
            hash_oid = _algorithm(der, inner[0]).oid
        elif field.tag == 0xA1:
            mgf = _algorithm(der, inner[0])
            if mgf.oid != OID.mgf1 or mgf.parameters is None:
                raise DecodeError(f"mask generation function {mgf.oid} is not MGF1")
            mgf_hash = decode_algorithm(mgf.parameters).oid
        elif field.tag == 0xA2:
            source = _algorithm(der, inner[0])
            if source.oid != OID.p_specified or source.parameters is None:
                raise DecodeError("pSourceFunc is not pSpecified")
            label = decode_octet_string(source.parameters)
        else:
            raise DecodeError("unknown RSAES-OAEP-params field")
    return hash_oid, mgf_hash, label


# --------------------------------------------------------------------------- SignedData


@dataclass(frozen=True)
class SignerInfoParts:
    """One SignerInfo, RFC 5652, 5.3, with the original bytes of its signedAttrs.

    The signer is named by ``issuer_der`` + ``serial_number`` (issuerAndSerialNumber)
    or by ``subject_key_id``.  ``signed_attrs_der`` is the DER SET OF the
    signature was computed over (the [0] IMPLICIT tag replaced by SET, RFC
    5652, 5.4), None when the SignerInfo has no signed attributes.
    ``attributes`` maps each attribute type to the DER of its values.
    """

    issuer_der: bytes | None
    serial_number: int | None
    subject_key_id: bytes | None
    digest_algorithm: AlgorithmId
    signed_attrs_der: bytes | None
    attributes: tuple[tuple[str, tuple[bytes, ...]], ...]
    signature_algorithm: AlgorithmId
    signature: bytes

    def values(self, oid: str) -> tuple[bytes, ...]:
        """The DER values of every attribute of type ``oid`` (usually one or none)."""
        out: list[bytes] = []
        for attr_oid, values in self.attributes:
            if attr_oid == oid:
                out.extend(values)
        return tuple(out)

    def count(self, oid: str) -> int:
        """How many attributes of type ``oid`` there are (RFC 5652, 5.3: at most one)."""
        return sum(1 for attr_oid, _ in self.attributes if attr_oid == oid)


@dataclass(frozen=True)
class SignedDataParts:
    """A ContentInfo with a SignedData, RFC 5652, 5.1, as plain values."""

    digest_algorithms: tuple[AlgorithmId, ...]
    content_type: str
    content: bytes | None
    certificates: tuple[bytes, ...]
    crls: tuple[bytes, ...]
    signer_infos: tuple[SignerInfoParts, ...]


def _content_info(data: bytes, expected: str) -> _TLV:
    """The content (inside [0] EXPLICIT) of a ContentInfo of type ``expected``."""
    top = _top(data, 0x30)
    parts = _children(data, top)
    if len(parts) != 2:
        raise DecodeError("ContentInfo needs a contentType and a content")
    content_type = _oid(data, parts[0])
    if content_type != expected:
        raise DecodeError(f"contentType is {content_type}, expected {expected}")
    inner = _children(data, _expect(parts[1], 0xA0, "ContentInfo content"))
    if len(inner) != 1:
        raise DecodeError("ContentInfo content must hold one value")
    return inner[0]


def _issuer_and_serial(data: bytes, node: _TLV) -> tuple[bytes, int]:
    parts = _children(data, _expect(node, 0x30, "IssuerAndSerialNumber"))
    if len(parts) != 2:
        raise DecodeError("IssuerAndSerialNumber needs an issuer and a serialNumber")
    return _raw(data, _expect(parts[0], 0x30, "issuer")), _integer(data, parts[1])


def _attributes(data: bytes, node: _TLV, limit: int) -> tuple[tuple[str, tuple[bytes, ...]], ...]:
    out = []
    items = _children(data, node)
    if len(items) > limit:
        raise DecodeError(f"more than {limit} signed attributes")
    for item in items:
        parts = _children(data, _expect(item, 0x30, "Attribute"))
        if len(parts) != 2:
            raise DecodeError("Attribute needs a type and a set of values")
        values = _children(data, _expect(parts[1], 0x31, "attrValues"))
        out.append((_oid(data, parts[0]), tuple(_raw(data, v) for v in values)))
    return tuple(out)


def _signer_info(data: bytes, node: _TLV, max_attributes: int) -> SignerInfoParts:
    parts = _children(data, _expect(node, 0x30, "SignerInfo"))
    if len(parts) < 5:
        raise DecodeError("SignerInfo is too short")
    _integer(data, parts[0])  # version: 1 (issuerAndSerialNumber) or 3 (subjectKeyIdentifier)
    sid = parts[1]
    issuer_der: bytes | None = None
    serial: int | None = None
    ski: bytes | None = None
    if sid.tag == 0x30:
        issuer_der, serial = _issuer_and_serial(data, sid)
    elif sid.tag in (0x80, 0xA0):
        ski = _octets(data, sid)
    else:
        raise DecodeError("unknown SignerIdentifier")
    digest = _algorithm(data, parts[2])
    index = 3
    signed_der: bytes | None = None
    attributes: tuple[tuple[str, tuple[bytes, ...]], ...] = ()
    if parts[index].tag == 0xA0:
        signed = parts[index]
        if not signed.definite:
            # RFC 5652, 5.3: signedAttrs are DER-encoded; the signature covers that encoding.
            raise DecodeError("signedAttrs are not DER-encoded")
        signed_der = retag(_raw(data, signed), 0x31)
        attributes = _attributes(data, signed, max_attributes)
        index += 1
    if len(parts) < index + 2:
        raise DecodeError("SignerInfo lacks signatureAlgorithm or signature")
    signature_algorithm = _algorithm(data, parts[index])
    if parts[index + 1].tag not in (0x04, 0x24):
        raise DecodeError("signature is not an OCTET STRING")
    signature = _octets(data, parts[index + 1])
    return SignerInfoParts(
        issuer_der=issuer_der,
        serial_number=serial,
        subject_key_id=ski,
        digest_algorithm=digest,
        signed_attrs_der=signed_der,
        attributes=attributes,
        signature_algorithm=signature_algorithm,
        signature=signature,
    )


def decode_signed_data(
    der: bytes, *, max_certificates: int = 10, max_signers: int = 1, max_attributes: int = 32
) -> SignedDataParts:
    """Read a ContentInfo holding a SignedData (RFC 5652, 5.1); DecodeError if it is not one.

    At most ``max_certificates`` certificates, ``max_signers`` SignerInfos and
    ``max_attributes`` signed attributes per signer are accepted.
    """
    sd = _expect(_content_info(der, OID.signed_data), 0x30, "SignedData")
    parts = _children(der, sd)
    if len(parts) < 4:
        raise DecodeError("SignedData is too short")
    _integer(der, parts[0])
    digests = tuple(
        _algorithm(der, c) for c in _children(der, _expect(parts[1], 0x31, "digestAlgorithms"))
    )
    encap = _children(der, _expect(parts[2], 0x30, "encapContentInfo"))
    if not 1 <= len(encap) <= 2:
        raise DecodeError("bad encapContentInfo")
    content_type = _oid(der, encap[0])
    content: bytes | None = None
    if len(encap) == 2:
        inner = _children(der, _expect(encap[1], 0xA0, "eContent"))
        if len(inner) != 1 or inner[0].tag not in (0x04, 0x24):
            raise DecodeError("eContent is not an OCTET STRING")
        content = _octets(der, inner[0])
    certificates: list[bytes] = []
    crls: list[bytes] = []
    index = 3
    while index < len(parts) - 1:
        node = parts[index]
        if node.tag == 0xA0:
            for cert in _children(der, node):
                # CertificateChoices: only plain certificates (a SEQUENCE) are used.
                if cert.tag == 0x30:
                    certificates.append(_raw(der, cert))
                if len(certificates) > max_certificates:
                    raise DecodeError(f"more than {max_certificates} certificates")
        elif node.tag == 0xA1:
            crls.extend(_raw(der, c) for c in _children(der, node) if c.tag == 0x30)
        else:
            raise DecodeError("unexpected field in SignedData")
        index += 1
    signers = _children(der, _expect(parts[-1], 0x31, "signerInfos"))
    if len(signers) > max_signers:
        raise DecodeError(f"more than {max_signers} SignerInfo")
    return SignedDataParts(
        digest_algorithms=digests,
        content_type=content_type,
        content=content,
        certificates=tuple(certificates),
        crls=tuple(crls),
        signer_infos=tuple(_signer_info(der, s, max_attributes) for s in signers),
    )


# --------------------------------------------------------------------------- EnvelopedData


@dataclass(frozen=True)
class RecipientParts:
    """A KeyTransRecipientInfo, RFC 5652, 6.2.1."""

    issuer_der: bytes | None
    serial_number: int | None
    subject_key_id: bytes | None
    key_encryption: AlgorithmId
    encrypted_key: bytes


@dataclass(frozen=True)
class EnvelopedDataParts:
    """A ContentInfo with an EnvelopedData, RFC 5652, 6.1.

    ``recipients`` holds the key transport recipients only (other
    RecipientInfo choices are skipped, ``other_recipients`` counts them).
    """

    recipients: tuple[RecipientParts, ...]
    other_recipients: int
    content_type: str
    content_encryption: AlgorithmId
    encrypted_content: bytes | None


def decode_enveloped_data(der: bytes, *, max_recipients: int = 10) -> EnvelopedDataParts:
    """Read a ContentInfo holding an EnvelopedData; DecodeError if it is not one."""
    ed = _expect(_content_info(der, OID.enveloped_data), 0x30, "EnvelopedData")
    parts = _children(der, ed)
    if len(parts) < 3:
        raise DecodeError("EnvelopedData is too short")
    _integer(der, parts[0])
    index = 1
    if parts[index].tag == 0xA0:  # originatorInfo
        index += 1
    infos = _children(der, _expect(parts[index], 0x31, "recipientInfos"))
    if len(infos) > max_recipients:
        raise DecodeError(f"more than {max_recipients} recipients")
    recipients: list[RecipientParts] = []
    others = 0
    for info in infos:
        if info.tag != 0x30:  # kari [1], kekri [2], pwri [3], ori [4]
            others += 1
            continue
        fields = _children(der, info)
        if len(fields) != 4:
            raise DecodeError("bad KeyTransRecipientInfo")
        _integer(der, fields[0])
        issuer_der: bytes | None = None
        serial: int | None = None
        ski: bytes | None = None
        if fields[1].tag == 0x30:
            issuer_der, serial = _issuer_and_serial(der, fields[1])
        elif fields[1].tag in (0x80, 0xA0):
            ski = _octets(der, fields[1])
        else:
            raise DecodeError("unknown RecipientIdentifier")
        if fields[3].tag not in (0x04, 0x24):
            raise DecodeError("encryptedKey is not an OCTET STRING")
        recipients.append(
            RecipientParts(
                issuer_der=issuer_der,
                serial_number=serial,
                subject_key_id=ski,
                key_encryption=_algorithm(der, fields[2]),
                encrypted_key=_octets(der, fields[3]),
            )
        )
    eci = _children(der, _expect(parts[index + 1], 0x30, "encryptedContentInfo"))
    if not 2 <= len(eci) <= 3:
        raise DecodeError("bad EncryptedContentInfo")
    encrypted: bytes | None = None
    if len(eci) == 3:
        if eci[2].tag not in (0x80, 0xA0):
            raise DecodeError("encryptedContent is not [0] IMPLICIT OCTET STRING")
        encrypted = _octets(der, eci[2])
    return EnvelopedDataParts(
        recipients=tuple(recipients),
        other_recipients=others,
        content_type=_oid(der, eci[0]),
        content_encryption=_algorithm(der, eci[1]),
        encrypted_content=encrypted,
    )


# --------------------------------------------------------------------------- payloads


def decode_issuer_and_serial(der: bytes) -> tuple[bytes, int]:
    """(issuer DER, serialNumber) of an IssuerAndSerialNumber (GetCert, GetCRL; RFC 8894, 3.3.4)."""
    return _issuer_and_serial(der, _top(der, 0x30))


def decode_issuer_and_subject(der: bytes) -> tuple[bytes, bytes]:
    """(issuer DER, subject DER) of an IssuerAndSubject (CertPoll, RFC 8894, 3.3.3)."""
    parts = _children(der, _top(der, 0x30))
    if len(parts) != 2:
        raise DecodeError("IssuerAndSubject needs an issuer and a subject")
    return (
        _raw(der, _expect(parts[0], 0x30, "issuer")),
        _raw(der, _expect(parts[1], 0x30, "subject")),
    )


def challenge_passwords(csr_der: bytes) -> tuple[str, ...]:
    """Every challengePassword value in a PKCS#10 request (RFC 2985, 5.4.1; RFC 2986, 4.1)."""
    request = _children(csr_der, _top(csr_der, 0x30))
    if len(request) != 3:
        raise DecodeError("CertificationRequest needs info, algorithm and signature")
    info = _children(csr_der, _expect(request[0], 0x30, "CertificationRequestInfo"))
    out: list[str] = []
    for node in info[3:]:
        if node.tag != 0xA0:
            continue
        for attribute in _children(csr_der, node):
            parts = _children(csr_der, _expect(attribute, 0x30, "Attribute"))
            if len(parts) != 2 or _oid(csr_der, parts[0]) != OID.challenge_password:
                continue
            for value in _children(csr_der, _expect(parts[1], 0x31, "values")):
                out.append(decode_string(_raw(csr_der, value)))
    return tuple(out)


def certificate_issuer_and_serial(cert_der: bytes) -> tuple[bytes, int]:
    """The original issuer Name DER and serialNumber of a certificate (RFC 5280, 4.1)."""
    cert = _children(cert_der, _top(cert_der, 0x30))
    if not cert:
        raise DecodeError("a certificate needs a TBSCertificate")
    tbs = _children(cert_der, _expect(cert[0], 0x30, "TBSCertificate"))
    index = 1 if tbs and tbs[0].tag == 0xA0 else 0
    if len(tbs) < index + 3:
        raise DecodeError("a TBSCertificate needs a serialNumber, a signature and an issuer")
    serial = _integer(cert_der, _expect(tbs[index], 0x02, "serialNumber"))
    return _raw(cert_der, _expect(tbs[index + 2], 0x30, "issuer")), serial


def name_shell(name_der: bytes) -> bytes:
    """An *unsigned* PKCS#10 request whose subject is ``name_der``.

    Only so that ``cryptography`` parses a Name (of an IssuerAndSubject or an
    IssuerAndSerialNumber) with its own strict parser: it has no public API for
    a bare Name.  The key and signature are empty and never looked at.
    """
    _top(name_der, 0x30)
    rsa = encode_algorithm(OID.rsa_encryption, b"\x05\x00")
    spki = tlv(0x30, rsa + tlv(0x03, b"\x00"))
    info = tlv(0x30, b"\x02\x01\x00" + name_der + spki + tlv(0xA0, b""))
    return tlv(0x30, info + encode_algorithm(OID.sha256_with_rsa, b"\x05\x00") + tlv(0x03, b"\x00"))


# --------------------------------------------------------------------------- encoding


def encode_oid(oid: str) -> bytes:
    return der_encoder.encode(univ.ObjectIdentifier(oid))


def encode_integer(value: int) -> bytes:
    return der_encoder.encode(univ.Integer(value))


def encode_octet_string(value: bytes) -> bytes:
    return tlv(0x04, value)


def encode_printable_string(value: str) -> bytes:
    """PrintableString; ValueError for characters outside its alphabet (X.680, 41.4)."""
    return der_encoder.encode(char.PrintableString(value))


def encode_utf8_string(value: str) -> bytes:
    return der_encoder.encode(char.UTF8String(value))


def encode_time(moment: datetime.datetime) -> bytes:
    """UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5652, 11.3)."""
    moment = moment.astimezone(datetime.UTC)
    if 1950 <= moment.year < 2050:
        return tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return tlv(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def encode_algorithm(oid: str, parameters: bytes | None = None) -> bytes:
    return tlv(0x30, encode_oid(oid) + (parameters or b""))


def encode_set_of(elements: list[bytes] | tuple[bytes, ...]) -> bytes:
    """A DER SET OF: the elements' encodings in ascending order (X.690, 11.6)."""
    return tlv(0x31, b"".join(sorted(elements)))


def encode_attribute(oid: str, values: list[bytes] | tuple[bytes, ...]) -> bytes:
    """Attribute ::= SEQUENCE { attrType, attrValues SET OF AttributeValue } (RFC 5652, 5.3)."""
    return tlv(0x30, encode_oid(oid) + encode_set_of(values))


def encode_signer_info(
    *,
    issuer_der: bytes,
    serial_number: int,
    digest_algorithm: bytes,
    signed_attrs_der: bytes,
    signature_algorithm: bytes,
    signature: bytes,
) -> bytes:
    """SignerInfo version 1 with issuerAndSerialNumber (RFC 5652, 5.3).

    ``signed_attrs_der`` is the DER SET OF that was signed; it is stored with
    its [0] IMPLICIT tag.
    """
    return tlv(
        0x30,
        encode_integer(1)
        + tlv(0x30, issuer_der + encode_integer(serial_number))
        + digest_algorithm
        + retag(signed_attrs_der, 0xA0)
        + signature_algorithm
        + encode_octet_string(signature),
    )


def encode_signed_data(
    *,
    digest_algorithms: list[bytes] | tuple[bytes, ...] = (),
    content_type: str = OID.data,
    content: bytes | None = None,
    certificates: list[bytes] | tuple[bytes, ...] = (),
    crls: list[bytes] | tuple[bytes, ...] = (),
    signer_infos: list[bytes] | tuple[bytes, ...] = (),
) -> bytes:
    """A ContentInfo with a SignedData (RFC 5652, 5.1).

    ``certificates`` and ``crls`` are written in the order given, not sorted:
    SCEP clients take the first certificate of a CertRep's degenerate PKCS#7
    as the one issued to them.  Without signers this is the degenerate
    certificates-only SignedData of RFC 8894, 3.4.
    """
    encap = encode_oid(content_type)
    if content is not None:
        encap += tlv(0xA0, encode_octet_string(content))
    body = encode_integer(1) + encode_set_of(digest_algorithms) + tlv(0x30, encap)
    if certificates:
        body += tlv(0xA0, b"".join(certificates))
    if crls:
        body += tlv(0xA1, b"".join(crls))
    body += encode_set_of(signer_infos)
    return tlv(0x30, encode_oid(OID.signed_data) + tlv(0xA0, tlv(0x30, body)))


def encode_key_trans_recipient(
    *, issuer_der: bytes, serial_number: int, key_encryption: bytes, encrypted_key: bytes
) -> bytes:
    """KeyTransRecipientInfo version 0 with issuerAndSerialNumber (RFC 5652, 6.2.1)."""
    return tlv(
        0x30,
        encode_integer(0)
        + tlv(0x30, issuer_der + encode_integer(serial_number))
        + key_encryption
        + encode_octet_string(encrypted_key),
    )


def encode_enveloped_data(
    *, recipients: list[bytes] | tuple[bytes, ...], content_encryption: bytes, encrypted: bytes
) -> bytes:
    """A ContentInfo with an EnvelopedData version 0 of id-data content (RFC 5652, 6.1)."""
    eci = encode_oid(OID.data) + content_encryption + tlv(0x80, encrypted)
    body = encode_integer(0) + encode_set_of(recipients) + tlv(0x30, eci)
    return tlv(0x30, encode_oid(OID.enveloped_data) + tlv(0xA0, tlv(0x30, body)))


def encode_issuer_and_serial(issuer_der: bytes, serial_number: int) -> bytes:
    return tlv(0x30, issuer_der + encode_integer(serial_number))


def encode_issuer_and_subject(issuer_der: bytes, subject_der: bytes) -> bytes:
    return tlv(0x30, issuer_der + subject_der)
