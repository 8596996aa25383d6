"""Interop with a real client: Debian's ``scepclient`` (micromdm/scep 2.1.0) against SCEPServer.

The harness serves the SCEP paths on 127.0.0.1 and keeps every request and
SCEPResult, so each test checks scepclient's exit code and output, the
certificate it wrote (``openssl verify`` against the CA), *and* what the
server decoded and answered.

scepclient 2.1.0 always signs with SHA-1 and encrypts with DES-CBC, whatever
GetCACaps says (go.mozilla.org/pkcs7 defaults), so it is served only with the
legacy settings on; without them it gets FAILURE badAlg.  It encrypts to every
certificate of GetCACert: with an ECDSA CA, ``-ca-fingerprint`` selects the RA.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from scep.protocol import FailInfo, MessageType, PKIStatus, SCEPConfig, SCEPServer

from .backend import LocalCA, MemoryBackend
from .harness import PATHS, SCEPHarness

SCEPCLIENT = shutil.which("scepclient")
OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(
    SCEPCLIENT is None or OPENSSL is None,
    reason="scepclient (Debian package 'scep') or openssl is not installed",
)

CHALLENGE = "s3cret-Challenge"
LEGACY = SCEPConfig(legacy_algorithms=True, single_des=True)
PEM = serialization.Encoding.PEM


@dataclass
class Run:
    returncode: int
    output: str
    certificate_path: Path

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_path.read_bytes())


def scepclient(
    directory: Path,
    url: str,
    *,
    cn: str = "device-1",
    challenge: str | None = CHALLENGE,
    extra: tuple[str, ...] = (),
) -> Run:
    """Run scepclient with its key, CSR and certificate in ``directory``."""
    assert SCEPCLIENT is not None
    certificate = directory / "client.pem"
    command = [
        SCEPCLIENT,
        "-server-url", url,
        "-private-key", str(directory / "key.pem"),
        "-certificate", str(certificate),
        "-cn", cn,
    ]  # fmt: skip
    if challenge is not None:
        command += ["-challenge", challenge]
    command += list(extra)
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=directory,
        stdin=subprocess.DEVNULL,
    )
    return Run(done.returncode, done.stdout + done.stderr, certificate)


def openssl_verify(directory: Path, ca: LocalCA, certificate: Path) -> subprocess.CompletedProcess:
    assert OPENSSL is not None
    bundle = directory / "ca-bundle.pem"
    bundle.write_bytes(b"".join(c.public_bytes(PEM) for c in ca.chain))
    return subprocess.run(
        [OPENSSL, "verify", "-CAfile", str(bundle), str(certificate)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def fingerprint(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


@pytest.mark.parametrize("path", PATHS)
def test_enrolment(tmp_path, rsa_ca, path):
    backend = MemoryBackend(rsa_ca, config=LEGACY)
    with SCEPHarness(SCEPServer(backend)) as harness:
        run = scepclient(tmp_path, harness.url(path))
    assert run.returncode == 0, run.output
    assert 'msg="server returned a certificate."' in run.output
    verified = openssl_verify(tmp_path, rsa_ca, run.certificate_path)
    assert verified.returncode == 0 and verified.stdout.endswith(": OK\n"), verified.stderr
    issued = run.certificate
    assert issued.subject.rfc4514_string() == "CN=device-1,OU=MDM,O=scep-client,C=US"
    assert harness.operations == ["GetCACert", "GetCACaps", "PKIOperation"]
    assert {e.path for e in harness.exchanges} == {path}
    (result,) = harness.pki_results()
    assert (result.message_type, result.pki_status) == (MessageType.PKCSReq, PKIStatus.SUCCESS)
    assert result.certificate == issued
    assert "digest: SHA-1, signature: sha1WithRSAEncryption" in result.trace
    assert any(line.startswith("pkcsPKIEnvelope: DES-CBC, rsaEncryption") for line in result.trace)
    (request,) = [r for m, r in backend.calls if m == "enroll"]
    assert request.challenge_password == CHALLENGE and request.signer_self_signed


def test_wrong_challenge_gets_no_certificate(tmp_path, rsa_ca):
    with SCEPHarness(SCEPServer(MemoryBackend(rsa_ca, config=LEGACY))) as harness:
        run = scepclient(tmp_path, harness.url(), challenge="not-the-secret")
    assert run.returncode == 1
    assert "PKCSReq (19) request failed, failInfo: badRequest (2)" in run.output
    assert not run.certificate_path.exists()
    (result,) = harness.pki_results()
    assert (result.pki_status, result.fail_info) == (PKIStatus.FAILURE, FailInfo.badRequest)
    assert result.fail_text == "The challenge password is wrong or missing."


def test_without_the_legacy_setting_scepclient_gets_bad_alg(tmp_path, rsa_ca):
    with SCEPHarness(SCEPServer(MemoryBackend(rsa_ca))) as harness:
        run = scepclient(tmp_path, harness.url())
    assert run.returncode == 1
    assert "failInfo: badAlg (0)" in run.output
    (result,) = harness.pki_results()
    assert result.fail_info == FailInfo.badAlg
    assert result.fail_text == "SHA-1 is only accepted with the legacy algorithms setting."


def test_ecdsa_ca_with_rsa_ra(tmp_path, ec_ca):
    # RFC 8894, 2.1.2: the RSA RA decrypts and signs, the ECDSA CA issues.
    assert ec_ca.ra is not None
    with SCEPHarness(SCEPServer(MemoryBackend(ec_ca, config=LEGACY))) as harness:
        run = scepclient(tmp_path, harness.url(), extra=("-ca-fingerprint", fingerprint(ec_ca.ra)))
    assert run.returncode == 0, run.output
    verified = openssl_verify(tmp_path, ec_ca, run.certificate_path)
    assert verified.returncode == 0, verified.stderr
    run.certificate.verify_directly_issued_by(ec_ca.certificate)
    get_ca_cert = harness.results[0]
    assert get_ca_cert.content_type == "application/x-x509-ca-ra-cert"
    (result,) = harness.pki_results()
    assert (
        f"CertRep sent: SUCCESS, SHA-1, signed by {ec_ca.ra.subject.rfc4514_string()}"
        in " ".join(result.trace)
    )


def test_renewal_with_the_current_certificate(tmp_path, rsa_ca):
    backend = MemoryBackend(rsa_ca, config=LEGACY)
    with SCEPHarness(SCEPServer(backend)) as harness:
        first = scepclient(tmp_path, harness.url())
        assert first.returncode == 0, first.output
        enrolled = first.certificate
        # with -certificate present, scepclient sends a RenewalReq signed by it
        second = scepclient(tmp_path, harness.url(), challenge=None)
    assert second.returncode == 0, second.output
    renewed = second.certificate
    assert renewed.serial_number != enrolled.serial_number
    assert renewed.subject == enrolled.subject
    assert openssl_verify(tmp_path, rsa_ca, second.certificate_path).returncode == 0
    renewal = harness.pki_results()[-1]
    assert renewal.message_type == MessageType.RenewalReq
    assert renewal.signer_certificate == enrolled
    # scepclient derives the transactionID from the key: the same for both
    assert renewal.transaction_id == harness.pki_results()[0].transaction_id


def test_get_pki_operation(tmp_path, rsa_ca):
    # Without POSTPKIOperation/SCEPStandard scepclient sends GET with URL-safe base64.
    backend = MemoryBackend(rsa_ca, config=LEGACY)
    drop = ("POSTPKIOperation", "SCEPStandard")
    with SCEPHarness(SCEPServer(backend), drop_caps=drop) as harness:
        run = scepclient(tmp_path, harness.url())
    assert run.returncode == 0, run.output
    (exchange,) = [e for e in harness.exchanges if e.operation == "PKIOperation"]
    assert exchange.method == "GET" and exchange.message
    assert exchange.result is not None and exchange.result.pki_status == PKIStatus.SUCCESS


def test_pending_then_issued_on_resend(tmp_path, rsa_ca):
    # scepclient sleeps 30 s after PENDING and sends the same PKCSReq again:
    # RFC 8894, 3.2.1.1, the transaction is found by its transactionID.
    backend = MemoryBackend(rsa_ca, config=LEGACY, hold_rounds=1)
    with SCEPHarness(SCEPServer(backend)) as harness:
        run = scepclient(tmp_path, harness.url())
    assert run.returncode == 0, run.output
    assert 'pkiStatus=PENDING msg="sleeping for 30 seconds, then trying again."' in run.output
    pending, issued = harness.pki_results()
    assert (pending.pki_status, issued.pki_status) == (PKIStatus.PENDING, PKIStatus.SUCCESS)
    assert pending.transaction_id == issued.transaction_id
    assert len(backend.certificates) == 1
    assert openssl_verify(tmp_path, rsa_ca, run.certificate_path).returncode == 0
