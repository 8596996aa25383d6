"""ASN.1 for CMP: the only module of the protocol layer that imports pyasn1.

Choice of library: pyasn1 with **pyasn1-alt-modules**, the maintained superset of
pyasn1-modules kept by the RFC authors.  pyasn1-modules 0.4.2 lacks the CMPv3
types (RFC 9480/9810: pvno 3 ``cmp2021``, ``hashAlg`` in CertStatus, the new
InfoTypeAndValue OIDs) and its rfc2511 GeneralName is a placeholder that cannot
decode an ``rp``.  We use ``pyasn1_alt_modules.rfc9810`` (the RFC 9810 revision
of the ``rfc9480`` module of the same package: same wire structures for the
bodies we serve, plus the corrected CertResponse/CertRepMessage and the v3
``ckuann``), ``rfc4211`` (CRMF), ``rfc5280``, ``rfc4210`` (PBMParameter) and
``rfc8018`` (PBKDF2/PBMAC1).  OIDs come from ``rfc9481`` where it has them.

What this module offers to the rest of the layer:

* :func:`split_message` and :func:`read_header` read a PKIMessage with a small
  TLV reader, no ASN.1 decoder: the parts keep their *original* DER (the MAC or
  signature covers DER(ProtectedPart) exactly as the sender produced it), and
  every count and size is checked against the ``MAX_*`` limits before anything
  is decoded, so that a message costs little before its sender is authenticated;
* :func:`decode_body` decodes a body with pyasn1 once the protection verified,
  after :func:`check_structure` bounded its nesting and size; :func:`undecodable`
  turns a parser failure while its values are read into a CMP error;
* :func:`cert_request_ders` returns the original DER of each ``certReq`` of a
  CertReqMessages body, over which a signature POP is computed (RFC 4211, 4.1);
* small encoders that take plain Python values (bytes, ints, DER blobs) and
  return DER, so that :mod:`.encode` can build responses without pyasn1 types.
"""

from __future__ import annotations

import contextlib
import datetime
import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from pyasn1.codec.der import decoder as der_decoder
from pyasn1.codec.der import encoder as der_encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import univ
from pyasn1_alt_modules import rfc4055, rfc4211, rfc5280, rfc8018, rfc9481, rfc9810

from .errors import BadAlg, BadDataFormat


class OID:
    """Dotted-string OIDs the protocol layer compares against."""

    password_based_mac = str(rfc9481.id_PasswordBasedMac)  # 1.2.840.113533.7.66.13
    pbmac1 = str(rfc9481.id_PBMAC1)  # 1.2.840.113549.1.5.14
    pbkdf2 = str(rfc9481.id_PBKDF2)  # 1.2.840.113549.1.5.12
    sha1 = "1.3.14.3.2.26"
    sha224 = str(rfc9481.id_sha224)
    sha256 = str(rfc9481.id_sha256)
    sha384 = str(rfc9481.id_sha384)
    sha512 = str(rfc9481.id_sha512)
    hmac_sha1 = "1.3.6.1.5.5.8.1.2"  # RFC 9481, 6.1.1 (id-hmacWithSHA1 of RFC 8018 also accepted)
    hmac_with_sha1 = str(rfc8018.id_hmacWithSHA1)
    hmac_with_sha224 = str(rfc9481.id_hmacWithSHA224)
    hmac_with_sha256 = str(rfc9481.id_hmacWithSHA256)
    hmac_with_sha384 = str(rfc9481.id_hmacWithSHA384)
    hmac_with_sha512 = str(rfc9481.id_hmacWithSHA512)
    shake128 = str(rfc9481.id_shake128)  # 2.16.840.1.101.3.4.2.11
    shake256 = str(rfc9481.id_shake256)  # 2.16.840.1.101.3.4.2.12
    # RFC 9481, 3.1: RSA signatures
    sha224_with_rsa = "1.2.840.113549.1.1.14"
    sha256_with_rsa = "1.2.840.113549.1.1.11"
    sha384_with_rsa = "1.2.840.113549.1.1.12"
    sha512_with_rsa = "1.2.840.113549.1.1.13"
    rsassa_pss = str(rfc9481.id_RSASSA_PSS)  # 1.2.840.113549.1.1.10
    mgf1 = "1.2.840.113549.1.1.8"  # RFC 4055, 2.2
    rsassa_pss_shake128 = str(rfc9481.id_RSASSA_PSS_SHAKE128)  # 1.3.6.1.5.5.7.6.30
    rsassa_pss_shake256 = str(rfc9481.id_RSASSA_PSS_SHAKE256)  # 1.3.6.1.5.5.7.6.31
    # RFC 9481, 3.2: ECDSA
    ecdsa_with_sha224 = "1.2.840.10045.4.3.1"
    ecdsa_with_sha256 = "1.2.840.10045.4.3.2"
    ecdsa_with_sha384 = "1.2.840.10045.4.3.3"
    ecdsa_with_sha512 = "1.2.840.10045.4.3.4"
    ecdsa_with_shake128 = str(rfc9481.id_ecdsa_with_shake128)  # 1.3.6.1.5.5.7.6.32
    ecdsa_with_shake256 = str(rfc9481.id_ecdsa_with_shake256)  # 1.3.6.1.5.5.7.6.33
    # RFC 9481, 3.3: EdDSA (RFC 8410, 3: the OIDs name the key type too)
    ed25519 = str(rfc9481.id_Ed25519)  # 1.3.101.112
    ed448 = str(rfc9481.id_Ed448)  # 1.3.101.113
    # RFC 9481, 5: AES-CBC (genm preferredSymmAlg)
    aes256_cbc = str(rfc9481.id_aes256_CBC)  # 2.16.840.1.101.3.4.1.42
    implicit_confirm = str(rfc9810.id_it_implicitConfirm)  # 1.3.6.1.5.5.7.4.13
    confirm_wait_time = str(rfc9810.id_it_confirmWaitTime)
    extension_request = "1.2.840.113549.1.9.14"
    rsa_encryption = "1.2.840.113549.1.1.1"
    ec_public_key = "1.2.840.10045.2.1"
    reason_code = "2.5.29.21"  # RFC 5280, 5.3.1
    invalidity_date = "2.5.29.24"  # RFC 5280, 5.3.2
    # RFC 4211, 6.5 / RFC 9483, 4.1.3: the certificate a kur replaces
    reg_ctrl_old_cert_id = str(rfc4211.id_regCtrl_oldCertID)  # 1.3.6.1.5.5.7.5.1.5
    # RFC 9483, 4.3.3: keySpec controls of a certReqTemplate
    reg_ctrl_alg_id = str(rfc9810.id_regCtrl_algId)  # 1.3.6.1.5.5.7.5.1.11
    reg_ctrl_rsa_key_len = str(rfc9810.id_regCtrl_rsaKeyLen)  # 1.3.6.1.5.5.7.5.1.12
    # RFC 9810, 5.3.19 / RFC 9483, 4.3: InfoTypeAndValue types of genm/genp
    it_ca_prot_enc_cert = str(rfc9810.id_it_caProtEncCert)  # id-it 1
    it_sign_key_pair_types = str(rfc9810.id_it_signKeyPairTypes)  # id-it 2
    it_enc_key_pair_types = str(rfc9810.id_it_encKeyPairTypes)  # id-it 3
    it_preferred_symm_alg = str(rfc9810.id_it_preferredSymmAlg)  # id-it 4
    it_current_crl = str(rfc9810.id_it_currentCRL)  # id-it 6
    it_supp_lang_tags = str(rfc9810.id_it_suppLangTags)  # id-it 16
    it_ca_certs = str(rfc9810.id_it_caCerts)  # id-it 17
    it_root_ca_key_update = str(rfc9810.id_it_rootCaKeyUpdate)  # id-it 18
    it_cert_req_template = str(rfc9810.id_it_certReqTemplate)  # id-it 19
    it_root_ca_cert = str(rfc9810.id_it_rootCaCert)  # id-it 20
    it_crl_status_list = str(rfc9810.id_it_crlStatusList)  # id-it 22
    it_crls = str(rfc9810.id_it_crls)  # id-it 23


# --------------------------------------------------------------------------- limits

# RFC 9810 sets no size limits.  These bound the work done on a message before its
# sender is authenticated (each is checked by walking TLVs, before any ASN.1
# decoding) and the size of what is echoed, logged or stored.  A request of the
# RFC 9483 profile stays far below every one of them.

#: A request carries one CertReqMsg, CSR or RevDetails and a few certificates.
MAX_MESSAGE_SIZE = 256 * 1024
#: Two names, nonces and a few generalInfo items.
MAX_HEADER_SIZE = 8 * 1024
#: sender / recipient; the RFC 5280 upper bounds keep a real DN far below this.
MAX_NAME_SIZE = 2 * 1024
#: freeText strings (RFC 9810, 5.1.1: text for a human reader).
MAX_FREE_TEXT = 16
#: generalInfo items (implicitConfirm, confirmWaitTime, certProfile, ...).
MAX_GENERAL_INFO = 16
#: extraCerts: the protection certificate and its chain (RFC 9483, 3.3).
MAX_EXTRA_CERTS = 8
#: One certificate (extraCerts, a rootCaCert infoValue).
MAX_CERTIFICATE_SIZE = 64 * 1024
#: transactionID, bytes: RFC 9810, 5.1.1 asks for 128 bits, enough to be unique;
#: the adapter stores it (hex) in a column of this many bytes.
MAX_TRANSACTION_ID = 128
#: senderKID / recipKID, bytes: an enrollment reference or a key identifier.
MAX_KEY_ID = 128
#: senderNonce / recipNonce, bytes: RFC 9483, 3.1 asks for 128 bits.
MAX_NONCE = 128
#: protectionAlg parameters (a PBMParameter or PBMAC1-params is about 100 bytes).
MAX_PARAMETERS_SIZE = 1024
#: Nesting depth of a body; the bodies of RFC 9483 nest about 14 deep.
MAX_DEPTH = 32
#: TLVs in a body (a CertReqMsg has about 60, a certificate about 150).
MAX_TLVS = 4096
#: Content octets of an OBJECT IDENTIFIER (real ones have fewer than 30).
MAX_OID_SIZE = 64


#: A value decoded by pyasn1 (which ships no type information); none leaves this
#: layer's readers, :mod:`.decode` only hands them back to the functions here.
Asn1Value = Any


class Asn1Error(ValueError):
    """DER that is not the expected structure, or exceeds one of the limits above."""


class TooMany(Asn1Error):
    """A list with more items than its limit (the count stops there)."""


#: What the parsers raise on bytes they cannot decode: pyasn1's own error, and the
#: builtin errors it lets through on some inputs (OverflowError on an 8-octet
#: length, ValueError from int/str conversions, RecursionError on deep nesting).
_PARSER_ERRORS = (PyAsn1Error, ValueError, OverflowError, IndexError, KeyError, RecursionError)


@contextlib.contextmanager
def undecodable(error: Callable[[str], Exception]) -> Iterator[None]:
    """Turn a parser failure inside the block into ``error(reason)``.

    For the code that reads decoded values: pyasn1 checks some constraints and
    converts some values (times, strings) only when they are read.
    """
    try:
        yield
    except _PARSER_ERRORS as exc:
        raise error(_reason(exc)) from exc


def _reason(exc: BaseException) -> str:
    """A short reason for a status text: pyasn1 prefixes its own with the reprs of the
    whole schema, of which only the last clause tells anything."""
    text = str(exc).split("\n", 1)[0]
    if isinstance(exc, PyAsn1Error):
        text = text.rsplit(": ", 1)[-1]
    return text[:200].rstrip(".") if text else type(exc).__name__


# --------------------------------------------------------------------------- TLV


class TLV(NamedTuple):
    """One DER TLV inside a buffer: its tag byte and where it and its content lie."""

    tag: int
    start: int  # the tag byte
    content: int  # first content octet
    end: int  # one past the last content octet


def _read_tlv(data: bytes, offset: int, limit: int | None = None) -> tuple[int, int, int]:
    """Return (tag byte, content start, end) of the DER TLV at ``offset``.

    Only what CMP needs: single-byte tags (numbers up to 30), definite lengths of
    at most four octets, nothing past ``limit`` (default: the end of ``data``).
    """
    stop = len(data) if limit is None else limit
    if offset + 2 > stop:
        raise Asn1Error("truncated TLV")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise Asn1Error("high tag numbers are not used in CMP")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise Asn1Error("indefinite length is not DER")
    else:
        count = first & 0x7F
        if count > 4:
            raise Asn1Error(f"a length of {count} octets")
        if pos + count > stop:
            raise Asn1Error("truncated length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > stop:
        raise Asn1Error("truncated TLV")
    return tag, pos, end


def _children(data: bytes, start: int, end: int, limit: int | None = None) -> list[TLV]:
    """The TLVs in data[start:end]; Asn1Error("too many") past ``limit`` of them.

    The count stops at the first TLV past the limit: refusing a list of half a
    million items costs as much as reading ``limit`` of them.
    """
    out: list[TLV] = []
    pos = start
    while pos < end:
        if limit is not None and len(out) == limit:
            raise TooMany(f"more than {limit} items")
        tag, content, stop = _read_tlv(data, pos, end)
        out.append(TLV(tag, pos, content, stop))
        pos = stop
    return out


def check_structure(data: bytes, *, max_depth: int = MAX_DEPTH, max_tlvs: int = MAX_TLVS) -> None:
    """Walk every TLV of ``data``: well-formed, nested at most ``max_depth`` deep, at
    most ``max_tlvs`` of them; Asn1Error at the first excess, before any decoding."""
    stack = [(0, len(data), 0)]
    count = 0
    while stack:
        pos, end, depth = stack.pop()
        if depth > max_depth:
            raise Asn1Error(f"nested deeper than {max_depth}")
        while pos < end:
            count += 1
            if count > max_tlvs:
                raise Asn1Error(f"more than {max_tlvs} TLVs")
            tag, content, stop = _read_tlv(data, pos, end)
            if tag & 0x20:  # constructed: its content is TLVs again
                stack.append((content, stop, depth + 1))
            pos = stop


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
    """Replace the (single-byte) outer tag of ``der``: undo an IMPLICIT tag."""
    return bytes([tag]) + der[1:]


def protected_part(header_der: bytes, body_der: bytes) -> bytes:
    """DER(ProtectedPart) = SEQUENCE { header, body }, RFC 9810, 5.1.3."""
    return tlv(0x30, header_der + body_der)


# --------------------------------------------------------------------------- small values


def _oid(content: bytes) -> str:
    """Dotted string of an OBJECT IDENTIFIER's content octets (X.690, 8.19)."""
    if not content or len(content) > MAX_OID_SIZE or content[-1] & 0x80:
        raise Asn1Error("not an OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    first = True
    for octet in content:
        if first and octet == 0x80:
            raise Asn1Error("OBJECT IDENTIFIER arc with a leading zero octet")
        value = (value << 7) | (octet & 0x7F)
        first = not octet & 0x80
        if first:
            arcs.append(value)
            value = 0
    head = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (head, arcs[0] - 40 * head, *arcs[1:]))


def _integer(content: bytes) -> int:
    if not content:
        raise Asn1Error("empty INTEGER")
    return int.from_bytes(content, "big", signed=True)


#: GeneralizedTime in DER: UTC, "Z", seconds, optional fraction (X.690, 11.7).
_GENERALIZED_TIME = re.compile(rb"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d{1,6}))?Z")


def _generalized_time(content: bytes) -> datetime.datetime:
    match = _GENERALIZED_TIME.fullmatch(content)
    if match is None:
        raise Asn1Error("not a DER GeneralizedTime")
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        moment = datetime.datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=datetime.UTC,
        )
    except ValueError as exc:
        raise Asn1Error("not a DER GeneralizedTime") from exc
    if fraction:
        moment += datetime.timedelta(microseconds=int(fraction.ljust(6, b"0")))
    return moment


def _only(data: bytes, start: int, end: int, tag: int) -> tuple[int, int]:
    """Content range of the single TLV with ``tag`` that fills data[start:end]."""
    found, content, stop = _read_tlv(data, start, end)
    if found != tag or stop != end:
        raise Asn1Error(f"expected a single TLV with tag 0x{tag:02x}")
    return content, stop


# --------------------------------------------------------------------------- the message


class MessageParts(NamedTuple):
    """PKIMessage ::= SEQUENCE { header, body, [0] protection, [1] extraCerts } (RFC 9810, 5.1).

    ``header`` and ``body`` are the original DER (what the protection covers);
    ``body_type`` is the PKIBody choice name, or "[n]" for an undefined tag.
    ``defect`` names the first limit the message exceeds (the parts concerned
    are then left out), for an error that can still echo the header.
    """

    header: bytes
    body_type: str
    body: bytes
    protection: bytes | None
    extra_certs: tuple[bytes, ...]
    defect: str | None


def split_message(der: bytes) -> MessageParts:
    """Split a PKIMessage into its parts without decoding any; Asn1Error if it is none."""
    tag, start, end = _read_tlv(der, 0)
    if tag != 0x30 or end != len(der):
        raise Asn1Error("not a single DER SEQUENCE")
    parts = _children(der, start, end, 4)
    if len(parts) < 2 or parts[0].tag != 0x30:
        raise Asn1Error("PKIMessage needs a header and a body")
    body = parts[1]
    if body.tag & 0xE0 != 0xA0:
        raise Asn1Error("PKIBody is a context-specific constructed tag")
    body_type = BODY_NAMES.get(body.tag & 0x1F, f"[{body.tag & 0x1F}]")
    defect = None
    if len(der) > MAX_MESSAGE_SIZE:
        defect = f"The message is larger than {MAX_MESSAGE_SIZE} bytes."
    elif body.tag & 0x1F not in BODY_NAMES:
        defect = f"PKIBody {body_type} is not defined (RFC 9810, 5.1.2)."
    protection = None
    extra_certs: tuple[bytes, ...] = ()
    optional_tags = [p.tag for p in parts[2:]]
    if optional_tags not in ([], [0xA0], [0xA1], [0xA0, 0xA1]):
        raise Asn1Error("PKIMessage fields after the body are [0] protection, [1] extraCerts")
    for part in parts[2:]:
        if part.tag == 0xA0:
            # protection [0] PKIProtection (BIT STRING)
            content, stop = _only(der, part.content, part.end, 0x03)
            if content == stop or der[content] > 7:
                raise Asn1Error("protection is not a BIT STRING")
            protection = der[content + 1 : stop]
        else:
            # extraCerts [1] SEQUENCE SIZE (1..MAX) OF CMPCertificate
            content, stop = _only(der, part.content, part.end, 0x30)
            try:
                certs = _children(der, content, stop, MAX_EXTRA_CERTS)
            except TooMany:
                defect = defect or f"More than {MAX_EXTRA_CERTS} extraCerts."
                continue
            if any(c.end - c.start > MAX_CERTIFICATE_SIZE for c in certs):
                defect = defect or f"An extraCert is larger than {MAX_CERTIFICATE_SIZE} bytes."
                continue
            extra_certs = tuple(der[c.start : c.end] for c in certs)
    return MessageParts(
        header=der[parts[0].start : parts[0].end],
        body_type=body_type,
        body=der[body.start : body.end],
        protection=protection,
        extra_certs=extra_certs,
        defect=defect,
    )


class HeaderFields(NamedTuple):
    """The fields of a PKIHeader (RFC 9810, 5.1.1) as plain values.

    Names are the DER of a directoryName (None for another GeneralName choice).
    A field over its limit, or malformed inside, is left out (None or empty) and
    named in ``defect``; the others can still be echoed in an error message.
    """

    pvno: int
    sender: bytes | None
    recipient: bytes | None
    message_time: datetime.datetime | None
    protection_alg: tuple[str, bytes | None] | None
    sender_kid: bytes | None
    recip_kid: bytes | None
    transaction_id: bytes | None
    sender_nonce: bytes | None
    recip_nonce: bytes | None
    free_text: tuple[str, ...]
    general_info: tuple[tuple[str, bytes | None], ...]
    defect: str | None


#: The OCTET STRING fields of PKIHeader: tag, name, limit in bytes.
_OCTET_FIELDS = {
    0xA2: ("senderKID", MAX_KEY_ID),
    0xA3: ("recipKID", MAX_KEY_ID),
    0xA4: ("transactionID", MAX_TRANSACTION_ID),
    0xA5: ("senderNonce", MAX_NONCE),
    0xA6: ("recipNonce", MAX_NONCE),
}


def read_header(header: bytes) -> HeaderFields:
    """Read a PKIHeader with the TLV reader (no ASN.1 decoder); Asn1Error if it is none.

    Each field is checked against its limit before it is read; the cost is
    bounded by the limits, whatever the size of the header.
    """
    _, start, end = _read_tlv(header, 0)
    fields = _children(header, start, end, 12)
    if len(fields) < 3 or fields[0].tag != 0x02:
        raise Asn1Error("PKIHeader starts with pvno, sender and recipient")
    problems: list[str] = []
    if len(header) > MAX_HEADER_SIZE:
        problems.append(f"The header is larger than {MAX_HEADER_SIZE} bytes.")
    pvno = _integer(header[fields[0].content : fields[0].end])
    names = [
        _general_name(header, f, problems, what)
        for f, what in zip(fields[1:3], ("sender", "recipient"), strict=True)
    ]
    values: dict[int, object] = {}
    last = 0x9F
    for field in fields[3:]:
        if not 0xA0 <= field.tag <= 0xA8 or field.tag <= last:
            raise Asn1Error("PKIHeader fields [0]..[8] out of order")
        last = field.tag
        try:
            values[field.tag] = _header_field(header, field, problems)
        except Asn1Error as exc:
            problems.append(f"{_HEADER_FIELD_NAMES[field.tag]} cannot be decoded: {exc}.")
    octets = {tag: value for tag, value in values.items() if isinstance(value, bytes)}
    time = values.get(0xA0)
    alg = values.get(0xA1)
    free_text = values.get(0xA7, ())
    general_info = values.get(0xA8, ())
    return HeaderFields(
        pvno=pvno,
        sender=names[0],
        recipient=names[1],
        message_time=time if isinstance(time, datetime.datetime) else None,
        protection_alg=alg if isinstance(alg, tuple) else None,
        sender_kid=octets.get(0xA2),
        recip_kid=octets.get(0xA3),
        transaction_id=octets.get(0xA4),
        sender_nonce=octets.get(0xA5),
        recip_nonce=octets.get(0xA6),
        free_text=free_text if isinstance(free_text, tuple) else (),
        general_info=general_info if isinstance(general_info, tuple) else (),
        defect=problems[0] if problems else None,
    )


_HEADER_FIELD_NAMES = {
    0xA0: "messageTime",
    0xA1: "protectionAlg",
    **{tag: name for tag, (name, _limit) in _OCTET_FIELDS.items()},
    0xA7: "freeText",
    0xA8: "generalInfo",
}


def _general_name(header: bytes, field: TLV, problems: list[str], what: str) -> bytes | None:
    """The DER Name of a directoryName GeneralName ([4], RFC 5280, 4.2.1.6), else None."""
    if field.tag & 0xC0 != 0x80 or field.tag & 0x1F > 8:
        raise Asn1Error(f"{what} is not a GeneralName")
    if field.tag != 0xA4:
        return None
    if field.end - field.start > MAX_NAME_SIZE:
        problems.append(f"{what} is larger than {MAX_NAME_SIZE} bytes.")
        return None
    tag, _content, stop = _read_tlv(header, field.content, field.end)
    if tag != 0x30 or stop != field.end:
        raise Asn1Error(f"{what} is not a Name")
    return header[field.content : field.end]


def _header_field(header: bytes, field: TLV, problems: list[str]) -> object:
    """The value of one optional PKIHeader field ([0]..[8] EXPLICIT), None if left out."""
    if field.tag == 0xA0:
        # messageTime [0] GeneralizedTime
        content, stop = _only(header, field.content, field.end, 0x18)
        return _generalized_time(header[content:stop])
    if field.tag == 0xA1:
        # protectionAlg [1] AlgorithmIdentifier
        content, stop = _only(header, field.content, field.end, 0x30)
        parts = _children(header, content, stop, 2)
        if not parts or parts[0].tag != 0x06:
            raise Asn1Error("not an AlgorithmIdentifier")
        oid = _oid(header[parts[0].content : parts[0].end])
        if len(parts) == 1:
            return (oid, None)
        if parts[1].end - parts[1].start > MAX_PARAMETERS_SIZE:
            problems.append(
                f"protectionAlg parameters are larger than {MAX_PARAMETERS_SIZE} bytes."
            )
            return None
        return (oid, header[parts[1].start : parts[1].end])
    if field.tag in _OCTET_FIELDS:
        name, limit = _OCTET_FIELDS[field.tag]
        content, stop = _only(header, field.content, field.end, 0x04)
        if stop - content > limit:
            # RFC 9810, 5.1.1 / RFC 9483, 3.1: these identify a transaction, a key or
            # a message; longer values are refused, never stored or echoed.
            problems.append(f"{name} is longer than {limit} bytes.")
            return None
        return header[content:stop]
    content, stop = _only(header, field.content, field.end, 0x30)
    if field.tag == 0xA7:
        # freeText [7] PKIFreeText ::= SEQUENCE SIZE (1..MAX) OF UTF8String
        try:
            texts = _children(header, content, stop, MAX_FREE_TEXT)
        except TooMany:
            problems.append(f"freeText has more than {MAX_FREE_TEXT} strings.")
            return None
        if any(t.tag != 0x0C for t in texts):
            raise Asn1Error("freeText holds a string that is not UTF8String")
        try:
            return tuple(header[t.content : t.end].decode() for t in texts)
        except UnicodeDecodeError as exc:
            raise Asn1Error("freeText is not UTF-8") from exc
    # generalInfo [8] SEQUENCE SIZE (1..MAX) OF InfoTypeAndValue
    try:
        items = _children(header, content, stop, MAX_GENERAL_INFO)
    except TooMany:
        problems.append(f"generalInfo has more than {MAX_GENERAL_INFO} items.")
        return None
    return tuple(_info_type_and_value(header, item) for item in items)


def _info_type_and_value(data: bytes, item: TLV) -> tuple[str, bytes | None]:
    """InfoTypeAndValue ::= SEQUENCE { infoType OID, infoValue ANY OPTIONAL }, RFC 9810, 5.3.19."""
    if item.tag != 0x30:
        raise Asn1Error("not an InfoTypeAndValue")
    parts = _children(data, item.content, item.end, 2)
    if not parts or parts[0].tag != 0x06:
        raise Asn1Error("not an InfoTypeAndValue")
    oid = _oid(data[parts[0].content : parts[0].end])
    return oid, data[parts[1].start : parts[1].end] if len(parts) == 2 else None


def certificate_serial(der: bytes) -> int:
    """The serialNumber of a DER Certificate, read without parsing the rest (RFC 5280, 4.1)."""
    _, start, end = _read_tlv(der, 0)
    _, tbs, tbs_end = _read_tlv(der, start, end)
    tag, content, stop = _read_tlv(der, tbs, tbs_end)
    if tag == 0xA0:  # version [0] EXPLICIT, then serialNumber
        tag, content, stop = _read_tlv(der, stop, tbs_end)
    if tag != 0x02:
        raise Asn1Error("a Certificate has a serialNumber")
    return _integer(der[content:stop])


class SimpleCertRequest(NamedTuple):
    """A CertReqMsg of the shape OpenSSL and FortiGates send, read with the TLV reader."""

    cert_req_der: bytes  # the original DER of certReq: what a POP signature covers
    cert_req_id: int
    subject_der: bytes | None  # a Name
    spki_der: bytes | None  # a SubjectPublicKeyInfo
    extensions_der: bytes | None  # an Extensions SEQUENCE
    pop_algorithm: tuple[str, bytes | None] | None  # None: no popo
    pop_signature: bytes | None


#: certTemplate fields the TLV reader takes: subject [5], publicKey [6], extensions [9]
#: (RFC 4211, 5); any other field goes to pyasn1.
_SIMPLE_TEMPLATE_TAGS = (0xA5, 0xA6, 0xA9)


def simple_cert_requests(body_der: bytes, body_type: str) -> list[SimpleCertRequest] | None:
    """The CertReqMsgs of an ir/cr/kur body when every one has the common shape, else None.

    The shape (RFC 4211): ``certReq { certReqId, certTemplate { subject,
    publicKey, extensions, each optional, in this order } }`` without controls,
    ``popo`` absent or ``signature`` without poposkInput, no regInfo. Any other
    body, or anything unexpected in one, is left to pyasn1 (None): the caller
    then reads it in full, and answers what is wrong with it as before.
    """
    try:
        check_structure(body_der)
        outer, start, end = _read_tlv(body_der, 0)
        tag, seq_start, seq_end = _read_tlv(body_der, start, end)
        if (
            outer != 0xA0 | _BODY_TAGS[body_type]
            or end != len(body_der)
            or tag != 0x30
            or seq_end != end
        ):
            return None
        messages = _children(body_der, seq_start, seq_end)
        out = []
        for message in messages:
            parts = _children(body_der, message.content, message.end)
            if message.tag != 0x30 or not 1 <= len(parts) <= 2 or parts[0].tag != 0x30:
                return None
            cert_req = parts[0]
            fields = _children(body_der, cert_req.content, cert_req.end)
            if len(fields) != 2 or fields[0].tag != 0x02 or fields[1].tag != 0x30:
                return None
            values: dict[int, bytes] = {}
            for item in _children(body_der, fields[1].content, fields[1].end):
                if item.tag not in _SIMPLE_TEMPLATE_TAGS or any(t >= item.tag for t in values):
                    return None
                values[item.tag] = body_der[item.content : item.end]
            subject = values.get(0xA5)
            if subject is not None:
                # subject [5] Name: a CHOICE, so the tag is explicit around the RDNSequence
                tag, _content, stop = _read_tlv(subject, 0)
                if tag != 0x30 or stop != len(subject):
                    return None
            algorithm = signature = None
            if len(parts) == 2:
                popo = parts[1]
                items = _children(body_der, popo.content, popo.end)
                # popo signature [1] POPOSigningKey { algorithmIdentifier, signature }
                if (
                    popo.tag != 0xA1
                    or len(items) != 2
                    or (items[0].tag, items[1].tag)
                    != (
                        0x30,
                        0x03,
                    )
                ):
                    return None
                alg = _children(body_der, items[0].content, items[0].end)
                bits = body_der[items[1].content : items[1].end]
                if not 1 <= len(alg) <= 2 or alg[0].tag != 0x06 or not bits or bits[0] != 0:
                    return None
                parameters = body_der[alg[1].start : alg[1].end] if len(alg) == 2 else None
                algorithm = (_oid(body_der[alg[0].content : alg[0].end]), parameters)
                signature = bits[1:]
            out.append(
                SimpleCertRequest(
                    cert_req_der=body_der[cert_req.start : cert_req.end],
                    cert_req_id=_integer(body_der[fields[0].content : fields[0].end]),
                    subject_der=subject,
                    # publicKey [6] and extensions [9] are IMPLICIT: the universal tag back
                    spki_der=tlv(0x30, values[0xA6]) if 0xA6 in values else None,
                    extensions_der=tlv(0x30, values[0xA9]) if 0xA9 in values else None,
                    pop_algorithm=algorithm,
                    pop_signature=signature,
                )
            )
        return out or None
    except Asn1Error:
        return None


def simple_cert_conf(body_der: bytes) -> list[tuple[bytes, int, int | None]] | None:
    """(certHash, certReqId, status or None) of each CertStatus of a certConf body of
    the common shape, else None (pyasn1 reads the others).

    The shape (RFC 9810, 5.3.18): ``CertStatus { certHash, certReqId,
    statusInfo { status } OPTIONAL }``, no statusString, failInfo or hashAlg.
    """
    try:
        check_structure(body_der)
        outer, start, end = _read_tlv(body_der, 0)
        tag, seq_start, seq_end = _read_tlv(body_der, start, end)
        if outer != 0xA0 | _BODY_TAGS["certConf"] or end != len(body_der):
            return None
        if tag != 0x30 or seq_end != end:
            return None
        out = []
        for item in _children(body_der, seq_start, seq_end):
            fields = _children(body_der, item.content, item.end)
            if item.tag != 0x30 or not 2 <= len(fields) <= 3:
                return None
            if (fields[0].tag, fields[1].tag) != (0x04, 0x02):
                return None
            status = None
            if len(fields) == 3:
                info = _children(body_der, fields[2].content, fields[2].end)
                if fields[2].tag != 0x30 or len(info) != 1 or info[0].tag != 0x02:
                    return None
                status = _integer(body_der[info[0].content : info[0].end])
            out.append(
                (
                    body_der[fields[0].content : fields[0].end],
                    _integer(body_der[fields[1].content : fields[1].end]),
                    status,
                )
            )
        return out
    except Asn1Error:
        return None


def body_content_der(body_der: bytes) -> bytes:
    """The DER inside the body's EXPLICIT context tag (e.g. the CSR of a p10cr)."""
    _, start, end = _read_tlv(body_der, 0)
    return body_der[start:end]


def cert_request_ders(body_der: bytes) -> list[bytes]:
    """Original DER of each CertReqMsg.certReq in an ir/cr/kur/krr/ccr body.

    body is ``[n] EXPLICIT CertReqMessages``; CertReqMessages is
    ``SEQUENCE OF CertReqMsg``; CertReqMsg starts with ``certReq CertRequest``.
    """
    _, start, end = _read_tlv(body_der, 0)
    _, seq_start, seq_end = _read_tlv(body_der, start, end)
    out = []
    for msg in _children(body_der, seq_start, seq_end):
        first = _children(body_der, msg.content, msg.end)[0]
        out.append(body_der[first.start : first.end])
    return out


# --------------------------------------------------------------------------- decoding

#: PKIBody (RFC 9810, 5.1.2): choice name -> the pyasn1 type, with its [n] EXPLICIT tag.
_BODY_TYPES = {named.name: named.asn1Object for named in rfc9810.PKIBody.componentType.namedTypes}
#: PKIBody tag number -> choice name ("ir", "certConf", ...).
BODY_NAMES = {spec.tagSet.superTags[-1].tagId: name for name, spec in _BODY_TYPES.items()}
#: PKIBody choice name -> its tag number.
_BODY_TAGS = {name: number for number, name in BODY_NAMES.items()}


def _decode(der: bytes, spec: Asn1Value) -> Asn1Value:
    """Decode DER as ``spec`` after checking its structure; Asn1Error if it is not one."""
    check_structure(der)
    try:
        value, rest = der_decoder.decode(der, asn1Spec=spec)
    except _PARSER_ERRORS as exc:
        raise Asn1Error(_reason(exc)) from exc
    if rest:
        raise Asn1Error("trailing data")
    return value


def decode_body(body_der: bytes, body_type: str) -> Asn1Value:
    """The content of a PKIBody of ``body_type``, decoded (after its structure is checked)."""
    return _decode(body_der, _BODY_TYPES[body_type].clone())


def name_der(name: Asn1Value) -> bytes:
    """DER of a pyasn1 rfc5280.Name (or a tagged Name), as a plain Name."""
    return der_encoder.encode(name["rdnSequence"])


def general_name_directory_der(general_name: Asn1Value) -> bytes | None:
    """DER of the directoryName in a GeneralName, or None for other choices."""
    if not general_name.isValue or general_name.getName() != "directoryName":
        return None
    return name_der(general_name["directoryName"])


def implicit_der(value: Asn1Value, tag: int) -> bytes:
    """DER of an IMPLICIT-tagged component with its universal tag restored."""
    return retag(der_encoder.encode(value), tag)


def _algorithm_oid(data: bytes, item: TLV) -> str:
    """The algorithm of an AlgorithmIdentifier ::= SEQUENCE { algorithm, parameters ANY
    OPTIONAL } (RFC 5280, 4.1.1.2) at ``item``; the parameters are not read."""
    if item.tag != 0x30:
        raise Asn1Error("AlgorithmIdentifier is not a SEQUENCE")
    tag, content, stop = _read_tlv(data, item.content, item.end)
    if tag != 0x06:
        raise Asn1Error("AlgorithmIdentifier without an OBJECT IDENTIFIER")
    if stop != item.end:
        # at most one parameters value, itself a whole TLV
        _only(data, stop, item.end, data[stop])
    return _oid(data[content:stop])


def decode_pbm_parameter(params_der: bytes) -> tuple[bytes, str, int, str]:
    """(salt, owf OID, iterationCount, mac OID) of a PBMParameter, RFC 9810, 5.1.3.1.

    PBMParameter ::= SEQUENCE { salt OCTET STRING, owf AlgorithmIdentifier,
    iterationCount INTEGER, mac AlgorithmIdentifier }, read with the TLV reader:
    it is read before the MAC is checked, on every MAC-protected request.
    """
    try:
        check_structure(params_der)
        content, _ = _only(params_der, 0, len(params_der), 0x30)
        fields = _children(params_der, content, len(params_der), 5)
        if len(fields) != 4 or (fields[0].tag, fields[2].tag) != (0x04, 0x02):
            raise Asn1Error("not a PBMParameter")
        salt, _owf, count, _mac = fields
        return (
            params_der[salt.content : salt.end],
            _algorithm_oid(params_der, fields[1]),
            _integer(params_der[count.content : count.end]),
            _algorithm_oid(params_der, fields[3]),
        )
    except _PARSER_ERRORS as exc:
        raise BadDataFormat("PBMParameter cannot be decoded.") from exc


def encode_pbm_parameter(salt: bytes, owf: str, iteration_count: int, mac: str) -> bytes:
    """PBMParameter ::= SEQUENCE { salt, owf, iterationCount, mac }, RFC 9810, 5.1.3.1."""
    # RFC 9481, 2: the SHA-2 AlgorithmIdentifiers have absent parameters;
    # OpenSSL sends owf and mac without parameters as well.
    return tlv(
        0x30,
        tlv(0x04, salt)
        + encode_algorithm_identifier(owf, None)
        + encode_integer(iteration_count)
        + encode_algorithm_identifier(mac, None),
    )


def decode_pbmac1_parameter(params_der: bytes) -> tuple[bytes, int, int | None, str, str]:
    """(salt, iterationCount, keyLength, prf OID, mac OID) of PBMAC1-params.

    RFC 9481, 4.1.2 / RFC 8018, A.5: keyDerivationFunc must be PBKDF2 with a
    specified salt.
    """
    try:
        params = _decode(params_der, rfc8018.PBMAC1_params())
        kdf = params["keyDerivationFunc"]
        if str(kdf["algorithm"]) != OID.pbkdf2:
            raise BadAlg(f"PBMAC1 key derivation {kdf['algorithm']} is not supported.")
        pbkdf2 = _decode(bytes(kdf["parameters"]), rfc8018.PBKDF2_params())
        if pbkdf2["salt"].getName() != "specified":
            raise BadAlg("PBKDF2 salt must be 'specified'.")
        key_length = pbkdf2["keyLength"]
        return (
            bytes(pbkdf2["salt"]["specified"]),
            int(pbkdf2["iterationCount"]),
            int(key_length) if key_length.isValue else None,
            str(pbkdf2["prf"]["algorithm"]),
            str(params["messageAuthScheme"]["algorithm"]),
        )
    except _PARSER_ERRORS as exc:
        raise BadDataFormat("PBMAC1-params cannot be decoded.") from exc


def encode_pbmac1_parameter(
    salt: bytes, iteration_count: int, key_length: int, prf: str, mac: str
) -> bytes:
    """PBMAC1-params with PBKDF2-params, RFC 8018, A.2 and A.5 (salt 'specified')."""
    # RFC 8018, B.1.1: the HMAC AlgorithmIdentifiers carry NULL parameters.  The prf
    # is never the DEFAULT hmacWithSHA1 (only SHA-2 PRFs are accepted), so it is sent.
    pbkdf2 = tlv(
        0x30,
        tlv(0x04, salt)
        + encode_integer(iteration_count)
        + encode_integer(key_length)
        + encode_algorithm_identifier(prf, _NULL),
    )
    return tlv(
        0x30,
        encode_algorithm_identifier(OID.pbkdf2, pbkdf2) + encode_algorithm_identifier(mac, _NULL),
    )


def encode_algorithm_identifier(oid: str, params_der: bytes | None) -> bytes:
    """AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }."""
    return tlv(0x30, encode_oid(oid) + (params_der or b""))


_NULL = b"\x05\x00"
#: rsaEncryption with an empty key: a syntactically valid SubjectPublicKeyInfo.
_EMPTY_RSA_SPKI = bytes.fromhex("3012300d06092a864886f70d0101010500030100")
#: extensionRequest (PKCS #9, RFC 2985, 5.4.2).
_EXTENSION_REQUEST = bytes.fromhex("06092a864886f70d01090e")
#: sha256WithRSAEncryption with NULL parameters (RFC 4055, 5).
_SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")


def csr_shell(subject_der: bytes, spki_der: bytes | None, extensions_der: bytes | None) -> bytes:
    """An *unsigned* PKCS#10 structure carrying a template's fields.

    Used only so that ``cryptography`` parses a CRMF CertTemplate's subject,
    public key and extensions with its own (strict) parsers; the signature is
    empty and is never checked.  RFC 2986, 4.
    """
    if spki_der is None:
        # A syntactically valid SubjectPublicKeyInfo (rsaEncryption, empty key)
        # for when only a Name must be parsed.
        spki_der = _EMPTY_RSA_SPKI
    attributes = b""
    if extensions_der is not None:
        attributes = tlv(0x30, _EXTENSION_REQUEST + tlv(0x31, extensions_der))
    info = tlv(0x30, b"\x02\x01\x00" + subject_der + spki_der + tlv(0xA0, attributes))
    return tlv(0x30, info + _SHA256_WITH_RSA + tlv(0x03, b"\x00"))


# --------------------------------------------------------------------------- encoding


def encode_header(
    *,
    pvno: int,
    sender_der: bytes,
    recipient_der: bytes,
    message_time: datetime.datetime | None,
    protection_alg_der: bytes | None,
    sender_kid: bytes | None,
    transaction_id: bytes | None,
    sender_nonce: bytes | None,
    recip_nonce: bytes | None,
    general_info: tuple[tuple[str, bytes | None], ...] = (),
) -> bytes:
    """DER of a PKIHeader (RFC 9810, 5.1.1); names are given as DER Names (directoryName).

    Written with the TLV encoder: the fields are DER already, and an error answering
    an unauthenticated message should cost little to write.
    """
    # GeneralName directoryName [4]: Name is a CHOICE, so the tag is explicit.
    content = encode_integer(pvno) + tlv(0xA4, sender_der) + tlv(0xA4, recipient_der)
    if message_time is not None:
        time = message_time.astimezone(datetime.UTC).strftime("%Y%m%d%H%M%SZ")
        content += tlv(0xA0, tlv(0x18, time.encode()))
    if protection_alg_der is not None:
        content += tlv(0xA1, protection_alg_der)
    for tag, value in (
        (0xA2, sender_kid),
        (0xA4, transaction_id),
        (0xA5, sender_nonce),
        (0xA6, recip_nonce),
    ):
        if value is not None:
            content += tlv(tag, tlv(0x04, value))
    if general_info:
        items = [tlv(0x30, encode_oid(oid) + (value or b"")) for oid, value in general_info]
        content += tlv(0xA8, sequence_of(items))
    return tlv(0x30, content)


def _status_info_der(status: int, text: str | None, failure: int | None) -> bytes:
    """PKIStatusInfo ::= SEQUENCE { status, statusString OPTIONAL, failInfo OPTIONAL }."""
    content = encode_integer(status)
    if text:
        content += tlv(0x30, tlv(0x0C, text.encode()))
    if failure is not None:
        content += _failure_bit(failure)
    return tlv(0x30, content)


def _failure_bit(bit: int) -> bytes:
    """PKIFailureInfo with the single bit ``bit`` set (DER: no trailing zero bits)."""
    octets = bytearray(bit // 8 + 1)
    octets[bit // 8] = 0x80 >> (bit % 8)
    return tlv(0x03, bytes([7 - bit % 8]) + bytes(octets))


def _status_info(target: Asn1Value, status: int, text: str | None, failure: int | None) -> None:
    target["status"] = status
    if text:
        target["statusString"].append(text)
    if failure is not None:
        target["failInfo"] = tuple([0] * failure + [1])


def encode_cert_rep_body(
    *,
    body_type: str,
    ca_pubs: tuple[bytes, ...],
    cert_req_id: int,
    status: int,
    status_text: str | None,
    failure: int | None,
    certificate: bytes | None,
) -> bytes:
    """DER of an ip/cp/kup body with one CertResponse, RFC 9810, 5.3.4.

    Written with the TLV encoder around the certificates' own DER (the bytes
    the client hashes for certConf), byte for byte what pyasn1 writes for the
    same value (tests/cmp/protocol/test_asn1.py compares the two).
    """
    # CertResponse ::= SEQUENCE { certReqId, status, certifiedKeyPair OPTIONAL, ... }
    response = encode_integer(cert_req_id) + _status_info_der(status, status_text, failure)
    if certificate is not None:
        # CertifiedKeyPair ::= SEQUENCE { certOrEncCert CertOrEncCert, ... };
        # certOrEncCert: certificate [0] EXPLICIT CMPCertificate
        response += tlv(0x30, tlv(0xA0, certificate))
    # CertRepMessage ::= SEQUENCE { caPubs [1] SEQUENCE OF CMPCertificate OPTIONAL,
    #                               response SEQUENCE OF CertResponse }
    content = tlv(0xA1, sequence_of(ca_pubs)) if ca_pubs else b""
    content += tlv(0x30, tlv(0x30, response))
    # PKIBody: the body's [n] EXPLICIT tag
    return tlv(0xA0 | _BODY_TAGS[body_type], tlv(0x30, content))


def encode_pkiconf_body() -> bytes:
    """DER of a pkiconf body: [19] EXPLICIT NULL, RFC 9810, 5.3.17."""
    return tlv(0xB3, _NULL)


def encode_error_body(*, status: int, status_text: str | None, failure: int | None) -> bytes:
    """DER of an error body: [23] ErrorMsgContent { pKIStatusInfo }, RFC 9810, 5.3.21."""
    return tlv(0xB7, tlv(0x30, _status_info_der(status, status_text, failure)))


def encode_message(
    header_der: bytes,
    body_der: bytes,
    protection: bytes | None,
    extra_certs: tuple[bytes, ...] = (),
) -> bytes:
    """DER of a PKIMessage from the DER of its parts (the MACed bytes stay as they are)."""
    content = header_der + body_der
    if protection is not None:
        # protection [0] PKIProtection (BIT STRING, no unused bits)
        content += tlv(0xA0, tlv(0x03, b"\x00" + protection))
    if extra_certs:
        content += tlv(0xA1, tlv(0x30, b"".join(extra_certs)))
    return tlv(0x30, content)


def null_dn_der() -> bytes:
    """DER of the NULL-DN (an empty RDNSequence), RFC 9810, 5.1.1."""
    return b"\x30\x00"


# --------------------------------------------------------------------------- access


def optional(sequence: Asn1Value, name: str) -> Asn1Value | None:
    """An OPTIONAL component of a decoded SEQUENCE, or None when absent."""
    value = sequence.getComponentByName(name, default=None, instantiate=False)
    if value is None or not value.isValue:
        return None
    return value


def any_der(value: Asn1Value | None) -> bytes | None:
    """The DER held by an ANY (e.g. AlgorithmIdentifier parameters), or None."""
    if value is None or not value.isValue:
        return None
    return bytes(value)


def bit_string_bytes(value: Asn1Value) -> bytes:
    return value.asOctets()


def bit_numbers(value: Asn1Value) -> tuple[int, ...]:
    """Numbers of the bits set in a BIT STRING (e.g. a PKIFailureInfo)."""
    return tuple(i for i, bit in enumerate(value) if bit)


def time_value(value: Asn1Value) -> datetime.datetime:
    """A Time (utcTime/generalTime CHOICE) or GeneralizedTime as an aware datetime."""
    if isinstance(value, rfc5280.Time):
        value = value[value.getName()]
    moment = value.asDateTime
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def is_cert_req_messages(value: Asn1Value) -> bool:
    return isinstance(value, rfc4211.CertReqMessages)


def controls(cert_req: Asn1Value) -> tuple[tuple[str, bytes], ...]:
    """(type OID, DER of value) of each control of a CertRequest, RFC 4211, 6."""
    out = []
    for control in optional(cert_req, "controls") or ():
        out.append((str(control["type"]), bytes(control["value"])))
    return tuple(out)


def decode_cert_id(der: bytes) -> tuple[bytes | None, int]:
    """(DER of the issuer Name or None if not a directoryName, serialNumber) of a CertId."""
    cert_id = _decode(der, rfc4211.CertId())
    return general_name_directory_der(cert_id["issuer"]), int(cert_id["serialNumber"])


class RevDetailsFields(NamedTuple):
    """The fields of one RevDetails (RFC 9810, 5.3.9) as plain values.

    ``issuer`` and ``subject`` are the DER of a Name, ``public_key`` the DER of
    a SubjectPublicKeyInfo and ``extensions`` of the template's Extensions;
    ``entry_extensions`` are (extnID, critical, DER of extnValue) of every
    crlEntryDetails extension, repeated ones included.
    """

    version: int | None
    issuer: bytes | None
    serial_number: int | None
    subject: bytes | None
    public_key: bytes | None
    extensions: bytes | None
    entry_extensions: tuple[tuple[str, bool, bytes], ...]


def rev_details(content: Asn1Value) -> list[RevDetailsFields]:
    """The fields of each RevDetails of an rr.

    RFC 9810, 5.3.9: RevDetails ::= SEQUENCE { certDetails CertTemplate,
    crlEntryDetails Extensions OPTIONAL }.
    """
    out = []
    for details in content:
        template = details["certDetails"]
        version = optional(template, "version")
        issuer = optional(template, "issuer")
        serial = optional(template, "serialNumber")
        subject = optional(template, "subject")
        spki = optional(template, "publicKey")
        extensions = optional(template, "extensions")
        entry = optional(details, "crlEntryDetails")
        out.append(
            RevDetailsFields(
                version=int(version) if version is not None else None,
                issuer=name_der(issuer) if issuer is not None else None,
                serial_number=int(serial) if serial is not None else None,
                subject=name_der(subject) if subject is not None else None,
                public_key=implicit_der(spki, 0x30) if spki is not None else None,
                extensions=implicit_der(extensions, 0x30) if extensions is not None else None,
                entry_extensions=tuple(
                    (str(ext["extnID"]), bool(ext["critical"]), bytes(ext["extnValue"]))
                    for ext in entry or ()
                ),
            )
        )
    return out


def extension_values(extensions_der: bytes) -> dict[str, bytes]:
    """extnID -> extnValue (the DER inside the OCTET STRING) of an Extensions."""
    extensions = _decode(extensions_der, rfc5280.Extensions())
    return {str(ext["extnID"]): bytes(ext["extnValue"]) for ext in extensions}


def decode_enumerated(der: bytes) -> int:
    return int(_decode(der, univ.Enumerated()))


def is_null(der: bytes | None) -> bool:
    """True for the DER of NULL (RFC 9810, 5.1.1.1: ImplicitConfirmValue ::= NULL)."""
    return der == _NULL


def generalized_time(der: bytes) -> datetime.datetime:
    """A DER GeneralizedTime TLV (e.g. ConfirmWaitTimeValue, RFC 9810, 5.1.1.2); Asn1Error
    if it is any other type (a UTCTime included)."""
    tag, content, stop = _read_tlv(der, 0)
    if tag != 0x18 or stop != len(der):
        raise Asn1Error("not a GeneralizedTime")
    return _generalized_time(der[content:stop])


def utf8_strings(der: bytes) -> tuple[str, ...]:
    """SEQUENCE OF UTF8String (SuppLangTagsValue, RFC 9810, 5.3.19.9); Asn1Error otherwise."""
    tag, start, end = _read_tlv(der, 0)
    if tag != 0x30 or end != len(der):
        raise Asn1Error("not a SEQUENCE OF UTF8String")
    items = _children(der, start, end, MAX_FREE_TEXT)
    if any(item.tag != 0x0C for item in items):
        raise Asn1Error("not a SEQUENCE OF UTF8String")
    try:
        return tuple(der[item.content : item.end].decode() for item in items)
    except UnicodeDecodeError as exc:
        raise Asn1Error("not UTF-8") from exc


def decode_rsassa_pss_params(params_der: bytes) -> tuple[str, str, str | None, int, int]:
    """(hash OID, maskGen OID, MGF hash OID, saltLength, trailerField) of RSASSA-PSS-params.

    RFC 4055, 3.1: absent fields take their DEFAULT (SHA-1, MGF1 with SHA-1, 20, 1).
    """
    try:
        params = _decode(params_der, rfc4055.RSASSA_PSS_params())
        hash_alg = optional(params, "hashAlgorithm")
        mgf = optional(params, "maskGenAlgorithm")
        hash_oid = str(hash_alg["algorithm"]) if hash_alg is not None else OID.sha1
        mgf_oid: str = OID.mgf1
        mgf_hash: str | None = OID.sha1
        if mgf is not None:
            mgf_oid = str(mgf["algorithm"])
            mgf_params = any_der(optional(mgf, "parameters"))
            mgf_hash = (
                str(_decode(mgf_params, rfc5280.AlgorithmIdentifier())["algorithm"])
                if mgf_params is not None
                else None
            )
        return hash_oid, mgf_oid, mgf_hash, int(params["saltLength"]), int(params["trailerField"])
    except _PARSER_ERRORS as exc:
        raise BadDataFormat("RSASSA-PSS-params cannot be decoded.") from exc


def encode_rsassa_pss_params(hash_oid: str, salt_length: int) -> bytes:
    """RSASSA-PSS-params with MGF1 of the same hash, RFC 4055, 3.1 (trailerField DEFAULT).

    RFC 5754, 2: the SHA-2 AlgorithmIdentifiers are generated without parameters.
    """
    hash_alg = encode_algorithm_identifier(hash_oid, None)
    return tlv(
        0x30,
        tlv(0xA0, hash_alg)
        + tlv(0xA1, encode_algorithm_identifier(OID.mgf1, hash_alg))
        + tlv(0xA2, encode_integer(salt_length)),
    )


def info_items(body_der: bytes) -> list[tuple[str, bytes | None]]:
    """(infoType OID, DER of infoValue or None) of each item of a genm or genp body.

    GenMsgContent ::= SEQUENCE OF InfoTypeAndValue (RFC 9810, 5.3.19), read with the
    TLV reader: a genm may repeat an item thousands of times.
    """
    _, start, end = _read_tlv(body_der, 0)
    content, stop = _only(body_der, start, end, 0x30)
    return [_info_type_and_value(body_der, item) for item in _children(body_der, content, stop)]


def decode_crl_status_list(
    der: bytes,
) -> list[tuple[bytes | None, bytes | None, datetime.datetime | None]]:
    """(DER of dpn fullName GeneralNames, DER of issuer GeneralNames, thisUpdate) per CRLStatus.

    RFC 9810, 5.3.19.16: CRLSource ::= CHOICE { dpn [0] DistributionPointName,
    issuer [1] GeneralNames }.  A dpn given as nameRelativeToCRLIssuer yields
    (None, None, ...): the caller treats it as not understood.
    """
    out = []
    for status in _decode(der, rfc9810.CRLStatusListValue()):
        source = status["source"]
        dpn_names = issuer_names = None
        if source.getName() == "dpn":
            dpn = source["dpn"]
            if dpn.getName() == "fullName":
                # fullName [0] IMPLICIT GeneralNames: restore the SEQUENCE tag
                dpn_names = implicit_der(dpn["fullName"], 0x30)
        else:
            # issuer [1] EXPLICIT GeneralNames: the SEQUENCE inside the tag
            issuer_names = body_content_der(der_encoder.encode(source["issuer"]))
        this_update = optional(status, "thisUpdate")
        out.append(
            (dpn_names, issuer_names, time_value(this_update) if this_update is not None else None)
        )
    return out


def poll_cert_req_ids(content: Asn1Value) -> list[int]:
    """certReqId of each entry of a PollReqContent, RFC 9810, 5.3.22."""
    return [int(entry["certReqId"]) for entry in content]


def encode_rev_rep_body(*, status: int, status_text: str | None, failure: int | None) -> bytes:
    """DER of an rp body with one PKIStatusInfo, RFC 9810, 5.3.10 / RFC 9483, 4.2."""
    body = rfc9810.PKIBody()
    info = rfc9810.PKIStatusInfo()
    _status_info(info, status, status_text, failure)
    body["rp"]["status"].append(info)
    return der_encoder.encode(body)


def encode_genp_body(items: tuple[tuple[str, bytes | None], ...]) -> bytes:
    """DER of a genp body: [22] GenRepContent, one InfoTypeAndValue per item."""
    content = b""
    for oid, value_der in items:
        itav = encode_oid(oid) + (value_der or b"")
        content += tlv(0x30, itav)
    return tlv(0xB6, tlv(0x30, content))


def encode_poll_rep_body(*, cert_req_id: int, check_after: int, reason: str | None) -> bytes:
    """DER of a pollRep body with one entry, RFC 9810, 5.3.22."""
    body = rfc9810.PKIBody()
    entry = body["pollRep"].componentType.clone()
    entry["certReqId"] = cert_req_id
    entry["checkAfter"] = check_after
    if reason:
        entry["reason"].append(reason)
    body["pollRep"].append(entry)
    return der_encoder.encode(body)


def sequence_of(ders: tuple[bytes, ...] | list[bytes]) -> bytes:
    """DER of a SEQUENCE OF the given DER elements."""
    return tlv(0x30, b"".join(ders))


def encode_integer(value: int) -> bytes:
    """DER INTEGER: two's complement in the fewest octets (X.690, 8.3)."""
    size = ((value if value >= 0 else ~value).bit_length() + 8) // 8
    return tlv(0x02, value.to_bytes(size, "big", signed=True))


def encode_oid(oid: str) -> bytes:
    """DER OBJECT IDENTIFIER (X.690, 8.19): the first two arcs in one subidentifier."""
    arcs = [int(arc) for arc in oid.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"not an OBJECT IDENTIFIER: {oid}")
    content = bytearray()
    for arc in (40 * arcs[0] + arcs[1], *arcs[2:]):
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        content += bytes(reversed(chunk))
    return tlv(0x06, bytes(content))


def encode_root_ca_key_update(
    new_with_new: bytes, new_with_old: bytes | None, old_with_new: bytes | None
) -> bytes:
    """DER of RootCaKeyUpdateContent, RFC 9810, 5.3.19.15 (EXPLICIT tags)."""
    content = new_with_new
    if new_with_old is not None:
        content += tlv(0xA0, new_with_old)
    if old_with_new is not None:
        content += tlv(0xA1, old_with_new)
    return tlv(0x30, content)


def encode_extension(oid: str, critical: bool, value_der: bytes) -> bytes:
    """DER of an Extension, RFC 5280, 4.1 (critical DEFAULT FALSE is omitted)."""
    return tlv(
        0x30,
        encode_oid(oid) + (b"\x01\x01\xff" if critical else b"") + tlv(0x04, value_der),
    )


def encode_cert_req_template(
    *,
    subject_der: bytes | None,
    extension_ders: tuple[bytes, ...],
    controls: tuple[tuple[str, bytes], ...],
) -> bytes:
    """DER of CertReqTemplateContent, RFC 9810, 5.3.19.16 / RFC 9483, 4.3.3.

    certTemplate (CRMF, IMPLICIT TAGS): subject [5] Name (a CHOICE, so
    explicit), extensions [9] Extensions; keySpec is Controls, a SEQUENCE OF
    AttributeTypeAndValue.
    """
    template = b""
    if subject_der is not None:
        template += tlv(0xA5, subject_der)
    if extension_ders:
        template += tlv(0xA9, b"".join(extension_ders))
    content = tlv(0x30, template)
    if controls:
        content += sequence_of([tlv(0x30, encode_oid(oid) + value) for oid, value in controls])
    return tlv(0x30, content)
