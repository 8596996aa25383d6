"""SCEPServer with the in-memory backend: operations, message types and their failures."""

from __future__ import annotations

import datetime
import ipaddress
import logging

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7

from scep.protocol import (
    FAIL_INFO,
    FailInfo,
    MalformedMessage,
    MessageType,
    PKIStatus,
    Rejected,
    RejectReason,
    SCEPConfig,
    SCEPServer,
    capabilities,
)
from scep.protocol.envelope import UNDECRYPTABLE

from .backend import LocalCA, MemoryBackend, name, spki
from .client import (
    CERT_POLL,
    DIGEST_OIDS,
    Client,
    make_csr,
    parse_signed_data,
    rsa_key,
    self_signed,
    subject,
)

CHALLENGE = "s3cret-Challenge"
DER = serialization.Encoding.DER


def enroll(server: SCEPServer, client: Client, ca: LocalCA, **kw):
    """Send a PKCSReq for CN=device-1 and return (SCEPResult, Reply)."""
    challenge = kw.pop("challenge", CHALLENGE)
    name_ = kw.pop("subject", subject("device-1"))
    csr = make_csr(client.key, name_, challenge=challenge, sans=kw.pop("sans", ()))
    recipients = kw.pop("recipients", [r.certificate for r in ca.recipient_keys()])
    result = server.handle("PKIOperation", body=client.pkcs_req(csr, recipients, **kw))
    return result, client.read_reply(result.body)


# --------------------------------------------------------------------------- GetCACaps


def test_get_ca_caps_default(server):
    result = server.handle("GetCACaps")
    assert (result.status, result.content_type) == (200, "text/plain")
    assert result.body.decode().splitlines() == [
        "POSTPKIOperation",
        "SHA-256",
        "SHA-512",
        "AES",
        "Renewal",
        "SCEPStandard",
    ]


def test_get_ca_caps_legacy_and_rollover(rsa_ca):
    backend = MemoryBackend(
        rsa_ca, config=SCEPConfig(legacy_algorithms=True, renewal=False), next_ca=LocalCA.create()
    )
    caps = SCEPServer(backend).handle("GetCACaps").body.decode().split()
    assert "SHA-1" in caps and "DES3" in caps and "GetNextCACert" in caps
    assert "Renewal" not in caps
    assert capabilities(SCEPConfig(), next_ca=False) == tuple(
        SCEPServer(MemoryBackend(rsa_ca)).handle("GetCACaps").body.decode().split()
    )


def test_unknown_operation_is_400(server):
    result = server.handle("GetEverything")
    assert (result.status, result.content_type) == (400, "text/plain")
    assert server.handle(None).status == 400


def test_operation_names_are_matched_leniently(server):
    assert server.handle("getcacaps").status == 200


# --------------------------------------------------------------------------- GetCACert


def test_get_ca_cert_single_ca(server, rsa_ca, backend):
    result = server.handle("GetCACert", message="CAIdentifier")
    assert result.content_type == "application/x-x509-ca-cert"
    assert x509.load_der_x509_certificate(result.body) == rsa_ca.certificate
    assert ("ca_certificates", "CAIdentifier") in backend.calls


def test_get_ca_cert_ca_and_ra(ec_ca):
    # RFC 8894, 4.2.1.2: CA with RA (and its root) as a degenerate PKCS#7.
    result = SCEPServer(MemoryBackend(ec_ca)).handle("GetCACert")
    assert result.content_type == "application/x-x509-ca-ra-cert"
    certs = pkcs7.load_der_pkcs7_certificates(result.body)
    assert set(certs) == {ec_ca.certificate, ec_ca.ra, ec_ca.root}


def test_get_next_ca_cert(rsa_ca):
    assert SCEPServer(MemoryBackend(rsa_ca)).handle("GetNextCACert").status == 404
    upcoming = LocalCA.create(common_name="Next CA")
    result = SCEPServer(MemoryBackend(rsa_ca, next_ca=upcoming)).handle("GetNextCACert")
    assert (result.status, result.content_type) == (200, "application/x-x509-next-ca-cert")
    signed = parse_signed_data(result.body)
    serial = int(signed["signerInfos"][0]["sid"]["issuerAndSerialNumber"]["serialNumber"])
    assert serial == rsa_ca.certificate.serial_number  # signed with the current key
    inner = bytes(signed["encapContentInfo"]["eContent"])
    assert pkcs7.load_der_pkcs7_certificates(inner) == [upcoming.certificate]


# --------------------------------------------------------------------------- PKCSReq


@pytest.mark.parametrize("digest", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize("cipher", ["aes128", "aes192", "aes256"])
def test_pkcs_req_success(server, backend, rsa_ca, device_key, digest, cipher):
    client = Client(device_key, digest=digest, cipher=cipher)
    sans = (x509.DNSName("device-1.example"), x509.IPAddress(ipaddress.ip_address("10.0.0.1")))
    result, reply = enroll(server, client, rsa_ca, sans=sans)
    assert (reply.message_type, reply.status, reply.fail_info) == ("3", "0", None)
    # RFC 8894, 3.2.1: transactionID echoed, recipientNonce = senderNonce, fresh senderNonce
    assert reply.transaction_id == client.last_transaction_id
    assert reply.recipient_nonce == client.last_nonce
    assert len(reply.sender_nonce) == 16 and reply.sender_nonce != client.last_nonce
    assert reply.digest_oid == DIGEST_OIDS[digest]
    assert reply.cipher == cipher
    issued = reply.certificates[0]
    assert spki(issued.public_key()) == spki(device_key.public_key())
    assert issued.subject == subject("device-1")
    assert reply.certificates[1:] == [rsa_ca.certificate]
    issued.verify_directly_issued_by(rsa_ca.certificate)
    assert reply.signer == rsa_ca.certificate and rsa_ca.certificate in reply.certificates_sent
    # what the backend was asked
    (request,) = [r for m, r in backend.calls if m == "enroll"]
    assert request.message_type == MessageType.PKCSReq and not request.renewal
    assert request.challenge_password == CHALLENGE
    assert request.subject_alt_names == sans
    assert request.signer_self_signed
    # the result describes the exchange
    assert result.pki_status == PKIStatus.SUCCESS and result.certificate == issued
    assert result.transaction_id == client.last_transaction_id
    assert result.sender_nonce == result.recipient_nonce == client.last_nonce
    assert result.response_nonce == reply.sender_nonce
    assert result.csr is not None and result.csr.subject == subject("device-1")
    assert result.content_type == "application/x-pki-message"
    assert CHALLENGE not in "\n".join(result.trace)
    assert "challengePassword: present (16 characters)" in result.trace


def test_pkcs_req_rsa_encryption_signature_oid(server, rsa_ca, device_key):
    # RFC 3370, 3.2: rsaEncryption as signatureAlgorithm, the digest says the hash.
    _, reply = enroll(server, Client(device_key, rsa_encryption_oid=True), rsa_ca)
    assert reply.status == "0"


@pytest.mark.parametrize("oaep_hash", ["sha1", "sha256"])
def test_pkcs_req_oaep_key_transport(server, rsa_ca, device_key, oaep_hash):
    result, reply = enroll(
        server, Client(device_key, key_transport="oaep", oaep_hash=oaep_hash), rsa_ca
    )
    assert reply.status == "0"
    assert any("RSAES-OAEP" in line for line in result.trace)


def test_failure_cert_rep_has_no_content(server, rsa_ca, client):
    result, reply = enroll(server, client, rsa_ca, challenge="wrong")
    assert (reply.status, reply.fail_info) == ("2", str(FailInfo.badRequest.value))
    assert reply.fail_text == "The challenge password is wrong or missing."
    assert reply.envelope is None
    assert result.fail_info == FailInfo.badRequest and result.certificate is None
    assert reply.recipient_nonce == client.last_nonce


def test_missing_challenge_is_bad_request(server, rsa_ca, client):
    _, reply = enroll(server, client, rsa_ca, challenge=None)
    assert (reply.status, reply.fail_info) == ("2", "2")


def test_reply_signing_time_is_the_clock(backend, rsa_ca, client):
    moment = datetime.datetime(2030, 5, 4, 3, 2, 1, tzinfo=datetime.UTC)
    server = SCEPServer(backend, clock=lambda: moment, nonce=lambda: b"N" * 16)
    _, reply = enroll(server, client, rsa_ca)
    assert reply.signing_time == moment.replace(tzinfo=None) or reply.signing_time == moment
    assert reply.sender_nonce == b"N" * 16


def test_small_rsa_key_is_refused_with_bad_alg(server, rsa_ca):
    _, reply = enroll(server, Client(rsa_key(1024)), rsa_ca)
    assert (reply.status, reply.fail_info, reply.fail_text) == (
        "2",
        "0",
        "RSA keys need 2048 bits.",
    )


def test_self_signed_signer_for_another_key_is_bad_request(server, rsa_ca, device_key):
    client = Client(device_key, certificate=self_signed(rsa_key()))
    csr = make_csr(device_key, subject("device-1"), challenge=CHALLENGE)
    other = Client(rsa_key())
    client.key, client.certificate = other.key, other.certificate
    result = server.handle("PKIOperation", body=client.pkcs_req(csr, [rsa_ca.certificate]))
    reply = client.read_reply(result.body)
    assert (reply.status, reply.fail_info) == ("2", "2")
    assert reply.fail_text == "The self-signed signer certificate is not for the CSR's key."


def test_csr_with_bad_signature_is_bad_message_check(server, rsa_ca, client):
    der = bytearray(make_csr(client.key, subject("x"), challenge=CHALLENGE).public_bytes(DER))
    der[-1] ^= 0x01
    body = client.pki_message(19, bytes(der), [rsa_ca.certificate])
    reply = client.read_reply(server.handle("PKIOperation", body=body).body)
    assert (reply.status, reply.fail_info, reply.fail_text) == (
        "2",
        "1",
        "The CSR signature does not verify.",
    )


def test_ec_requester_gets_bad_alg(server, rsa_ca):
    # RFC 8894, 3.2.2: the reply needs RSA key transport to the signer.
    key = ec.generate_private_key(ec.SECP256R1())
    client = Client(key)
    result, reply = enroll(server, client, rsa_ca)
    assert (reply.status, reply.fail_info) == ("2", "0")
    assert "signature verified" in result.trace


# --------------------------------------------------------------------------- algorithms


@pytest.mark.parametrize(
    ("digest", "cipher", "legacy", "single_des", "expected"),
    [
        ("sha1", "aes128", False, False, "0"),  # badAlg: SHA-1 needs the legacy setting
        ("sha256", "3des", False, False, "0"),  # badAlg: 3DES needs the legacy setting
        ("sha256", "des", True, False, "0"),  # badAlg: DES needs single_des too
        ("md5", "aes128", True, True, "0"),  # badAlg: MD5 never
        ("sha256", "rc2", True, True, "0"),  # badAlg: RC2 never
        ("sha1", "3des", True, False, None),  # legacy client
        ("sha1", "des", True, True, None),  # Debian scepclient
    ],
)
def test_algorithm_policy(rsa_ca, device_key, digest, cipher, legacy, single_des, expected):
    config = SCEPConfig(legacy_algorithms=legacy, single_des=single_des)
    server = SCEPServer(MemoryBackend(rsa_ca, config=config))
    client = Client(device_key, digest=digest, cipher=cipher)
    _, reply = enroll(server, client, rsa_ca)
    if expected is None:
        assert reply.status == "0"
        # the reply uses the request's digest and cipher
        assert (reply.digest_oid, reply.cipher) == (DIGEST_OIDS[digest], cipher)
    else:
        assert (reply.status, reply.fail_info) == ("2", expected)
        if digest in ("md5",) or (digest == "sha1" and not legacy):
            assert reply.digest_oid == DIGEST_OIDS["sha256"]


def test_bad_time_when_signing_time_is_far_off(rsa_ca, device_key):
    config = SCEPConfig(max_clock_skew=datetime.timedelta(minutes=10))
    server = SCEPServer(MemoryBackend(rsa_ca, config=config))
    now = datetime.datetime.now(datetime.UTC)
    _, reply = enroll(
        server, Client(device_key), rsa_ca, signing_time=now - datetime.timedelta(hours=2)
    )
    assert (reply.status, reply.fail_info) == ("2", "3")
    _, reply = enroll(server, Client(rsa_key()), rsa_ca, signing_time=now)
    assert reply.status == "0"


# --------------------------------------------------------------------------- PENDING, CertPoll, resend


def test_pending_then_poll_then_issued(rsa_ca, device_key):
    backend = MemoryBackend(rsa_ca, hold=True)
    server = SCEPServer(backend)
    client = Client(device_key)
    _, reply = enroll(server, client, rsa_ca)
    assert (reply.status, reply.fail_info, reply.envelope) == ("3", None, None)
    tid = client.last_transaction_id
    poll = client.cert_poll(rsa_ca.certificate.subject, subject("device-1"), [rsa_ca.certificate])
    assert client.read_reply(server.handle("PKIOperation", body=poll).body).status == "3"
    issued = backend.approve(tid)
    body = client.cert_poll(
        rsa_ca.certificate.subject,
        subject("device-1"),
        [rsa_ca.certificate],
        transaction_id=tid,
    )
    result = server.handle("PKIOperation", body=body)
    reply = client.read_reply(result.body)
    assert reply.status == "0" and reply.certificates[0] == issued
    assert result.message_type == CERT_POLL and result.certificate == issued
    (request,) = [r for m, r in backend.calls if m == "poll"][-1:]
    assert request.issuer == rsa_ca.certificate.subject and request.subject == subject("device-1")


def test_pending_then_rejected(rsa_ca, device_key):
    backend = MemoryBackend(rsa_ca, hold=True)
    server = SCEPServer(backend)
    client = Client(device_key)
    enroll(server, client, rsa_ca)
    backend.reject(client.last_transaction_id)
    body = client.cert_poll(rsa_ca.certificate.subject, subject("device-1"), [rsa_ca.certificate])
    reply = client.read_reply(server.handle("PKIOperation", body=body).body)
    assert (reply.status, reply.fail_info, reply.fail_text) == (
        "2",
        "2",
        "The request was rejected.",
    )


def test_poll_for_unknown_transaction_is_bad_cert_id(server, rsa_ca, client):
    body = client.cert_poll(rsa_ca.certificate.subject, subject("nobody"), [rsa_ca.certificate])
    reply = client.read_reply(server.handle("PKIOperation", body=body).body)
    assert (reply.status, reply.fail_info) == ("2", "4")


def test_resent_pkcs_req_gets_the_same_certificate(server, backend, rsa_ca, device_key):
    # RFC 8894, 3.2.1.1: same transactionID, already issued: the same certificate.
    client = Client(device_key)
    _, first = enroll(server, client, rsa_ca, transaction_id="tid-resend-1")
    result, again = enroll(server, client, rsa_ca, transaction_id="tid-resend-1")
    assert first.certificates[0] == again.certificates[0]
    assert len(backend.certificates) == 1
    assert any(line.startswith("certificate already issued") for line in result.trace)


def test_transaction_id_of_another_key_is_refused(server, rsa_ca):
    enroll(server, Client(rsa_key()), rsa_ca, transaction_id="tid-shared")
    _, reply = enroll(server, Client(rsa_key()), rsa_ca, transaction_id="tid-shared")
    assert (reply.status, reply.fail_info) == ("2", "2")
    assert reply.fail_text == "The transactionID is in use by another request."


# --------------------------------------------------------------------------- RenewalReq


def _enrolled(server, rsa_ca, key, **kw):
    client = Client(key)
    _, reply = enroll(server, client, rsa_ca, **kw)
    assert reply.status == "0"
    return client, reply.certificates[0]


def test_renewal_signed_by_the_current_certificate(server, backend, rsa_ca, device_key):
    _, current = _enrolled(server, rsa_ca, device_key, transaction_id="tid-renew")
    new_key = rsa_key()
    renewer = Client(device_key, certificate=current)
    csr = make_csr(new_key, subject("device-1"))
    result = server.handle("PKIOperation", body=renewer.renewal_req(csr, [rsa_ca.certificate]))
    reply = renewer.read_reply(result.body)
    assert reply.status == "0"
    renewed = reply.certificates[0]
    assert renewed.serial_number != current.serial_number
    assert spki(renewed.public_key()) == spki(new_key.public_key())
    (request,) = [r for m, r in backend.calls if m == "enroll"][-1:]
    assert request.renewal and request.signer_certificate == current
    assert not request.signer_self_signed and request.challenge_password is None


def test_renewal_with_the_same_key_and_transaction_id(server, rsa_ca, device_key):
    # scepclient derives the transactionID from the key: a same-key renewal
    # reuses the enrolment's transactionID and must still get a new certificate.
    _, current = _enrolled(server, rsa_ca, device_key, transaction_id="tid-same-key")
    renewer = Client(device_key, certificate=current)
    csr = make_csr(device_key, subject("device-1"))
    body = renewer.renewal_req(csr, [rsa_ca.certificate], transaction_id="tid-same-key")
    reply = renewer.read_reply(server.handle("PKIOperation", body=body).body)
    assert reply.status == "0"
    assert reply.certificates[0].serial_number != current.serial_number


def test_renewal_self_signed_is_bad_request(server, rsa_ca, client):
    csr = make_csr(client.key, subject("device-1"))
    reply = client.read_reply(
        server.handle("PKIOperation", body=client.renewal_req(csr, [rsa_ca.certificate])).body
    )
    assert (reply.status, reply.fail_info) == ("2", "2")
    assert reply.fail_text == "A RenewalReq must be signed with the current certificate."


def test_renewal_by_a_foreign_certificate_is_refused(server, rsa_ca, device_key):
    foreign = LocalCA.create(common_name="Other CA")
    certificate = foreign.issue(device_key.public_key(), subject("device-1"))
    renewer = Client(device_key, certificate=certificate)
    csr = make_csr(device_key, subject("device-1"))
    reply = renewer.read_reply(
        server.handle("PKIOperation", body=renewer.renewal_req(csr, [rsa_ca.certificate])).body
    )
    assert (reply.status, reply.fail_info, reply.fail_text) == (
        "2",
        "2",
        "The signer was not issued here.",
    )


def test_renewal_disabled(rsa_ca, device_key):
    backend = MemoryBackend(rsa_ca, config=SCEPConfig(renewal=False))
    server = SCEPServer(backend)
    _, current = _enrolled(server, rsa_ca, device_key)
    renewer = Client(device_key, certificate=current)
    body = renewer.renewal_req(make_csr(device_key, subject("device-1")), [rsa_ca.certificate])
    reply = renewer.read_reply(server.handle("PKIOperation", body=body).body)
    assert (reply.status, reply.fail_text) == ("2", "Renewal is not supported by this CA.")


# --------------------------------------------------------------------------- GetCert, GetCRL


def test_get_cert(server, rsa_ca, device_key):
    client, issued = _enrolled(server, rsa_ca, device_key)
    body = client.get_cert(issued.issuer, issued.serial_number, [rsa_ca.certificate])
    reply = client.read_reply(server.handle("PKIOperation", body=body).body)
    assert reply.status == "0" and reply.certificates == [issued]
    body = client.get_cert(issued.issuer, 12345, [rsa_ca.certificate])
    reply = client.read_reply(server.handle("PKIOperation", body=body).body)
    assert (reply.status, reply.fail_info) == ("2", "4")


def test_get_crl(server, backend, rsa_ca, client):
    rsa_ca.revoked[4711] = datetime.datetime.now(datetime.UTC)
    try:
        body = client.get_crl(rsa_ca.certificate.subject, 4711, [rsa_ca.certificate])
        result = server.handle("PKIOperation", body=body)
    finally:
        del rsa_ca.revoked[4711]
    reply = client.read_reply(result.body)
    assert reply.status == "0" and reply.certificates == []
    (crl,) = reply.crls
    assert crl.is_signature_valid(rsa_ca.certificate.public_key())
    assert crl.get_revoked_certificate_by_serial_number(4711) is not None
    (query,) = [r for m, r in backend.calls if m == "get_crl"]
    assert (query.issuer, query.serial_number) == (rsa_ca.certificate.subject, 4711)
    body = client.get_crl(name("Unknown CA"), 1, [rsa_ca.certificate])
    reply = client.read_reply(server.handle("PKIOperation", body=body).body)
    assert (reply.status, reply.fail_info) == ("2", "4")


# --------------------------------------------------------------------------- ECDSA CA with an RSA RA


def test_ecdsa_ca_with_rsa_ra(ec_ca, device_key):
    server = SCEPServer(MemoryBackend(ec_ca))
    client = Client(device_key)
    result, reply = enroll(server, client, ec_ca, recipients=[ec_ca.ra])
    assert reply.status == "0"
    assert reply.signer == ec_ca.ra  # RFC 8894, 2.1.2: the RA signs the CertRep
    issued = reply.certificates[0]
    issued.verify_directly_issued_by(ec_ca.certificate)  # the ECDSA CA issues
    assert reply.certificates[1:] == [ec_ca.certificate, ec_ca.root]
    assert (
        f"pkcsPKIEnvelope: AES-128-CBC, rsaEncryption, to CN={ec_ca.ra.subject.rfc4514_string()[3:]}"
        in result.trace
    )


def test_envelope_for_another_certificate_is_bad_message_check(server, rsa_ca, client):
    stranger = LocalCA.create(common_name="Stranger")
    _, reply = enroll(server, client, rsa_ca, recipients=[stranger.certificate])
    assert (reply.status, reply.fail_info) == ("2", "1")
    assert reply.fail_text == "The pkcsPKIEnvelope is not encrypted to this CA's certificate."


# --------------------------------------------------------------------------- broken requests


def test_wrong_signature_is_bad_message_check(server, rsa_ca, client):
    result, reply = enroll(server, client, rsa_ca, tamper="signature")
    assert (reply.status, reply.fail_info) == ("2", "1")
    assert reply.fail_text == "The signature does not verify with the signer certificate."
    assert result.certificate is None


def test_wrong_message_digest_is_bad_message_check(server, rsa_ca, client):
    _, reply = enroll(server, client, rsa_ca, tamper="digest")
    assert (reply.status, reply.fail_info, reply.fail_text) == (
        "2",
        "1",
        "messageDigest does not match the content.",
    )


def test_changed_content_is_bad_message_check(server, rsa_ca, client):
    _, reply = enroll(server, client, rsa_ca, tamper="content")
    assert (reply.status, reply.fail_info) == ("2", "1")


def test_undecryptable_envelopes_get_one_answer(server, rsa_ca, client):
    csr = make_csr(client.key, subject("x"), challenge=CHALLENGE).public_bytes(DER)
    good = client.envelope(csr, [rsa_ca.certificate])
    # a corrupted encrypted key and a corrupted ciphertext: same failInfo and text
    key_at = good.index(b"\x04\x82\x01\x00") + 4 + 10  # in the 256-byte encryptedKey
    broken_key = good[:key_at] + bytes([good[key_at] ^ 0xFF]) + good[key_at + 1 :]
    broken_data = good[:-3] + bytes([good[-3] ^ 0xFF]) + good[-2:]
    texts = set()
    for envelope in (broken_key, broken_data):
        body = client.pki_message(19, envelope, encrypt=False)
        reply = client.read_reply(server.handle("PKIOperation", body=body).body)
        assert (reply.status, reply.fail_info) == ("2", "1")
        texts.add(reply.fail_text)
    assert texts == {UNDECRYPTABLE}


def test_content_that_is_not_a_csr_gets_the_same_answer(server, rsa_ca, client):
    body = client.pki_message(19, b"\x30\x03\x02\x01\x00", [rsa_ca.certificate])
    reply = client.read_reply(server.handle("PKIOperation", body=body).body)
    assert (reply.fail_info, reply.fail_text) == ("1", UNDECRYPTABLE)


def test_envelope_that_is_not_enveloped_data_is_bad_request(server, rsa_ca, client):
    body = client.pki_message(19, b"\x04\x02hi", encrypt=False)
    reply = client.read_reply(server.handle("PKIOperation", body=body).body)
    assert (reply.status, reply.fail_info) == ("2", "2")


@pytest.mark.parametrize("message_type", [99, 3, "x"])
def test_unknown_message_type_is_bad_request(server, rsa_ca, client, message_type):
    # RFC 8894, 3.2.1.2: undefined message types are an error.
    body = client.pki_message(message_type, b"\x30\x00", [rsa_ca.certificate])
    result = server.handle("PKIOperation", body=body)
    reply = client.read_reply(result.body)
    assert (reply.status, reply.fail_info) == ("2", "2")


def test_missing_message_type_is_bad_request(server, rsa_ca, client):
    body = client.pki_message(None, b"\x30\x00", [rsa_ca.certificate])
    reply = client.read_reply(server.handle("PKIOperation", body=body).body)
    assert (reply.status, reply.fail_info) == ("2", "2")


@pytest.mark.parametrize("reason", list(RejectReason))
def test_every_reject_reason_has_its_fail_info(rsa_ca, device_key, reason):
    class Refusing(MemoryBackend):
        def enroll(self, request):
            return Rejected(reason)

    server = SCEPServer(Refusing(rsa_ca))
    result, reply = enroll(server, Client(device_key), rsa_ca)
    assert reply.status == "2"
    assert reply.fail_info == str(int(FAIL_INFO[reason]))
    assert result.fail_info == FAIL_INFO[reason]


def test_backend_exception_is_logged_and_answered(backend, rsa_ca, client, caplog):
    backend.fail_with = RuntimeError("database is down")
    with caplog.at_level(logging.ERROR, logger="scep.protocol.server"):
        result, reply = enroll(SCEPServer(backend), client, rsa_ca)
    assert (reply.status, reply.fail_info) == ("2", "2")
    assert reply.fail_text == "The request could not be processed."
    assert "SCEP backend enroll failed" in caplog.text
    assert "backend error" in result.trace


# --------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "body",
    [b"", b"garbage", b"\x30\x82\xff\xff\x06", b"\x30\x03\x02\x01\x00"],
    ids=["empty", "garbage", "truncated-length", "not-content-info"],
)
def test_not_a_pki_message_is_malformed(server, body):
    with pytest.raises(MalformedMessage):
        server.handle("PKIOperation", body=body)


def test_truncated_message_is_malformed(server, rsa_ca, client):
    body = client.pkcs_req(make_csr(client.key, subject("x")), [rsa_ca.certificate])
    for cut in (10, len(body) // 2, len(body) - 1):
        with pytest.raises(MalformedMessage) as info:
            server.handle("PKIOperation", body=body[:cut])
        assert info.value.trace[0] == "SCEP PKIOperation (POST)"


@pytest.mark.parametrize("omit", ["transactionID", "senderNonce"])
def test_unaddressable_message_is_malformed(server, rsa_ca, client, omit):
    body = client.pkcs_req(make_csr(client.key, subject("x")), [rsa_ca.certificate], omit=(omit,))
    with pytest.raises(MalformedMessage, match=omit):
        server.handle("PKIOperation", body=body)


def test_message_without_signer_certificate_is_malformed(server, rsa_ca, client):
    body = client.pkcs_req(
        make_csr(client.key, subject("x")), [rsa_ca.certificate], include_signer=False
    )
    with pytest.raises(MalformedMessage, match="signer certificate"):
        server.handle("PKIOperation", body=body)


def test_work_before_authentication_is_bounded(rsa_ca, client):
    server = SCEPServer(MemoryBackend(rsa_ca, config=SCEPConfig(max_message_size=4096)))
    csr = make_csr(client.key, subject("x"))
    many = tuple(rsa_ca.certificate for _ in range(11))
    body = client.pkcs_req(csr, [rsa_ca.certificate], extra_certificates=many)
    with pytest.raises(MalformedMessage, match="larger than 4096"):
        server.handle("PKIOperation", body=body)
    server = SCEPServer(MemoryBackend(rsa_ca))
    with pytest.raises(MalformedMessage, match="more than 10 certificates"):
        server.handle("PKIOperation", body=body)


def test_pki_operation_without_message_is_malformed(server):
    with pytest.raises(MalformedMessage):
        server.handle("PKIOperation")
