"""CMP messages for the load generator, built and read as plain DER.

The requests are the ones ``openssl cmp -cmd ir`` sends (compare
tests/fixtures/cmp/ir.der and certconf.der, captured from OpenSSL 3.0):

* header: pvno 2, sender = the requested subject, recipient = the CA's
  subject, messageTime, protectionAlg = PBM (RFC 9810, 5.1.3.1) with a fresh
  16-byte salt, owf SHA-256, 500 iterations, mac HMAC-SHA1 (OpenSSL's
  defaults), senderKID = the enrollment reference, a 16-byte transactionID and
  senderNonce;
* ir: one CertReqMsg, certReqId 0, template with subject and public key,
  signature POP over the DER of the CertRequest (RFC 4211, 4.1);
* certConf: certHash of the issued certificate (the hash of its signature
  algorithm, RFC 9810, 5.3.18), certReqId 0, statusInfo { accepted }, in the
  ir's transaction, recipNonce = the ip's senderNonce, MAC with the same secret.

Nothing here imports the product: the instrument stays the same while the
server's protocol code changes under it. Responses are read with a small DER
walker that takes only what the load generator checks (body type, status,
failInfo, transactionID, recipNonce, the certificate); it does not verify the
response's protection, which is the client's cost, not the server's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

OID_PBM = "1.2.840.113533.7.66.13"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_HMAC_SHA1 = "1.3.6.1.5.5.8.1.2"
OID_SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
OID_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
PBM_ITERATIONS = 500

#: PKIBody choices by context tag number (RFC 9810, 5.1.2).
BODY_TYPES = {
    0: "ir",
    1: "ip",
    2: "cr",
    3: "cp",
    4: "p10cr",
    5: "popdecc",
    6: "popdecr",
    7: "kur",
    8: "kup",
    9: "krr",
    10: "krp",
    11: "rr",
    12: "rp",
    13: "ccr",
    14: "ccp",
    15: "ckuann",
    16: "cann",
    17: "rann",
    18: "crlann",
    19: "pkiconf",
    20: "nested",
    21: "genm",
    22: "genp",
    23: "error",
    24: "certConf",
    25: "pollReq",
    26: "pollRep",
}

#: PKIFailureInfo bit names (RFC 9810, 5.2.3).
FAILURE_BITS = (
    "badAlg",
    "badMessageCheck",
    "badRequest",
    "badTime",
    "badCertId",
    "badDataFormat",
    "wrongAuthority",
    "incorrectData",
    "missingTimeStamp",
    "badPOP",
    "certRevoked",
    "certConfirmed",
    "wrongIntegrity",
    "badRecipientNonce",
    "timeNotAvailable",
    "unacceptedPolicy",
    "unacceptedExtension",
    "addInfoNotAvailable",
    "badSenderNonce",
    "badCertTemplate",
    "signerNotTrusted",
    "transactionIdInUse",
    "unsupportedVersion",
    "notAuthorized",
    "systemUnavail",
    "systemFailure",
    "duplicateCertReq",
)

STATUS_NAMES = (
    "accepted",
    "grantedWithMods",
    "rejection",
    "waiting",
    "revocationWarning",
    "revocationNotification",
    "keyUpdateWarning",
)


# ---------------------------------------------------------------------- DER writing


def tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def octets(value: bytes) -> bytes:
    return tlv(0x04, value)


def integer(value: int) -> bytes:
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def bit_string(value: bytes) -> bytes:
    return tlv(0x03, b"\x00" + value)


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return tlv(0x06, bytes(out))


def context(number: int, content: bytes) -> bytes:
    """[number] constructed (EXPLICIT, or IMPLICIT over a SEQUENCE's content); CMP's
    tags all fit the low-tag form (< 31)."""
    return tlv(0xA0 | number, content)


def utf8(text: str) -> bytes:
    return tlv(0x0C, text.encode())


# ------------------------------------------------------------------------ PBM


@dataclass(frozen=True)
class PBM:
    """One PBM protection: the salt and the key derived from it (RFC 9810, 5.1.3.1).

    The key depends only on the secret and the salt, so it can be derived
    before the clock starts; the MAC over the message is computed when the
    message is known.
    """

    salt: bytes
    key: bytes

    @classmethod
    def new(cls, secret: bytes, iterations: int = PBM_ITERATIONS) -> PBM:
        salt = os.urandom(16)
        # BASEKEY = OWF(secret || salt), then OWF applied iterationCount - 1 more
        # times: OWF is applied iterationCount times in all, as OpenSSL does.
        key = hashlib.sha256(secret + salt).digest()
        for _ in range(iterations - 1):
            key = hashlib.sha256(key).digest()
        return cls(salt, key)

    def algorithm(self, iterations: int = PBM_ITERATIONS) -> bytes:
        """AlgorithmIdentifier { id-PasswordBasedMac, PBMParameter } as OpenSSL writes it."""
        return seq(
            oid(OID_PBM),
            seq(
                octets(self.salt),
                seq(oid(OID_SHA256)),
                integer(iterations),
                seq(oid(OID_HMAC_SHA1)),
            ),
        )

    def mac(self, data: bytes) -> bytes:
        return hmac.new(self.key, data, "sha1").digest()


# ------------------------------------------------------------------ requests


@dataclass(frozen=True)
class Sender:
    """Who sends: the enrollment's reference and secret, the names in the header."""

    reference: bytes
    secret: bytes
    subject_der: bytes
    recipient_der: bytes


def header(
    sender: Sender,
    pbm: PBM,
    transaction_id: bytes,
    sender_nonce: bytes,
    *,
    recip_nonce: bytes | None = None,
    message_time: dt.datetime | None = None,
    free_text: bytes | None = None,
    general_info: bytes | None = None,
) -> bytes:
    """PKIHeader (RFC 9810, 5.1.1); ``free_text`` and ``general_info`` are the
    DER of the SEQUENCEs inside [7] and [8]."""
    moment = message_time or dt.datetime.now(dt.UTC)
    fields = [
        integer(2),
        context(4, sender.subject_der),  # GeneralName directoryName
        context(4, sender.recipient_der),
        context(0, tlv(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode())),
        context(1, pbm.algorithm()),
        context(2, octets(sender.reference)),
        context(4, octets(transaction_id)),
        context(5, octets(sender_nonce)),
    ]
    if recip_nonce is not None:
        fields.append(context(6, octets(recip_nonce)))
    if free_text is not None:
        fields.append(context(7, free_text))
    if general_info is not None:
        fields.append(context(8, general_info))
    return seq(*fields)


def protect(header_der: bytes, body_der: bytes, pbm: PBM, extra_certs: bytes = b"") -> bytes:
    """PKIMessage with the MAC over ProtectedPart { header, body } (RFC 9810, 5.1.3)."""
    mac = pbm.mac(seq(header_der, body_der))
    extra = context(1, seq(extra_certs)) if extra_certs else b""
    return seq(header_der, body_der, context(0, bit_string(mac)), extra)


def _pop_signature(key, data: bytes) -> tuple[bytes, bytes]:
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return seq(oid(OID_SHA256_WITH_RSA), b"\x05\x00"), signature
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return seq(oid(OID_ECDSA_WITH_SHA256)), key.sign(data, ec.ECDSA(hashes.SHA256()))
    raise TypeError(f"unsupported client key {type(key).__name__}")


def ir_body(key, subject_der: bytes) -> bytes:
    """ir [0] with one CertReqMsg: subject, public key, signature POP."""
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    template = seq(context(5, subject_der), context(6, _content(spki)))
    cert_request = seq(integer(0), template)
    algorithm, signature = _pop_signature(key, cert_request)
    popo = context(1, algorithm + bit_string(signature))
    return context(0, seq(seq(cert_request, popo)))


def cert_conf_body(certificate_der: bytes) -> bytes:
    """certConf [24] accepting the certificate (certHash with its signature's hash)."""
    certificate = x509.load_der_x509_certificate(certificate_der)
    algorithm = certificate.signature_hash_algorithm or hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(certificate_der)
    status = seq(octets(digest.finalize()), integer(0), seq(integer(0)))
    return context(24, seq(status))


# -------------------------------------------------------------------- reading


def read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end) of the TLV at ``pos``."""
    tag = data[pos]
    size = data[pos + 1]
    pos += 2
    if size & 0x80:
        count = size & 0x7F
        size = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + size
    if end > len(data):
        raise ValueError("truncated DER")
    return tag, pos, end


def children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    items = []
    while start < end:
        item = read_tlv(data, start)
        items.append(item)
        start = item[2]
    return items


def _content(der: bytes) -> bytes:
    _, start, end = read_tlv(der, 0)
    return der[start:end]


@dataclass(frozen=True)
class Response:
    body_type: str
    transaction_id: bytes | None = None
    sender_nonce: bytes | None = None
    recip_nonce: bytes | None = None
    status: str | None = None
    failure: tuple[str, ...] = ()
    text: str = ""
    certificate: bytes | None = None

    def kind(self) -> str:
        """What went wrong, as the error table groups it."""
        parts = [self.body_type]
        if self.status and self.status != "accepted":
            parts.append(self.status)
        if self.failure:
            parts.append(",".join(self.failure))
        return " ".join(parts)


def _status_info(data: bytes, start: int, end: int) -> tuple[str, tuple[str, ...], str]:
    fields = children(data, start, end)
    number = int.from_bytes(data[fields[0][1] : fields[0][2]], "big")
    status = STATUS_NAMES[number] if number < len(STATUS_NAMES) else str(number)
    failure: tuple[str, ...] = ()
    text = ""
    for tag, s, e in fields[1:]:
        if tag == 0x30:
            texts = children(data, s, e)
            if texts:
                text = data[texts[0][1] : texts[0][2]].decode(errors="replace")
        elif tag == 0x03 and e > s:
            bits = data[s + 1 : e]
            failure = tuple(
                FAILURE_BITS[i] if i < len(FAILURE_BITS) else str(i)
                for i in range(len(bits) * 8)
                if bits[i // 8] & (0x80 >> (i % 8))
            )
    return status, failure, text


def read_response(data: bytes) -> Response:
    """The fields of a PKIMessage the load generator checks."""
    _, start, end = read_tlv(data, 0)
    parts = children(data, start, end)
    head, body = parts[0], parts[1]
    fields: dict[int, bytes] = {}
    for tag, s, _ in children(data, head[1], head[2])[3:]:
        inner = read_tlv(data, s)
        fields[tag & 0x1F] = data[inner[1] : inner[2]]
    body_type = BODY_TYPES.get(body[0] & 0x1F, f"[{body[0] & 0x1F}]")
    extra: dict = {}
    if body_type in ("ip", "cp", "kup"):
        rep = read_tlv(data, body[1])
        items = children(data, rep[1], rep[2])
        responses = [i for i in items if i[0] == 0x30][0]
        first = children(data, responses[1], responses[2])[0]
        cert_response = children(data, first[1], first[2])
        status, failure, text = _status_info(data, cert_response[1][1], cert_response[1][2])
        extra = {"status": status, "failure": failure, "text": text}
        if len(cert_response) > 2 and cert_response[2][0] == 0x30:
            pair = children(data, cert_response[2][1], cert_response[2][2])
            if pair and pair[0][0] == 0xA0:  # certOrEncCert: certificate [0]
                cert = read_tlv(data, pair[0][1])
                extra["certificate"] = data[pair[0][1] : cert[2]]
    elif body_type == "error":
        content = read_tlv(data, body[1])
        info = children(data, content[1], content[2])[0]
        status, failure, text = _status_info(data, info[1], info[2])
        extra = {"status": status, "failure": failure, "text": text}
    return Response(
        body_type=body_type,
        transaction_id=fields.get(4),
        sender_nonce=fields.get(5),
        recip_nonce=fields.get(6),
        **extra,
    )


# ------------------------------------------------- unauthenticated shapes


def flood(
    sender: Sender,
    key,
    *,
    limit: int,
    free_text_item: bytes = b"",
    general_info_item: bytes = b"",
    extra_cert: bytes = b"",
) -> tuple[bytes, int]:
    """An ir with a wrong MAC, grown to at most ``limit`` bytes with as many copies
    as fit of one freeText string, one generalInfo item or one extraCert; returns
    the message and the count. The MAC is computed with a wrong secret, so the
    sender is never authenticated."""
    wrong = Sender(sender.reference, sender.secret + b"x", sender.subject_der, sender.recipient_der)
    pbm = PBM.new(wrong.secret)
    body = ir_body(key, sender.subject_der)
    transaction_id, nonce = os.urandom(16), os.urandom(16)
    item = free_text_item or general_info_item or extra_cert

    def build(count: int) -> bytes:
        run = item * count
        head = header(
            wrong,
            pbm,
            transaction_id,
            nonce,
            free_text=seq(run) if free_text_item else None,
            general_info=seq(run) if general_info_item else None,
        )
        return protect(head, body, pbm, run if extra_cert else b"")

    base = len(build(0))
    count = max(0, (limit - base - 16) // len(item))
    message = build(count)
    while len(message) > limit and count:
        count -= 1 + (len(message) - limit) // len(item)
        message = build(count)
    return message, count
