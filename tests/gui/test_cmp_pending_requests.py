"""CMP > General (renewal and polling settings) and CMP > Pending Requests, with the test client."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django.utils import timezone

from certauth import enrollment as engine
from certauth import services
from certauth import x509 as x509util
from certauth.models import Certificate, CertificateRequest, Enrollment, LogEntry
from certauth.services import Actor, InvalidInput
from cmp import services as cmp_services
from cmp.models import CMPConfig

pytestmark = pytest.mark.django_db

SETTINGS = {
    "enabled": "on",
    "confirm_wait": "300",
    "revoke_superseded": "on",
    "revoke_reenrolled": "on",
    "poll_interval": "10",
    "strict_header_checks": "on",
}


# --- CMP > General: revoke renewed certificates, poll interval ---------------------------------


def test_general_shows_renewal_and_poll_settings(admin_client):
    response = admin_client.get("/cmp/general/")
    html = response.content.decode()
    assert "Revoke after renewal (kur)" in html
    assert "Revoke after re-enrollment (ir/cr)" in html
    assert "Poll interval (seconds)" in html
    assert "revoke the old certificate as superseded" in html
    form = response.context["form"]
    assert form["revoke_superseded"].value() is True
    assert form["revoke_reenrolled"].value() is True
    assert form["strict_header_checks"].value() is True and form["rfc9481_only"].value() is False
    assert form["poll_interval"].value() == 10
    assert 'name="poll_interval" value="10"' in html and 'min="1"' in html and 'max="3600"' in html


def test_general_saves_renewal_and_poll_settings(admin_client):
    response = admin_client.post(
        "/cmp/general/", {**SETTINGS, "revoke_superseded": "", "poll_interval": "45"}
    )
    assert response.status_code == 302 and response["Location"] == "/cmp/general/"
    cfg = CMPConfig.load()
    assert not cfg.revoke_superseded and cfg.poll_interval == 45
    assert list(LogEntry.objects.values_list("message", "user", "log_type_id")) == [
        (
            "CMP settings changed: revoke after renewal (kur): on -> off; poll interval (seconds): 10 -> 45",
            "admin",
            30402,
        ),
    ]
    html = admin_client.get("/cmp/general/").content.decode()
    assert "CMP settings saved." in html and 'name="poll_interval" value="45"' in html
    # And back on: one more line.
    admin_client.post("/cmp/general/", {**SETTINGS, "poll_interval": "45"})
    assert CMPConfig.load().revoke_superseded
    assert LogEntry.objects.order_by("-id").first().message == (
        "CMP settings changed: revoke after renewal (kur): off -> on"
    )


def test_general_unchanged_new_settings_log_nothing(admin_client):
    response = admin_client.post("/cmp/general/", SETTINGS)
    assert response.status_code == 302
    assert not LogEntry.objects.exists()
    assert "No changes." in admin_client.get("/cmp/general/").content.decode()


@pytest.mark.parametrize("interval", ["0", "-1", "3601", "1.5", "ten", ""])
def test_general_invalid_poll_interval(admin_client, interval):
    response = admin_client.post("/cmp/general/", {**SETTINGS, "poll_interval": interval})
    assert response.status_code == 200
    assert "poll_interval" in response.context["form"].errors
    assert CMPConfig.load().poll_interval == 10
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("interval", ["1", "3600"])
def test_general_poll_interval_bounds(admin_client, interval):
    assert (
        admin_client.post("/cmp/general/", {**SETTINGS, "poll_interval": interval}).status_code
        == 302
    )
    assert CMPConfig.load().poll_interval == int(interval)


@pytest.mark.parametrize("interval", [0, 3601])
def test_update_settings_refuses_poll_interval(interval):
    with pytest.raises(InvalidInput, match="Poll interval must be between 1 and 3600 seconds."):
        cmp_services.update_settings(poll_interval=interval, actor=Actor(user="cli"))
    assert CMPConfig.load().poll_interval == 10


def test_general_read_only_new_settings(readonly_client):
    html = readonly_client.get("/cmp/general/").content.decode()
    assert 'name="poll_interval" value="10"' in html
    form = readonly_client.get("/cmp/general/").context["form"]
    assert form.fields["poll_interval"].disabled and form.fields["revoke_superseded"].disabled
    response = readonly_client.post("/cmp/general/", {**SETTINGS, "poll_interval": "99"})
    assert response.status_code == 403
    assert CMPConfig.load().poll_interval == 10


# --- CMP > Pending Requests -------------------------------------------------------------------


def spki() -> bytes:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


@pytest.fixture
def manual(root_ca) -> Enrollment:
    return services.create_enrollment(
        reference="fgt-manual",
        password="Manual-Passw0rd",
        ca=root_ca,
        allowed_sans=["DNS:fw1.example.com", "IP:192.0.2.1"],
        method=Enrollment.Method.MANUAL,
        allow_reenrollment=True,
    )


def held(
    enrollment: Enrollment,
    *,
    operation: str = "ir",
    subject: str = "CN=fgt-manual.local",
    sans: list[str] | None = None,
    old: Certificate | None = None,
    **fields,
) -> CertificateRequest:
    """A request held for approval, as the engine stores it."""
    values = {
        "enrollment": enrollment,
        "reference": enrollment.reference,
        "protocol": "cmp",
        "operation": operation,
        "subject": subject,
        "public_key": spki(),
        "sans": sans or [],
        "renews": old,
        "replaces": old,
        "needs_confirmation": True,
        **fields,
    }
    return CertificateRequest.objects.create(**values)


def test_nav_has_pending_requests(admin_client):
    html = admin_client.get("/cmp/requests/").content.decode()
    assert '<a href="/cmp/requests/" class="active">Pending Requests</a>' in html
    assert '<a href="/cmp/general/" class="">General</a>' in html
    # Listed right after Enrollment Requests.
    assert html.index(">Enrollment Requests</a>") < html.index(">Pending Requests</a>")


def test_pending_empty(admin_client):
    response = admin_client.get("/cmp/requests/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "No requests are waiting for approval." in html
    assert "No request has been approved or rejected yet." in html
    assert "The client polls every 10 seconds" in html


def test_pending_requires_login():
    response = Client().get("/cmp/requests/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert Client().post("/cmp/requests/1/approve/").status_code == 302


def test_pending_lists_waiting_newest_first(admin_client, manual, root_ca):
    first = held(manual, sans=["DNS:fw1.example.com", "IP:192.0.2.1"], source_ip="198.51.100.23")
    old = services.issue_certificate(
        ca=root_ca,
        subject=x509util.parse_name("CN=fgt-manual.local"),
        public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        enrollment=manual,
    )
    renewal = held(manual, operation="kur", old=old)
    p10 = held(manual, operation="p10cr", subject="CN=other.local")
    # Oldest first in the DB, newest first on the page.
    CertificateRequest.objects.filter(pk=first.pk).update(
        created=timezone.now() - dt.timedelta(minutes=3)
    )
    CertificateRequest.objects.filter(pk=renewal.pk).update(
        created=timezone.now() - dt.timedelta(minutes=2)
    )

    response = admin_client.get("/cmp/requests/")
    assert [r.pk for r in response.context["waiting"]] == [p10.pk, renewal.pk, first.pk]
    assert response.context["decided"] == []
    html = response.content.decode()
    row = html[html.index(f'id="request-{first.pk}"') :]
    row = row[: row.index("</tr>")]
    assert f"<td>{first.pk}</td>" in row and "<td>CMP</td>" in row
    assert f'<a href="/cmp/enrollments/{manual.pk}/">fgt-manual</a>' in row
    assert ">ir<" in row and "CN=fgt-manual.local" in row
    assert "DNS:fw1.example.com" in row and "IP:192.0.2.1" in row
    assert "198.51.100.23" in row
    assert (
        timezone.localtime(CertificateRequest.objects.get(pk=first.pk).created).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        in row
    )
    kur_row = html[html.index(f'id="request-{renewal.pk}"') :]
    kur_row = kur_row[: kur_row.index("</tr>")]
    assert ">kur<" in kur_row
    assert (
        f'<a href="/cert/{old.pk}/">CN=fgt-manual.local</a>' in kur_row
        and old.serial_colons in kur_row
    )
    assert ">p10cr<" in html and "CN=other.local" in html
    assert f'action="/cmp/requests/{first.pk}/approve/"' in row
    assert f'action="/cmp/requests/{first.pk}/reject/"' in row and 'name="reason"' in row
    assert "csrfmiddlewaretoken" in row


def test_approve(admin_client, manual):
    record = held(manual, sans=["DNS:fw1.example.com"])
    response = admin_client.post(f"/cmp/requests/{record.pk}/approve/", REMOTE_ADDR="192.0.2.77")
    assert response.status_code == 302 and response["Location"] == "/cmp/requests/"
    record.refresh_from_db()
    assert record.state == CertificateRequest.State.APPROVED and record.decided_by == "admin"
    cert = record.certificate
    assert cert.status == Certificate.Status.PENDING and cert.enrollment == manual
    assert cert.subject == "CN=fgt-manual.local"
    entry = LogEntry.objects.get(log_type_id=30403)
    assert (
        entry.message
        == "CMP ir of enrollment 'fgt-manual' for \"CN=fgt-manual.local\" was approved"
    )
    assert (entry.user, entry.source_ip) == ("admin", "192.0.2.77")

    response = admin_client.get("/cmp/requests/")
    html = response.content.decode()
    assert (
        f"CMP request {record.pk} was approved: certificate {cert.serial_colons} is handed out"
        in html
    )
    assert response.context["waiting"] == []
    (decided,) = response.context["decided"]
    assert decided.pk == record.pk and decided.get_state_display() == "Approved"
    row = html[html.index(f'id="decided-{record.pk}"') :]
    row = row[: row.index("</tr>")]
    assert (
        '<td class="nowrap">admin</td>' in row and "Approved" in row and cert.serial_colons in row
    )
    assert "Certificate issued, waiting for the client" in row


def test_approve_kur(admin_client, manual, root_ca):
    old = services.issue_certificate(
        ca=root_ca,
        subject=x509util.parse_name("CN=fgt-manual.local"),
        public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        enrollment=manual,
    )
    record = held(manual, operation="kur", old=old)
    admin_client.post(f"/cmp/requests/{record.pk}/approve/")
    record.refresh_from_db()
    assert record.state == CertificateRequest.State.APPROVED
    assert LogEntry.objects.filter(message__contains="was renewed").exists()
    # The old certificate stays in force until the client confirms the new one.
    old.refresh_from_db()
    assert old.status == Certificate.Status.ACTIVE


def test_reject_with_reason(admin_client, manual):
    record = held(manual)
    response = admin_client.post(
        f"/cmp/requests/{record.pk}/reject/", {"reason": "Unknown device"}, REMOTE_ADDR="192.0.2.78"
    )
    assert response.status_code == 302 and response["Location"] == "/cmp/requests/"
    record.refresh_from_db()
    assert record.state == CertificateRequest.State.REJECTED
    assert (record.reason, record.decided_by, record.certificate) == (
        "Unknown device",
        "admin",
        None,
    )
    entry = LogEntry.objects.get(log_type_id=30404)
    assert entry.message == (
        "CMP ir of enrollment 'fgt-manual' for \"CN=fgt-manual.local\" was rejected: Unknown device"
    )
    assert (entry.user, entry.source_ip, entry.level) == ("admin", "192.0.2.78", "warning")
    response = admin_client.get("/cmp/requests/")
    html = response.content.decode()
    assert f"CMP request {record.pk} was rejected: Unknown device" in html
    (decided,) = response.context["decided"]
    assert decided.get_state_display() == "Rejected"
    row = html[html.index(f'id="decided-{record.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Rejected" in row and "Unknown device" in row and '<td class="nowrap">admin</td>' in row
    assert "The client gets the rejection at its next poll" in row


def test_reject_without_reason(admin_client, manual):
    record = held(manual)
    admin_client.post(f"/cmp/requests/{record.pk}/reject/")
    record.refresh_from_db()
    assert record.reason == "The request was rejected by an administrator."
    html = admin_client.get("/cmp/requests/").content.decode()
    assert (
        f"CMP request {record.pk} was rejected: The request was rejected by an administrator."
        in html
    )


def test_reject_reason_too_long(admin_client, manual):
    record = held(manual)
    admin_client.post(f"/cmp/requests/{record.pk}/reject/", {"reason": "x" * 513})
    record.refresh_from_db()
    assert record.state == CertificateRequest.State.WAITING
    html = admin_client.get("/cmp/requests/").content.decode()
    assert f"Request {record.pk}: the reason is longer than 512 characters." in html


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_decision_on_request_not_waiting(admin_client, manual, action):
    record = held(manual, state=CertificateRequest.State.REJECTED, decided_by="bob")
    for pk in (record.pk, 99999):
        response = admin_client.post(f"/cmp/requests/{pk}/{action}/")
        assert response.status_code == 302
        html = admin_client.get("/cmp/requests/").content.decode()
        assert f'<li class="message error">Request {pk} is not waiting for approval.</li>' in html
    record.refresh_from_db()
    assert record.state == CertificateRequest.State.REJECTED and record.decided_by == "bob"


def test_approve_twice(admin_client, manual):
    record = held(manual)
    admin_client.post(f"/cmp/requests/{record.pk}/approve/")
    admin_client.post(f"/cmp/requests/{record.pk}/approve/")
    html = admin_client.get("/cmp/requests/").content.decode()
    assert f"Request {record.pk} is not waiting for approval." in html
    assert Certificate.objects.filter(enrollment=manual).count() == 1


def test_approve_when_ca_cannot_sign(admin_client, manual, root_ca):
    record = held(manual)
    services.revoke_ca(root_ca)
    admin_client.post(f"/cmp/requests/{record.pk}/approve/")
    html = admin_client.get("/cmp/requests/").content.decode()
    assert '<li class="message error">Cannot issue the certificate: ' in html
    record.refresh_from_db()
    assert record.state == CertificateRequest.State.WAITING and record.certificate is None


def test_approve_when_the_enrollment_was_deleted(admin_client, manual):
    record = held(manual)
    services.delete_enrollment(manual)
    response = admin_client.post(f"/cmp/requests/{record.pk}/approve/")
    assert response.status_code == 302
    html = admin_client.get("/cmp/requests/").content.decode()
    assert (
        f"The enrollment fgt-manual of request {record.pk} was deleted; reject the request." in html
    )
    assert '<span class="mono">fgt-manual</span>' in html


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_decisions_are_post_only(admin_client, manual, action):
    record = held(manual)
    assert admin_client.get(f"/cmp/requests/{record.pk}/{action}/").status_code == 405
    record.refresh_from_db()
    assert record.state == CertificateRequest.State.WAITING


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_decisions_need_csrf_token(admin_user, manual, action):
    record = held(manual)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(f"/cmp/requests/{record.pk}/{action}/", {"reason": "x"}).status_code == 403
    record.refresh_from_db()
    assert record.state == CertificateRequest.State.WAITING


def test_read_only_sees_list_without_buttons(readonly_client, manual):
    record = held(manual)
    logged = LogEntry.objects.count()
    response = readonly_client.get("/cmp/requests/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="request-{record.pk}"' in html and "CN=fgt-manual.local" in html
    assert "/approve/" not in html and "/reject/" not in html and 'name="reason"' not in html
    assert ">Actions<" not in html
    for action in ("approve", "reject"):
        assert (
            readonly_client.post(
                f"/cmp/requests/{record.pk}/{action}/", {"reason": "no"}
            ).status_code
            == 403
        )
    record.refresh_from_db()
    assert record.state == CertificateRequest.State.WAITING and record.decided_by == ""
    assert LogEntry.objects.count() == logged


def test_decided_shows_last_twenty_with_who(admin_client, manual):
    now = timezone.now()
    for i in range(22):
        held(
            manual,
            state=CertificateRequest.State.REJECTED,
            decided_by=f"admin{i}",
            decided_at=now + dt.timedelta(seconds=i),
            reason=f"no {i}",
        )
    waiting = held(manual)
    response = admin_client.get("/cmp/requests/")
    decided = response.context["decided"]
    assert len(decided) == 20
    assert waiting.pk not in [r.pk for r in decided]
    assert [r.decided_by for r in decided[:2]] == ["admin21", "admin20"]
    html = response.content.decode()
    assert "The last 20 decisions are shown." in html
    assert (
        '<td class="nowrap">admin21</td>' in html and '<td class="nowrap">admin1</td>' not in html
    )


@pytest.mark.parametrize(
    ("status", "progress"),
    [
        ("pending", "Certificate issued, waiting for the client"),
        ("active", "Certificate in force"),
        ("revoked", "Certificate revoked"),
        ("superseded", "Certificate superseded"),
    ],
)
def test_decided_approved_progress(admin_client, manual, status, progress):
    record = held(manual)
    engine.approve_request(record.pk, actor=Actor(user="alice"))
    record.refresh_from_db()
    Certificate.objects.filter(pk=record.certificate_id).update(status=status)
    (decided,) = admin_client.get("/cmp/requests/").context["decided"]
    assert (decided.get_state_display(), decided.decided_by, decided.progress) == (
        "Approved",
        "alice",
        progress,
    )
