"""Fixtures for the SCEP adapter tests: CAs and SCEP enrollments made through the services,
and a client that posts pkiMessages to the product's view with the Django test client.

Messages are built by the protocol tests' client (tests/scep/protocol/client.py),
which is independent of scep.protocol.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.test import Client as HttpClient

from certauth import services
from certauth.models import CertificateAuthority
from certauth.x509 import parse_name
from scep import services as scep_services
from tests.scep.protocol.client import Client, Reply, make_csr, read_reply

CHALLENGE = "s3cret-Challenge"
WILDCARD_CHALLENGE = "branch-Wildcard-42"
DEVICE = "C=CZ, O=Example, CN=fw1.example.net"
SCEP_PATH = "/app/cert/scep/"


def name(text: str) -> x509.Name:
    return parse_name(text)


@pytest.fixture(autouse=True)
def _keystore_key(settings):
    settings.FAC_KEYSTORE_KEY = "scep-adapter-tests-keystore-key"


@pytest.fixture
def root(db) -> CertificateAuthority:
    return services.create_ca(name="fac.root", subject="CN=fac.root", key_type="rsa")


@pytest.fixture
def ec_root(db) -> CertificateAuthority:
    return services.create_ca(name="fac.ec", subject="CN=fac.ec", key_type="ec")


@pytest.fixture
def regular(root):
    return services.create_enrollment(
        reference="fw1",
        password=CHALLENGE,
        ca=root,
        protocol="scep",
        subject=DEVICE,
        allowed_sans=["DNS:fw1.example.net"],
    )


@pytest.fixture
def wildcard(root):
    return services.create_enrollment(
        reference="branches",
        password=WILDCARD_CHALLENGE,
        ca=root,
        protocol="scep",
        wildcard=True,
        subject_pattern="C=CZ, O=Example, CN=*.branch.example.net",
        allowed_sans=["DNS:*.branch.example.net"],
    )


@pytest.fixture
def legacy(db):
    scep_services.update_settings(legacy_algorithms=True, single_des=True)


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes
    reply: Reply | None = None


class SCEP:
    """A device talking to the view: GetCACert, then PKIOperations built by :class:`Client`."""

    def __init__(self, client: Client | None = None, path: str = SCEP_PATH) -> None:
        self.client = client or Client()
        self.path = path
        self.http = HttpClient()

    def get(self, operation: str, message: str | None = None, path: str | None = None):
        url = f"{path or self.path}?operation={operation}"
        if message is not None:
            url += f"&message={quote(message, safe='')}"
        return self.http.get(url)

    def ca_certificates(self) -> list[x509.Certificate]:
        response = self.get("GetCACert")
        assert response.status_code == 200, response.content
        if response["Content-Type"] == "application/x-x509-ca-cert":
            return [x509.load_der_x509_certificate(response.content)]
        assert response["Content-Type"] == "application/x-x509-ca-ra-cert"
        from cryptography.hazmat.primitives.serialization import pkcs7

        return pkcs7.load_der_pkcs7_certificates(response.content)

    def recipients(self) -> list[x509.Certificate]:
        """What a client encrypts to: the RA if GetCACert has one, else the CA."""
        certs = self.ca_certificates()
        ras = [c for c in certs if _is_ra(c)]
        return ras or certs[:1]

    def post(self, der: bytes, *, path: str | None = None) -> Answer:
        response = self.http.post(
            f"{path or self.path}?operation=PKIOperation",
            data=der,
            content_type="application/x-pki-message",
        )
        answer = Answer(response.status_code, response["Content-Type"], response.content)
        if response.status_code == 200 and answer.content_type == "application/x-pki-message":
            answer.reply = read_reply(response.content, self.client.key, self.client.certificate)
        return answer

    def get_pki(self, der: bytes) -> Answer:
        response = self.get("PKIOperation", base64.b64encode(der).decode())
        answer = Answer(response.status_code, response["Content-Type"], response.content)
        if response.status_code == 200:
            answer.reply = read_reply(response.content, self.client.key, self.client.certificate)
        return answer

    def enroll(self, subject: str | x509.Name, challenge: str | None = CHALLENGE, **kwargs):
        """A PKCSReq for a fresh CSR of the client's key; returns the reply."""
        sans = kwargs.pop("sans", ())
        subject_name = name(subject) if isinstance(subject, str) else subject
        csr = make_csr(self.client.key, subject_name, challenge=challenge, sans=sans)
        answer = self.post(self.client.pkcs_req(csr, self.recipients(), **kwargs))
        assert answer.reply is not None, answer
        return answer.reply


def _is_ra(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return True
    return not constraints.ca


@pytest.fixture
def scep() -> SCEP:
    return SCEP()


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def admin_client(db, django_user_model) -> HttpClient:
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "x-Passw0rd")
    client = HttpClient()
    client.force_login(user)
    return client


@pytest.fixture
def readonly_client(db, django_user_model) -> HttpClient:
    from django.contrib.auth.models import Group

    from certauth.gui.access import READ_ONLY_GROUP

    user = django_user_model.objects.create_user(
        "auditor", "auditor@example.com", "x-Passw0rd", is_staff=True
    )
    group, _ = Group.objects.get_or_create(name=READ_ONLY_GROUP)
    user.groups.add(group)
    client = HttpClient()
    client.force_login(user)
    return client
