"""Enrollment pages that finish the job, the dashboard's counts, the CA hierarchy: in Chromium
against the live server, with the real ``openssl cmp`` client.

An enrollment on an intermediate CA: the page names the intermediate as the CA to pin, its
download link and ``openssl cmp`` line work as shown, and the certificate then appears on the
page as Active. Each dashboard count equals the rows of the page it links to, after a request
held for approval, a certificate left unconfirmed, a failed request and a certificate expiring
within 30 days (which the expiry timeline shows in its week).
"""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

import pytest

from certauth import services
from certauth.models import Certificate, CertificateRequest, Enrollment, LogEntry
from cmp.models import CMPConfig
from tests.cmp.conftest import OPENSSL, requires_openssl_cmp
from tests.gui.test_browser_end_to_end import (  # the live server's lock and the polling client
    DB_LOCK,
    _one_request_at_a_time,  # noqa: F401 - an autouse fixture
    background_client,
    openssl_ir,
    openssl_ir_args,
    run,
)

pytestmark = [pytest.mark.django_db(transaction=True), requires_openssl_cmp]

PASSWORD = "Fortinet-Sub-7731"


def shown_command(text: str, workdir: Path) -> subprocess.CompletedProcess:
    """Run a command line as the page shows it, with our openssl and the password filled in."""
    args = shlex.split(text.replace("<password>", PASSWORD))
    assert args[0] == "openssl"
    return subprocess.run(
        [OPENSSL, *args[1:]],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )


def no_horizontal_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"{page.url}: {width} px wide in a {viewport} px window"


def test_intermediate_ca_enrollment_from_its_page(page, login, live_server, screenshot, tmp_path):
    root = services.create_ca(name="fac.cz.root", subject="CN=fac.cz.root")
    sub = services.create_ca(name="fac.cz.sub", subject="CN=fac.cz.sub", parent=root)
    enrollment = services.create_enrollment(
        reference="fgt-sub", password=PASSWORD, ca=sub, subject="CN=fgt-sub.local"
    )
    login(page)
    page.goto(f"{live_server.url}/cmp/enrollments/{enrollment.pk}/")

    # Which CA to import and pin: the intermediate, with its downloads and a word on the root.
    lead = page.inner_text("#issuing-ca .issuing-ca-lead")
    assert "Import and pin fac.cz.sub (CN=fac.cz.sub)" in lead
    assert "It is an intermediate CA: pin it, not the root fac.cz.root" in lead
    assert page.get_attribute("#issuing-ca-chain", "href") == f"/ca/{sub.pk}/export/chain/"
    assert page.get_attribute("#issuing-ca-der", "href") == f"/ca/{sub.pk}/export/der/"

    # The FortiGate line: this server, the enrollment ID, a placeholder for the password.
    port = live_server.url.rsplit(":", 1)[1]
    fortigate = page.inner_text("#fortigate-generate")
    assert fortigate == (
        f"execute vpn certificate local generate cmp-rsa fgt-sub 2048 http://localhost:{port} "
        '/app/cert/cmp2 CA_Cert_1 "" fgt-sub <password> CN=fgt-sub.local'
    )
    assert PASSWORD not in page.content()
    # The name the FortiGate gave the imported CA goes into the command.
    page.fill("#fortigate-ca", "CA_Cert_4")
    page.click("#fortigate-ca-form button:has-text('OK')")
    page.wait_for_url("**fortigate_ca=CA_Cert_4")
    assert " /app/cert/cmp2 CA_Cert_4 " in page.inner_text("#fortigate-generate")
    screenshot(page, "f-enrollment-intermediate")
    page.set_viewport_size({"width": 1024, "height": 800})
    no_horizontal_overflow(page)
    screenshot(page, "f-enrollment-intermediate-1024")

    # The CA as the page offers it, saved under the name the openssl line uses.
    keygen = page.inner_text("#openssl-keygen")
    line = page.inner_text("#openssl-cmp")
    verify_line = page.inner_text("#openssl-verify")
    assert f"-server localhost:{port} -path /app/cert/cmp2 -ref fgt-sub" in line
    assert "-srvcert fac.cz.sub.pem" in line and "-secret pass:<password>" in line
    with page.expect_download() as info:
        page.click("#issuing-ca-pem")
    assert info.value.suggested_filename == "fac.cz.sub.pem"
    info.value.save_as(tmp_path / "fac.cz.sub.pem")
    with page.expect_download() as info:
        page.click("#issuing-ca-chain")
    info.value.save_as(tmp_path / "chain.pem")

    assert shown_command(keygen, tmp_path).returncode == 0
    result = shown_command(line, tmp_path)
    assert result.returncode == 0, result.stdout
    verify = shown_command(verify_line, tmp_path)
    assert verify.returncode == 0 and "cert.pem: OK" in verify.stdout, verify.stdout
    full = run("verify", "-CAfile", "chain.pem", "cert.pem", cwd=tmp_path)
    assert full.returncode == 0, full.stdout

    # The certificate on the enrollment page: Active, linking to its own page.
    cert = Certificate.objects.get(enrollment=enrollment)
    assert cert.ca == sub and cert.status == Certificate.Status.ACTIVE
    page.goto(f"{live_server.url}/cmp/enrollments/{enrollment.pk}/")
    row = page.locator("#certificates tbody tr")
    assert row.count() == 1
    assert row.locator(".status").inner_text() == "Active"
    assert cert.serial_colons in row.inner_text()
    screenshot(page, "f-enrollment-issued")
    row.locator("a").first.click()
    page.wait_for_url(f"{live_server.url}/cert/{cert.pk}/")


def stat(page, key: str) -> int:
    return int(page.get_attribute(f"#stat-{key} .stat", "data-count"))


def rows_behind(page, live_server, key: str, rows: str) -> int:
    """Follow the dashboard count *key*; the number of rows the linked page lists."""
    page.goto(f"{live_server.url}/")
    page.click(f"#stat-{key}")
    page.wait_for_load_state()
    return page.locator(rows).filter(has_not=page.locator("td.empty")).count()


def test_dashboard_counts_match_the_pages_they_link_to(
    page, login, live_server, screenshot, tmp_path
):
    root = services.create_ca(name="fac.cz.root", subject="CN=fac.cz.root")
    (tmp_path / "root.pem").write_text(root.certificate_pem)
    config = CMPConfig.load()
    config.poll_interval = 1
    config.save()
    services.create_enrollment(
        reference="fgt-manual", password=PASSWORD, ca=root, method=Enrollment.Method.MANUAL
    )
    unconfirmed = services.create_enrollment(reference="fgt-noconf", password=PASSWORD, ca=root)
    soon = services.create_enrollment(
        reference="fgt-soon", password=PASSWORD, ca=root, validity_days=20
    )
    services.create_enrollment(
        reference="fgt-later", password=PASSWORD, ca=root, status=Enrollment.Status.PENDING
    )
    login(page)

    # A certificate in force that expires in 20 days.
    result = openssl_ir(
        live_server,
        tmp_path,
        "fgt-soon",
        PASSWORD,
        "/CN=fgt-soon.local",
        key="s.key",
        certout="s.crt",
    )
    assert result.returncode == 0, result.stdout
    assert Certificate.objects.get(enrollment=soon).status == Certificate.Status.ACTIVE

    # A certificate issued and never confirmed: the client sends no certConf.
    args = openssl_ir_args(
        live_server,
        tmp_path,
        "fgt-noconf",
        PASSWORD,
        "/CN=fgt-noconf.local",
        key="n.key",
        certout="n.crt",
    )
    result = run(*args[1:], "-disable_confirm", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert Certificate.objects.get(enrollment=unconfirmed).status == Certificate.Status.PENDING

    # A failed request: a wrong password.
    result = openssl_ir(
        live_server, tmp_path, "fgt-soon", "wrong-password", "/CN=x", key="b.key", certout="b.crt"
    )
    assert result.returncode != 0
    assert LogEntry.objects.filter(log_type_id=30401).exists()

    # A request held for approval, its client polling meanwhile.
    with background_client(
        live_server, tmp_path, "fgt-manual", PASSWORD, "/CN=fgt-manual.local", "manual.crt"
    ):
        deadline = time.monotonic() + 30
        while True:
            with DB_LOCK:
                if CertificateRequest.objects.filter(state="waiting").exists():
                    break
            assert time.monotonic() < deadline, "no request was held for approval"
            time.sleep(0.3)

        page.goto(f"{live_server.url}/")
        screenshot(page, "f-dashboard")
        keys = (
            "waiting-requests",
            "pending-enrollments",
            "awaiting-confirmation-services",
            "failures-cmp",
            "failures-scep",
            "expiring-30-services",
            "expiring-90-services",
            "expiring-ca-local-30",
            "expiring-ca-local-90",
        )
        counts = {key: stat(page, key) for key in keys}
        assert counts == {
            "waiting-requests": 1,
            "pending-enrollments": 1,
            "awaiting-confirmation-services": 1,
            "failures-cmp": counts["failures-cmp"],
            "failures-scep": 0,
            "expiring-30-services": 1,
            "expiring-90-services": 1,
            "expiring-ca-local-30": 0,
            "expiring-ca-local-90": 0,
        }
        assert counts["failures-cmp"] >= 1
        rows = {
            "waiting-requests": "#waiting-requests tbody tr",
            "failures-cmp": "#logs tbody tr",
            "failures-scep": "#logs tbody tr",
        }
        for key in keys:
            found = rows_behind(page, live_server, key, rows.get(key, "table.list tbody tr"))
            assert found == counts[key], key

    # The certificate behind "expiring within 30 days", and the timeline's week 3 (days 14-21).
    rows_behind(page, live_server, "expiring-30-services", "table.list tbody tr")
    assert "CN=fgt-soon.local" in page.inner_text("table.list tbody")
    assert "expires within 30 days" in page.inner_text("#expiry-filter")
    page.goto(f"{live_server.url}/")
    bar = page.locator("#expiry-timeline rect.bar")
    assert bar.count() == 1
    assert bar.get_attribute("data-week") == "3" and bar.get_attribute("data-count") == "1"
    assert ": 1 certificate" in bar.locator("title").text_content()
    assert "1 certificate expires in the next 26 weeks" in page.text_content(
        "#expiry-timeline desc"
    )
    screenshot(page, "f-dashboard-expiry")
    page.set_viewport_size({"width": 1024, "height": 800})
    no_horizontal_overflow(page)
    screenshot(page, "f-dashboard-1024")


def test_ca_tree_shows_the_intermediate_under_its_root(page, login, live_server, screenshot):
    root = services.create_ca(name="fac.cz.root", subject="CN=fac.cz.root", key_type="ec")
    sub = services.create_ca(name="fac.cz.sub", subject="CN=fac.cz.sub", key_type="ec", parent=root)
    services.create_ca(name="fac.cz.sub2", subject="CN=fac.cz.sub2", key_type="ec", parent=sub)
    services.create_ca(name="other.root", subject="CN=other.root", key_type="ec", days=10)
    login(page)
    page.goto(f"{live_server.url}/ca/local/")
    tree = page.locator("#ca-tree")
    assert tree.locator(":scope > li").count() == 2  # two roots
    top = tree.locator(":scope > li[data-ca='fac.cz.root']")
    child = top.locator(":scope > ul > li[data-ca='fac.cz.sub']")
    grandchild = child.locator(":scope > ul > li[data-ca='fac.cz.sub2']")
    assert grandchild.count() == 1
    assert "Root CA" in top.locator(":scope > .ca-node").inner_text()
    node = child.locator(":scope > .ca-node").inner_text()
    assert "Intermediate CA" in node and "Active" in node and "expires " in node
    # Drawn indented below its root, a connector in between.
    root_box = top.locator(":scope > .ca-node").bounding_box()
    child_box = child.locator(":scope > .ca-node").bounding_box()
    assert child_box["x"] > root_box["x"] + 20 and child_box["y"] > root_box["y"]
    other = tree.locator(":scope > li[data-ca='other.root'] > .ca-node").inner_text()
    assert "expires soon" in other.lower()
    screenshot(page, "f-ca-tree")
    page.set_viewport_size({"width": 1024, "height": 800})
    no_horizontal_overflow(page)
    screenshot(page, "f-ca-tree-1024")


def test_scep_enrollment_page_names_the_ca_to_import(page, login, live_server, screenshot):
    root = services.create_ca(name="fac.cz.root", subject="CN=fac.cz.root")
    sub = services.create_ca(name="fac.cz.sub", subject="CN=fac.cz.sub", parent=root)
    enrollment = services.create_enrollment(
        reference="scep-sub", password=PASSWORD, ca=sub, subject="CN=scep-sub", protocol="scep"
    )
    login(page)
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto(f"{live_server.url}/scep/enrollments/{enrollment.pk}/")
    assert "Import fac.cz.sub (CN=fac.cz.sub)" in page.inner_text("#issuing-ca")
    assert page.get_attribute("#issuing-ca-pem", "href") == f"/ca/{sub.pk}/export/pem/"
    assert "No certificates yet." in page.inner_text("main")
    no_horizontal_overflow(page)
    screenshot(page, "f-scep-enrollment-1024")
