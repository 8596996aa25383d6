"""CAs, a server-generated certificate, revocation and the CRL, in a real browser."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from certauth.models import Certificate, CertificateAuthority


@pytest.mark.django_db(transaction=True)
def test_ca_certificate_and_crl_flow(live_server, page, login, screenshot, tmp_path):
    url = live_server.url
    page.on("dialog", lambda dialog: dialog.accept())

    page.goto(f"{url}/login/")
    screenshot(page, "a01-login")
    login(page)
    screenshot(page, "a02-dashboard")

    # A root CA through the form.
    page.goto(f"{url}/ca/local/new/")
    page.fill("input[name=name]", "browser.root")
    page.check("input[name=ca_type][value=root]")
    page.fill("input[name=common_name]", "Browser Root CA")
    page.fill("input[name=organization]", "Example")
    page.fill("input[name=country]", "CZ")
    page.select_option("select[name=key]", "ec-p256")
    screenshot(page, "a03-ca-create")
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(f"{url}/ca/*/")
    assert "Local CA browser.root was created." in page.inner_text(".messages")
    root = CertificateAuthority.objects.get(name="browser.root")

    # An intermediate signed by it.
    page.goto(f"{url}/ca/local/new/")
    page.fill("input[name=name]", "browser.sub")
    page.check("input[name=ca_type][value=intermediate]")
    page.select_option("select[name=parent]", str(root.pk))
    page.fill("input[name=common_name]", "Browser Issuing CA")
    page.select_option("select[name=key]", "ec-p256")
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(f"{url}/ca/*/")
    sub = CertificateAuthority.objects.get(name="browser.sub")
    assert sub.parent_id == root.pk

    # Both listed; the root's detail page decodes the certificate.
    page.goto(f"{url}/ca/local/")
    rows = page.inner_text("table.list tbody")
    assert "browser.root" in rows and "browser.sub" in rows and "Intermediate CA" in rows
    screenshot(page, "a04-local-cas")
    page.click("text=browser.root")
    page.wait_for_url(f"{url}/ca/{root.pk}/")
    detail = page.inner_text("main")
    assert root.serial_colons in detail and "SHA-256 fingerprint" in detail
    assert "Basic Constraints" in detail
    screenshot(page, "a05-ca-detail")

    # A local-service certificate with a key generated on the server: PKCS#12 download.
    page.goto(f"{url}/cert/services/new/")
    page.select_option("select[name=ca]", str(sub.pk))
    page.check("input[name=source][value=generate]")
    page.fill("input[name=common_name]", "www.example.com")
    page.fill("textarea[name=sans]", "DNS:www.example.com\nIP:192.0.2.10")
    page.fill("input[name=passphrase]", "browser-p12")
    page.fill("input[name=passphrase_again]", "browser-p12")
    screenshot(page, "a06-cert-create")
    page.click("button[type=submit].btn-primary")
    page.wait_for_selector("#issued-line")  # the result page (tests/gui/test_browser_forms.py)
    with page.expect_download() as download_info:
        page.click("#download-link")
    download = download_info.value
    assert download.suggested_filename == "www.example.com.p12"
    saved = tmp_path / "www.p12"
    download.save_as(saved)
    key, certificate, chain = pkcs12.load_key_and_certificates(saved.read_bytes(), b"browser-p12")
    cert = Certificate.objects.get(subject="CN=www.example.com")
    assert certificate == cert.certificate and key is not None and len(chain) == 2

    # A bad SAN is a form error in the page.
    page.goto(f"{url}/cert/services/new/")
    page.check("input[name=source][value=generate]")
    page.fill("input[name=common_name]", "bad.example.com")
    page.fill("textarea[name=sans]", "bad.example.com")
    page.fill("input[name=passphrase]", "x")
    page.fill("input[name=passphrase_again]", "x")
    page.click("button[type=submit].btn-primary")
    assert "must be written as TYPE:value" in page.inner_text("#field-sans")
    screenshot(page, "a07-cert-form-error")

    # Listed under Local Services; revoke from its detail page.
    page.goto(f"{url}/cert/services/")
    assert "www.example.com" in page.inner_text("table.list")
    screenshot(page, "a08-local-services")
    page.click("text=www.example.com")
    page.wait_for_url(f"{url}/cert/{cert.pk}/")
    page.select_option("select[name=reason]", "keyCompromise")
    page.click("form[action$='/revoke/'] button")
    page.wait_for_url(f"{url}/cert/{cert.pk}/")
    assert "was revoked" in page.inner_text(".messages")
    cert.refresh_from_db()
    assert cert.status == Certificate.Status.REVOKED and cert.revocation_reason == "keyCompromise"
    screenshot(page, "a09-cert-detail-revoked")

    # Regenerate the issuing CA's CRL: one revoked certificate.
    page.goto(f"{url}/ca/crls/")
    row = page.locator("tr[data-ca='browser.sub']")
    row.locator("button:has-text('Regenerate')").click()
    page.wait_for_url(f"{url}/ca/crls/")
    assert "1 revoked certificate" in page.inner_text(".messages")
    assert page.locator("tr[data-ca='browser.sub'] .revoked-count").inner_text().startswith("1")
    screenshot(page, "a10-crls")

    page.goto(f"{url}/cert/users/")
    screenshot(page, "a11-users")
    page.goto(f"{url}/ca/trusted/")
    screenshot(page, "a12-trusted-cas")
    page.goto(f"{url}/")
    screenshot(page, "a13-dashboard-after")

    # Log out with the header button.
    page.click("header button:has-text('Logout')")
    page.wait_for_url(f"{url}/login/")


@pytest.mark.django_db(transaction=True)
def test_readonly_browser_sees_no_change_buttons(
    live_server, page, login, readonly_user, screenshot
):
    from tests.gui.conftest import READONLY_PASSWORD, READONLY_USERNAME

    login(page, READONLY_USERNAME, READONLY_PASSWORD)
    page.goto(f"{live_server.url}/ca/local/")
    toolbar = page.inner_text(".app-main")
    assert "Create New" not in toolbar and "Import" not in toolbar
    assert "read-only" in page.inner_text("header")
    screenshot(page, "a14-readonly-local-cas")
