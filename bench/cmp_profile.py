"""Profile complete CMP enrollments in process (cProfile), with query counts.

    .venv/bin/python bench/cmp_profile.py [--enrollments 200] [--ca-key rsa|ec]
        [--database-url URL] [--sort tottime|cumulative] [--top 40] [--out FILE]

A fresh database (SQLite in a temporary directory; with --database-url a new
database on that PostgreSQL server, dropped afterwards),
``migrate``, ``init_ca``, N enrollments, then N ir + certConf through Django's
WSGI handler (the product's middleware and view, no HTTP server), the same
requests as bench/cmp_load.py builds. Prints the per-request query counts and
the profile; a timer's view of the server's CPU without gunicorn and sockets.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import cmp_messages as wire  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enrollments", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--ca-key", choices=("rsa", "ec"), default="rsa")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", default="")
    parser.add_argument("--no-profile", action="store_true", help="time only")
    parser.add_argument(
        "--flood",
        choices=("freetext", "generalinfo", "wrongmac"),
        help="instead of enrollments, post this unauthenticated shape (64 KiB) N times",
    )
    parser.add_argument(
        "--cpu-timer",
        action="store_true",
        help="profile with the process's CPU clock (waits on the database not counted)",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fac-cmp-profile."))
    url = args.database_url or f"sqlite:///{tmp / 'fac.sqlite3'}"
    if args.database_url:
        url = _new_postgres_database(args.database_url)
    os.environ.update(
        {
            "DATABASE_URL": url,
            "FAC_DATA_DIR": str(tmp / "data"),
            "FAC_STATIC_ROOT": str(tmp / "static"),
            "FAC_KEYSTORE_KEY": secrets.token_urlsafe(32),
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "DJANGO_SETTINGS_MODULE": "fac.settings",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from certauth import services

    call_command("migrate", verbosity=0)
    if os.environ.get("PRAGMAS") and connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for pragma in os.environ["PRAGMAS"].split(";"):
                cursor.execute(f"PRAGMA {pragma}")
    ca_args = {"key_type": "ec"} if args.ca_key == "ec" else {}
    ca = services.create_ca(name="bench.root", subject="CN=bench.root", **ca_args)
    call_command("cmp_debug", "off")
    total = args.enrollments + args.warmup
    key = ec.generate_private_key(ec.SECP256R1())
    recipient = ca.certificate.subject.public_bytes()
    senders = []
    for i in range(total):
        reference = f"prof-{i:05d}"
        secret = secrets.token_urlsafe(12)
        services.create_enrollment(reference=reference, password=secret, ca=ca)
        subject = x509.Name.from_rfc4514_string(f"CN={reference}").public_bytes()
        senders.append(wire.Sender(reference.encode(), secret.encode(), subject, recipient))
    jobs = [
        (s, wire.ir_body(key, s.subject_der), wire.PBM.new(s.secret), wire.PBM.new(s.secret))
        for s in senders
    ]
    client = Client()
    counts: list[tuple[int, int]] = []

    executed: list[str] = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    counting = [True]  # warm-up only: an execute wrapper costs time of its own

    def post(body: bytes) -> tuple[bytes, int]:
        del executed[:]
        if counting[0]:
            with connection.execute_wrapper(count):
                response = client.post(
                    "/app/cert/cmp2", data=body, content_type="application/pkixcmp"
                )
        else:
            response = client.post("/app/cert/cmp2", data=body, content_type="application/pkixcmp")
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.content[:200]!r}")
        if os.environ.get("SHOW_QUERIES"):
            for sql in executed:
                print("  ", sql[:160])
            print("   --", len(executed), "queries")
        return response.content, len(executed)

    def enroll(job) -> tuple[int, int]:
        sender, ir_body, ir_pbm, conf_pbm = job
        tid, n1, n2 = os.urandom(16), os.urandom(16), os.urandom(16)
        head = wire.header(sender, ir_pbm, tid, n1)
        data, q1 = post(wire.protect(head, ir_body, ir_pbm))
        ip = wire.read_response(data)
        if ip.body_type != "ip" or not ip.certificate:
            raise RuntimeError(f"ir: {ip.kind()} {ip.text}")
        head = wire.header(sender, conf_pbm, tid, n2, recip_nonce=ip.sender_nonce)
        data, q2 = post(wire.protect(head, wire.cert_conf_body(ip.certificate), conf_pbm))
        conf = wire.read_response(data)
        if conf.body_type != "pkiconf":
            raise RuntimeError(f"certConf: {conf.kind()} {conf.text}")
        return q1, q2

    if args.flood:
        limit = 65536 if args.flood != "wrongmac" else 0
        item = {"freetext": {"free_text_item": b"\x0c\x00"}}.get(
            args.flood, {"general_info_item": b"\x30\x03\x06\x01\x2a"}
        )
        flood = [
            wire.flood(s, key, limit=limit, **item)[0]  # type: ignore[arg-type]
            for s in senders
        ]

        def enroll(body):  # type: ignore[no-redef]  # one request, an error answer
            data, q = post(body)
            return q, 0

        jobs = flood  # type: ignore[assignment]
    for job in jobs[: args.warmup]:
        counts.append(enroll(job))
    counting[0] = False
    measured = jobs[args.warmup :]
    profile = None
    if not args.no_profile:
        profile = cProfile.Profile(time.process_time) if args.cpu_timer else cProfile.Profile()
    backend = _backend_pid(connection)
    db0 = _proc_cpu(backend)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if profile:
        profile.enable()
    for job in measured:
        enroll(job)
    if profile:
        profile.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    db = _proc_cpu(backend) - db0
    n = len(measured)
    steady = counts[2:] or counts  # the first ones also create the settings, read the CAs
    in_db = f" + {db / n * 1000:.2f} ms in the PostgreSQL backend" if backend else ""
    print(
        f"{n} enrollments: {cpu / n * 1000:.2f} ms CPU{in_db}, {wall / n * 1000:.2f} ms wall each"
        f" ({'profiled' if profile else 'not profiled'}); statements ir/certConf"
        " (of the warm-up; BEGIN and COMMIT not counted):"
        f" {sorted(set(c[0] for c in steady))} / {sorted(set(c[1] for c in steady))}"
    )
    if profile:
        text = io.StringIO()
        stats = pstats.Stats(profile, stream=text)
        stats.sort_stats(args.sort).print_stats(args.top)
        print(text.getvalue())
        if args.out:
            stats.dump_stats(args.out)


def _new_postgres_database(server: str) -> str:
    """A new database on the PostgreSQL server of *server*, dropped at exit."""
    import atexit

    import psycopg

    name = "fac_profile_" + secrets.token_hex(4)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    atexit.register(drop)
    return f"{server.rpartition('/')[0]}/{name}"


def _backend_pid(connection) -> int:
    """The PostgreSQL backend serving this process's connection (0 on SQLite)."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process from /proc (0 without one)."""
    if not pid:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
