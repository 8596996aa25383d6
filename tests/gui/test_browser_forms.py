"""The one-time forms in a real browser: the PKCS#12 result page and its single download,
no duplicate on reload or resubmission, buttons disabled with a working state while a
submission runs, CA fields on CMP > General's default CA, a certificate on hold."""

from __future__ import annotations

import re

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from certauth import services
from certauth.models import Certificate, CertificateAuthority
from cmp.models import CMPConfig

pytestmark = pytest.mark.django_db(transaction=True)

PASSPHRASE = "browser-once-p12"


def fill_generated(page, ca, cn: str) -> None:
    page.select_option("select[name=ca]", str(ca.pk))
    page.check("input[name=source][value=generate]")
    page.fill("input[name=common_name]", cn)
    page.fill("textarea[name=sans]", f"DNS:{cn}")
    page.fill("input[name=passphrase]", PASSPHRASE)
    page.fill("input[name=passphrase_again]", PASSPHRASE)


def test_pkcs12_result_page_downloads_once(page, login, live_server, root_ca, tmp_path):
    url = live_server.url
    login(page)
    page.goto(f"{url}/cert/services/new/")
    fill_generated(page, root_ca, "once.example.com")
    page.click("button[type=submit]:has-text('OK')")
    page.wait_for_selector("#issued-line")
    cert = Certificate.objects.get()
    assert re.fullmatch(rf"{url}/cert/{cert.pk}/issued/[0-9a-z]+/", page.url)
    assert page.inner_text("#issued-line") == (
        f'Certificate "CN=once.example.com" issued ({cert.serial_colons}); '
        "the private key is not stored."
    )
    assert page.get_attribute("#certificate-link", "href") == f"/cert/{cert.pk}/"
    result = page.url

    with page.expect_download() as download_info:
        page.click("#download-link")
    download = download_info.value
    assert download.suggested_filename == "once.example.com.p12"
    saved = tmp_path / "once.p12"
    download.save_as(saved)
    key, certificate, chain = pkcs12.load_key_and_certificates(
        saved.read_bytes(), PASSPHRASE.encode()
    )
    assert certificate == cert.certificate and key is not None and len(chain) == 1
    # The link is gone from the page; a reload shows the file is gone from the server.
    page.wait_for_selector("#one-time-download .download-gone")
    page.reload()
    assert page.url == result
    assert "no longer on the server" in page.inner_text("#download-gone")
    # The download URL itself, typed again: nothing, and the page says why.
    page.goto(f"{result}download/")
    assert page.url == result
    assert "already downloaded" in page.inner_text(".messages")
    assert Certificate.objects.count() == 1


@pytest.fixture
def bfcache_page(browser):
    """A page of a Chromium that keeps pages for Back as browsers do (Playwright turns
    the back-forward cache off by default)."""
    from tests.gui.conftest import CHROMIUM, CHROMIUM_ARGS

    own = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        ignore_default_args=["--disable-back-forward-cache"],
    )
    context = own.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    own.close()


def test_reload_and_resubmission_issue_no_duplicate(bfcache_page, login, live_server, root_ca):
    page, url = bfcache_page, live_server.url
    login(page)
    page.goto(f"{url}/cert/services/new/")
    fill_generated(page, root_ca, "dup.example.com")
    page.click("button[type=submit]:has-text('OK')")
    page.wait_for_selector("#issued-line")
    result = page.url
    page.reload()
    page.wait_for_selector("#issued-line")
    assert Certificate.objects.count() == 1
    # Back to the page of the form, as it was (its buttons usable again), and OK again:
    # its token was taken, so nothing is issued and the browser goes to the first result.
    page.go_back(wait_until="commit")  # a page from the back-forward cache fires no load
    page.wait_for_url(f"{url}/cert/services/new/", wait_until="commit")
    assert page.input_value("input[name=common_name]") == "dup.example.com"
    button = page.locator("button[type=submit]:has-text('OK')")
    assert button.is_enabled()
    button.click()
    page.wait_for_url(result)
    assert "no second certificate was issued" in page.inner_text(".messages")
    assert Certificate.objects.count() == 1


def test_buttons_disabled_with_a_working_state(page, login, live_server):
    url = live_server.url
    login(page)
    page.goto(f"{url}/ca/local/new/")
    page.fill("input[name=name]", "slow.root")
    page.fill("input[name=common_name]", "Slow Root CA")
    page.select_option("select[name=key]", "rsa-4096")
    # Hold the POST in the browser until the working state has been looked at.
    held = []
    posts = []

    def hold(route):
        if route.request.method == "POST":
            posts.append(route.request)
            held.append(route)
        else:
            route.continue_()

    page.route("**/ca/local/new/", hold)
    # Clicked and read in one script: once the POST is on its way, Playwright's own calls
    # would wait for the navigation to finish first.
    state = page.evaluate(
        """() => new Promise(resolve => {
            const form = document.querySelector("form.form");
            const button = form.querySelector("button[type=submit]");
            const pause = ms => new Promise(done => setTimeout(done, ms));
            button.click();
            pause(100).then(() => {
                const seen = {disabled: button.disabled, label: button.textContent,
                              busy: form.getAttribute("aria-busy"),
                              note: (form.querySelector(".working-note") || {}).textContent};
                // A second click, and a script's submit, do nothing.
                button.click();
                form.requestSubmit();
                return pause(300).then(() => resolve(seen));
            });
        })"""
    )
    assert state["disabled"] and state["label"] == "Working…" and state["busy"] == "true"
    assert "generating its key" in state["note"]
    assert len(posts) == 1
    held[0].continue_()
    page.wait_for_selector("text=Local CA slow.root was created.")
    ca = CertificateAuthority.objects.get(name="slow.root")
    assert ca.certificate.public_key().key_size == 4096
    assert CertificateAuthority.objects.count() == 1


def test_ca_field_follows_the_cmp_default_ca(page, login, live_server, root_ca):
    other = services.create_ca(name="zz.default", subject="CN=ZZ Default CA", key_type="ec")
    config = CMPConfig.load()
    config.default_ca = other
    config.save()
    login(page)
    for path in ("/cert/services/new/", "/cert/users/new/", "/cmp/enrollments/add/"):
        page.goto(f"{live_server.url}{path}")
        assert page.input_value("select[name=ca]") == str(other.pk), path
    # Set in CMP > General, the new default is what the forms show.
    page.goto(f"{live_server.url}/cmp/general/")
    page.select_option("select[name=default_ca]", str(root_ca.pk))
    page.click("button[type=submit]:has-text('OK')")
    page.goto(f"{live_server.url}/cert/services/new/")
    assert page.input_value("select[name=ca]") == str(root_ca.pk)


def test_a_held_certificate_shows_on_hold(page, login, live_server, root_ca):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert = services.issue_certificate(
        ca=root_ca,
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "held.example.com")]),
        public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        kind=Certificate.Kind.LOCAL_SERVICE,
    )
    login(page)
    page.goto(f"{live_server.url}/cert/{cert.pk}/")
    page.select_option("select[name=reason]", "certificateHold")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("form[action$='/revoke/'] button:has-text('Revoke')")
    page.wait_for_selector(".messages")
    assert "was put on hold" in page.inner_text(".messages")
    assert page.inner_text("dl.detail .status") == "On hold"
    page.goto(f"{live_server.url}/cert/services/?status=hold")
    assert page.inner_text("select[name=status] option:checked") == "On hold"
    assert "held.example.com" in page.inner_text("table.list")
    assert page.locator("table.list .status-hold").inner_text() == "On hold"
    page.goto(f"{live_server.url}/cert/services/?status=revoked")
    assert "held.example.com" not in page.inner_text("table.list")
