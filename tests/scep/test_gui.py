"""Certificate Management > SCEP: General, Enrollment Requests (create, the commands to paste,
Reset, the certificates issued), and the SCEP exchanges on Debug > Others > SCEP/CMP."""

from __future__ import annotations

import re
from html import unescape

import pytest

from certauth import enrollment as engine
from certauth import services
from certauth.models import CertificateRequest, Enrollment, LogEntry
from cmp import services as cmp_services
from scep import services as scep_services
from scep.models import SCEPTrace
from tests.scep.conftest import CHALLENGE, DEVICE, SCEP, WILDCARD_CHALLENGE

pytestmark = pytest.mark.django_db


def form_data(**changes):
    data = {
        "reference": "fw1",
        "scope": "regular",
        "subject": DEVICE,
        "subject_pattern": "",
        "password_mode": "random",
        "password": "",
        "allowed_sans": "DNS:fw1.example.net",
        "key_usage": ["digitalSignature", "keyEncipherment"],
        "validity_days": "365",
        "renewable_days": "30",
        "method": "automatic",
        "kind": "service",
        "enabled": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# --- SCEP > General ---------------------------------------------------------------------


def test_general_page_saves_and_logs_once(admin_client, root):
    html = admin_client.get("/scep/general/").content.decode()
    for label in (
        "Enable SCEP",
        "Default CA",
        "Default enrollment password",
        "Enrollment method",
        "Revoke the old certificate on renewal",
        "Allow legacy algorithms (3DES, SHA-1)",
        "Allow single DES",
        "scepclient",
    ):
        assert label in html
    response = admin_client.post(
        "/scep/general/",
        {
            "enabled": "on",
            "default_ca": root.pk,
            "default_password": "Default-Challenge-1",
            "method": "manual",
            "revoke_renewed": "on",
            "legacy_algorithms": "on",
            "single_des": "on",
        },
    )
    assert response.status_code == 302
    cfg = scep_services.config()
    assert cfg.default_ca == root and cfg.method == "manual" and cfg.single_des
    assert scep_services.default_password() == "Default-Challenge-1"
    (line,) = LogEntry.objects.filter(log_type_id=30502).values_list("message", flat=True)
    assert line == (
        "SCEP settings changed: default CA: none -> fac.root; enrollment method: Automatic -> "
        "Manual and Automatic; allow legacy algorithms (3DES, SHA-1): off -> on; "
        "allow single DES: off -> on; default enrollment password: changed"
    )
    # Write-only: never rendered back, never logged.
    assert "Default-Challenge-1" not in admin_client.get("/scep/general/").content.decode()
    assert not LogEntry.objects.filter(message__contains="Default-Challenge-1").exists()


def test_general_page_refuses_single_des_alone(admin_client, root):
    response = admin_client.post(
        "/scep/general/", {"enabled": "on", "method": "automatic", "single_des": "on"}
    )
    assert response.status_code == 200
    assert (
        "Single DES is allowed only together with the legacy algorithms."
        in response.content.decode()
    )


def test_read_only_sees_but_cannot_change(readonly_client, root):
    assert readonly_client.get("/scep/general/").status_code == 200
    assert readonly_client.post("/scep/general/", {"method": "manual"}).status_code == 403
    assert readonly_client.get("/scep/enrollments/add/").status_code == 403


# --- SCEP > Enrollment Requests ---------------------------------------------------------


def test_create_with_a_generated_password_shown_once(admin_client, root):
    response = admin_client.post("/scep/enrollments/add/", form_data(ca=root.pk))
    assert response.status_code == 200
    html = unescape(response.content.decode())
    password = re.search(r'<p class="mono" style="font-size: 16px">([^<]+)</p>', html).group(1)
    assert len(password) == scep_services.PASSWORD_LENGTH
    assert response["Cache-Control"] == "no-store"
    enrollment = Enrollment.objects.get(reference="fw1")
    assert (enrollment.protocol, enrollment.wildcard, enrollment.subject) == ("scep", False, DEVICE)
    # The commands carry it on this page ...
    assert f"http://testserver/app/cert/scep/ {password}" in html
    assert "set enroll-protocol scep" in html and "config vpn certificate local" in html
    assert "execute vpn certificate local generate rsa fw1 2048 fw1.example.net CZ" in html
    assert 'execute vpn certificate ca import auto http://testserver/app/cert/scep/ ""' in html
    # ... and never again.
    again = admin_client.get(f"/scep/enrollments/{enrollment.pk}/").content.decode()
    assert password not in again and "&lt;challenge password&gt;" in again
    # The device enrolls with it.
    reply = SCEP().enroll(DEVICE, challenge=password)
    assert reply.status == "0"


def test_create_with_the_default_password_and_a_wildcard(admin_client, root):
    scep_services.update_settings(default_password=WILDCARD_CHALLENGE, default_ca=root)
    form = admin_client.get("/scep/enrollments/add/").content.decode()
    assert "Use the default enrollment password" in form
    response = admin_client.post(
        "/scep/enrollments/add/",
        form_data(
            reference="branches",
            scope="wildcard",
            subject="",
            subject_pattern="C=CZ, O=Example, CN=*.branch.example.net",
            password_mode="default",
            allowed_sans="DNS:*.branch.example.net",
            ca=root.pk,
        ),
    )
    assert response.status_code == 200
    assert WILDCARD_CHALLENGE not in response.content.decode()
    wildcard = Enrollment.objects.get(reference="branches")
    assert (
        wildcard.wildcard and wildcard.subject_pattern == "C=CZ, O=Example, CN=*.branch.example.net"
    )
    reply = SCEP().enroll(
        "C=CZ, O=Example, CN=fw3.branch.example.net", challenge=WILDCARD_CHALLENGE
    )
    assert reply.status == "0"
    listing = admin_client.get("/scep/enrollments/").content.decode()
    assert "Wildcard" in listing and "(1 device)" in listing and "Regular" in listing
    detail = admin_client.get(f"/scep/enrollments/{wildcard.pk}/").content.decode()
    assert "branches/fw3.branch.example.net" in detail
    assert "C=CZ, O=Example, CN=fw3.branch.example.net" in detail


def test_a_regular_request_needs_its_subject(admin_client, root):
    response = admin_client.post("/scep/enrollments/add/", form_data(subject="", ca=root.pk))
    assert response.status_code == 200
    assert "A regular SCEP enrollment names the subject" in response.content.decode()
    assert not Enrollment.objects.exists()


def test_reset_and_pending_requests(admin_client, root):
    enrollment = services.create_enrollment(
        reference="fw1",
        password=CHALLENGE,
        ca=root,
        protocol="scep",
        subject=DEVICE,
        method="manual",
    )
    assert SCEP().enroll(DEVICE).status == "3"
    listing = admin_client.get("/scep/enrollments/").content.decode()
    assert "1 waiting" in listing and "/cmp/requests/" in listing
    pending = admin_client.get("/cmp/requests/").content.decode()
    assert "SCEP" in pending and "PKCSReq" in pending
    held = CertificateRequest.objects.get()
    engine.approve_request(held.pk)
    response = admin_client.post(f"/scep/enrollments/{enrollment.pk}/reset/")
    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.reenroll_once
    assert LogEntry.objects.filter(
        message="SCEP enrollment request 'fw1' was reset: its next request enrolls afresh"
    ).exists()


def test_edit_keeps_the_password(admin_client, regular):
    response = admin_client.post(
        f"/scep/enrollments/{regular.pk}/edit/",
        form_data(password_mode="keep", renewable_days="10", ca=regular.ca.pk),
    )
    assert response.status_code == 302
    regular.refresh_from_db()
    assert regular.renewable_days == 10
    assert SCEP().enroll(DEVICE).status == "0"


# --- Debug ------------------------------------------------------------------------------


def test_debug_page_shows_scep_exchanges(admin_client, regular):
    cmp_services.set_debug(True)
    device = SCEP()
    device.enroll(DEVICE)
    html = admin_client.get("/debug/cmp/").content.decode()
    trace = SCEPTrace.objects.filter(operation="PKIOperation").get()
    assert "SCEP exchanges" in html and trace.transaction_id in html
    assert f"/debug/scep/{trace.pk}/request.der" in html
    detail = admin_client.get(f"/debug/scep/{trace.pk}/").content.decode()
    for text in ("PKCSReq (19)", "SUCCESS", trace.sender_nonce, "Decrypted CSR", DEVICE):
        assert text in detail
    assert CHALLENGE not in detail
    der = admin_client.get(f"/debug/scep/{trace.pk}/response.der")
    assert der["Content-Type"] == "application/x-pki-message" and der.content == bytes(
        trace.response_der
    )
    dump = b"".join(admin_client.get("/debug/pcap-dump").streaming_content)
    assert b"POST /app/cert/scep/?operation=PKIOperation HTTP/1.1" in dump
    assert b"GET /app/cert/scep/?operation=GetCACert HTTP/1.1" in dump


def test_admin_shows_no_key_and_goes_through_the_service(admin_client, ec_root):
    SCEP().ca_certificates()
    from scep.models import RegistrationAuthority

    ra = RegistrationAuthority.objects.get()
    page = admin_client.get(f"/admin/scep/registrationauthority/{ra.pk}/change/")
    assert page.status_code == 200 and b"encrypted_key" not in page.content
    assert admin_client.get("/admin/scep/scepconfig/").status_code == 200
    scep_services.config()
    response = admin_client.post(
        "/admin/scep/scepconfig/1/change/",
        {"enabled": "on", "method": "automatic", "single_des": "on"},
    )
    assert response.status_code == 200  # refused: single DES without the legacy algorithms
    response = admin_client.post(
        "/admin/scep/scepconfig/1/change/",
        {"enabled": "on", "method": "manual", "revoke_renewed": "on"},
    )
    assert response.status_code == 302
    assert LogEntry.objects.filter(
        message="SCEP settings changed: enrollment method: Automatic -> Manual and Automatic"
    ).exists()
