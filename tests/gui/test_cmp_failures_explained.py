"""What the event log tells an administrator about a CMP client in trouble (issue 13).

Real ``openssl cmp`` against the live server: a client that pinned the root CA
while its enrollment's intermediate CA answers gets a line naming both CAs; a
signature-protected request is logged under the enrollment ID, not the 40-digit
key ID (which stays in the message).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from certauth import events, services
from certauth.models import LogEntry
from tests.cmp.conftest import OPENSSL, requires_openssl_cmp

pytestmark = [pytest.mark.django_db(transaction=True), requires_openssl_cmp]


def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [OPENSSL, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def cmp_args(live_server, *args: str) -> list[str]:
    server = urlsplit(live_server.url).netloc
    return ["cmp", "-server", server, "-path", "/app/cert/cmp2", *args]


@pytest.fixture
def hierarchy(db, tmp_path):
    root = services.create_ca(name="fac.cz.root", subject="CN=fac.cz.root", key_type="ec")
    sub = services.create_ca(name="fac.cz.sub", subject="CN=fac.cz.sub", key_type="ec", parent=root)
    (tmp_path / "root.pem").write_text(root.certificate_pem)
    (tmp_path / "sub.pem").write_text(sub.certificate_pem)
    assert openssl("genrsa", "-out", "device.key", "2048", cwd=tmp_path).returncode == 0
    return root, sub


def test_a_client_that_pinned_the_root_is_told_which_ca_to_pin(live_server, tmp_path, hierarchy):
    _root, sub = hierarchy
    services.create_enrollment(reference="fgt-pin", password="fortinet9", ca=sub)
    run = openssl(
        *cmp_args(live_server, "-cmd", "ir", "-srvcert", "root.pem", "-ref", "fgt-pin"),
        *("-secret", "pass:fortinet9", "-newkey", "device.key", "-subject", "/CN=fgt-pin"),
        *("-certout", "device.crt"),
        cwd=tmp_path,
    )
    assert run.returncode != 0
    assert "does not match expected sender = /CN=fac.cz.root" in run.stdout
    entry = LogEntry.objects.get(log_type_id=events.CMP_WRONG_CA_PINNED.id)
    assert entry.message == (
        "CMP ir of enrollment 'fgt-pin': the client expects replies from CN=fac.cz.root; "
        "it must pin CN=fac.cz.sub, the CA of enrollment 'fgt-pin'"
    )
    assert (entry.level, entry.user, entry.subcategory) == ("warning", "fgt-pin", "CMP")
    assert entry.source_ip == "127.0.0.1" and entry.params["transaction_id"]


def test_the_right_pin_and_a_signed_request_logged_by_enrollment_id(
    live_server, tmp_path, hierarchy
):
    _root, sub = hierarchy
    services.create_enrollment(reference="fgt-ok", password="fortinet8", ca=sub)
    run = openssl(
        *cmp_args(live_server, "-cmd", "ir", "-srvcert", "sub.pem", "-ref", "fgt-ok"),
        *("-secret", "pass:fortinet8", "-newkey", "device.key", "-subject", "/CN=fgt-ok"),
        *("-certout", "device.crt"),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout
    assert not LogEntry.objects.filter(log_type_id=events.CMP_WRONG_CA_PINNED.id).exists()
    # A kur signed by the certificate, with the same key: refused (badCertTemplate).
    run = openssl(
        *cmp_args(live_server, "-cmd", "kur", "-srvcert", "sub.pem"),
        *("-cert", "device.crt", "-key", "device.key", "-newkey", "device.key"),
        *("-certout", "renewed.crt"),
        cwd=tmp_path,
    )
    assert run.returncode != 0
    failed = LogEntry.objects.get(log_type_id=events.CMP_REQUEST_FAILED.id)
    assert failed.user == "fgt-ok"  # not the hexadecimal key ID
    assert failed.params["sender"] != "fgt-ok" and len(failed.params["sender"]) == 40
    assert failed.params["sender"] in failed.message  # the key ID stays in the message
    assert failed.params["reference"] == "fgt-ok"
