"""Forms that create something once: the one-time token, the PKCS#12 result page and its
download, CA fields starting on CMP > General's default CA, certificates on hold.

Browser versions of the same (working state, real downloads) are in test_browser_forms.py.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from certauth import services
from certauth.models import Certificate, LogEntry
from cmp.models import CMPConfig
from scep.models import SCEPConfig

pytestmark = pytest.mark.django_db

PASSPHRASE = "result-page-p12"


def generate_data(ca, token: str | None = None, cn: str = "once.example.com") -> dict:
    data = {
        "name": "",
        "ca": str(ca.pk),
        "source": "generate",
        "common_name": cn,
        "key": "ec-p256",
        "passphrase": PASSPHRASE,
        "passphrase_again": PASSPHRASE,
        "sans": f"DNS:{cn}",
        "key_usage": ["digitalSignature"],
        "ext_key_usage": ["serverAuth"],
        "validity_days": "365",
        "hash_name": "",
    }
    if token is not None:
        data["form_token"] = token
    return data


def form_token(client: Client, url: str) -> str:
    content = client.get(url).content.decode()
    found = re.search(r'name="form_token" value="([0-9a-z]+)"', content)
    assert found, "the form carries a one-time token"
    return found.group(1)


def test_generated_key_goes_to_the_result_page_and_downloads_once(admin_client, root_ca):
    token = form_token(admin_client, "/cert/services/new/")
    response = admin_client.post("/cert/services/new/", generate_data(root_ca, token))
    cert = Certificate.objects.get()
    assert response.status_code == 302
    result = response["Location"]
    assert re.fullmatch(rf"/cert/{cert.pk}/issued/[0-9a-z]+/", result)

    page = admin_client.get(result).content.decode()
    assert (
        f'Certificate "{cert.subject}" issued ({cert.serial_colons}); '
        "the private key is not stored." in page
    )
    assert f'href="{result}download/"' in page and f'href="/cert/{cert.pk}/"' in page
    assert PASSPHRASE not in page and "PRIVATE KEY" not in page

    download = admin_client.get(f"{result}download/")
    assert download["Content-Type"] == "application/x-pkcs12"
    assert download["Cache-Control"] == "no-store"
    key, certificate, chain = pkcs12.load_key_and_certificates(
        download.content, PASSPHRASE.encode()
    )
    assert certificate == cert.certificate and key is not None and chain == [root_ca.certificate]

    # Once: the second click finds nothing, the result page says so.
    again = admin_client.get(f"{result}download/", follow=True)
    assert again.redirect_chain == [(result, 302)]
    assert "already downloaded" in again.content.decode()
    assert 'id="download-gone"' in again.content.decode()
    # Nothing of the PKCS#12 is left in the session table.
    assert all("data" not in s.get_decoded() for s in Session.objects.all())


def test_a_second_submission_issues_nothing(admin_client, root_ca):
    token = form_token(admin_client, "/cert/services/new/")
    first = admin_client.post("/cert/services/new/", generate_data(root_ca, token))
    second = admin_client.post("/cert/services/new/", generate_data(root_ca, token), follow=True)
    assert Certificate.objects.count() == 1
    # The repeat is sent to the first submission's result page, with a warning.
    assert second.redirect_chain[0] == (first["Location"], 302)
    assert "no second certificate was issued" in second.content.decode()
    # Reloading the result page is a GET: still one certificate.
    admin_client.get(first["Location"])
    assert Certificate.objects.count() == 1
    # A fresh page of the form issues again.
    token = form_token(admin_client, "/cert/services/new/")
    admin_client.post("/cert/services/new/", generate_data(root_ca, token, cn="two.example.com"))
    assert Certificate.objects.count() == 2


def test_an_invalid_submission_keeps_its_token(admin_client, root_ca):
    token = form_token(admin_client, "/cert/services/new/")
    bad = generate_data(root_ca, token)
    bad["passphrase_again"] = "other"
    response = admin_client.post("/cert/services/new/", bad)
    assert response.status_code == 200 and response.context["form_token"] == token
    admin_client.post("/cert/services/new/", generate_data(root_ca, token))
    assert Certificate.objects.count() == 1


def test_a_refused_submission_gets_a_fresh_token(admin_client, root_ca, settings):
    token = form_token(admin_client, "/cert/services/new/")
    # The CA's key can no longer be decrypted: the signing is refused after the form checks.
    settings.FAC_KEYSTORE_KEY = "another-keystore-key-0123456789abcdef"
    response = admin_client.post("/cert/services/new/", generate_data(root_ca, token))
    assert response.status_code == 200 and not Certificate.objects.exists()
    assert response.context["form_token"] != token


def test_token_and_download_belong_to_their_session(admin_client, admin_user, root_ca):
    token = form_token(admin_client, "/cert/services/new/")
    other = Client()
    other.force_login(admin_user)
    # Another login session cannot use this page's token...
    response = other.post("/cert/services/new/", generate_data(root_ca, token), follow=True)
    assert response.redirect_chain == [("/cert/services/", 302)]
    assert "nothing was done" in response.content.decode() and not Certificate.objects.exists()
    # ...nor download this session's PKCS#12.
    result = admin_client.post("/cert/services/new/", generate_data(root_ca, token))["Location"]
    response = other.get(f"{result}download/")
    assert response.status_code == 302 and response["Location"] == result
    assert admin_client.get(f"{result}download/")["Content-Type"] == "application/x-pkcs12"


def test_download_expires(admin_client, root_ca):
    result = admin_client.post("/cert/services/new/", generate_data(root_ca))["Location"]
    key = result.rstrip("/").rsplit("/", 1)[1]
    expiry = Session.objects.get(session_key=key).expire_date
    assert dt.timedelta(minutes=9) < expiry - timezone.now() <= dt.timedelta(minutes=10)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now())
    assert 'id="download-gone"' in admin_client.get(result).content.decode()
    assert admin_client.get(f"{result}download/").status_code == 302
    # Expired rows are removed when the next download is stored.
    admin_client.post("/cert/services/new/", generate_data(root_ca, cn="next.example.com"))
    assert not Session.objects.filter(session_key=key).exists()


def test_ca_key_export_goes_to_a_result_page(admin_client, root_ca):
    url = f"/ca/{root_ca.pk}/export/pkcs12/"
    token = form_token(admin_client, url)
    data = {"passphrase": PASSPHRASE, "passphrase_again": PASSPHRASE, "form_token": token}
    result = admin_client.post(url, data)["Location"]
    assert result.startswith(f"/ca/{root_ca.pk}/exported/")
    again = admin_client.post(url, data, follow=True)
    assert "the key was not exported again" in again.content.decode()
    assert LogEntry.objects.filter(message__contains="was exported (PKCS#12)").count() == 1
    page = admin_client.get(result).content.decode()
    assert "Download PKCS#12" in page and PASSPHRASE not in page
    download = admin_client.get(f"{result}download/")
    key, certificate, _ = pkcs12.load_key_and_certificates(download.content, PASSPHRASE.encode())
    assert certificate == root_ca.certificate and key is not None
    assert admin_client.get(f"{result}download/").status_code == 302


def test_ca_fields_start_on_the_cmp_default_ca(admin_client, root_ca):
    # "gui.root" sorts first; CMP > General names the other one.
    other = services.create_ca(name="zz.default", subject="CN=ZZ Default CA", key_type="ec")
    pages = ["/cert/services/new/", "/cert/users/new/", "/cmp/enrollments/add/"]
    for url in pages:
        assert admin_client.get(url).context["form"]["ca"].value() in (None, "", root_ca.pk)
    config = CMPConfig.load()
    config.default_ca = other
    config.save()
    for url in [*pages, "/scep/enrollments/add/"]:
        assert admin_client.get(url).context["form"]["ca"].value() == other.pk, url
    # SCEP > General's own default CA comes first on SCEP pages.
    scep = SCEPConfig.load()
    scep.default_ca = root_ca
    scep.save()
    assert admin_client.get("/scep/enrollments/add/").context["form"]["ca"].value() == root_ca.pk
    # A default CA that cannot sign is not offered.
    services.revoke_ca(other, reason="cACompromise")
    assert admin_client.get("/cert/services/new/").context["form"]["ca"].value() != other.pk


def test_a_certificate_on_hold_is_on_hold(admin_client, root_ca):
    token = form_token(admin_client, "/cert/services/new/")
    admin_client.post("/cert/services/new/", generate_data(root_ca, token))
    cert = Certificate.objects.get()
    response = admin_client.post(
        f"/cert/{cert.pk}/revoke/", {"reason": "certificateHold"}, follow=True
    )
    page = response.content.decode()
    assert f"({cert.serial_colons}) was put on hold." in page
    assert '<span class="status status-hold">On hold</span>' in page
    for status, listed in [("hold", True), ("revoked", False), ("all", True)]:
        listing = admin_client.get(f"/cert/services/?status={status}")
        assert (cert in list(listing.context["listing"].page)) is listed, status
        if listed:
            assert '<span class="status status-hold">On hold</span>' in listing.content.decode()
    assert '<option value="hold"' in listing.content.decode()
