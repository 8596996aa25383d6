"""CRLs page, dashboard, and what no page may contain."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.utils import timezone

from certauth import services
from certauth.models import Certificate, Enrollment, LogEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def ee_key():
    return ec.generate_private_key(ec.SECP256R1())


def issue(ca, key, cn: str, **kwargs) -> Certificate:
    return services.issue_certificate(
        ca=ca,
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]),
        public_key=key.public_key(),
        **kwargs,
    )


def test_crl_page_generate_download_regenerate(admin_client, root_ca, ee_key):
    page = admin_client.get("/ca/crls/").content.decode()
    assert "gui.root" in page and "none yet" in page
    # No CRL stored yet: GET does not sign one, it says so.
    response = admin_client.get(f"/ca/crls/{root_ca.pk}/pem/", follow=True)
    assert "no CRL yet" in response.content.decode()
    response = admin_client.post(f"/ca/crls/{root_ca.pk}/der/")
    crl = x509.load_der_x509_crl(response.content)
    assert crl.is_signature_valid(root_ca.certificate.public_key()) and len(crl) == 0
    cert = issue(root_ca, ee_key, "revoke.example.com")
    services.revoke_certificate(cert, reason="keyCompromise")
    response = admin_client.post(f"/ca/crls/{root_ca.pk}/regenerate/", follow=True)
    assert "1 revoked certificate" in response.content.decode()
    root_ca.refresh_from_db()
    pem = admin_client.get(f"/ca/crls/{root_ca.pk}/pem/")
    assert pem["Content-Disposition"] == 'attachment; filename="gui.root.crl.pem"'
    crl = x509.load_pem_x509_crl(pem.content)
    assert [r.serial_number for r in crl] == [cert.serial_number]
    assert (
        crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        == root_ca.crl_number
    )
    row = admin_client.get("/ca/crls/").context["cas"][0]
    assert row.revoked_count == 1


def test_crl_readonly(readonly_client, root_ca):
    assert b"/regenerate/" not in readonly_client.get("/ca/crls/").content
    assert readonly_client.post(f"/ca/crls/{root_ca.pk}/regenerate/").status_code == 403
    assert readonly_client.post(f"/ca/crls/{root_ca.pk}/pem/").status_code == 403
    services.generate_crl(root_ca)
    assert readonly_client.get(f"/ca/crls/{root_ca.pk}/der/").status_code == 200


def test_dashboard(admin_client, root_ca, ee_key):
    issue(root_ca, ee_key, "today.example.com")
    old = issue(root_ca, ee_key, "old.example.com")
    Certificate.objects.filter(pk=old.pk).update(created=timezone.now() - dt.timedelta(days=3))
    issue(root_ca, ee_key, "pending.example.com", status=Certificate.Status.PENDING)
    services.create_enrollment(
        reference="fgt-waiting",
        password="enroll-Secret-42",
        ca=root_ca,
        status=Enrollment.Status.PENDING,
    )
    LogEntry.objects.log("CMP request from 192.0.2.9 failed: badPOP", level="error")
    response = admin_client.get("/")
    content = response.content.decode()
    assert "gui.root" in content
    chart = response.context["chart"]
    assert chart["total"] == 3 and len(chart["bars"]) == 30
    assert chart["bars"][-1]["count"] == 2 and chart["bars"][-4]["count"] == 1
    assert "<svg" in content and "<rect" in content
    assert "fgt-waiting" in content and "CN=pending.example.com" in content
    assert "badPOP" in content
    # Secrets never reach a page.
    assert "enroll-Secret-42" not in content


def test_no_secret_in_any_page(admin_client, root_ca, ee_key):
    """No private key or enrollment password in the source of any part-A page."""
    sub = services.create_ca(name="gui.sub", subject="CN=Sub", key_type="rsa", parent=root_ca)
    cert = issue(sub, ee_key, "page.example.com")
    services.create_enrollment(reference="secret-holder", password="enroll-Secret-42", ca=sub)
    services.generate_crl(sub)
    pages = [
        "/",
        "/cert/users/",
        "/cert/services/",
        "/cert/services/new/",
        f"/cert/{cert.pk}/",
        "/ca/local/",
        "/ca/local/new/",
        "/ca/local/import/",
        "/ca/trusted/",
        "/ca/trusted/import/",
        f"/ca/{root_ca.pk}/",
        f"/ca/{sub.pk}/",
        f"/ca/{sub.pk}/export/pkcs12/",
        "/ca/crls/",
    ]
    for path in pages:
        response = admin_client.get(path)
        assert response.status_code == 200, path
        content = response.content.decode()
        assert "PRIVATE KEY" not in content, path
        assert "enroll-Secret-42" not in content, path
        assert "csrfmiddlewaretoken" in content or "<form" not in content, path


def test_every_page_needs_staff(client, root_ca):
    for path in (
        "/",
        "/cert/users/",
        "/cert/services/",
        "/ca/local/",
        "/ca/trusted/",
        "/ca/crls/",
        f"/ca/{root_ca.pk}/",
        f"/ca/{root_ca.pk}/export/pem/",
    ):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), path
