"""Interop with the reference client: the real ``openssl cmp`` against CMPServer.

The harness serves POST /app/cert/cmp2 on 127.0.0.1 and keeps every request and
ServerResult, so each test checks openssl's exit code and output *and* the exact
failInfo bit and status text the server sent.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from cmp.protocol import CMPServer
from cmp.protocol.errors import FailureInfo

from .backend import LocalCA, MemoryBackend
from .client import read_response
from .harness import PATH, CMPHarness

OPENSSL = shutil.which("openssl")


def _openssl_has_cmp() -> bool:
    if OPENSSL is None:
        return False
    result = subprocess.run([OPENSSL, "cmp", "-help"], capture_output=True, text=True)
    return "-srvcert" in result.stdout + result.stderr


pytestmark = pytest.mark.skipif(not _openssl_has_cmp(), reason="openssl lacks the cmp command")


def _pem(path: Path, obj) -> Path:
    if isinstance(obj, x509.Certificate):
        data = obj.public_bytes(serialization.Encoding.PEM)
    else:
        data = obj.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    path.write_bytes(data)
    return path


@dataclass
class Run:
    returncode: int
    output: str
    harness: CMPHarness
    certout: Path

    @property
    def results(self):
        return self.harness.results

    @property
    def body_types(self) -> list[str]:
        return [r.body_type for r in self.results]

    def response(self, index: int = -1):
        return read_response(self.results[index].body)


class OpenSSLClient:
    def __init__(self, tmp: Path, ca: LocalCA, backend: MemoryBackend, key) -> None:
        self.tmp = tmp
        self.ca = ca
        self.backend = backend
        self.root = _pem(tmp / "root.pem", ca.root)
        self.issuing = _pem(tmp / "issuing.pem", ca.issuing)
        self.key = _pem(tmp / "key.pem", key)
        self.server_options: dict = {}

    def run(self, *args: str, srvcert: Path | None = None, secret: str | None = "fortinet1") -> Run:
        certout = self.tmp / "out.pem"
        certout.unlink(missing_ok=True)
        server = CMPServer(self.backend, **self.server_options)
        with CMPHarness(server) as harness:
            command = [
                OPENSSL,
                "cmp",
                "-server",
                f"127.0.0.1:{harness.port}",
                "-path",
                PATH,
                *(("-secret", f"pass:{secret}") if secret is not None else ()),
                "-certout",
                str(certout),
                "-msg_timeout",
                "20",
                *(("-srvcert", str(srvcert or self.issuing)) if srvcert is not False else ()),
                *args,
            ]
            process = subprocess.run(
                command, capture_output=True, text=True, timeout=60, cwd=self.tmp
            )
        return Run(process.returncode, process.stdout + process.stderr, harness, certout)

    def ir(self, *args: str, ref: str = "fgt100f", **kwargs) -> Run:
        return self.run(
            "-cmd", "ir", "-ref", ref, "-newkey", str(self.key),
            "-subject", "/CN=fgt100f.local", *args, **kwargs,
        )  # fmt: skip

    def verify(self, certificate: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [OPENSSL, "verify", "-CAfile", str(self.root), "-untrusted", str(self.issuing),
             str(certificate)],
            capture_output=True, text=True,
        )  # fmt: skip


@pytest.fixture(scope="module")
def root_ca() -> LocalCA:
    return LocalCA.create()


@pytest.fixture
def openssl(tmp_path, root_ca, ec_key) -> OpenSSLClient:
    backend = MemoryBackend(root_ca)
    backend.add_enrollment("fgt100f", "fortinet1")
    return OpenSSLClient(tmp_path, root_ca, backend, ec_key)


def assert_clean(run: Run) -> None:
    assert run.returncode == 0, run.output
    assert all(r.error is None for r in run.results), [r.error for r in run.results]


def assert_server_error(
    run: Run, failure: FailureInfo, text: str, *, body_type: str = "error"
) -> None:
    """The refusal openssl received: an error message, or (``body_type`` ip, cp, kup,
    rp) the response body with status rejection (RFC 9483, 4.1.1 and 4.2)."""
    assert run.returncode != 0, run.output
    response = run.response()
    assert response.body_type == body_type
    assert response.status == 2
    assert response.failure_bits == (int(failure),)
    assert response.status_text == text
    assert not run.certout.exists()


# ---------------------------------------------------------------------- enrollment


@pytest.mark.parametrize("key_type", ["rsa", "ec"])
def test_ir(tmp_path, root_ca, rsa_key, ec_key, key_type):
    backend = MemoryBackend(root_ca)
    backend.add_enrollment("fgt100f", "fortinet1")
    client = OpenSSLClient(tmp_path, root_ca, backend, rsa_key if key_type == "rsa" else ec_key)
    run = client.ir()
    assert_clean(run)
    assert run.body_types == ["ir", "certConf"]
    assert "received IP" in run.output and "received PKICONF" in run.output
    assert client.verify(run.certout).returncode == 0
    issued = x509.load_pem_x509_certificate(run.certout.read_bytes())
    assert issued.subject.rfc4514_string() == "CN=fgt100f.local"
    assert next(iter(backend.transactions.values())).state == "confirmed"


def test_ir_with_sans_and_chain_files(openssl):
    run = openssl.ir(
        "-sans", "fgt100f.local 10.0.0.1",
        "-extracertsout", str(openssl.tmp / "extra.pem"),
        "-cacertsout", str(openssl.tmp / "capubs.pem"),
    )  # fmt: skip
    assert_clean(run)
    issued = x509.load_pem_x509_certificate(run.certout.read_bytes())
    san = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["fgt100f.local"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.1"]
    assert x509.load_pem_x509_certificates((openssl.tmp / "capubs.pem").read_bytes()) == [
        openssl.ca.root
    ]
    assert x509.load_pem_x509_certificates((openssl.tmp / "extra.pem").read_bytes()) == list(
        openssl.ca.chain
    )


def test_cr(openssl):
    run = openssl.run("-cmd", "cr", "-ref", "fgt100f", "-newkey", str(openssl.key),
                      "-subject", "/CN=fgt100f.local")  # fmt: skip
    assert_clean(run)
    assert run.body_types == ["cr", "certConf"] and "received CP" in run.output
    assert openssl.verify(run.certout).returncode == 0


def test_p10cr(openssl, ec_key):
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=fgt100f.local"))
        .sign(ec_key, hashes.SHA256())
    )
    path = openssl.tmp / "req.pem"
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    run = openssl.run("-cmd", "p10cr", "-ref", "fgt100f", "-csr", str(path))
    assert_clean(run)
    assert run.body_types == ["p10cr", "certConf"]
    assert run.response(0).cert_req_id == -1
    assert openssl.verify(run.certout).returncode == 0


def test_intermediate_issuing_ca(tmp_path, ec_key):
    ca = LocalCA.create(intermediate=True)
    backend = MemoryBackend(ca)
    backend.add_enrollment("fgt100f", "fortinet1")
    client = OpenSSLClient(tmp_path, ca, backend, ec_key)
    run = client.ir(srvcert=client.issuing)
    assert_clean(run)
    ip = run.response(0)
    assert ip.sender == ca.issuing.subject and ip.extra_certs == (ca.issuing, ca.root)
    assert client.verify(run.certout).returncode == 0


def test_granted_with_modifications(openssl):
    """RFC 9810, 5.2.3: openssl takes a certificate granted with modifications."""
    openssl.backend.modifications = ("validity shortened to the CA's",)
    run = openssl.ir()
    assert_clean(run)
    ip = run.response(0)
    assert (ip.status, ip.status_text) == (1, "validity shortened to the CA's")
    assert run.body_types == ["ir", "certConf"] and openssl.verify(run.certout).returncode == 0


def test_empty_subject_with_a_subject_alt_name(openssl):
    """RFC 9483, 4.1.1: the NULL-DN with the subject in the subjectAltName."""
    run = openssl.run(
        "-cmd", "ir", "-ref", "fgt100f", "-newkey", str(openssl.key),
        "-sans", "fgt100f.local",
    )  # fmt: skip
    assert_clean(run)
    issued = x509.load_pem_x509_certificate(run.certout.read_bytes())
    assert issued.subject == x509.Name([])
    assert issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def test_implicit_confirm(openssl):
    run = openssl.ir("-implicit_confirm")
    assert_clean(run)
    assert run.body_types == ["ir"]  # no certConf
    assert run.response().implicit_confirm
    assert "implicitConfirm granted" in run.results[0].trace
    assert next(iter(openssl.backend.transactions.values())).state == "implicit"


def test_implicit_confirm_not_granted(openssl):
    openssl.backend.allow_implicit_confirm = False
    run = openssl.ir("-implicit_confirm")
    assert_clean(run)
    assert run.body_types == ["ir", "certConf"]


def test_disable_confirm(openssl):
    run = openssl.ir("-disable_confirm")
    assert_clean(run)
    assert run.body_types == ["ir"]
    # the server still waits for a certConf that will not come
    assert next(iter(openssl.backend.transactions.values())).state == "waiting"


@pytest.mark.parametrize(
    ("options", "trace"),
    [
        ((), "PasswordBasedMac (owf sha256, 500 iterations, mac hmac-sha1)"),
        (
            ("-mac", "hmacWithSHA256"),
            "PasswordBasedMac (owf sha256, 500 iterations, mac hmac-sha256)",
        ),
        (
            ("-mac", "hmacWithSHA512", "-digest", "sha512"),
            "PasswordBasedMac (owf sha512, 500 iterations, mac hmac-sha512)",
        ),
    ],
)
def test_pbm_variants(openssl, options, trace):
    run = openssl.ir(*options)
    assert_clean(run)
    assert f"Protection checked: {trace}: OK" in run.results[0].trace
    # the response is protected with the request's parameters, salt included
    # (RFC 9810, 5.1.3.1), and openssl accepts it
    request_alg = read_response(run.harness.exchanges[0].request).algorithm
    response_alg = run.response(0).algorithm
    assert response_alg == request_alg


# ---------------------------------------------------------------------- failures


def test_wrong_password(openssl):
    run = openssl.ir(secret="wrongpass")
    assert_server_error(
        run, FailureInfo.badMessageCheck, "Message protection (MAC) does not verify."
    )
    # the error is protected with the enrollment's real secret, so openssl cannot verify it
    assert "wrong pbm value" in run.output
    assert run.response().mac_ok(b"fortinet1")


def test_unknown_reference(openssl):
    openssl.server_options = {"default_sender": openssl.ca.issuing.subject}
    run = openssl.ir("-unprotected_errors", ref="fgt999")
    # RFC 9483, 3.5: the MAC cannot be checked, badMessageCheck; the text stays
    # FortiAuthenticator's, and openssl shows it with this bit as with any other
    assert_server_error(run, FailureInfo.badMessageCheck, "Enrollment not found.")
    assert 'StatusString: "Enrollment not found."' in run.output
    assert "PKIFailureInfo: badMessageCheck" in run.output


def test_unknown_reference_null_dn_needs_no_pinned_sender(openssl):
    run = openssl.ir("-unprotected_errors", ref="fgt999", srvcert=False)
    assert_server_error(run, FailureInfo.badMessageCheck, "Enrollment not found.")
    assert 'StatusString: "Enrollment not found."' in run.output


def test_unknown_reference_with_pinned_ca_and_null_dn(openssl):
    """Without default_sender the NULL-DN sender is refused by a client pinning the CA."""
    run = openssl.ir("-unprotected_errors", ref="fgt999")
    assert_server_error(run, FailureInfo.badMessageCheck, "Enrollment not found.")
    assert "does not match expected sender" in run.output


def test_sha1_pop_is_refused_with_readable_error(openssl):
    run = openssl.ir("-digest", "sha1")
    assert_server_error(
        run, FailureInfo.badAlg, "Signature algorithm 1.2.840.10045.4.1 is not supported."
    )
    assert "PKIFailureInfo: badAlg" in run.output


def test_ra_verified_pop(openssl):
    run = openssl.ir("-popo", "0")
    assert_server_error(
        run,
        FailureInfo.notAuthorized,
        "raVerified proof-of-possession is not accepted.",
        body_type="ip",
    )
    assert 'StatusString: "raVerified proof-of-possession is not accepted."' in run.output


def test_unprotected_request(openssl):
    run = openssl.ir("-unprotected_requests")
    assert_server_error(run, FailureInfo.badMessageCheck, "Message is not protected.")


def test_client_rejects_certificate(openssl, tmp_path):
    other = LocalCA.create()
    run = openssl.ir("-out_trusted", str(_pem(tmp_path / "other.pem", other.root)))
    assert run.returncode != 0
    assert run.body_types == ["ir", "certConf"]
    assert all(r.error is None for r in run.results)
    assert run.response().body_type == "pkiconf"
    assert "certificate not accepted" in run.output
    transaction = next(iter(openssl.backend.transactions.values()))
    assert transaction.state == "rejected"
    assert transaction.reason == "CMP client did not accept it"
