"""Creating an enrollment, toggling debug mode and filtering the logs, in a real browser."""

from __future__ import annotations

import pytest

from certauth.models import Enrollment, LogEntry
from cmp import services as cmp_services
from cmp.models import CMPConfig
from tests.gui.test_cmp_general_debug import CERTCONF, IR

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "Browser-Secret-4471"


def test_create_enrollment_in_browser(page, login, live_server, root_ca, screenshot):
    login(page)
    page.click("nav >> text=Enrollment Requests")
    page.wait_for_url(f"{live_server.url}/cmp/enrollments/")
    page.click("text=Create New")
    page.fill("input[name=reference]", "fgt-browser")
    page.fill("input[name=password]", SECRET)
    page.select_option("select[name=ca]", str(root_ca.pk))
    page.fill("input[name=subject]", "CN=fgt-browser.local")
    # A SAN without its type is refused with a field error.
    page.fill("textarea[name=allowed_sans]", "fgt-browser.local")
    page.check("input[name=ext_key_usage][value=serverAuth]")
    page.click("button[type=submit]:has-text('OK')")
    page.wait_for_selector("#field-allowed_sans .errorlist")
    assert "must be written as TYPE:value" in page.inner_text("#field-allowed_sans")
    assert page.input_value("input[name=password]") == ""  # never sent back
    screenshot(page, "b-enrollment-form-error")

    page.fill("input[name=password]", SECRET)
    page.fill("textarea[name=allowed_sans]", "DNS:fgt-browser.local\nIP:192.0.2.44")
    page.select_option("select[name=method]", "manual")
    page.click("button[type=submit]:has-text('OK')")
    page.wait_for_selector("text=Enrollment request fgt-browser was created.")
    enrollment = Enrollment.objects.get(reference="fgt-browser")
    # Created approved: with the manual method each certificate request waits instead.
    assert (enrollment.status, enrollment.method) == (Enrollment.Status.APPROVED, "manual")
    assert enrollment.ext_key_usage == ["serverAuth"]
    assert SECRET not in page.content()
    screenshot(page, "b-enrollment-detail")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click(".toolbar >> text=Reject")
    page.wait_for_selector("text=Enrollment request fgt-browser was rejected.")
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.REJECTED
    page.click(".toolbar >> text=Approve")
    page.wait_for_selector("text=Enrollment request fgt-browser was approved.")
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.APPROVED

    page.goto(f"{live_server.url}/cmp/enrollments/")
    page.wait_for_selector("#enrollments >> text=fgt-browser")
    screenshot(page, "b-enrollment-list")


def test_debug_mode_in_browser(page, login, live_server, screenshot):
    cmp_services.record_trace(
        source_ip="192.0.2.5",
        transaction_id="ab" * 16,
        sender_kid="fgt100f",
        body_type="ir",
        lines="ir from 192.0.2.5: accepted",
        request_der=IR,
        response_der=CERTCONF,
    )
    login(page)
    page.click("nav >> text=SCEP/CMP")
    page.wait_for_url(f"{live_server.url}/debug/cmp/")
    page.click("button:has-text('Enter debug mode')")
    page.wait_for_selector("text=CMP debug mode is on")
    assert CMPConfig.load().debug
    screenshot(page, "b-debug-on")
    page.click("text=Decode")
    page.wait_for_selector("text=PKIBody: ir")
    screenshot(page, "b-debug-trace")
    page.go_back()
    page.click("button:has-text('Exit debug mode')")
    page.wait_for_selector("text=CMP debug mode is off.")
    assert not CMPConfig.load().debug
    with page.expect_download() as download:
        page.click("text=Download pcap")
    assert download.value.suggested_filename.endswith(".pcap")


def test_cmp_general_in_browser(page, login, live_server, root_ca, screenshot):
    login(page)
    page.click("nav >> text=General")
    page.wait_for_url(f"{live_server.url}/cmp/general/")
    page.select_option("select[name=default_ca]", str(root_ca.pk))
    page.fill("input[name=confirm_wait]", "0")
    page.click("button:has-text('OK')")
    page.wait_for_selector("#field-confirm_wait .errorlist")
    page.fill("input[name=confirm_wait]", "120")
    page.click("button:has-text('OK')")
    page.wait_for_selector("text=CMP settings saved.")
    cfg = CMPConfig.load()
    assert cfg.default_ca_id == root_ca.pk and cfg.confirm_wait == 120
    screenshot(page, "b-cmp-general")


def test_logs_filter_in_browser(page, login, live_server, screenshot):
    LogEntry.objects.log(
        'Certificate "CN=alpha" signed', user="alice", log_type=30201, source_ip="192.0.2.1"
    )
    LogEntry.objects.log(
        "CMP request failed: badPOP",
        level="error",
        subcategory="CMP",
        log_type=30401,
        source_ip="198.51.100.7",
    )
    LogEntry.objects.log(
        "Enrollment changed", user="bob", log_type=30302, subcategory="Admin Configuration"
    )
    login(page)
    page.click("nav >> text=Logs")
    page.wait_for_url(f"{live_server.url}/logging/logs/")
    assert page.locator("#logs tbody tr").count() >= 3
    assert page.input_value("select[name=period]") == "24h"
    page.select_option("select[name=level]", "error")
    page.click("button:has-text('Apply')")
    page.wait_for_url("**/logging/logs/?*level=error*")
    assert "period=24h" in page.url
    rows = page.locator("#logs tbody tr")
    assert rows.count() == 1
    assert "badPOP" in rows.first.inner_text()
    screenshot(page, "b-logs-filtered")
    rows.first.locator("td.log-message").click()
    page.wait_for_selector("text=Raw")
    assert 'msg="CMP request failed: badPOP"' in page.inner_text("pre")
    screenshot(page, "b-log-detail")
