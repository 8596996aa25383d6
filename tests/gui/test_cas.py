"""Local and trusted CAs through the GUI: create, import, detail, export, revoke, delete."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from certauth import services
from certauth.models import CertificateAuthority, LogEntry

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "certauth"


def upload(name: str, data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data if data is not None else (FIXTURES / name).read_bytes())


def create_data(**changes) -> dict:
    data = {
        "name": "fac.test.root",
        "ca_type": "root",
        "parent": "",
        "common_name": "Test Root CA",
        "organization": "Example, Inc.",
        "organizational_unit": "PKI",
        "locality": "Prague",
        "state": "",
        "country": "CZ",
        "email": "pki@example.com",
        "key": "ec-p256",
        "hash_name": "sha256",
        "validity_days": "3650",
    }
    data.update(changes)
    return data


def test_local_ca_list_and_create_page(admin_client, root_ca):
    response = admin_client.get("/ca/local/")
    assert response.status_code == 200
    assert b"gui.root" in response.content
    assert b"Create New" in response.content
    assert admin_client.get("/ca/local/new/").status_code == 200


def test_create_root_and_intermediate(admin_client):
    response = admin_client.post("/ca/local/new/", create_data())
    root = CertificateAuthority.objects.get(name="fac.test.root")
    assert response.status_code == 302 and response["Location"] == f"/ca/{root.pk}/"
    # The comma in O is escaped, not a new attribute.
    assert root.subject == (
        "C=CZ, L=Prague, O=Example\\, Inc., OU=PKI, CN=Test Root CA, emailAddress=pki@example.com"
    )
    assert root.key_type == "ec" and root.is_root
    response = admin_client.post(
        "/ca/local/new/",
        create_data(
            name="fac.test.sub",
            ca_type="intermediate",
            parent=str(root.pk),
            common_name="Sub CA",
            key="rsa-2048",
            hash_name="sha384",
            validity_days="100",
        ),
    )
    sub = CertificateAuthority.objects.get(name="fac.test.sub")
    assert response.status_code == 302
    assert sub.parent == root and not sub.is_root
    assert (sub.key_type, sub.key_size, sub.hash_algorithm) == ("rsa", 2048, "sha384")
    assert LogEntry.objects.filter(user="admin", message__contains="Sub CA").exists()


def test_create_form_errors(admin_client, root_ca):
    response = admin_client.post(
        "/ca/local/new/", create_data(ca_type="intermediate", country="CZE")
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "parent" in form.errors and "country" in form.errors
    # A rule of the service (unique certificate ID) comes back as a form error, not a 500.
    response = admin_client.post("/ca/local/new/", create_data(name="gui.root"))
    assert response.status_code == 200
    assert "already exists" in str(response.context["form"].non_field_errors())


def test_import_pkcs12_and_pem(admin_client):
    response = admin_client.post(
        "/ca/local/import/",
        {
            "name": "imported.p12",
            "import_type": "pkcs12",
            "pkcs12_file": upload("openssl-root.p12"),
            "passphrase": "fixture-passphrase",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    response = admin_client.post(
        "/ca/local/import/",
        {
            "name": "imported.pem",
            "import_type": "pem",
            "certificate_file": upload("openssl-ec-root.pem"),
            "key_file": upload("openssl-ec-root.key"),
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    assert set(CertificateAuthority.objects.values_list("name", flat=True)) == {
        "imported.p12",
        "imported.pem",
    }


def test_import_errors_are_form_errors(admin_client):
    response = admin_client.post(
        "/ca/local/import/",
        {
            "name": "bad.p12",
            "import_type": "pkcs12",
            "pkcs12_file": upload("openssl-root.p12"),
            "passphrase": "wrong",
        },
    )
    assert response.status_code == 200
    assert "wrong passphrase" in str(response.context["form"].non_field_errors())
    response = admin_client.post("/ca/local/import/", {"name": "x", "import_type": "pem"})
    assert set(response.context["form"].errors) == {"certificate_file", "key_file"}


def test_trusted_ca_import_list_detail_delete(admin_client):
    response = admin_client.post(
        "/ca/trusted/import/",
        {
            "name": "vendor",
            "certificate_file": upload("vendor-root.der"),
        },
    )
    assert response.status_code == 302
    ca = CertificateAuthority.objects.get(name="vendor")
    assert ca.kind == "trusted" and not ca.has_key
    assert b"vendor" in admin_client.get("/ca/trusted/").content
    assert b"vendor" not in admin_client.get("/ca/local/").content
    detail = admin_client.get(f"/ca/{ca.pk}/")
    assert b"Export Key and Cert" not in detail.content
    assert admin_client.get(f"/ca/{ca.pk}/export/pem/").status_code == 200
    response = admin_client.post(f"/ca/{ca.pk}/delete/")
    assert response["Location"] == "/ca/trusted/"
    assert not CertificateAuthority.objects.filter(pk=ca.pk).exists()


def test_detail_shows_decoded_certificate(admin_client, root_ca):
    content = admin_client.get(f"/ca/{root_ca.pk}/").content.decode()
    assert root_ca.serial_colons in content
    assert "SHA-256 fingerprint" in content
    for extension in (
        "Basic Constraints",
        "Key Usage",
        "Subject Key Identifier",
        "Authority Key Identifier",
        "Certificate Sign",
        "CA: TRUE",
    ):
        assert extension in content
    assert "Export Key and Cert" in content


def test_export_pem_der_and_pkcs12(admin_client, root_ca):
    pem = admin_client.get(f"/ca/{root_ca.pk}/export/pem/")
    assert pem["Content-Disposition"] == 'attachment; filename="gui.root.pem"'
    assert (
        x509.load_pem_x509_certificate(pem.content).serial_number
        == root_ca.certificate.serial_number
    )
    der = admin_client.get(f"/ca/{root_ca.pk}/export/der/")
    assert x509.load_der_x509_certificate(der.content) == root_ca.certificate
    assert admin_client.get(f"/ca/{root_ca.pk}/export/pkcs12/").status_code == 200
    mismatch = admin_client.post(
        f"/ca/{root_ca.pk}/export/pkcs12/",
        {
            "passphrase": "one",
            "passphrase_again": "two",
        },
    )
    assert mismatch.status_code == 200 and "passphrase_again" in mismatch.context["form"].errors
    response = admin_client.post(
        f"/ca/{root_ca.pk}/export/pkcs12/",
        {
            "passphrase": "export-pass",
            "passphrase_again": "export-pass",
        },
    )
    # POST-redirect-GET: the result page's link downloads the PKCS#12 (tests/gui/test_h_*).
    assert response["Location"].startswith(f"/ca/{root_ca.pk}/exported/")
    response = admin_client.get(f"{response['Location']}download/")
    assert response["Content-Type"] == "application/x-pkcs12"
    key, cert, _ = pkcs12.load_key_and_certificates(response.content, b"export-pass")
    assert cert == root_ca.certificate and key is not None


def test_revoke_and_delete_rules(admin_client, root_ca):
    sub = services.create_ca(name="gui.sub", subject="CN=Sub", key_type="ec", parent=root_ca)
    # The root signed the sub CA: the service refuses, the page says why.
    response = admin_client.post(f"/ca/{root_ca.pk}/delete/", follow=True)
    assert "has signed other CAs" in response.content.decode()
    assert CertificateAuthority.objects.filter(pk=root_ca.pk).exists()
    response = admin_client.post(f"/ca/{sub.pk}/revoke/", {"reason": "cACompromise"}, follow=True)
    sub.refresh_from_db()
    assert sub.revoked_at and sub.revocation_reason == "cACompromise"
    assert "was revoked" in response.content.decode()
    response = admin_client.post(f"/ca/{sub.pk}/revoke/", {"reason": "cACompromise"}, follow=True)
    assert "already revoked" in response.content.decode()


def test_bulk_export_and_delete(admin_client, root_ca):
    other = services.create_ca(name="gui.other", subject="CN=Other", key_type="ec")
    response = admin_client.post(
        "/ca/local/bulk/", {"action": "export", "selected": [root_ca.pk, other.pk]}
    )
    assert response.content.count(b"BEGIN CERTIFICATE") == 2
    response = admin_client.post(
        "/ca/local/bulk/", {"action": "export-pkcs12", "selected": [other.pk]}
    )
    assert response["Location"] == f"/ca/{other.pk}/export/pkcs12/"
    response = admin_client.post(
        "/ca/local/bulk/",
        {"action": "export-pkcs12", "selected": [root_ca.pk, other.pk]},
        follow=True,
    )
    assert "Select one CA that has a private key" in response.content.decode()
    response = admin_client.post("/ca/local/bulk/", {"action": "revoke", "selected": [other.pk]})
    assert response.status_code == 200 and b'name="reason"' in response.content
    admin_client.post("/ca/local/bulk/", {"action": "delete", "selected": [other.pk]})
    assert not CertificateAuthority.objects.filter(pk=other.pk).exists()


def test_ca_status_filter_and_search(admin_client, root_ca):
    revoked = services.create_ca(name="gui.revoked", subject="CN=Gone", key_type="ec")
    services.revoke_ca(revoked)
    default = admin_client.get("/ca/local/").content
    assert b"gui.root" in default and b"gui.revoked" not in default
    only_revoked = admin_client.get("/ca/local/?status=revoked").content
    assert b"gui.revoked" in only_revoked and b'gui.root"' not in only_revoked
    found = admin_client.get("/ca/local/?status=all&q=gone").content
    assert b"gui.revoked" in found and b">gui.root<" not in found


def test_readonly_sees_but_cannot_change(readonly_client, root_ca):
    content = readonly_client.get("/ca/local/").content
    assert b"gui.root" in content and b"Create New" not in content
    assert b"Export Key and Cert" not in readonly_client.get(f"/ca/{root_ca.pk}/").content
    assert readonly_client.get("/ca/local/new/").status_code == 403
    for path, data in [
        ("/ca/local/new/", create_data(name="ro")),
        (f"/ca/{root_ca.pk}/revoke/", {"reason": "unspecified"}),
        (f"/ca/{root_ca.pk}/delete/", {}),
        (f"/ca/{root_ca.pk}/export/pkcs12/", {"passphrase": "x", "passphrase_again": "x"}),
        ("/ca/local/bulk/", {"action": "delete", "selected": [root_ca.pk]}),
        ("/ca/trusted/import/", {"name": "x"}),
    ]:
        assert readonly_client.post(path, data).status_code == 403, path
    root_ca.refresh_from_db()
    assert root_ca.revoked_at is None
    # Exporting the certificate (not the key) is reading.
    assert readonly_client.get(f"/ca/{root_ca.pk}/export/pem/").status_code == 200


def test_csrf_enforced_on_actions(admin_user, root_ca):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(f"/ca/{root_ca.pk}/delete/").status_code == 403
    assert CertificateAuthority.objects.filter(pk=root_ca.pk).exists()


def test_changes_are_not_gets(admin_client, root_ca):
    for path in (f"/ca/{root_ca.pk}/delete/", f"/ca/{root_ca.pk}/revoke/", "/ca/local/bulk/"):
        assert admin_client.get(path).status_code == 405, path
