"""End-entity certificates through the GUI: create (CSR or server key), list, revoke, delete."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from certauth import services
from certauth.models import Certificate

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def ee_key():
    return ec.generate_private_key(ec.SECP256R1())


def make_csr(key, cn: str, sans: list | None = None) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def issue(
    root_ca, ee_key, cn: str, kind: str = Certificate.Kind.LOCAL_SERVICE, **kwargs
) -> Certificate:
    return services.issue_certificate(
        ca=root_ca,
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]),
        public_key=ee_key.public_key(),
        kind=kind,
        **kwargs,
    )


def form_data(root_ca, **changes) -> dict:
    data = {
        "name": "",
        "ca": str(root_ca.pk),
        "source": "csr",
        "csr_text": "",
        "common_name": "",
        "organization": "",
        "organizational_unit": "",
        "locality": "",
        "state": "",
        "country": "",
        "email": "",
        "key": "ec-p256",
        "passphrase": "",
        "passphrase_again": "",
        "sans": "",
        "key_usage": ["digitalSignature", "keyEncipherment"],
        "ext_key_usage": ["serverAuth"],
        "validity_days": "365",
        "hash_name": "",
    }
    data.update(changes)
    return data


def test_lists_split_users_and_services(admin_client, root_ca, ee_key):
    issue(root_ca, ee_key, "alice", kind=Certificate.Kind.USER)
    issue(root_ca, ee_key, "web.example.com")
    issue(root_ca, ee_key, "fgt-device", kind=Certificate.Kind.DEVICE)
    users = admin_client.get("/cert/users/").content.decode()
    services_page = admin_client.get("/cert/services/").content.decode()
    assert "CN=alice" in users and "web.example.com" not in users
    assert "web.example.com" in services_page and "fgt-device" in services_page
    assert "CN=alice" not in services_page


def test_status_filter_search_sort(admin_client, root_ca, ee_key):
    active = issue(root_ca, ee_key, "active.example.com")
    revoked = issue(root_ca, ee_key, "revoked.example.com")
    services.revoke_certificate(revoked)
    pending = issue(root_ca, ee_key, "pending.example.com", status=Certificate.Status.PENDING)
    expired = issue(root_ca, ee_key, "expired.example.com")
    Certificate.objects.filter(pk=expired.pk).update(
        not_after=timezone.now() - dt.timedelta(days=1)
    )

    def names(query: str) -> set[str]:
        response = admin_client.get(f"/cert/services/{query}")
        return {cert.name for cert in response.context["listing"].page}

    assert names("") == {active.name, pending.name}
    assert names("?status=active") == {active.name}
    assert names("?status=pending") == {pending.name}
    assert names("?status=expired") == {expired.name}
    assert names("?status=revoked") == {revoked.name}
    assert len(names("?status=all")) == 4
    assert names("?status=all&q=REVOKED.example") == {revoked.name}
    assert names(f"?status=all&q={revoked.serial_colons}") == {revoked.name}
    # The issuer's subject matches too.
    assert len(names("?status=all&q=GUI Root")) == 4
    response = admin_client.get("/cert/services/?status=all&sort=subject")
    subjects = [cert.subject for cert in response.context["listing"].page]
    assert subjects == sorted(subjects)
    response = admin_client.get("/cert/services/?status=all&sort=-subject")
    assert [cert.subject for cert in response.context["listing"].page] == sorted(
        subjects, reverse=True
    )


def test_pagination(admin_client, root_ca, ee_key):
    for number in range(55):
        issue(root_ca, ee_key, f"host{number:02}.example.com")
    first = admin_client.get("/cert/services/?sort=name")
    listing = first.context["listing"]
    assert len(listing.page) == 50 and listing.page.has_next
    assert "1–50 of 55" in first.content.decode()
    second = admin_client.get("/cert/services/?sort=name&page=2").context["listing"].page
    assert [c.name for c in second] == [f"host{n}.example.com" for n in range(50, 55)]
    assert not second.has_next


def test_create_page_lists_usages(admin_client, root_ca):
    content = admin_client.get("/cert/services/new/").content.decode()
    for label in ("Digital Signature", "Certificate Sign", "Server Authentication", "IPsec IKE"):
        assert label in content


def test_create_from_csr(admin_client, root_ca, ee_key):
    csr = make_csr(ee_key, "csr.example.com", [x509.DNSName("csr.example.com")])
    response = admin_client.post(
        "/cert/services/new/",
        form_data(
            root_ca,
            csr_file=SimpleUploadedFile("req.csr", csr),
            sans="DNS:alt.example.com\nIP:192.0.2.7",
        ),
    )
    cert = Certificate.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cert/{cert.pk}/"
    assert cert.kind == Certificate.Kind.LOCAL_SERVICE
    assert cert.sans == ["DNS:alt.example.com", "IP:192.0.2.7"]
    eku = cert.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_create_from_pasted_csr_keeps_its_sans(admin_client, root_ca, ee_key):
    csr = make_csr(ee_key, "paste.example.com", [x509.DNSName("paste.example.com")])
    response = admin_client.post("/cert/users/new/", form_data(root_ca, csr_text=csr.decode()))
    assert response.status_code == 302
    cert = Certificate.objects.get()
    assert cert.kind == Certificate.Kind.USER and cert.sans == ["DNS:paste.example.com"]


@pytest.mark.parametrize(
    "line, message",
    [
        ("host.example.com", "must be written as TYPE:value"),
        ("IP:300.1.2.3", "not a valid IP address"),
        ("DNS:bad_name!", "not a valid DNS name"),
        ("email:nobody", "not a valid e-mail address"),
        ("X400:foo", "type must be DNS, IP, email or URI"),
    ],
)
def test_bad_sans_are_form_errors(admin_client, root_ca, ee_key, line, message):
    csr = make_csr(ee_key, "bad.example.com")
    response = admin_client.post(
        "/cert/services/new/",
        form_data(
            root_ca,
            csr_text=csr.decode(),
            sans=f"DNS:ok.example.com\n{line}",
        ),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["sans"]
    assert len(errors) == 1 and message in errors[0] and errors[0].startswith("Line 2:")
    assert not Certificate.objects.exists()


def test_other_form_errors(admin_client, root_ca):
    response = admin_client.post("/cert/services/new/", form_data(root_ca))
    assert "csr_file" in response.context["form"].errors
    response = admin_client.post("/cert/services/new/", form_data(root_ca, csr_text="garbage"))
    assert "not a PEM or DER" in str(response.context["form"].errors["csr_text"])
    response = admin_client.post(
        "/cert/services/new/",
        form_data(
            root_ca,
            source="generate",
            common_name="x",
            passphrase="a",
            passphrase_again="b",
        ),
    )
    assert "passphrase_again" in response.context["form"].errors
    response = admin_client.post(
        "/cert/services/new/",
        form_data(
            root_ca,
            source="generate",
            common_name="x",
            passphrase="a",
            passphrase_again="a",
            key_usage=["encipherOnly"],
        ),
    )
    assert "keyAgreement" in str(response.context["form"].errors["key_usage"])
    assert not Certificate.objects.exists()


def test_server_generated_key_is_downloaded_once(admin_client, root_ca):
    response = admin_client.post(
        "/cert/services/new/",
        form_data(
            root_ca,
            source="generate",
            common_name="gen.example.com",
            organization="Example",
            key="ec-p384",
            passphrase="p12-secret",
            passphrase_again="p12-secret",
            sans="DNS:gen.example.com",
        ),
    )
    # POST-redirect-GET: the result page's link downloads the PKCS#12 (tests/gui/test_h_*).
    stored = Certificate.objects.get()
    assert response.status_code == 302
    assert response["Location"].startswith(f"/cert/{stored.pk}/issued/")
    response = admin_client.get(f"{response['Location']}download/")
    assert response["Content-Type"] == "application/x-pkcs12"
    assert response["Content-Disposition"] == 'attachment; filename="gen.example.com.p12"'
    key, cert, chain = pkcs12.load_key_and_certificates(response.content, b"p12-secret")
    assert cert == stored.certificate and chain == [root_ca.certificate]
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    assert stored.subject == "O=Example, CN=gen.example.com"
    # Nothing of the key is kept; the detail page says so and shows no secret.
    page = admin_client.get(f"/cert/{stored.pk}/").content.decode()
    assert "Not stored on this server" in page
    assert "PRIVATE KEY" not in page and "p12-secret" not in page


def test_detail_revoke_unrevoke_delete(admin_client, root_ca, ee_key):
    cert = issue(root_ca, ee_key, "hold.example.com", sans=[x509.DNSName("hold.example.com")])
    page = admin_client.get(f"/cert/{cert.pk}/").content.decode()
    assert cert.serial_colons in page and "DNS:hold.example.com" in page
    for reason in Certificate.Reason.values:
        assert f'value="{reason}"' in page
    response = admin_client.post(
        f"/cert/{cert.pk}/revoke/", {"reason": "certificateHold"}, follow=True
    )
    cert.refresh_from_db()
    assert cert.status == "revoked" and "Un-revoke" in response.content.decode()
    # Revoked and unexpired: the CRL needs it, deletion is refused with the reason.
    response = admin_client.post(f"/cert/{cert.pk}/delete/", follow=True)
    assert "the CRL still needs it" in response.content.decode()
    admin_client.post(f"/cert/{cert.pk}/unrevoke/")
    cert.refresh_from_db()
    assert cert.status == "active"
    response = admin_client.post(f"/cert/{cert.pk}/unrevoke/", follow=True)
    assert "Only a certificate revoked with reason Certificate Hold" in response.content.decode()
    # Valid: deletion is refused until it is revoked (or expired), so the CRL lists it.
    response = admin_client.post(f"/cert/{cert.pk}/delete/", follow=True)
    assert "is still valid: revoke it first" in response.content.decode()
    Certificate.objects.filter(pk=cert.pk).update(
        not_after=timezone.now() - dt.timedelta(seconds=1)
    )
    response = admin_client.post(f"/cert/{cert.pk}/delete/")
    assert response["Location"] == "/cert/services/"
    assert not Certificate.objects.filter(pk=cert.pk).exists()


def test_export(admin_client, root_ca, ee_key):
    cert = issue(root_ca, ee_key, "export.example.com")
    pem = admin_client.get(f"/cert/{cert.pk}/export/pem/")
    assert x509.load_pem_x509_certificate(pem.content) == cert.certificate
    der = admin_client.get(f"/cert/{cert.pk}/export/der/")
    assert der["Content-Disposition"] == 'attachment; filename="export.example.com.cer"'
    assert admin_client.get(f"/cert/{cert.pk}/export/txt/").status_code == 404


def test_bulk_actions(admin_client, root_ca, ee_key):
    a = issue(root_ca, ee_key, "a.example.com")
    b = issue(root_ca, ee_key, "b.example.com")
    response = admin_client.post(
        "/cert/services/bulk/", {"action": "export", "selected": [a.pk, b.pk]}
    )
    assert response.content.count(b"BEGIN CERTIFICATE") == 2
    response = admin_client.post(
        "/cert/services/bulk/", {"action": "export-der", "selected": [a.pk, b.pk]}, follow=True
    )
    assert "select one" in response.content.decode()
    confirm = admin_client.post(
        "/cert/services/bulk/", {"action": "revoke", "selected": [a.pk, b.pk]}
    )
    assert confirm.status_code == 200 and b"a.example.com" in confirm.content
    assert Certificate.objects.revoked().count() == 0
    admin_client.post(
        "/cert/services/bulk/",
        {
            "action": "revoke",
            "confirm": "1",
            "reason": "superseded",
            "selected": [a.pk, b.pk],
        },
    )
    assert set(Certificate.objects.revoked().values_list("revocation_reason", flat=True)) == {
        "superseded"
    }
    response = admin_client.post(
        "/cert/services/bulk/", {"action": "delete", "selected": [a.pk]}, follow=True
    )
    assert "the CRL still needs it" in response.content.decode()
    response = admin_client.post("/cert/services/bulk/", {"action": "export"}, follow=True)
    assert "Select at least one" in response.content.decode()
    # A user certificate is not reachable from the services list.
    user_cert = issue(root_ca, ee_key, "bob", kind=Certificate.Kind.USER)
    response = admin_client.post(
        "/cert/services/bulk/", {"action": "export", "selected": [user_cert.pk]}, follow=True
    )
    assert "Select at least one" in response.content.decode()


def test_readonly_cannot_change_certificates(readonly_client, root_ca, ee_key):
    cert = issue(root_ca, ee_key, "ro.example.com")
    assert b"Create New" not in readonly_client.get("/cert/services/").content
    assert b'name="reason"' not in readonly_client.get(f"/cert/{cert.pk}/").content
    assert readonly_client.get("/cert/services/new/").status_code == 403
    for path, data in [
        ("/cert/services/new/", form_data(root_ca, csr_text=make_csr(ee_key, "x").decode())),
        (f"/cert/{cert.pk}/revoke/", {"reason": "unspecified"}),
        (f"/cert/{cert.pk}/unrevoke/", {}),
        (f"/cert/{cert.pk}/delete/", {}),
        (
            "/cert/services/bulk/",
            {"action": "revoke", "confirm": "1", "reason": "unspecified", "selected": [cert.pk]},
        ),
        ("/cert/services/bulk/", {"action": "delete", "selected": [cert.pk]}),
    ]:
        assert readonly_client.post(path, data).status_code == 403, path
    cert.refresh_from_db()
    assert cert.status == "active"
    response = readonly_client.post(
        "/cert/services/bulk/", {"action": "export", "selected": [cert.pk]}
    )
    assert response.status_code == 200 and b"BEGIN CERTIFICATE" in response.content


def test_no_data_changing_get(admin_client, root_ca, ee_key):
    cert = issue(root_ca, ee_key, "get.example.com")
    for path in (
        f"/cert/{cert.pk}/revoke/",
        f"/cert/{cert.pk}/delete/",
        f"/cert/{cert.pk}/unrevoke/",
        "/cert/services/bulk/",
    ):
        assert admin_client.get(path).status_code == 405, path
