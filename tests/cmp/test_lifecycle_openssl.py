"""A device's life after its first certificate, with the real ``openssl cmp`` against gunicorn:
renewal (kur), revocation (rr), CA information (genm), manual approval with
polling, device (vendor certificate) enrollment and signed cr (RFC 9483, 4.1-4.4)."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
from cryptography import x509

from cmp.protocol.errors import FailureInfo
from tests.cmp.conftest import OPENSSL, Server, requires_openssl_cmp
from tests.cmp.test_endpoint_openssl import (
    PASSWORD,
    add_enrollment,
    certs_of,
    enroll,
    last_error,
    log_messages,
    new_ref,
    rsa_key,
    verify,
)

pytestmark = requires_openssl_cmp


@pytest.fixture(scope="module")
def pki(cmp_server: Server) -> Server:
    cmp_server.manage("init_ca", "fac.cz.root", "CN=fac.cz.root")
    (cmp_server.workdir / "fac.root.pem").write_text(
        cmp_server.manage("dump_ca", "fac.cz.root").stdout
    )
    cmp_server.shell(
        "from cmp.models import CMPConfig; c = CMPConfig.load(); c.poll_interval = 1; c.save()"
    )
    return cmp_server


def colons(cert: x509.Certificate) -> str:
    text = f"{cert.serial_number:X}"
    text = "0" * (len(text) % 2) + text
    return ":".join(text[i : i + 2] for i in range(0, len(text), 2))


def first_certificate(pki: Server, ref: str, *extra: str, key_name: str = "old.key"):
    add_enrollment(pki, ref, *extra)
    result, out, _ = enroll(pki, ref, rsa_key(pki, key_name), subject=f"/CN={ref}.local")
    assert result.returncode == 0, result.stdout
    return out


def cmp_signed(pki: Server, *args: str, rspout: str | None = None):
    extra = ["-rspout", rspout] if rspout else []
    return pki.cmp("-srvcert", "fac.root.pem", *args, *extra)


def test_kur_renews_and_supersedes(pki: Server) -> None:
    ref = new_ref("kur")
    old = first_certificate(pki, ref)
    new = pki.workdir / f"{ref}-new.crt"
    result = cmp_signed(
        pki,
        "-cmd",
        "kur",
        "-cert",
        str(old),
        "-key",
        "old.key",
        "-newkey",
        str(rsa_key(pki, "new.key")),
        "-certout",
        str(new),
    )
    assert result.returncode == 0, result.stdout
    assert "sending KUR" in result.stdout and "received KUP" in result.stdout
    verify(pki, new)
    renewed = x509.load_pem_x509_certificate(new.read_bytes())
    assert renewed.subject.rfc4514_string() == f"CN={ref}.local"
    assert f'Certificate "CN={ref}.local" was renewed ({colons(renewed)})' in log_messages(pki)
    first, second = certs_of(pki, ref)
    assert (first["status"], first["revocation_reason"]) == ("revoked", "superseded")
    assert second["status"] == "active"
    # The renewed certificate cannot be renewed a second time from the old one.
    again = cmp_signed(
        pki,
        "-cmd",
        "kur",
        "-cert",
        str(old),
        "-key",
        "old.key",
        "-newkey",
        str(rsa_key(pki, "third.key")),
        "-certout",
        str(pki.workdir / "x.crt"),
    )
    assert again.returncode != 0
    assert "certRevoked" in again.stdout


def test_kur_outside_renewal_window(pki: Server) -> None:
    ref = new_ref("win")
    old = first_certificate(pki, ref, "--renewable-days", "30", "--days", "365")
    rsp = str(pki.workdir / f"{ref}.rsp")
    result = cmp_signed(
        pki,
        "-cmd",
        "kur",
        "-cert",
        str(old),
        "-key",
        "old.key",
        "-newkey",
        str(rsa_key(pki, "new.key")),
        "-certout",
        str(pki.workdir / "w.crt"),
        rspout=rsp,
    )
    assert result.returncode != 0
    error = last_error(pki.workdir / f"{ref}.rsp")
    assert error.failure_bits == (FailureInfo.notAuthorized,)
    assert "can be renewed only within 30 days before it expires" in error.status_text
    assert "notAuthorized" in result.stdout  # signed by the CA: the client shows it


def test_kur_with_password_only_where_allowed(pki: Server) -> None:
    ref = new_ref("mkur")
    old = first_certificate(pki, ref)
    args = [
        "-cmd",
        "kur",
        "-ref",
        ref,
        "-secret",
        f"pass:{PASSWORD}",
        "-oldcert",
        str(old),
        "-newkey",
        str(rsa_key(pki, "new.key")),
        "-certout",
        str(pki.workdir / f"{ref}-2.crt"),
    ]
    refused = cmp_signed(pki, *args)
    assert refused.returncode != 0 and "does not allow password-protected renewal" in refused.stdout
    # RFC 9483, 4.1.3: a kur is signed; a MAC is not the integrity expected
    assert "PKIFailureInfo: wrongIntegrity" in refused.stdout
    pki.shell(
        f"from certauth.models import Enrollment; Enrollment.objects.filter(reference={ref!r}).update(allow_mac_kur=True)"
    )
    allowed = cmp_signed(pki, *args)
    assert allowed.returncode == 0, allowed.stdout
    assert [c["status"] for c in certs_of(pki, ref)] == ["revoked", "active"]


def test_rr_revokes_and_crl_shows_it(pki: Server) -> None:
    ref = new_ref("rr")
    cert_path = first_certificate(pki, ref)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    result = cmp_signed(
        pki,
        "-cmd",
        "rr",
        "-oldcert",
        str(cert_path),
        "-cert",
        str(cert_path),
        "-key",
        "old.key",
        "-revreason",
        "1",
    )
    assert result.returncode == 0, result.stdout
    assert "revocation accepted (PKIStatus=accepted)" in result.stdout
    (record,) = certs_of(pki, ref)
    assert (record["status"], record["revocation_reason"]) == ("revoked", "keyCompromise")
    import urllib.request

    with urllib.request.urlopen(f"{pki.url}/app/cert/crl/fac.cz.root.crl", timeout=10) as response:
        (pki.workdir / "rr.crl").write_bytes(response.read())
    text = subprocess.run(
        [OPENSSL, "crl", "-inform", "DER", "-in", "rr.crl", "-noout", "-text"],
        capture_output=True,
        text=True,
        cwd=pki.workdir,
    ).stdout
    assert f"{cert.serial_number:X}" in text.replace(":", "").upper()
    assert "Key Compromise" in text
    # Revoking again: certRevoked.
    rsp = pki.workdir / f"{ref}-again.rsp"
    again = cmp_signed(
        pki,
        "-cmd",
        "rr",
        "-oldcert",
        str(cert_path),
        "-ref",
        ref,
        "-secret",
        f"pass:{PASSWORD}",
        "-revreason",
        "1",
        rspout=str(rsp),
    )
    assert again.returncode != 0


def test_rr_for_unknown_certificate(pki: Server) -> None:
    ref = new_ref("rru")
    first_certificate(pki, ref, "--allow-mac-kur")
    foreign = pki.workdir / "foreign.pem"
    subprocess.run(
        [
            OPENSSL,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(pki.workdir / "f.key"),
            "-subj",
            "/CN=fac.cz.root",
            "-out",
            str(foreign),
            "-days",
            "2",
        ],
        check=True,
        capture_output=True,
    )
    rsp = pki.workdir / f"{ref}.rsp"
    result = cmp_signed(
        pki,
        "-cmd",
        "rr",
        "-oldcert",
        str(foreign),
        "-ref",
        ref,
        "-secret",
        f"pass:{PASSWORD}",
        "-revreason",
        "0",
        rspout=str(rsp),
    )
    assert result.returncode != 0
    assert last_error(rsp).failure_bits == (FailureInfo.badCertId,)


@pytest.mark.parametrize("infotype", [(), ("-infotype", "caCerts")])
def test_genm_returns_ca_certificates(pki: Server, infotype: tuple[str, ...]) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    from cmp.protocol import messages
    from cmp.protocol.asn1 import OID

    ref = new_ref("genm")
    add_enrollment(pki, ref)
    rsp = pki.workdir / f"{ref}.rsp"
    result = cmp_signed(
        pki, "-cmd", "genm", "-ref", ref, "-secret", f"pass:{PASSWORD}", *infotype, rspout=str(rsp)
    )
    assert result.returncode == 0, result.stdout
    assert "received GENP" in result.stdout
    genp = messages.decode(rsp.read_bytes())
    assert genp.body_type == "genp"
    items = dict(messages.general_messages(genp))
    root = x509.load_pem_x509_certificate((pki.workdir / "fac.root.pem").read_bytes())
    assert root.public_bytes(Encoding.DER) in items[OID.it_ca_certs]


def test_genm_sign_key_pair_types_and_template(pki: Server) -> None:
    from cmp.protocol import messages
    from cmp.protocol.asn1 import OID

    ref = new_ref("genm")
    add_enrollment(pki, ref, "--subject", f"CN={ref}.local")
    for infotype, oid in (
        ("signKeyPairTypes", OID.it_sign_key_pair_types),
        ("certReqTemplate", OID.it_cert_req_template),
    ):
        rsp = pki.workdir / f"{ref}-{infotype}.rsp"
        result = cmp_signed(
            pki,
            "-cmd",
            "genm",
            "-ref",
            ref,
            "-secret",
            f"pass:{PASSWORD}",
            "-infotype",
            infotype,
            rspout=str(rsp),
        )
        assert result.returncode == 0, result.stdout
        items = dict(messages.general_messages(messages.decode(rsp.read_bytes())))
        assert items[oid], infotype
    # The template names the enrollment's required subject.
    assert f"{ref}.local".encode() in items[OID.it_cert_req_template]


def test_manual_approval_with_polling(pki: Server) -> None:
    ref = new_ref("man")
    add_enrollment(pki, ref, "--manual")
    out = pki.workdir / f"{ref}.crt"
    results: list = []

    def client() -> None:
        results.append(
            pki.cmp(
                "-cmd",
                "ir",
                "-srvcert",
                "fac.root.pem",
                "-ref",
                ref,
                "-secret",
                f"pass:{PASSWORD}",
                "-newkey",
                str(rsa_key(pki, "m.key")),
                "-subject",
                f"/CN={ref}.local",
                "-certout",
                str(out),
                timeout=120,
            )
        )

    thread = threading.Thread(target=client)
    thread.start()
    request_id = None
    for _ in range(100):
        listing = pki.manage("cmp_requests", "list").stdout.splitlines()
        rows = [line.split() for line in listing[1:] if ref in line]
        if rows:
            request_id = rows[0][0]
            break
        time.sleep(0.2)
    assert request_id, "the request was not held for approval"
    assert certs_of(pki, ref) == []
    time.sleep(1.5)  # the client polls at least once while waiting
    approved = pki.manage("cmp_requests", "approve", request_id).stdout
    assert approved.startswith(f"Approved request {request_id}: certificate ")
    thread.join(timeout=120)
    (result,) = results
    assert result.returncode == 0, result.stdout
    assert "received POLLREP" in result.stdout or "polling" in result.stdout.lower()
    verify(pki, out)
    assert [c["status"] for c in certs_of(pki, ref)] == ["active"]


def test_manual_rejection(pki: Server) -> None:
    ref = new_ref("rej")
    add_enrollment(pki, ref, "--manual")
    results: list = []
    thread = threading.Thread(
        target=lambda: results.append(
            pki.cmp(
                "-cmd",
                "ir",
                "-srvcert",
                "fac.root.pem",
                "-ref",
                ref,
                "-secret",
                f"pass:{PASSWORD}",
                "-newkey",
                str(rsa_key(pki, "m.key")),
                "-subject",
                f"/CN={ref}.local",
                "-certout",
                str(pki.workdir / f"{ref}.crt"),
                timeout=120,
            )
        )
    )
    thread.start()
    for _ in range(100):
        rows = [
            line.split()
            for line in pki.manage("cmp_requests").stdout.splitlines()[1:]
            if ref in line
        ]
        if rows:
            break
        time.sleep(0.2)
    pki.manage("cmp_requests", "reject", rows[0][0], "--reason", "Unknown device")
    thread.join(timeout=120)
    (result,) = results
    assert result.returncode != 0
    assert "Unknown device" in result.stdout
    assert certs_of(pki, ref) == []


def test_device_enrollment_with_vendor_certificate(pki: Server) -> None:
    w = pki.workdir
    subprocess.run(
        [
            OPENSSL,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(w / "vendor.key"),
            "-subj",
            "/O=Vendor/CN=Vendor Root",
            "-out",
            str(w / "vendor.pem"),
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            OPENSSL,
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(w / "dev.key"),
            "-subj",
            "/O=Vendor/serialNumber=BTS-0001",
            "-out",
            str(w / "dev.csr"),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            OPENSSL,
            "x509",
            "-req",
            "-in",
            str(w / "dev.csr"),
            "-CA",
            str(w / "vendor.pem"),
            "-CAkey",
            str(w / "vendor.key"),
            "-CAcreateserial",
            "-out",
            str(w / "dev.crt"),
            "-days",
            "10",
        ],
        check=True,
        capture_output=True,
    )
    pki.manage("import_ca", "vendor.root", str(w / "vendor.pem"), "--trusted")
    pki.manage(
        "add_enrollment",
        "bts1",
        "--ca",
        "fac.cz.root",
        "--type",
        "device",
        "--trusted-ca",
        "vendor.root",
        "--subject",
        "CN=bts1.operator",
    )
    out = w / "bts.crt"
    result = cmp_signed(
        pki,
        "-cmd",
        "ir",
        "-cert",
        "dev.crt",
        "-key",
        "dev.key",
        "-newkey",
        str(rsa_key(pki, "bts.key")),
        "-subject",
        "/CN=bts1.operator",
        "-certout",
        str(out),
    )
    assert result.returncode == 0, result.stdout
    verify(pki, out)
    assert [c["subject"] for c in certs_of(pki, "bts1")] == ["CN=bts1.operator"]
    # A device certificate from an unknown vendor is not trusted.
    subprocess.run(
        [
            OPENSSL,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(w / "rogue.key"),
            "-subj",
            "/O=Rogue/serialNumber=BTS-0001",
            "-out",
            str(w / "rogue.crt"),
            "-days",
            "2",
        ],
        check=True,
        capture_output=True,
    )
    rsp = w / "rogue.rsp"
    # openssl leaves a self-signed -cert out of extraCerts unless it is named again.
    rogue = cmp_signed(
        pki,
        "-cmd",
        "ir",
        "-cert",
        "rogue.crt",
        "-key",
        "rogue.key",
        "-extracerts",
        "rogue.crt",
        "-newkey",
        str(rsa_key(pki, "bts.key")),
        "-subject",
        "/CN=bts1.operator",
        "-certout",
        str(w / "rogue-out.crt"),
        rspout=str(rsp),
    )
    assert rogue.returncode != 0
    assert last_error(rsp).failure_bits == (FailureInfo.signerNotTrusted,)


def test_signed_cr_for_a_further_certificate(pki: Server) -> None:
    """A cr signed by the enrollment's certificate gets a new one, which then replaces it:
    an enrollment has one certificate in force at a time."""
    ref = new_ref("scr")
    first = first_certificate(pki, ref, key_name="scr.key")
    out = pki.workdir / f"{ref}-cr.crt"
    result = cmp_signed(
        pki,
        "-cmd",
        "cr",
        "-cert",
        str(first),
        "-key",
        "scr.key",
        "-newkey",
        str(rsa_key(pki, "scr2.key")),
        "-subject",
        f"/CN={ref}.local",
        "-certout",
        str(out),
    )
    assert result.returncode == 0, result.stdout
    verify(pki, out)
    assert [(c["status"], c["revocation_reason"]) for c in certs_of(pki, ref)] == [
        ("revoked", "superseded"),
        ("active", ""),
    ]
