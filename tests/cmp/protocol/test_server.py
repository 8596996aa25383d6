"""CMPServer against the in-memory backend: flows, and every refusal with its failInfo bit."""

from __future__ import annotations

import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

from cmp.protocol import CMPServer, MalformedMessage, errors
from cmp.protocol.asn1 import OID
from cmp.protocol.errors import FailureInfo

from .backend import MemoryBackend
from .client import Client, pbm, pbmac1, read_response


def spki(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def enroll(server: CMPServer, client: Client, key, **kwargs):
    request = client.ir(key, **kwargs)
    result = server.handle(request)
    return result, read_response(result.body)


def assert_error(result, failure: FailureInfo, text: str, *, protected: bool = True) -> None:
    response = read_response(result.body)
    assert response.body_type == "error"
    assert response.status == 2  # rejection
    assert response.failure_bits == (int(failure),)
    assert response.status_text == text
    assert result.error is not None and result.error.failure == failure
    assert response.mac_ok() is protected


def assert_rejected(result, body_type: str, failure: FailureInfo, text: str, **kwargs) -> None:
    """A refusal of the request's content: its response body with status rejection
    (RFC 9483, 4.1.1 and 4.2), protected like any response."""
    response = read_response(result.body)
    assert response.body_type == body_type, response
    assert response.status == 2  # rejection
    assert response.failure_bits == (int(failure),)
    assert response.status_text == text
    assert response.certificate is None
    assert result.error is not None and result.error.failure == failure and result.rejected
    assert result.trace[-1].startswith(f"CMP response sent: {body_type} (rejection), ")
    if kwargs.get("protected", True):
        assert response.mac_ok() or response.algorithm.oid not in (
            OID.password_based_mac,
            OID.pbmac1,
        )


# ---------------------------------------------------------------------- happy paths


def test_ir_ip_certconf_pkiconf(server, backend, client, key, ca):
    sans = (
        x509.DNSName("fgt100f.local"),
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
    )
    result, ip = enroll(server, client, key, sans=sans)

    assert result.error is None and result.body_type == "ir"
    assert ip.body_type == "ip" and ip.status == 0 and ip.cert_req_id == 0
    assert spki(ip.certificate) == spki(key)
    assert ip.certificate.subject.rfc4514_string() == "CN=fgt100f.local"
    san = ip.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert list(san.value) == list(sans)
    # RFC 9810, 5.1.1: header of the response
    assert ip.pvno == 2
    assert ip.sender == ca.issuing.subject
    assert ip.recipient == client.sender
    assert ip.transaction_id == client.transaction_id
    assert ip.recip_nonce == client.sender_nonce
    assert len(ip.sender_nonce) == 16 and ip.sender_nonce != client.sender_nonce
    assert ip.sender_kid == b"fgt100f"
    assert ip.ca_pubs == (ca.root,)
    assert ip.extra_certs == ca.chain
    assert not ip.implicit_confirm
    # protected like the request: the same parameters, salt included (RFC 9810,
    # 5.1.3.1 recommends them constant in a transaction), the same secret
    assert ip.mac_ok()
    assert ip.algorithm.oid == OID.password_based_mac
    assert ip.algorithm.parameters == client.algorithm.parameters
    assert backend.transactions[client.transaction_id].state == "waiting"

    conf = client.but(recip_nonce=ip.sender_nonce, sender_nonce=b"n" * 16)
    result = server.handle(conf.cert_conf(ip.certificate))
    pkiconf = read_response(result.body)
    assert result.error is None and pkiconf.body_type == "pkiconf"
    assert pkiconf.mac_ok() and pkiconf.sender == ca.issuing.subject
    assert pkiconf.recip_nonce == b"n" * 16
    assert backend.transactions[client.transaction_id].state == "confirmed"
    assert result.trace[-1].startswith("CMP response sent: pkiConf")


def test_trace_has_no_secret(server, client, ec_key):
    request = client.ir(ec_key)
    result = server.handle(request)
    assert "fortinet1" not in "\n".join(result.trace)
    assert result.trace[0] == f"CMP request received: {len(request)} bytes"
    for line in (
        "PKIBody type: ir",
        f"transactionID: {client.transaction_id.hex()}",
        "senderKID: fgt100f",
        "Enrollment found for senderKID fgt100f",
        "Protection checked: PasswordBasedMac (owf sha256, 500 iterations, mac hmac-sha1): OK",
        "POP signature algorithm: ecdsa-with-SHA256",
        "POP checked: signature over certReq: OK",
    ):
        assert line in result.trace
    assert any(line.startswith("Certificate signed: serial ") for line in result.trace)
    assert result.trace[-1].startswith("CMP response sent: ip, ")


def test_cr_gets_cp_without_capubs(server, client, ec_key, ca):
    _, cp = enroll(server, client, ec_key, body_type="cr")
    assert cp.body_type == "cp" and cp.status == 0 and cp.ca_pubs == ()
    assert cp.extra_certs == ca.chain


def test_p10cr(server, client, key, backend):
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=fgt100f.local"))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("fgt100f.local")]), False)
        .sign(key, hashes.SHA256())
    )
    result = server.handle(client.p10cr(csr))
    cp = read_response(result.body)
    assert cp.body_type == "cp" and cp.status == 0
    assert cp.cert_req_id == -1  # RFC 9483, 4.1.4
    assert spki(cp.certificate) == spki(key)
    assert backend.certify_calls[-1].csr is not None
    assert backend.certify_calls[-1].subject_alt_names == (x509.DNSName("fgt100f.local"),)
    conf = client.but(recip_nonce=cp.sender_nonce)
    assert (
        read_response(server.handle(conf.cert_conf(cp.certificate, cert_req_id=-1)).body).body_type
        == "pkiconf"
    )


def test_implicit_confirm_granted(server, backend, client, ec_key):
    result, ip = enroll(server, client.but(implicit_confirm=True), ec_key)
    assert ip.implicit_confirm and ip.mac_ok()
    assert "implicitConfirm granted" in result.trace
    assert backend.certify_calls[-1].implicit_confirm_requested
    assert backend.pending_confirmation(client.transaction_id) is None


def test_implicit_confirm_refused_by_backend(server, backend, client, ec_key):
    backend.allow_implicit_confirm = False
    _, ip = enroll(server, client.but(implicit_confirm=True), ec_key)
    assert not ip.implicit_confirm
    assert backend.pending_confirmation(client.transaction_id) is not None


def test_pbmac1_request_gets_pbmac1_response(server, client, ec_key):
    _, ip = enroll(server, client.but(algorithm=pbmac1()), ec_key)
    assert ip.body_type == "ip" and ip.algorithm.oid == OID.pbmac1 and ip.mac_ok()


def test_pvno3_with_hash_alg(server, backend, client, ec_key):
    client = client.but(pvno=3)
    _, ip = enroll(server, client, ec_key)
    assert ip.pvno == 3
    conf = client.but(recip_nonce=ip.sender_nonce).cert_conf(ip.certificate, hash_alg=OID.sha512)
    assert read_response(server.handle(conf).body).body_type == "pkiconf"
    assert backend.transactions[client.transaction_id].state == "confirmed"


def test_certconf_rejection_still_pkiconf(server, backend, client, ec_key):
    _, ip = enroll(server, client, ec_key)
    conf = client.but(recip_nonce=ip.sender_nonce).cert_conf(
        ip.certificate, accepted=False, text="chain does not verify"
    )
    result = server.handle(conf)
    assert read_response(result.body).body_type == "pkiconf"
    transaction = backend.transactions[client.transaction_id]
    assert (transaction.state, transaction.reason) == ("rejected", "chain does not verify")


def test_error_from_client_closes_transaction(server, backend, client, ec_key):
    _, ip = enroll(server, client, ec_key)
    result = server.handle(client.but(recip_nonce=ip.sender_nonce).error("giving up"))
    assert read_response(result.body).body_type == "pkiconf"
    assert backend.transactions[client.transaction_id].state == "rejected"


# ---------------------------------------------------------------------- header failures


def test_not_a_pkimessage():
    with pytest.raises(MalformedMessage):
        CMPServer(None).handle(b"\x30\x03\x02\x01\x02")
    with pytest.raises(MalformedMessage):
        CMPServer(None).handle(b"GET / HTTP/1.1\r\n")


@pytest.mark.parametrize(
    ("changes", "failure", "text"),
    [
        ({"pvno": 1}, FailureInfo.unsupportedVersion, "pvno 1 is not supported."),
        ({"transaction_id": None}, FailureInfo.badDataFormat, "transactionID is missing."),
        (
            {"sender_nonce": None},
            FailureInfo.badSenderNonce,
            "senderNonce is missing or shorter than 128 bits.",
        ),
        (
            {"sender_nonce": b"x" * 15},
            FailureInfo.badSenderNonce,
            "senderNonce is missing or shorter than 128 bits.",
        ),
        (
            {"wrong_mac": True},
            FailureInfo.badMessageCheck,
            "Message protection (MAC) does not verify.",
        ),
    ],
)
def test_header_failures(server, client, ec_key, changes, failure, text):
    result, _ = enroll(server, client.but(**changes), ec_key)
    assert_error(result, failure, text)


@pytest.mark.parametrize("minutes", [-6, 6])
def test_bad_time(backend, client, ec_key, minutes):
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    server = CMPServer(backend, clock=lambda: now)
    client = client.but(message_time=now + datetime.timedelta(minutes=minutes))
    result, _ = enroll(server, client, ec_key)
    assert_error(result, FailureInfo.badTime, "messageTime differs from the server time by 360 s.")


def test_clock_skew_within_tolerance(backend, client, ec_key):
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    server = CMPServer(backend, clock=lambda: now)
    _, ip = enroll(server, client.but(message_time=now - datetime.timedelta(minutes=4)), ec_key)
    assert ip.body_type == "ip"


def test_no_message_time_is_refused_by_strict_header_checks(server, client, ec_key):
    # RFC 9483, 3.1 and 3.5: messageTime is present; badTime otherwise
    result, _ = enroll(server, client.but(message_time=None), ec_key)
    assert_error(result, FailureInfo.badTime, "messageTime is missing.")


def test_no_message_time_is_accepted_without_strict_header_checks(backend, client, ec_key):
    server = CMPServer(backend, strict_header_checks=False)
    _, ip = enroll(server, client.but(message_time=None), ec_key)
    assert ip.body_type == "ip"


def test_unknown_sender_kid(server, client, ec_key):
    # RFC 9483, 3.5: the MAC cannot be checked, badMessageCheck; FortiAuthenticator's text
    result, response = enroll(server, client.but(sender_kid=b"nobody"), ec_key)
    assert_error(result, FailureInfo.badMessageCheck, "Enrollment not found.", protected=False)
    assert response.algorithm is None
    assert response.sender == x509.Name([])  # NULL-DN: no CA known yet


def test_unknown_sender_kid_with_default_sender(backend, client, ec_key, ca):
    server = CMPServer(backend, default_sender=ca.root.subject)
    _, response = enroll(server, client.but(sender_kid=b"nobody"), ec_key)
    assert response.sender == ca.root.subject and response.status_text == "Enrollment not found."


def test_disabled_enrollment(server, client, ec_key):
    result, _ = enroll(server, client.but(sender_kid=b"disabled"), ec_key)
    assert_error(result, FailureInfo.notAuthorized, "Enrollment is disabled.", protected=False)


def test_missing_sender_kid(server, client, ec_key):
    result, _ = enroll(server, client.but(sender_kid=None), ec_key)
    assert_error(
        result,
        FailureInfo.badMessageCheck,
        "senderKID is required with MAC-based protection.",
        protected=False,
    )


def test_unprotected_request(server, client, ec_key):
    result, _ = enroll(server, client.but(algorithm=None), ec_key)
    assert_error(result, FailureInfo.badMessageCheck, "Message is not protected.", protected=False)


def test_error_is_protected_with_the_enrollment_secret(server, client, ec_key, ca):
    result, response = enroll(server, client.but(wrong_mac=True), ec_key)
    assert response.mac_ok(b"fortinet1") and not response.mac_ok(b"fortinet1x")
    assert response.sender == ca.issuing.subject
    assert response.transaction_id == client.transaction_id
    assert response.recip_nonce == client.sender_nonce


@pytest.mark.parametrize(
    ("algorithm", "text"),
    [
        (
            pbm(owf="1.2.840.113549.2.5"),
            "PBM one-way function 1.2.840.113549.2.5 is not supported.",
        ),
        (
            pbm(mac="1.2.840.113549.2.7.99"),
            "PBM MAC algorithm 1.2.840.113549.2.7.99 is not supported.",
        ),
        (pbm(iterations=100_001), "Iteration count 100001 is outside 100..100000."),
        (pbm(iterations=99), "Iteration count 99 is outside 100..100000."),
        (pbmac1(prf=OID.hmac_with_sha1), "PBKDF2 PRF 1.2.840.113549.2.7 is not supported."),
    ],
)
def test_bad_mac_algorithms(server, client, ec_key, algorithm, text):
    result, _ = enroll(server, client.but(algorithm=algorithm), ec_key)
    assert_error(result, FailureInfo.badAlg, text, protected=False)


def test_unknown_protection_algorithm(server, client, ec_key):
    from cmp.protocol.messages import AlgorithmId

    result, _ = enroll(server, client.but(algorithm=AlgorithmId("1.2.3.4")), ec_key)
    assert_error(
        result,
        FailureInfo.badAlg,
        "Protection algorithm 1.2.3.4 is not supported.",
        protected=False,
    )


def test_signature_protection_without_certificate(server, client, ec_key):
    from cmp.protocol.messages import AlgorithmId

    result, _ = enroll(server, client.but(algorithm=AlgorithmId(OID.ecdsa_with_sha256)), ec_key)
    assert_error(
        result,
        FailureInfo.badMessageCheck,
        "Signature-protected message without its protection certificate in extraCerts.",
        protected=False,
    )


def test_transaction_id_in_use(server, client, ec_key):
    enroll(server, client, ec_key)
    result, _ = enroll(server, client.but(sender_nonce=b"m" * 16), ec_key)
    assert_error(result, FailureInfo.transactionIdInUse, "transactionID is already in use.")


# ---------------------------------------------------------------------- body failures


@pytest.mark.parametrize("body_type", ["pkiconf"])
def test_unsupported_bodies(server, client, ec_key, body_type):
    request = client.simple(body_type)
    result = server.handle(request)
    assert_error(result, FailureInfo.badRequest, f"{body_type} is not supported.")
    assert result.body_type == body_type


@pytest.mark.parametrize(
    ("kwargs", "failure", "text"),
    [
        ({"count": 2}, FailureInfo.badRequest, "Exactly one CertReqMsg is supported."),
        ({"cert_req_id": 1}, FailureInfo.badRequest, "certReqId must be 0, not 1."),
        (
            {"subject": None},
            FailureInfo.badCertTemplate,
            "The certificate template has no subject and no subjectAltName.",
        ),
        (
            {"subject": ""},
            FailureInfo.badCertTemplate,
            "The certificate template has no subject and no subjectAltName.",
        ),
        (
            {"include_key": False, "pop": "none"},
            FailureInfo.badCertTemplate,
            "The certificate template has no public key.",
        ),
        ({"pop": "none"}, FailureInfo.badPOP, "Proof-of-possession is missing."),
        ({"pop": "bad"}, FailureInfo.badPOP, "Proof-of-possession signature does not verify."),
        (
            {"pop": "raVerified"},
            FailureInfo.notAuthorized,
            "raVerified proof-of-possession is not accepted.",
        ),
    ],
)
def test_cert_request_failures(server, backend, client, key, kwargs, failure, text):
    # RFC 9483, 4.1.1: a refused request is answered with an ip, status rejection
    result, _ = enroll(server, client, key, **kwargs)
    assert_rejected(result, "ip", failure, text)
    assert backend.certify_calls == []
    assert read_response(result.body).cert_req_id == 0


def test_empty_subject_with_a_subject_alt_name(server, backend, client, ec_key):
    # RFC 9483, 4.1.1 / RFC 5280, 4.2.1.6: the NULL-DN with the subject in the SAN
    sans = (x509.DNSName("fgt100f.local"),)
    result, ip = enroll(server, client, ec_key, subject="", sans=sans)
    assert result.error is None and ip.status == 0
    assert backend.certify_calls[-1].subject == x509.Name([])
    assert backend.certify_calls[-1].subject_alt_names == sans


def test_p10cr_with_an_empty_subject_and_a_subject_alt_name(server, backend, client, ec_key):
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("fgt100f.local")]), False)
        .sign(ec_key, hashes.SHA256())
    )
    cp = read_response(server.handle(client.p10cr(csr)).body)
    assert (cp.body_type, cp.status) == ("cp", 0)
    nothing = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(ec_key, hashes.SHA256())
    )
    result = server.handle(client.but(transaction_id=b"p" * 16).p10cr(nothing))
    assert_rejected(
        result, "cp", FailureInfo.badCertTemplate, "The CSR has no subject and no subjectAltName."
    )
    assert read_response(result.body).cert_req_id == -1  # RFC 9483, 4.1.4


@pytest.mark.parametrize(
    ("new_key", "text"),
    [
        (
            lambda: rsa.generate_private_key(65537, 1024),  # noqa: S505 - the point of the test
            "RSA key of 1024 bits is too short (minimum 2048).",
        ),
        (lambda: ec.generate_private_key(ec.SECP256K1()), "EC curve secp256k1 is not accepted."),
        (
            x25519.X25519PrivateKey.generate,
            "Only RSA, EC (P-256, P-384, P-521), Ed25519 and Ed448 keys are accepted.",
        ),
    ],
)
def test_unacceptable_keys(server, client, new_key, text):
    key = new_key()
    pop = "none" if isinstance(key, x25519.X25519PrivateKey) else "signature"
    result, _ = enroll(server, client, key, pop=pop)
    assert_rejected(result, "ip", FailureInfo.badCertTemplate, text)


class AnyKeyBackend(MemoryBackend):
    """A CA whose key policy accepts every key: what remains is the protocol's own check."""

    def check_public_key(self, public_key) -> None:
        self.calls.append(("check_public_key", public_key))


@pytest.fixture
def any_key_server(ca):
    backend = AnyKeyBackend(ca)
    backend.add_enrollment("fgt100f", "fortinet1")
    return CMPServer(backend)


def test_key_policy_is_asked_before_the_pop(server, backend, client):
    key = rsa.generate_private_key(65537, 1024)  # noqa: S505 - the point of the test
    result, _ = enroll(server, client, key, pop="bad")
    # the weak key is refused for what it is, not for its (also wrong) POP
    assert_rejected(
        result,
        "ip",
        FailureInfo.badCertTemplate,
        "RSA key of 1024 bits is too short (minimum 2048).",
    )
    asked = [value for name, value in backend.calls if name == "check_public_key"]
    assert asked == [key.public_key()]
    assert backend.certify_calls == []


def test_key_policy_applies_to_p10cr(server, backend, client):
    key = rsa.generate_private_key(65537, 1024)  # noqa: S505 - the point of the test
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=fgt100f.local"))
        .sign(key, hashes.SHA256())
    )
    result = server.handle(client.p10cr(csr))
    assert_rejected(
        result,
        "cp",
        FailureInfo.badCertTemplate,
        "RSA key of 1024 bits is too short (minimum 2048).",
    )
    assert backend.certify_calls == []


def test_protocol_refuses_a_template_key_whose_pop_it_cannot_verify(any_key_server, client):
    key = x25519.X25519PrivateKey.generate()
    result, _ = enroll(any_key_server, client, key, pop="none")
    assert_rejected(
        result,
        "ip",
        FailureInfo.badCertTemplate,
        "Only RSA, EC, Ed25519 and Ed448 keys can prove possession by signature to this server.",
    )
    assert any_key_server.backend.certify_calls == []


def test_p10cr_with_any_signing_key_the_backend_accepts(any_key_server, client):
    key = ed25519.Ed25519PrivateKey.generate()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=fgt100f.local"))
        .sign(key, None)
    )
    result = any_key_server.handle(client.p10cr(csr))
    cp = read_response(result.body)
    assert result.error is None and cp.body_type == "cp" and cp.status == 0
    assert spki(cp.certificate) == spki(key)


@pytest.mark.parametrize("curve", [ec.SECP384R1(), ec.SECP521R1()])
def test_accepted_curves(server, client, curve):
    _, ip = enroll(server, client, ec.generate_private_key(curve))
    assert ip.body_type == "ip"


def test_p10cr_bad_signature(server, client, ec_key):
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=fgt100f.local"))
        .sign(ec_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    tampered = csr.replace(b"fgt100f.local", b"fgt100x.local")
    result = server.handle(client.p10cr(tampered))
    assert_rejected(result, "cp", FailureInfo.badPOP, "The PKCS#10 signature does not verify.")


def test_backend_refusal_is_sent_in_the_ip(server, backend, client, ec_key):
    backend.enrollments[b"fgt100f"].subject = x509.Name.from_rfc4514_string("CN=other")
    result, _ = enroll(server, client, ec_key)
    assert_rejected(
        result,
        "ip",
        FailureInfo.badCertTemplate,
        "Subject CN=fgt100f.local is not allowed for this enrollment.",
    )


# ---------------------------------------------------------------------- certConf failures


@pytest.fixture
def issued(server, client, ec_key):
    _, ip = enroll(server, client, ec_key)
    return client.but(recip_nonce=ip.sender_nonce, sender_nonce=b"c" * 16), ip


def test_certconf_wrong_hash(server, backend, issued):
    conf, ip = issued
    result = server.handle(conf.cert_conf(ip.certificate, cert_hash=b"\x00" * 32))
    assert_error(result, FailureInfo.badCertId, "certHash does not match the issued certificate.")
    assert backend.transactions[conf.transaction_id].state == "waiting"


def test_certconf_wrong_recip_nonce(server, issued):
    conf, ip = issued
    result = server.handle(conf.but(recip_nonce=b"r" * 16).cert_conf(ip.certificate))
    assert_error(
        result,
        FailureInfo.badRecipientNonce,
        "recipNonce does not match the nonce sent in the response.",
    )


def test_certconf_unknown_transaction(server, issued):
    conf, ip = issued
    result = server.handle(conf.but(transaction_id=b"t" * 16).cert_conf(ip.certificate))
    assert_error(
        result, FailureInfo.badRequest, "No certificate awaits confirmation in this transaction."
    )


def test_certconf_hash_alg_needs_pvno3(server, issued):
    conf, ip = issued
    result = server.handle(conf.cert_conf(ip.certificate, hash_alg=OID.sha256))
    assert_error(result, FailureInfo.badRequest, "hashAlg requires pvno 3.")


@pytest.mark.parametrize("cert_req_id", [5, -1])
def test_certconf_wrong_cert_req_id(server, issued, cert_req_id):
    # RFC 9483, 4.1.1: the certReqId of the ir (0), not that of a p10cr (-1)
    conf, ip = issued
    result = server.handle(conf.cert_conf(ip.certificate, cert_req_id=cert_req_id))
    assert_error(
        result,
        FailureInfo.badRequest,
        f"certReqId {cert_req_id} does not match the request (0).",
    )


def test_certconf_from_another_enrollment(server, backend, issued):
    backend.add_enrollment("fgt200f", "other")
    conf, ip = issued
    result = server.handle(
        conf.but(sender_kid=b"fgt200f", secret=b"other").cert_conf(ip.certificate)
    )
    response = read_response(result.body)
    assert response.failure_bits == (int(FailureInfo.notAuthorized),)
    assert response.status_text == "certConf does not come from the sender of the request."
    assert response.mac_ok(b"other")


def test_every_error_class_has_its_bit():
    classes = {cls.failure: cls for cls in errors.CMPError.__subclasses__()}
    assert set(classes) == set(FailureInfo)
    assert errors.BadPOP().failure == 9 and errors.DuplicateCertReq().failure == 26
    assert errors.BadPOP("x").text == "x"
