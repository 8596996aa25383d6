"""Interop with ``openssl cmp`` beyond enrollment: kur, rr, genm, polling, signed requests.

Each test starts from a certificate enrolled through the server (ir with the
enrollment password) where it needs one, then drives the real client.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cmp.protocol import CertReqTemplate, messages
from cmp.protocol.asn1 import OID
from cmp.protocol.errors import FailureInfo
from cmp.protocol.messages import CertId

from .backend import LocalCA, MemoryBackend
from .client import read_response
from .test_openssl import OpenSSLClient, _openssl_has_cmp, _pem, assert_clean, assert_server_error

pytestmark = pytest.mark.skipif(not _openssl_has_cmp(), reason="openssl lacks the cmp command")


@pytest.fixture
def openssl(tmp_path, root_ca, ec_key) -> OpenSSLClient:
    backend = MemoryBackend(root_ca)
    backend.add_enrollment("fgt100f", "fortinet1")
    return OpenSSLClient(tmp_path, root_ca, backend, ec_key)


@pytest.fixture
def enrolled(openssl):
    """A certificate enrolled with ir: (certificate path, key path)."""
    run = openssl.ir()
    assert_clean(run)
    cert = openssl.tmp / "old.crt"
    cert.write_bytes(run.certout.read_bytes())
    return cert, openssl.key


def ski(certificate: x509.Certificate) -> bytes:
    return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def new_key(openssl, name: str = "new.key"):
    return _pem(openssl.tmp / name, ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def root_ca() -> LocalCA:
    return LocalCA.create()


# ---------------------------------------------------------------------- kur


def kur(openssl, cert, key, *args, **kwargs):
    return openssl.run(
        "-cmd", "kur", "-cert", str(cert), "-key", str(key),
        "-newkey", str(new_key(openssl)), *args, secret=None, **kwargs,
    )  # fmt: skip


def test_kur_signed(openssl, enrolled):
    old_cert, old_key = enrolled
    old = x509.load_pem_x509_certificate(old_cert.read_bytes())
    run = kur(openssl, old_cert, old_key)
    assert_clean(run)
    assert run.body_types == ["kur", "certConf"]
    assert "received KUP" in run.output and "received PKICONF" in run.output
    kup = run.response(0)
    assert kup.body_type == "kup" and kup.status == 0 and kup.ca_pubs == ()
    # RFC 9483, 3.2: signed by the CA; senderKID is its SKI; extraCerts start with it
    assert kup.algorithm.oid == OID.ecdsa_with_sha256
    assert kup.sender == openssl.ca.issuing.subject
    assert kup.sender_kid == ski(openssl.ca.issuing)
    assert kup.extra_certs[0] == openssl.ca.issuing
    assert read_response(run.results[1].body).algorithm.oid == OID.ecdsa_with_sha256
    new = x509.load_pem_x509_certificate(run.certout.read_bytes())
    assert new.subject == old.subject and new.public_key() != old.public_key()
    assert openssl.verify(run.certout).returncode == 0
    updates = [c for name, c in openssl.backend.calls if name == "update_key"]
    assert len(updates) == 1
    update = updates[0]
    assert update.old_certificate == old and not update.mac_protected
    assert update.old_cert_id == CertId.of(old)
    assert openssl.backend.issued[old.serial_number].updated


def test_kur_sends_old_cert_id(openssl, enrolled):
    old_cert, old_key = enrolled
    old = x509.load_pem_x509_certificate(old_cert.read_bytes())
    run = kur(openssl, old_cert, old_key, "-oldcert", str(old_cert))
    assert_clean(run)
    sent = messages.cert_requests(messages.decode(run.harness.exchanges[0].request))[0]
    assert sent.old_cert_id == CertId.of(old)


def test_kur_old_cert_id_of_another_certificate(openssl, enrolled):
    old_cert, old_key = enrolled
    other = openssl.ir()
    assert_clean(other)
    other_cert = openssl.tmp / "other.crt"
    other_cert.write_bytes(other.certout.read_bytes())
    run = kur(openssl, old_cert, old_key, "-oldcert", str(other_cert))
    assert_server_error(
        run,
        FailureInfo.badCertId,
        "oldCertId does not match the certificate that signed the kur.",
        body_type="kup",
    )
    assert "PKIFailureInfo: badCertId" in run.output  # the signed rejection is shown


def test_kur_twice(openssl, enrolled):
    old_cert, old_key = enrolled
    assert_clean(kur(openssl, old_cert, old_key))
    run = kur(openssl, old_cert, old_key)
    assert_server_error(
        run, FailureInfo.notAuthorized, "The certificate was already updated.", body_type="kup"
    )
    assert 'StatusString: "The certificate was already updated."' in run.output


def test_kur_with_revoked_certificate(openssl, enrolled):
    old_cert, old_key = enrolled
    old = x509.load_pem_x509_certificate(old_cert.read_bytes())
    openssl.backend.issued[old.serial_number].is_revoked = True
    run = kur(openssl, old_cert, old_key)
    assert_server_error(run, FailureInfo.certRevoked, "The signer's certificate is revoked.")


def test_kur_with_pbm(openssl, enrolled):
    old_cert, _ = enrolled
    old = x509.load_pem_x509_certificate(old_cert.read_bytes())
    run = openssl.run(
        "-cmd", "kur", "-ref", "fgt100f", "-oldcert", str(old_cert),
        "-newkey", str(new_key(openssl)),
    )  # fmt: skip
    assert_clean(run)
    assert run.body_types == ["kur", "certConf"]
    assert run.response(0).mac_ok()
    update = next(c for name, c in openssl.backend.calls if name == "update_key")
    assert update.mac_protected and update.old_certificate is None
    assert update.old_cert_id == CertId.of(old) and update.sender_kid == b"fgt100f"
    assert update.subject == old.subject


def test_kur_with_pbm_refused(openssl, enrolled):
    old_cert, _ = enrolled
    openssl.backend.allow_mac_kur = False
    run = openssl.run(
        "-cmd", "kur", "-ref", "fgt100f", "-oldcert", str(old_cert),
        "-newkey", str(new_key(openssl)),
    )  # fmt: skip
    # RFC 9483, 4.1.3: the protection is not of the kind expected
    assert_server_error(
        run, FailureInfo.wrongIntegrity, "Key update needs the old certificate's signature."
    )


# ---------------------------------------------------------------------- rr


def test_rr_signed(openssl, enrolled):
    cert, key = enrolled
    old = x509.load_pem_x509_certificate(cert.read_bytes())
    run = openssl.run(
        "-cmd", "rr", "-oldcert", str(cert), "-cert", str(cert), "-key", str(key),
        "-revreason", "1", secret=None,
    )  # fmt: skip
    assert_clean(run)
    assert run.body_types == ["rr"] and "received RP" in run.output
    assert "revocation accepted" in run.output
    rp = read_response(run.results[0].body)
    assert rp.body_type == "rp" and rp.algorithm.oid == OID.ecdsa_with_sha256
    record = openssl.backend.issued[old.serial_number]
    assert record.is_revoked and record.revoked == x509.ReasonFlags.key_compromise


def test_rr_signed_twice(openssl, enrolled):
    cert, key = enrolled
    args = ("-cmd", "rr", "-oldcert", str(cert), "-cert", str(cert), "-key", str(key))
    assert_clean(openssl.run(*args, secret=None))
    run = openssl.run(*args, secret=None)
    assert_server_error(run, FailureInfo.certRevoked, "The signer's certificate is revoked.")


def test_rr_with_pbm(openssl, enrolled):
    cert, _ = enrolled
    old = x509.load_pem_x509_certificate(cert.read_bytes())
    run = openssl.run("-cmd", "rr", "-ref", "fgt100f", "-oldcert", str(cert), "-revreason", "4")
    assert_clean(run)
    assert read_response(run.results[0].body).mac_ok()
    assert openssl.backend.issued[old.serial_number].revoked == x509.ReasonFlags.superseded
    run = openssl.run("-cmd", "rr", "-ref", "fgt100f", "-oldcert", str(cert))
    # RFC 9483, 4.2: the refusal is the rp, status rejection
    assert_server_error(
        run, FailureInfo.certRevoked, "The certificate is already revoked.", body_type="rp"
    )
    assert "PKIFailureInfo: certRevoked" in run.output


def test_rr_unknown_certificate(openssl, tmp_path):
    stranger = LocalCA.create()
    path = _pem(tmp_path / "stranger.pem", stranger.root)
    run = openssl.run("-cmd", "rr", "-ref", "fgt100f", "-oldcert", str(path))
    assert_server_error(
        run,
        FailureInfo.badCertId,
        "No certificate of ours has this issuer and serial number.",
        body_type="rp",
    )


# ---------------------------------------------------------------------- genm


def genm(openssl, infotype: str):
    return openssl.run("-cmd", "genm", "-ref", "fgt100f", "-infotype", infotype)


@pytest.mark.parametrize(
    ("infotype", "oid"),
    [
        ("signKeyPairTypes", OID.it_sign_key_pair_types),
        ("caCerts", OID.it_ca_certs),
        ("certReqTemplate", OID.it_cert_req_template),
        ("rootCaKeyUpdate", OID.it_root_ca_key_update),
    ],
)
def test_genm(openssl, infotype, oid):
    openssl.backend.template = CertReqTemplate(
        subject=x509.Name.from_rfc4514_string("CN=fgt100f.local"), ec_curve="secp256r1"
    )
    run = genm(openssl, infotype)
    assert_clean(run)
    assert run.body_types == ["genm"] and "received GENP" in run.output
    genp = messages.decode(run.results[0].body)
    assert genp.body_type == "genp"
    items = messages.general_messages(genp)
    assert [item[0] for item in items] == [oid]
    assert read_response(run.results[0].body).mac_ok()


def test_genm_unknown_infotype_is_omitted(openssl):
    run = genm(openssl, "unsupportedOIDs")
    assert_clean(run)
    assert messages.general_messages(messages.decode(run.results[0].body)) == ()
    assert "infoType 1.3.6.1.5.5.7.4.7 is not supported: omitted" in run.results[0].trace


@pytest.mark.parametrize(
    ("infotype", "oid", "value"),
    [
        # RFC 9481, 5: AES-256-CBC, were anything encrypted for this CA
        (
            "preferredSymmAlg",
            OID.it_preferred_symm_alg,
            bytes.fromhex("300b060960864801650304012a"),
        ),
        ("encKeyPairTypes", OID.it_enc_key_pair_types, None),
        ("currentCRL", OID.it_current_crl, None),
    ],
)
def test_genm_more_infotypes(openssl, infotype, oid, value):
    run = genm(openssl, infotype)
    assert_clean(run)
    items = dict(messages.general_messages(messages.decode(run.results[0].body)))
    assert list(items) == [oid]
    if value is not None:
        assert items[oid] == value
    else:
        assert items[oid]


def test_genm_signed(openssl, enrolled):
    cert, key = enrolled
    run = openssl.run(
        "-cmd", "genm", "-cert", str(cert), "-key", str(key), "-infotype", "caCerts",
        secret=None,
    )  # fmt: skip
    assert_clean(run)
    assert read_response(run.results[0].body).algorithm.oid == OID.ecdsa_with_sha256


# ---------------------------------------------------------------------- polling


@pytest.mark.parametrize("command", ["ir", "p10cr"])
def test_polling_until_approved(openssl, ec_key, command):
    openssl.backend.approval_polls = 2
    if command == "ir":
        run = openssl.ir("-total_timeout", "30")
    else:
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name.from_rfc4514_string("CN=fgt100f.local"))
            .sign(ec_key, hashes.SHA256())
        )
        path = openssl.tmp / "req.pem"
        path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
        run = openssl.run("-cmd", "p10cr", "-ref", "fgt100f", "-csr", str(path))
    assert_clean(run)
    assert run.body_types == [command, "pollReq", "pollReq", "certConf"]
    first = run.response(0)
    assert first.status == 3 and first.certificate is None  # waiting
    poll_rep = messages.decode(run.results[1].body)
    assert poll_rep.body_type == "pollRep"
    final = run.response(2)
    assert final.body_type == ("ip" if command == "ir" else "cp") and final.status == 0
    assert final.cert_req_id == (0 if command == "ir" else -1)
    assert openssl.verify(run.certout).returncode == 0
    assert next(iter(openssl.backend.transactions.values())).state == "confirmed"


def test_polling_then_rejected(openssl):
    openssl.backend.approval_polls = 1
    openssl.backend.reject_on_approval = True
    run = openssl.ir()
    assert run.returncode != 0
    assert run.body_types == ["ir", "pollReq"]
    final = run.response()
    assert final.body_type == "ip" and final.status == 2
    assert final.failure_bits == (int(FailureInfo.notAuthorized),)
    assert "The administrator rejected the request." in run.output


def test_kur_polling(openssl, enrolled):
    old_cert, old_key = enrolled
    openssl.backend.approval_polls = 1
    run = kur(openssl, old_cert, old_key)
    assert_clean(run)
    assert run.body_types == ["kur", "pollReq", "certConf"]
    assert run.response(1).body_type == "kup"


# ---------------------------------------------------------------------- signed ir / cr


@pytest.fixture
def vendor(tmp_path):
    """A vendor CA (root + intermediate) and a device certificate below it."""
    vendor_ca = LocalCA.create(intermediate=True)
    device_key = ec.generate_private_key(ec.SECP256R1())
    device = vendor_ca.issue(
        SimpleNamespace(
            subject=x509.Name.from_rfc4514_string("CN=FGT60F0000000001,O=Vendor"),
            public_key=device_key.public_key(),
            subject_alt_names=(),
        )
    )
    return SimpleNamespace(
        ca=vendor_ca,
        cert=_pem(tmp_path / "vendor.crt", device),
        key=_pem(tmp_path / "vendor.key", device_key),
        chain=_pem(tmp_path / "chain.pem", vendor_ca.issuing),
    )


def device_ir(openssl, vendor, *args):
    return openssl.run(
        "-cmd", "ir", "-cert", str(vendor.cert), "-key", str(vendor.key),
        "-extracerts", str(vendor.chain), "-newkey", str(openssl.key),
        "-subject", "/CN=fgt100f.local", *args, secret=None,
    )  # fmt: skip


def test_device_ir(openssl, vendor):
    openssl.backend.vendor_roots = (vendor.ca.root,)
    run = device_ir(openssl, vendor)
    assert_clean(run)
    assert run.body_types == ["ir", "certConf"]
    ip = run.response(0)
    assert ip.algorithm.oid == OID.ecdsa_with_sha256 and ip.extra_certs[0] == openssl.ca.issuing
    request = openssl.backend.certify_calls[0]
    assert request.signer.reference == "fgt100f"
    assert request.signer.certificate.subject.rfc4514_string() == "CN=FGT60F0000000001,O=Vendor"
    assert openssl.verify(run.certout).returncode == 0


def test_device_ir_untrusted_vendor(openssl, vendor):
    openssl.server_options = {"default_sender": openssl.ca.issuing.subject}
    run = device_ir(openssl, vendor)
    assert_server_error(
        run, FailureInfo.signerNotTrusted, "The signer's certificate is not trusted."
    )
    # signed by the CA named as default sender, so the pinning client shows the text
    assert run.response().algorithm.oid == OID.ecdsa_with_sha256
    assert 'StatusString: "The signer\'s certificate is not trusted."' in run.output


def test_device_cert_may_not_revoke(openssl, vendor):
    openssl.backend.vendor_roots = (vendor.ca.root,)
    run = openssl.run(
        "-cmd", "rr", "-cert", str(vendor.cert), "-key", str(vendor.key),
        "-extracerts", str(vendor.chain), "-oldcert", str(vendor.cert), secret=None,
    )  # fmt: skip
    assert_server_error(run, FailureInfo.notAuthorized, "A device certificate may not sign rr.")


def test_signed_cr(openssl, enrolled):
    cert, key = enrolled
    run = openssl.run(
        "-cmd", "cr", "-cert", str(cert), "-key", str(key),
        "-newkey", str(new_key(openssl)), "-subject", "/CN=fgt100f.local", secret=None,
    )  # fmt: skip
    assert_clean(run)
    assert run.body_types == ["cr", "certConf"]
    cp = run.response(0)
    assert cp.body_type == "cp" and cp.algorithm.oid == OID.ecdsa_with_sha256
    assert openssl.backend.certify_calls[-1].signer.reference == "fgt100f"
    assert openssl.verify(run.certout).returncode == 0
