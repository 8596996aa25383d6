"""certauth.gui.cmp_commands: the FortiGate and openssl lines an enrollment page shows."""

from __future__ import annotations

import pytest

from certauth import services
from certauth.gui import cmp_commands
from certauth.gui.cmp_commands import commands, openssl_subject, quote, server_address
from certauth.x509 import parse_name

pytestmark = pytest.mark.django_db

SECRET = "Zebra-Quartz-9917-secret"


@pytest.fixture
def root():
    return services.create_ca(name="fac.cz.root", subject="CN=fac.cz.root", key_type="ec")


@pytest.fixture
def sub(root):
    return services.create_ca(
        name="fac.cz.sub", subject="CN=fac.cz.sub", key_type="ec", parent=root
    )


def enrollment(ca, **fields):
    return services.create_enrollment(reference="fgt100f", password=SECRET, ca=ca, **fields)


def test_fortigate_line_names_the_issuing_ca_and_hides_the_password(sub):
    shown = commands(enrollment(sub, subject="CN=fgt100f.local"), "http://ca.example.net:8000")
    assert shown.fortigate_generate == (
        "execute vpn certificate local generate cmp-rsa fgt100f 2048 "
        'http://ca.example.net:8000 /app/cert/cmp2 CA_Cert_1 "" fgt100f <password> '
        "CN=fgt100f.local"
    )
    assert shown.ca_file == "fac.cz.sub.pem"  # the intermediate, as its download is named
    assert SECRET not in repr(shown)


def test_openssl_line(sub):
    shown = commands(enrollment(sub, subject="C=CZ, O=Example, CN=fw 1"), "http://127.0.0.1:8000")
    assert shown.openssl == (
        "openssl cmp -cmd ir -server 127.0.0.1:8000 -path /app/cert/cmp2 -ref fgt100f "
        "-secret pass:<password> -srvcert fac.cz.sub.pem -newkey key.pem "
        '-subject "/C=CZ/O=Example/CN=fw 1" -certout cert.pem'
    )
    assert shown.openssl_keygen == "openssl genrsa -out key.pem 2048"
    assert shown.openssl_verify == "openssl verify -partial_chain -CAfile fac.cz.sub.pem cert.pem"
    assert shown.server == "127.0.0.1:8000" and shown.url == "http://127.0.0.1:8000"


def test_fortigate_ca_name_and_subject_with_spaces(root):
    shown = commands(
        enrollment(root, subject="O=Example Org, CN=fw1"),
        "http://ca.example.net",
        fortigate_ca_name="CA_Cert_3",
    )
    assert " http://ca.example.net:80 /app/cert/cmp2 CA_Cert_3 " in shown.fortigate_generate
    assert shown.fortigate_generate.endswith('"O=Example Org, CN=fw1"')
    assert shown.fortigate_ca_import == (
        "execute vpn certificate ca import tftp fac.cz.root.pem <TFTP server>"
    )


def test_any_subject_leaves_a_device_placeholder(root):
    shown = commands(enrollment(root), "http://ca.example.net:8000")
    assert shown.fortigate_generate.endswith('"CN=<device name>"')
    assert '-subject "/CN=<device name>"' in shown.openssl


def test_https_server_uses_tls(root):
    shown = commands(enrollment(root, subject="CN=x"), "https://ca.example.net")
    assert shown.url == "https://ca.example.net:443"
    assert "-server https://ca.example.net:443 -path /app/cert/cmp2 -tls_used " in shown.openssl


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://h", ("http", "h", 80)),
        ("http://h:8080/", ("http", "h", 8080)),
        ("https://h", ("https", "h", 443)),
        ("h:81", ("http", "h", 81)),
        ("http://[2001:db8::1]:8000", ("http", "[2001:db8::1]", 8000)),
    ],
)
def test_server_address(base, expected):
    assert server_address(base) == expected


def test_quoting():
    assert quote("") == '""'
    assert quote("CN=a b") == '"CN=a b"'
    assert quote('a"b') == '"a\\"b"'
    assert openssl_subject(parse_name("O=A/B, CN=c")) == "/O=A\\/B/CN=c"


@pytest.mark.parametrize(
    ("name", "valid"),
    [("CA_Cert_1", True), ("fac.cz.sub", True), ("a b", False), ("x" * 36, False)],
)
def test_fortigate_name_pattern(name, valid):
    assert bool(cmp_commands.FORTIGATE_NAME.match(name)) is valid
