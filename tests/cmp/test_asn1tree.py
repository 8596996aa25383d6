"""The debug page's ASN.1 tree: the CMP and SCEP structures named, malformed input kept raw."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cmp.gui import asn1schema, asn1tree

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
IR = (FIXTURES / "cmp" / "ir.der").read_bytes()
CERTCONF = (FIXTURES / "cmp" / "certconf.der").read_bytes()
P10CR = (FIXTURES / "cmp" / "p10cr.der").read_bytes()
PKCSREQ = (FIXTURES / "scep" / "pkcsreq.der").read_bytes()


def tlv(tag: int, *content: bytes) -> bytes:
    body = b"".join(content)
    if len(body) < 128:
        return bytes([tag, len(body)]) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def find(nodes: list[asn1tree.Node], component: str) -> asn1tree.Node:
    """The first node named *component*, depth first."""
    for node in nodes:
        if node.component == component:
            return node
        try:
            return find(node.children, component)
        except LookupError:
            pass
    raise LookupError(component)


def components(node: asn1tree.Node) -> list[str]:
    return [child.component for child in node.children]


def test_ir_header_body_and_template_are_named():
    tree = asn1tree.decode(IR)
    root = tree[0]
    assert root.type_name == "PKIMessage"
    assert components(root) == ["header", "body", "protection"]
    header = find(tree, "header")
    assert header.type_name == "PKIHeader"
    assert components(header) == [
        "pvno",
        "sender",
        "recipient",
        "messageTime",
        "protectionAlg",
        "senderKID",
        "transactionID",
        "senderNonce",
    ]
    assert find(tree, "pvno").note == "cmp2000"
    assert find(tree, "sender").type_name == "GeneralName: directoryName"
    kid = find(tree, "senderKID").children[0]
    assert (kid.value, kid.note) == ("66 67 74 31 30 30 66", '"fgt100f"')
    body = find(tree, "body")
    assert body.type_name == "PKIBody: ir"
    assert body.children[0].component == "ir"
    assert body.children[0].type_name == "CertReqMessages"
    message = body.children[0].children[0]
    assert message.type_name == "CertReqMsg" and components(message) == ["certReq", "popo"]
    assert components(find(tree, "certReq")) == ["certReqId", "certTemplate"]
    template = find(tree, "certTemplate")
    assert template.type_name == "CertTemplate"
    assert components(template) == ["subject", "publicKey", "extensions"]
    assert find(tree, "publicKey").type_name == "SubjectPublicKeyInfo"
    assert find(tree, "extnID").value == "2.5.29.17 (subjectAltName)"
    assert find(tree, "popo").type_name == "ProofOfPossession: signature (POPOSigningKey)"
    text = asn1tree.render_text(tree)
    assert "certTemplate: SEQUENCE (len 153)  [CertTemplate]" in text
    assert "value: UTF8String (len 13): 'fgt100f.local'" in text


def test_certconf_and_p10cr_are_named():
    tree = asn1tree.decode(CERTCONF)
    assert find(tree, "body").type_name == "PKIBody: certConf"
    status = find(tree, "certConf").children[0]
    assert status.type_name == "CertStatus"
    assert components(status)[:2] == ["certHash", "certReqId"]
    tree = asn1tree.decode(P10CR)
    assert find(tree, "body").type_name == "PKIBody: p10cr"
    assert find(tree, "certificationRequestInfo").type_name == "CertificationRequestInfo"


def test_an_error_names_status_and_failinfo_bits():
    # PKIMessage with an error body: rejection, badPOP (bit 9) and badRequest (bit 2).
    header = tlv(0x30, tlv(0x02, b"\x02"), tlv(0xA4, tlv(0x30)), tlv(0xA4, tlv(0x30)))
    status = tlv(
        0x30,
        tlv(0x02, b"\x02"),
        tlv(0x30, tlv(0x0C, b"POP is wrong")),
        tlv(0x03, b"\x06\x20\x40"),
    )
    message = tlv(0x30, header, tlv(0xB7, tlv(0x30, status)))
    tree = asn1tree.decode(message)
    assert find(tree, "body").type_name == "PKIBody: error"
    assert find(tree, "pKIStatusInfo").type_name == "PKIStatusInfo"
    assert find(tree, "status").note == "rejection"
    assert find(tree, "failInfo").note == "badRequest, badPOP"
    assert find(tree, "statusString").type_name == "PKIFreeText"


def test_a_truncated_ir_still_renders_and_is_named_as_far_as_it_goes():
    tree = asn1tree.decode(IR[:300])
    root = tree[0]
    assert root.error and "truncated, 296 of 476 bytes" in root.note
    assert find(tree, "header").type_name == "PKIHeader"  # whole: named
    assert find(tree, "transactionID")
    assert find(tree, "body").type_name == "PKIBody: ir"
    assert find(tree, "certTemplate").error  # cut short inside
    html = str(asn1tree.render_html(tree))
    assert 'class="undecodable"' in html and "truncated" in html
    assert asn1tree.render_text(asn1tree.decode(IR[:-7]))  # the old case still renders


@pytest.mark.parametrize(
    "junk",
    [b"\x30\x03\x02\x01", b"\xa0\x05\x30\x03\x02\x01\x05", b"\x30\x02\xa1\x00", bytes(range(40))],
)
def test_malformed_bodies_render_as_raw_tlv(junk):
    tree = asn1tree.decode(junk)
    html = str(asn1tree.render_html(tree))
    assert html.startswith('<div class="asn1-root">')
    assert "undecodable" in asn1tree.render_text(tree) or tree


def test_a_shape_that_does_not_fit_is_left_unnamed():
    # A SEQUENCE of a SEQUENCE and [0]: looks like a PKIMessage, but the header is junk.
    data = tlv(0x30, tlv(0x30, tlv(0x04, b"x")), tlv(0xA0, tlv(0x05)))
    tree = asn1tree.decode(data)
    assert tree[0].type_name == "PKIMessage"
    header = tree[0].children[0]
    assert header.component == "header"
    assert [child.component for child in header.children] == [""]  # no pvno: stops there


def test_scep_pkcsreq_names_signed_data_and_its_attributes():
    tree = asn1tree.decode(PKCSREQ)
    assert tree[0].type_name == "ContentInfo"
    signed = tree[0].children[1].children[0]
    assert signed.type_name == "SignedData"
    assert components(signed) == [
        "version",
        "digestAlgorithms",
        "encapContentInfo",
        "certificates",
        "signerInfos",
    ]
    attrs = find(tree, "signedAttrs")
    names = components(attrs)
    for name in ("messageType", "transactionID", "senderNonce", "messageDigest"):
        assert name in names
    message_type = find(tree, "messageType")
    assert message_type.children[1].children[0].note == "PKCSReq"
    # The pkcsPKIEnvelope inside eContent: an EnvelopedData.
    envelope = find(tree, "eContent").children[0].children[0]
    assert envelope.type_name == "ContentInfo"
    assert envelope.children[1].children[0].type_name == "EnvelopedData"
    assert "2.16.840.1.113733.1.9.2 (messageType)" in asn1tree.render_text(tree)


def test_html_opens_two_levels_and_collapses_the_rest():
    html = str(asn1tree.render_html(asn1tree.decode(IR)))
    depths = {
        (int(depth), bool(state))
        for depth, state in re.findall(r'<details data-depth="(\d+)"( open)?>', html)
    }
    assert (0, True) in depths and (1, True) in depths
    assert all(not opened for depth, opened in depths if depth >= 2)
    assert all(opened for depth, opened in depths if depth < 2)
    assert '<span class="asn1-field">certTemplate</span>' in html
    assert "&#x27;fgt100f.local&#x27;" in html  # escaped


def test_html_escapes_what_a_client_sent():
    data = tlv(0x0C, b"<script>alert(1)</script>")
    html = str(asn1tree.render_html(asn1tree.decode(data)))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_failure_names():
    assert asn1schema.failure_names(b"\x07\x80") == ["badAlg"]
    assert asn1schema.failure_names(b"\x00\x00\x00\x00\x20") == ["duplicateCertReq"]
    assert asn1schema.failure_names(b"\x00") == []


def test_an_ir_made_by_the_protocol_layer_and_its_error_answer():
    from cryptography.hazmat.primitives.asymmetric import ec

    from cmp.protocol import errors, messages
    from tests.cmp.protocol.client import Client

    client = Client(implicit_confirm=True)
    request = client.ir(ec.generate_private_key(ec.SECP256R1()), "CN=fw.example")
    tree = asn1tree.decode(request)
    assert find(tree, "body").type_name == "PKIBody: ir"
    assert "generalInfo" in components(find(tree, "header"))
    info = find(tree, "generalInfo").children[0].children[0]
    assert info.type_name == "InfoTypeAndValue"
    assert find(info.children, "infoType").value.endswith("(id-it-implicitConfirm)")
    assert find(tree, "certTemplate").type_name == "CertTemplate"

    header = messages.decode(request).header
    answer = errors.error_response(errors.BadPOP("the POP does not verify"), header)
    tree = asn1tree.decode(answer)
    assert find(tree, "body").type_name == "PKIBody: error"
    assert find(tree, "status").note == "rejection"
    assert find(tree, "failInfo").note == "badPOP"
    assert "'the POP does not verify'" in asn1tree.render_text(tree)
    assert find(tree, "recipNonce")  # the answer's header names its nonces
