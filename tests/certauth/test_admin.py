"""The Django admin: every page renders, shows no secret, and changes go through the services."""

import base64

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from certauth import keystore, services
from certauth.models import Certificate, CertificateAuthority, Enrollment, LogEntry
from tests.certauth.conftest import assert_absent, key_forms, name, password_forms

pytestmark = pytest.mark.django_db

PASSWORD = "Admin-Enroll-Secret-913"
ADMIN_PASSWORD = "Admin-login-Pa55!"


@pytest.fixture
def admin_client(client, settings):
    # The manifest storage needs collectstatic; the pages need only their URLs.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Password hashing at full strength costs a second per login.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_user_model().objects.create_superuser("admin", "admin@example.com", ADMIN_PASSWORD)
    assert client.login(username="admin", password=ADMIN_PASSWORD)
    return client


@pytest.fixture
def objects(db, trusted_ca, ec_key):
    # An RSA root and an ECDSA intermediate: both kinds of key must stay hidden.
    root_ca = services.create_ca(name="fac.cz.root", subject="CN=fac.cz.root", key_type="rsa")
    sub = services.create_ca(
        name="fac.cz.sub", subject="CN=fac.cz.sub", key_type="ec", parent=root_ca
    )
    enrollment = services.create_enrollment(
        reference="fgt100f", password=PASSWORD, ca=sub, allowed_sans=["DNS:fgt100f.local"]
    )
    cert = services.issue_certificate(
        ca=sub, subject=name("fgt100f.local"), public_key=ec_key.public_key(), enrollment=enrollment
    )
    services.revoke_certificate(cert, reason="keyCompromise")
    secrets = password_forms(PASSWORD)
    for ca in (root_ca, sub):
        secrets += key_forms(keystore.private_key_for_export(ca))
        blob = bytes(ca.encrypted_key)
        secrets += [blob.hex().encode(), base64.b64encode(blob)[:40]]
    blob = bytes(enrollment.encrypted_password)
    secrets += [blob.hex().encode(), base64.b64encode(blob)[:24]]
    return {
        "certificateauthority": [root_ca, sub, trusted_ca],
        "certificate": [cert],
        "enrollment": [enrollment],
        "logentry": list(LogEntry.objects.all()),
        "secrets": secrets,
    }


@pytest.mark.parametrize("model", ["certificateauthority", "certificate", "enrollment", "logentry"])
def test_pages_render_without_secrets(admin_client, objects, model):
    pages = [reverse(f"admin:certauth_{model}_changelist")]
    pages += [reverse(f"admin:certauth_{model}_change", args=[obj.pk]) for obj in objects[model]]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_absent(response.content, objects["secrets"])
    assert admin_client.get(reverse("admin:index")).status_code == 200


def test_ca_page_shows_certificate_not_key(admin_client, objects):
    ca = objects["certificateauthority"][0]
    content = admin_client.get(
        reverse("admin:certauth_certificateauthority_change", args=[ca.pk])
    ).content
    assert ca.certificate_pem.splitlines()[1].encode() in content
    assert b"PRIVATE KEY" not in content
    assert b"encrypted_key" not in content


def test_enrollment_change_page_has_empty_password_field(admin_client, objects):
    e = objects["enrollment"][0]
    content = admin_client.get(
        reverse("admin:certauth_enrollment_change", args=[e.pk])
    ).content.decode()
    assert '<input type="password" name="password"' in content
    field = content.split('<input type="password" name="password"')[1].split(">")[0]
    assert "value=" not in field


def _form(ca, **overrides) -> dict:
    data = {
        "reference": "fgt-admin",
        "password": PASSWORD,
        "protocol": "cmp",
        "ca": ca.pk,
        "type": "regular",
        "method": "automatic",
        "kind": "service",
        "subject": "/C=CZ/CN=fgt-admin.local",
        "allowed_sans": '["DNS:fgt-admin.local", "IP:192.0.2.7"]',
        "key_usage": '["digitalSignature"]',
        "ext_key_usage": '["clientAuth"]',
        "validity_days": "90",
        "renewable_days": "0",
        "trusted_ca": "",
        "status": "approved",
        "enabled": "on",
    }
    data.update(overrides)
    return data


def test_add_enrollment_stores_encrypted_and_logs(admin_client, ec_root):
    response = admin_client.post(reverse("admin:certauth_enrollment_add"), _form(ec_root))
    assert response.status_code == 302, response.content.decode()[-3000:]
    e = Enrollment.objects.get(reference="fgt-admin")
    assert keystore.secret_for(e) == PASSWORD.encode()
    assert_absent(bytes(e.encrypted_password), password_forms(PASSWORD))
    assert (e.subject, e.allowed_sans, e.validity_days) == (
        "C=CZ, CN=fgt-admin.local",
        ["DNS:fgt-admin.local", "IP:192.0.2.7"],
        90,
    )
    entry = LogEntry.objects.order_by("id").last()
    assert (entry.message, entry.user, entry.source_ip, entry.log_type_id) == (
        "CMP enrollment request 'fgt-admin' was created",
        "admin",
        "127.0.0.1",
        30301,
    )


def test_change_enrollment_without_password_keeps_it(admin_client, ec_root):
    e = services.create_enrollment(reference="fgt-admin", password=PASSWORD, ca=ec_root)
    blob = bytes(e.encrypted_password)
    url = reverse("admin:certauth_enrollment_change", args=[e.pk])
    response = admin_client.post(url, _form(ec_root, password="", validity_days="30"))
    assert response.status_code == 302
    e.refresh_from_db()
    assert (bytes(e.encrypted_password), e.validity_days) == (blob, 30)
    assert (
        LogEntry.objects.order_by("id").last().message
        == "CMP enrollment request 'fgt-admin' was modified"
    )
    admin_client.post(url, _form(ec_root, password="changed-Pa55"))
    assert keystore.secret_for(Enrollment.objects.get(pk=e.pk)) == b"changed-Pa55"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"password": ""}, "The enrollment password must not be empty."),
        (
            {"allowed_sans": '["host.example.com"]'},
            "SAN &#x27;host.example.com&#x27; must be written as TYPE:value, e.g. DNS:host.example.com.",
        ),
        ({"key_usage": '["sign"]'}, "Unknown key usage sign: use digitalSignature"),
        (
            {"subject": "fgt-admin"},
            "Malformed DN &#x27;fgt-admin&#x27;: &#x27;fgt-admin&#x27; is not ATTRIBUTE=value.",
        ),
    ],
)
def test_add_enrollment_form_errors(admin_client, ec_root, overrides, error):
    response = admin_client.post(
        reverse("admin:certauth_enrollment_add"), _form(ec_root, **overrides)
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Enrollment.objects.exists()


def test_add_enrollment_duplicate_reference(admin_client, ec_root):
    services.create_enrollment(reference="fgt-admin", password=PASSWORD, ca=ec_root)
    response = admin_client.post(reverse("admin:certauth_enrollment_add"), _form(ec_root))
    assert response.status_code == 200
    assert "Enrollment request with this Enrollment ID already exists." in response.content.decode()
    assert Enrollment.objects.count() == 1


def test_add_enrollment_with_empty_json_fields(admin_client, ec_root):
    """Clearing a list field (e.g. extended key usage) means an empty list, not a server error."""
    response = admin_client.post(
        reverse("admin:certauth_enrollment_add"), _form(ec_root, ext_key_usage="", allowed_sans="")
    )
    assert response.status_code == 302
    e = Enrollment.objects.get()
    assert (e.ext_key_usage, e.allowed_sans) == ([], [])


def test_add_enrollment_with_non_list_json(admin_client, ec_root):
    response = admin_client.post(
        reverse("admin:certauth_enrollment_add"), _form(ec_root, key_usage="123")
    )
    assert response.status_code == 200
    assert not Enrollment.objects.exists()


def test_delete_enrollment_logs(admin_client, ec_root):
    e = services.create_enrollment(reference="fgt-admin", password=PASSWORD, ca=ec_root)
    response = admin_client.post(
        reverse("admin:certauth_enrollment_delete", args=[e.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Enrollment.objects.exists()
    entry = LogEntry.objects.order_by("id").last()
    assert (entry.message, entry.user) == (
        "CMP enrollment request 'fgt-admin' was deleted",
        "admin",
    )


def test_revoke_action_and_refused_ca_delete(admin_client, ec_root, ec_key):
    cert = services.issue_certificate(
        ca=ec_root, subject=name("host"), public_key=ec_key.public_key()
    )
    response = admin_client.post(
        reverse("admin:certauth_certificate_changelist"),
        {"action": "revoke_selected", "_selected_action": [cert.pk]},
    )
    assert response.status_code == 302
    cert.refresh_from_db()
    assert (cert.status, cert.revocation_reason) == ("revoked", "unspecified")
    entry = LogEntry.objects.order_by("id").last()
    assert (entry.message, entry.user) == (
        f'Certificate "CN=host" ({cert.serial_colons}) was revoked (reason: Unspecified)',
        "admin",
    )
    # The admin sees the protected certificate and refuses before asking the services.
    response = admin_client.post(
        reverse("admin:certauth_certificateauthority_delete", args=[ec_root.pk]), {"post": "yes"}
    )
    assert response.status_code == 200
    assert "<title>Cannot delete certificate authority" in response.content.decode()
    assert CertificateAuthority.objects.filter(pk=ec_root.pk).exists()
    assert Certificate.objects.filter(pk=cert.pk).exists()


def test_no_add_pages_for_cas_certificates_and_log(admin_client):
    for model in ("certificateauthority", "certificate", "logentry"):
        assert admin_client.get(reverse(f"admin:certauth_{model}_add")).status_code == 403


def test_rename_ca_through_the_service(admin_client, ec_root):
    other = services.create_ca(name="other.root", subject="CN=other.root", key_type="ec")
    url = reverse("admin:certauth_certificateauthority_change", args=[ec_root.pk])
    for bad, error in (
        ("has space", "Invalid certificate ID &#x27;has space&#x27;: 1-64 characters"),
        ("other.root", "A CA with certificate ID &#x27;other.root&#x27; already exists."),
    ):
        response = admin_client.post(url, {"name": bad})
        assert response.status_code == 200
        assert error in response.content.decode()
    ec_root.refresh_from_db()
    assert ec_root.name == "fac.cz.root"
    response = admin_client.post(url, {"name": "fac.cz.renamed"})
    assert response.status_code == 302
    ec_root.refresh_from_db()
    assert ec_root.name == "fac.cz.renamed"
    assert LogEntry.objects.order_by("-id").values_list("message", flat=True)[0] == (
        "CA certificate 'CN=fac.cz.root' was renamed from 'fac.cz.root' to 'fac.cz.renamed'"
    )
    assert other.name == "other.root"


def test_device_enrollment_without_trusted_ca_is_refused(admin_client, ec_root):
    response = admin_client.post(
        reverse("admin:certauth_enrollment_add"), _form(ec_root, type="device", password="")
    )
    assert response.status_code == 200
    assert "A device enrollment needs the trusted CA of its vendor." in response.content.decode()
    assert not Enrollment.objects.exists()
