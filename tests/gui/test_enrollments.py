"""CMP > Enrollment Requests: list, create, edit, approve, reject, delete, write-only password."""

from __future__ import annotations

import pytest

from certauth import keystore, services
from certauth.models import Enrollment, LogEntry

pytestmark = pytest.mark.django_db

SECRET = "Zebra-Quartz-9917-secret"


def form_data(ca, /, **overrides) -> dict:
    data = {
        "reference": "fgt100f",
        "password": SECRET,
        "ca": ca.pk,
        "subject": "CN=fgt100f.local",
        "allowed_sans": "DNS:fgt100f.local\nIP:10.0.0.1",
        "key_usage": ["digitalSignature", "keyEncipherment"],
        "ext_key_usage": ["serverAuth", "clientAuth"],
        "validity_days": "365",
        "renewable_days": "30",
        "type": "regular",
        "method": "automatic",
        "kind": "device",
        "allow_reenrollment": "on",
        "enabled": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def enrollment(root_ca) -> Enrollment:
    return services.create_enrollment(
        reference="fw-existing",
        password=SECRET,
        ca=root_ca,
        subject="CN=fw-existing",
        allowed_sans=["DNS:fw.example.com"],
        renewable_days=14,
    )


def test_list_columns_and_rows(admin_client, enrollment):
    response = admin_client.get("/cmp/enrollments/")
    assert response.status_code == 200
    html = response.content.decode()
    for column in (
        "Method",
        "Status",
        "Category",
        "Enrollment ID",
        "Subject",
        "CA",
        "Renewable Before Expiry (Days)",
        "Updated At",
    ):
        assert column in html
    assert "fw-existing" in html and "gui.root" in html and "CN=fw-existing" in html


def test_list_status_filter_search_sort_pagination(admin_client, root_ca):
    for i in range(60):
        services.create_enrollment(
            reference=f"dev-{i:02d}",
            password="pw",
            ca=root_ca,
            status=Enrollment.Status.PENDING if i % 3 == 0 else Enrollment.Status.APPROVED,
        )
    html = admin_client.get("/cmp/enrollments/?status=pending").content.decode()
    assert "dev-00" in html and "dev-03" in html and "dev-01" not in html
    html = admin_client.get("/cmp/enrollments/?q=dev-4").content.decode()
    assert "dev-41" in html and "dev-39" not in html
    html = admin_client.get("/cmp/enrollments/?sort=-reference").content.decode()
    assert html.index("dev-59") < html.index("dev-58")
    assert "dev-00" not in html  # on page 2 (50 per page)
    page2 = admin_client.get("/cmp/enrollments/?sort=-reference&page=2").content.decode()
    assert "dev-00" in page2 and "dev-59" not in page2


def test_create_enrollment(admin_client, root_ca):
    response = admin_client.post("/cmp/enrollments/add/", form_data(root_ca))
    enrollment = Enrollment.objects.get(reference="fgt100f")
    assert response.status_code == 302
    assert response["Location"] == f"/cmp/enrollments/{enrollment.pk}/"
    assert enrollment.status == Enrollment.Status.APPROVED
    assert enrollment.allowed_sans == ["DNS:fgt100f.local", "IP:10.0.0.1"]
    assert enrollment.ext_key_usage == ["serverAuth", "clientAuth"]
    assert enrollment.renewable_days == 30
    assert enrollment.kind == "device"
    assert enrollment.allow_reenrollment and not enrollment.allow_mac_kur
    assert keystore.secret_for(enrollment) == SECRET.encode()
    entry = LogEntry.objects.get(log_type_id=30301)
    assert entry.user == "admin" and entry.source_ip == "127.0.0.1"
    page = admin_client.get(response["Location"])
    assert "Enrollment request fgt100f was created." in page.content.decode()


def test_manual_method_enrollment_is_approved_and_holds_requests(admin_client, root_ca):
    admin_client.post("/cmp/enrollments/add/", form_data(root_ca, method="manual"))
    enrollment = Enrollment.objects.get(reference="fgt100f")
    assert (enrollment.status, enrollment.method) == (
        Enrollment.Status.APPROVED,
        Enrollment.Method.MANUAL,
    )


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"allowed_sans": "fgt100f.local"}, "allowed_sans", "must be written as TYPE:value"),
        ({"allowed_sans": "IP:10.0.0.300"}, "allowed_sans", "not a valid IP address"),
        ({"subject": "CN"}, "subject", ""),
        ({"password": ""}, "password", "password must not be empty"),
        ({"reference": "has space"}, "reference", "spaces"),
        ({"validity_days": "0"}, "validity_days", ""),
        ({"type": "device"}, "trusted_ca", "trusted CA"),
        ({"key_usage": ["encipherOnly"]}, "key_usage", "need keyAgreement"),
        ({"ca": "999999"}, "ca", ""),
    ],
)
def test_create_form_errors(admin_client, root_ca, overrides, field, text):
    response = admin_client.post("/cmp/enrollments/add/", form_data(root_ca, **overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert text in " ".join(errors[field])
    assert 'class="field has-error"' in response.content.decode()
    assert not Enrollment.objects.exists()


def test_duplicate_reference_is_a_form_error(admin_client, enrollment, root_ca):
    response = admin_client.post(
        "/cmp/enrollments/add/", form_data(root_ca, reference="fw-existing")
    )
    assert response.status_code == 200
    assert "already exists" in " ".join(response.context["form"].errors["reference"])


def test_edit_keeps_password_when_empty(admin_client, enrollment, root_ca):
    data = form_data(root_ca, reference=None, password="", subject="CN=changed", renewable_days="7")
    response = admin_client.post(f"/cmp/enrollments/{enrollment.pk}/edit/", data)
    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.subject == "CN=changed"
    assert enrollment.renewable_days == 7
    assert enrollment.reference == "fw-existing"  # not editable
    assert keystore.secret_for(enrollment) == SECRET.encode()
    assert LogEntry.objects.filter(log_type_id=30302).count() == 1


def test_edit_sets_new_password(admin_client, enrollment, root_ca):
    data = form_data(root_ca, reference=None, password="New-Secret-1")
    admin_client.post(f"/cmp/enrollments/{enrollment.pk}/edit/", data)
    enrollment.refresh_from_db()
    assert keystore.secret_for(enrollment) == b"New-Secret-1"


def test_edit_reference_cannot_change(admin_client, enrollment, root_ca):
    data = form_data(root_ca, reference="renamed", password="")
    admin_client.post(f"/cmp/enrollments/{enrollment.pk}/edit/", data)
    enrollment.refresh_from_db()
    assert enrollment.reference == "fw-existing"


def test_approve_and_reject(admin_client, enrollment):
    response = admin_client.post(f"/cmp/enrollments/{enrollment.pk}/reject/")
    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.REJECTED
    page = admin_client.get(response["Location"]).content.decode()
    assert "Enrollment request fw-existing was rejected." in page
    response = admin_client.post(
        f"/cmp/enrollments/{enrollment.pk}/approve/", {"next": "/cmp/enrollments/?status=approved"}
    )
    assert response["Location"] == "/cmp/enrollments/?status=approved"
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.APPROVED
    # No open redirect through "next".
    response = admin_client.post(
        f"/cmp/enrollments/{enrollment.pk}/approve/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == f"/cmp/enrollments/{enrollment.pk}/"


def test_status_changes_are_post_only(admin_client, enrollment):
    assert admin_client.get(f"/cmp/enrollments/{enrollment.pk}/approve/").status_code == 405
    assert admin_client.get(f"/cmp/enrollments/{enrollment.pk}/reject/").status_code == 405
    assert admin_client.get(f"/cmp/enrollments/{enrollment.pk}/delete/").status_code == 200
    assert Enrollment.objects.filter(pk=enrollment.pk).exists()


def test_delete(admin_client, enrollment):
    response = admin_client.post(f"/cmp/enrollments/{enrollment.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/cmp/enrollments/"
    assert not Enrollment.objects.exists()
    assert LogEntry.objects.filter(log_type_id=30303, user="admin").exists()
    assert "was deleted" in admin_client.get("/cmp/enrollments/").content.decode()


def test_detail_lists_issued_certificates(admin_client, enrollment, root_ca):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert = services.issue_certificate(
        ca=root_ca,
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fw-existing")]),
        public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        enrollment=enrollment,
    )
    html = admin_client.get(f"/cmp/enrollments/{enrollment.pk}/").content.decode()
    assert cert.serial_colons in html
    assert "Certificates issued through this enrollment (1)" in html


def test_csrf_required(enrollment, admin_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(f"/cmp/enrollments/{enrollment.pk}/reject/").status_code == 403
    page = client.get(f"/cmp/enrollments/{enrollment.pk}/").content.decode()
    assert "csrfmiddlewaretoken" in page


def test_password_never_shown(admin_client, root_ca):
    admin_client.post("/cmp/enrollments/add/", form_data(root_ca))
    enrollment = Enrollment.objects.get(reference="fgt100f")
    pages = [
        "/cmp/enrollments/",
        f"/cmp/enrollments/{enrollment.pk}/",
        f"/cmp/enrollments/{enrollment.pk}/edit/",
        f"/cmp/enrollments/{enrollment.pk}/delete/",
        "/logging/logs/",
        "/logging/logs/?period=all",
    ]
    for entry in LogEntry.objects.all():
        pages.append(f"/logging/logs/{entry.pk}/")
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert SECRET not in response.content.decode(), url
    download = admin_client.get("/logging/logs/download/?period=all")
    assert SECRET not in b"".join(download.streaming_content).decode()
    # A failing form re-rendered does not echo the typed password either.
    response = admin_client.post(
        "/cmp/enrollments/add/", form_data(root_ca, reference="other", allowed_sans="bad")
    )
    assert response.status_code == 200
    assert SECRET not in response.content.decode()


def test_read_only_sees_but_cannot_change(readonly_client, enrollment, root_ca):
    assert readonly_client.get("/cmp/enrollments/").status_code == 200
    html = readonly_client.get(f"/cmp/enrollments/{enrollment.pk}/").content.decode()
    assert "fw-existing" in html
    assert f"/cmp/enrollments/{enrollment.pk}/edit/" not in html
    assert f"/cmp/enrollments/{enrollment.pk}/reject/" not in html
    for url in (
        "/cmp/enrollments/add/",
        f"/cmp/enrollments/{enrollment.pk}/edit/",
        f"/cmp/enrollments/{enrollment.pk}/approve/",
        f"/cmp/enrollments/{enrollment.pk}/reject/",
        f"/cmp/enrollments/{enrollment.pk}/delete/",
    ):
        assert readonly_client.post(url, form_data(root_ca)).status_code == 403, url
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.APPROVED
    assert Enrollment.objects.count() == 1


def test_login_required(client, enrollment):
    response = client.get("/cmp/enrollments/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
