"""Hostile messages: each is answered with the CMP error it deserves, never a traceback.

The crashing shapes of a fuzzing run (each became systemFailure before), the
limits of cmp.protocol.asn1 with their boundaries, and the oversize messages
that cost seconds of CPU before their sender was authenticated: those are
refused before any ASN.1 decoding, which the tests check by counting.
"""

from __future__ import annotations

import collections
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from cmp.protocol import MalformedMessage, asn1, errors, protection
from cmp.protocol.asn1 import OID
from cmp.protocol.errors import FailureInfo
from cmp.protocol.messages import AlgorithmId

from .client import read_response
from .fuzz import Node, parse
from .oversize import (
    extra_certs_flood,
    free_text_flood,
    general_info_flood,
    with_extra_certs,
    with_header_field,
)
from .test_server import assert_error


def error_of(result):
    response = read_response(result.body)
    assert response.body_type == "error" and result.error is not None
    return response


def assert_refused(result, failure: FailureInfo, text_start: str, *, body_type: str = "error"):
    """Exact failInfo bit; a status text that starts as given (parser details follow).

    ``body_type`` "ip" (...) for a refusal of the request's content, answered in
    its response body with status rejection (RFC 9483, 4.1.1).
    """
    response = error_of(result) if body_type == "error" else read_response(result.body)
    assert response.body_type == body_type and response.status == 2
    assert response.failure_bits == (int(failure),)
    assert result.error.failure == failure
    assert response.status_text.startswith(text_start), response.status_text
    return response


@pytest.fixture
def spy(monkeypatch):
    """Counts the TLVs read and the calls of pyasn1's decoder (both still run)."""
    counts: collections.Counter[str] = collections.Counter()
    read_tlv, pyasn1_decode = asn1._read_tlv, asn1.der_decoder.decode

    def counting_read_tlv(*args, **kwargs):
        counts["tlv"] += 1
        return read_tlv(*args, **kwargs)

    def counting_decode(*args, **kwargs):
        counts["pyasn1"] += 1
        return pyasn1_decode(*args, **kwargs)

    monkeypatch.setattr(asn1, "_read_tlv", counting_read_tlv)
    monkeypatch.setattr(asn1.der_decoder, "decode", counting_decode)
    return counts


# ---------------------------------------------------------------------- unauthenticated CPU


def test_free_text_flood_refused_before_decoding(server, client, ec_key, spy):
    der = free_text_flood(client.ir(ec_key))
    assert len(der) > 1024 * 1024 - 10_000
    spy.clear()
    result = server.handle(der)
    work = dict(spy)  # before the test's own response reader decodes anything
    response = assert_refused(
        result, FailureInfo.badDataFormat, "The message is larger than 262144 bytes."
    )
    # the header is still echoed (RFC 9810, 5.1.1)
    assert response.transaction_id == client.transaction_id
    assert response.recip_nonce == client.sender_nonce
    assert work.get("pyasn1", 0) == 0
    assert work["tlv"] < 100  # 520,000 strings, of which at most 17 were looked at


def test_general_info_flood_refused_before_decoding(server, client, ec_key, spy):
    der = general_info_flood(client.ir(ec_key))
    spy.clear()
    result = server.handle(der)
    work = dict(spy)  # before the test's own response reader decodes anything
    assert_refused(result, FailureInfo.badDataFormat, "The message is larger than 262144 bytes.")
    assert work.get("pyasn1", 0) == 0 and work["tlv"] < 100


def test_extra_certs_flood_refused_before_decoding(server, client, ec_key, ca, spy):
    certificate = ca.root.public_bytes(serialization.Encoding.DER)
    der = extra_certs_flood(client.ir(ec_key), certificate)
    spy.clear()
    result = server.handle(der)
    work = dict(spy)  # before the test's own response reader decodes anything
    assert_refused(result, FailureInfo.badDataFormat, "The message is larger than 262144 bytes.")
    assert work.get("pyasn1", 0) == 0 and work["tlv"] < 100


def test_flood_within_the_size_limit(server, client, ec_key, spy):
    # 64 KiB of freeText: under the message limit, over the header and count limits
    der = free_text_flood(client.ir(ec_key), 32_000)
    assert len(der) < 65_536
    spy.clear()
    result = server.handle(der)
    work = dict(spy)  # before the test's own response reader decodes anything
    assert_refused(result, FailureInfo.badDataFormat, "The header is larger than 8192 bytes.")
    assert work.get("pyasn1", 0) == 0 and work["tlv"] < 100


def test_a_valid_ir_decodes_its_header_without_pyasn1(server, client, ec_key, spy):
    der = client.but(sender_kid=b"nobody").ir(ec_key)
    spy.clear()
    result = server.handle(der)
    work = dict(spy)  # before the test's own response reader decodes anything
    assert result.error is not None and result.error.failure == FailureInfo.badMessageCheck
    assert work.get("pyasn1", 0) == 0  # refused at the lookup: the body was never decoded


# ---------------------------------------------------------------------- limits


def test_free_text_limit(server, client, ec_key):
    request = client.ir(ec_key)
    sixteen = with_header_field(request, 0xA7, asn1.tlv(0x30, b"\x0c\x02hi" * 16))
    # 16 strings pass the decoder; the (unchanged) MAC then fails, as it should
    assert_error(
        server.handle(sixteen),
        FailureInfo.badMessageCheck,
        "Message protection (MAC) does not verify.",
    )
    seventeen = with_header_field(request, 0xA7, asn1.tlv(0x30, b"\x0c\x02hi" * 17))
    assert_refused(
        server.handle(seventeen), FailureInfo.badDataFormat, "freeText has more than 16 strings."
    )


def test_general_info_limit(server, client, ec_key):
    request = client.ir(ec_key)
    item = asn1.tlv(0x30, asn1.encode_oid("1.2.3"))
    assert (
        server.handle(with_header_field(request, 0xA8, asn1.tlv(0x30, item * 16))).error.failure
        == FailureInfo.badMessageCheck
    )
    assert_refused(
        server.handle(with_header_field(request, 0xA8, asn1.tlv(0x30, item * 17))),
        FailureInfo.badDataFormat,
        "generalInfo has more than 16 items.",
    )


def test_extra_certs_limit(server, client, ec_key, ca):
    request = client.ir(ec_key)
    certificate = ca.root.public_bytes(serialization.Encoding.DER)
    # extraCerts are outside the protection: eight of them leave the request valid
    assert server.handle(with_extra_certs(request, [certificate] * 8)).error is None
    assert_refused(
        server.handle(with_extra_certs(request, [certificate] * 9)),
        FailureInfo.badDataFormat,
        "More than 8 extraCerts.",
    )
    big = asn1.tlv(0x30, b"\x00" * (asn1.MAX_CERTIFICATE_SIZE + 1))
    assert_refused(
        server.handle(with_extra_certs(request, [big])),
        FailureInfo.badDataFormat,
        "An extraCert is larger than 65536 bytes.",
    )


def test_transaction_id_of_128_bytes_is_accepted(server, client, ec_key):
    result = server.handle(client.but(transaction_id=b"t" * 128).ir(ec_key))
    assert result.error is None and result.transaction_id == b"t" * 128


def test_transaction_id_longer_than_128_bytes(server, backend, client, ec_key):
    # RFC 9810, 5.1.1: 128 bits are enough; the adapter stores at most 128 bytes
    result = server.handle(client.but(transaction_id=b"t" * 129).ir(ec_key))
    response = assert_refused(
        result, FailureInfo.badDataFormat, "transactionID is longer than 128 bytes."
    )
    assert result.transaction_id is None and response.transaction_id is None
    assert response.recip_nonce == client.sender_nonce
    assert backend.certify_calls == []


def test_sender_kid_longer_than_128_bytes(server, client, ec_key):
    result = server.handle(client.but(sender_kid=b"k" * 129).ir(ec_key))
    response = assert_refused(
        result, FailureInfo.badDataFormat, "senderKID is longer than 128 bytes."
    )
    assert result.sender_kid is None and response.sender_kid is None
    assert response.transaction_id == client.transaction_id


def test_sender_nonce_longer_than_128_bytes(server, client, ec_key):
    assert_refused(
        server.handle(client.but(sender_nonce=b"n" * 129).ir(ec_key)),
        FailureInfo.badDataFormat,
        "senderNonce is longer than 128 bytes.",
    )


def test_body_nested_too_deep(server, client):
    nested = b"\x05\x00"
    for _ in range(40):
        nested = asn1.tlv(0x30, nested)
    result = server.handle(client.finish(asn1.tlv(0xA0, nested)))
    # the MAC verified: the error echoes the header and is MAC-protected
    assert_error(
        result, FailureInfo.badDataFormat, "The ir body cannot be decoded: nested deeper than 32."
    )


def test_undefined_body_type(server, client):
    result = server.handle(client.finish(asn1.tlv(0xBE, b"\x05\x00")))
    assert_refused(
        result, FailureInfo.badDataFormat, "PKIBody [30] is not defined (RFC 9810, 5.1.2)."
    )
    assert result.body_type == "[30]"


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x30\x00",
        b"\x30\x03\x02\x01\x02",  # a header alone
        b"\x30\x88" + (4).to_bytes(8, "big") + b"\x30\x00\x30\x00",  # 8-octet length
        b"\x30\x80\x30\x00\x00\x00",  # indefinite length
        b"\x31\x04\x30\x00\xa0\x00",  # a SET
        b"\x30\x06\x30\x00\xa0\x00\x00\x00",  # trailing bytes inside
    ],
)
def test_not_a_pkimessage(server, junk):
    with pytest.raises(MalformedMessage):
        server.handle(junk)


# ---------------------------------------------------------------------- crashing shapes


def test_eight_octet_length_in_the_body(server, client):
    """OverflowError in pyasn1 on an 8-octet length: now refused by the TLV reader."""
    cert_req_id = b"\x02\x88" + (1).to_bytes(8, "big") + b"\x00"
    body = asn1.tlv(0xA0, asn1.tlv(0x30, asn1.tlv(0x30, asn1.tlv(0x30, cert_req_id + b"\x30\x00"))))
    assert_error(
        server.handle(client.finish(body)),
        FailureInfo.badDataFormat,
        "The ir body cannot be decoded: a length of 8 octets.",
    )


def test_eight_octet_length_in_pbm_parameter(server, client, ec_key):
    salt = b"\x04\x88" + (16).to_bytes(8, "big") + os.urandom(16)
    params = asn1.tlv(0x30, salt + b"\x30\x0b\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01")
    algorithm = AlgorithmId(OID.password_based_mac, params)
    result = server.handle(client.but(algorithm=algorithm).ir(ec_key))
    assert_error(
        result, FailureInfo.badDataFormat, "PBMParameter cannot be decoded.", protected=False
    )


def test_pvno_of_4300_digits(server, client, ec_key):
    """ValueError: Python refuses str() of such an int; the text gives its size."""
    pvno = 10**4300
    result = server.handle(client.but(pvno=pvno).ir(ec_key))
    assert_error(
        result,
        FailureInfo.unsupportedVersion,
        f"pvno ({pvno.bit_length()}-bit integer) is not supported.",
    )
    assert f"pvno: ({pvno.bit_length()}-bit integer)" in result.trace


def test_huge_cert_req_id(server, client, ec_key):
    cert_req_id = 10**5000
    assert_refused(
        server.handle(client.ir(ec_key, cert_req_id=cert_req_id)),
        FailureInfo.badRequest,
        f"certReqId must be 0, not ({cert_req_id.bit_length()}-bit integer).",
        body_type="ip",
    )


def test_huge_iteration_count(server, client, ec_key):
    count = 2**2000
    algorithm = protection.PBMParameters(os.urandom(16), OID.sha256, count, OID.hmac_sha1)
    result = server.handle(client.but(algorithm=algorithm.algorithm()).ir(ec_key))
    assert_error(
        result,
        FailureInfo.badAlg,
        "Iteration count (2001-bit integer) is outside 100..100000.",
        protected=False,
    )


def test_iteration_count_of_5000_digits(server, client, ec_key):
    """ValueError formatting the count: now the parameters are too long to be read."""
    count = 10**5000
    algorithm = protection.PBMParameters(os.urandom(16), OID.sha256, count, OID.hmac_sha1)
    result = server.handle(client.but(algorithm=algorithm.algorithm()).ir(ec_key))
    assert_refused(
        result, FailureInfo.badDataFormat, "protectionAlg parameters are larger than 1024 bytes."
    )
    with pytest.raises(errors.BadAlg, match=r"^Iteration count \(16610-bit integer\) is outside"):
        protection._check_iterations(count)


def _tampered(certificate: x509.Certificate, change) -> bytes:
    tree = parse(certificate.public_bytes(serialization.Encoding.DER))
    change(tree.children[0])  # the TBSCertificate
    return tree.der()


def _extensions(tbs: Node) -> Node:
    return tbs.children[-1].children[0]  # [3] EXPLICIT Extensions


def _duplicate_extension(tbs: Node) -> None:
    extensions = _extensions(tbs)
    extensions.children.append(extensions.children[0])


def _unknown_key_algorithm(tbs: Node) -> None:
    spki = tbs.children[6]  # version, serial, signature, issuer, validity, subject, spki
    spki.children[0].children = [Node(0x06, b"\x2a\x03\x04")]  # 1.2.3.4, no parameters


def _broken_ski(tbs: Node) -> None:
    for extension in _extensions(tbs).children:
        if extension.children[0].content == b"\x55\x1d\x0e":  # 2.5.29.14
            extension.children[-1].content = b"\x30\x00"  # not an OCTET STRING


def _negative_serial(tbs: Node) -> None:
    tbs.children[1].content = b"\xff"


@pytest.mark.parametrize(
    ("change", "failure", "text"),
    [
        (
            _duplicate_extension,
            FailureInfo.badMessageCheck,
            "The protection certificate cannot be parsed: ",
        ),
        (
            _unknown_key_algorithm,
            FailureInfo.badAlg,
            "The key of the protection certificate is not supported: ",
        ),
        (_broken_ski, FailureInfo.badMessageCheck, "The protection certificate cannot be parsed: "),
        (
            _negative_serial,
            FailureInfo.badMessageCheck,
            "The protection certificate cannot be parsed: the serial number of the certificate is not positive",
        ),
    ],
)
def test_attackers_protection_certificate(
    server, backend, client, ec_key, ca, change, failure, text
):
    """ValueError / DuplicateExtension / UnsupportedAlgorithm from the signer's certificate."""
    from .test_server_lifecycle import new_ec_key

    device_key = new_ec_key()
    device = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=fgt100f.local"))
        .issuer_name(ca.root.subject)
        .public_key(device_key.public_key())
        .serial_number(7)
        .not_valid_before(ca.root.not_valid_before_utc)
        .not_valid_after(ca.root.not_valid_after_utc)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(device_key.public_key()), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .sign(ca.root_key, hashes.SHA256())
    )
    request = client.signed(device_key, device).ir(ec_key, body_type="cr")
    result = server.handle(with_extra_certs(request, [_tampered(device, change)]))
    assert_refused(result, failure, text)
    assert backend.calls == []  # the backend was not asked to trust anything


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (asn1.tlv(0x1B, b"ab"), "KeyError"),  # GeneralString: no cryptography type
        (asn1.tlv(0x03, b"\x00ab"), "TypeError"),  # a BIT STRING CN
        (asn1.tlv(0x1C, b"ab"), "ValueError"),  # UniversalString of 2 octets
    ],
)
def test_unparseable_sender_name(server, client, ec_key, value, error):
    """KeyError / TypeError / ValueError from cryptography's Name parser (a header name)."""
    atv = asn1.tlv(0x30, asn1.encode_oid("2.5.4.3") + value)
    name = asn1.tlv(0x30, asn1.tlv(0x31, atv))
    request = client.ir(ec_key)
    _, start, end = asn1._read_tlv(request, 0)
    header = asn1._children(request, start, end)[0]
    fields = asn1._children(request, header.content, header.end)
    content = request[fields[0].start : fields[0].end] + asn1.tlv(0xA4, name)
    content += b"".join(request[f.start : f.end] for f in fields[2:])
    rest = request[header.end : end]
    result = server.handle(asn1.tlv(0x30, asn1.tlv(0x30, content) + rest))
    response = assert_refused(result, FailureInfo.badDataFormat, "The sender is not a valid Name: ")
    assert response.recipient == x509.Name([])  # nothing unreadable is echoed
    assert response.transaction_id == client.transaction_id


def test_template_subject_with_a_key_error(server, backend, client, ec_key):
    """KeyError from cryptography in the template subject: badCertTemplate."""
    body = parse(_body(client.ir(ec_key)))
    template = body.children[0].children[0].children[0].children[1]  # ir > msgs > msg > certReq
    subject = next(n for n in template.children if n.tag == 0xA5)
    atv = Node(0x30, children=[Node(0x06, b"\x55\x04\x03"), Node(0x1B, b"ab")])  # GeneralString
    subject.children = [Node(0x30, children=[Node(0x31, children=[atv])])]
    result = server.handle(client.finish(body.der()))
    assert_refused(
        result,
        FailureInfo.badCertTemplate,
        "The certificate template cannot be parsed: ",
        body_type="ip",
    )
    assert backend.certify_calls == []


def _body(request: bytes) -> bytes:
    _, start, end = asn1._read_tlv(request, 0)
    body = asn1._children(request, start, end)[1]
    return request[body.start : body.end]


def test_template_subject_that_pyasn1_cannot_encode(server, client, ec_key):
    """PyAsn1Error in asn1.name_der: an empty RDN SET in the template subject."""
    body = parse(_body(client.ir(ec_key)))
    template = body.children[0].children[0].children[0].children[1]  # ir > msgs > msg > certReq
    subject = next(n for n in template.children if n.tag == 0xA5)
    subject.children[0].children = [Node(0x31)]  # RelativeDistinguishedName SIZE (1..MAX)
    result = server.handle(client.finish(body.der()))
    assert_refused(
        result,
        FailureInfo.badCertTemplate,
        "The certificate template cannot be parsed: ",
        body_type="ip",
    )


def test_rr_issuer_that_pyasn1_cannot_encode(server, client, ca):
    """PyAsn1Error in asn1.rev_details: an empty RDN SET in certDetails.issuer."""
    body = parse(_body(client.rr(ca.issuing.subject, 7)))
    template = (
        body.children[0].children[0].children[0]
    )  # rr > RevReqContent > RevDetails > certDetails
    issuer = next(n for n in template.children if n.tag == 0xA3)
    issuer.children[0].children = [Node(0x31)]
    result = server.handle(client.finish(body.der()))
    response = error_of(result)
    assert response.failure_bits == (int(FailureInfo.badDataFormat),)
    assert response.status_text.startswith("The rr body cannot be decoded: ")


def test_p10cr_with_an_invalid_csr_version(server, client, ec_key):
    """InvalidVersion from cryptography: badDataFormat."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=fgt100f.local"))
        .sign(ec_key, hashes.SHA256())
    )
    tree = parse(csr.public_bytes(serialization.Encoding.DER))
    tree.children[0].children[0].content = b"\x05"  # version 5
    assert_refused(
        server.handle(client.p10cr(tree.der())),
        FailureInfo.badDataFormat,
        "The PKCS#10 request cannot be parsed: 5 is not a valid CSR version",
    )


# ---------------------------------------------------------------------- authenticated, repeated


def test_genm_repeating_an_info_type_is_answered_once(server, backend, client, ca):
    result = server.handle(client.genm(*[(OID.it_ca_certs, None)] * 5000))
    assert result.error is None
    items = read_response_items(result.body)
    assert [oid for oid, _ in items] == [OID.it_ca_certs]
    asked = [value[0] for name, value in backend.calls if name == "general_info"]
    assert asked == ["caCerts"]
    assert "4999 repeated infoTypes answered once" in result.trace


def test_genm_with_many_unknown_info_types_keeps_the_trace_short(server, backend, client):
    result = server.handle(client.genm(*[(f"1.2.3.{n}", None) for n in range(200)]))
    assert result.error is None
    omitted = [line for line in result.trace if line.endswith("is not supported: omitted")]
    assert len(omitted) == 8
    assert "192 more infoTypes not supported: omitted" in result.trace


def read_response_items(der: bytes):
    from cmp.protocol import messages

    return messages.general_messages(messages.decode(der))
