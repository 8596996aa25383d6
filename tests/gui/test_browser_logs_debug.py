"""The Logs page and Debug > SCEP/CMP in a real browser after real ``openssl cmp`` traffic.

An ir (password) and a signature-protected kur that is refused leave the Logs
page readable: the User column stays narrow, rows stay within two lines, and
each row links to its certificate, CA and enrollment. The debug page pages and
filters its transactions, marks the failing one, and its ASN.1 tree opens two
levels and expands on a click. No page is wider than a 1280 or 1024 px window.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from certauth import events, services
from certauth.models import Certificate, LogEntry
from cmp import services as cmp_services
from cmp.models import CMPTrace
from scep import services as scep_services
from tests.cmp.conftest import OPENSSL, requires_openssl_cmp
from tests.gui.conftest import SCREENSHOTS

pytestmark = [pytest.mark.django_db(transaction=True), requires_openssl_cmp]

IR = (Path(__file__).resolve().parents[1] / "fixtures" / "cmp" / "ir.der").read_bytes()


def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [OPENSSL, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )


def cmp_args(live_server, *args: str) -> list[str]:
    return ["cmp", "-server", urlsplit(live_server.url).netloc, "-path", "/app/cert/cmp2", *args]


@pytest.fixture
def traffic(live_server, tmp_path):
    """A root CA, an enrollment, an ir that succeeds and a signed kur that is refused,
    with debug mode on."""
    cmp_services.set_debug(True, actor=events.Actor(user="cli"))
    ca = services.create_ca(name="logs.root", subject="CN=logs.root", key_type="ec")
    enrollment = services.create_enrollment(reference="fgt-logs", password="fortinet7", ca=ca)
    (tmp_path / "ca.pem").write_text(ca.certificate_pem)
    assert openssl("genrsa", "-out", "device.key", "2048", cwd=tmp_path).returncode == 0
    run = openssl(
        *cmp_args(live_server, "-cmd", "ir", "-srvcert", "ca.pem", "-ref", "fgt-logs"),
        *("-secret", "pass:fortinet7", "-newkey", "device.key", "-subject", "/CN=fgt-logs"),
        *("-certout", "device.crt"),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout
    run = openssl(
        *cmp_args(live_server, "-cmd", "kur", "-srvcert", "ca.pem"),
        *("-cert", "device.crt", "-key", "device.key", "-newkey", "device.key"),
        *("-certout", "renewed.crt"),
        cwd=tmp_path,
    )
    assert run.returncode != 0  # the same key: badCertTemplate
    failed = LogEntry.objects.get(log_type_id=events.CMP_REQUEST_FAILED.id)
    assert len(failed.params["sender"]) == 40  # signed: the key ID
    return {
        "ca": ca,
        "enrollment": enrollment,
        "certificate": Certificate.objects.get(enrollment=enrollment),
        "failed": failed,
    }


def no_horizontal_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"{page.url}: {width} px wide in a {viewport} px window"


def at_widths(page, url: str, name: str, screenshot) -> None:
    for width in (1280, 1024):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(url)
        no_horizontal_overflow(page)
        screenshot(page, f"{name}-{width}")
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}-top.png"))
    page.set_viewport_size({"width": 1360, "height": 900})


def test_logs_stay_readable_and_link_to_what_they_concern(
    page, login, live_server, traffic, screenshot
):
    login(page)
    page.goto(f"{live_server.url}/logging/logs/")
    failed = traffic["failed"]
    row = page.locator(f'tr[data-href^="/logging/logs/{failed.pk}/"]')
    user_cell = row.locator("td.log-user")
    assert user_cell.inner_text() == "fgt-logs"  # not the 40-digit key ID
    geometry = page.evaluate(
        """() => {
            const table = document.querySelector("table#logs");
            const headers = [...table.querySelectorAll("thead th")];
            const user = headers.find((th) => th.textContent.trim() === "User");
            const message = headers.find((th) => th.textContent.trim() === "Message");
            const cell = table.querySelector("tbody td.log-message");
            const lineHeight = parseFloat(getComputedStyle(cell).lineHeight);
            if (!(lineHeight > 0)) throw new Error("no line height: " + getComputedStyle(cell).lineHeight);
            const rows = [...table.querySelectorAll("tbody tr")].map((tr) => ({
                text: tr.innerText.slice(0, 80),
                height: tr.getBoundingClientRect().height,
            }));
            return {
                table: table.getBoundingClientRect().width,
                user: user.getBoundingClientRect().width,
                message: message.getBoundingClientRect().width,
                lineHeight, rows,
            };
        }"""
    )
    assert geometry["user"] < 0.2 * geometry["table"], geometry
    assert geometry["message"] > 2 * geometry["user"], geometry
    # Two lines of text, the cell padding (6 px above and below) and a border.
    limit = 2 * geometry["lineHeight"] + 12 + 3
    tall = [row for row in geometry["rows"] if row["height"] > limit]
    assert not tall, (limit, tall)
    screenshot(page, "logs-after-signed-cmp")

    # The failure links to its enrollment and transaction; the signing line to all three.
    assert row.locator("a.link-enrollment").get_attribute("href") == (
        f"/cmp/enrollments/{traffic['enrollment'].pk}/"
    )
    assert row.locator("a.link-transaction").count() == 1
    signed = LogEntry.objects.get(log_type_id=events.CERT_SIGNED.id)
    signed_row = page.locator(f'tr[data-href^="/logging/logs/{signed.pk}/"]')
    signed_row.locator("a.link-certificate").click()
    page.wait_for_url(f"{live_server.url}/cert/{traffic['certificate'].pk}/")
    page.go_back()
    signed_row.locator("a.link-ca").click()
    page.wait_for_url(f"{live_server.url}/ca/{traffic['ca'].pk}/")
    page.go_back()
    signed_row.locator("a.link-enrollment").click()
    page.wait_for_url(f"{live_server.url}/cmp/enrollments/{traffic['enrollment'].pk}/")
    page.go_back()
    row.locator("a.link-transaction").click()
    page.wait_for_url("**/debug/cmp/?transaction=*")
    assert page.locator(".tx-group").count() == 1
    assert page.locator(".tx-group.tx-failed").count() == 1

    # The detail view keeps the key ID and every parameter.
    page.goto(f"{live_server.url}/logging/logs/{failed.pk}/")
    assert page.locator("#log-user").inner_text() == "fgt-logs"
    assert page.locator("#log-key-id").inner_text() == failed.params["sender"]
    assert page.locator("#log-params").inner_text().count("\n") >= 5
    assert failed.params["sender"] in page.locator("#log-params").inner_text()
    at_widths(page, f"{live_server.url}/logging/logs/", "logs", screenshot)
    at_widths(page, f"{live_server.url}/logging/logs/{failed.pk}/", "log-detail", screenshot)


def test_debug_filters_paging_diagram_and_tree(page, login, live_server, traffic, screenshot):
    real = CMPTrace.objects.count()
    assert real >= 3  # ir, certConf, kur
    for number in range(26):
        cmp_services.record_trace(
            source_ip="192.0.2.77",
            transaction_id=f"{number:032x}",
            sender_kid=f"bulk-{number}",
            body_type="ir",
            lines="CMP response sent: ip, 10 bytes",
            request_der=IR,
            response_der=b"",
        )
    login(page)
    page.goto(f"{live_server.url}/debug/cmp/?protocol=cmp")
    groups = page.locator("#cmp-exchanges ~ .tx-group")
    assert groups.count() == 25
    assert "Transactions 1–25 of 28" in page.locator(".section-count").inner_text()
    page.locator(".pagination-cmp a[rel=next]").click()
    page.wait_for_url("**page=2*")
    assert page.locator(".tx-group").count() == 3
    screenshot(page, "debug-page-2")

    # Filters: errors only, then the enrollment ID, then an address.
    page.goto(f"{live_server.url}/debug/cmp/")
    page.check("input[name=errors]")
    page.click("#debug-filters button[type=submit]")
    page.wait_for_url("**errors=on*")
    assert page.locator(".tx-group").count() == 1
    failed_group = page.locator(".tx-group.tx-failed")
    assert "badCertTemplate" in failed_group.locator(".tx-title").inner_text()
    step = failed_group.locator("svg.sequence g.step.failed")
    assert step.count() == 1 and "badCertTemplate" in step.inner_html()
    page.goto(f"{live_server.url}/debug/cmp/")
    page.fill("input[name=enrollment]", "fgt-logs")
    page.select_option("select[name=protocol]", "cmp")
    page.click("#debug-filters button[type=submit]")
    page.wait_for_url("**enrollment=fgt-logs*")
    titles = page.locator("#cmp-exchanges ~ .tx-group .tx-title").all_inner_texts()
    assert titles and not any("0000000000" in title for title in titles)
    diagram = page.locator(".tx-group").first.locator("svg.sequence")
    labels = diagram.locator("g.step").evaluate_all(
        "(steps) => steps.map((g) => g.getAttribute('data-label'))"
    )
    assert labels == ["ir", "ip", "certConf", "pkiConf"]
    page.goto(f"{live_server.url}/debug/cmp/?source_ip=192.0.2.77&body_type=ir")
    assert page.locator(".tx-group").count() == 25
    at_widths(page, f"{live_server.url}/debug/cmp/", "debug", screenshot)
    at_widths(page, f"{live_server.url}/debug/cmp/?errors=on", "debug-errors", screenshot)

    # SCEP: an enrollment that polled, and one refused.
    for status, message_type in (("PENDING", "PKCSReq (19)"), ("SUCCESS", "CertPoll (20)")):
        scep_services.record_trace(
            source_ip="192.0.2.88",
            method="POST",
            path="/app/cert/scep",
            operation="PKIOperation",
            message_type=message_type,
            transaction_id="scep-polled",
            pki_status=status,
        )
    scep_services.record_trace(
        source_ip="192.0.2.89",
        method="GET",
        path="/app/cert/scep",
        operation="PKIOperation",
        message_type="PKCSReq (19)",
        transaction_id="scep-refused",
        pki_status="FAILURE",
        fail_info="badRequest (2)",
        fail_text="The challenge password is wrong for this subject and the request is refused",
    )
    page.goto(f"{live_server.url}/debug/cmp/?protocol=scep")
    assert page.locator(".scep-group").count() == 2
    refused = page.locator(".scep-group.tx-failed")
    assert "badRequest" in refused.locator("svg.sequence g.step.failed").inner_html()
    polled = page.locator(".scep-group:not(.tx-failed) svg.sequence g.step")
    labels = polled.evaluate_all("(steps) => steps.map((g) => g.getAttribute('data-label'))")
    assert labels == ["POST PKCSReq", "CertRep PENDING", "POST CertPoll", "CertRep SUCCESS"]
    at_widths(page, f"{live_server.url}/debug/cmp/?protocol=scep", "debug-scep", screenshot)

    # The ASN.1 tree of the ir: two levels open, the third collapsed until clicked.
    ir = CMPTrace.objects.filter(sender_kid="fgt-logs", body_type="ir").first()
    page.goto(f"{live_server.url}/debug/cmp/{ir.pk}/")
    tree = page.locator(".card", has=page.locator("h2", has_text="Request")).locator(".asn1-root")
    assert tree.locator('details[data-depth="0"]').first.get_attribute("open") is not None
    assert tree.locator('details[data-depth="1"][open]').count() >= 2  # header, body
    header = tree.locator("summary", has=page.locator(".asn1-field", has_text="header")).first
    assert header.is_visible() and "PKIHeader" in header.inner_text()
    assert tree.locator("details[data-depth='2'][open]").count() == 0
    sender = tree.locator(
        "xpath=//details[@data-depth='2'][summary/span[@class='asn1-field' and text()='sender']]"
    ).first
    assert sender.get_attribute("open") is None
    name = sender.locator("xpath=./ul/li").first
    assert not name.is_visible()
    sender.locator("xpath=./summary").click()
    assert sender.get_attribute("open") is not None and name.is_visible()
    tree.screenshot(path=str(SCREENSHOTS / "debug-asn1-tree.png"))
    page.wait_for_timeout(100)
    assert page.locator("svg.sequence").count() == 1
    screenshot(page, "debug-trace-tree")
    at_widths(page, f"{live_server.url}/debug/cmp/{ir.pk}/", "debug-trace", screenshot)
