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

* :func:`decode_message` decodes a PKIMessage and keeps the *original* DER of its
  header and body (parsed as TLVs here, never re-encoded), because the MAC or
  signature covers DER(ProtectedPart) exactly as the sender produced it;
* :func:`cert_request_ders` returns the original DER of each ``certReq`` of a
  CertReqMessages body, over which a signature POP is computed (RFC 4211, 4.1);
* small encoders that take plain Python values (bytes, ints, DER blobs) and
  return DER, so that :mod:`.encode` can build responses without pyasn1 types.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from pyasn1.codec.der import decoder as der_decoder
from pyasn1.codec.der import encoder as der_encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import univ
from pyasn1_alt_modules import rfc4210, rfc4211, rfc5280, rfc8018, rfc9481, rfc9810

from .errors import BadAlg, BadDataFormat, MalformedMessage

__all__ = [
    "Asn1Error",
    "DecodedMessage",
    "OID",
    "decode_message",
]

Asn1Error = PyAsn1Error


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
    sha256_with_rsa = "1.2.840.113549.1.1.11"
    sha384_with_rsa = "1.2.840.113549.1.1.12"
    sha512_with_rsa = "1.2.840.113549.1.1.13"
    ecdsa_with_sha256 = "1.2.840.10045.4.3.2"
    ecdsa_with_sha384 = "1.2.840.10045.4.3.3"
    ecdsa_with_sha512 = "1.2.840.10045.4.3.4"
    implicit_confirm = str(rfc9810.id_it_implicitConfirm)  # 1.3.6.1.5.5.7.4.13
    confirm_wait_time = str(rfc9810.id_it_confirmWaitTime)
    extension_request = "1.2.840.113549.1.9.14"
    rsa_encryption = "1.2.840.113549.1.1.1"
    ec_public_key = "1.2.840.10045.2.1"
    reason_code = "2.5.29.21"  # RFC 5280, 5.3.1
    # RFC 4211, 6.5 / RFC 9483, 4.1.3: the certificate a kur replaces
    reg_ctrl_old_cert_id = str(rfc4211.id_regCtrl_oldCertID)  # 1.3.6.1.5.5.7.5.1.5
    # RFC 9483, 4.3.3: keySpec controls of a certReqTemplate
    reg_ctrl_alg_id = str(rfc9810.id_regCtrl_algId)  # 1.3.6.1.5.5.7.5.1.11
    reg_ctrl_rsa_key_len = str(rfc9810.id_regCtrl_rsaKeyLen)  # 1.3.6.1.5.5.7.5.1.12
    # RFC 9810, 5.3.19 / RFC 9483, 4.3: InfoTypeAndValue types of genm/genp
    it_sign_key_pair_types = str(rfc9810.id_it_signKeyPairTypes)  # id-it 2
    it_ca_certs = str(rfc9810.id_it_caCerts)  # id-it 17
    it_root_ca_key_update = str(rfc9810.id_it_rootCaKeyUpdate)  # id-it 18
    it_cert_req_template = str(rfc9810.id_it_certReqTemplate)  # id-it 19
    it_root_ca_cert = str(rfc9810.id_it_rootCaCert)  # id-it 20
    it_crl_status_list = str(rfc9810.id_it_crlStatusList)  # id-it 22
    it_crls = str(rfc9810.id_it_crls)  # id-it 23


# --------------------------------------------------------------------------- TLV


def _read_tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    """Return (tag byte, content start, end) of the DER TLV at ``offset``.

    Only what CMP needs: single-byte tags (numbers up to 30), definite lengths.
    """
    if offset + 2 > len(data):
        raise ValueError("truncated TLV")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag numbers are not used in CMP")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise ValueError("indefinite length is not DER")
    else:
        count = first & 0x7F
        if count > 4 or pos + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise ValueError("truncated TLV")
    return tag, pos, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, tlv start, content start, end) of each TLV in data[start:end]."""
    out = []
    pos = start
    while pos < end:
        tag, content, stop = _read_tlv(data, pos)
        out.append((tag, pos, content, stop))
        pos = stop
    return out


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


# --------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class DecodedMessage:
    """A decoded PKIMessage with the original DER of its parts."""

    message: rfc9810.PKIMessage
    header_der: bytes
    body_der: bytes

    @property
    def protected_part(self) -> bytes:
        return protected_part(self.header_der, self.body_der)


def decode_message(der: bytes) -> DecodedMessage:
    """Decode a DER PKIMessage; MalformedMessage if it is not one."""
    try:
        tag, start, end = _read_tlv(der, 0)
        if tag != 0x30 or end != len(der):
            raise ValueError("not a single DER SEQUENCE")
        parts = _children(der, start, end)
        if len(parts) < 2:
            raise ValueError("PKIMessage needs a header and a body")
        header_der = der[parts[0][1] : parts[0][3]]
        body_der = der[parts[1][1] : parts[1][3]]
        message, rest = der_decoder.decode(der, asn1Spec=rfc9810.PKIMessage())
    except (PyAsn1Error, ValueError) as exc:
        raise MalformedMessage(f"Not a DER PKIMessage: {str(exc)[:200]}") from exc
    if rest:
        raise MalformedMessage("Trailing data after the PKIMessage.")
    return DecodedMessage(message=message, header_der=header_der, body_der=body_der)


def cert_request_ders(body_der: bytes) -> list[bytes]:
    """Original DER of each CertReqMsg.certReq in an ir/cr/kur/krr/ccr body.

    body is ``[n] EXPLICIT CertReqMessages``; CertReqMessages is
    ``SEQUENCE OF CertReqMsg``; CertReqMsg starts with ``certReq CertRequest``.
    """
    _, start, end = _read_tlv(body_der, 0)
    _, seq_start, seq_end = _read_tlv(body_der, start)
    out = []
    for _tag, _begin, content, stop in _children(body_der, seq_start, seq_end):
        first_tag, first_begin, _c, first_end = _children(body_der, content, stop)[0]
        out.append(body_der[first_begin:first_end])
    return out


def body_content_der(body_der: bytes) -> bytes:
    """The DER inside the body's EXPLICIT context tag (e.g. the CSR of a p10cr)."""
    _, start, end = _read_tlv(body_der, 0)
    return body_der[start:end]


def name_der(name) -> bytes:
    """DER of a pyasn1 rfc5280.Name (or a tagged Name), as a plain Name."""
    return der_encoder.encode(name["rdnSequence"])


def general_name_directory_der(general_name) -> bytes | None:
    """DER of the directoryName in a GeneralName, or None for other choices."""
    if not general_name.isValue or general_name.getName() != "directoryName":
        return None
    return name_der(general_name["directoryName"])


def implicit_der(value, tag: int) -> bytes:
    """DER of an IMPLICIT-tagged component with its universal tag restored."""
    return retag(der_encoder.encode(value), tag)


def decode_pbm_parameter(params_der: bytes) -> tuple[bytes, str, int, str]:
    """(salt, owf OID, iterationCount, mac OID) of a PBMParameter, RFC 9810, 5.1.3.1."""
    try:
        params, rest = der_decoder.decode(params_der, asn1Spec=rfc4210.PBMParameter())
        if rest:
            raise ValueError("trailing data")
        return (
            bytes(params["salt"]),
            str(params["owf"]["algorithm"]),
            int(params["iterationCount"]),
            str(params["mac"]["algorithm"]),
        )
    except (PyAsn1Error, ValueError) as exc:
        raise BadDataFormat("PBMParameter cannot be decoded.") from exc


def encode_pbm_parameter(salt: bytes, owf: str, iteration_count: int, mac: str) -> bytes:
    params = rfc4210.PBMParameter()
    params["salt"] = salt
    params["owf"]["algorithm"] = univ.ObjectIdentifier(owf)
    # RFC 9481, 2: the SHA-2 AlgorithmIdentifiers have absent parameters;
    # OpenSSL sends owf and mac without parameters as well.
    params["iterationCount"] = iteration_count
    params["mac"]["algorithm"] = univ.ObjectIdentifier(mac)
    return der_encoder.encode(params)


def decode_pbmac1_parameter(params_der: bytes) -> tuple[bytes, int, int | None, str, str]:
    """(salt, iterationCount, keyLength, prf OID, mac OID) of PBMAC1-params.

    RFC 9481, 4.1.2 / RFC 8018, A.5: keyDerivationFunc must be PBKDF2 with a
    specified salt.
    """
    try:
        params, rest = der_decoder.decode(params_der, asn1Spec=rfc8018.PBMAC1_params())
        if rest:
            raise ValueError("trailing data")
        kdf = params["keyDerivationFunc"]
        if str(kdf["algorithm"]) != OID.pbkdf2:
            raise BadAlg(f"PBMAC1 key derivation {kdf['algorithm']} is not supported.")
        pbkdf2, rest = der_decoder.decode(
            bytes(kdf["parameters"]), asn1Spec=rfc8018.PBKDF2_params()
        )
        if rest:
            raise ValueError("trailing data")
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
    except (PyAsn1Error, ValueError) as exc:
        raise BadDataFormat("PBMAC1-params cannot be decoded.") from exc


def encode_pbmac1_parameter(
    salt: bytes, iteration_count: int, key_length: int, prf: str, mac: str
) -> bytes:
    pbkdf2 = rfc8018.PBKDF2_params()
    pbkdf2["salt"]["specified"] = salt
    pbkdf2["iterationCount"] = iteration_count
    pbkdf2["keyLength"] = key_length
    pbkdf2["prf"]["algorithm"] = univ.ObjectIdentifier(prf)
    pbkdf2["prf"]["parameters"] = univ.Any(b"\x05\x00")  # RFC 8018, B.1.1: NULL
    params = rfc8018.PBMAC1_params()
    params["keyDerivationFunc"]["algorithm"] = univ.ObjectIdentifier(OID.pbkdf2)
    params["keyDerivationFunc"]["parameters"] = univ.Any(der_encoder.encode(pbkdf2))
    params["messageAuthScheme"]["algorithm"] = univ.ObjectIdentifier(mac)
    params["messageAuthScheme"]["parameters"] = univ.Any(b"\x05\x00")
    return der_encoder.encode(params)


def encode_algorithm_identifier(oid: str, params_der: bytes | None) -> bytes:
    alg = rfc5280.AlgorithmIdentifier()
    alg["algorithm"] = univ.ObjectIdentifier(oid)
    if params_der is not None:
        alg["parameters"] = univ.Any(params_der)
    return der_encoder.encode(alg)


def csr_shell(subject_der: bytes, spki_der: bytes | None, extensions_der: bytes | None) -> bytes:
    """An *unsigned* PKCS#10 structure carrying a template's fields.

    Used only so that ``cryptography`` parses a CRMF CertTemplate's subject,
    public key and extensions with its own (strict) parsers; the signature is
    empty and is never checked.  RFC 2986, 4.
    """
    if spki_der is None:
        # A syntactically valid SubjectPublicKeyInfo (rsaEncryption, empty key)
        # for when only a Name must be parsed.
        spki_der = tlv(
            0x30, encode_algorithm_identifier(OID.rsa_encryption, b"\x05\x00") + tlv(0x03, b"\x00")
        )
    attributes = b""
    if extensions_der is not None:
        attributes = tlv(
            0x30,
            der_encoder.encode(univ.ObjectIdentifier(OID.extension_request))
            + tlv(0x31, extensions_der),
        )
    info = tlv(0x30, b"\x02\x01\x00" + subject_der + spki_der + tlv(0xA0, attributes))
    sig_alg = encode_algorithm_identifier(OID.sha256_with_rsa, b"\x05\x00")
    return tlv(0x30, info + sig_alg + tlv(0x03, b"\x00"))


# --------------------------------------------------------------------------- encoding


def _decode(der: bytes, spec):
    value, rest = der_decoder.decode(der, asn1Spec=spec)
    if rest:
        raise ValueError("trailing data")
    return value


def _set_directory_name(general_name, name_der_bytes: bytes) -> None:
    general_name["directoryName"]["rdnSequence"] = _decode(name_der_bytes, rfc5280.Name())[
        "rdnSequence"
    ]


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
    """DER of a PKIHeader; names are given as DER Names (directoryName)."""
    header = rfc9810.PKIHeader()
    header["pvno"] = pvno
    _set_directory_name(header["sender"], sender_der)
    _set_directory_name(header["recipient"], recipient_der)
    if message_time is not None:
        header["messageTime"] = message_time.astimezone(datetime.UTC).strftime("%Y%m%d%H%M%SZ")
    if protection_alg_der is not None:
        alg = _decode(protection_alg_der, rfc5280.AlgorithmIdentifier())
        header["protectionAlg"]["algorithm"] = alg["algorithm"]
        if alg["parameters"].isValue:
            header["protectionAlg"]["parameters"] = alg["parameters"]
    if sender_kid is not None:
        header["senderKID"] = sender_kid
    if transaction_id is not None:
        header["transactionID"] = transaction_id
    if sender_nonce is not None:
        header["senderNonce"] = sender_nonce
    if recip_nonce is not None:
        header["recipNonce"] = recip_nonce
    for oid, value_der in general_info:
        itav = rfc9810.InfoTypeAndValue()
        itav["infoType"] = univ.ObjectIdentifier(oid)
        if value_der is not None:
            itav["infoValue"] = univ.Any(value_der)
        header["generalInfo"].append(itav)
    return der_encoder.encode(header)


def _status_info(target, status: int, text: str | None, failure: int | None) -> None:
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
    """DER of an ip/cp/kup body with one CertResponse, RFC 9810, 5.3.4."""
    body = rfc9810.PKIBody()
    rep = body[body_type]
    for cert_der in ca_pubs:
        rep["caPubs"].append(_decode(cert_der, rfc9810.CMPCertificate()))
    response = rfc9810.CertResponse()
    response["certReqId"] = cert_req_id
    _status_info(response["status"], status, status_text, failure)
    if certificate is not None:
        # certOrEncCert: certificate [0] EXPLICIT CMPCertificate
        response["certifiedKeyPair"]["certOrEncCert"] = _decode(
            tlv(0xA0, certificate), rfc9810.CertOrEncCert()
        )
    rep["response"].append(response)
    return der_encoder.encode(body)


def encode_pkiconf_body() -> bytes:
    """DER of a pkiconf body: [19] EXPLICIT NULL, RFC 9810, 5.3.17."""
    body = rfc9810.PKIBody()
    body["pkiconf"] = body["pkiconf"].clone(b"")
    return der_encoder.encode(body)


def encode_error_body(*, status: int, status_text: str | None, failure: int | None) -> bytes:
    """DER of an error body (ErrorMsgContent), RFC 9810, 5.3.21."""
    body = rfc9810.PKIBody()
    _status_info(body["error"]["pKIStatusInfo"], status, status_text, failure)
    return der_encoder.encode(body)


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


def optional(sequence, name: str):
    """An OPTIONAL component of a decoded SEQUENCE, or None when absent."""
    value = sequence.getComponentByName(name, default=None, instantiate=False)
    if value is None or not value.isValue:
        return None
    return value


def body_name(message) -> str:
    """The PKIBody choice name ("ir", "certConf", ...) of a decoded PKIMessage."""
    return message["body"].getName()


def body_value(message):
    body = message["body"]
    return body[body.getName()]


def any_der(value) -> bytes | None:
    """The DER held by an ANY (e.g. AlgorithmIdentifier parameters), or None."""
    if value is None or not value.isValue:
        return None
    return bytes(value)


def bit_string_bytes(value) -> bytes:
    return value.asOctets()


def bit_numbers(value) -> tuple[int, ...]:
    """Numbers of the bits set in a BIT STRING (e.g. a PKIFailureInfo)."""
    return tuple(i for i, bit in enumerate(value) if bit)


def time_value(value) -> datetime.datetime:
    """A Time (utcTime/generalTime CHOICE) or GeneralizedTime as an aware datetime."""
    if isinstance(value, rfc5280.Time):
        value = value[value.getName()]
    moment = value.asDateTime
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def certificate_der(cmp_certificate) -> bytes:
    """DER of a CMPCertificate (pyasn1-alt-modules models it as a plain Certificate)."""
    return der_encoder.encode(cmp_certificate)


def is_cert_req_messages(value) -> bool:
    return isinstance(value, rfc4211.CertReqMessages)


def controls(cert_req) -> tuple[tuple[str, bytes], ...]:
    """(type OID, DER of value) of each control of a CertRequest, RFC 4211, 6."""
    out = []
    for control in optional(cert_req, "controls") or ():
        out.append((str(control["type"]), bytes(control["value"])))
    return tuple(out)


def decode_cert_id(der: bytes) -> tuple[bytes | None, int]:
    """(DER of the issuer Name or None if not a directoryName, serialNumber) of a CertId."""
    cert_id = _decode(der, rfc4211.CertId())
    return general_name_directory_der(cert_id["issuer"]), int(cert_id["serialNumber"])


def rev_details(content) -> list[tuple[bytes | None, int | None, bytes | None]]:
    """(issuer Name DER, serialNumber, DER of crlEntryDetails Extensions) per RevDetails.

    RFC 9810, 5.3.9: RevDetails ::= SEQUENCE { certDetails CertTemplate,
    crlEntryDetails Extensions OPTIONAL }.
    """
    out = []
    for details in content:
        template = details["certDetails"]
        issuer = optional(template, "issuer")
        serial = optional(template, "serialNumber")
        extensions = optional(details, "crlEntryDetails")
        out.append(
            (
                name_der(issuer) if issuer is not None else None,
                int(serial) if serial is not None else None,
                der_encoder.encode(extensions) if extensions is not None else None,
            )
        )
    return out


def extension_values(extensions_der: bytes) -> dict[str, bytes]:
    """extnID -> extnValue (the DER inside the OCTET STRING) of an Extensions."""
    extensions = _decode(extensions_der, rfc5280.Extensions())
    return {str(ext["extnID"]): bytes(ext["extnValue"]) for ext in extensions}


def decode_enumerated(der: bytes) -> int:
    return int(_decode(der, univ.Enumerated()))


def info_type_values(content) -> list[tuple[str, bytes | None]]:
    """(infoType OID, DER of infoValue or None) of each InfoTypeAndValue."""
    return [(str(itav["infoType"]), any_der(optional(itav, "infoValue"))) for itav in content]


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


def poll_cert_req_ids(content) -> list[int]:
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
        itav = der_encoder.encode(univ.ObjectIdentifier(oid)) + (value_der or b"")
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
    return der_encoder.encode(univ.Integer(value))


def encode_oid(oid: str) -> bytes:
    return der_encoder.encode(univ.ObjectIdentifier(oid))


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
