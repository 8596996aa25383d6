"""CMPServer against the in-memory backend: signed requests, kur, rr, genm and polling.

Every refusal is checked with its exact failInfo bit and status text.
"""

from __future__ import annotations

import datetime
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cmp.protocol import CertReqTemplate, RootCaKeyUpdate, asn1, messages
from cmp.protocol.asn1 import OID
from cmp.protocol.errors import FailureInfo
from cmp.protocol.messages import AlgorithmId

from .backend import LocalCA
from .client import read_response
from .test_server import assert_error as assert_mac_error
from .test_server import assert_rejected


def assert_error(result, failure: FailureInfo, text: str, *, signed: bool = True) -> None:
    response = read_response(result.body)
    assert response.body_type == "error"
    assert response.failure_bits == (int(failure),)
    assert response.status_text == text
    assert result.error is not None and result.error.failure == failure
    assert (response.algorithm is not None and response.algorithm.oid in _SIGS) is signed


_SIGS = {OID.ecdsa_with_sha256, OID.sha256_with_rsa}


def signature_ok(response, ca: LocalCA) -> bool:
    from cmp.protocol import protection

    protection.verify_signature_protection(
        response.algorithm, ca.issuing, response.protected_part, response.protection
    )
    return response.extra_certs[0] == ca.issuing


@pytest.fixture
def enrolled(server, client, ca, key):
    """A certificate issued (and confirmed) through ir with the password, and its key.

    In a transaction of its own: ``client``'s transactionID stays free for the test.
    """
    enrolling = client.but(transaction_id=os.urandom(16))
    result = server.handle(enrolling.ir(key))
    ip = read_response(result.body)
    server.handle(enrolling.but(recip_nonce=ip.sender_nonce).cert_conf(ip.certificate))
    return ip.certificate, key


@pytest.fixture
def signed(client, enrolled):
    certificate, key = enrolled
    return client.but(transaction_id=b"t" * 16).signed(key, certificate)


def new_ec_key():
    return ec.generate_private_key(ec.SECP256R1())


# ---------------------------------------------------------------------- signature protection


def test_signed_cr_then_certconf(server, backend, signed, ca, enrolled):
    result = server.handle(signed.ir(new_ec_key(), body_type="cr"))
    cp = read_response(result.body)
    assert result.error is None and cp.body_type == "cp" and cp.status == 0
    assert signature_ok(cp, ca)
    assert (
        cp.sender == ca.issuing.subject
        and cp.sender_kid
        == ca.issuing.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    assert backend.certify_calls[-1].signer.certificate == enrolled[0]
    assert backend.certify_calls[-1].signer.reference == "fgt100f"
    conf = signed.but(recip_nonce=cp.sender_nonce).cert_conf(cp.certificate)
    result = server.handle(conf)
    pkiconf = read_response(result.body)
    assert result.error is None and pkiconf.body_type == "pkiconf" and signature_ok(pkiconf, ca)
    assert backend.transactions[b"t" * 16].state == "confirmed"


def test_bad_signature(server, signed):
    result = server.handle(signed.but(bad_signature=True).ir(new_ec_key(), body_type="cr"))
    assert_error(
        result,
        FailureInfo.badMessageCheck,
        "Message protection (signature) does not verify.",
        signed=False,
    )


def test_bad_signature_signed_error_with_default_sender(backend, signed, ca):
    from cmp.protocol import CMPServer

    server = CMPServer(backend, default_sender=ca.issuing.subject)
    result = server.handle(signed.but(bad_signature=True).ir(new_ec_key(), body_type="cr"))
    assert_error(
        result, FailureInfo.badMessageCheck, "Message protection (signature) does not verify."
    )
    assert signature_ok(read_response(result.body), ca)


def test_sender_kid_must_be_the_ski(server, client, ca):
    key = new_ec_key()
    # a certificate with an SKI: the CA's own
    result = server.handle(
        client.signed(ca.issuing_key, ca.issuing).but(sender_kid=b"x" * 20).ir(key, body_type="cr")
    )
    assert_error(
        result,
        FailureInfo.badMessageCheck,
        "senderKID does not match the protection certificate's subjectKeyIdentifier.",
        signed=False,
    )


def test_sender_must_be_the_subject(server, signed):
    result = server.handle(
        signed.but(sender=x509.Name.from_rfc4514_string("CN=someone")).ir(
            new_ec_key(), body_type="cr"
        )
    )
    assert_error(
        result,
        FailureInfo.badMessageCheck,
        "sender does not match the protection certificate's subject.",
        signed=False,
    )


def test_untrusted_signer(server, client):
    stranger = LocalCA.create()
    result = server.handle(client.signed(stranger.root_key, stranger.root).ir(new_ec_key()))
    assert_error(
        result,
        FailureInfo.signerNotTrusted,
        "The signer's certificate is not trusted.",
        signed=False,
    )


def test_revoked_signer(server, backend, signed, enrolled):
    backend.issued[enrolled[0].serial_number].is_revoked = True
    result = server.handle(signed.ir(new_ec_key(), body_type="cr"))
    # no CA is known before the signer is trusted (no default_sender): unprotected
    assert_error(
        result, FailureInfo.certRevoked, "The signer's certificate is revoked.", signed=False
    )


def test_issued_certificate_signs_an_ir(server, backend, signed, ca, enrolled):
    # RFC 9483, 4.1.1: an ir may be signature-protected, here by a certificate we issued
    result = server.handle(signed.ir(new_ec_key()))
    ip = read_response(result.body)
    assert result.error is None and (ip.body_type, ip.status) == ("ip", 0)
    assert signature_ok(ip, ca)
    assert backend.certify_calls[-1].signer.certificate == enrolled[0]


def test_issued_certificate_signing_an_ir_where_the_backend_refuses(server, backend, signed):
    backend.issued_may_sign_ir = False
    result = server.handle(signed.ir(new_ec_key()))
    assert_error(
        result, FailureInfo.notAuthorized, "A certificate of ours may not sign ir.", signed=False
    )


def test_device_ir_through_intermediate(server, backend, client, ca):
    from types import SimpleNamespace

    vendor = LocalCA.create(intermediate=True)
    device_key = new_ec_key()
    device = vendor.issue(
        SimpleNamespace(
            subject=x509.Name.from_rfc4514_string("CN=device"),
            public_key=device_key.public_key(),
            subject_alt_names=(),
        )
    )
    backend.vendor_roots = (vendor.root,)
    # without the intermediate in extraCerts the chain cannot be built
    result = server.handle(client.signed(device_key, device).ir(new_ec_key()))
    assert_error(
        result,
        FailureInfo.signerNotTrusted,
        "The signer's certificate is not trusted.",
        signed=False,
    )
    result = server.handle(
        client.but(transaction_id=b"d" * 16)
        .signed(device_key, device, vendor.issuing)
        .ir(new_ec_key())
    )
    ip = read_response(result.body)
    assert result.error is None and ip.status == 0 and signature_ok(ip, ca)
    assert ip.extra_certs == ca.chain


# ---------------------------------------------------------------------- kur


def test_kur_signed(server, backend, signed, enrolled, ca):
    old, _ = enrolled
    result = server.handle(signed.kur(new_ec_key(), old_cert_id=(old.issuer, old.serial_number)))
    kup = read_response(result.body)
    assert result.error is None and kup.body_type == "kup" and kup.status == 0
    assert kup.ca_pubs == () and signature_ok(kup, ca)
    assert kup.certificate.subject == old.subject  # RFC 9483, 4.1.3: subject kept
    update = next(c for name, c in backend.calls if name == "update_key")
    assert update.old_certificate == old and update.old_cert_id.serial_number == old.serial_number
    assert update.subject == old.subject and not update.mac_protected


@pytest.mark.parametrize(
    ("make", "failure", "text"),
    [
        (
            lambda c, old, key: c.kur(
                new_ec_key(), old_cert_id=(old.issuer, old.serial_number + 1)
            ),
            FailureInfo.badCertId,
            "oldCertId does not match the certificate that signed the kur.",
        ),
        (
            lambda c, old, key: c.kur(key),
            FailureInfo.badCertTemplate,
            "The new public key is the key of the certificate to update.",
        ),
        (
            lambda c, old, key: c.kur(new_ec_key(), include_key=False, pop="none"),
            FailureInfo.badCertTemplate,
            "The certificate template has no public key.",
        ),
        (
            lambda c, old, key: c.kur(new_ec_key(), pop="bad"),
            FailureInfo.badPOP,
            "Proof-of-possession signature does not verify.",
        ),
    ],
)
def test_kur_refusals(server, signed, enrolled, ca, make, failure, text):
    # RFC 9483, 4.1.3: a refused kur is answered with a kup, status rejection
    old, key = enrolled
    result = server.handle(make(signed, old, key))
    assert_rejected(result, "kup", failure, text)
    assert signature_ok(read_response(result.body), ca)


def test_kur_with_mac_needs_old_cert_id(server, client):
    result = server.handle(client.kur(new_ec_key()))
    assert_rejected(
        result,
        "kup",
        FailureInfo.badCertId,
        "oldCertId is required when the kur is not signed by the old certificate.",
    )


def test_kur_with_mac(server, backend, client, enrolled):
    old, _ = enrolled
    result = server.handle(
        client.but(transaction_id=b"k" * 16).kur(
            new_ec_key(), old_cert_id=(old.issuer, old.serial_number)
        )
    )
    kup = read_response(result.body)
    assert result.error is None and kup.status == 0 and kup.mac_ok()
    update = next(c for name, c in backend.calls if name == "update_key")
    assert update.mac_protected and update.sender_kid == b"fgt100f" and update.subject is None


def test_kur_with_mac_unknown_certificate(server, client, enrolled):
    old, _ = enrolled
    result = server.handle(client.kur(new_ec_key(), old_cert_id=(old.issuer, 12345)))
    assert_rejected(
        result,
        "kup",
        FailureInfo.badCertId,
        "No certificate of ours has this issuer and serial number.",
    )


# ---------------------------------------------------------------------- rr


def test_rr_signed(server, backend, signed, enrolled, ca):
    old, _ = enrolled
    result = server.handle(signed.rr(old.issuer, old.serial_number, reason=5))
    rp = read_response(result.body)
    assert result.error is None and rp.body_type == "rp" and signature_ok(rp, ca)
    record = backend.issued[old.serial_number]
    assert record.is_revoked and record.revoked == x509.ReasonFlags.cessation_of_operation
    assert f"Certificate revoked: serial {old.serial_number:x}" in result.trace[-2]
    assert result.trace[-1].startswith("CMP response sent: rp,")


@pytest.mark.parametrize(
    ("args", "kwargs", "failure", "text"),
    [
        (
            (None, 1),
            {},
            FailureInfo.addInfoNotAvailable,
            "certDetails must carry the issuer and serialNumber of the certificate to revoke.",
        ),
        (
            ("issuer", None),
            {},
            FailureInfo.addInfoNotAvailable,
            "certDetails must carry the issuer and serialNumber of the certificate to revoke.",
        ),
        (
            ("issuer", "serial"),
            {"reason": 7},
            FailureInfo.badDataFormat,
            "CRL reason code 7 is not valid.",
        ),
        (
            ("issuer", "serial"),
            {"reason": 11},
            FailureInfo.badDataFormat,
            "CRL reason code 11 is not valid.",
        ),
        (
            ("issuer", "serial"),
            {"count": 2},
            FailureInfo.badRequest,
            "Exactly one RevDetails is supported.",
        ),
        (
            ("issuer", 4242),
            {},
            FailureInfo.badCertId,
            "No certificate of ours has this issuer and serial number.",
        ),
    ],
)
def test_rr_refusals(server, client, enrolled, args, kwargs, failure, text):
    # RFC 9483, 4.2: a refused rr is answered with an rp, status rejection
    old, _ = enrolled
    issuer = old.issuer if args[0] == "issuer" else None
    serial = old.serial_number if args[1] == "serial" else args[1]
    assert_rejected(server.handle(client.rr(issuer, serial, **kwargs)), "rp", failure, text)


def test_rr_of_another_certificate_by_signature(server, backend, signed, ca, client, ec_key):
    other = read_response(
        server.handle(client.but(transaction_id=b"o" * 16).ir(ec_key)).body
    ).certificate
    result = server.handle(signed.rr(other.issuer, other.serial_number))
    assert_rejected(
        result,
        "rp",
        FailureInfo.notAuthorized,
        "Only the certificate itself may ask its revocation.",
    )


# ---------------------------------------------------------------------- genm


def genp_items(result):
    response = messages.decode(result.body)
    assert response.body_type == "genp", read_response(result.body)
    return dict(messages.general_messages(response))


def test_genm_ca_certs_and_key_pair_types(server, client, ca):
    result = server.handle(client.genm((OID.it_ca_certs, None), (OID.it_sign_key_pair_types, None)))
    items = genp_items(result)
    assert list(items) == [OID.it_ca_certs, OID.it_sign_key_pair_types]
    assert (
        asn1.sequence_of([c.public_bytes(serialization_der()) for c in ca.chain])
        == items[OID.it_ca_certs]
    )
    assert bytes.fromhex("06082a8648ce3d030107") in items[OID.it_sign_key_pair_types]
    assert read_response(result.body).mac_ok()


def serialization_der():
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.DER


def test_genm_root_ca_cert(server, backend, client, ca):
    from cryptography.hazmat.primitives import serialization

    old_root = ca.root.public_bytes(serialization.Encoding.DER)
    # no update: the infoValue of rootCaKeyUpdate is absent
    items = genp_items(server.handle(client.genm((OID.it_root_ca_cert, old_root))))
    assert items == {OID.it_root_ca_key_update: None}
    request = next(c for name, c in backend.calls if name == "general_info")[1]
    assert request.old_root == ca.root
    new = LocalCA.create()
    backend.root_update = RootCaKeyUpdate(new.root, new_with_old=ca.root)
    items = genp_items(
        server.handle(client.but(transaction_id=b"r" * 16).genm((OID.it_root_ca_cert, old_root)))
    )
    from pyasn1.codec.der import decoder
    from pyasn1_alt_modules import rfc9810

    content = decoder.decode(
        items[OID.it_root_ca_key_update], asn1Spec=rfc9810.RootCaKeyUpdateContent()
    )[0]
    assert content["newWithNew"].isValue and content["newWithOld"].isValue
    assert not content["oldWithNew"].isValue


def test_genm_cert_req_template(server, backend, client):
    backend.template = CertReqTemplate(
        subject=x509.Name.from_rfc4514_string("CN=fgt100f.local"),
        extensions=(
            x509.Extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]).oid,
                False,
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
            ),
        ),
        rsa_key_size=3072,
    )
    items = genp_items(server.handle(client.genm((OID.it_cert_req_template, None))))
    from pyasn1.codec.der import decoder
    from pyasn1_alt_modules import rfc9810

    content = decoder.decode(
        items[OID.it_cert_req_template], asn1Spec=rfc9810.CertReqTemplateContent()
    )[0]
    template = content["certTemplate"]
    assert (
        messages.name_from_der(asn1.name_der(template["subject"])).rfc4514_string()
        == "CN=fgt100f.local"
    )
    assert str(template["extensions"][0]["extnID"]) == "2.5.29.37"
    control = content["keySpec"][0]
    assert str(control["type"]) == OID.reg_ctrl_rsa_key_len
    assert control["value"].asOctets() == asn1.encode_integer(3072)


def test_genm_cert_req_template_ec(server, backend, client):
    backend.template = CertReqTemplate(ec_curve="secp384r1")
    items = genp_items(server.handle(client.genm((OID.it_cert_req_template, None))))
    # certTemplate empty, keySpec id-regCtrl-algId id-ecPublicKey secp384r1
    assert items[OID.it_cert_req_template].endswith(
        bytes.fromhex("06072a8648ce3d020106052b81040022")
    )


def test_genm_crl_status_list(server, backend, client, ca, enrolled):
    old, _ = enrolled
    backend.issued[old.serial_number].is_revoked = True

    def status(this_update: datetime.datetime | None) -> bytes:
        # CRLStatus { source issuer [1] GeneralNames { directoryName [4] }, thisUpdate }
        names = asn1.tlv(0x30, asn1.tlv(0xA4, ca.issuing.subject.public_bytes()))
        body = asn1.tlv(0xA1, names)
        if this_update is not None:
            body += asn1.tlv(0x18, this_update.strftime("%Y%m%d%H%M%SZ").encode())
        return asn1.tlv(0x30, asn1.tlv(0x30, body))

    items = genp_items(server.handle(client.genm((OID.it_crl_status_list, status(None)))))
    crls = items[OID.it_crls]
    crl = x509.load_der_x509_crl(asn1.body_content_der(crls))
    assert crl.get_revoked_certificate_by_serial_number(old.serial_number) is not None
    request = next(c for name, c in backend.calls if name == "general_info")[1]
    assert request.crl_statuses[0].issuer == ca.issuing.subject
    future = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    items = genp_items(
        server.handle(
            client.but(transaction_id=b"c" * 16).genm((OID.it_crl_status_list, status(future)))
        )
    )
    assert items == {OID.it_crls: None}  # up to date: no content


def test_empty_genm_gets_ca_certificates(server, client, ca):
    # RFC 9810, 5.3.19: an empty genm leaves the content to the server.
    items = genp_items(server.handle(client.genm()))
    assert list(items) == [OID.it_ca_certs]
    assert items[OID.it_ca_certs] == asn1.sequence_of(
        [c.public_bytes(serialization_der()) for c in ca.chain]
    )


def test_genm_failures(server, client):
    assert_mac_error(
        server.handle(client.but(transaction_id=b"e" * 16).genm((OID.it_crl_status_list, None))),
        FailureInfo.badRequest,
        "infoType crlStatusList requires an infoValue.",
    )


def test_genm_unknown_info_type_omitted(server, client):
    result = server.handle(client.genm(("1.2.3.4", None), (OID.it_ca_certs, None)))
    assert list(genp_items(result)) == [OID.it_ca_certs]


# ---------------------------------------------------------------------- polling


def test_polling(server, backend, client, ec_key, ca):
    backend.approval_polls = 2
    backend.check_after = 7
    ip = read_response(server.handle(client.ir(ec_key)).body)
    assert ip.body_type == "ip" and ip.status == 3 and ip.certificate is None
    assert ip.status_text == "Waiting for the administrator's approval."
    poll = client.but(recip_nonce=ip.sender_nonce)
    result = server.handle(poll.poll_req(0))
    from pyasn1.codec.der import decoder
    from pyasn1_alt_modules import rfc9810

    rep = decoder.decode(result.body, asn1Spec=rfc9810.PKIMessage())[0]["body"]["pollRep"][0]
    assert int(rep["checkAfter"]) == 7 and int(rep["certReqId"]) == 0
    assert str(rep["reason"][0]) == "Waiting for the administrator's approval."
    assert result.trace[-1].startswith("CMP response sent: pollRep,")
    final = read_response(server.handle(poll.poll_req(0)).body)
    assert final.body_type == "ip" and final.status == 0 and final.certificate is not None
    # RFC 9810, 5.1.1: the certConf echoes the nonce of the message with the certificate
    assert backend.transactions[client.transaction_id].nonce == final.sender_nonce
    result = server.handle(client.but(recip_nonce=final.sender_nonce).cert_conf(final.certificate))
    assert result.error is None and backend.transactions[client.transaction_id].state == "confirmed"


def test_poll_refusals(server, backend, client, ec_key):
    assert_mac_error(
        server.handle(client.poll_req(0)),
        FailureInfo.badRequest,
        "No request of this transaction awaits approval.",
    )
    backend.approval_polls = 2
    server.handle(client.ir(ec_key))
    assert_mac_error(
        server.handle(client.poll_req(0, 1)),
        FailureInfo.badRequest,
        "pollReq must carry exactly one certReqId.",
    )
    assert_mac_error(
        server.handle(client.poll_req(1)),
        FailureInfo.badCertId,
        "certReqId 1 does not match the request.",
    )
    backend.add_enrollment("other", "fortinet1")
    assert_mac_error(
        server.handle(client.but(sender_kid=b"other").poll_req(0)),
        FailureInfo.notAuthorized,
        "pollReq does not come from the sender of the request.",
    )


def test_poll_rejected(server, backend, client, ec_key):
    backend.approval_polls = 1
    backend.reject_on_approval = True
    server.handle(client.ir(ec_key))
    final = read_response(server.handle(client.poll_req(0)).body)
    assert final.body_type == "ip" and final.status == 2
    assert final.failure_bits == (int(FailureInfo.notAuthorized),)
    assert final.status_text == "The administrator rejected the request."


# ---------------------------------------------------------------------- pvno


@pytest.mark.parametrize("body", ["genm", "rr"])
def test_pvno3_is_echoed(server, client, enrolled, body):
    old, _ = enrolled
    v3 = client.but(pvno=3, transaction_id=b"3" * 16)
    request = (
        v3.genm((OID.it_ca_certs, None)) if body == "genm" else v3.rr(old.issuer, old.serial_number)
    )
    assert read_response(server.handle(request).body).pvno == 3


def test_rsa_signer(server, backend, client, rsa_key, ca):
    result = server.handle(client.ir(rsa_key))
    ip = read_response(result.body)
    signed = client.but(transaction_id=b"s" * 16).signed(rsa_key, ip.certificate)
    assert signed.algorithm == AlgorithmId(OID.sha256_with_rsa)
    result = server.handle(signed.rr(ip.certificate.issuer, ip.certificate.serial_number))
    assert result.error is None
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
