"""System > Alerts in a real browser (settings, Run now, the warning in Logs, the e-mail),
and the banner every page shows while debug mode is on."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core import mail

from certauth import services
from certauth.models import AlertSettings

pytestmark = pytest.mark.django_db(transaction=True)


def _issue(ca, cn: str, days: int):
    return services.issue_certificate(
        ca=ca,
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]),
        public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        days=days,
    )


def test_alert_settings_and_run_now(live_server, page, login, root_ca, screenshot):
    url = live_server.url
    soon = _issue(root_ca, "soon.example.net", 10)
    later = _issue(root_ca, "later.example.net", 200)
    login(page)

    page.click("nav.app-nav >> text=Alerts")
    page.wait_for_url(f"{url}/system/alerts/")
    window = page.inner_text("#expiring")
    assert "Within the window (30 days)" in window
    assert "CN=soon.example.net" in window and "CN=later.example.net" not in window
    assert "none: warnings go to the event log only" in page.inner_text("#mail-settings")

    # Bad input: each error beside its field.
    page.fill("input[name=email]", "not-an-address")
    page.fill("input[name=warning_days]", "30")
    page.click("#alert-settings button[type=submit]")
    assert "not-an-address is not an e-mail address." in page.inner_text("#field-email .errorlist")
    page.fill("input[name=email]", "pki@example.com")
    page.fill("input[name=warning_days]", "0")
    page.click("#alert-settings button[type=submit]")
    assert "The warning window is 1 to 3650 days." in page.inner_text(
        "#field-warning_days .errorlist"
    )
    page.fill("input[name=warning_days]", "30")
    page.click("#alert-settings button[type=submit]")
    page.wait_for_url(f"{url}/system/alerts/")
    assert "Alert settings saved." in page.inner_text(".messages")
    cfg = AlertSettings.load()
    assert (cfg.email, cfg.warning_days) == ("pki@example.com", 30)
    assert "pki@example.com" in page.inner_text("#mail-settings")
    screenshot(page, "e13-alerts")

    # Run now: the certificate inside the window, not the other; one summary e-mail.
    page.click("#alert-run button[type=submit]")
    page.wait_for_selector("#alert-report")
    report = page.inner_text("#alert-report")
    assert "Run now: 1 warning" in report
    assert f'Certificate "CN=soon.example.net" ({soon.serial_colons}) expires on' in report
    assert "later.example.net" not in report and later.serial_colons not in report
    assert "Summary e-mailed to pki@example.com." in report
    screenshot(page, "e14-alerts-run")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["pki@example.com"]
    assert mail.outbox[0].subject == "[fac-ca] 1 certificate(s) expire within 30 days"
    assert soon.serial_colons in mail.outbox[0].body

    # The warning is in Logs, in the event log's wording.
    page.click("#alert-report >> text=Logs")
    page.wait_for_url(f"{url}/logging/logs/")
    logs = page.inner_text("main")
    assert f'Certificate "CN=soon.example.net" ({soon.serial_colons}) expires on' in logs
    assert "Expiry alert sent to pki@example.com: 1 certificates expire within 30 days" in logs
    assert "Alert settings changed: alert e-mail address: none -> pki@example.com" in logs

    # A second run warns about nothing new; asking for everything warns again.
    page.goto(f"{url}/system/alerts/")
    page.click("#alert-run button[type=submit]")
    page.wait_for_selector("#alert-report")
    assert "Run now: 0 warnings" in page.inner_text("#alert-report")
    assert "Nothing entered the 30-day window since the last run." in page.inner_text(
        "#alert-report"
    )
    page.check("input[name=everything]")
    page.click("#alert-run button[type=submit]")
    page.wait_for_selector("#alert-report")
    assert "Run now: 1 warning" in page.inner_text("#alert-report")
    assert len(mail.outbox) == 2


def test_read_only_administrators_see_alerts_without_changing(
    live_server, page, login, readonly_user
):
    from tests.gui.conftest import READONLY_PASSWORD, READONLY_USERNAME

    login(page, READONLY_USERNAME, READONLY_PASSWORD)
    page.goto(f"{live_server.url}/system/alerts/")
    assert page.locator("input[name=email]").is_disabled()
    assert page.locator("#alert-settings button[type=submit]").count() == 0
    assert page.locator("#alert-run").count() == 0


def test_debug_banner_while_debug_mode_is_on(live_server, page, login, screenshot):
    url = live_server.url
    login(page)
    assert page.locator("#debug-banner").count() == 0

    page.goto(f"{url}/debug/cmp/")
    page.click("text=Enter debug mode")
    page.wait_for_url(f"{url}/debug/cmp/")
    for path in ("/", "/cert/users/", "/system/alerts/", "/logging/logs/"):
        page.goto(f"{url}{path}")
        banner = page.locator("#debug-banner")
        assert banner.count() == 1, path
        assert "Debug mode is on: exchanges are recorded" in banner.inner_text()
    page.set_viewport_size({"width": 1024, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot(page, "e15-debug-banner")
    page.click("#debug-banner >> text=Debug > SCEP/CMP")
    page.wait_for_url(f"{url}/debug/cmp/")

    page.click("text=Exit debug mode")
    page.wait_for_url(f"{url}/debug/cmp/")
    page.goto(f"{url}/")
    assert page.locator("#debug-banner").count() == 0
