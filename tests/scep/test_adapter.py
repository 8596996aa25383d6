"""The SCEP adapter in process: the Django test client sends SCEP requests to the product's view.

No gunicorn and no scepclient (test_scepclient_e2e.py does that): messages
are built by the protocol tests' client, the server is the view on
DatabaseBackend and the enrollment engine. Each test checks what the client
reads (pkiStatus, failInfo, the certificate), what the database holds and
the event-log lines.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client as HttpClient

from certauth import enrollment as engine
from certauth import services
from certauth import x509 as x509util
from certauth.enrollment import Reason
from certauth.models import Certificate, CertificateRequest, Enrollment, LogEntry
from scep import services as scep_services
from scep.backend import REASONS, UNIFORM_TEXT
from scep.models import RegistrationAuthority, SCEPTrace, SCEPTransaction
from tests.scep.conftest import CHALLENGE, DEVICE, SCEP, WILDCARD_CHALLENGE, name
from tests.scep.protocol.client import Client, make_csr, rsa_key

pytestmark = pytest.mark.django_db

SUCCESS, FAILURE, PENDING = "0", "2", "3"
BAD_ALG, BAD_REQUEST, BAD_CERT_ID = "0", "2", "4"
SIGNED = 'Certificate signing request "{subject}" signed with CA certificate "{ca}"'


def messages(log_type: int | None = None) -> list[str]:
    entries = LogEntry.objects.order_by("id")
    if log_type is not None:
        entries = entries.filter(log_type_id=log_type)
    return list(entries.values_list("message", flat=True))


def nothing_stored() -> bool:
    return not (
        SCEPTransaction.objects.exists()
        or Certificate.objects.exists()
        or CertificateRequest.objects.exists()
        or SCEPTrace.objects.exists()
    )


# --- GetCACaps and GetCACert --------------------------------------------------------------


def test_get_ca_caps_says_only_what_is_accepted(root, scep):
    response = scep.get("GetCACaps")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    caps = response.content.decode().split()
    for cap in ("POSTPKIOperation", "SHA-256", "SHA-512", "AES", "Renewal", "SCEPStandard"):
        assert cap in caps
    assert "SHA-1" not in caps and "DES3" not in caps and "GetNextCACert" not in caps
    scep_services.update_settings(legacy_algorithms=True)
    caps = scep.get("GetCACaps").content.decode().split()
    assert "SHA-1" in caps and "DES3" in caps


@pytest.mark.parametrize(
    "path", ["/app/cert/scep", "/app/cert/scep/", "/cert/scep", "/cgi-bin/pkiclient.exe"]
)
def test_every_path_answers(root, scep, path):
    response = scep.get("GetCACert", path=path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-x509-ca-cert"
    assert x509.load_der_x509_certificate(response.content) == root.certificate


def test_get_ca_cert_of_an_intermediate_ca_sends_the_chain(root, scep):
    issuing = services.create_ca(name="fac.issuing", subject="CN=fac.issuing", parent=root)
    scep_services.update_settings(default_ca=issuing)
    assert scep.ca_certificates() == [issuing.certificate, root.certificate] or set(
        scep.ca_certificates()
    ) == {issuing.certificate, root.certificate}
    # The client may name a CA by its certificate ID.
    response = scep.get("GetCACert", "fac.root")
    assert x509.load_der_x509_certificate(response.content) == root.certificate


def test_ecdsa_ca_gets_an_rsa_ra_once(ec_root, scep):
    first = scep.ca_certificates()
    second = scep.ca_certificates()
    assert set(first) == set(second)
    ra = RegistrationAuthority.objects.get()
    assert set(first) == {ec_root.certificate, ra.x509_certificate}
    certificate = ra.x509_certificate
    assert isinstance(certificate.public_key(), rsa.RSAPublicKey)
    certificate.verify_directly_issued_by(ec_root.certificate)
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_encipherment and usage.digital_signature and not usage.key_cert_sign
    assert ra.not_after <= ec_root.not_after
    # Recorded among the CA's certificates, and logged once.
    assert ra.certificate is not None and ra.certificate.ca == ec_root
    assert messages(30503) == [
        f"RA certificate '{ra.certificate.subject}' was created for CA certificate 'CN=fac.ec'"
    ]


def test_an_expiring_or_revoked_ra_is_replaced(ec_root, scep):
    scep.ca_certificates()
    old = RegistrationAuthority.objects.get()
    RegistrationAuthority.objects.filter(pk=old.pk).update(
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    )
    certificates = scep.ca_certificates()
    assert RegistrationAuthority.objects.count() == 2
    new = RegistrationAuthority.objects.order_by("-pk").first()
    assert new.x509_certificate in certificates and old.x509_certificate not in certificates
    services.revoke_certificate(new.certificate, reason="keyCompromise")
    scep.ca_certificates()
    assert RegistrationAuthority.objects.count() == 3


# --- PKCSReq: regular and wildcard enrollments ------------------------------------------------


def test_regular_enrollment(regular, root, scep):
    reply = scep.enroll(DEVICE, sans=(x509.DNSName("fw1.example.net"),))
    assert reply.status == SUCCESS, reply.fail_text
    certificate, *chain = reply.certificates
    assert certificate.subject == name(DEVICE)
    assert chain == [root.certificate]
    certificate.verify_directly_issued_by(root.certificate)
    assert reply.recipient_nonce == scep.client.last_nonce
    assert reply.transaction_id == scep.client.last_transaction_id
    stored = Certificate.objects.get()
    assert stored.enrollment == regular and stored.status == Certificate.Status.ACTIVE
    record = SCEPTransaction.objects.get()
    assert record.state == SCEPTransaction.State.ISSUED and record.certificate == stored
    assert SIGNED.format(subject=DEVICE, ca="CN=fac.root") in messages(30201)


def test_wildcard_enrollment(wildcard, root):
    for host in ("fw7", "fw8"):
        device = SCEP(Client())
        subject = f"C=CZ, O=Example, CN={host}.branch.example.net"
        reply = device.enroll(
            subject,
            challenge=WILDCARD_CHALLENGE,
            sans=(x509.DNSName(f"{host}.branch.example.net"),),
        )
        assert reply.status == SUCCESS, reply.fail_text
        assert reply.certificates[0].subject == name(subject)
    # Each device has an enrollment of its own, made from the wildcard one.
    members = Enrollment.objects.filter(scep_wildcard_member__wildcard=wildcard).order_by(
        "reference"
    )
    assert [m.reference for m in members] == [
        "branches/fw7.branch.example.net",
        "branches/fw8.branch.example.net",
    ]
    assert all(m.certificates.count() == 1 and not m.wildcard for m in members)
    assert members[0].subject == "C=CZ, O=Example, CN=fw7.branch.example.net"
    assert members[0].allowed_sans == ["DNS:*.branch.example.net"]
    # A SAN outside the allowed patterns is refused with the engine's reason.
    reply = SCEP(Client()).enroll(
        "C=CZ, O=Example, CN=fw9.branch.example.net",
        challenge=WILDCARD_CHALLENGE,
        sans=(x509.DNSName("evil.example.com"),),
    )
    assert (reply.status, reply.fail_info) == (FAILURE, BAD_REQUEST)
    assert "DNS:evil.example.com is not allowed" in reply.fail_text


def test_refusals_look_alike_to_the_client_and_apart_in_the_log(regular, wildcard):
    cases = [
        (DEVICE, "not-the-password"),
        ("C=CZ, O=Example, CN=fw1.elsewhere.example.net", WILDCARD_CHALLENGE),
        ("C=CZ, O=Example, CN=unknown.example.net", "whatever-Password1"),
        (DEVICE, None),
    ]
    replies = [SCEP(Client()).enroll(subject, challenge=challenge) for subject, challenge in cases]
    assert {(r.status, r.fail_info, r.fail_text) for r in replies} == {
        (FAILURE, BAD_REQUEST, UNIFORM_TEXT)
    }
    assert messages(30501) == [
        f"SCEP PKCSReq from {DEVICE} failed: Wrong challenge password for enrollment fw1 "
        f'("{DEVICE}"). (badRequest)',
        "SCEP PKCSReq from C=CZ, O=Example, CN=fw1.elsewhere.example.net failed: Subject "
        '"C=CZ, O=Example, CN=fw1.elsewhere.example.net" does not match the subject pattern '
        "of enrollment branches (C=CZ, O=Example, CN=*.branch.example.net). (badRequest)",
        "SCEP PKCSReq from C=CZ, O=Example, CN=unknown.example.net failed: No enrollment "
        'names the subject "C=CZ, O=Example, CN=unknown.example.net" or has this challenge '
        "password. (badRequest)",
        f"SCEP PKCSReq from {DEVICE} failed: Wrong challenge password for enrollment fw1 "
        f'("{DEVICE}"). (badRequest)',
    ]
    # Never a password, nothing issued, no transaction kept.
    assert not any(
        secret in text
        for text in messages()
        for secret in ("not-the-password", WILDCARD_CHALLENGE, "whatever-Password1", CHALLENGE)
    )
    assert not Certificate.objects.exists() and not SCEPTransaction.objects.exists()


def test_a_wrong_challenge_then_the_right_one_with_the_same_key(regular, scep):
    assert scep.enroll(DEVICE, challenge="typo").status == FAILURE
    assert scep.enroll(DEVICE).status == SUCCESS


def test_engine_reasons_all_have_an_answer():
    assert set(REASONS) == set(Reason)


# --- Resends (RFC 8894, 3.2.1.1) ---------------------------------------------------------


def test_a_resend_gets_the_same_certificate(regular, scep):
    first = scep.enroll(DEVICE)
    second = scep.enroll(DEVICE)
    assert first.status == second.status == SUCCESS
    assert first.certificates[0] == second.certificates[0]
    assert Certificate.objects.count() == 1 and SCEPTransaction.objects.count() == 1
    assert len(messages(30201)) == 1


def test_the_same_transaction_id_with_another_key_is_refused(regular, scep):
    scep.enroll(DEVICE)
    other = SCEP(Client())
    reply = other.enroll(DEVICE, transaction_id=scep.client.last_transaction_id)
    assert (reply.status, reply.fail_info) == (FAILURE, BAD_REQUEST)
    assert reply.fail_text == "The transactionID is in use by another request."
    assert Certificate.objects.count() == 1


def test_after_a_reset_a_new_key_enrolls_afresh(regular, scep):
    first = scep.enroll(DEVICE)
    # A second device key without a reset: re-enrollment is not allowed.
    again = SCEP(Client()).enroll(DEVICE)
    assert (again.status, again.fail_info) == (FAILURE, BAD_REQUEST)
    assert "re-enrollment is not allowed" in again.fail_text
    services.reset_enrollment(regular)
    renewed = SCEP(Client()).enroll(DEVICE)
    assert renewed.status == SUCCESS
    old = Certificate.objects.get(serial=x509util.serial_hex(first.certificates[0].serial_number))
    assert old.status == Certificate.Status.REVOKED
    assert old.revocation_reason == Certificate.Reason.SUPERSEDED


# --- RenewalReq ------------------------------------------------------------------------------


@pytest.mark.parametrize("revoke", [True, False])
def test_renewal_with_the_current_certificate(regular, scep, revoke):
    scep_services.update_settings(revoke_renewed=revoke)
    enrolled = scep.enroll(DEVICE).certificates[0]
    renewing = SCEP(Client(key=scep.client.key, certificate=enrolled))
    new_key = rsa_key()
    csr = make_csr(new_key, name(DEVICE))
    answer = renewing.post(renewing.client.renewal_req(csr, renewing.recipients()))
    reply = answer.reply
    assert reply.status == SUCCESS, reply.fail_text
    renewed = reply.certificates[0]
    assert renewed.subject == enrolled.subject and renewed.serial_number != enrolled.serial_number
    assert renewed.public_key().public_numbers() == new_key.public_key().public_numbers()
    old = Certificate.objects.get(serial=x509util.serial_hex(enrolled.serial_number))
    if revoke:
        assert (old.status, old.revocation_reason) == ("revoked", "superseded")
    else:
        assert old.status == Certificate.Status.SUPERSEDED
    new = Certificate.objects.get(serial=x509util.serial_hex(renewed.serial_number))
    assert new.replaces == old and new.status == Certificate.Status.ACTIVE
    assert f'Certificate "{DEVICE}" was renewed ({new.serial_colons})' in messages(30202)
    # The renewal reused the enrolment's transactionID (the signer's key): a new transaction.
    assert SCEPTransaction.objects.filter(renewal_of=old.serial).count() == 1
    # A resend of the renewal gets the same certificate, though its signer is no longer in force.
    resent = renewing.post(renewing.client.renewal_req(csr, renewing.recipients())).reply
    assert resent.status == SUCCESS and resent.certificates[0] == renewed
    # A new renewal by the renewed certificate is refused.
    again = SCEP(Client(key=scep.client.key, certificate=enrolled))
    message = again.client.renewal_req(make_csr(rsa_key(), name(DEVICE)), again.recipients())
    refused = again.post(message).reply
    assert (refused.status, refused.fail_info) == (FAILURE, BAD_REQUEST)
    assert Certificate.objects.count() == 2


def test_renewal_signed_by_a_stranger_is_refused(regular, scep):
    stranger = SCEP(Client(key=rsa_key()))
    # Signed by a certificate no CA of ours issued (self-signed is refused by the protocol).
    other_ca = services.create_ca(name="other", subject="CN=other")
    key = rsa_key()
    cert = services.issue_certificate(
        ca=other_ca, subject=name("CN=stranger"), public_key=key.public_key()
    )
    Certificate.objects.filter(pk=cert.pk).delete()
    stranger = SCEP(Client(key=key, certificate=cert.certificate))
    csr = make_csr(rsa_key(), name("CN=stranger"))
    reply = stranger.post(stranger.client.renewal_req(csr, stranger.recipients())).reply
    assert (reply.status, reply.fail_info) == (FAILURE, BAD_REQUEST)
    assert not Certificate.objects.filter(enrollment=regular).exists()


# --- Manual approval and CertPoll -------------------------------------------------------------


@pytest.fixture
def manual(root):
    return services.create_enrollment(
        reference="fw-manual",
        password=CHALLENGE,
        ca=root,
        protocol="scep",
        subject="C=CZ, O=Example, CN=manual.example.net",
        method="manual",
    )


MANUAL = "C=CZ, O=Example, CN=manual.example.net"


def test_manual_approval_then_cert_poll(manual, root, scep):
    reply = scep.enroll(MANUAL)
    assert reply.status == PENDING and reply.envelope is None
    held = CertificateRequest.objects.get()
    assert (held.protocol, held.operation, held.state) == ("scep", "PKCSReq", "waiting")
    tid = scep.client.last_transaction_id
    poll = scep.post(
        scep.client.cert_poll(root.certificate.subject, name(MANUAL), [root.certificate])
    )
    assert poll.reply.status == PENDING and poll.reply.transaction_id == tid
    engine.approve_request(held.pk)
    poll = scep.post(
        scep.client.cert_poll(root.certificate.subject, name(MANUAL), [root.certificate])
    )
    assert poll.reply.status == SUCCESS
    issued = poll.reply.certificates[0]
    assert issued.subject == name(MANUAL)
    # A resent PKCSReq (scepclient polls that way) gets the same certificate.
    again = scep.enroll(MANUAL)
    assert again.status == SUCCESS and again.certificates[0] == issued
    assert Certificate.objects.count() == 1


def test_manual_rejection_is_delivered_then_the_device_may_ask_again(manual, root, scep):
    assert scep.enroll(MANUAL).status == PENDING
    engine.reject_request(CertificateRequest.objects.get().pk, reason="Not on the inventory.")
    reply = scep.enroll(MANUAL)
    assert (reply.status, reply.fail_info, reply.fail_text) == (
        FAILURE,
        BAD_REQUEST,
        "Not on the inventory.",
    )
    assert scep.enroll(MANUAL).status == PENDING
    assert CertificateRequest.objects.filter(state="waiting").count() == 1


def test_cert_poll_of_an_unknown_transaction_or_by_someone_else(manual, root, scep):
    scep.enroll(MANUAL)
    intruder = SCEP(Client())
    message = intruder.client.cert_poll(
        root.certificate.subject,
        name(MANUAL),
        [root.certificate],
        transaction_id=scep.client.last_transaction_id,
    )
    reply = intruder.post(message).reply
    assert (reply.status, reply.fail_info) == (FAILURE, BAD_CERT_ID)
    unknown = scep.post(
        scep.client.cert_poll(
            root.certificate.subject, name(MANUAL), [root.certificate], transaction_id="nope"
        )
    ).reply
    assert (unknown.status, unknown.fail_info) == (FAILURE, BAD_CERT_ID)


# --- GetCert and GetCRL -------------------------------------------------------------------


def test_get_cert_to_the_holder_only(regular, root, scep):
    issued = scep.enroll(DEVICE).certificates[0]
    holder = SCEP(Client(key=scep.client.key, certificate=issued))
    message = holder.client.get_cert(
        root.certificate.subject, issued.serial_number, [root.certificate]
    )
    reply = holder.post(message).reply
    assert reply.status == SUCCESS and reply.certificates[0] == issued
    other = SCEP(Client())
    message = other.client.get_cert(
        root.certificate.subject, issued.serial_number, [root.certificate]
    )
    reply = other.post(message).reply
    assert (reply.status, reply.fail_info) == (FAILURE, BAD_CERT_ID)


def test_get_crl(regular, root, scep):
    issued = scep.enroll(DEVICE).certificates[0]
    services.revoke_certificate(Certificate.objects.get(), reason="keyCompromise")
    message = scep.client.get_crl(
        root.certificate.subject, issued.serial_number, [root.certificate]
    )
    reply = scep.post(message).reply
    assert reply.status == SUCCESS
    (crl,) = reply.crls
    assert crl.issuer == root.certificate.subject
    assert crl.get_revoked_certificate_by_serial_number(issued.serial_number) is not None
    unknown = scep.client.get_crl(name("CN=nobody"), 1, [root.certificate])
    reply = scep.post(unknown).reply
    assert (reply.status, reply.fail_info) == (FAILURE, BAD_CERT_ID)


# --- Algorithms ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digest", "cipher", "text"),
    [
        ("sha1", "aes128", "SHA-1 is only accepted with the legacy algorithms setting."),
        ("sha256", "3des", "DES-EDE3-CBC is not accepted by this CA's settings."),
        ("sha256", "des", "DES-CBC is not accepted by this CA's settings."),
    ],
)
def test_legacy_algorithms_off(regular, digest, cipher, text):
    device = SCEP(Client(digest=digest, cipher=cipher))
    reply = device.enroll(DEVICE)
    assert (reply.status, reply.fail_info, reply.fail_text) == (FAILURE, BAD_ALG, text)
    assert messages(30501) == [f"SCEP PKCSReq failed: {text} (badAlg)"] or messages(30501) == [
        f"SCEP PKCSReq from {_signer(device)} failed: {text} (badAlg)"
    ]
    assert not Certificate.objects.exists()


def _signer(device: SCEP) -> str:
    from certauth.x509 import format_name

    return format_name(device.client.certificate.subject)


@pytest.mark.parametrize(
    ("digest", "cipher"), [("sha1", "aes128"), ("sha1", "3des"), ("sha1", "des")]
)
def test_legacy_algorithms_on(regular, legacy, digest, cipher):
    device = SCEP(Client(digest=digest, cipher=cipher))
    reply = device.enroll(DEVICE)
    assert reply.status == SUCCESS, reply.fail_text
    # The reply uses the request's algorithms (RFC 8894, 3.3.2.1).
    assert reply.cipher == cipher and reply.digest_oid == "1.3.14.3.2.26"


def test_single_des_needs_its_own_setting(regular):
    scep_services.update_settings(legacy_algorithms=True)
    reply = SCEP(Client(digest="sha1", cipher="des")).enroll(DEVICE)
    assert (reply.status, reply.fail_info) == (FAILURE, BAD_ALG)


# --- An ECDSA CA with its RA ------------------------------------------------------------


def test_ecdsa_ca_enrolls_through_its_ra(ec_root, scep):
    enrollment = services.create_enrollment(
        reference="fw-ec", password=CHALLENGE, ca=ec_root, protocol="scep", subject=DEVICE
    )
    reply = scep.enroll(DEVICE)
    assert reply.status == SUCCESS, reply.fail_text
    ra = RegistrationAuthority.objects.get()
    assert reply.signer == ra.x509_certificate  # RFC 8894, 2.1.2: the RA signs the CertRep
    issued = reply.certificates[0]
    issued.verify_directly_issued_by(ec_root.certificate)
    assert Certificate.objects.get(enrollment=enrollment).certificate == issued


# --- GET PKIOperation, malformed input, disabled ----------------------------------------------


def test_get_pki_operation(regular, scep):
    csr = make_csr(scep.client.key, name(DEVICE), challenge=CHALLENGE)
    answer = scep.get_pki(scep.client.pkcs_req(csr, scep.recipients()))
    assert answer.status == 200 and answer.reply.status == SUCCESS


@pytest.mark.parametrize(
    "request_",
    [
        ("post", b"junk"),
        ("post", b"0\x82\xff\xff"),
        ("post", b""),
        ("get", "!!!not base64!!!"),
        ("get", ""),
    ],
)
def test_malformed_messages_get_a_plain_400_and_nothing_is_stored(root, request_):
    http = HttpClient(raise_request_exception=False)
    kind, payload = request_
    if kind == "post":
        response = http.post(
            "/app/cert/scep/?operation=PKIOperation",
            data=payload,
            content_type="application/x-pki-message",
        )
    else:
        response = http.get("/app/cert/scep/", {"operation": "PKIOperation", "message": payload})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert b"Traceback" not in response.content
    assert nothing_stored()
    assert not LogEntry.objects.filter(log_type_id=30501).exists()


def test_unknown_operation_and_method(root):
    http = HttpClient()
    assert http.get("/app/cert/scep/?operation=Nope").status_code == 400
    assert http.get("/app/cert/scep/").status_code == 400
    response = http.put("/app/cert/scep/?operation=GetCACaps")
    assert response.status_code == 405 and response["Allow"] == "GET, POST"


def test_oversized_body(root):
    response = HttpClient().post(
        "/app/cert/scep/?operation=PKIOperation",
        data=b"0" * (scep_services.MAX_BODY + 1),
        content_type="application/x-pki-message",
    )
    assert response.status_code == 413


def test_disabled(regular, scep):
    scep_services.update_settings(enabled=False)
    assert scep.get("GetCACaps").status_code == 503


def test_no_ca_at_all(db):
    response = HttpClient().get("/app/cert/scep/?operation=GetCACert")
    assert response.status_code == 503


# --- Debug traces ---------------------------------------------------------------------------


def test_debug_traces_hold_no_secret(regular, scep):
    from cmp import services as cmp_services

    scep.enroll(DEVICE)
    assert not SCEPTrace.objects.exists()  # debug mode off
    cmp_services.set_debug(True)
    SCEP(Client()).enroll(DEVICE, challenge="wrong-Password-9")
    scep.enroll(DEVICE)
    traces = list(SCEPTrace.objects.order_by("id"))
    pki = [t for t in traces if t.operation == "PKIOperation"]
    assert [t.pki_status for t in pki] == ["FAILURE", "SUCCESS"]
    failed, resent = pki
    assert failed.fail_info == "badRequest (2)" and failed.message_type == "PKCSReq (19)"
    assert "challengePassword: present (16 characters)" in failed.csr_text
    assert f"subject: {DEVICE}" in resent.csr_text
    assert resent.transaction_id == scep.client.last_transaction_id
    assert resent.recipient_nonce == resent.sender_nonce and resent.response_nonce
    assert bytes(resent.request_der) and bytes(resent.response_der)
    for trace in traces:
        text = " ".join(str(getattr(trace, f.name)) for f in SCEPTrace._meta.fields)
        assert CHALLENGE not in text and "wrong-Password-9" not in text
