"""HTTP and deployment hardening: proxies, CSP, cookies, files, environment, start-up."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from certauth import services
from certauth.models import Certificate, LogEntry
from fac.security import client_address, parse_networks

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def manage(env: dict, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def fresh_env(tmp_path: Path, **extra: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FAC_", "DJANGO_", "DATABASE_"))
    }
    env.update(
        {
            "FAC_DATA_DIR": str(tmp_path / "data"),
            "FAC_STATIC_ROOT": str(tmp_path / "static"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'fac.sqlite3'}",
        }
    )
    env.update(extra)
    return env


# --- client address behind a proxy ------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("127.0.0.1", "198.51.100.7", "198.51.100.7"),  # through the proxy
        ("127.0.0.1", "203.0.113.9, 198.51.100.7", "198.51.100.7"),  # the last untrusted hop
        ("127.0.0.1", "198.51.100.7, 10.0.0.2", "198.51.100.7"),  # two trusted proxies
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "garbage", "127.0.0.1"),
        ("192.0.2.50", "198.51.100.7", "192.0.2.50"),  # not a proxy: header ignored
    ],
)
def test_client_address(peer, forwarded, expected):
    trusted = parse_networks(["127.0.0.1", "10.0.0.0/8"])
    assert client_address(peer, forwarded, trusted) == expected
    assert client_address(peer, forwarded, ()) == peer


@pytest.mark.django_db
@override_settings(FAC_TRUSTED_PROXIES=["127.0.0.1"])
def test_log_lines_show_the_client_behind_the_proxy():
    client = Client()
    client.post(
        "/app/cert/cmp2",
        data=b"\x30\x03\x02\x01\x00",
        content_type="application/pkixcmp",
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    client.post(
        "/login/",
        {"username": "nobody", "password": "wrong"},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.8",
    )
    # From an address that is not a trusted proxy the header is not believed.
    client.post(
        "/login/",
        {"username": "nobody", "password": "wrong"},
        REMOTE_ADDR="192.0.2.66",
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )
    addresses = set(LogEntry.objects.values_list("source_ip", flat=True))
    assert "198.51.100.9" not in addresses and "127.0.0.1" not in addresses
    assert {"198.51.100.8", "192.0.2.66"} <= addresses


# --- headers and cookies ------------------------------------------------------------------


@pytest.mark.django_db
def test_csp_on_every_page(admin_client):
    for path in ("/login/", "/", "/logging/logs/", "/cert/services/new/"):
        response = (Client() if path == "/login/" else admin_client).get(path)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "object-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        body = response.content.decode()
        # No inline script: the one script is static/js/fac.js.
        assert body.count("<script") == body.count('<script src="/static/js/fac.js">')
        assert " onchange=" not in body and " onclick=" not in body


def test_deploy_check_is_clean_in_the_documented_production_configuration(tmp_path):
    """docs/deploy.md's environment file, as systemd reads it."""
    env = fresh_env(
        tmp_path,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        FAC_KEYSTORE_KEY=secrets.token_urlsafe(32),
        DJANGO_ALLOWED_HOSTS="ca.example.net",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://ca.example.net",
        FAC_PUBLIC_URL="http://ca.example.net",
        FAC_TRUSTED_PROXIES="127.0.0.1",
        FAC_HTTPS="true",
    )
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    # Without FAC_HTTPS the same check names the cookies and HSTS.
    del env["FAC_HTTPS"]
    result = manage(env, "check", "--deploy")
    assert "security.W012" in result.stderr and "security.W004" in result.stderr


def test_https_settings_keep_device_paths_on_http(tmp_path):
    env = fresh_env(tmp_path, FAC_HTTPS="true", FAC_TRUSTED_PROXIES="127.0.0.1")
    code = (
        "import re; from django.conf import settings as s; "
        "paths = ['app/cert/cmp2', 'app/cert/scep', 'cert/scep', 'cgi-bin/pkiclient.exe', "
        "'app/cert/crl/x.crl', 'app/cert/ocsp', '.well-known/cmp', 'login/']; "
        "print([p for p in paths if not any(re.search(r, p) for r in s.SECURE_REDIRECT_EXEMPT)], "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_PROXY_SSL_HEADER)"
    )
    result = manage(env, "shell", "-v0", "-c", code)
    assert result.stdout.strip() == (
        "['login/'] True True True ('HTTP_X_FORWARDED_PROTO', 'https')"
    ), result.stderr


# --- files, environment, start-up ----------------------------------------------------------


def test_data_directory_and_database_are_private(tmp_path):
    env = fresh_env(tmp_path)
    result = manage(env, "migrate", "-v0")
    assert result.returncode == 0, result.stderr
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "fac.sqlite3").stat().st_mode) == 0o600
    for secret in ("django-secret-key", "keystore.key"):
        path = data / secret
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_inline_comment_in_the_environment_is_refused(tmp_path):
    env = fresh_env(tmp_path, FAC_KEYSTORE_KEY="s3cret-key-value  # python3 -c ...")
    result = manage(env, "check")
    assert result.returncode != 0
    assert (
        "FAC_KEYSTORE_KEY looks like it carries an inline comment ('... #'): "
        "put comments on a line of their own in the environment file."
    ) in result.stderr
    assert "s3cret-key-value" not in result.stderr  # the value itself is never printed


def test_server_refuses_to_start_without_static_files(tmp_path):
    env = fresh_env(tmp_path, DJANGO_DEBUG="false")
    assert manage(env, "migrate", "-v0").returncode == 0
    process = subprocess.run(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "fac.wsgi:application",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode != 0
    assert "the static files are not collected" in process.stderr
    assert "run 'manage.py collectstatic --noinput'" in process.stderr


# --- bad input --------------------------------------------------------------------------------


def _csr_with_unknown_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "odd.example.com")]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    # rsaEncryption (1.2.840.113549.1.1.1) -> an OID no library knows, same length.
    rsa_oid = bytes.fromhex("2a864886f70d010101")
    assert csr.count(rsa_oid) == 1
    return csr.replace(rsa_oid, bytes.fromhex("2a864886f70d017f7f"))


@pytest.mark.django_db
def test_csr_with_an_unknown_key_algorithm_is_a_form_error(admin_client):
    root = services.create_ca(name="root", subject="CN=root", key_type="ec")
    data = {
        "ca": root.pk,
        "source": "csr",
        "validity_days": "365",
        "key_usage": ["digitalSignature"],
        "csr_file": SimpleUploadedFile("odd.csr", _csr_with_unknown_key()),
    }
    response = admin_client.post("/cert/services/new/", data)
    assert response.status_code == 200
    assert "key or signature algorithm is not supported" in str(response.context["form"].errors)
    assert not Certificate.objects.exists()


def test_init_ca_refuses_a_trailing_backslash(tmp_path):
    env = fresh_env(tmp_path)
    assert manage(env, "migrate", "-v0").returncode == 0
    result = manage(env, "init_ca", "x.root", "CN=x\\")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "CommandError: Malformed DN 'CN=x\\\\': a backslash at the end of a value escapes nothing."
    )
