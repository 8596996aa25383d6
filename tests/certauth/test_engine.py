"""The enrollment engine (certauth.enrollment), with no protocol at all."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.db import connection
from django.utils import timezone

from certauth import enrollment as engine
from certauth import services
from certauth.enrollment import Credential, Operation, Reason, Refused
from certauth.models import Certificate, CertificateAuthority, CertificateRequest, Enrollment
from tests.certauth.conftest import messages, name

pytestmark = pytest.mark.django_db

PASSWORD = "engine-pw-1"


@pytest.fixture
def enroll(ec_root):
    return services.create_enrollment(
        reference="fgt100f",
        password=PASSWORD,
        ca=ec_root,
        allowed_sans=["DNS:fgt100f.local"],
        validity_days=90,
    )


def request(enrollment, key, **overrides) -> engine.Request:
    fields = {
        "protocol": "cmp",
        "operation": Operation.ENROLL,
        "message": "ir",
        "credential": Credential.PASSWORD,
        "enrollment": enrollment,
        "subject": name("fgt100f.local"),
        "public_key": key.public_key(),
        "needs_confirmation": True,
    }
    fields.update(overrides)
    return engine.Request(**fields)


def refused(call) -> Refused:
    with pytest.raises(Refused) as exc:
        call()
    return exc.value


def active(enrollment) -> list[Certificate]:
    return list(enrollment.certificates.filter(status=Certificate.Status.ACTIVE))


# --- issuing -------------------------------------------------------------------------


def test_issue_pending_then_confirm(enroll, ec_key):
    decision = engine.request_certificate(request(enroll, ec_key))
    cert = decision.certificate
    assert not decision.waiting and cert.status == Certificate.Status.PENDING
    assert cert.enrollment == enroll and cert.kind == enroll.kind
    engine.confirm_certificate(cert)
    cert.refresh_from_db()
    assert cert.status == Certificate.Status.ACTIVE
    assert messages()[-2:] == [
        'Certificate signing request "CN=fgt100f.local" signed with CA certificate "CN=fac.cz.root"',
        f'Certificate "CN=fgt100f.local" ({cert.serial_colons}) was confirmed by the client',
    ]
    # Confirming again changes nothing.
    assert engine.confirm_certificate(cert).status == Certificate.Status.ACTIVE


def test_implicit_confirmation_issues_active(enroll, ec_key):
    cert = engine.request_certificate(request(enroll, ec_key, needs_confirmation=False)).certificate
    assert cert.status == Certificate.Status.ACTIVE


@pytest.mark.parametrize(
    ("change", "reason", "text"),
    [
        ({"enabled": False}, Reason.ENROLLMENT_DISABLED, "Enrollment fgt100f is disabled."),
        ({"status": "rejected"}, Reason.ENROLLMENT_REJECTED, "Enrollment fgt100f was rejected."),
        (
            {"status": "pending"},
            Reason.ENROLLMENT_PENDING,
            "Enrollment fgt100f is pending approval.",
        ),
        (
            {"subject": "CN=other"},
            Reason.SUBJECT_MISMATCH,
            'Subject "CN=fgt100f.local" does not match the enrollment\'s required subject "CN=other".',
        ),
    ],
)
def test_enrollment_rules(enroll, ec_key, change, reason, text):
    services.update_enrollment(enroll, **change)
    enroll.refresh_from_db()
    exc = refused(lambda: engine.request_certificate(request(enroll, ec_key)))
    assert (exc.reason, exc.message) == (reason, text)
    assert not Certificate.objects.exists()


def test_san_allow_list(enroll, ec_key):
    allowed = engine.request_certificate(
        request(enroll, ec_key, sans=(x509.DNSName("fgt100f.local"),))
    ).certificate
    assert allowed.sans == ["DNS:fgt100f.local"]
    services.update_enrollment(enroll, allow_reenrollment=True)
    exc = refused(
        lambda: engine.request_certificate(
            request(enroll, ec_key, sans=(x509.DNSName("evil.example"),))
        )
    )
    assert exc.reason == Reason.SAN_NOT_ALLOWED
    assert exc.message == "subjectAltName DNS:evil.example is not allowed for enrollment fgt100f."


def test_key_strength_policy(enroll):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - on purpose
    exc = refused(lambda: engine.request_certificate(request(enroll, weak)))
    assert (exc.reason, exc.message) == (
        Reason.BAD_KEY,
        "RSA key of 1024 bits is too short (minimum 2048).",
    )
    curve = ec.generate_private_key(ec.SECP256K1())
    assert refused(lambda: engine.request_certificate(request(enroll, curve))).reason == (
        Reason.BAD_KEY
    )


def test_ec_certificates_never_get_key_encipherment(enroll, ec_key, rsa_key):
    assert enroll.key_usage == ["digitalSignature", "keyEncipherment"]
    services.update_enrollment(enroll, allow_reenrollment=True)
    ec_cert = engine.request_certificate(request(enroll, ec_key)).certificate
    usage = ec_cert.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_encipherment  # RFC 8813, 3
    assert ec_cert.key_usage == ["digitalSignature"]
    rsa_cert = engine.request_certificate(request(enroll, rsa_key)).certificate
    usage = rsa_cert.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment


def test_one_certificate_unless_reenrollment(enroll, ec_key):
    first = engine.request_certificate(request(enroll, ec_key)).certificate
    exc = refused(lambda: engine.request_certificate(request(enroll, ec_key)))
    assert exc.reason == Reason.ALREADY_ENROLLED
    assert exc.message == (
        f"Enrollment fgt100f already holds certificate {first.serial_colons}; "
        "re-enrollment is not allowed."
    )


# --- one active certificate per enrollment -----------------------------------------------


@pytest.fixture
def reenroll(enroll):
    return services.update_enrollment(enroll, allow_reenrollment=True)


def test_newest_confirmed_certificate_wins(reenroll, ec_key):
    c1, c2, c3 = (
        engine.request_certificate(request(reenroll, ec_key)).certificate for _ in range(3)
    )
    engine.confirm_certificate(c3)
    # c1 and c2 never came into force: revoked as superseded when c3 did.
    for older in (c1, c2):
        exc = refused(lambda older=older: engine.confirm_certificate(older))
        assert exc.reason == Reason.CONFIRMATION_REFUSED
    assert active(reenroll) == [c3]
    c1.refresh_from_db()
    assert (c1.status, c1.revocation_reason) == ("revoked", "superseded")


def test_confirming_in_any_order_leaves_one_active(reenroll, ec_key):
    c1, c2, c3 = (
        engine.request_certificate(request(reenroll, ec_key)).certificate for _ in range(3)
    )
    engine.confirm_certificate(c1)
    assert active(reenroll) == [c1]
    engine.confirm_certificate(c3)
    assert active(reenroll) == [c3]
    assert refused(lambda: engine.confirm_certificate(c2)).reason == Reason.CONFIRMATION_REFUSED
    assert active(reenroll) == [c3]
    c1.refresh_from_db()
    assert (c1.status, c1.revocation_reason) == ("revoked", "superseded")


def test_kept_replaced_certificate_is_superseded_not_revoked(reenroll, ec_key):
    old = engine.request_certificate(request(reenroll, ec_key, needs_confirmation=False))
    new = engine.request_certificate(
        request(reenroll, ec_key, needs_confirmation=False, revoke_replaced=False)
    )
    old.certificate.refresh_from_db()
    assert old.certificate.status == Certificate.Status.SUPERSEDED
    assert old.certificate.revoked_at is None
    assert active(reenroll) == [new.certificate]
    assert messages()[-1] == (
        f'Certificate "CN=fgt100f.local" ({old.certificate.serial_colons}) was replaced by '
        f"{new.certificate.serial_colons} and stays valid"
    )


def test_database_refuses_two_active_certificates(enroll, ec_key):
    from django.db import IntegrityError, transaction

    cert = engine.request_certificate(request(enroll, ec_key, needs_confirmation=False))
    with pytest.raises(IntegrityError), transaction.atomic():
        Certificate.objects.create(
            ca=cert.certificate.ca,
            enrollment=enroll,
            serial="01",
            subject="CN=x",
            certificate_pem=cert.certificate.certificate_pem,
            not_before=timezone.now(),
            not_after=timezone.now() + dt.timedelta(days=1),
            status=Certificate.Status.ACTIVE,
        )


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite's in-memory test database locks tables for threads; "
    "tests/cmp/test_endpoint_openssl.py runs 50 parallel clients against gunicorn on SQLite",
)
@pytest.mark.django_db(transaction=True)
def test_parallel_requests_leave_one_active(ec_root, ec_key):
    enrollment = services.create_enrollment(
        reference="parallel", password=PASSWORD, ca=ec_root, allow_reenrollment=True
    )
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            decision = engine.request_certificate(
                request(enrollment, ec_key, needs_confirmation=i % 2 == 0)
            )
            if i % 2 == 0:
                try:
                    engine.confirm_certificate(decision.certificate)
                except Refused as exc:
                    assert exc.reason == Reason.CONFIRMATION_REFUSED  # noqa: PT017
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert enrollment.certificates.count() == 20
    assert len(active(enrollment)) == 1
    # The one in force is the newest that came into force.
    newest = enrollment.certificates.exclude(status=Certificate.Status.PENDING).order_by("-pk")
    assert newest.filter(status=Certificate.Status.ACTIVE).exists()


# --- validity ---------------------------------------------------------------------------


def test_requested_validity_within_profile_and_ca(enroll, ec_key, ec_root):
    now = timezone.now()
    services.update_enrollment(enroll, allow_reenrollment=True)
    shorter = engine.request_certificate(
        request(enroll, ec_key, not_after=now + dt.timedelta(days=10))
    ).certificate
    assert abs(shorter.not_after - (now + dt.timedelta(days=10))) < dt.timedelta(seconds=5)
    longer = engine.request_certificate(
        request(enroll, ec_key, not_after=now + dt.timedelta(days=900))
    ).certificate
    assert abs(longer.not_after - (now + dt.timedelta(days=90))) < dt.timedelta(seconds=5)
    later = now + dt.timedelta(days=2)
    starts_later = engine.request_certificate(request(enroll, ec_key, not_before=later)).certificate
    assert abs(starts_later.not_before - later) < dt.timedelta(seconds=1)
    CertificateAuthority.objects.filter(pk=ec_root.pk).update(not_after=now + dt.timedelta(days=30))
    enroll.refresh_from_db()
    capped = engine.request_certificate(request(enroll, ec_key)).certificate
    assert capped.not_after <= now + dt.timedelta(days=30)
    exc = refused(
        lambda: engine.request_certificate(
            request(enroll, ec_key, not_before=later, not_after=later - dt.timedelta(hours=1))
        )
    )
    assert exc.reason == Reason.BAD_VALIDITY


# --- renewal ---------------------------------------------------------------------------


@pytest.fixture
def issued(enroll, ec_key):
    return engine.request_certificate(request(enroll, ec_key, needs_confirmation=False)).certificate


def renewal(issued, key, **overrides):
    signer = engine.Signer(
        credential=Credential.ISSUED_CERTIFICATE, ca=issued.ca, certificate=issued
    )
    fields = {
        "operation": Operation.RENEW,
        "message": "kur",
        "credential": Credential.ISSUED_CERTIFICATE,
        "signer": signer,
        "subject": x509.Name([]),
    }
    fields.update(overrides)
    return request(fields.pop("enrollment", None), key, **fields)


def test_renewal_supersedes_after_confirmation(issued):
    new_key = ec.generate_private_key(ec.SECP256R1())
    renewed = engine.request_certificate(renewal(issued, new_key)).certificate
    assert renewed.replaces == issued and renewed.subject == issued.subject
    assert messages()[-1] == f'Certificate "CN=fgt100f.local" was renewed ({renewed.serial_colons})'
    engine.confirm_certificate(renewed)
    issued.refresh_from_db()
    assert (issued.status, issued.revocation_reason) == ("revoked", "superseded")
    exc = refused(lambda: engine.request_certificate(renewal(issued, new_key)))
    assert exc.reason == Reason.CERT_REVOKED


def test_renewal_rules(issued, ec_key, enroll):
    new_key = ec.generate_private_key(ec.SECP256R1())
    assert refused(lambda: engine.request_certificate(renewal(issued, ec_key))).reason == (
        Reason.RENEWAL_SAME_KEY
    )
    assert (
        refused(
            lambda: engine.request_certificate(renewal(issued, new_key, subject=name("other")))
        ).reason
        == Reason.RENEWAL_SUBJECT_CHANGED
    )
    services.update_enrollment(enroll, renewable_days=30)
    exc = refused(lambda: engine.request_certificate(renewal(issued, new_key)))
    assert exc.reason == Reason.OUTSIDE_RENEWAL_WINDOW
    assert "can be renewed only within 30 days before it expires" in exc.message
    services.update_enrollment(enroll, renewable_days=0)
    first = engine.request_certificate(renewal(issued, new_key)).certificate
    # RFC 9483, 4.1.3: one update at a time, while the first awaits its confirmation
    assert refused(lambda: engine.request_certificate(renewal(issued, new_key))).reason == (
        Reason.RENEWAL_PENDING
    )
    engine.confirm_certificate(first, revoke_replaced=False)
    assert refused(lambda: engine.request_certificate(renewal(issued, new_key))).reason == (
        Reason.ALREADY_RENEWED
    )


def test_password_renewal_needs_the_enrollments_consent(issued, enroll):
    new_key = ec.generate_private_key(ec.SECP256R1())
    by_password = renewal(
        issued,
        new_key,
        credential=Credential.PASSWORD,
        signer=None,
        enrollment=enroll,
        renews=issued,
    )
    assert refused(lambda: engine.request_certificate(by_password)).reason == (
        Reason.PASSWORD_RENEWAL_NOT_ALLOWED
    )
    services.update_enrollment(enroll, allow_mac_kur=True)
    enroll.refresh_from_db()
    by_password = renewal(
        issued,
        new_key,
        credential=Credential.PASSWORD,
        signer=None,
        enrollment=enroll,
        renews=issued,
    )
    assert engine.request_certificate(by_password).certificate.replaces == issued


def test_expired_certificate_cannot_be_renewed(issued):
    Certificate.objects.filter(pk=issued.pk).update(
        not_after=timezone.now() - dt.timedelta(hours=1)
    )
    issued.refresh_from_db()
    new_key = ec.generate_private_key(ec.SECP256R1())
    assert refused(lambda: engine.request_certificate(renewal(issued, new_key))).reason == (
        Reason.CERT_EXPIRED
    )


# --- manual approval -----------------------------------------------------------------------


@pytest.fixture
def manual(enroll):
    return services.update_enrollment(enroll, method=Enrollment.Method.MANUAL)


def test_held_then_approved(manual, ec_key):
    decision = engine.request_certificate(request(manual, ec_key, source_ip="192.0.2.5"))
    held = decision.held
    assert decision.waiting and not Certificate.objects.exists()
    assert (held.state, held.subject, held.protocol, held.source_ip) == (
        "waiting",
        "CN=fgt100f.local",
        "cmp",
        "192.0.2.5",
    )
    assert list(engine.waiting_requests()) == [held]
    approved = engine.approve_request(held.pk, actor=services.Actor(user="admin"))
    cert = approved.certificate
    assert (approved.state, approved.decided_by) == ("approved", "admin")
    assert cert.status == Certificate.Status.PENDING  # the client confirms it
    assert messages()[-1] == (
        "CMP ir of enrollment 'fgt100f' for \"CN=fgt100f.local\" was approved"
    )
    exc = refused(lambda: engine.approve_request(held.pk))
    assert (exc.reason, exc.message) == (
        Reason.NOT_WAITING,
        f"Request {held.pk} is not waiting for approval.",
    )


def test_held_then_rejected(manual, ec_key):
    held = engine.request_certificate(request(manual, ec_key)).held
    rejected = engine.reject_request(held.pk, reason="  unknown device  ")
    assert (rejected.state, rejected.reason) == ("rejected", "unknown device")
    assert messages()[-1] == (
        "CMP ir of enrollment 'fgt100f' for \"CN=fgt100f.local\" was rejected: unknown device"
    )
    assert not Certificate.objects.exists()


def test_approving_a_request_of_a_deleted_enrollment_is_refused(manual, ec_key):
    held = engine.request_certificate(request(manual, ec_key)).held
    services.delete_enrollment(manual)
    exc = refused(lambda: engine.approve_request(held.pk))
    assert exc.reason == Reason.ENROLLMENT_NOT_FOUND
    assert exc.message == (
        f"The enrollment fgt100f of request {held.pk} was deleted; reject the request."
    )
    engine.reject_request(held.pk)
    assert CertificateRequest.objects.get().state == "rejected"


# --- revocation requests --------------------------------------------------------------------


def test_revocation_rules(issued, enroll, ec_root):
    signer = engine.Signer(credential=Credential.ISSUED_CERTIFICATE, ca=ec_root, certificate=issued)
    issuer = ec_root.certificate.subject

    def revoke(**overrides):
        fields = {
            "issuer": issuer,
            "serial_number": issued.serial_number,
            "reason": "keyCompromise",
            "credential": Credential.ISSUED_CERTIFICATE,
            "signer": signer,
        }
        fields.update(overrides)
        return engine.revoke_certificate(**fields)

    assert refused(lambda: revoke(serial_number=12345)).reason == Reason.CERT_UNKNOWN
    # a certificate does not take itself off hold
    assert refused(lambda: revoke(reason="removeFromCRL")).reason == Reason.BAD_REVOCATION_REASON
    assert refused(lambda: revoke(reason="privilegeWithdrawn")).reason == (
        Reason.BAD_REVOCATION_REASON
    )
    by_password = {"credential": Credential.PASSWORD, "signer": None, "enrollment": enroll}
    assert refused(lambda: revoke(**by_password)).reason == (Reason.PASSWORD_REVOCATION_NOT_ALLOWED)
    other = services.create_enrollment(reference="other", password=PASSWORD, ca=ec_root)
    assert (
        refused(
            lambda: revoke(credential=Credential.PASSWORD, signer=None, enrollment=other)
        ).reason
        == Reason.NOT_CERTIFICATE_OWNER
    )
    cert = revoke()
    assert (cert.status, cert.revocation_reason) == ("revoked", "keyCompromise")
    assert refused(revoke).reason == Reason.ALREADY_REVOKED


# --- who is asking -------------------------------------------------------------------------


def test_find_enrollment_is_exact(enroll):
    assert engine.find_enrollment("fgt100f") == enroll
    for wrong in ("FGT100F", "fgt100", ""):
        exc = refused(lambda wrong=wrong: engine.find_enrollment(wrong))
        assert (exc.reason, exc.message) == (Reason.ENROLLMENT_NOT_FOUND, "Enrollment not found.")
    assert refused(lambda: engine.find_enrollment("fgt100f", label="other")).reason == (
        Reason.WRONG_ENROLLMENT
    )
    assert engine.shared_secret(enroll) == PASSWORD.encode()


def _vendor(now):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = name("Vendor Root")
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _device_cert(vendor_key, vendor_cert, now, cn="SN12345"):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(vendor_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(vendor_key, hashes.SHA256())
    )
    return key, cert


def test_identify_signers(issued, ec_root):
    from cryptography.hazmat.primitives import serialization

    now = timezone.now()
    # Our own certificate: it speaks for its enrollment, an ir included (RFC 9483, 4.1.1).
    signer = engine.identify_signer(issued.certificate, (), Operation.RENEW)
    assert (signer.credential, signer.certificate, signer.ca) == (
        Credential.ISSUED_CERTIFICATE,
        issued,
        ec_root,
    )
    assert engine.identify_signer(issued.certificate, (), Operation.ENROLL).certificate == issued
    # A vendor certificate: only through a trusted CA that a device enrollment names.
    vendor_key, vendor_cert = _vendor(now)
    _key, device = _device_cert(vendor_key, vendor_cert, now)
    assert refused(lambda: engine.identify_signer(device, (), Operation.ENROLL)).reason == (
        Reason.SIGNER_NOT_TRUSTED
    )
    trusted = services.import_ca(
        name="vendor",
        certificate_data=vendor_cert.public_bytes(serialization.Encoding.PEM),
        trusted=True,
    )
    assert refused(lambda: engine.identify_signer(device, (), Operation.ENROLL)).reason == (
        Reason.NO_DEVICE_ENROLLMENT
    )
    services.create_enrollment(
        reference="devices", password="", ca=ec_root, type="device", trusted_ca=trusted
    )
    signer = engine.identify_signer(device, (), Operation.ENROLL)
    assert (signer.credential, signer.anchor, [e.reference for e in signer.enrollments]) == (
        Credential.DEVICE_CERTIFICATE,
        trusted,
        ["devices"],
    )
    # RFC 9483, 4.1.2-4.2: a certificate of another PKI signs no cr, kur or rr
    assert refused(lambda: engine.identify_signer(device, (), Operation.REVOKE)).reason == (
        Reason.SIGNER_NOT_ALLOWED
    )
    decision = engine.request_certificate(
        request(
            None,
            ec.generate_private_key(ec.SECP256R1()),
            credential=Credential.DEVICE_CERTIFICATE,
            signer=signer,
            subject=name("SN12345"),
        )
    )
    assert decision.enrollment.reference == "devices"


# --- challenge-password enrollments (SCEP) ---------------------------------------------------


@pytest.fixture
def scep(ec_root):
    regular = services.create_enrollment(
        reference="fgt-scep",
        password="regular-challenge",
        ca=ec_root,
        protocol="scep",
        subject="CN=fgt200.branch.example.net",
    )
    wildcard = services.create_enrollment(
        reference="branches",
        password="shared-challenge",
        ca=ec_root,
        protocol="scep",
        wildcard=True,
        subject_pattern="CN=*.branch.example.net",
        allowed_sans=["DNS:*.branch.example.net"],
    )
    return regular, wildcard


def test_regular_by_subject_then_wildcard_by_challenge(scep):
    regular, wildcard = scep
    assert (
        engine.find_by_challenge(
            name("fgt200.branch.example.net"), "regular-challenge", protocol="scep"
        )
        == regular
    )
    assert (
        engine.find_by_challenge(
            name("fw7.branch.example.net"), "shared-challenge", protocol="scep"
        )
        == wildcard
    )
    # The regular enrollment's subject with the shared challenge: the regular one decides.
    exc = refused(
        lambda: engine.find_by_challenge(
            name("fgt200.branch.example.net"), "shared-challenge", protocol="scep"
        )
    )
    assert (exc.reason, exc.message) == (
        Reason.WRONG_PASSWORD,
        'Wrong challenge password for enrollment fgt-scep ("CN=fgt200.branch.example.net").',
    )
    exc = refused(
        lambda: engine.find_by_challenge(
            name("fw7.elsewhere.net"), "shared-challenge", protocol="scep"
        )
    )
    assert exc.reason == Reason.SUBJECT_NOT_LISTED
    exc = refused(
        lambda: engine.find_by_challenge(name("fw7.branch.example.net"), "guess", protocol="scep")
    )
    assert exc.reason == Reason.ENROLLMENT_NOT_FOUND
    # CMP enrollments are not SCEP's.
    assert (
        refused(
            lambda: engine.find_by_challenge(name("fgt100f.local"), PASSWORD, protocol="scep")
        ).reason
        == Reason.ENROLLMENT_NOT_FOUND
    )


def test_wildcard_san_and_subject_patterns(scep, ec_key):
    _regular, wildcard = scep
    ok = engine.request_certificate(
        request(
            wildcard,
            ec_key,
            protocol="scep",
            subject=name("fw7.branch.example.net"),
            sans=(x509.DNSName("fw7.branch.example.net"),),
        )
    )
    assert ok.certificate.sans == ["DNS:fw7.branch.example.net"]
    services.update_enrollment(wildcard, allow_reenrollment=True)
    for sans in ((x509.DNSName("a.b.branch.example.net"),), (x509.DNSName("branch.example.net"),)):
        exc = refused(
            lambda sans=sans: engine.request_certificate(
                request(
                    wildcard,
                    ec_key,
                    protocol="scep",
                    subject=name("fw8.branch.example.net"),
                    sans=sans,
                )
            )
        )
        assert exc.reason == Reason.SAN_NOT_ALLOWED
    exc = refused(
        lambda: engine.request_certificate(
            request(wildcard, ec_key, protocol="scep", subject=name("fw8.elsewhere.net"))
        )
    )
    assert exc.reason == Reason.SUBJECT_MISMATCH


def test_scep_enrollment_rules(ec_root):
    with pytest.raises(services.InvalidInput) as exc:
        services.create_enrollment(reference="x", password="pw", ca=ec_root, protocol="scep")
    assert exc.value.field == "subject"
    with pytest.raises(services.InvalidInput) as exc:
        services.create_enrollment(reference="x", password="pw", ca=ec_root, wildcard=True)
    assert str(exc.value) == "Wildcard enrollments are SCEP enrollments."
    with pytest.raises(services.InvalidInput) as exc:
        services.create_enrollment(
            reference="x",
            password="pw",
            ca=ec_root,
            protocol="scep",
            wildcard=True,
            subject_pattern="not a dn",
        )
    assert exc.value.field == "subject_pattern"


def test_reset_allows_one_fresh_enrollment(enroll, ec_key):
    first = engine.request_certificate(
        request(enroll, ec_key, needs_confirmation=False)
    ).certificate
    assert refused(lambda: engine.request_certificate(request(enroll, ec_key))).reason == (
        Reason.ALREADY_ENROLLED
    )
    services.reset_enrollment(enroll, actor=services.Actor(user="admin"))
    assert messages()[-1] == (
        "CMP enrollment request 'fgt100f' was reset: its next request enrolls afresh"
    )
    enroll.refresh_from_db()
    second = engine.request_certificate(
        request(enroll, ec_key, needs_confirmation=False)
    ).certificate
    first.refresh_from_db()
    assert (first.status, first.revocation_reason) == ("revoked", "superseded")
    assert active(enroll) == [second]
    enroll.refresh_from_db()
    assert not enroll.reenroll_once
    assert refused(lambda: engine.request_certificate(request(enroll, ec_key))).reason == (
        Reason.ALREADY_ENROLLED
    )


def test_sweep_revokes_in_bulk_and_signs_each_crl_once(
    ec_root, ec_key, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(30):
        services.issue_certificate(
            ca=ec_root,
            subject=name(f"late-{i}"),
            public_key=ec_key.public_key(),
            status=Certificate.Status.PENDING,
        )
    Certificate.objects.update(created=timezone.now() - dt.timedelta(hours=1))
    ec_root.refresh_from_db()
    crl_number = ec_root.crl_number
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        CaptureQueriesContext(connection) as queries,
    ):
        revoked = engine.sweep_unconfirmed(wait_seconds=300)
    assert len(callbacks) == 1  # one CRL refresh for the CA
    assert len(revoked) == 30
    assert Certificate.objects.filter(status="revoked").count() == 30
    ec_root.refresh_from_db()
    assert ec_root.crl_number == crl_number + 1  # one CRL for the thirty
    assert len(x509.load_der_x509_crl(bytes(ec_root.crl_der))) == 30
    assert len([m for m in messages() if "did not confirm it in time" in m]) == 30
    # The sweep's own queries do not grow with the number of certificates.
    sweep_queries = [
        q
        for q in queries.captured_queries
        if q["sql"].startswith(("SELECT", "UPDATE"))
        and '"certauth_certificate"' in q["sql"].split(" WHERE ")[0]
    ]
    assert len(sweep_queries) == 2  # the locked read and the update


# --- conformance rules (RFC 9483, RFC 9810) --------------------------------------------------


def test_an_issued_certificate_signs_requests_where_its_enrollment_accepts_them(
    issued, enroll, ec_key
):
    """RFC 9483, 4.1.1: an ir signed by a certificate we issued; the switch is per enrollment."""
    enroll = services.update_enrollment(enroll, accept_issued_signer=False)
    issued.refresh_from_db()
    for operation in (Operation.ENROLL, Operation.REQUEST):
        exc = refused(lambda op=operation: engine.identify_signer(issued.certificate, (), op))
        assert exc.reason == Reason.SIGNER_NOT_ALLOWED
        assert exc.message == (
            "Enrollment fgt100f does not accept requests signed by certificates it issued; "
            "use the enrollment password."
        )
    # renewal and revocation stay: they are the certificate's own
    assert engine.identify_signer(issued.certificate, (), Operation.RENEW).certificate == issued
    services.update_enrollment(enroll, accept_issued_signer=True)
    issued.refresh_from_db()
    signer = engine.identify_signer(issued.certificate, (), Operation.ENROLL)
    decision = engine.request_certificate(
        request(None, ec_key, credential=Credential.ISSUED_CERTIFICATE, signer=signer)
    )
    # the certificate's own enrollment governs the new certificate
    assert decision.enrollment == enroll and decision.certificate.replaces == issued


def test_a_certificate_whose_replacement_awaits_confirmation_signs_nothing_new(issued):
    new_key = ec.generate_private_key(ec.SECP256R1())
    kup = engine.request_certificate(renewal(issued, new_key)).certificate
    for operation in (Operation.ENROLL, Operation.REQUEST, Operation.RENEW, Operation.REVOKE):
        exc = refused(lambda op=operation: engine.identify_signer(issued.certificate, (), op))
        assert exc.reason == Reason.RENEWAL_PENDING
    # the certConf of the update, signed by the old certificate, goes on
    engine.identify_signer(issued.certificate, (), Operation.CONTINUE)
    engine.confirm_certificate(kup, revoke_replaced=True)
    # RFC 9483, 4.1.3: an updated certificate revoked as superseded answers certRevoked
    exc = refused(lambda: engine.identify_signer(issued.certificate, (), Operation.ENROLL))
    assert exc.reason == Reason.CERT_REVOKED


def test_a_superseded_certificate_signs_nothing(issued):
    kup = engine.request_certificate(
        renewal(issued, ec.generate_private_key(ec.SECP256R1()))
    ).certificate
    engine.confirm_certificate(kup, revoke_replaced=False)
    exc = refused(lambda: engine.identify_signer(issued.certificate, (), Operation.REQUEST))
    assert exc.reason == Reason.ALREADY_RENEWED


def _extension(value, critical=False) -> x509.Extension:
    return x509.Extension(value.oid, critical, value)


def _key_usage(**set_bits) -> x509.KeyUsage:
    bits = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    bits.update(set_bits)
    return x509.KeyUsage(**bits)


@pytest.mark.parametrize(
    ("extension", "text"),
    [
        (
            _extension(x509.BasicConstraints(ca=True, path_length=None), True),
            "basicConstraints cA=TRUE: this enrollment issues end-entity certificates.",
        ),
        (
            _extension(_key_usage(digital_signature=True, key_cert_sign=True), True),
            "keyUsage keyCertSign: this enrollment issues end-entity certificates.",
        ),
        (
            x509.Extension(
                x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"),
                True,
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"
                ),
            ),
            "The critical extension 1.3.6.1.4.1.99999.1 cannot be granted.",
        ),
    ],
)
def test_extensions_an_end_entity_enrollment_cannot_grant(enroll, ec_key, extension, text):
    exc = refused(
        lambda: engine.request_certificate(request(enroll, ec_key, extensions=(extension,)))
    )
    assert (exc.reason, exc.message) == (Reason.INVALID_REQUEST, text)
    assert not Certificate.objects.exists()


def test_what_the_profile_changes_is_told(enroll, rsa_key):
    """RFC 9810, 5.2.3: the engine says what differs from the request (grantedWithMods)."""
    as_granted = (
        _extension(_key_usage(digital_signature=True, key_encipherment=True), True),
        _extension(x509.BasicConstraints(ca=False, path_length=None), True),
    )
    decision = engine.request_certificate(request(enroll, rsa_key, extensions=as_granted))
    assert decision.modified == ()
    services.update_enrollment(enroll, allow_reenrollment=True)
    now = timezone.now()
    asked = (
        _extension(_key_usage(digital_signature=True, content_commitment=True), True),
        _extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CODE_SIGNING])),
    )
    decision = engine.request_certificate(
        request(enroll, rsa_key, extensions=asked, not_after=now + dt.timedelta(days=1000))
    )
    cert = decision.certificate.certificate
    assert decision.modified == (
        "keyUsage as the enrollment's profile sets it",
        "extendedKeyUsage not granted",
        f"validity shortened to {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC",
    )


def test_revive_a_certificate_on_hold(issued, enroll, ec_root):
    """RFC 9810, 5.3.9: removeFromCRL; with the password where the enrollment allows it."""
    enroll = services.update_enrollment(enroll, allow_mac_kur=True)
    by_password = {
        "issuer": ec_root.certificate.subject,
        "serial_number": issued.serial_number,
        "credential": Credential.PASSWORD,
        "enrollment": enroll,
    }
    exc = refused(lambda: engine.revoke_certificate(reason="removeFromCRL", **by_password))
    assert exc.reason == Reason.CERT_UNKNOWN
    cert = engine.revoke_certificate(reason="certificateHold", **by_password)
    assert (cert.status, cert.revocation_reason) == ("revoked", "certificateHold")
    cert = engine.revoke_certificate(reason="removeFromCRL", **by_password)
    assert (cert.status, cert.revocation_reason) == ("active", "")
    # a hold may still become a revocation for good, not the other way round
    engine.revoke_certificate(reason="certificateHold", **by_password)
    cert = engine.revoke_certificate(reason="keyCompromise", **by_password)
    assert cert.revocation_reason == "keyCompromise"
    exc = refused(lambda: engine.revoke_certificate(reason="removeFromCRL", **by_password))
    assert exc.reason == Reason.CERT_UNKNOWN


def test_revocation_names_the_certificate(issued, ec_root):
    """RFC 9483, 4.2: a subject, key or extension named must be the certificate's."""
    signer = engine.Signer(credential=Credential.ISSUED_CERTIFICATE, ca=ec_root, certificate=issued)
    fields = {
        "issuer": ec_root.certificate.subject,
        "serial_number": issued.serial_number,
        "reason": "keyCompromise",
        "credential": Credential.ISSUED_CERTIFICATE,
        "signer": signer,
    }
    other_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    for named in (
        {"subject": name("someone")},
        {"public_key": other_key},
        {
            "extensions": (
                _extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CODE_SIGNING])),
            )
        },
    ):
        exc = refused(lambda named=named: engine.revoke_certificate(**fields, **named))
        assert exc.reason == Reason.INVALID_REQUEST
    cert = engine.revoke_certificate(
        **fields, subject=issued.certificate.subject, public_key=issued.certificate.public_key()
    )
    assert cert.status == "revoked"


def test_a_management_entity_revokes_for_others(issued, ec_root, ec_key):
    """RFC 9483, 5.3.2: the RA certificate a CA names revokes (and revives) its certificates."""
    ra_key = ec.generate_private_key(ec.SECP256R1())
    ra = services.issue_certificate(ca=ec_root, subject=name("RA"), public_key=ra_key.public_key())
    ec_root.management_entity_pem = ra.certificate_pem
    ec_root.save(update_fields=["management_entity_pem"])
    signer = engine.identify_signer(ra.certificate, (), Operation.REVOKE)
    assert (signer.credential, signer.ca) == (Credential.MANAGEMENT_ENTITY, ec_root)
    assert refused(lambda: engine.identify_signer(ra.certificate, (), Operation.ENROLL)).reason == (
        Reason.SIGNER_NOT_ALLOWED
    )
    fields = {
        "issuer": ec_root.certificate.subject,
        "serial_number": issued.serial_number,
        "credential": Credential.MANAGEMENT_ENTITY,
        "signer": signer,
    }
    assert engine.revoke_certificate(reason="certificateHold", **fields).status == "revoked"
    assert engine.revoke_certificate(reason="removeFromCRL", **fields).status == "active"
    other = services.create_ca(name="other.root", subject="CN=other.root", key_type="ec")
    stranger = engine.Signer(credential=Credential.MANAGEMENT_ENTITY, ca=other)
    exc = refused(
        lambda: engine.revoke_certificate(reason="keyCompromise", **{**fields, "signer": stranger})
    )
    assert exc.reason == Reason.NOT_CERTIFICATE_OWNER


@pytest.mark.parametrize(
    ("key_type", "expected"),
    [
        ("rsa", {"rsa_key_size": 2048, "ec_curve": None, "eddsa": None}),
        ("ec", {"rsa_key_size": None, "ec_curve": "secp256r1", "eddsa": None}),
        ("ed25519", {"rsa_key_size": None, "ec_curve": None, "eddsa": "ed25519"}),
    ],
)
def test_certificate_template_suggests_one_key_type(db, key_type, expected):
    """RFC 9483, 4.3.3: rsaKeyLen or algId, never both; the CA's own key type."""
    ca = services.create_ca(
        name=f"{key_type}.root", subject=f"CN={key_type} root", key_type=key_type
    )
    enrollment = services.create_enrollment(reference="t", password=PASSWORD, ca=ca)
    template = engine.certificate_template(enrollment)
    assert {k: getattr(template, k) for k in expected} == expected


def test_challenge_guessing_is_throttled(scep):
    from certauth import throttle

    subject = name("fgt200.branch.example.net")
    for _ in range(throttle.MAX_FAILURES):
        exc = refused(
            lambda: engine.find_by_challenge(
                subject, "guess", protocol="scep", source_ip="192.0.2.9"
            )
        )
        assert exc.reason == Reason.WRONG_PASSWORD
    # Locked: the right challenge is refused too, before it is compared.
    exc = refused(
        lambda: engine.find_by_challenge(
            subject, "regular-challenge", protocol="scep", source_ip="192.0.2.10"
        )
    )
    assert exc.reason == Reason.WRONG_PASSWORD
    assert exc.message.startswith('Too many failed attempts for "CN=fgt200.branch.example.net"')
    assert (
        "Too many failed attempts for source address 192.0.2.9: locked out for 60 s" in messages()
    )
    throttle.clear()
    assert engine.find_by_challenge(subject, "regular-challenge", protocol="scep") == scep[0]
