"""The CMP adapter in process: the Django test client posts application/pkixcmp to the view.

No gunicorn and no openssl: requests are the checked-in captures of
``openssl cmp`` (tests/fixtures/cmp) or built by the protocol tests' client,
and the server is the product's view on DatabaseBackend and the enrollment
engine. The openssl end-to-end tests (test_endpoint_openssl.py and
test_lifecycle_openssl.py) keep the interoperability.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client as HttpClient
from django.urls import reverse

from certauth import enrollment as engine
from certauth import services
from certauth.models import Certificate, CertificateRequest, LogEntry
from cmp import services as cmp_services
from cmp.models import CMPTransaction
from cmp.protocol.errors import FailureInfo
from tests.cmp.protocol.client import Client, read_response

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
    assert (error.body_type, error.failure_bits, error.status_text) == (
        "error",
        (FailureInfo.signerNotTrusted,),
        "Enrollment not found.",
    )
    # Signed by the CA the client pins, so that it can show the text.
    assert error.sender == root.certificate.subject and not error.mac_ok(SECRET)
    assert not Certificate.objects.exists()
    assert LogEntry.objects.filter(
        message="CMP ir from fgt100f failed: Enrollment not found. (signerNotTrusted)",
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
    services.update_enrollment(enrollment, **change)
    error = post(client().ir(new_key()))
    assert (error.body_type, error.failure_bits, error.status_text) == ("error", (failure,), text)
    assert error.mac_ok(SECRET)  # the MAC was verified: the error carries one
    assert not Certificate.objects.exists() and not CMPTransaction.objects.exists()


def test_wrong_password(enrollment):
    error = post(client(secret=b"wrong").ir(new_key()))
    assert (error.body_type, error.failure_bits) == ("error", (FailureInfo.badMessageCheck,))
    assert not Certificate.objects.exists()


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
    old = Certificate.objects.get(serial=f"{ip.certificate.serial_number:X}".zfill(2))
    assert (old.status, old.revocation_reason) == ("revoked", "superseded")
    assert LogEntry.objects.filter(message__contains="was renewed").count() == 1


def test_rr_with_password_only_where_allowed(enrollment, root):
    ip, _ = enroll(client())
    issuer, serial = root.certificate.subject, ip.certificate.serial_number
    error = post(client().rr(issuer, serial, reason=1))
    assert error.failure_bits == (FailureInfo.notAuthorized,)
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
    services.revoke_certificate(
        Certificate.objects.get(serial=f"{second.certificate.serial_number:X}".zfill(2))
    )
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
