"""The TLV reader and writers of cmp.protocol.asn1 against pyasn1, byte for byte."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from pyasn1.codec.der import decoder, encoder
from pyasn1.type import univ
from pyasn1_alt_modules import rfc4210, rfc5280, rfc8018, rfc9810

from cmp.protocol import asn1
from cmp.protocol.asn1 import OID

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cmp"


@pytest.mark.parametrize(
    "value", [-(2**64), -129, -1, 0, 1, 2, 127, 128, 255, 256, 65535, 2**64, 2**200]
)
def test_encode_integer(value):
    assert asn1.encode_integer(value) == encoder.encode(univ.Integer(value))


def test_encode_integer_is_minimal():
    # X.690, 8.3.2: the first nine bits are never all ones (pyasn1 writes ff 80 here)
    assert asn1.encode_integer(-128) == b"\x02\x01\x80"
    assert asn1.encode_integer(-1) == b"\x02\x01\xff"  # certReqId -1 of a p10cr


@pytest.mark.parametrize(
    "oid",
    sorted({v for k, v in vars(OID).items() if not k.startswith("_") and isinstance(v, str)})
    + ["0.0", "1.39", "2.999.1", "2.5.29.17", "1.2.840.113549.1.1.11"],
)
def test_oid_round_trip(oid):
    der = asn1.encode_oid(oid)
    assert der == encoder.encode(univ.ObjectIdentifier(oid))
    assert asn1._oid(der[2:]) == oid


@pytest.mark.parametrize(
    "content",
    [b"", b"\x2a\x80\x01", b"\x2a\x86", b"\x2a" + b"\xff" * 70 + b"\x01"],
    ids=["empty", "leading 0x80", "truncated arc", "too long"],
)
def test_oid_refused(content):
    with pytest.raises(asn1.Asn1Error):
        asn1._oid(content)


def test_generalized_time():
    assert asn1._generalized_time(b"20260102030405Z") == datetime.datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC
    )
    assert asn1._generalized_time(b"20260102030405.25Z").microsecond == 250_000
    for bad in (b"20261302030405Z", b"20260102030405", b"2026010203040Z", b"20260102030405+0100"):
        with pytest.raises(asn1.Asn1Error):
            asn1._generalized_time(bad)


def _pyasn1_header(**fields) -> bytes:
    header = rfc9810.PKIHeader()
    header["pvno"] = fields["pvno"]
    for name in ("sender", "recipient"):
        name_value = decoder.decode(fields[name], asn1Spec=rfc5280.Name())[0]
        header[name]["directoryName"]["rdnSequence"] = name_value["rdnSequence"]
    header["messageTime"] = fields["message_time"].strftime("%Y%m%d%H%M%SZ")
    alg = decoder.decode(fields["alg"], asn1Spec=rfc5280.AlgorithmIdentifier())[0]
    header["protectionAlg"]["algorithm"] = alg["algorithm"]
    if alg["parameters"].isValue:
        header["protectionAlg"]["parameters"] = alg["parameters"]
    header["senderKID"] = fields["sender_kid"]
    header["transactionID"] = fields["transaction_id"]
    header["senderNonce"] = fields["sender_nonce"]
    if fields["recip_nonce"] is not None:
        header["recipNonce"] = fields["recip_nonce"]
    for oid, value in fields["general_info"]:
        itav = rfc9810.InfoTypeAndValue()
        itav["infoType"] = univ.ObjectIdentifier(oid)
        if value is not None:
            itav["infoValue"] = univ.Any(value)
        header["generalInfo"].append(itav)
    return encoder.encode(header)


@pytest.mark.parametrize("general_info", [(), ((OID.implicit_confirm, b"\x05\x00"),)])
@pytest.mark.parametrize("recip_nonce", [None, b"r" * 16])
def test_encode_header_is_what_pyasn1_writes(general_info, recip_nonce):
    fields = {
        "pvno": 3,
        "sender": x509.Name.from_rfc4514_string("CN=Test CA,O=Example,C=DE").public_bytes(),
        "recipient": x509.Name.from_rfc4514_string("CN=fgt100f.local").public_bytes(),
        "message_time": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        "alg": asn1.encode_algorithm_identifier(OID.sha256_with_rsa, b"\x05\x00"),
        "sender_kid": b"fgt100f",
        "transaction_id": b"t" * 16,
        "sender_nonce": b"n" * 16,
        "recip_nonce": recip_nonce,
        "general_info": general_info,
    }
    ours = asn1.encode_header(
        pvno=fields["pvno"],
        sender_der=fields["sender"],
        recipient_der=fields["recipient"],
        message_time=fields["message_time"],
        protection_alg_der=fields["alg"],
        sender_kid=fields["sender_kid"],
        transaction_id=fields["transaction_id"],
        sender_nonce=fields["sender_nonce"],
        recip_nonce=recip_nonce,
        general_info=general_info,
    )
    assert ours == _pyasn1_header(**fields)


@pytest.mark.parametrize("failure", range(27))
@pytest.mark.parametrize("text", [None, "Proof-of-possession is missing.", "Ümlaut"])
def test_encode_error_body_is_what_pyasn1_writes(failure, text):
    body = rfc9810.PKIBody()
    info = body["error"]["pKIStatusInfo"]
    info["status"] = 2
    if text:
        info["statusString"].append(text)
    info["failInfo"] = tuple([0] * failure + [1])
    assert asn1.encode_error_body(status=2, status_text=text, failure=failure) == encoder.encode(
        body
    )


def _pyasn1_cert_rep_body(
    *, body_type, ca_pubs, cert_req_id, status, status_text, failure, certificate
):
    """The ip/cp/kup body as pyasn1 writes it (what the protocol layer used to do)."""
    body = rfc9810.PKIBody()
    rep = body[body_type]
    for cert_der in ca_pubs:
        rep["caPubs"].append(decoder.decode(cert_der, asn1Spec=rfc9810.CMPCertificate())[0])
    response = rfc9810.CertResponse()
    response["certReqId"] = cert_req_id
    response["status"]["status"] = status
    if status_text:
        response["status"]["statusString"].append(status_text)
    if failure is not None:
        response["status"]["failInfo"] = tuple([0] * failure + [1])
    if certificate is not None:
        response["certifiedKeyPair"]["certOrEncCert"] = decoder.decode(
            asn1.tlv(0xA0, certificate), asn1Spec=rfc9810.CertOrEncCert()
        )[0]
    rep["response"].append(response)
    return encoder.encode(body)


def _certificate_der(name: str = "issued.pem") -> bytes:
    from cryptography.hazmat.primitives import serialization

    pem = (FIXTURES / name).read_bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("body_type", ["ip", "cp", "kup"])
@pytest.mark.parametrize(
    ("status", "text", "failure", "issued", "pubs"),
    [
        (0, None, None, True, 0),  # accepted, as OpenSSL's ir gets it
        (0, None, None, True, 1),  # with caPubs (the root)
        (1, "subject changed", None, True, 2),  # grantedWithMods, two caPubs
        (2, "Enrollment not found.", 1, False, 0),  # rejection with failInfo
        (2, None, 26, False, 0),  # the highest bit, no text
        (3, "Waiting for approval", None, False, 0),  # waiting, no certificate
        (0, "Ümlaut " * 30, None, True, 0),  # a long UTF-8 text: long-form lengths
    ],
)
def test_encode_cert_rep_body_is_what_pyasn1_writes(body_type, status, text, failure, issued, pubs):
    certificate = _certificate_der()
    fields = {
        "body_type": body_type,
        "ca_pubs": (certificate,) * pubs,
        "cert_req_id": 0 if status != 2 else -1,
        "status": status,
        "status_text": text,
        "failure": failure,
        "certificate": certificate if issued else None,
    }
    assert asn1.encode_cert_rep_body(**fields) == _pyasn1_cert_rep_body(**fields)


def test_encode_pkiconf_body():
    body = rfc9810.PKIBody()
    body["pkiconf"] = body["pkiconf"].clone(b"")
    assert asn1.encode_pkiconf_body() == encoder.encode(body)


def test_encode_pbm_parameter_is_what_pyasn1_writes():
    params = rfc4210.PBMParameter()
    params["salt"] = b"s" * 16
    params["owf"]["algorithm"] = univ.ObjectIdentifier(OID.sha256)
    params["iterationCount"] = 500
    params["mac"]["algorithm"] = univ.ObjectIdentifier(OID.hmac_sha1)
    ours = asn1.encode_pbm_parameter(b"s" * 16, OID.sha256, 500, OID.hmac_sha1)
    assert ours == encoder.encode(params)
    assert asn1.decode_pbm_parameter(ours) == (b"s" * 16, OID.sha256, 500, OID.hmac_sha1)


def _pbm_cases():
    def alg(oid, params=b""):
        return asn1.tlv(0x30, asn1.encode_oid(oid) + params)

    good = asn1.encode_pbm_parameter(b"s" * 16, OID.sha256, 500, OID.hmac_sha1)
    with_nulls = asn1.tlv(
        0x30,
        asn1.tlv(0x04, b"\x01" * 8)
        + alg(OID.sha1, b"\x05\x00")
        + asn1.encode_integer(2**40)
        + alg(OID.hmac_with_sha256, b"\x05\x00"),
    )
    return [
        good,
        with_nulls,
        good + b"\x00",  # trailing data
        good[:-1],  # cut short
        b"\x31" + good[1:],  # a SET
        asn1.tlv(0x30, asn1.tlv(0x04, b"salt")),  # fields missing
        asn1.tlv(0x30, good[2:] + asn1.encode_integer(1)),  # a field too many
        asn1.tlv(0x30, asn1.tlv(0x0C, b"salt") + good[2 + 2 + 16 :]),  # salt not OCTET STRING
        asn1.tlv(
            0x30, asn1.tlv(0x04, b"s" * 16) + alg(OID.sha256) + b"\x04\x01\x05" + alg(OID.hmac_sha1)
        ),
        asn1.tlv(
            0x30,
            asn1.tlv(0x04, b"s")
            + asn1.tlv(0x30, b"\x05\x00")
            + asn1.encode_integer(1)
            + alg(OID.hmac_sha1),
        ),
        asn1.tlv(
            0x30,
            asn1.tlv(0x04, b"s")
            + alg(OID.sha256, b"\x05\x00\x05\x00")
            + asn1.encode_integer(1)
            + alg(OID.hmac_sha1),
        ),
        b"",
    ]


@pytest.mark.parametrize("der", _pbm_cases())
def test_decode_pbm_parameter_agrees_with_pyasn1(der):
    """The TLV reader of PBMParameter accepts what pyasn1 accepts, with the same values."""
    from cmp.protocol.errors import BadDataFormat

    try:
        params, rest = decoder.decode(der, asn1Spec=rfc4210.PBMParameter())
        assert not rest
        expected = (
            bytes(params["salt"]),
            str(params["owf"]["algorithm"]),
            int(params["iterationCount"]),
            str(params["mac"]["algorithm"]),
        )
    except Exception:  # noqa: BLE001 - pyasn1 refuses it: so must we
        with pytest.raises(BadDataFormat):
            asn1.decode_pbm_parameter(der)
    else:
        assert asn1.decode_pbm_parameter(der) == expected


def test_decode_pbm_parameter_refuses_an_empty_integer():
    """X.690, 8.3.1: an INTEGER has at least one content octet (pyasn1 reads 0)."""
    from cmp.protocol.errors import BadDataFormat

    der = asn1.tlv(
        0x30,
        asn1.tlv(0x04, b"s" * 16)
        + asn1.tlv(0x30, asn1.encode_oid(OID.sha256))
        + b"\x02\x00"
        + asn1.tlv(0x30, asn1.encode_oid(OID.hmac_sha1)),
    )
    with pytest.raises(BadDataFormat):
        asn1.decode_pbm_parameter(der)


def test_encode_pbmac1_parameter_is_what_pyasn1_writes():
    pbkdf2 = rfc8018.PBKDF2_params()
    pbkdf2["salt"]["specified"] = b"s" * 16
    pbkdf2["iterationCount"] = 1000
    pbkdf2["keyLength"] = 32
    pbkdf2["prf"]["algorithm"] = univ.ObjectIdentifier(OID.hmac_with_sha256)
    pbkdf2["prf"]["parameters"] = univ.Any(b"\x05\x00")
    params = rfc8018.PBMAC1_params()
    params["keyDerivationFunc"]["algorithm"] = univ.ObjectIdentifier(OID.pbkdf2)
    params["keyDerivationFunc"]["parameters"] = univ.Any(encoder.encode(pbkdf2))
    params["messageAuthScheme"]["algorithm"] = univ.ObjectIdentifier(OID.hmac_with_sha256)
    params["messageAuthScheme"]["parameters"] = univ.Any(b"\x05\x00")
    ours = asn1.encode_pbmac1_parameter(
        b"s" * 16, 1000, 32, OID.hmac_with_sha256, OID.hmac_with_sha256
    )
    assert ours == encoder.encode(params)


@pytest.mark.parametrize("name", ["ir.der", "p10cr.der", "certconf.der"])
def test_read_header_agrees_with_pyasn1(name):
    """The TLV reader and pyasn1 read the captured openssl requests alike."""
    der = (FIXTURES / name).read_bytes()
    parts = asn1.split_message(der)
    fields = asn1.read_header(parts.header)
    header = decoder.decode(parts.header, asn1Spec=rfc9810.PKIHeader())[0]

    def octets(field):
        value = asn1.optional(header, field)
        return bytes(value) if value is not None else None

    assert fields.pvno == int(header["pvno"])
    assert fields.sender == asn1.name_der(header["sender"]["directoryName"])
    assert fields.recipient == asn1.name_der(header["recipient"]["directoryName"])
    assert fields.message_time == asn1.time_value(header["messageTime"])
    alg = header["protectionAlg"]
    assert fields.protection_alg == (str(alg["algorithm"]), bytes(alg["parameters"]))
    assert fields.sender_kid == octets("senderKID")
    assert fields.transaction_id == octets("transactionID")
    assert fields.sender_nonce == octets("senderNonce")
    assert fields.recip_nonce == octets("recipNonce")
    items = asn1.optional(header, "generalInfo") or ()
    assert fields.general_info == tuple(
        (str(i["infoType"]), asn1.any_der(asn1.optional(i, "infoValue"))) for i in items
    )
    assert fields.defect is None and parts.defect is None
    assert (
        parts.body_type == decoder.decode(der, asn1Spec=rfc9810.PKIMessage())[0]["body"].getName()
    )


def test_check_structure_limits():
    nested = b"\x05\x00"
    for _ in range(asn1.MAX_DEPTH):
        nested = asn1.tlv(0x30, nested)
    asn1.check_structure(nested)
    with pytest.raises(asn1.Asn1Error, match="nested deeper than 32"):
        asn1.check_structure(asn1.tlv(0x30, nested))
    asn1.check_structure(asn1.tlv(0x30, b"\x05\x00" * (asn1.MAX_TLVS - 1)))
    with pytest.raises(asn1.Asn1Error, match="more than 4096 TLVs"):
        asn1.check_structure(asn1.tlv(0x30, b"\x05\x00" * asn1.MAX_TLVS))


def test_children_stop_counting_at_the_limit():
    data = b"\x05\x00" * 1000 + b"\xff"  # junk after the limit is never read
    with pytest.raises(asn1.TooMany):
        asn1._children(data, 0, len(data), 16)
