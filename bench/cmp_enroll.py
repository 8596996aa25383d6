#!/usr/bin/env python3
"""Benchmark: complete CMP enrollments (ir + certConf) against gunicorn.

Starts gunicorn on a fresh database (SQLite by default, or the PostgreSQL
named by --database-url), creates a root CA and one enrollment per request,
pre-generates the client keys, then runs ``openssl cmp`` clients from
--concurrency threads, each doing a whole FortiGate-style enrollment.

Prints enrollments per second, p50/p99 latency, and (measured in the same
run, on the same CA key through the keystore) how many RSA-2048 signatures
per second the machine can make: the ceiling for certificate issuance.

    .venv/bin/python bench/cmp_enroll.py --enrollments 200 --concurrency 8 --workers 4
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).parent / "gunicorn")
OPENSSL = shutil.which("openssl") or "openssl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        sys.exit(f"manage.py {args[0]} failed:\n{result.stderr}")
    return result.stdout


SETUP = """
from certauth import services
from certauth.models import CertificateAuthority
ca = CertificateAuthority.objects.get(name="bench.root")
for i in range({count}):
    services.create_enrollment(reference=f"bench{{i}}", password="benchpass", ca=ca,
                               key_usage=["digitalSignature", "keyEncipherment"])
"""

CEILING = """
import time
from cryptography.hazmat.primitives import hashes
from certauth import keystore
from certauth.models import CertificateAuthority
ca = CertificateAuthority.objects.get(name="bench.root")
data = b"x" * 1024
keystore.sign_data(ca, data, hashes.SHA256())
count, start = 0, time.perf_counter()
while time.perf_counter() - start < {seconds}:
    keystore.sign_data(ca, data, hashes.SHA256())
    count += 1
print(f"CEILING {{count / (time.perf_counter() - start):.1f}}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--enrollments", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--ceiling-seconds", type=float, default=3.0)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fac-bench."))
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}",
        "FAC_DATA_DIR": str(tmp / "data"),
        "FAC_KEYSTORE_KEY": secrets.token_urlsafe(32),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "FAC_LOG_LEVEL": "WARNING",
        "FAC_STATIC_ROOT": str(tmp / "static"),
    }
    print(f"database: {env['DATABASE_URL'].split('@')[-1]}", flush=True)
    manage(env, "migrate", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    manage(env, "init_ca", "bench.root", "CN=bench.root")
    (tmp / "root.pem").write_text(manage(env, "dump_ca", "bench.root"))
    manage(env, "shell", "-c", SETUP.format(count=args.enrollments))

    print(f"generating {args.enrollments} RSA-2048 client keys...", flush=True)
    keys = []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:

        def genkey(i: int) -> Path:
            path = tmp / f"k{i}.pem"
            subprocess.run(
                [OPENSSL, "genrsa", "-out", str(path), "2048"], check=True, capture_output=True
            )
            return path

        keys = list(pool.map(genkey, range(args.enrollments)))

    port = free_port()
    log = open(tmp / "gunicorn.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [
            GUNICORN,
            "fac.wsgi:application",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--no-control-socket",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()

        def enroll(i: int) -> None:
            start = time.perf_counter()
            result = subprocess.run(
                [
                    OPENSSL,
                    "cmp",
                    "-cmd",
                    "ir",
                    "-server",
                    f"127.0.0.1:{port}",
                    "-path",
                    "/app/cert/cmp2",
                    "-srvcert",
                    str(tmp / "root.pem"),
                    "-ref",
                    f"bench{i}",
                    "-secret",
                    "pass:benchpass",
                    "-newkey",
                    str(keys[i]),
                    "-subject",
                    f"/CN=bench{i}.local",
                    "-certout",
                    str(tmp / f"c{i}.pem"),
                ],
                capture_output=True,
                text=True,
            )
            elapsed = time.perf_counter() - start
            with lock:
                if result.returncode == 0:
                    latencies.append(elapsed)
                else:
                    failures.append(result.stdout + result.stderr)

        print(
            f"enrolling: {args.enrollments} enrollments, {args.concurrency} concurrent clients, "
            f"{args.workers} gunicorn workers",
            flush=True,
        )
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(enroll, range(args.enrollments)))
        wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()

    ceiling = manage(env, "shell", "-c", CEILING.format(seconds=args.ceiling_seconds))
    signatures = float(ceiling.split("CEILING")[-1])
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(round(p / 100 * (len(latencies) - 1))))] * 1000

    print()
    print(
        f"completed enrollments : {len(latencies)} of {args.enrollments} ({len(failures)} failed)"
    )
    if latencies:
        print(
            f"throughput            : {len(latencies) / wall:.1f} enrollments/s (wall {wall:.1f} s)"
        )
        print(
            f"latency p50 / p99     : {pct(50):.0f} ms / {pct(99):.0f} ms (mean {statistics.mean(latencies) * 1000:.0f} ms)"
        )
    print(
        f"RSA-2048 signatures/s : {signatures:.0f} (CA key via keystore, one core: the issuance ceiling)"
    )
    print(
        "note: each enrollment is one ir + one certConf; the client process (openssl) runs on the same machine"
    )
    if failures:
        print("first failure:\n" + failures[0][-1500:])
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
