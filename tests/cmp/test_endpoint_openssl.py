"""The CMP server as deployed (gunicorn, 3 workers) driven by the real ``openssl cmp``.

Each test follows the README: ``init_ca``, ``dump_ca``, ``add_enrollment``,
then the FortiGate's exchange with ``openssl cmp``. Error responses are read
back with ``-rspout`` and decoded, to assert the exact failInfo bit and text.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
import urllib.error
import urllib.request
from http.client import HTTPConnection
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cmp.protocol.errors import FailureInfo
from tests.cmp.conftest import OPENSSL, Server, requires_openssl_cmp
from tests.cmp.protocol.client import read_response

pytestmark = requires_openssl_cmp

PASSWORD = "fortinet1"


@pytest.fixture(scope="module")
def pki(cmp_server: Server) -> Server:
    """The README's set-up: a root CA, its certificate in fac.root.pem."""
    cmp_server.manage("init_ca", "fac.cz.root", "CN=fac.cz.root")
    root = cmp_server.manage("dump_ca", "fac.cz.root").stdout
    (cmp_server.workdir / "fac.root.pem").write_text(root)
    return cmp_server


def new_ref(prefix: str = "fgt") -> str:
    return f"{prefix}{secrets.token_hex(3)}"


def add_enrollment(server: Server, ref: str, *extra: str) -> None:
    server.manage(
        "add_enrollment",
        ref,
        "--password",
        PASSWORD,
        "--ca",
        "fac.cz.root",
        "--key-usage",
        "digitalSignature,keyEncipherment",
        *extra,
    )


def rsa_key(server: Server, name: str, bits: int = 2048) -> Path:
    path = server.workdir / name
    if not path.exists():
        subprocess.run(
            [OPENSSL, "genrsa", "-out", str(path), str(bits)], check=True, capture_output=True
        )
    return path


def ec_key(server: Server, name: str, curve: str = "prime256v1") -> Path:
    path = server.workdir / name
    subprocess.run(
        [OPENSSL, "ecparam", "-name", curve, "-genkey", "-noout", "-out", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def enroll(
    server: Server,
    ref: str,
    key: Path,
    *extra: str,
    cmd: str = "ir",
    secret: str = PASSWORD,
    subject: str | None = None,
    path: str = "/app/cert/cmp2",
) -> tuple[subprocess.CompletedProcess, Path, Path]:
    """Run openssl cmp; returns the process, the certificate path and the rspout stem."""
    out = server.workdir / f"{ref}-{secrets.token_hex(2)}.crt"
    rsp = server.workdir / f"{out.stem}.rsp.der"
    args = [
        "-cmd",
        cmd,
        "-srvcert",
        "fac.root.pem",
        "-ref",
        ref,
        "-secret",
        f"pass:{secret}",
        "-certout",
        str(out),
        "-rspout",
        str(rsp),
    ]
    if cmd != "p10cr":
        args += ["-newkey", str(key)]
    if subject is not None:
        args += ["-subject", subject]
    result = server.cmp(*args, *extra, path=path)
    return result, out, rsp


def responses(rsp: Path) -> list:
    """Every response openssl saved with -rspout (one file, or numbered files)."""
    files = sorted(rsp.parent.glob(rsp.stem.rsplit(".", 1)[0] + "*.der"))
    if rsp.exists():
        files = [rsp, *[f for f in files if f != rsp]]
    return [read_response(f.read_bytes()) for f in files]


def last_error(rsp: Path):
    """The last refusal saved: an error message, or a response body (ip, cp, kup, rp)
    with status rejection, where RFC 9483, 4.1.1 and 4.2 put refused requests."""
    errors = [r for r in responses(rsp) if r.body_type == "error" or r.status == 2]
    assert errors, "no error response was saved"
    return errors[-1]


def log_messages(server: Server) -> list[str]:
    out = server.shell(
        "import json; from certauth.models import LogEntry; "
        "print(json.dumps(list(LogEntry.objects.order_by('id').values_list('message', flat=True))))"
    )
    return json.loads(out.strip().splitlines()[-1])


def certs_of(server: Server, ref: str) -> list[dict]:
    out = server.shell(
        "import json; from certauth.models import Certificate; "
        f"print(json.dumps(list(Certificate.objects.filter(enrollment__reference={ref!r})"
        ".order_by('id').values('serial', 'status', 'revocation_reason', 'subject'))))"
    )
    return json.loads(out.strip().splitlines()[-1])


def verify(server: Server, cert: Path) -> None:
    result = subprocess.run(
        [OPENSSL, "verify", "-CAfile", str(server.workdir / "fac.root.pem"), str(cert)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == f"{cert}: OK"


# --- the FortiGate enrollment -------------------------------------------------------------


def test_fortigate_enrollment_as_in_readme(pki: Server) -> None:
    add_enrollment(pki, "fgt100f")
    key = rsa_key(pki, "fgt.key")
    result, out, _ = enroll(pki, "fgt100f", key, subject="/CN=fgt100f.local")
    assert result.returncode == 0, result.stdout
    assert "received 1 enrolled certificate" in result.stdout
    verify(pki, out)
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    assert cert.subject.rfc4514_string() == "CN=fgt100f.local"
    assert cert.issuer.rfc4514_string() == "CN=fac.cz.root"
    private = serialization.load_pem_private_key(key.read_bytes(), None)
    assert cert.public_key().public_numbers() == private.public_key().public_numbers()
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and usage.value.key_encipherment
    assert not usage.value.content_commitment and not usage.value.key_agreement
    assert (
        'Certificate signing request "CN=fgt100f.local" signed with CA certificate "CN=fac.cz.root"'
        in log_messages(pki)
    )
    # certConf reached the server: the certificate is active.
    assert [c["status"] for c in certs_of(pki, "fgt100f")] == ["active"]


def test_response_chain_and_ca_pubs(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref)
    key = rsa_key(pki, "chain.key")
    cacerts = pki.workdir / f"{ref}-cacerts.pem"
    extracerts = pki.workdir / f"{ref}-extra.pem"
    result, out, rsp = enroll(
        pki,
        ref,
        key,
        "-cacertsout",
        str(cacerts),
        "-extracertsout",
        str(extracerts),
        subject=f"/CN={ref}",
    )
    assert result.returncode == 0, result.stdout
    root = (pki.workdir / "fac.root.pem").read_text()
    assert cacerts.read_text().strip() == root.strip()
    ip = responses(rsp)[0]
    assert ip.body_type == "ip"
    assert ip.sender.rfc4514_string() == "CN=fac.cz.root"
    assert ip.mac_ok(PASSWORD.encode())
    assert ip.pvno == 2
    assert [c.subject.rfc4514_string() for c in ip.extra_certs] == ["CN=fac.cz.root"]


@pytest.mark.parametrize("curve", ["prime256v1", "secp384r1"])
def test_ec_key(pki: Server, curve: str) -> None:
    ref = new_ref("ec")
    add_enrollment(pki, ref)
    key = ec_key(pki, f"{ref}.key", curve)
    result, out, _ = enroll(pki, ref, key, subject=f"/CN={ref}.example.com")
    assert result.returncode == 0, result.stdout
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == {"prime256v1": "secp256r1"}.get(curve, curve)
    verify(pki, out)


def test_cr_after_ir(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref, "--allow-reenrollment")
    result, out, _ = enroll(pki, ref, rsa_key(pki, "cr.key"), cmd="cr", subject=f"/CN={ref}")
    assert result.returncode == 0, result.stdout
    assert "sending CR" in result.stdout and "received CP" in result.stdout
    verify(pki, out)


def test_p10cr_from_csr(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref)
    key = rsa_key(pki, "p10.key")
    csr = pki.workdir / f"{ref}.csr"
    subprocess.run(
        [
            OPENSSL,
            "req",
            "-new",
            "-key",
            str(key),
            "-subj",
            f"/O=Example/CN={ref}",
            "-out",
            str(csr),
        ],
        check=True,
        capture_output=True,
    )
    result, out, _ = enroll(pki, ref, key, "-csr", str(csr), cmd="p10cr")
    assert result.returncode == 0, result.stdout
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ref
    verify(pki, out)


def test_implicit_confirm(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref)
    result, out, rsp = enroll(
        pki, ref, rsa_key(pki, "ic.key"), "-implicit_confirm", subject=f"/CN={ref}"
    )
    assert result.returncode == 0, result.stdout
    assert "sending CERTCONF" not in result.stdout
    assert responses(rsp)[0].implicit_confirm
    assert [c["status"] for c in certs_of(pki, ref)] == ["active"]


def test_pbm_with_sha256_mac(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref)
    result, out, rsp = enroll(
        pki,
        ref,
        rsa_key(pki, "mac.key"),
        "-mac",
        "hmacWithSHA256",
        "-digest",
        "sha512",
        subject=f"/CN={ref}",
    )
    assert result.returncode == 0, result.stdout
    ip = responses(rsp)[0]
    assert ip.mac_ok(PASSWORD.encode())
    verify(pki, out)


def test_allowed_sans_are_kept(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref, "--san", f"DNS:{ref}.example.com", "--san", "IP:192.0.2.10")
    result, out, _ = enroll(
        pki,
        ref,
        rsa_key(pki, "san.key"),
        "-sans",
        f"{ref}.example.com 192.0.2.10",
        subject=f"/CN={ref}",
    )
    assert result.returncode == 0, result.stdout
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [f"{ref}.example.com"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["192.0.2.10"]


# --- refusals, each with its failInfo bit ---------------------------------------------------


def test_unknown_reference(pki: Server) -> None:
    result, out, rsp = enroll(pki, "no-such-ref", rsa_key(pki, "u.key"), subject="/CN=x")
    assert result.returncode != 0
    assert not out.exists()
    error = last_error(rsp)
    # RFC 9483, 3.5: badMessageCheck; the text stays FortiAuthenticator's, and
    # openssl (so a FortiGate) shows it
    assert error.status_text == "Enrollment not found."
    assert error.failure_bits == (FailureInfo.badMessageCheck,)
    # The error is signed by the CA the client pins, so the client shows its text.
    assert error.sender.rfc4514_string() == "CN=fac.cz.root"
    assert 'StatusString: "Enrollment not found."' in result.stdout


def test_wrong_password_gets_no_certificate(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref)
    result, out, rsp = enroll(
        pki, ref, rsa_key(pki, "w.key"), secret="wrong-password", subject=f"/CN={ref}"
    )
    assert result.returncode != 0
    assert not out.exists()
    error = last_error(rsp)
    assert error.failure_bits == (FailureInfo.badMessageCheck,)
    assert not error.mac_ok(PASSWORD.encode())  # signed by the CA, not MACed with the secret
    assert "PKIFailureInfo: badMessageCheck" in result.stdout
    assert certs_of(pki, ref) == []
    assert not any("wrong-password" in message for message in log_messages(pki))


def test_duplicate_request_refused(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref)
    first, _, _ = enroll(pki, ref, rsa_key(pki, "d.key"), subject=f"/CN={ref}")
    assert first.returncode == 0, first.stdout
    second, out, rsp = enroll(pki, ref, rsa_key(pki, "d.key"), subject=f"/CN={ref}")
    assert second.returncode != 0 and not out.exists()
    assert last_error(rsp).failure_bits == (FailureInfo.duplicateCertReq,)
    assert len(certs_of(pki, ref)) == 1


def test_reenrollment_supersedes_old_certificate(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref, "--allow-reenrollment")
    for _ in range(2):
        result, _, _ = enroll(pki, ref, rsa_key(pki, "re.key"), subject=f"/CN={ref}")
        assert result.returncode == 0, result.stdout
    first, second = certs_of(pki, ref)
    assert (first["status"], first["revocation_reason"]) == ("revoked", "superseded")
    assert second["status"] == "active"


def test_required_subject_mismatch(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref, "--subject", f"CN={ref}.required")
    result, out, rsp = enroll(pki, ref, rsa_key(pki, "s.key"), subject=f"/CN={ref}.other")
    assert result.returncode != 0 and not out.exists()
    error = last_error(rsp)
    # RFC 9483, 4.1.1: the refusal is the ip, status rejection; openssl shows its text
    assert (error.body_type, error.failure_bits) == ("ip", (FailureInfo.badCertTemplate,))
    assert f"CN={ref}.required" in error.status_text
    assert (
        "PKIFailureInfo: badCertTemplate" in result.stdout and f"CN={ref}.required" in result.stdout
    )
    ok, out, _ = enroll(pki, ref, rsa_key(pki, "s.key"), subject=f"/CN={ref}.required")
    assert ok.returncode == 0, ok.stdout


def test_san_not_allowed(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref)
    result, out, rsp = enroll(
        pki, ref, rsa_key(pki, "sn.key"), "-sans", "evil.example.com", subject=f"/CN={ref}"
    )
    assert result.returncode != 0 and not out.exists()
    error = last_error(rsp)
    assert error.failure_bits == (FailureInfo.badCertTemplate,)
    assert "DNS:evil.example.com" in error.status_text


def test_disabled_enrollment(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref, "--disabled")
    result, out, rsp = enroll(pki, ref, rsa_key(pki, "dis.key"), subject=f"/CN={ref}")
    assert result.returncode != 0 and not out.exists()
    error = last_error(rsp)
    assert error.failure_bits == (FailureInfo.notAuthorized,)
    assert error.status_text == f"Enrollment {ref} is disabled."


def test_short_rsa_key_refused(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref)
    key = pki.workdir / "short.key"
    subprocess.run([OPENSSL, "genrsa", "-out", str(key), "1024"], check=True, capture_output=True)
    result, out, rsp = enroll(pki, ref, key, subject=f"/CN={ref}")
    assert result.returncode != 0 and not out.exists()
    assert last_error(rsp).failure_bits == (FailureInfo.badCertTemplate,)


def test_unconfirmed_certificate_is_revoked_by_sweep(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref)
    result, out, _ = enroll(
        pki, ref, rsa_key(pki, "nc.key"), "-disable_confirm", subject=f"/CN={ref}"
    )
    assert result.returncode == 0, result.stdout
    assert [c["status"] for c in certs_of(pki, ref)] == ["pending"]
    pki.shell(
        "from cmp.models import CMPConfig; c = CMPConfig.load(); c.confirm_wait = 0; c.save()"
    )
    try:
        swept = pki.manage("cmp_sweep").stdout
    finally:
        pki.shell(
            "from cmp.models import CMPConfig; c = CMPConfig.load(); c.confirm_wait = 300; c.save()"
        )
    assert "Revoked 1 unconfirmed certificate(s)" in swept
    (cert,) = certs_of(pki, ref)
    assert cert["status"] == "revoked"
    serial = ":".join(cert["serial"][i : i + 2] for i in range(0, len(cert["serial"]), 2))
    assert (
        f'Certificate "CN={ref}" ({serial}) was revoked: the client did not confirm it in time'
        in log_messages(pki)
    )


def test_concurrent_requests_on_one_enrollment_yield_one_certificate(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref)
    key = rsa_key(pki, "cc.key")
    results: list = [None] * 4

    def run(i: int) -> None:
        results[i] = enroll(pki, ref, key, subject=f"/CN={ref}")[0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.returncode == 0 for r in results) == 1, [r.stdout[-300:] for r in results]
    assert len(certs_of(pki, ref)) == 1


def test_parallel_reenrollments_leave_one_active_certificate(pki: Server) -> None:
    """50 openssl clients enroll at once on one re-enrollable enrollment.

    Each gets a certificate; whichever confirmations come last, exactly one
    certificate of the enrollment is in force afterwards.
    """
    ref = new_ref("par")
    add_enrollment(pki, ref, "--allow-reenrollment")
    key = rsa_key(pki, "par.key")
    results: list = [None] * 50

    def run(i: int) -> None:
        results[i] = enroll(pki, ref, key, subject=f"/CN={ref}")[0]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    certs = certs_of(pki, ref)
    assert len(certs) == 50
    active = [c for c in certs if c["status"] == "active"]
    assert len(active) == 1, [c["status"] for c in certs]
    # The others were superseded: revoked, or refused when confirmed too late.
    assert all(
        c["status"] == "revoked" and c["revocation_reason"] == "superseded"
        for c in certs
        if c is not active[0]
    )
    refused = [r for r in results if r.returncode != 0]
    assert all("certConf" in r.stdout or "CERTCONF" in r.stdout for r in refused)


# --- HTTP transfer (RFC 9811) ---------------------------------------------------------------


def http(
    server: Server,
    method: str = "POST",
    body: bytes | None = None,
    content_type: str | None = "application/pkixcmp",
) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(f"{server.url}/app/cert/cmp2", data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_http_errors(pki: Server) -> None:
    assert http(pki, "GET", content_type=None)[0] == 405
    assert http(pki, body=b"\x30\x00", content_type="application/octet-stream")[0] == 415
    assert http(pki, body=b"not a pkimessage")[0] == 400
    # Over the size cap: refused on the declared length, before the body is read
    # (sending the whole body would race the server closing the connection).
    connection = HTTPConnection(pki.host, pki.port, timeout=30)
    connection.putrequest("POST", "/app/cert/cmp2")
    connection.putheader("Content-Type", "application/pkixcmp")
    connection.putheader("Content-Length", str(1024 * 1024 + 10))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()


def test_random_bytes_never_break_the_server(pki: Server) -> None:
    ref = new_ref()
    add_enrollment(pki, ref)
    _, _, _ = enroll(
        pki,
        ref,
        rsa_key(pki, "fz.key"),
        "-reqout",
        str(pki.workdir / "fz-req.der"),
        subject=f"/CN={ref}",
    )
    valid = (
        (pki.workdir / "fz-req.der").read_bytes()
        if (pki.workdir / "fz-req.der").exists()
        else sorted(pki.workdir.glob("fz-req*.der"))[0].read_bytes()
    )
    rng = secrets.SystemRandom()
    bodies = [os.urandom(rng.randint(1, 600)) for _ in range(40)]
    bodies += [valid[:cut] for cut in range(1, len(valid), max(1, len(valid) // 30))]
    for _ in range(40):
        mutated = bytearray(valid)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        bodies.append(bytes(mutated))
    for body in bodies:
        status, headers, payload = http(pki, body=body)
        assert status in (200, 400), (status, body.hex())
        if status == 200:
            assert headers["Content-Type"] == "application/pkixcmp"
            assert read_response(payload).body_type in ("error", "ip", "pkiconf")
    assert "Traceback" not in (pki.workdir / "gunicorn.log").read_text()


def test_response_headers(pki: Server) -> None:
    status, headers, _ = http(pki, body=b"junk")
    assert status == 400
    ref = new_ref()
    add_enrollment(pki, ref)
    request = pki.workdir / f"{ref}-req.der"
    enroll(pki, ref, rsa_key(pki, "h.key"), "-reqout", str(request), subject=f"/CN={ref}")
    first = request if request.exists() else sorted(pki.workdir.glob(f"{ref}-req*.der"))[0]
    status, headers, body = http(pki, body=first.read_bytes())
    assert status == 200
    assert headers["Content-Type"] == "application/pkixcmp"
    assert headers["X-XSS-Protection"] == "1; mode=block"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["Permissions-Policy"] == "fullscreen=(self)"
    # Replaying the ir: RFC 9810, 5.1.1, its transactionID stays taken once it ended.
    assert read_response(body).failure_bits == (FailureInfo.transactionIdInUse,)


@pytest.mark.parametrize("path", ["/.well-known/cmp", "/.well-known/cmp/p/{ref}"])
def test_well_known_paths(pki: Server, path: str) -> None:
    ref = new_ref("wk")
    add_enrollment(pki, ref)
    result, out, _ = enroll(
        pki, ref, rsa_key(pki, "wk.key"), subject=f"/CN={ref}", path=path.format(ref=ref)
    )
    assert result.returncode == 0, result.stdout
    verify(pki, out)


def test_well_known_profile_must_match_reference(pki: Server) -> None:
    ref, other = new_ref("wk"), new_ref("wk")
    add_enrollment(pki, ref)
    add_enrollment(pki, other)
    result, out, rsp = enroll(
        pki, ref, rsa_key(pki, "wk.key"), subject=f"/CN={ref}", path=f"/.well-known/cmp/p/{other}"
    )
    assert result.returncode != 0 and not out.exists()
    error = last_error(rsp)
    assert error.failure_bits == (FailureInfo.notAuthorized,)
    assert (
        error.status_text
        == f"Enrollment {ref} does not match the enrollment ID {other} in the path."
    )


def test_debug_mode_records_traces_without_secrets(pki: Server) -> None:
    assert "CMP debug mode is on" in pki.manage("cmp_debug", "on").stdout
    try:
        ref = new_ref("dbg")
        add_enrollment(pki, ref)
        result, _, _ = enroll(pki, ref, rsa_key(pki, "dbg.key"), subject=f"/CN={ref}")
        assert result.returncode == 0, result.stdout
        failed, _, _ = enroll(pki, "dbg-unknown", rsa_key(pki, "dbg.key"), subject="/CN=x")
        assert failed.returncode != 0
    finally:
        assert "CMP debug mode is off" in pki.manage("cmp_debug", "off").stdout
    out = pki.shell(
        "import json; from cmp.models import CMPTrace; "
        f"print(json.dumps([[t.body_type, t.sender_kid, t.error, t.lines, bytes(t.request_der).hex(), "
        f"bytes(t.response_der).hex()] for t in CMPTrace.objects.filter(sender_kid__in=[{ref!r}, 'dbg-unknown']).order_by('id')]))"
    )
    traces = json.loads(out.strip().splitlines()[-1])
    assert [(t[0], t[1]) for t in traces] == [("ir", ref), ("certConf", ref), ("ir", "dbg-unknown")]
    ir_lines = traces[0][3].splitlines()
    assert "PKIBody type: ir" in ir_lines
    assert f"Enrollment found for senderKID {ref}" in ir_lines
    assert any(line.startswith("Protection checked: PasswordBasedMac") for line in ir_lines)
    assert "POP checked: signature over certReq: OK" in ir_lines
    assert any(line.startswith("CMP response sent: ip") for line in ir_lines)
    assert read_response(bytes.fromhex(traces[0][5])).body_type == "ip"
    assert traces[2][2] == "badMessageCheck: Enrollment not found."
    for trace in traces:
        assert PASSWORD not in trace[3]
        assert PASSWORD.encode().hex() not in trace[4] + trace[5]
    assert pki.manage("cmp_debug", "status").stdout.strip() == "CMP debug mode is off"


def test_disabled_service_answers_system_unavail(pki: Server) -> None:
    ref = new_ref("off")
    add_enrollment(pki, ref)
    pki.shell("from cmp.models import CMPConfig; c = CMPConfig.load(); c.enabled = False; c.save()")
    try:
        result, out, rsp = enroll(pki, ref, rsa_key(pki, "off.key"), subject=f"/CN={ref}")
    finally:
        pki.shell(
            "from cmp.models import CMPConfig; c = CMPConfig.load(); c.enabled = True; c.save()"
        )
    assert result.returncode != 0 and not out.exists()
    error = last_error(rsp)
    assert error.failure_bits == (FailureInfo.systemUnavail,)
    assert error.status_text == "The CMP service is disabled."
    # Signed by the CA the client pins, so the client shows why.
    assert 'StatusString: "The CMP service is disabled."' in result.stdout
