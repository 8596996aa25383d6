"""docs/deploy.md's nginx configuration, run with a real nginx in front of gunicorn.

The configuration is read from the documentation itself, so what the docs
show is what is tested: device paths (CRL, OCSP, CMP, SCEP, /.well-known/cmp)
over plain HTTP, everything else redirected to HTTPS, the GUI over HTTPS with
secure cookies, and the client's own address in the event log.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cmp.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
CLIENT = "127.0.0.2"  # the "device": another loopback address than the proxy's

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")


def documented_config() -> str:
    text = (ROOT / "docs" / "deploy.md").read_text()
    blocks = re.findall(r"```nginx\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/deploy.md shows one nginx configuration"
    return blocks[0]


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca.example.net")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    crt, pem = directory / "gui.crt", directory / "gui.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return crt, pem


def wait_for(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"nothing listens on {port}: {log.read_text()}")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nginx")
    app, http_port, https_port = free_port(), free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FAC_", "DJANGO_", "DATABASE_"))
    }
    env.update(
        {
            "FAC_DATA_DIR": str(tmp / "data"),
            "FAC_STATIC_ROOT": str(tmp / "static"),
            "DATABASE_URL": f"sqlite:///{tmp / 'data' / 'fac.sqlite3'}",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "FAC_KEYSTORE_KEY": secrets.token_urlsafe(32),
            "DJANGO_ALLOWED_HOSTS": "ca.example.net",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://ca.example.net",
            "FAC_PUBLIC_URL": "http://ca.example.net",
            "FAC_TRUSTED_PROXIES": "127.0.0.1",
            "FAC_HTTPS": "true",
        }
    )

    def manage(*args: str) -> str:
        result = subprocess.run(
            [PYTHON, str(ROOT / "manage.py"), *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    manage("migrate", "-v0")
    manage("collectstatic", "--noinput", "-v0")
    manage("init_ca", "fac.cz.root", "CN=fac.cz.root")
    gunicorn_log = tmp / "gunicorn.log"
    gunicorn = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "fac.wsgi:application",
            "--bind",
            f"127.0.0.1:{app}",
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--no-control-socket",
        ],
        env=env,
        cwd=ROOT,
        stdout=gunicorn_log.open("w"),
        stderr=subprocess.STDOUT,
    )
    crt, key = self_signed(tmp)
    servers = (
        documented_config()
        .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        .replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
        .replace("http://127.0.0.1:8000", f"http://127.0.0.1:{app}")
        .replace("/etc/ssl/fac/gui.crt", str(crt))
        .replace("/etc/ssl/fac/gui.key", str(key))
    )
    # The documented redirect names the standard HTTPS port; the test's is another.
    servers = servers.replace(
        "return 301 https://$host$request_uri;",
        f"return 301 https://$host:{https_port}$request_uri;",
    )
    temp = tmp / "nginx-temp"
    temp.mkdir()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"{user}\nworker_processes 1;\ndaemon off;\npid {tmp / 'nginx.pid'};\n"
        f"error_log {tmp / 'nginx-error.log'} info;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        f"  access_log {tmp / 'nginx-access.log'};\n"
        f"  client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy;\n"
        f"  fastcgi_temp_path {temp}/fcgi; uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;\n"
        f"{servers}\n}}\n"
    )
    nginx_log = tmp / "nginx.out"
    nginx = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(tmp)],
        stdout=nginx_log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(app, gunicorn, gunicorn_log)
        wait_for(http_port, nginx, tmp / "nginx-error.log")
        wait_for(https_port, nginx, tmp / "nginx-error.log")
        yield {"http": http_port, "https": https_port, "manage": manage}
    finally:
        for process in (nginx, gunicorn):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def request(site, port_name: str, method: str, path: str, body: bytes | None = None, headers=None):
    port = site[port_name]
    if port_name == "https":
        context = ssl._create_unverified_context()  # noqa: S323 - our own test certificate
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=20, context=context, source_address=(CLIENT, 0)
        )
    else:
        connection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=20, source_address=(CLIENT, 0)
        )
    connection.request(
        method, path, body=body, headers={"Host": "ca.example.net", **(headers or {})}
    )
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def test_crl_and_ocsp_over_plain_http(site):
    response, data = request(site, "http", "GET", "/app/cert/crl/fac.cz.root.crl")
    assert response.status == 200, data[:300]
    assert response.getheader("Content-Type") == "application/pkix-crl"
    assert x509.load_der_x509_crl(data).issuer.rfc4514_string() == "CN=fac.cz.root"
    response, _ = request(
        site,
        "http",
        "POST",
        "/app/cert/ocsp",
        b"\x30\x00",
        {"Content-Type": "application/ocsp-request"},
    )
    assert (response.status, response.getheader("Content-Type")) == (
        200,
        "application/ocsp-response",
    )


@pytest.mark.parametrize(
    "path", ["/app/cert/cmp2", "/.well-known/cmp", "/.well-known/cmp/p/fgt100f"]
)
def test_cmp_over_plain_http(site, path):
    response, data = request(
        site, "http", "POST", path, b"not a pkimessage", {"Content-Type": "application/pkixcmp"}
    )
    assert response.status in (200, 400), data[:300]  # answered by the CMP server, not redirected
    assert response.getheader("Location") is None


@pytest.mark.parametrize(
    "path", ["/app/cert/scep?operation=GetCACaps", "/cgi-bin/pkiclient.exe?operation=GetCACaps"]
)
def test_scep_paths_are_not_redirected(site, path):
    response, _ = request(site, "http", "GET", path)
    assert response.status != 301


def test_gui_is_sent_to_https_with_secure_cookies(site):
    response, _ = request(site, "http", "GET", "/login/")
    assert response.status == 301
    assert response.getheader("Location") == f"https://ca.example.net:{site['https']}/login/"
    response, data = request(site, "https", "GET", "/login/")
    assert response.status == 200 and b"<form" in data
    cookie = response.getheader("Set-Cookie")
    assert "csrftoken=" in cookie and "Secure" in cookie
    assert response.getheader("Strict-Transport-Security") == "max-age=31536000"
    assert "script-src 'self'" in response.getheader("Content-Security-Policy")


def test_event_log_shows_the_client_not_the_proxy(site):
    # A failed login through the proxy, with a forged X-Forwarded-For from the client.
    response, _ = request(
        site,
        "https",
        "POST",
        "/login/",
        b"username=nobody&password=wrong",
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Forwarded-For": "203.0.113.66",
        },
    )
    assert response.status == 403  # no CSRF token: refused, but nothing logged yet
    request(
        site,
        "http",
        "POST",
        "/app/cert/cmp2",
        _ir_of_unknown_enrollment(),
        {
            "Content-Type": "application/pkixcmp",
            "X-Forwarded-For": "203.0.113.66",
        },
    )
    out = site["manage"](
        "shell",
        "-v0",
        "-c",
        "import json; from certauth.models import LogEntry; "
        "print(json.dumps(list(LogEntry.objects.filter(log_type_id=30401)"
        ".values_list('source_ip', flat=True))))",
    )
    assert json.loads(out.strip().splitlines()[-1]) == [CLIENT]


def _ir_of_unknown_enrollment() -> bytes:
    from tests.cmp.protocol.client import Client

    return Client(sender_kid=b"nobody-here").ir(ec.generate_private_key(ec.SECP256R1()))
