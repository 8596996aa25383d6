"""The SCEP server as deployed (gunicorn, several workers) driven by Debian's real ``scepclient``.

The set-up is the documented one: ``init_ca``, ``scep_config --legacy
--single-des`` (scepclient 2.1.0 always signs with SHA-1 and encrypts with
DES), ``add_enrollment --protocol scep`` for a regular and a wildcard
enrollment. Each issued certificate is checked with ``openssl verify``, the
failures by scepclient's exit code and the event log, and the Logs and debug
pages by an administrator's HTTP session.
"""

from __future__ import annotations

import http.cookiejar
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest
from cryptography import x509

from tests.cmp.conftest import OPENSSL, Server
from tests.cmp.conftest import cmp_server as cmp_server  # noqa: F401 - the fixture

SCEPCLIENT = shutil.which("scepclient")
pytestmark = pytest.mark.skipif(
    SCEPCLIENT is None or OPENSSL is None,
    reason="scepclient (Debian package 'scep') or openssl is not installed",
)

CHALLENGE = "Device1-Challenge"
WILDCARD = "Branch-Shared-Challenge"
# scepclient adds OU, O and C (defaults MDM, scep-client, US) to the CN.
DEVICE = "C=US, O=scep-client, OU=MDM, CN=device-1"
PATTERN = "C=US, O=scep-client, OU=MDM, CN=*.branch.example.net"
ADMIN_PASSWORD = "e2e-Admin-Passw0rd"
SIGNED = 'Certificate signing request "{subject}" signed with CA certificate "CN=fac.root"'


@dataclass
class Run:
    returncode: int
    output: str
    certificate: Path

    @property
    def issued(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate.read_bytes())


def scepclient_command(directory: Path, url: str, cn: str, challenge: str) -> list[str]:
    assert SCEPCLIENT is not None
    directory.mkdir(parents=True, exist_ok=True)
    return [
        SCEPCLIENT,
        "-server-url", url,
        "-private-key", str(directory / "key.pem"),
        "-certificate", str(directory / "cert.pem"),
        "-cn", cn,
        "-challenge", challenge,
    ]  # fmt: skip


def scepclient(directory: Path, url: str, cn: str, challenge: str, timeout: int = 120) -> Run:
    done = subprocess.run(
        scepclient_command(directory, url, cn, challenge),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=directory,
        stdin=subprocess.DEVNULL,
    )
    return Run(done.returncode, done.stdout + done.stderr, directory / "cert.pem")


def verify(server: Server, certificate: Path) -> subprocess.CompletedProcess:
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, "verify", "-CAfile", str(server.workdir / "fac.root.pem"), str(certificate)],
        capture_output=True,
        text=True,
        timeout=60,
    )


class Admin:
    """An administrator's browser session (login form, CSRF cookie)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        form = self.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        data = urllib.parse.urlencode(
            {"username": "admin", "password": ADMIN_PASSWORD, "csrfmiddlewaretoken": token}
        ).encode()
        request = urllib.request.Request(
            server.url + "/login/", data=data, headers={"Referer": server.url + "/login/"}
        )
        with self.opener.open(request, timeout=30) as response:
            assert "/login/" not in response.url

    def get(self, path: str) -> str:
        with self.opener.open(self.server.url + path, timeout=30) as response:
            return unescape(response.read().decode())


@pytest.fixture(scope="module")
def scep_server(cmp_server: Server) -> Server:  # noqa: F811 - the fixture above
    """The documented set-up on the product's server, with debug mode on."""
    server = cmp_server
    server.manage("init_ca", "fac.root", "CN=fac.root")
    (server.workdir / "fac.root.pem").write_text(server.manage("dump_ca", "fac.root").stdout)
    server.manage("scep_config", "--legacy", "--single-des")
    server.manage(
        "add_enrollment", "device-1", "--protocol", "scep", "--password", CHALLENGE,
        "--ca", "fac.root", "--subject", DEVICE,
    )  # fmt: skip
    server.manage(
        "add_enrollment", "branches", "--protocol", "scep", "--password", WILDCARD,
        "--ca", "fac.root", "--wildcard", "--subject-pattern", PATTERN,
    )  # fmt: skip
    server.manage("cmp_debug", "on")
    server.env["DJANGO_SUPERUSER_PASSWORD"] = ADMIN_PASSWORD
    server.manage(
        "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com"
    )
    return server


def log_messages(server: Server) -> list[str]:
    code = (
        "from certauth.models import LogEntry\n"
        "for m in LogEntry.objects.order_by('id').values_list('message', flat=True): print(m)"
    )
    return server.shell(code).splitlines()


def test_regular_enrollment(scep_server, tmp_path):
    run = scepclient(tmp_path, f"{scep_server.url}/app/cert/scep", "device-1", CHALLENGE)
    assert run.returncode == 0, run.output
    assert 'msg="server returned a certificate."' in run.output
    verified = verify(scep_server, run.certificate)
    assert verified.returncode == 0 and verified.stdout.endswith(": OK\n"), verified.stderr
    assert run.issued.subject.rfc4514_string() == "CN=device-1,OU=MDM,O=scep-client,C=US"
    assert SIGNED.format(subject=DEVICE) in log_messages(scep_server)


def test_wildcard_enrollment(scep_server, tmp_path):
    cn = "fw1.branch.example.net"
    run = scepclient(tmp_path, f"{scep_server.url}/app/cert/scep/", cn, WILDCARD)
    assert run.returncode == 0, run.output
    assert verify(scep_server, run.certificate).returncode == 0
    subject = f"C=US, O=scep-client, OU=MDM, CN={cn}"
    assert SIGNED.format(subject=subject) in log_messages(scep_server)
    listing = scep_server.manage("list_enrollments").stdout
    assert f"branches/{cn}" in listing


def test_wrong_challenge_gets_no_certificate(scep_server, tmp_path):
    run = scepclient(tmp_path, f"{scep_server.url}/app/cert/scep/", "device-1", "not-it")
    assert run.returncode == 1
    assert "PKCSReq (19) request failed, failInfo: badRequest (2)" in run.output
    assert not run.certificate.exists()
    assert (
        f"SCEP PKCSReq from {DEVICE} failed: Wrong challenge password for enrollment device-1 "
        f'("{DEVICE}"). (badRequest)'
    ) in log_messages(scep_server)


def test_unlisted_subject_gets_no_certificate(scep_server, tmp_path):
    run = scepclient(tmp_path, f"{scep_server.url}/app/cert/scep/", "fw1.elsewhere.net", WILDCARD)
    assert run.returncode == 1
    assert "failInfo: badRequest (2)" in run.output
    assert not run.certificate.exists()
    messages = log_messages(scep_server)
    assert any("does not match the subject pattern of enrollment branches" in m for m in messages)
    assert not any(WILDCARD in m or CHALLENGE in m for m in messages)


@pytest.mark.parametrize(
    ("path", "host"),
    [
        ("/app/cert/scep", "fw-app"),
        ("/app/cert/scep/", "fw-app-slash"),
        ("/cert/scep", "fw-legacy"),
        ("/cert/scep/", "fw-legacy-slash"),
        ("/cgi-bin/pkiclient.exe", "fw-pkiclient"),
    ],
)
def test_every_path(scep_server, tmp_path, path, host):
    run = scepclient(tmp_path, scep_server.url + path, f"{host}.branch.example.net", WILDCARD)
    assert run.returncode == 0, run.output
    assert verify(scep_server, run.certificate).returncode == 0


def test_manual_approval_while_scepclient_polls(scep_server, tmp_path):
    subject = "C=US, O=scep-client, OU=MDM, CN=manual-1"
    scep_server.manage(
        "add_enrollment", "manual-1", "--protocol", "scep", "--password", CHALLENGE,
        "--ca", "fac.root", "--subject", subject, "--manual",
    )  # fmt: skip
    command = scepclient_command(
        tmp_path, f"{scep_server.url}/app/cert/scep/", "manual-1", CHALLENGE
    )
    with subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as client:
        request_id = None
        deadline = time.monotonic() + 60
        while request_id is None and time.monotonic() < deadline:
            listing = scep_server.manage("cmp_requests").stdout
            found = re.search(r"^(\d+)\s.*SCEP\s+PKCSReq\s+manual-1", listing, re.M)
            request_id = found.group(1) if found else None
            time.sleep(0.5)
        assert request_id is not None, "the request never reached Pending Requests"
        approved = scep_server.manage("cmp_requests", "approve", request_id).stdout
        assert approved.startswith(f"Approved request {request_id}")
        output, _ = client.communicate(timeout=120)
    assert client.returncode == 0, output
    assert "pkiStatus=PENDING" in output
    certificate = tmp_path / "cert.pem"
    assert verify(scep_server, certificate).returncode == 0
    assert SIGNED.format(subject=subject) in log_messages(scep_server)


def test_logs_and_debug_pages_show_the_exchanges(scep_server, tmp_path):
    run = scepclient(
        tmp_path, f"{scep_server.url}/app/cert/scep/", "fw9.branch.example.net", WILDCARD
    )
    assert run.returncode == 0, run.output
    admin = Admin(scep_server)
    logs = admin.get("/logging/logs/")
    assert SIGNED.format(subject="C=US, O=scep-client, OU=MDM, CN=fw9.branch.example.net") in logs
    debug = admin.get("/debug/cmp/")
    assert "SCEP exchanges" in debug
    assert "PKCSReq (19)" in debug and "SUCCESS" in debug and "GetCACert" in debug
    trace = re.search(r'href="/debug/scep/(\d+)/"', debug).group(1)
    detail = admin.get(f"/debug/scep/{trace}/")
    assert "transactionID" in detail and WILDCARD not in detail
