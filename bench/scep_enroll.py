#!/usr/bin/env python3
"""SCEP enrollments per second and server CPU per enrollment: fac-ca against Debian's scepserver.

Both servers are measured in the same run, with the same client: Debian's
``scepclient`` (package ``scep``), one process per enrollment (GetCACert,
GetCACaps, PKIOperation PKCSReq), ``--concurrency`` of them at a time. Device
keys are generated before the clock starts, so the figures measure the
servers, not RSA key generation.

* fac-ca runs as the product does: gunicorn with ``--workers`` processes on a
  fresh SQLite (or ``DATABASE_URL``) database set up with the documented
  commands: ``init_ca``, ``scep_config --legacy --single-des`` (scepclient
  2.1.0 uses SHA-1 and DES), a wildcard ``add_enrollment --protocol scep``.
* scepserver (micromdm/scep, same Debian package) runs with
  ``scepserver ca -init`` and ``-challenge``; it keeps its certificates in
  files and applies no policy, so it is the lower bound of what SCEP costs.

Server CPU is the sum of utime + stime in ``/proc/<pid>/stat`` over the
server's processes (gunicorn master and workers; the scepserver process)
before and after the run, divided by the enrollments. Every enrollment of
fac-ca must succeed (the exit code says so); failed enrollments of the
reference are counted and reported (scepserver's file depot loses some under
concurrency).

    .venv/bin/python bench/scep_enroll.py [--enrollments 200] [--concurrency 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).parent / "gunicorn")
CHALLENGE = "bench-Shared-Challenge"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    server: str
    enrollments: int
    failed: int
    concurrency: int
    seconds: float
    enrollments_per_second: float
    cpu_ms_per_enrollment: float
    processes: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start listening")


def _stat(pid: int) -> tuple[int, int]:
    """(parent pid, utime + stime in clock ticks) of *pid*."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def tree_cpu_ticks(root: int) -> tuple[int, int]:
    """CPU ticks of *root* and its child processes, and how many processes they are."""
    total, count = 0, 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            parent, ticks = _stat(pid)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
        if pid == root or parent == root:
            total += ticks
            count += 1
    return total, count


def make_keys(directory: Path, count: int) -> list[Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    paths = []
    for index in range(count):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path = directory / f"device-{index}" / "key.pem"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        paths.append(path)
    return paths


def ra_fingerprint(url: str) -> str | None:
    """SHA-256 of the RA certificate GetCACert returns, if any (scepclient -ca-fingerprint)."""
    import hashlib
    import urllib.request

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs7

    # The URL is the local server this script started (http only).
    with urllib.request.urlopen(f"{url}?operation=GetCACert", timeout=30) as response:  # noqa: S310
        if response.headers.get_content_type() != "application/x-x509-ca-ra-cert":
            return None
        certificates = pkcs7.load_der_pkcs7_certificates(response.read())
    for certificate in certificates:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        if not constraints.value.ca:
            der = certificate.public_bytes(serialization.Encoding.DER)
            return hashlib.sha256(der).hexdigest()
    return None


FAILURES: list[str] = []


def enroll(url: str, key: Path, cn: str, fingerprint: str | None = None) -> bool:
    certificate = key.parent / "cert.pem"
    # scepclient keeps its CSR and self-signed certificate beside it: start afresh.
    for leftover in ("cert.pem", "csr.pem", "self.pem"):
        (key.parent / leftover).unlink(missing_ok=True)
    done = subprocess.run(
        [
            "scepclient",
            "-server-url",
            url,
            "-private-key",
            str(key),
            "-certificate",
            str(certificate),
            "-cn",
            cn,
            "-challenge",
            CHALLENGE,
            # An ECDSA CA's GetCACert has CA and RA: encrypt to the RA only.
            *(["-ca-fingerprint", fingerprint] if fingerprint else []),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=key.parent,
    )
    if done.returncode != 0 or not certificate.exists():
        FAILURES.append(f"{cn}: {done.stdout.strip().splitlines()[:1]} {done.stderr.strip()[:300]}")
        return False
    return True


def measure(name: str, url: str, root_pid: int, keys: list[Path], concurrency: int) -> Result:
    # One enrollment first: connections, lazy imports, the RA, the CRL.
    fingerprint = ra_fingerprint(url)
    if not enroll(url, keys[0], f"warmup.{name}.bench.example.net", fingerprint):
        raise RuntimeError(f"{name}: the first enrollment failed: {FAILURES[-1]}")
    before, _ = tree_cpu_ticks(root_pid)
    start = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        jobs = [
            pool.submit(enroll, url, key, f"d{index}.{name}.bench.example.net", fingerprint)
            for index, key in enumerate(keys[1:], 1)
        ]
        succeeded = sum(job.result() for job in jobs)
    seconds = time.monotonic() - start
    after, processes = tree_cpu_ticks(root_pid)
    count = len(keys) - 1
    return Result(
        server=name,
        enrollments=count,
        failed=count - succeeded,
        concurrency=concurrency,
        seconds=round(seconds, 2),
        enrollments_per_second=round(succeeded / seconds, 1),
        cpu_ms_per_enrollment=round((after - before) * 1000 / TICKS / max(succeeded, 1), 1),
        processes=processes,
    )


def run_fac(work: Path, keys: list[Path], args: argparse.Namespace) -> Result:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{work / 'fac.sqlite3'}"),
        "FAC_DATA_DIR": str(work / "data"),
        "FAC_STATIC_ROOT": str(work / "static"),
        "FAC_KEYSTORE_KEY": secrets.token_urlsafe(32),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "FAC_LOG_LEVEL": "WARNING",
    }

    def manage(*command: str) -> None:
        subprocess.run(
            [PYTHON, str(ROOT / "manage.py"), *command],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=300,
        )

    manage("migrate", "-v0")
    manage("collectstatic", "--noinput", "-v0")
    manage("init_ca", "bench.root", "CN=bench.root", "--key-type", args.ca_key)
    manage("scep_config", "--legacy", "--single-des")
    manage(
        "add_enrollment", "bench", "--protocol", "scep", "--password", CHALLENGE,
        "--ca", "bench.root", "--wildcard",
    )  # fmt: skip
    log = open(work / "gunicorn.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [
            GUNICORN,
            "fac.wsgi:application",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "--no-control-socket",
        ],  # fmt: skip
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, server)
        return measure(
            "fac-ca", f"http://127.0.0.1:{port}/app/cert/scep/", server.pid, keys, args.concurrency
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def run_scepserver(work: Path, keys: list[Path], args: argparse.Namespace) -> Result:
    depot = work / "depot"
    subprocess.run(
        ["scepserver", "ca", "-init", "-depot", str(depot), "-keySize", "2048"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    log = open(work / "scepserver.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [
            "scepserver",
            "-depot",
            str(depot),
            "-port",
            str(port),
            "-challenge",
            CHALLENGE,
            "-allowrenew",
            "0",
        ],  # fmt: skip
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, server)
        return measure(
            "scepserver", f"http://127.0.0.1:{port}/scep", server.pid, keys, args.concurrency
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enrollments", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of fac-ca")
    parser.add_argument(
        "--ca-key",
        choices=["rsa", "ec"],
        default="rsa",
        help="fac-ca's CA key (ec: through the RA)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    for tool in ("scepclient", "scepserver"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is missing: apt-get install scep")
    with tempfile.TemporaryDirectory(prefix="scep-bench-") as tmp:
        work = Path(tmp)
        keys = make_keys(work, args.enrollments + 1)
        (work / "fac").mkdir()
        (work / "reference").mkdir()
        results = [
            run_scepserver(work / "reference", keys, args),
            run_fac(work / "fac", keys, args),
        ]
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return 0
    print(
        f"{args.enrollments} enrollments by scepclient, {args.concurrency} at a time, "
        f"on {os.cpu_count()} CPUs, fac-ca with {args.workers} gunicorn workers"
    )
    print(
        f"{'server':<12} {'enrollments/s':>14} {'CPU ms/enrollment':>18} {'seconds':>8} "
        f"{'failed':>7} {'processes':>9}"
    )
    for r in results:
        print(
            f"{r.server:<12} {r.enrollments_per_second:>14} {r.cpu_ms_per_enrollment:>18} "
            f"{r.seconds:>8} {r.failed:>7} {r.processes:>9}"
        )
    if FAILURES:
        print(f"{len(FAILURES)} failed enrollments, the first: {FAILURES[0]}")
    # fac-ca must issue every certificate; the reference's failures are reported as they are.
    return 1 if results[-1].failed else 0


if __name__ == "__main__":
    sys.exit(main())
