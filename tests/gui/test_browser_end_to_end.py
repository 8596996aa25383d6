"""End to end in a real browser against a real server, with the real ``openssl cmp`` client.

pytest-django's ``live_server`` serves the test database from a thread; ``openssl cmp``
runs as a separate process against it while Chromium (Playwright) drives the GUI:
CAs and an enrollment made in the forms, a FortiGate-style ``ir``, the certificate in
Local Services, the log line, revocation and the CRL, debug traces, and a request held
for manual approval that an administrator approves (or rejects) on CMP > Pending Requests.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection

from certauth import services
from certauth.models import Certificate, CertificateAuthority, CertificateRequest, Enrollment
from cmp.models import CMPConfig, CMPTransaction
from tests.cmp.conftest import OPENSSL, requires_openssl_cmp

pytestmark = [pytest.mark.django_db(transaction=True), requires_openssl_cmp]

LOG_LINE = (
    'Certificate signing request "CN=fgt100f.local" signed with CA certificate "CN=fac.cz.root"'
)
RAW_MSG = r'msg="Certificate signing request \"CN=fgt100f.local\" signed with CA certificate \"CN=fac.cz.root\""'


# Held by each request the live server handles, and by the test around ORM work while a client runs.
DB_LOCK = threading.RLock()


@pytest.fixture(autouse=True)
def _one_request_at_a_time(monkeypatch):
    """Serialise the live server's requests on an in-memory SQLite test database.

    There, live_server's request threads (and this test) share one connection, so a poll
    from ``openssl cmp`` and the administrator's approval running at the same moment
    interleave their statements and fail with "database table is locked". A file or a
    PostgreSQL database gives each thread its own connection and serialises them with
    locks, as the product relies on; this gives the in-memory database the same order.
    """
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        yield
        return
    handle = WSGIHandler.__call__

    def serialised(self, environ, start_response):
        with DB_LOCK:
            return handle(self, environ, start_response)

    monkeypatch.setattr(WSGIHandler, "__call__", serialised)
    yield


def run(*args: str, cwd: Path, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [OPENSSL, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def openssl_ir(
    live_server, workdir: Path, ref: str, password: str, subject: str, *, key: str, certout: str
) -> subprocess.CompletedProcess:
    args = openssl_ir_args(live_server, workdir, ref, password, subject, key=key, certout=certout)
    return run(*args[1:], cwd=workdir)


def accept_dialogs(page) -> None:
    """button[data-confirm] asks window.confirm(): say yes."""
    page.on("dialog", lambda dialog: dialog.accept())


def create_ca_in_form(
    page, live_server, name: str, *, parent: CertificateAuthority | None = None
) -> CertificateAuthority:
    page.goto(f"{live_server.url}/ca/local/")
    page.click(".toolbar >> text=Create New")
    page.wait_for_url(f"{live_server.url}/ca/local/new/")
    page.fill("input[name=name]", name)
    if parent is not None:
        page.check("input[name=ca_type][value=intermediate]")
        page.select_option("select[name=parent]", str(parent.pk))
    else:
        page.check("input[name=ca_type][value=root]")
    page.fill("input[name=common_name]", name)
    page.click("button[type=submit]:has-text('OK')")
    page.wait_for_selector(f"text=Local CA {name} was created.")
    return CertificateAuthority.objects.get(name=name)


def download(page, click: str, target: Path) -> Path:
    with page.expect_download() as info:
        page.click(click)
    info.value.save_as(target)
    return target


def test_fortigate_enrollment_end_to_end(page, login, live_server, screenshot, tmp_path):
    accept_dialogs(page)
    login(page)
    screenshot(page, "c-dashboard")

    # --- Certificate Authorities > Local CAs: a root and an intermediate CA, in the form.
    root = create_ca_in_form(page, live_server, "fac.cz.root")
    assert root.subject == "CN=fac.cz.root" and root.parent is None
    screenshot(page, "c-ca-root-detail")
    sub = create_ca_in_form(page, live_server, "fac.cz.sub", parent=root)
    assert sub.parent == root and sub.subject == "CN=fac.cz.sub"
    assert "fac.cz.root" in page.inner_text("dl.detail")  # Signed by
    page.goto(f"{live_server.url}/ca/local/")
    page.wait_for_selector("table.list >> text=fac.cz.sub")
    screenshot(page, "c-ca-list")

    # --- CMP > Enrollment Requests > Create New: fgt100f / fortinet1.
    page.click("nav >> text=Enrollment Requests")
    page.wait_for_url(f"{live_server.url}/cmp/enrollments/")
    page.click(".toolbar >> text=Create New")
    page.fill("input[name=reference]", "fgt100f")
    page.fill("input[name=password]", "fortinet1")
    page.select_option("select[name=ca]", str(root.pk))
    page.check("input[name=key_usage][value=digitalSignature]")
    page.check("input[name=key_usage][value=keyEncipherment]")
    page.click("button[type=submit]:has-text('OK')")
    page.wait_for_selector("text=Enrollment request fgt100f was created.")
    enrollment = Enrollment.objects.get(reference="fgt100f")
    assert enrollment.ca == root and enrollment.method == Enrollment.Method.AUTOMATIC
    assert sorted(enrollment.key_usage) == ["digitalSignature", "keyEncipherment"]
    screenshot(page, "c-enrollment-detail")

    # --- The root CA certificate, exported from its page: what the FortiGate pins.
    page.goto(f"{live_server.url}/ca/{root.pk}/")
    download(page, "text=Export Certificate (PEM)", tmp_path / "root.pem")
    assert (tmp_path / "root.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")

    # --- The FortiGate's enrollment, by openssl cmp (the live server answers from its thread).
    result = openssl_ir(
        live_server,
        tmp_path,
        "fgt100f",
        "fortinet1",
        "/CN=fgt100f.local",
        key="key.pem",
        certout="fgt.crt",
    )
    assert result.returncode == 0, result.stdout
    verify = run("verify", "-CAfile", "root.pem", "fgt.crt", cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout
    cert = Certificate.objects.get(enrollment=enrollment)
    assert cert.subject == "CN=fgt100f.local" and cert.status == Certificate.Status.ACTIVE

    # --- End Entities > Local Services: Active.
    page.click("nav >> text=Local Services")
    page.wait_for_url(f"{live_server.url}/cert/services/")
    row = page.locator("table.list tbody tr", has_text="CN=fgt100f.local")
    assert row.count() == 1
    assert row.locator("td .status").inner_text() == "Active"
    assert "CN=fac.cz.root" in row.inner_text()
    screenshot(page, "c-local-services")

    # --- Log Access > Logs: the exact line, and the raw download with escaped quotes.
    page.click("nav >> text=Logs")
    page.wait_for_url(f"{live_server.url}/logging/logs/")
    assert LOG_LINE in page.locator("#logs td.log-message").all_inner_texts()
    screenshot(page, "c-logs")
    raw = download(page, "text=Download raw logs", tmp_path / "fac.log").read_text()
    assert RAW_MSG in raw

    # --- Revoke the certificate from its page: Key Compromise.
    page.goto(f"{live_server.url}/cert/services/")
    row.locator("a").first.click()
    page.wait_for_url(f"{live_server.url}/cert/{cert.pk}/")
    page.select_option("select[name=reason]", label="Key Compromise")
    page.click("form[action$='/revoke/'] button:has-text('Revoke')")
    page.wait_for_selector("dl.detail .status-revoked")
    cert.refresh_from_db()
    assert (cert.status, cert.revocation_reason) == (Certificate.Status.REVOKED, "keyCompromise")
    assert "Key Compromise" in page.inner_text("dl.detail")
    screenshot(page, "c-cert-revoked")

    # --- CRLs: regenerate; 1 revoked for fac.cz.root; the DER lists the serial.
    page.click("nav >> text=CRLs")
    page.wait_for_url(f"{live_server.url}/ca/crls/")
    crl_row = page.locator("tr[data-ca='fac.cz.root']")
    crl_row.locator("button:has-text('Regenerate')").click()
    page.wait_for_load_state()
    crl_row = page.locator("tr[data-ca='fac.cz.root']")
    assert crl_row.locator(".revoked-count").inner_text().strip() == "1"
    assert page.locator("tr[data-ca='fac.cz.sub'] .revoked-count").inner_text().strip() == "0"
    screenshot(page, "c-crls")
    download(page, "tr[data-ca='fac.cz.root'] a:has-text('DER')", tmp_path / "root.crl")
    text = run("crl", "-inform", "DER", "-in", "root.crl", "-noout", "-text", cwd=tmp_path)
    assert text.returncode == 0, text.stdout
    serials = [int(s, 16) for s in re.findall(r"Serial Number: ([0-9A-Fa-f]+)", text.stdout)]
    assert serials == [cert.serial_number]
    assert "Key Compromise" in text.stdout

    # --- Debug > Others > SCEP/CMP: debug mode on, a second enrollment, its trace lines.
    page.click("nav >> text=SCEP/CMP")
    page.wait_for_url(f"{live_server.url}/debug/cmp/")
    page.click("button:has-text('Enter debug mode')")
    page.wait_for_selector("text=CMP debug mode is on")
    assert CMPConfig.load().debug
    services.create_enrollment(reference="fgt200f", password="fortinet2", ca=root)
    result = openssl_ir(
        live_server,
        tmp_path,
        "fgt200f",
        "fortinet2",
        "/CN=fgt200f.local",
        key="key2.pem",
        certout="fgt200f.crt",
    )
    assert result.returncode == 0, result.stdout
    page.click(".toolbar >> text=Refresh")
    summaries = page.locator(".trace-lines-row summary")
    summaries.first.wait_for()
    for index in range(summaries.count()):  # each message's trace lines open on a click
        summaries.nth(index).click()
    page.wait_for_selector("text=PKIBody type: ir >> visible=true")
    body = page.inner_text("main")
    assert "fgt200f" in body and "PKIBody type: certConf" in body
    assert "fgt100f" not in body  # recorded only while debug mode was on
    screenshot(page, "c-debug-traces")
    page.click("button:has-text('Exit debug mode')")
    page.wait_for_selector("text=CMP debug mode is off.")
    assert not CMPConfig.load().debug


def openssl_ir_args(
    live_server, workdir: Path, ref: str, password: str, subject: str, *, key: str, certout: str
) -> list[str]:
    """``openssl cmp -cmd ir`` as a FortiGate sends it, against the live server."""
    if not (workdir / key).exists():
        assert run("genrsa", "-out", key, "2048", cwd=workdir).returncode == 0
    return [
        OPENSSL,
        "cmp",
        "-cmd",
        "ir",
        "-server",
        urlsplit(live_server.url).netloc,
        "-path",
        "/app/cert/cmp2",
        "-srvcert",
        "root.pem",
        "-ref",
        ref,
        "-secret",
        f"pass:{password}",
        "-newkey",
        key,
        "-subject",
        subject,
        "-certout",
        certout,
    ]


@contextlib.contextmanager
def background_client(
    live_server, workdir: Path, ref: str, password: str, subject: str, certout: str
):
    """``openssl cmp`` running (and polling) while the test drives the browser; killed on failure."""
    process = subprocess.Popen(
        openssl_ir_args(
            live_server, workdir, ref, password, subject, key=f"{ref}.key", certout=certout
        ),
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def wait_for_pending(page, live_server, ref: str):
    """Reload CMP > Pending Requests until the request of *ref* is listed."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page.goto(f"{live_server.url}/cmp/requests/")
        row = page.locator("#waiting-requests tbody tr", has_text=ref)
        if row.count():
            return row
        time.sleep(0.3)
    raise AssertionError(f"the request of {ref} was not held for approval")


def test_manual_approval_end_to_end(page, login, live_server, screenshot, tmp_path):
    accept_dialogs(page)
    root = services.create_ca(name="fac.cz.root", subject="CN=fac.cz.root")
    (tmp_path / "root.pem").write_text(root.certificate_pem)
    login(page)

    # CMP > General: a short poll interval for the waiting clients.
    page.click("nav >> text=General")
    page.wait_for_url(f"{live_server.url}/cmp/general/")
    page.fill("input[name=poll_interval]", "1")
    page.click("button:has-text('OK')")
    page.wait_for_selector("text=CMP settings saved.")
    assert CMPConfig.load().poll_interval == 1
    screenshot(page, "c-cmp-general")

    # An enrollment with the Manual method, in the form.
    page.goto(f"{live_server.url}/cmp/enrollments/add/")
    page.fill("input[name=reference]", "fgt-manual")
    page.fill("input[name=password]", "fortinet3")
    page.select_option("select[name=ca]", str(root.pk))
    page.select_option("select[name=method]", "manual")
    page.check("input[name=allow_reenrollment]")  # the second request below is not a duplicate
    page.click("button[type=submit]:has-text('OK')")
    page.wait_for_selector("text=Enrollment request fgt-manual was created.")
    enrollment = Enrollment.objects.get(reference="fgt-manual")
    assert enrollment.method == Enrollment.Method.MANUAL

    # The client sends its ir and keeps polling while the request waits.
    with background_client(
        live_server, tmp_path, "fgt-manual", "fortinet3", "/CN=fgt-manual.local", "manual.crt"
    ) as client:
        row = wait_for_pending(page, live_server, "fgt-manual")
        cells = row.locator("td").all_inner_texts()
        assert cells[2:6] == ["CMP", "ir", "fgt-manual", "CN=fgt-manual.local"]
        with DB_LOCK:
            assert Certificate.objects.filter(enrollment=enrollment).count() == 0
        screenshot(page, "c-pending-requests")
        time.sleep(1.5)  # at least one pollReq while waiting
        assert client.poll() is None  # still polling
        row.locator("button:has-text('Approve')").click()
        page.wait_for_selector("text=was approved: certificate")
        output, _ = client.communicate(timeout=120)
    assert client.returncode == 0, output
    assert "received POLLREP" in output or "polling" in output.lower()
    verify = run("verify", "-CAfile", "root.pem", "manual.crt", cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout
    cert = Certificate.objects.get(enrollment=enrollment)
    assert cert.status == Certificate.Status.ACTIVE and cert.subject == "CN=fgt-manual.local"
    record = CMPTransaction.objects.get(enrollment=enrollment)
    assert record.state == CMPTransaction.State.CONFIRMED
    assert CertificateRequest.objects.get(enrollment=enrollment).decided_by == "admin"
    page.goto(f"{live_server.url}/cmp/requests/")
    decided = page.locator("#decided-requests tbody tr", has_text="fgt-manual")
    assert "Approved" in decided.inner_text() and "admin" in decided.inner_text()
    assert "Certificate in force" in decided.inner_text()
    assert "No requests are waiting for approval." in page.inner_text("#waiting-requests")
    screenshot(page, "c-pending-decided")

    # A second request, rejected with a reason: the client fails and shows it.
    with background_client(
        live_server, tmp_path, "fgt-manual", "fortinet3", "/CN=fgt-manual.local", "rejected.crt"
    ) as client:
        row = wait_for_pending(page, live_server, "fgt-manual")
        row.locator("input[name=reason]").fill("Unknown device")
        row.locator("button:has-text('Reject')").click()
        page.wait_for_selector("text=was rejected: Unknown device")
        output, _ = client.communicate(timeout=120)
    assert client.returncode != 0
    assert "Unknown device" in output
    assert not (tmp_path / "rejected.crt").exists()
    assert Certificate.objects.filter(enrollment=enrollment).count() == 1
