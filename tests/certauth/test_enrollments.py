"""CMP enrollments: creation, validation, write-only password, update, deletion."""

import pytest

from certauth import keystore, services
from certauth.models import Certificate, Enrollment
from certauth.x509 import InvalidInput
from tests.certauth.conftest import messages, name

pytestmark = pytest.mark.django_db

PASSWORD = "Fgt-enroll-Pa55word!"


@pytest.fixture
def enrollment(ec_root) -> Enrollment:
    return services.create_enrollment(reference="fgt100f", password=PASSWORD, ca=ec_root)


def test_create_with_all_fields(ec_root, trusted_ca):
    e = services.create_enrollment(
        reference="  fgt100f ",
        password=PASSWORD,
        ca=ec_root,
        subject="/C=CZ/O=Example/CN=fgt100f.local",
        key_usage=["digitalSignature", "keyAgreement"],
        ext_key_usage=["clientAuth", "ipsecIKE"],
        allowed_sans=["dns:FGT100F.example.com", " IP:192.0.2.1", "email:noc@example.com"],
        validity_days=730,
        renewable_days=30,
        type="device",
        method="manual",
        kind="device",
        allow_reenrollment=True,
        allow_mac_kur=True,
        trusted_ca=trusted_ca,
        status="pending",
        enabled=False,
    )
    e.refresh_from_db()
    assert e.reference == "fgt100f"
    # Stored the way the logs print them.
    assert e.subject == "C=CZ, O=Example, CN=fgt100f.local"
    assert e.allowed_sans == ["DNS:fgt100f.example.com", "IP:192.0.2.1", "email:noc@example.com"]
    assert (e.key_usage, e.ext_key_usage) == (
        ["digitalSignature", "keyAgreement"],
        ["clientAuth", "ipsecIKE"],
    )
    assert (e.validity_days, e.renewable_days, e.type, e.method, e.kind) == (
        730,
        30,
        "device",
        "manual",
        "device",
    )
    assert e.allow_reenrollment and e.allow_mac_kur and not e.enabled
    assert (e.trusted_ca, e.status) == (trusted_ca, "pending")
    assert keystore.secret_for(e) == PASSWORD.encode()
    assert not Enrollment.objects.usable().exists()
    assert messages()[-1] == "CMP enrollment request 'fgt100f' was created"


def test_defaults(enrollment):
    e = Enrollment.objects.get(pk=enrollment.pk)
    assert (e.type, e.method, e.kind, e.status, e.enabled) == (
        "regular",
        "automatic",
        "service",
        "approved",
        True,
    )
    assert e.key_usage == ["digitalSignature", "keyEncipherment"]
    assert (e.ext_key_usage, e.allowed_sans, e.subject, e.validity_days) == ([], [], "", 365)
    assert list(Enrollment.objects.usable()) == [e]
    assert e.has_password
    assert bytes(e.encrypted_password) != PASSWORD.encode()
    assert PASSWORD.encode() not in bytes(e.encrypted_password)


def test_duplicate_reference(enrollment, ec_root):
    with pytest.raises(InvalidInput) as exc:
        services.create_enrollment(reference="fgt100f", password="other", ca=ec_root)
    assert str(exc.value) == "An enrollment with ID 'fgt100f' already exists."
    assert Enrollment.objects.count() == 1
    assert messages().count("CMP enrollment request 'fgt100f' was created") == 1
    # The transaction is still usable after the refused insert.
    services.create_enrollment(reference="fgt200f", password="other", ca=ec_root)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"reference": "has space"},
            "Invalid enrollment ID 'has space': 1-128 characters, no spaces.",
        ),
        ({"reference": ""}, "Invalid enrollment ID '': 1-128 characters, no spaces."),
        ({"password": ""}, "The enrollment password must not be empty."),
        ({"password": "x" * 257}, "The enrollment password is longer than 256 characters."),
        ({"type": "vip"}, "Unknown enrollment type 'vip': use regular or device."),
        (
            {"key_usage": ["digitalSignature", "signAll"]},
            "Unknown key usage signAll: use digitalSignature, nonRepudiation, keyEncipherment, "
            "dataEncipherment, keyAgreement, keyCertSign, cRLSign, encipherOnly, decipherOnly.",
        ),
        (
            {"key_usage": ["encipherOnly"]},
            "encipherOnly and decipherOnly need keyAgreement (RFC 5280 4.2.1.3).",
        ),
        (
            {"ext_key_usage": ["serverAuth", "vpn"]},
            "Unknown extended key usage vpn: use serverAuth, clientAuth, codeSigning, emailProtection, "
            "timeStamping, OCSPSigning, ipsecIKE.",
        ),
        ({"subject": "CN=fgt, O"}, "Malformed DN 'CN=fgt, O': 'O' is not ATTRIBUTE=value."),
        (
            {"subject": "fgt100f.local"},
            "Malformed DN 'fgt100f.local': 'fgt100f.local' is not ATTRIBUTE=value.",
        ),
        (
            {"allowed_sans": ["host.example.com"]},
            "SAN 'host.example.com' must be written as TYPE:value, e.g. DNS:host.example.com.",
        ),
        (
            {"allowed_sans": ["DNS:ok.example.com", "IP:192.0.2.256"]},
            "SAN 'IP:192.0.2.256' is not a valid IP address.",
        ),
        (
            {"allowed_sans": ["IP:fw.example.com"]},
            "SAN 'IP:fw.example.com' is not a valid IP address.",
        ),
        ({"validity_days": 0}, "Certificate validity must be between 1 and 36500 days."),
        ({"renewable_days": -1}, "Renewable before expiry must be 0 or more days."),
    ],
)
def test_create_refusals(ec_root, kwargs, message):
    args = {"reference": "fgt100f", "password": PASSWORD, "ca": ec_root, **kwargs}
    with pytest.raises(InvalidInput) as exc:
        services.create_enrollment(**args)
    assert str(exc.value) == message
    assert not Enrollment.objects.exists()
    assert not any("CMP enrollment" in m for m in messages())


def test_signing_ca_must_have_a_key(trusted_ca):
    with pytest.raises(InvalidInput) as exc:
        services.create_enrollment(reference="fgt", password=PASSWORD, ca=trusted_ca)
    assert str(exc.value) == "CA vendor.root is not a local CA with a private key."


def test_device_enrollment_without_password(ec_root, trusted_ca):
    e = services.create_enrollment(
        reference="dev", password="", ca=ec_root, type="device", trusted_ca=trusted_ca
    )
    assert not e.has_password and e.encrypted_password is None
    with pytest.raises(keystore.KeystoreError) as exc:
        keystore.secret_for(e)
    assert str(exc.value) == "Enrollment dev has no password."


def test_update_without_password_keeps_it(enrollment):
    blob = bytes(Enrollment.objects.get(pk=enrollment.pk).encrypted_password)
    services.update_enrollment(
        enrollment,
        subject="CN=fgt100f.local",
        allowed_sans=["DNS:fgt100f.local"],
        validity_days=90,
        ext_key_usage=["serverAuth"],
    )
    e = Enrollment.objects.get(pk=enrollment.pk)
    assert bytes(e.encrypted_password) == blob
    assert keystore.secret_for(e) == PASSWORD.encode()
    assert (e.subject, e.allowed_sans, e.validity_days, e.ext_key_usage) == (
        "CN=fgt100f.local",
        ["DNS:fgt100f.local"],
        90,
        ["serverAuth"],
    )
    assert messages()[-1] == "CMP enrollment request 'fgt100f' was modified"


def test_update_password(enrollment):
    services.update_enrollment(enrollment, password="new-Pa55")
    assert keystore.secret_for(Enrollment.objects.get(pk=enrollment.pk)) == b"new-Pa55"
    with pytest.raises(InvalidInput) as exc:
        services.update_enrollment(enrollment, password="")
    assert str(exc.value) == "The enrollment password must not be empty."
    assert keystore.secret_for(Enrollment.objects.get(pk=enrollment.pk)) == b"new-Pa55"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reference": "renamed"}, "Cannot change reference."),
        (
            {"encrypted_password": b"x", "reference": "y"},
            "Cannot change encrypted_password, reference.",
        ),
        (
            {"allowed_sans": ["fw.example.com"]},
            "SAN 'fw.example.com' must be written as TYPE:value, e.g. DNS:host.example.com.",
        ),
        ({"key_usage": ["everything"]}, None),
        ({"subject": "CN"}, "Malformed DN 'CN': 'CN' is not ATTRIBUTE=value."),
    ],
)
def test_update_refusals(enrollment, changes, message):
    before = messages()
    with pytest.raises(InvalidInput) as exc:
        services.update_enrollment(enrollment, **changes)
    if message:
        assert str(exc.value) == message
    e = Enrollment.objects.get(pk=enrollment.pk)
    assert (e.reference, e.allowed_sans, e.key_usage, e.subject) == (
        "fgt100f",
        [],
        ["digitalSignature", "keyEncipherment"],
        "",
    )
    assert messages() == before


def test_delete_keeps_issued_certificates(enrollment, ec_root, ec_key):
    cert = services.issue_certificate(
        ca=ec_root,
        subject=name("fgt100f.local"),
        public_key=ec_key.public_key(),
        enrollment=enrollment,
    )
    assert list(enrollment.certificates.current()) == [cert]
    services.delete_enrollment(enrollment)
    assert not Enrollment.objects.exists()
    cert.refresh_from_db()
    assert cert.enrollment is None and cert.status == Certificate.Status.ACTIVE
    assert messages()[-1] == "CMP enrollment request 'fgt100f' was deleted"


# --- update_enrollment applies create_enrollment's rules -----------------------------------


def test_update_to_regular_needs_a_password(ec_root, trusted_ca):
    e = services.create_enrollment(
        reference="dev", password="", ca=ec_root, type="device", trusted_ca=trusted_ca
    )
    with pytest.raises(InvalidInput) as exc:
        services.update_enrollment(e, type="regular")
    assert str(exc.value) == "The enrollment password must not be empty."


def test_update_refuses_unknown_type(enrollment):
    with pytest.raises(InvalidInput) as exc:
        services.update_enrollment(enrollment, type="vip")
    assert str(exc.value) == "Unknown enrollment type 'vip': use regular or device."


def test_update_refuses_negative_renewable_days(enrollment):
    with pytest.raises(InvalidInput) as exc:
        services.update_enrollment(enrollment, renewable_days=-1)
    assert str(exc.value) == "Renewable before expiry must be 0 or more days."


@pytest.mark.parametrize("field", ["method", "kind", "status"])
def test_create_refuses_unknown_choices(ec_root, field):
    with pytest.raises(InvalidInput):
        services.create_enrollment(
            reference="fgt", password=PASSWORD, ca=ec_root, **{field: "bogus"}
        )
