"""RFC 9483 / RFC 9481 / RFC 9810 conformance beyond what OpenSSL exercises.

Each section is one group of the rules an independent conformance run found
the server to break, checked against the in-memory backend with the exact
failInfo bit and text; the database adapter's part is in tests/cmp/test_adapter.py.
"""

from __future__ import annotations

import datetime
import os
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from pyasn1.codec.der import decoder
from pyasn1_alt_modules import rfc9810

from cmp.protocol import CertReqTemplate, CMPServer, asn1, encode, kid_text, messages, protection
from cmp.protocol.asn1 import OID
from cmp.protocol.errors import FailureInfo
from cmp.protocol.messages import AlgorithmId

from .backend import LocalCA, MemoryBackend
from .client import Client, pbm, pbmac1, pss, read_response
from .test_server import assert_error, assert_rejected
from .test_server_lifecycle import assert_error as assert_signed_error
from .test_server_lifecycle import signature_ok


def new_ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def fresh(client: Client) -> Client:
    """The same client in a new transaction."""
    return client.but(transaction_id=os.urandom(16), sender_nonce=os.urandom(16))


def issue(server, client: Client, key) -> x509.Certificate:
    """A certificate issued with the password and confirmed, in a transaction of its own."""
    enrolling = fresh(client)
    ip = read_response(server.handle(enrolling.ir(key)).body)
    assert ip.status == 0, ip
    conf = server.handle(enrolling.but(recip_nonce=ip.sender_nonce).cert_conf(ip.certificate))
    assert conf.error is None, conf.error
    return ip.certificate


@pytest.fixture(scope="module")
def other_rsa_key():
    return rsa.generate_private_key(65537, 2048)


def _server(backend: MemoryBackend, **kwargs) -> CMPServer:
    backend.add_enrollment("fgt100f", "fortinet1")
    return CMPServer(backend, **kwargs)


# ---------------------------------------------------------------------- 1. algorithms


@pytest.mark.parametrize("hash_name", ["sha224", "sha256", "sha384", "sha512"])
def test_rsassa_pss_protection_and_pop(server, backend, client, rsa_key, other_rsa_key, hash_name):
    """RFC 9481, 3.1 / RFC 4056: id-RSASSA-PSS with MGF1 of the same hash, salt = hash size."""
    certificate = issue(server, client, rsa_key)
    signed = fresh(client).signed(rsa_key, certificate, algorithm=pss(hash_name))
    result = server.handle(signed.ir(other_rsa_key, body_type="cr", pop_algorithm=pss(hash_name)))
    cp = read_response(result.body)
    assert result.error is None and (cp.body_type, cp.status) == ("cp", 0)
    assert f"Protection checked: RSASSA-PSS with {hash_name} by CN=fgt100f.local" in "\n".join(
        result.trace
    )
    assert f"POP signature algorithm: RSASSA-PSS with {hash_name}" in result.trace
    # the CA's key is EC: it answers with ECDSA
    assert cp.algorithm.oid == OID.ecdsa_with_sha256


def test_rsassa_pss_request_gets_an_rsassa_pss_response_from_an_rsa_ca(client, rsa_key):
    rsa_ca = LocalCA.create(key_type="rsa")
    server = _server(MemoryBackend(rsa_ca))
    certificate = issue(server, client, rsa_key)
    signed = fresh(client).signed(rsa_key, certificate, algorithm=pss())
    cp = read_response(server.handle(signed.ir(new_ec_key(), body_type="cr")).body)
    assert cp.status == 0 and protection.is_pss(cp.algorithm)
    assert protection.signature_scheme(cp.algorithm).salt_length == 32
    assert signature_ok(cp, rsa_ca)
    # PKCS #1 v1.5 asked, PKCS #1 v1.5 answered
    plain = fresh(client).signed(rsa_key, certificate)
    genp = read_response(server.handle(plain.genm((OID.it_ca_certs, None))).body)
    assert genp.algorithm == AlgorithmId(OID.sha256_with_rsa, b"\x05\x00")


@pytest.mark.parametrize(
    ("key_name", "oid", "name"),
    [
        ("ec", OID.ecdsa_with_sha224, "ecdsa-with-SHA224"),
        ("rsa", OID.sha224_with_rsa, "sha224WithRSAEncryption"),
        ("ec", OID.ecdsa_with_shake128, "id-ecdsa-with-shake128"),
        ("ec", OID.ecdsa_with_shake256, "id-ecdsa-with-shake256"),
    ],
)
def test_sha224_and_shake_signatures(server, client, ec_key, rsa_key, key_name, oid, name):
    """RFC 9481, 3.1 and 3.2: SHA-224 variants; RFC 8702, 3.2.2: ECDSA with SHAKE."""
    key = ec_key if key_name == "ec" else rsa_key
    algorithm = AlgorithmId(oid, b"\x05\x00" if key_name == "rsa" else None)
    result = server.handle(client.ir(key, pop_algorithm=algorithm))
    assert result.error is None and f"POP signature algorithm: {name}" in result.trace
    certificate = read_response(result.body).certificate
    server.handle(
        client.but(recip_nonce=read_response(result.body).sender_nonce).cert_conf(certificate)
    )
    signed = fresh(client).signed(key, certificate, algorithm=algorithm)
    result = server.handle(signed.genm((OID.it_ca_certs, None)))
    assert result.error is None
    assert f"Protection checked: {name} by CN=fgt100f.local" in "\n".join(result.trace)


@pytest.mark.parametrize(
    "new_key", [ed25519.Ed25519PrivateKey.generate, ed448.Ed448PrivateKey.generate]
)
def test_eddsa_pop_and_protection(server, backend, client, ca, new_key):
    """RFC 9481, 3.3: Ed25519 and Ed448 for the POP and for message protection."""
    key = new_key()
    certificate = issue(server, client, key)
    assert certificate.public_key() == key.public_key()
    signed = fresh(client).signed(key, certificate)
    result = server.handle(signed.ir(new_ec_key(), body_type="cr"))
    cp = read_response(result.body)
    assert result.error is None and cp.status == 0 and signature_ok(cp, ca)


def test_an_eddsa_ca_signs_its_responses_and_its_certificates(client, ec_key):
    """An Ed25519 CA: responses signed with Ed25519, certHash with SHA-512 (RFC 9481, 3.3)."""
    ed_ca = LocalCA.create(key_type="ed25519")
    server = _server(MemoryBackend(ed_ca))
    ip = read_response(server.handle(client.ir(ec_key)).body)
    assert ip.certificate.signature_algorithm_oid.dotted_string == OID.ed25519
    assert isinstance(protection.certificate_hash(ip.certificate), hashes.SHA512)
    conf = read_response(
        server.handle(client.but(recip_nonce=ip.sender_nonce).cert_conf(ip.certificate)).body
    )
    assert conf.body_type == "pkiconf"
    signed = fresh(client).signed(ec_key, ip.certificate)
    genp = read_response(server.handle(signed.genm((OID.it_ca_certs, None))).body)
    assert genp.algorithm == AlgorithmId(OID.ed25519) and signature_ok(genp, ed_ca)


def test_certificate_hash_of_an_ed448_signed_certificate():
    key = ed448.Ed448PrivateKey.generate()
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(x509.Name([]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now)
        .sign(key, None)
    )
    algorithm = protection.certificate_hash(certificate)
    assert isinstance(algorithm, hashes.SHAKE256) and algorithm.digest_size == 64


def test_rsassa_pss_with_shake_is_refused(server, client, rsa_key):
    # RFC 8702, 3.2.1 needs SHAKE as mask generation function: not in cryptography
    result = server.handle(client.ir(rsa_key, pop_algorithm=AlgorithmId(OID.rsassa_pss_shake128)))
    assert_error(result, FailureInfo.badAlg, "RSASSA-PSS with SHAKE128 is not supported.")


def test_rsassa_pss_with_another_mgf_hash_is_refused(server, client, rsa_key):
    sha256 = asn1.encode_algorithm_identifier(OID.sha256, None)
    sha1 = asn1.encode_algorithm_identifier(OID.sha1, None)
    params = asn1.tlv(
        0x30,
        asn1.tlv(0xA0, sha256)
        + asn1.tlv(0xA1, asn1.encode_algorithm_identifier(OID.mgf1, sha1))
        + asn1.tlv(0xA2, asn1.encode_integer(32)),
    )
    result = server.handle(client.ir(rsa_key, pop_algorithm=AlgorithmId(OID.rsassa_pss, params)))
    assert_error(
        result, FailureInfo.badAlg, "RSASSA-PSS must use MGF1 with its own hash algorithm."
    )


def test_pop_algorithm_that_does_not_fit_the_key(server, client, ec_key, rsa_key):
    result = server.handle(
        client.ir(ec_key, pop_key=rsa_key, pop_algorithm=AlgorithmId(OID.sha256_with_rsa))
    )
    assert_rejected(
        result,
        "ip",
        FailureInfo.badPOP,
        "The proof-of-possession algorithm sha256WithRSAEncryption does not fit the "
        "template's key.",
    )


def test_signature_protector_for_eddsa_and_pss(rsa_key):
    key = ed25519.Ed25519PrivateKey.generate()
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=signer"))
        .issuer_name(x509.Name.from_rfc4514_string("CN=signer"))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, None)
    )
    signer = protection.SignatureProtector.with_key(key, certificate)
    assert signer.answering(pss()) is signer  # not an RSA key: no RSASSA-PSS
    algorithm = signer.new_algorithm()
    assert algorithm == AlgorithmId(OID.ed25519)
    assert protection.verify_signature(
        key.public_key(), algorithm, signer.protect(algorithm, b"data"), b"data"
    )


# ---------------------------------------------------------------------- 3. PBMAC1 counts


def test_pbmac1_iteration_count_up_to_a_million(server, client, ec_key):
    """RFC 9481, 6.1.2 / RFC 8018: common clients use 262,144 and more."""
    _, ip = (
        None,
        read_response(server.handle(client.but(algorithm=pbmac1(1_000_000)).ir(ec_key)).body),
    )
    assert ip.status == 0 and ip.mac_ok()
    result = server.handle(fresh(client).but(algorithm=pbmac1(1_000_001)).ir(ec_key))
    assert_error(
        result,
        FailureInfo.badAlg,
        "Iteration count 1000001 is outside 100..1000000.",
        protected=False,
    )
    # PasswordBasedMac keeps OpenSSL's range
    result = server.handle(fresh(client).but(algorithm=pbm(iterations=262_144)).ir(ec_key))
    assert_error(
        result,
        FailureInfo.badAlg,
        "Iteration count 262144 is outside 100..100000.",
        protected=False,
    )


# ---------------------------------------------------------------------- 4. rejections in the body


def test_rejection_of_a_signed_request_is_signed(server, client, ec_key, ca):
    certificate = issue(server, client, ec_key)
    signed = fresh(client).signed(ec_key, certificate)
    result = server.handle(signed.ir(new_ec_key(), body_type="cr", pop="bad"))
    assert_rejected(
        result, "cp", FailureInfo.badPOP, "Proof-of-possession signature does not verify."
    )
    assert signature_ok(read_response(result.body), ca)


def test_ra_verified_pop_from_an_end_entity(server, client, ec_key):
    # RFC 9483, 4.1.1: raVerified is for an RA
    result = server.handle(client.ir(ec_key, pop="raVerified"))
    assert_rejected(
        result, "ip", FailureInfo.notAuthorized, "raVerified proof-of-possession is not accepted."
    )


# ---------------------------------------------------------------------- 5. modified requests


def test_granted_with_modifications(server, backend, client, ec_key):
    """RFC 9810, 5.2.3: grantedWithMods, and what differs in the statusString."""
    backend.modifications = ("validity shortened to 2027-01-01", "keyUsage replaced")
    result = server.handle(client.ir(ec_key))
    ip = read_response(result.body)
    assert result.error is None and (ip.status, ip.certificate is not None) == (1, True)
    assert ip.status_text == "validity shortened to 2027-01-01; keyUsage replaced"
    assert "Granted with modifications: validity shortened to 2027-01-01; keyUsage replaced" in (
        result.trace
    )
    conf = server.handle(client.but(recip_nonce=ip.sender_nonce).cert_conf(ip.certificate))
    assert read_response(conf.body).body_type == "pkiconf"


class _Key:
    """Stands for a private key in the client: only its public key is sent."""

    def __init__(self, public_key) -> None:
        self._public = public_key

    def public_key(self):
        return self._public


def test_oversized_rsa_key_is_refused_before_the_pop(server, backend, client, ec_key):
    """RFC 9483, 4.1.1 / 5.2.3: badCertTemplate, without a signature check on the key."""
    modulus = int.from_bytes(os.urandom(9000 // 8), "big") | (1 << 8999) | 1
    big = rsa.RSAPublicNumbers(65537, modulus).public_key()
    result = server.handle(client.ir(_Key(big), pop_key=ec_key))
    assert_rejected(
        result,
        "ip",
        FailureInfo.badCertTemplate,
        "RSA key of 9000 bits is too long (maximum 8192).",
    )
    assert not any(line.startswith("POP checked") for line in result.trace)


# ---------------------------------------------------------------------- 7. protected errors


def test_header_error_after_the_mac_is_mac_protected(backend, client, ec_key, ca):
    """RFC 9483, 3.6.4: once the MAC verified, errors carry it, even with a CA to sign."""
    signer = backend.response_signer(ca.issuing.subject)
    server = CMPServer(backend, error_signer=lambda name: signer)
    result = server.handle(client.but(pvno=1).ir(ec_key))
    assert_error(result, FailureInfo.unsupportedVersion, "pvno 1 is not supported.")
    # a MAC that does not verify: the error is signed by the CA instead
    result = server.handle(client.but(wrong_mac=True).ir(ec_key))
    response = read_response(result.body)
    assert not response.mac_ok() and signature_ok(response, ca)


# ---------------------------------------------------------------------- 8. header rules


def test_mac_protected_request_with_a_sender_other_than_a_directory_name(server, client, ec_key):
    # RFC 9483, 3.1: rfc822Name [1] instead of directoryName [4]
    result = server.handle(client.but(raw_sender=asn1.tlv(0x81, b"fgt@example.net")).ir(ec_key))
    assert_error(
        result,
        FailureInfo.badMessageCheck,
        "With MAC-based protection the sender must be a directoryName.",
    )


def test_signed_request_without_sender_kid(server, backend, client, ec_key):
    certificate = issue(server, client, ec_key)
    signed = fresh(client).signed(ec_key, certificate).but(sender_kid=None)
    assert_signed_error(
        server.handle(signed.genm((OID.it_ca_certs, None))),
        FailureInfo.badMessageCheck,
        "senderKID is required: the subjectKeyIdentifier of the protection certificate.",
        signed=False,
    )
    lenient = CMPServer(backend, strict_header_checks=False)
    assert lenient.handle(fresh(signed).genm((OID.it_ca_certs, None))).error is None


def test_recip_nonce_in_the_first_message(server, client, ec_key):
    result = server.handle(client.but(recip_nonce=b"r" * 16).ir(ec_key))
    assert_error(
        result,
        FailureInfo.badRecipientNonce,
        "recipNonce must be absent in the first message of a transaction.",
    )


@pytest.mark.parametrize("make", ["implicit", "rr", "genm"])
def test_transaction_id_reused_after_its_transaction_closed(server, client, ec_key, make):
    """RFC 9810, 5.1.1: a new transaction has a transactionID of its own."""
    first = fresh(client)
    if make == "implicit":
        assert server.handle(first.but(implicit_confirm=True).ir(ec_key)).error is None
    elif make == "rr":
        certificate = issue(server, client, ec_key)
        assert server.handle(first.rr(certificate.issuer, certificate.serial_number)).error is None
    else:
        assert server.handle(first.genm((OID.it_ca_certs, None))).error is None
    again = first.but(sender_nonce=os.urandom(16))
    assert_error(
        server.handle(again.ir(new_ec_key())),
        FailureInfo.transactionIdInUse,
        "transactionID is already in use.",
    )


def test_transaction_ids_are_remembered_within_a_bound(server, backend, client):
    backend.remember_limit = 3
    ids = [os.urandom(16) for _ in range(4)]
    for transaction_id in ids:
        server.handle(client.but(transaction_id=transaction_id).genm((OID.it_ca_certs, None)))
    assert list(backend.remembered) == ids[1:]
    assert not backend.transaction_in_use(ids[0]) and backend.transaction_in_use(ids[3])


@pytest.mark.parametrize(
    ("general_info", "failure", "text"),
    [
        (
            ((OID.implicit_confirm, asn1.encode_integer(1)),),
            FailureInfo.badRequest,
            "The implicitConfirm value must be NULL.",
        ),
        (
            ((OID.confirm_wait_time, asn1.tlv(0x17, b"270101000000Z")),),  # UTCTime
            FailureInfo.badDataFormat,
            "The confirmWaitTime value must be a GeneralizedTime.",
        ),
        (
            (
                (OID.implicit_confirm, b"\x05\x00"),
                (OID.confirm_wait_time, asn1.tlv(0x18, b"20270101000000Z")),
            ),
            FailureInfo.badRequest,
            "implicitConfirm and confirmWaitTime exclude each other.",
        ),
    ],
)
def test_general_info_rules(server, backend, client, ec_key, general_info, failure, text):
    """RFC 9810, 5.1.1.1 and 5.1.1.2; RFC 9483, 3.1."""
    result = server.handle(client.but(general_info=general_info).ir(ec_key))
    assert_error(result, failure, text)
    lenient = CMPServer(backend, strict_header_checks=False)
    assert lenient.handle(fresh(client).but(general_info=general_info).ir(ec_key)).error is None


# ---------------------------------------------------------------------- 9. certConf


@pytest.fixture
def awaiting(server, client, ec_key):
    """An ip awaiting its certConf, and the client that will send it."""
    ip = read_response(server.handle(client.ir(ec_key)).body)
    return client.but(recip_nonce=ip.sender_nonce), ip


def test_certconf_without_transaction_id(server, awaiting):
    conf, ip = awaiting
    result = server.handle(conf.but(transaction_id=None).cert_conf(ip.certificate))
    assert_error(
        result,
        FailureInfo.badRequest,
        "A certConf must carry the transactionID of its transaction.",
    )


def test_certconf_reusing_the_request_nonce(server, client, awaiting):
    conf, ip = awaiting
    result = server.handle(conf.but(sender_nonce=client.sender_nonce).cert_conf(ip.certificate))
    assert_error(
        result, FailureInfo.badSenderNonce, "The certConf reuses the senderNonce of its request."
    )


def test_certconf_accepting_with_a_fail_info(server, awaiting):
    conf, ip = awaiting
    result = server.handle(conf.cert_conf(ip.certificate, failure=int(FailureInfo.badPOP)))
    assert_error(
        result,
        FailureInfo.badRequest,
        "A CertStatus that accepts the certificate carries no failInfo.",
    )


def test_certconf_with_two_cert_statuses(server, awaiting):
    conf, ip = awaiting
    assert_error(
        server.handle(conf.cert_conf(ip.certificate, count=2)),
        FailureInfo.badRequest,
        "certConf must carry exactly one CertStatus.",
    )


def test_repeated_certconf_is_cert_confirmed(server, awaiting):
    conf, ip = awaiting
    assert server.handle(conf.cert_conf(ip.certificate)).error is None
    result = server.handle(conf.but(sender_nonce=os.urandom(16)).cert_conf(ip.certificate))
    assert_error(
        result,
        FailureInfo.certConfirmed,
        "The certificate of this transaction was already confirmed.",
    )


def test_p10cr_certconf_must_name_minus_one(server, client, ec_key):
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=fgt100f.local"))
        .sign(ec_key, hashes.SHA256())
    )
    cp = read_response(server.handle(client.p10cr(csr)).body)
    conf = client.but(recip_nonce=cp.sender_nonce)
    assert_error(
        server.handle(conf.cert_conf(cp.certificate, cert_req_id=0)),
        FailureInfo.badRequest,
        "certReqId 0 does not match the request (-1).",
    )


def test_certconf_signed_by_the_new_certificate(server, client, ec_key, ca):
    key = new_ec_key()
    ip = read_response(server.handle(client.ir(key)).body)
    conf = client.but(recip_nonce=ip.sender_nonce).signed(key, ip.certificate)
    result = server.handle(conf.cert_conf(ip.certificate))
    assert_signed_error(
        result, FailureInfo.badRequest, "A certConf is not signed with the certificate it confirms."
    )
    assert signature_ok(read_response(result.body), ca)


def test_mac_certconf_after_a_signed_ir(server, client, ec_key):
    certificate = issue(server, client, ec_key)
    signed = fresh(client).signed(ec_key, certificate)
    ip = read_response(server.handle(signed.ir(new_ec_key())).body)
    mac = signed.but(
        recip_nonce=ip.sender_nonce,
        sign_key=None,
        extra_certs=(),
        algorithm=pbm(),
        sender_kid=b"fgt100f",
    )
    assert_error(
        server.handle(mac.cert_conf(ip.certificate)),
        FailureInfo.wrongIntegrity,
        "The certConf must be protected as its request was (signature).",
    )


def test_signed_certconf_after_a_mac_ir(server, client, ec_key):
    certificate = issue(server, client, ec_key)
    ip = read_response(server.handle(client.ir(new_ec_key())).body)
    signed = client.but(recip_nonce=ip.sender_nonce).signed(ec_key, certificate)
    assert_signed_error(
        server.handle(signed.cert_conf(ip.certificate)),
        FailureInfo.wrongIntegrity,
        "The certConf must be protected as its request was (MAC).",
    )


# ---------------------------------------------------------------------- 10. kur


def test_requests_signed_by_a_certificate_whose_update_awaits_its_certconf(
    server, client, ec_key, ca
):
    """RFC 9483, 4.1.3: a second kur, or an rr/cr by the old certificate, waits for it."""
    certificate = issue(server, client, ec_key)
    signed = fresh(client).signed(ec_key, certificate)
    kup = read_response(server.handle(signed.kur(new_ec_key())).body)
    assert kup.status == 0
    text = "A key update of the signer's certificate awaits its certConf."
    for request in (
        fresh(signed).kur(new_ec_key()),
        fresh(signed).rr(certificate.issuer, certificate.serial_number),
        fresh(signed).ir(new_ec_key(), body_type="cr"),
    ):
        assert_signed_error(server.handle(request), FailureInfo.badRequest, text, signed=False)
    # the certConf of the kup itself, signed by the old certificate, goes through
    conf = signed.but(recip_nonce=kup.sender_nonce).cert_conf(kup.certificate)
    assert server.handle(conf).error is None


# ---------------------------------------------------------------------- 11. rr


@pytest.fixture
def revocable(server, client, ec_key):
    certificate = issue(server, client, ec_key)
    return certificate, fresh(client)


@pytest.mark.parametrize(
    ("kwargs", "failure", "text"),
    [
        (
            {"reason": 1, "reasons": (4,)},
            FailureInfo.badRequest,
            "crlEntryDetails must carry exactly one reasonCode.",
        ),
        (
            {"reason": 6, "reasons": (8,)},
            FailureInfo.badRequest,
            "crlEntryDetails must carry exactly one reasonCode.",
        ),
        ({"version": 0}, FailureInfo.badRequest, "certDetails version must be 2 (1), not 0."),
        (
            {"subject": x509.Name.from_rfc4514_string("CN=someone else")},
            FailureInfo.badCertTemplate,
            "The subject in certDetails is not the certificate's.",
        ),
        (
            {"public_key": ec.generate_private_key(ec.SECP256R1()).public_key()},
            FailureInfo.badCertTemplate,
            "The public key in certDetails is not the certificate's.",
        ),
        (
            {"entry_extensions": (("2.5.29.29", asn1.tlv(0x30, b"")),)},
            FailureInfo.badRequest,
            "crlEntryDetails extension 2.5.29.29 is not supported.",
        ),
    ],
)
def test_rr_content_rules(server, revocable, kwargs, failure, text):
    """RFC 9483, 4.2: answered in the rp, status rejection."""
    certificate, client = revocable
    result = server.handle(client.rr(certificate.issuer, certificate.serial_number, **kwargs))
    assert_rejected(result, "rp", failure, text)


def test_rr_with_matching_template_fields_and_an_invalidity_date(server, backend, revocable):
    certificate, client = revocable
    invalidity = asn1.tlv(0x18, b"20260101000000Z")
    result = server.handle(
        client.rr(
            certificate.issuer,
            certificate.serial_number,
            reason=1,
            version=1,
            subject=certificate.subject,
            public_key=certificate.public_key(),
            entry_extensions=((OID.invalidity_date, invalidity),),
        )
    )
    assert result.error is None and read_response(result.body).status == 0
    assert backend.issued[certificate.serial_number].is_revoked


def test_revive_a_certificate_on_hold(server, backend, revocable, client):
    """RFC 9810, 5.3.9: removeFromCRL takes a certificate off hold."""
    certificate, rr_client = revocable
    assert (
        server.handle(rr_client.rr(certificate.issuer, certificate.serial_number, reason=6)).error
        is None
    )
    record = backend.issued[certificate.serial_number]
    assert record.is_revoked and record.revoked == x509.ReasonFlags.certificate_hold
    result = server.handle(
        fresh(client).rr(certificate.issuer, certificate.serial_number, reason=8)
    )
    assert result.error is None and "Certificate revived: serial" in result.trace[-2]
    assert not record.is_revoked
    # a certificate that is not on hold cannot be revived
    assert_rejected(
        server.handle(fresh(client).rr(certificate.issuer, certificate.serial_number, reason=8)),
        "rp",
        FailureInfo.badCertId,
        "The certificate is not on hold.",
    )


def test_rr_from_a_trusted_management_entity(server, backend, client, ec_key, ca):
    """RFC 9483, 5.3.2: an RA revokes, and revives, certificates of others."""
    certificate = issue(server, client, ec_key)
    ra_key = new_ec_key()
    ra = ca.issue(
        SimpleNamespace(
            subject=x509.Name.from_rfc4514_string("CN=RA"),
            public_key=ra_key.public_key(),
            subject_alt_names=(),
        )
    )
    backend.ra_certificates = (ra,)
    ra_client = fresh(client).signed(ra_key, ra)
    result = server.handle(ra_client.rr(certificate.issuer, certificate.serial_number, reason=6))
    assert result.error is None and signature_ok(read_response(result.body), ca)
    result = server.handle(
        fresh(ra_client).rr(certificate.issuer, certificate.serial_number, reason=8)
    )
    assert result.error is None and not backend.issued[certificate.serial_number].is_revoked
    # the RA certificate authorizes revocations, not enrollments
    assert_signed_error(
        server.handle(fresh(ra_client).ir(new_ec_key(), body_type="cr")),
        FailureInfo.notAuthorized,
        "The RA certificate may not sign cr.",
        signed=False,
    )


# ---------------------------------------------------------------------- 12. failInfo choices


def test_template_key_of_an_unknown_algorithm_is_bad_alg(server, client):
    spki = asn1.tlv(
        0x30, asn1.encode_algorithm_identifier("1.2.3.4", None) + asn1.tlv(0x03, b"\x00key")
    )

    class Unknown:
        def public_bytes(self, *_args):
            return spki

    result = server.handle(client.ir(_Key(Unknown()), pop="none"))
    assert_error(result, FailureInfo.badAlg, "The key algorithm in the template is not supported.")


def test_kid_text():
    assert kid_text(b"fgt100f") == "fgt100f"
    assert kid_text(b"\x01\x02") == "0102"
    assert kid_text(b"\xff") == "ff"
    assert kid_text(None) == kid_text(b"") == ""


# ---------------------------------------------------------------------- 13. genm


def genp(result) -> dict[str, bytes | None]:
    response = messages.decode(result.body)
    assert response.body_type == "genp", read_response(result.body)
    return dict(messages.general_messages(response))


def test_genm_current_crl_and_key_pair_types(server, backend, client, ca):
    items = genp(
        server.handle(
            client.genm(
                (OID.it_current_crl, None),
                (OID.it_enc_key_pair_types, None),
                (OID.it_preferred_symm_alg, None),
                (OID.it_ca_prot_enc_cert, None),
            )
        )
    )
    crl = x509.load_der_x509_crl(items[OID.it_current_crl])
    assert crl.issuer == ca.issuing.subject
    assert bytes.fromhex("06082a8648ce3d030107") in items[OID.it_enc_key_pair_types]
    # RFC 9481, 5: AES-256-CBC
    assert items[OID.it_preferred_symm_alg] == asn1.encode_algorithm_identifier(
        OID.aes256_cbc, None
    )
    assert items[OID.it_ca_prot_enc_cert] is None  # the CA has no encryption certificate


def test_genm_ca_prot_enc_cert(server, backend, client, ca):
    backend.encryption_certificate = ca.root
    items = genp(server.handle(client.genm((OID.it_ca_prot_enc_cert, None))))
    assert x509.load_der_x509_certificate(items[OID.it_ca_prot_enc_cert]) == ca.root


@pytest.mark.parametrize(("tags", "chosen"), [(("de", "en-GB"), "en"), (("EN",), "en")])
def test_genm_supported_language_tags(server, client, tags, chosen):
    value = encode.language_tags_value(tags)
    items = genp(server.handle(client.genm((OID.it_supp_lang_tags, value))))
    assert asn1.utf8_strings(items[OID.it_supp_lang_tags]) == (chosen,)


@pytest.mark.parametrize(
    ("item", "text"),
    [
        ((OID.it_ca_certs, b"\x05\x00"), "infoType caCerts is asked for without an infoValue."),
        (
            (OID.it_current_crl, b"\x05\x00"),
            "infoType currentCRL is asked for without an infoValue.",
        ),
        ((OID.it_supp_lang_tags, None), "infoType suppLangTags requires an infoValue."),
        (
            (OID.it_supp_lang_tags, encode.language_tags_value(("de",))),
            "None of the languages offered is supported; this server writes en.",
        ),
        (
            (OID.it_supp_lang_tags, asn1.tlv(0x30, asn1.tlv(0x02, b"\x01"))),
            "The suppLangTags infoValue is malformed: not a SEQUENCE OF UTF8String",
        ),
        (
            (OID.it_root_ca_cert, asn1.tlv(0x30, b"")),
            "The rootCaCert infoValue is malformed: The certificate in the request cannot be parsed.",
        ),
    ],
)
def test_genm_info_value_rules(server, client, item, text):
    """RFC 9483, 4.3 / RFC 9810, 5.3.19: a value only where the infoType has one; badRequest."""
    assert_error(server.handle(client.genm(item)), FailureInfo.badRequest, text)


@pytest.mark.parametrize(
    ("template", "control"),
    [
        (CertReqTemplate(rsa_key_size=3072), OID.reg_ctrl_rsa_key_len),
        (CertReqTemplate(ec_curve="secp384r1"), OID.reg_ctrl_alg_id),
        (CertReqTemplate(eddsa="ed25519"), OID.reg_ctrl_alg_id),
    ],
)
def test_cert_req_template_names_one_key_type(server, backend, client, template, control):
    """RFC 9483, 4.3.3: keySpec holds rsaKeyLen or algId, not both."""
    backend.template = template
    items = genp(server.handle(client.genm((OID.it_cert_req_template, None))))
    content = decoder.decode(
        items[OID.it_cert_req_template], asn1Spec=rfc9810.CertReqTemplateContent()
    )[0]
    assert [str(c["type"]) for c in content["keySpec"]] == [control]
    if template.eddsa:
        assert content["keySpec"][0]["value"].asOctets() == asn1.encode_algorithm_identifier(
            OID.ed25519, None
        )


def test_cert_req_template_refuses_two_key_types():
    with pytest.raises(ValueError, match="one key type"):
        CertReqTemplate(rsa_key_size=2048, ec_curve="secp256r1")


# ---------------------------------------------------------------------- the response signer


def test_response_signed_by_the_ca_that_issued(server, backend, client, ca):
    """Two device enrollments on different CAs trusting one vendor CA: the signer is
    chosen with the first, the certificate comes from the other; the ip is signed
    by the CA that issued it (RFC 9483, 3.2)."""
    vendor = LocalCA.create(name="Vendor")
    other = LocalCA.create(name="Other")
    backend.vendor_roots = (vendor.root,)
    backend.cas[other.issuing.subject] = other
    subject = x509.Name.from_rfc4514_string("CN=bts1")
    backend.device_ca_for_subject[subject] = other
    backend.add_enrollment("fgt100f-device", "unused")
    backend.device_enrollment = b"fgt100f-device"
    device_key = new_ec_key()
    device = vendor.issue(
        SimpleNamespace(subject=subject, public_key=device_key.public_key(), subject_alt_names=())
    )
    result = server.handle(fresh(client).signed(device_key, device).ir(new_ec_key(), "CN=bts1"))
    ip = read_response(result.body)
    assert result.error is None and ip.status == 0
    assert ip.certificate.issuer == other.issuing.subject
    assert ip.sender == other.issuing.subject and signature_ok(ip, other)
    assert ip.extra_certs == other.chain
    assert f"Response signed by {other.issuing.subject.rfc4514_string()}" in result.trace


# ---------------------------------------------------------------------- RFC 9481 only


@pytest.mark.parametrize(
    ("algorithm", "accepted"),
    [
        (pbm(owf=OID.sha256, mac=OID.hmac_sha1), False),
        (pbm(owf=OID.sha1, mac=OID.hmac_with_sha256), False),
        (pbm(owf=OID.sha256, mac=OID.hmac_with_sha256), True),
        (pbmac1(), True),
    ],
)
def test_only_rfc9481_algorithms(backend, client, ec_key, algorithm, accepted):
    """PBM with SHA-1 (OpenSSL's default) is kept on purpose; this setting refuses it."""
    server = CMPServer(backend, rfc9481_only=True)
    result = server.handle(client.but(algorithm=algorithm).ir(ec_key))
    if accepted:
        assert result.error is None
    else:
        assert result.error.failure == FailureInfo.badAlg
        assert "is not an RFC 9481 algorithm" in result.error.text
    assert (
        CMPServer(backend).handle(fresh(client).but(algorithm=algorithm).ir(ec_key)).error is None
    )
