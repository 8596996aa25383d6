"""The CMP adapter in process: the Django test client posts application/pkixcmp to the view.

No gunicorn and no openssl: requests are the checked-in captures of
``openssl cmp`` (tests/fixtures/cmp) or built by the protocol tests' client,
and the server is the product's view on DatabaseBackend and the enrollment
engine. The openssl end-to-end tests (test_endpoint_openssl.py and
test_lifecycle_openssl.py) keep the interoperability.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa
from django.test import Client as HttpClient
from django.urls import reverse

from certauth import enrollment as engine
from certauth import events, services
from certauth.models import Certificate, CertificateRequest, LogEntry
from cmp import services as cmp_services
from cmp.models import CMPTransaction
from cmp.protocol import asn1, messages, protection
from cmp.protocol.asn1 import OID
from cmp.protocol.errors import FailureInfo
from tests.cmp.protocol.client import Client, pbm, pbmac1, pss, read_response

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cmp"
SECRET = b"fortinet1"


@pytest.fixture(autouse=True)
def _keystore_key(settings):
    settings.FAC_KEYSTORE_KEY = "adapter-tests-keystore-key"


@pytest.fixture
def root():
    return services.create_ca(name="fac.cz.root", subject="CN=fac.cz.root", key_type="ec")


@pytest.fixture
def enrollment(root):
    return services.create_enrollment(
        reference="fgt100f",
        password=SECRET.decode(),
        ca=root,
        allowed_sans=["DNS:fgt100f.local", "IP:10.0.0.1"],
    )


def post(body: bytes, path: str = "/app/cert/cmp2"):
    response = HttpClient().post(path, data=body, content_type="application/pkixcmp")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/pkixcmp"
    return read_response(response.content)


def client(**changes) -> Client:
    return Client(sender=x509.Name.from_rfc4514_string("CN=fgt100f.local")).but(**changes)


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def enroll(c: Client, key=None, **kwargs):
    """ir then certConf; returns (ip, pkiConf)."""
    ip = post(c.ir(key or new_key(), **kwargs))
    if ip.certificate is None:
        return ip, None
    conf = post(c.but(recip_nonce=ip.sender_nonce).cert_conf(ip.certificate))
    return ip, conf


# --- the captured openssl requests -----------------------------------------------------


def test_captured_openssl_ir_and_certconf(settings, enrollment):
    settings.FAC_CMP_CLOCK_SKEW = 100 * 365 * 86400  # the capture's messageTime is old
    ip = post((FIXTURES / "ir.der").read_bytes())
    assert (ip.body_type, ip.status) == ("ip", 0)
    key = serialization.load_pem_private_key((FIXTURES / "key-ec.pem").read_bytes(), None)
    assert ip.certificate.public_key() == key.public_key()
    assert ip.mac_ok(SECRET) and ip.sender_kid == b"fgt100f"
    cert = Certificate.objects.get()
    assert (cert.status, cert.sans, cert.enrollment) == (
        "pending",
        ["DNS:fgt100f.local", "IP:10.0.0.1"],
        enrollment,
    )
    assert LogEntry.objects.filter(
        message='Certificate signing request "CN=fgt100f.local" signed with CA certificate '
        '"CN=fac.cz.root"',
        user="fgt100f",
    ).exists()
    # The captured certConf confirms the mock server's certificate, not ours.
    conf = post((FIXTURES / "certconf.der").read_bytes())
    assert conf.body_type == "error"


def test_captured_p10cr(settings, enrollment):
    settings.FAC_CMP_CLOCK_SKEW = 100 * 365 * 86400
    cp = post((FIXTURES / "p10cr.der").read_bytes())
    assert (cp.body_type, cp.status, cp.cert_req_id) == ("cp", 0, -1)
    assert cp.certificate.subject.rfc4514_string() == "CN=fgt100f.local"


def test_captured_ir_of_an_unknown_enrollment(settings, root):
    settings.FAC_CMP_CLOCK_SKEW = 100 * 365 * 86400
    error = post((FIXTURES / "ir.der").read_bytes())
    # RFC 9483, 3.5: the MAC cannot be checked, badMessageCheck; FortiAuthenticator's text
    assert (error.body_type, error.failure_bits, error.status_text) == (
        "error",
        (FailureInfo.badMessageCheck,),
        "Enrollment not found.",
    )
    # Signed by the CA the client pins, so that it can show the text.
    assert error.sender == root.certificate.subject and not error.mac_ok(SECRET)
    assert not Certificate.objects.exists()
    assert LogEntry.objects.filter(
        message="CMP ir from fgt100f failed: Enrollment not found. (badMessageCheck)",
        level="error",
    ).exists()


# --- engine refusals on the wire ---------------------------------------------------------


def test_ir_certconf_lifecycle(enrollment):
    ip, conf = enroll(client())
    assert (ip.body_type, ip.status, conf.body_type) == ("ip", 0, "pkiconf")
    assert conf.mac_ok(SECRET)
    cert = Certificate.objects.get()
    assert cert.status == "active"
    assert CMPTransaction.objects.get().state == CMPTransaction.State.CONFIRMED


@pytest.mark.parametrize(
    ("change", "failure", "text"),
    [
        ({"enabled": False}, FailureInfo.notAuthorized, "Enrollment fgt100f is disabled."),
        (
            {"subject": "CN=other"},
            FailureInfo.badCertTemplate,
            'Subject "CN=fgt100f.local" does not match the enrollment\'s required subject "CN=other".',
        ),
    ],
)
def test_refusals_become_failinfo(enrollment, change, failure, text):
    # RFC 9483, 4.1.1: a refused ir is answered with an ip, status rejection
    services.update_enrollment(enrollment, **change)
    error = post(client().ir(new_key()))
    assert (error.body_type, error.status, error.failure_bits, error.status_text) == (
        "ip",
        2,
        (failure,),
        text,
    )
    assert error.mac_ok(SECRET)  # the MAC was verified: the rejection carries one
    assert not Certificate.objects.exists() and not CMPTransaction.objects.exists()


def test_wrong_password(enrollment):
    error = post(client(secret=b"wrong").ir(new_key()))
    assert (error.body_type, error.failure_bits) == ("error", (FailureInfo.badMessageCheck,))
    assert not Certificate.objects.exists()


def test_errors_before_authentication_signed_unless_the_message_is_malformed(enrollment, root):
    """A wrong password: the error is signed by the enrollment's CA, so that a
    client pinning it shows the text. A message over the protocol's limits (no
    header field trusted): an unprotected badDataFormat, no signature spent.
    Both are logged."""
    from tests.cmp.protocol.oversize import free_text_flood

    wrong = post(client(secret=b"wrong").ir(new_key()))
    assert wrong.failure_bits == (FailureInfo.badMessageCheck,)
    assert wrong.extra_certs[0] == root.certificate
    protection.verify_signature_protection(
        wrong.algorithm, root.certificate, wrong.protected_part, wrong.protection
    )

    flood = post(free_text_flood(client().ir(new_key()), 32_000))
    assert flood.failure_bits == (FailureInfo.badDataFormat,)
    assert flood.status_text == "The header is larger than 8192 bytes."
    assert flood.algorithm is None and flood.protection is None and not flood.extra_certs
    messages_logged = list(
        LogEntry.objects.filter(log_type_id=events.CMP_REQUEST_FAILED.id).values_list(
            "message", flat=True
        )
    )
    assert len(messages_logged) == 2, messages_logged


def test_duplicate_then_reenrollment(enrollment):
    enroll(client())
    error = post(client().ir(new_key()))
    assert error.failure_bits == (FailureInfo.duplicateCertReq,)
    services.update_enrollment(enrollment, allow_reenrollment=True)
    enroll(client())
    assert list(enrollment.certificates.filter(status="active").values_list("pk", flat=True)) == [
        Certificate.objects.order_by("-pk").first().pk
    ]


def test_out_of_order_certconfs_leave_one_active(enrollment):
    """c1, c2, c3 issued; c3 confirmed first, then c1: c1's certConf is refused."""
    services.update_enrollment(enrollment, allow_reenrollment=True)
    clients, ips = [], []
    for _ in range(3):
        c = client()
        clients.append(c)
        ips.append(post(c.ir(new_key())))
    confirm = [
        post(c.but(recip_nonce=ip.sender_nonce).cert_conf(ip.certificate))
        for c, ip in ((clients[2], ips[2]), (clients[0], ips[0]))
    ]
    assert confirm[0].body_type == "pkiconf"
    assert (confirm[1].body_type, confirm[1].failure_bits) == (
        "error",
        (FailureInfo.certRevoked,),
    )
    active = Certificate.objects.filter(status="active")
    assert [c.serial_number for c in active] == [ips[2].certificate.serial_number]
    states = dict(CMPTransaction.objects.values_list("transaction_id", "state"))
    assert states[clients[0].transaction_id.hex()] == CMPTransaction.State.FAILED


def test_certconf_rejection_revokes(enrollment):
    c = client()
    ip = post(c.ir(new_key()))
    conf = post(
        c.but(recip_nonce=ip.sender_nonce).cert_conf(
            ip.certificate, accepted=False, text="wrong key usage"
        )
    )
    assert conf.body_type == "pkiconf"
    cert = Certificate.objects.get()
    assert (cert.status, cert.revocation_reason) == ("revoked", "cessationOfOperation")
    assert CMPTransaction.objects.get().state == CMPTransaction.State.REJECTED
    assert LogEntry.objects.filter(
        message=f'Certificate "CN=fgt100f.local" ({cert.serial_colons}) was rejected by the '
        "client: wrong key usage"
    ).exists()


def test_kur_signed_by_the_certificate(enrollment):
    key = new_key()
    ip, _ = enroll(client(), key)
    signed = client().signed(key, ip.certificate)
    kup = post(signed.kur(new_key()))
    assert (kup.body_type, kup.status) == ("kup", 0)
    post(signed.but(recip_nonce=kup.sender_nonce).cert_conf(kup.certificate))
    old = record_of(ip.certificate)
    assert (old.status, old.revocation_reason) == ("revoked", "superseded")
    assert LogEntry.objects.filter(message__contains="was renewed").count() == 1


def test_rr_with_password_only_where_allowed(enrollment, root):
    ip, _ = enroll(client())
    issuer, serial = root.certificate.subject, ip.certificate.serial_number
    error = post(client().rr(issuer, serial, reason=1))
    # RFC 9483, 4.2: the rr should be signed; its MAC is not the integrity expected
    assert (error.body_type, error.failure_bits) == ("error", (FailureInfo.wrongIntegrity,))
    services.update_enrollment(enrollment, allow_mac_kur=True)
    rp = post(client().rr(issuer, serial, reason=1))
    assert rp.body_type == "rp"
    cert = Certificate.objects.get()
    assert (cert.status, cert.revocation_reason) == ("revoked", "keyCompromise")


def test_genm_template(enrollment):
    services.update_enrollment(enrollment, ext_key_usage=["clientAuth"])
    genp = post(client().genm(("1.3.6.1.5.5.7.4.19", None)))
    assert genp.body_type == "genp"


def test_manual_approval_by_the_engine(enrollment):
    services.update_enrollment(enrollment, method="manual")
    c = client()
    waiting = post(c.ir(new_key()))
    assert (waiting.body_type, waiting.status) == ("ip", 3)  # waiting
    held = CertificateRequest.objects.get()
    poll = post(c.poll_req(0))
    assert poll.body_type == "pollRep"
    engine.approve_request(held.pk)
    ip = post(c.poll_req(0))
    assert (ip.body_type, ip.status) == ("ip", 0)
    conf = post(c.but(recip_nonce=ip.sender_nonce).cert_conf(ip.certificate))
    assert conf.body_type == "pkiconf"
    assert Certificate.objects.get().status == "active"


def test_manual_rejection(enrollment):
    services.update_enrollment(enrollment, method="manual")
    c = client()
    post(c.ir(new_key()))
    engine.reject_request(CertificateRequest.objects.get().pk, reason="unknown device")
    rejected = post(c.poll_req(0))
    assert (rejected.body_type, rejected.status, rejected.status_text) == (
        "ip",
        2,
        "unknown device",
    )
    assert rejected.failure_bits == (FailureInfo.notAuthorized,)


def test_sweep_expires_only_its_own_transactions(enrollment, settings):
    services.update_enrollment(enrollment, allow_reenrollment=True)
    first = post(client().ir(new_key()))
    second = post(client().ir(new_key()))
    # An administrator revokes the second; the sweep revokes the first, unconfirmed.
    services.revoke_certificate(record_of(second.certificate))
    Certificate.objects.filter(status="pending").update(
        created=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    )
    assert cmp_services.sweep() == 1
    states = sorted(CMPTransaction.objects.values_list("state", flat=True))
    assert states == [CMPTransaction.State.EXPIRED, CMPTransaction.State.WAITING_CONFIRM]
    assert first.certificate is not None


def test_well_known_label_must_match(enrollment):
    error = post(client().ir(new_key()), path=reverse("cmp-well-known-profile", args=["other"]))
    assert (error.failure_bits, error.status_text) == (
        (FailureInfo.notAuthorized,),
        "Enrollment fgt100f does not match the enrollment ID other in the path.",
    )


def test_body_limit_is_64_kib(enrollment):
    http = HttpClient()
    limit = 64 * 1024
    too_big = http.post(
        "/app/cert/cmp2", data=b"\x30" * (limit + 1), content_type="application/pkixcmp"
    )
    assert too_big.status_code == 413
    assert too_big.content.decode().strip() == f"CMP message larger than {limit} bytes."
    at_limit = http.post("/app/cert/cmp2", data=b"\x30" * limit, content_type="application/pkixcmp")
    assert at_limit.status_code in (200, 400)


# --- RFC 9483 / 9481 / 9810 conformance, through the engine --------------------------------


def fresh(c: Client) -> Client:
    return c.but(transaction_id=os.urandom(16), sender_nonce=os.urandom(16))


def record_of(certificate: x509.Certificate) -> Certificate:
    text = f"{certificate.serial_number:X}"
    return Certificate.objects.get(serial=text if len(text) % 2 == 0 else f"0{text}")


def test_an_ir_signed_by_a_certificate_of_the_enrollment(enrollment):
    """RFC 9483, 4.1.1: the certificate's own enrollment governs the new certificate."""
    key = new_key()
    ip, _ = enroll(client(), key)
    signed = client().signed(key, ip.certificate)
    new = post(signed.ir(new_key()))
    assert (new.body_type, new.status) == ("ip", 0)
    assert new.algorithm.oid == OID.ecdsa_with_sha256  # signed, as the request was
    post(signed.but(recip_nonce=new.sender_nonce).cert_conf(new.certificate))
    assert record_of(new.certificate).enrollment == enrollment
    old = record_of(ip.certificate)
    assert (old.status, old.revocation_reason) == ("revoked", "superseded")


def test_accept_requests_signed_by_issued_certificates_switch(enrollment):
    key = new_key()
    ip, _ = enroll(client(), key)
    services.update_enrollment(enrollment, accept_issued_signer=False)
    error = post(client().signed(key, ip.certificate).ir(new_key()))
    assert (error.body_type, error.failure_bits, error.status_text) == (
        "error",
        (FailureInfo.notAuthorized,),
        "Enrollment fgt100f does not accept requests signed by certificates it issued; "
        "use the enrollment password.",
    )
    # renewal stays the certificate's own
    kup = post(client().signed(key, ip.certificate).kur(new_key()))
    assert (kup.body_type, kup.status) == ("kup", 0)


def test_a_cr_signed_by_another_pkis_certificate(enrollment):
    # RFC 9483, 4.1.2: notAuthorized, whatever PKI the signer comes from
    stranger_key = new_key()
    now = dt.datetime.now(dt.UTC)
    stranger = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=stranger"))
        .issuer_name(x509.Name.from_rfc4514_string("CN=stranger"))
        .public_key(stranger_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(stranger_key.public_key()), False)
        .sign(stranger_key, hashes.SHA256())
    )
    error = post(client().signed(stranger_key, stranger).ir(new_key(), body_type="cr"))
    assert (error.body_type, error.failure_bits) == ("error", (FailureInfo.notAuthorized,))
    assert error.status_text.startswith("The protection certificate was not issued by this CA")


def test_an_eddsa_ca_and_eddsa_keys(settings):
    """RFC 9481, 3.3: an Ed25519 CA signs certificates and responses; an Ed448 key enrolls."""
    ca = services.create_ca(name="ed.root", subject="CN=ed.root", key_type="ed25519")
    services.create_enrollment(reference="fgt100f", password=SECRET.decode(), ca=ca)
    key = ed448.Ed448PrivateKey.generate()
    ip, conf = enroll(client(), key)
    assert (ip.status, conf.body_type) == (0, "pkiconf")  # certHash with SHA-512
    assert ip.certificate.signature_algorithm_oid.dotted_string == OID.ed25519
    usage = ip.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_encipherment  # RFC 8410, 5
    genp = post(client().signed(key, ip.certificate).genm((OID.it_ca_certs, None)))
    assert genp.algorithm.oid == OID.ed25519
    protection.verify_signature_protection(
        genp.algorithm, ca.certificate, genp.protected_part, genp.protection
    )


def test_rsassa_pss_request_gets_an_rsassa_pss_response():
    """RFC 9481, 3.1: the CA's RSA key answers a PSS-signed request with RSASSA-PSS."""
    ca = services.create_ca(name="rsa.root", subject="CN=rsa.root", key_type="rsa")
    services.create_enrollment(reference="fgt100f", password=SECRET.decode(), ca=ca)
    key = rsa.generate_private_key(65537, 2048)
    ip, _ = enroll(client(), key)
    cp = post(client().signed(key, ip.certificate, algorithm=pss()).ir(new_key(), body_type="cr"))
    assert cp.status == 0 and protection.is_pss(cp.algorithm)
    protection.verify_signature_protection(
        cp.algorithm, ca.certificate, cp.protected_part, cp.protection
    )


def test_rejections_of_revocations_are_rps(enrollment, root):
    """RFC 9483, 4.2: unknown certificate, bad reason, already revoked: rp, status rejection."""
    key = new_key()
    ip, _ = enroll(client(), key)
    issuer, serial = root.certificate.subject, ip.certificate.serial_number
    signed = client().signed(key, ip.certificate)
    for kwargs, failure in (
        ({"serial": 4242}, FailureInfo.badCertId),
        ({"reason": 7}, FailureInfo.badDataFormat),
        ({"subject": x509.Name.from_rfc4514_string("CN=other")}, FailureInfo.badCertTemplate),
    ):
        rp = post(
            fresh(signed).rr(
                issuer,
                kwargs.pop("serial", serial),
                **({"reason": 1} | kwargs),
            )
        )
        assert (rp.body_type, rp.status, rp.failure_bits) == ("rp", 2, (failure,)), rp
    rp = post(fresh(signed).rr(issuer, serial, reason=1))
    assert (rp.body_type, rp.status) == ("rp", 0)
    # the certificate is revoked now: it signs nothing more (certRevoked)
    error = post(fresh(signed).rr(issuer, serial, reason=1))
    assert error.failure_bits == (FailureInfo.certRevoked,)
    services.update_enrollment(enrollment, allow_mac_kur=True)
    rp = post(client().rr(issuer, serial, reason=1))
    assert (rp.body_type, rp.failure_bits, rp.status_text) == (
        "rp",
        (FailureInfo.certRevoked,),
        f"Certificate {record_of(ip.certificate).serial_colons} is already revoked.",
    )


def test_revive_with_the_enrollment_password(enrollment, root):
    """RFC 9810, 5.3.9: removeFromCRL takes a certificate off hold; the CRL forgets it."""
    ip, _ = enroll(client())
    services.update_enrollment(enrollment, allow_mac_kur=True)
    issuer, serial = root.certificate.subject, ip.certificate.serial_number
    assert post(client().rr(issuer, serial, reason=6)).status == 0
    assert record_of(ip.certificate).revocation_reason == "certificateHold"
    rp = post(client().rr(issuer, serial, reason=8))
    assert (rp.body_type, rp.status) == ("rp", 0)
    assert record_of(ip.certificate).status == "active"
    crl = x509.load_der_x509_crl(services.current_crl(root))
    assert crl.get_revoked_certificate_by_serial_number(serial) is None
    rp = post(client().rr(issuer, serial, reason=8))
    assert (rp.status, rp.failure_bits) == (2, (FailureInfo.badCertId,))


def test_a_trusted_management_entity_revokes_for_others(enrollment, root):
    """RFC 9483, 5.3.2: the RA certificate a CA names signs rr for any of its certificates."""
    ip, _ = enroll(client())
    ra_key = new_key()
    ra = services.issue_certificate(
        ca=root, subject=x509.Name.from_rfc4514_string("CN=RA"), public_key=ra_key.public_key()
    )
    services.set_management_entity(root, ra.certificate_pem.encode())
    ra_client = client().signed(ra_key, ra.certificate)
    issuer, serial = root.certificate.subject, ip.certificate.serial_number
    rp = post(ra_client.rr(issuer, serial, reason=6))
    assert (rp.body_type, rp.status) == ("rp", 0)
    rp = post(fresh(ra_client).rr(issuer, serial, reason=8))
    assert rp.status == 0 and record_of(ip.certificate).status == "active"
    error = post(fresh(ra_client).ir(new_key(), body_type="cr"))
    assert error.failure_bits == (FailureInfo.notAuthorized,)
    assert CMPTransaction.objects.filter(body_type="rr", state="completed").count() == 2


def test_granted_with_modifications(enrollment):
    """RFC 9810, 5.2.3: a profile that replaces what was asked says so."""
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    c = client()
    ip = post(
        c.ir(
            new_key(),
            extensions=(x509.Extension(usage.oid, True, usage),),
            validity=(None, now + dt.timedelta(days=3000)),
        )
    )
    assert (ip.body_type, ip.status) == ("ip", 1)
    assert ip.status_text.startswith(
        "keyUsage as the enrollment's profile sets it; validity shortened to "
    )
    assert post(c.but(recip_nonce=ip.sender_nonce).cert_conf(ip.certificate)).body_type == "pkiconf"


def test_what_an_end_entity_profile_cannot_grant(enrollment):
    constraints = x509.BasicConstraints(ca=True, path_length=None)
    ip = post(
        client().ir(new_key(), extensions=(x509.Extension(constraints.oid, True, constraints),))
    )
    assert (ip.body_type, ip.status, ip.failure_bits, ip.status_text) == (
        "ip",
        2,
        (FailureInfo.badCertTemplate,),
        "basicConstraints cA=TRUE: this enrollment issues end-entity certificates.",
    )


def test_empty_subject_with_a_subject_alt_name(enrollment):
    ip, _ = enroll(client(), subject="", sans=(x509.DNSName("fgt100f.local"),))
    assert ip.status == 0 and ip.certificate.subject == x509.Name([])
    san = ip.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical  # RFC 5280, 4.2.1.6: critical with an empty subject


def test_header_errors_after_the_mac_are_mac_protected(enrollment):
    """RFC 9483, 3.6.4: even with a CA to sign errors, a verified MAC protects the error."""
    error = post(client(pvno=1).ir(new_key()))
    assert error.failure_bits == (FailureInfo.unsupportedVersion,) and error.mac_ok(SECRET)


def test_strict_header_checks_setting(enrollment):
    error = post(client(message_time=None).ir(new_key()))
    assert (error.failure_bits, error.status_text) == (
        (FailureInfo.badTime,),
        "messageTime is missing.",
    )
    cmp_services.update_settings(strict_header_checks=False)
    assert post(client(message_time=None).ir(new_key())).status == 0


def test_only_rfc9481_algorithms_setting(enrollment):
    """PBM with HMAC-SHA1, OpenSSL's and FortiGate's default, is refused on request."""
    services.update_enrollment(enrollment, allow_reenrollment=True)
    sha1 = pbm(mac=OID.hmac_sha1)
    assert post(client(algorithm=sha1).ir(new_key())).status == 0
    cmp_services.update_settings(rfc9481_only=True)
    error = post(client(algorithm=sha1).ir(new_key()))
    assert error.failure_bits == (FailureInfo.badAlg,)
    assert post(client(algorithm=pbmac1()).ir(new_key())).status == 0


@pytest.mark.parametrize("first", ["implicit", "genm"])
def test_transaction_id_of_an_ended_transaction(enrollment, first):
    """RFC 9810, 5.1.1: a transactionID names one transaction, also once it ended."""
    c = client()
    if first == "implicit":
        assert post(c.but(implicit_confirm=True).ir(new_key())).status == 0
    else:
        assert post(c.genm((OID.it_ca_certs, None))).body_type == "genp"
    error = post(c.but(sender_nonce=os.urandom(16)).ir(new_key()))
    assert error.failure_bits == (FailureInfo.transactionIdInUse,)


def test_certconf_rules(enrollment):
    """RFC 9483, 4.1.1 / RFC 9810, 5.3.18."""
    c = client()
    ip = post(c.ir(new_key()))
    reused = post(
        c.but(recip_nonce=ip.sender_nonce, sender_nonce=c.sender_nonce).cert_conf(ip.certificate)
    )
    assert reused.failure_bits == (FailureInfo.badSenderNonce,)
    conf = c.but(recip_nonce=ip.sender_nonce)
    assert post(conf.cert_conf(ip.certificate)).body_type == "pkiconf"
    again = post(conf.but(sender_nonce=os.urandom(16)).cert_conf(ip.certificate))
    assert again.failure_bits == (FailureInfo.certConfirmed,)


def test_certconf_of_another_enrollments_transaction_is_refused(enrollment, root):
    """The certConf's transaction is read with its enrollment; a certConf whose
    senderKID names another enrollment is checked with that one's password and
    confirms nothing."""
    services.create_enrollment(reference="other", password="other-secret", ca=root)
    c = client()
    ip = post(c.ir(new_key()))
    other = c.but(sender_kid=b"other", secret=b"other-secret", recip_nonce=ip.sender_nonce)
    error = post(other.cert_conf(ip.certificate))
    assert (error.failure_bits, error.status_text) == (
        (FailureInfo.notAuthorized,),
        "certConf does not come from the sender of the request.",
    )
    assert record_of(ip.certificate).status == Certificate.Status.PENDING
    # the right enrollment still confirms it
    assert post(c.but(recip_nonce=ip.sender_nonce).cert_conf(ip.certificate)).body_type == (
        "pkiconf"
    )
    assert record_of(ip.certificate).status == Certificate.Status.ACTIVE


def test_a_new_transaction_id_is_checked_with_the_enrollment(enrollment):
    """ir: the enrollment and whether its transactionID is taken are one statement; a
    second ir with the same transactionID is refused (RFC 9810, 5.1.1)."""
    c = client()
    assert post(c.but(implicit_confirm=True).ir(new_key())).status == 0
    again = post(c.but(sender_nonce=os.urandom(16)).ir(new_key()))
    assert again.failure_bits == (FailureInfo.transactionIdInUse,)
    # an unknown enrollment with a taken transactionID is still "Enrollment not found."
    unknown = post(c.but(sender_kid=b"nobody", sender_nonce=os.urandom(16)).ir(new_key()))
    assert unknown.status_text == "Enrollment not found."


def test_certconf_protected_otherwise_than_its_request(enrollment):
    key = new_key()
    ip, _ = enroll(client(), key)
    signed = client().signed(key, ip.certificate)
    cp = post(signed.ir(new_key(), body_type="cr"))
    mac = client(transaction_id=signed.transaction_id, recip_nonce=cp.sender_nonce)
    error = post(mac.cert_conf(cp.certificate))
    assert (error.failure_bits, error.status_text) == (
        (FailureInfo.wrongIntegrity,),
        "The certConf must be protected as its request was (signature).",
    )


def test_kur_rules(enrollment, root):
    """RFC 9483, 4.1.3: one update at a time; the updated certificate is then revoked."""
    key = new_key()
    ip, _ = enroll(client(), key)
    signed = client().signed(key, ip.certificate)
    kup = post(signed.kur(new_key()))
    assert kup.status == 0
    second = post(fresh(signed).kur(new_key()))
    assert (second.failure_bits, second.status_text) == (
        (FailureInfo.badRequest,),
        f"A certificate replacing {record_of(ip.certificate).serial_colons} awaits its confirmation.",
    )
    assert post(signed.but(recip_nonce=kup.sender_nonce).cert_conf(kup.certificate)).body_type == (
        "pkiconf"
    )
    # revoked as superseded: the old certificate signs nothing (certRevoked)
    error = post(fresh(signed).ir(new_key()))
    assert error.failure_bits == (FailureInfo.certRevoked,)
    # a MAC-protected kur where the enrollment does not allow it: wrongIntegrity
    old = ip.certificate
    error = post(client().kur(new_key(), old_cert_id=(old.issuer, old.serial_number)))
    assert error.failure_bits == (FailureInfo.wrongIntegrity,)


@pytest.mark.parametrize(
    ("setting", "kur_old", "ir_old"),
    [
        ({}, "revoked", "revoked"),
        ({"revoke_superseded": False}, "superseded", "revoked"),
        ({"revoke_reenrolled": False}, "revoked", "superseded"),
    ],
)
def test_revoke_after_renewal_and_after_reenrollment_apart(enrollment, setting, kur_old, ir_old):
    """CMP > General: revoke after renewal (kur) and after re-enrollment (ir/cr) are two switches."""
    services.update_enrollment(enrollment, allow_reenrollment=True)
    cmp_services.update_settings(**setting)
    key = new_key()
    first, _ = enroll(client(), key)
    signed = client().signed(key, first.certificate)
    kup = post(signed.kur(new_key()))
    post(signed.but(recip_nonce=kup.sender_nonce).cert_conf(kup.certificate))
    assert record_of(first.certificate).status == kur_old
    enroll(client())
    assert record_of(kup.certificate).status == ir_old


def test_genm_more_info_types(enrollment, root):
    genp = post(
        client().genm(
            (OID.it_current_crl, None),
            (OID.it_enc_key_pair_types, None),
            (OID.it_ca_prot_enc_cert, None),
            (OID.it_cert_req_template, None),
        )
    )
    items = dict(messages.general_messages(messages.decode(genp.der)))
    crl = x509.load_der_x509_crl(items[OID.it_current_crl])
    assert crl.issuer == root.certificate.subject
    assert items[OID.it_enc_key_pair_types] and items[OID.it_ca_prot_enc_cert] is None
    # RFC 9483, 4.3.3: the EC root suggests an EC key (algId), not an RSA length as well
    assert OID.reg_ctrl_rsa_key_len not in str(items[OID.it_cert_req_template])
    assert asn1.encode_oid(OID.reg_ctrl_alg_id) in items[OID.it_cert_req_template]
    assert asn1.encode_oid(OID.reg_ctrl_rsa_key_len) not in items[OID.it_cert_req_template]
    error = post(client().genm((OID.it_ca_certs, b"\x05\x00")))
    assert error.failure_bits == (FailureInfo.badRequest,)


def test_the_ca_that_issues_signs_the_response(db):
    """Two device enrollments on different CAs trust one vendor CA: the ip is signed by
    the CA that issued the certificate, not by the first candidate's."""
    first = services.create_ca(name="a.root", subject="CN=a.root", key_type="ec")
    second = services.create_ca(name="b.root", subject="CN=b.root", key_type="ec")
    vendor_key = new_key()
    now = dt.datetime.now(dt.UTC)
    vendor_name = x509.Name.from_rfc4514_string("CN=vendor")
    vendor = (
        x509.CertificateBuilder()
        .subject_name(vendor_name)
        .issuer_name(vendor_name)
        .public_key(vendor_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(vendor_key, hashes.SHA256())
    )
    trusted = services.import_ca(
        name="vendor",
        certificate_data=vendor.public_bytes(serialization.Encoding.PEM),
        trusted=True,
    )
    for reference, ca, subject in (("a-dev", first, "CN=bts-a"), ("b-dev", second, "CN=bts-b")):
        services.create_enrollment(
            reference=reference,
            password="",
            ca=ca,
            type="device",
            trusted_ca=trusted,
            subject=subject,
        )
    device_key = new_key()
    device = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=device"))
        .issuer_name(vendor_name)
        .public_key(device_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(device_key.public_key()), False)
        .sign(vendor_key, hashes.SHA256())
    )
    ip = post(client().signed(device_key, device).ir(new_key(), "CN=bts-b"))
    assert (ip.status, ip.certificate.issuer) == (0, second.certificate.subject)
    assert ip.sender == second.certificate.subject
    assert ip.extra_certs[0] == second.certificate
    protection.verify_signature_protection(
        ip.algorithm, second.certificate, ip.protected_part, ip.protection
    )


def _queries_of(body: bytes) -> tuple[int, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        answer = post(body)
    return len(captured.captured_queries), answer


def test_query_budget_of_an_enrollment(enrollment, root, monkeypatch):
    """A MAC-protected ir and its certConf each make a fixed number of queries,
    however many CAs, enrollments and certificates there are: 9 and 9, with
    the transaction's begin and commit.

    ir: the settings' version with the throttle's rows (one UNION), the
    enrollment (with its CA) and whether the transactionID is taken (one
    statement); then begin, the enrollment locked, its current certificate, the
    new certificate, its log line, the CMP transaction, commit.
    certConf: the settings' version with the throttle's rows, the transaction
    awaiting confirmation with its certificate and enrollment (one statement);
    then begin, the transaction claimed with its new state (one UPDATE ...
    RETURNING), the enrollment locked, the certificate locked with the
    enrollment's older certificates (one statement), the certificate's status,
    its log line, commit.
    """
    import time

    monkeypatch.setattr(cmp_services, "_last_housekeeping", time.monotonic())  # measured apart

    def one_enrollment(reference: str) -> tuple[int, int]:
        c = client(sender_kid=reference.encode())
        ir_queries, ip = _queries_of(c.ir(new_key(), subject=f"CN={reference}"))
        assert ip.body_type == "ip", ip.status_text
        conf_queries, conf = _queries_of(
            c.but(recip_nonce=ip.sender_nonce).cert_conf(ip.certificate)
        )
        assert conf.body_type == "pkiconf", conf.status_text
        return ir_queries, conf_queries

    services.create_enrollment(reference="warm", password=SECRET.decode(), ca=root)
    one_enrollment("warm")  # the settings row is created on first use
    services.create_enrollment(reference="first", password=SECRET.decode(), ca=root)
    before = one_enrollment("first")
    assert before == (9, 9), before
    # More of everything: the same numbers.
    for i in range(5):
        other = services.create_ca(name=f"other-{i}", subject=f"CN=other-{i}", key_type="ec")
        services.create_enrollment(reference=f"more-{i}", password="pw", ca=other)
        services.issue_certificate(
            ca=other,
            subject=x509.Name.from_rfc4514_string(f"CN=c{i}"),
            public_key=new_key().public_key(),
        )
    # New CAs: the first request after the change reads the local CAs once
    # (certauth.ca_cache), which answer errors before an enrollment is known.
    services.create_enrollment(reference="after", password=SECRET.decode(), ca=root)
    assert one_enrollment("after") == (before[0] + 1, before[1])
    services.create_enrollment(reference="second", password=SECRET.decode(), ca=root)
    assert one_enrollment("second") == before
