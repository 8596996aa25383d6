#!/usr/bin/env python3
"""CMP load generator: complete enrollments (ir + certConf) against fac-ca and OpenSSL's mock server.

Starts the product as the tests do (tests/cmp/conftest.py): a fresh database
(SQLite in a temporary directory, or a new database in the PostgreSQL cluster
named by --database-url), ``migrate``, ``collectstatic``, ``init_ca``, CMP
debug mode off, DEBUG off, then gunicorn ``fac.wsgi:application`` with
--workers sync workers (or gthread workers with --threads). One enrollment per
simulated device is created with ``import_enrollments``; client keys come from
a cache (RSA-2048 by default, generated once) and every request body is built
before the clock starts (bench/cmp_messages.py: PBM exactly as OpenSSL computes
it). --clients threads (or processes with --processes) each keep one HTTP/1.1
connection and do whole enrollments, each for its own enrollment; a warm-up
runs first and is not counted.

The same load generator then measures OpenSSL's mock server (``openssl cmp
-port``, which hands out one fixed certificate) with the same kind of bodies,
and the report puts both side by side with their ratio.

Server CPU is utime + stime from /proc/<pid>/stat (clock ticks), summed over
the gunicorn master and every worker (and what the master reaped), and on
PostgreSQL over the cluster's postmaster and all its processes, between the
start and the end of the measured phase, divided by the completed enrollments.

    .venv/bin/python bench/cmp_load.py --clients 2 --workers 4 --enrollments 500 \\
        [--database-url URL] [--prefill 100000] [--no-mock] [--unauthenticated]

docs/benchmarks.md explains every figure.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import http.client
import json
import multiprocessing
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cmp_messages as wire
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).parent / "gunicorn")
OPENSSL = shutil.which("openssl") or "openssl"
TICKS = os.sysconf("SC_CLK_TCK")
CPUS = os.cpu_count() or 1
CMP_PATH = "/app/cert/cmp2"
#: Other processes' share of the machine above which a phase is flagged.
DISTURBED_PERCENT = 10.0
CONTENT_TYPE = "application/pkixcmp"
CA_NAME = "bench.root"
MOCK_REF, MOCK_SECRET = "mockref", "mock-Secret-1"
MOCK_PATH = "/pkix/"  # the mock serves "/" and "/pkix/" only


STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"[cmp_load {time.monotonic() - STARTED:6.1f} s] {text}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------- CPU from /proc


def _stat(pid: int) -> tuple[int, int]:
    """(parent pid, utime + stime + cutime + cstime in ticks) of *pid*.

    The children's times hold what the process reaped: a gunicorn worker or a
    PostgreSQL backend that exits mid-run is counted by its parent.
    """
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), sum(int(f) for f in fields[11:15])


def tree_ticks(root: int) -> tuple[int, int]:
    """CPU ticks of *root* and all its descendants, and how many processes they are."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                parents[int(entry.name)], ticks[int(entry.name)] = _stat(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    if root not in ticks:
        return 0, 0
    members, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in members:
                members.add(pid)
                frontier.append(pid)
    return sum(ticks[pid] for pid in members), len(members)


def machine_ticks() -> tuple[int, int]:
    """(busy, total) ticks of all CPUs, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already in user
    return total - idle, total


def wait_for_quiet(limit: float, busy_percent: float = 15.0, seconds: int = 3) -> float:
    """Wait (at most *limit* seconds) until the machine has been idle for *seconds* in a
    row: other processes' CPU would disturb the figures. Returns the last busy share."""
    deadline = time.monotonic() + limit
    quiet, told = 0, False
    while True:
        a = machine_ticks()
        time.sleep(1.0)
        b = machine_ticks()
        busy = 100 * (b[0] - a[0]) / max(1, b[1] - a[1])
        quiet = quiet + 1 if busy < busy_percent else 0
        if quiet >= seconds or time.monotonic() > deadline:
            return busy
        if not told and busy >= busy_percent:
            say(f"machine {busy:.0f}% busy with other work: waiting (--wait-quiet)")
            told = True


def own_ticks() -> float:
    """This process's CPU (all threads, and client processes it reaped), in ticks."""
    t = os.times()
    return (t.user + t.system + t.children_user + t.children_system) * TICKS


@dataclass
class Snapshot:
    when: float
    roots: dict[str, tuple[int, int]]
    machine: tuple[int, int]
    own: float


class Meter:
    """CPU of named process trees (gunicorn, PostgreSQL, the mock) over a phase."""

    def __init__(self, roots: dict[str, int]):
        self.roots = roots

    def snapshot(self) -> Snapshot:
        return Snapshot(
            time.perf_counter(),
            {name: tree_ticks(pid) for name, pid in self.roots.items()},
            machine_ticks(),
            own_ticks(),
        )


@dataclass
class Cpu:
    """CPU seconds used during a phase."""

    trees: dict[str, float]
    processes: dict[str, int]
    load_generator: float
    machine_busy: float
    machine_total: float

    @classmethod
    def between(cls, a: Snapshot, b: Snapshot) -> Cpu:
        return cls(
            trees={n: (b.roots[n][0] - a.roots[n][0]) / TICKS for n in a.roots},
            processes={n: b.roots[n][1] for n in a.roots},
            load_generator=(b.own - a.own) / TICKS,
            machine_busy=(b.machine[0] - a.machine[0]) / TICKS,
            machine_total=(b.machine[1] - a.machine[1]) / TICKS,
        )

    @property
    def other(self) -> float:
        """Busy CPU seconds of the machine not accounted to any measured process."""
        return max(0.0, self.machine_busy - sum(self.trees.values()) - self.load_generator)


# ----------------------------------------------------------------------- keys


def client_keys(count: int, kind: str, cache: Path) -> list:
    """*count* client keys from *cache*, generating (on every CPU) the ones missing."""
    cache.mkdir(parents=True, exist_ok=True)
    paths = [cache / f"{kind}-{i:05d}.der" for i in range(count)]
    missing = [p for p in paths if not p.exists()]
    if missing:
        say(f"generating {len(missing)} {kind} client keys into {cache} (once)")
        started = time.monotonic()
        with ProcessPoolExecutor(CPUS) as pool:
            for path, der in zip(missing, pool.map(_new_key, [kind] * len(missing)), strict=True):
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(der)
                tmp.replace(path)
        say(f"  {time.monotonic() - started:.0f} s")
    return [
        serialization.load_der_private_key(
            p.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
        )
        for p in paths
    ]


def _new_key(kind: str) -> bytes:
    key = (
        rsa.generate_private_key(65537, 2048)
        if kind == "rsa2048"
        else ec.generate_private_key(ec.SECP256R1())
    )
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# -------------------------------------------------------------------- the product


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start listening")


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://", "pgsql://"))


class Product:
    """fac-ca on a fresh database, served by gunicorn."""

    def __init__(self, args: argparse.Namespace, tmp: Path, source: Path):
        self.args, self.tmp, self.source = args, tmp, source
        self.port = free_port()
        self.drop: Callable[[], None] = lambda: None
        self.db_root: int | None = None
        self.db_label = "SQLite"
        url = args.database_url
        if _is_postgres(url):
            import psycopg

            admin = url
            name = "fac_bench_" + secrets.token_hex(4)
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
                version = conn.execute("SHOW server_version").fetchone()[0]
            self.db_label = f"PostgreSQL {version.split()[0]}"

            def drop() -> None:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

            self.drop = drop
            url = f"{admin.rpartition('/')[0]}/{name}"
        elif not url:
            url = f"sqlite:///{tmp / 'fac.sqlite3'}"
        self.url = url
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "FAC_DATA_DIR": str(tmp / "data"),
            "FAC_STATIC_ROOT": str(tmp / "static"),
            "FAC_KEYSTORE_KEY": secrets.token_urlsafe(32),
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "FAC_PUBLIC_URL": f"http://127.0.0.1:{self.port}",
        }
        self.process: subprocess.Popen | None = None
        self.log_path = tmp / "gunicorn.log"

    def manage(self, *command: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [PYTHON, str(self.source / "manage.py"), *command],
            env=self.env,
            cwd=self.source,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {command[0]} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def set_up(self) -> None:
        say(f"setting up fac-ca on {self.db_label} ({self.url.split('@')[-1]})")
        self.manage("migrate", "-v0")
        self.manage("collectstatic", "--noinput", "-v0")
        ca_args = ["--key-type", "ec", "--curve", "p256"] if self.args.ca_key == "ec" else []
        self.manage("init_ca", CA_NAME, f"CN={CA_NAME}", *ca_args)
        self.manage("cmp_debug", "off")
        pem = self.manage("dump_ca", CA_NAME)
        self.ca = x509.load_pem_x509_certificate(pem.encode())
        self.max_body = int(
            self.manage(
                "shell", "-c", "from django.conf import settings; print(settings.FAC_CMP_MAX_BODY)"
            ).split()[-1]
        )
        if _is_postgres(self.url):
            self.db_root = _postmaster(self.url)

    def add_enrollments(self, rows: list[tuple[str, str]]) -> None:
        path = self.tmp / f"enrollments-{rows[0][0]}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["reference", "password", "ca"])
            writer.writerows((ref, password, CA_NAME) for ref, password in rows)
        self.manage("import_enrollments", str(path))

    def prefill(self, count: int, status: str) -> float:
        """*count* certificates and *count* log entries, in bulk; returns the seconds it took."""
        started = time.monotonic()
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        name = x509.Name.from_rfc4514_string("CN=prefill.bench.local")
        pem = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(self.ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=365))
            .sign(key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )
        (self.tmp / "prefill.pem").write_bytes(pem)
        self.manage(
            "shell", "-c", PREFILL.format(count=count, pem=self.tmp / "prefill.pem", status=status)
        )
        return time.monotonic() - started

    def start(self) -> None:
        command = [
            GUNICORN,
            "fac.wsgi:application",
            "--workers",
            str(self.args.workers),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "120",
            "--graceful-timeout",
            "5",
            "--no-control-socket",
        ]
        if self.args.threads:
            command += ["--worker-class", "gthread", "--threads", str(self.args.threads)]
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            command, env=self.env, cwd=self.source, stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port, self.process, "gunicorn")
        deadline = time.monotonic() + 30
        while tree_ticks(self.process.pid)[1] < self.args.workers + 1:
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start its workers")
            time.sleep(0.1)

    def roots(self) -> dict[str, int]:
        if self.process is None:
            raise RuntimeError("gunicorn is not running")
        roots = {"gunicorn": self.process.pid}
        if self.db_root is not None:
            roots["postgresql"] = self.db_root
        return roots

    def stop(self) -> list[str]:
        """Stop gunicorn; returns the first lines of any traceback it logged."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.log.close()
            self.process = None
        try:
            self.drop()
        except Exception as exc:  # noqa: BLE001 - cleanup: report, go on
            say(f"could not drop the database: {exc}")
        text = self.log_path.read_text() if self.log_path.exists() else ""
        if "Traceback" in text:
            return text[text.index("Traceback") :].splitlines()[:30]
        return []


def _postmaster(url: str) -> int | None:
    """The pid of the cluster's postmaster when it runs on this machine, else None."""
    import psycopg

    with psycopg.connect(url) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        try:
            parent = _stat(backend)[0]
            if "postgres" in Path(f"/proc/{parent}/cmdline").read_bytes().decode(errors="replace"):
                return parent
        except OSError:
            pass
    say("PostgreSQL does not run on this machine: its CPU is not counted")
    return None


PREFILL = """
import datetime as dt
from django.db import transaction
from django.utils import timezone
from certauth import events
from certauth.models import Certificate, CertificateAuthority

count, status = {count}, "{status}"
ca = CertificateAuthority.objects.get(name="{ca}")
pem = open("{pem}").read()
now = timezone.now()
base = 1 << 120
batch = 2000
for start in range(0, count, batch):
    rows = range(start, min(count, start + batch))
    with transaction.atomic():
        Certificate.objects.bulk_create(
            [
                Certificate(
                    name=f"prefill-{{i}}",
                    ca=ca,
                    serial=f"{{base + i:X}}",
                    subject=f"CN=prefill-{{i}}.bench.local",
                    key_usage=["digitalSignature", "keyEncipherment"],
                    certificate_pem=pem,
                    not_before=now - dt.timedelta(days=1),
                    not_after=now + dt.timedelta(days=365),
                    status=status,
                    revoked_at=now if status == "revoked" else None,
                    revocation_reason="superseded" if status == "revoked" else "",
                )
                for i in rows
            ],
            batch_size=500,
        )
        events.log_many(
            events.CERT_SIGNED,
            events.Actor(user="prefill", source_ip="192.0.2.1"),
            [{{"subject": f"CN=prefill-{{i}}.bench.local", "ca": "CN={ca}"}} for i in rows],
        )
from django.db import connection
if connection.vendor == "postgresql":
    # What autovacuum does within a minute of such a load: done now, not during the phase.
    from certauth.models import LogEntry
    with connection.cursor() as cursor:
        for model in (Certificate, LogEntry):
            cursor.execute(f"VACUUM ANALYZE {{model._meta.db_table}}")
print(Certificate.objects.count())
""".replace("{ca}", CA_NAME)


# ----------------------------------------------------------------- OpenSSL's mock


class Mock:
    """``openssl cmp -port``: PBM with its -srv_secret, one fixed certificate."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.port = free_port()
        key = rsa.generate_private_key(65537, 2048)
        now = dt.datetime.now(dt.UTC)
        name = x509.Name.from_rfc4514_string("CN=OpenSSL mock CA")
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        leaf = rsa.generate_private_key(65537, 2048)
        issued = (
            x509.CertificateBuilder()
            .subject_name(x509.Name.from_rfc4514_string("CN=mock-issued.bench.local"))
            .issuer_name(name)
            .public_key(leaf.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256())
        )
        (tmp / "mock.pem").write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        (tmp / "mock.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (tmp / "issued.pem").write_bytes(issued.public_bytes(serialization.Encoding.PEM))
        self.process: subprocess.Popen | None = None

    def start(self) -> int:
        """Start the mock; returns its pid."""
        self.log = (self.tmp / "mock.log").open("w")
        self.process = subprocess.Popen(
            [
                OPENSSL,
                "cmp",
                "-port",
                str(self.port),
                "-srv_ref",
                MOCK_REF,
                "-srv_secret",
                f"pass:{MOCK_SECRET}",
                "-srv_cert",
                str(self.tmp / "mock.pem"),
                "-srv_key",
                str(self.tmp / "mock.key"),
                "-rsp_cert",
                str(self.tmp / "issued.pem"),
                "-verbosity",
                "3",
            ],  # fmt: skip
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=self.tmp,
        )
        wait_for_port(self.port, self.process, "openssl cmp -port")
        # The readiness probe was a connection without a request: the mock
        # waits a second for its request before it accepts the next one.
        time.sleep(1.2)
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.log.close()
            self.process = None


# ------------------------------------------------------------------- the load


@dataclass(frozen=True)
class Target:
    name: str
    port: int
    path: str = CMP_PATH
    #: A new connection for each enrollment (or request). OpenSSL's mock ends
    #: the connection after each transaction (it says keep-alive, then closes)
    #: and serves one connection at a time.
    close_after_each: bool = False


class Channel:
    """One client's HTTP/1.1 connection, kept alive as long as the server allows."""

    def __init__(self, port: int, path: str):
        self.path = path
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.connections = 0
        self.retries = 0
        self.used = 0  # requests on the current connection

    def post(self, body: bytes) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.conn.sock is None:
                self.connections += 1
                self.used = 0
            reused = self.used > 0
            try:
                self.conn.request("POST", self.path, body, {"Content-Type": CONTENT_TYPE})
                response = self.conn.getresponse()
                data = response.read()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.conn.close()
                # A kept-alive connection the server closed meanwhile: send again
                # on a new one, once, as HTTP clients do.
                if reused and attempt == 1:
                    self.retries += 1
                    continue
                raise
            except (OSError, http.client.HTTPException):
                self.conn.close()
                raise
            self.used += 1
            if response.will_close:
                self.conn.close()
            return response.status, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


@dataclass
class Job:
    """One enrollment to do: what it sends, minus the header built at send time."""

    sender: wire.Sender
    ir_body: bytes
    ir_pbm: wire.PBM
    conf_pbm: wire.PBM


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    connections: int = 0
    retries: int = 0
    requests: int = 0

    def record(self, kind: str, text: str = "") -> None:
        """Count one failure (or, for the unauthenticated shapes, one kind of answer)."""
        self.errors[kind] += 1
        self.samples.setdefault(kind, text[:300])

    def merge(self, other: Outcome) -> None:
        self.latencies += other.latencies
        self.errors.update(other.errors)
        for kind, text in other.samples.items():
            self.samples.setdefault(kind, text)
        self.connections += other.connections
        self.retries += other.retries
        self.requests += other.requests


def _exchange(channel: Channel, outcome: Outcome, step: str, body: bytes):
    """Send one request; returns the decoded response, or None after recording the failure."""
    outcome.requests += 1
    try:
        status, data = channel.post(body)
    except (OSError, http.client.HTTPException) as exc:
        outcome.record(f"{step}: {type(exc).__name__}", str(exc))
        return None
    if status != 200:
        outcome.record(f"{step}: HTTP {status}", data[:300].decode(errors="replace"))
        return None
    try:
        return wire.read_response(data)
    except (ValueError, IndexError) as exc:
        outcome.record(f"{step}: not a PKIMessage", str(exc))
        return None


def enroll(channel: Channel, job: Job, outcome: Outcome) -> None:
    """One complete enrollment: ir -> ip, certConf -> pkiconf."""
    started = time.perf_counter()
    transaction_id, ir_nonce, conf_nonce = os.urandom(16), os.urandom(16), os.urandom(16)
    head = wire.header(job.sender, job.ir_pbm, transaction_id, ir_nonce)
    ip = _exchange(channel, outcome, "ir", wire.protect(head, job.ir_body, job.ir_pbm))
    if ip is None:
        return
    if (
        ip.body_type != "ip"
        or ip.status not in ("accepted", "grantedWithMods")
        or not ip.certificate
    ):
        outcome.record(f"ir: {ip.kind()}", ip.text)
        return
    if ip.transaction_id != transaction_id or ip.recip_nonce != ir_nonce:
        outcome.record("ir: ip with a wrong transactionID or recipNonce")
        return
    head = wire.header(
        job.sender, job.conf_pbm, transaction_id, conf_nonce, recip_nonce=ip.sender_nonce
    )
    body = wire.cert_conf_body(ip.certificate)
    conf = _exchange(channel, outcome, "certConf", wire.protect(head, body, job.conf_pbm))
    if conf is None:
        return
    if conf.body_type != "pkiconf":
        outcome.record(f"certConf: {conf.kind()}", conf.text)
        return
    if conf.transaction_id != transaction_id or conf.recip_nonce != conf_nonce:
        outcome.record("certConf: pkiconf with a wrong transactionID or recipNonce")
        return
    outcome.latencies.append(time.perf_counter() - started)


def send_one(channel: Channel, body: bytes, outcome: Outcome) -> None:
    """One request whose answer is only classified (the unauthenticated shapes)."""
    outcome.requests += 1
    try:
        status, data = channel.post(body)
    except (OSError, http.client.HTTPException) as exc:
        outcome.record(type(exc).__name__, str(exc))
        return
    if status != 200:
        outcome.record(f"HTTP {status}", data[:200].decode(errors="replace"))
        return
    try:
        response = wire.read_response(data)
    except (ValueError, IndexError) as exc:
        outcome.record("HTTP 200, not a PKIMessage", str(exc))
        return
    outcome.record(response.kind(), response.text)


def _client(
    target: Target,
    work: Callable[[Channel, int, Outcome], None],
    take: Callable[[], int | None],
    start: threading.Event,
) -> Outcome:
    outcome = Outcome()
    channel = Channel(target.port, target.path)
    start.wait()
    while (index := take()) is not None:
        work(channel, index, outcome)
        if target.close_after_each:
            channel.close()
    channel.close()
    outcome.connections, outcome.retries = channel.connections, channel.retries
    return outcome


def _client_process(target, work, take, start, queue) -> None:
    queue.put(_client(target, work, take, start))


@dataclass
class Phase:
    outcome: Outcome
    wall: float
    cpu: Cpu


def run(
    target: Target,
    work: Callable[[Channel, int, Outcome], None],
    count: int,
    clients: int,
    meter: Meter,
    *,
    processes: bool = False,
    deadline: float | None = None,
) -> Phase:
    """*count* units of *work* (enrollments or requests) from *clients* parallel clients,
    each taking the next unit when it is done with one."""
    if processes:
        context = multiprocessing.get_context("fork")
        counter = context.Value("l", 0)
        start_event = context.Event()

        def take() -> int | None:
            if deadline is not None and time.perf_counter() > deadline:
                return None
            with counter.get_lock():
                index = counter.value
                counter.value += 1
            return index if index < count else None

        queue = context.Queue()
        workers = [
            context.Process(target=_client_process, args=(target, work, take, start_event, queue))
            for _ in range(clients)
        ]
        for worker in workers:
            worker.start()
        time.sleep(0.2)
        before = meter.snapshot()
        start_event.set()
        outcomes = [queue.get() for _ in workers]
        for worker in workers:
            worker.join()
    else:
        lock = threading.Lock()
        position = iter(range(count))
        start_event = threading.Event()

        def take() -> int | None:
            if deadline is not None and time.perf_counter() > deadline:
                return None
            with lock:
                return next(position, None)

        results: list[Outcome] = []

        def client() -> None:
            results.append(_client(target, work, take, start_event))

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        time.sleep(0.05)
        before = meter.snapshot()
        start_event.set()
        for thread in threads:
            thread.join()
        outcomes = results
    after = meter.snapshot()
    total = Outcome()
    for outcome in outcomes:
        total.merge(outcome)
    return Phase(total, after.when - before.when, Cpu.between(before, after))


def build_jobs(senders: list[wire.Sender], keys: list) -> list[Job]:
    return [
        Job(s, wire.ir_body(k, s.subject_der), wire.PBM.new(s.secret), wire.PBM.new(s.secret))
        for s, k in zip(senders, keys, strict=True)
    ]


def measure_enrollments(
    target: Target, jobs: list[Job], warmup: int, args: argparse.Namespace, meter: Meter
) -> tuple[Phase, Phase]:
    """Warm-up (not counted), then the measured phase."""

    def work(channel: Channel, index: int, outcome: Outcome) -> None:
        enroll(channel, jobs[index], outcome)

    if args.wait_quiet:
        wait_for_quiet(args.wait_quiet)
    warm = run(target, work, warmup, args.clients, meter, processes=args.processes)
    if warmup and not warm.outcome.latencies:
        raise RuntimeError(
            f"no warm-up enrollment with {target.name} succeeded: {dict(warm.outcome.errors)} "
            f"{warm.outcome.samples}"
        )

    def measured(channel: Channel, index: int, outcome: Outcome) -> None:
        enroll(channel, jobs[warmup + index], outcome)

    phase = run(target, measured, len(jobs) - warmup, args.clients, meter, processes=args.processes)
    return warm, phase


# --------------------------------------------------------------------- figures


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile, in ms."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1] * 1000


@dataclass
class Figures:
    label: str
    completed: int
    attempted: int
    seconds: float
    rate: float
    p50: float
    p90: float
    p99: float
    server_ms: float  # gunicorn (or the mock) per completed enrollment
    database_ms: float | None
    load_generator_ms: float
    connections_per_enrollment: float
    retries: int
    other_cpu_percent: float
    processes: dict[str, int]
    errors: dict[str, int]
    samples: dict[str, str]
    commit: str

    @property
    def total_ms(self) -> float:
        return self.server_ms + (self.database_ms or 0.0)


def figures(label: str, phase: Phase, attempted: int, server: str, commit: str) -> Figures:
    o, cpu = phase.outcome, phase.cpu
    done = max(1, len(o.latencies))
    database = cpu.trees.get("postgresql")
    return Figures(
        label=label,
        completed=len(o.latencies),
        attempted=attempted,
        seconds=round(phase.wall, 2),
        rate=len(o.latencies) / phase.wall if phase.wall else 0.0,
        p50=percentile(o.latencies, 50),
        p90=percentile(o.latencies, 90),
        p99=percentile(o.latencies, 99),
        server_ms=cpu.trees[server] * 1000 / done,
        database_ms=None if database is None else database * 1000 / done,
        load_generator_ms=cpu.load_generator * 1000 / done,
        connections_per_enrollment=o.connections / done,
        retries=o.retries,
        other_cpu_percent=100 * cpu.other / cpu.machine_total if cpu.machine_total else 0.0,
        processes=cpu.processes,
        errors=dict(o.errors),
        samples=o.samples,
        commit=commit,
    )


@dataclass
class Shape:
    name: str
    size: int
    requests: int
    seconds: float
    server_ms: float
    database_ms: float | None
    outcomes: dict[str, int]
    other_cpu_percent: float = 0.0
    mock_ms: float | None = None
    mock_requests: int = 0
    mock_outcomes: dict[str, int] = field(default_factory=dict)


def measure_shape(
    target: Target, body: bytes, args: argparse.Namespace, meter: Meter, server: str
) -> tuple[Phase, float, float | None]:
    def work(channel: Channel, index: int, outcome: Outcome) -> None:
        send_one(channel, body, outcome)

    run(target, work, 3, 1, meter)  # warm the code path
    deadline = time.perf_counter() + args.unauth_seconds
    phase = run(target, work, args.unauth_requests, args.unauth_clients, meter, deadline=deadline)
    count = max(1, phase.outcome.requests)
    database = phase.cpu.trees.get("postgresql")
    return (
        phase,
        phase.cpu.trees[server] * 1000 / count,
        None if database is None else database * 1000 / count,
    )


def unauthenticated_shapes(product: Product, key, reference: str) -> list[tuple[str, bytes]]:
    sender = wire.Sender(
        reference.encode(),
        b"not-the-password",
        x509.Name.from_rfc4514_string("CN=flood.bench.local").public_bytes(),
        product.ca.subject.public_bytes(),
    )
    limit = product.max_body
    ca_der = product.ca.public_bytes(serialization.Encoding.DER)
    small_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    tiny = x509.Name.from_rfc4514_string("CN=x")
    small_der = (
        x509.CertificateBuilder()
        .subject_name(tiny)
        .issuer_name(tiny)
        .public_key(small_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(small_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    free_text, n1 = wire.flood(sender, key, limit=limit, free_text_item=b"\x0c\x00")
    general, n2 = wire.flood(sender, key, limit=limit, general_info_item=b"\x30\x03\x06\x01\x2a")
    certs, n3 = wire.flood(sender, key, limit=limit, extra_cert=ca_der)
    smalls, n4 = wire.flood(sender, key, limit=limit, extra_cert=small_der)
    wrong_mac = wire.flood(sender, key, limit=0, free_text_item=b"\x0c\x00")[0]
    return [
        # The mock never answers this one (it logs the error and keeps waiting).
        ("not DER (2 bytes): the floor", b"\x00\x00"),
        (f"{n1:,} empty freeText strings", free_text),
        (f"{n2:,} generalInfo items", general),
        (f"{n3:,} extraCerts ({len(ca_der)}-byte CA certificate)", certs),
        (f"{n4:,} extraCerts ({len(small_der)}-byte certificate)", smalls),
        ("ir with a wrong MAC (no flood)", wrong_mac),
    ]


# ---------------------------------------------------------------------- report


def git_commit(source: Path) -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(source), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    if (source / ".bench-commit").exists():
        return (source / ".bench-commit").read_text().strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = [
        line[3:]
        for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
        if not line[3:].startswith(("bench/", "docs/"))
    ]
    return f"{commit}+{len(dirty)} uncommitted files" if dirty else commit


@contextmanager
def checkout(rev: str | None, tmp: Path) -> Iterator[Path]:
    """The tree to run the server from: this checkout, or *rev* exported from git."""
    if rev is None:
        yield REPO
        return
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", rev],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = tmp / f"src-{commit}"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    (target / ".bench-commit").write_text(commit)
    yield target


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_report(meta: dict, rows: list[Figures], shapes: list[Shape], traceback: list[str]):
    print()
    print(
        f"fac-ca CMP load  commit {meta['commit']}  {meta['when']}  {CPUS} CPUs  "
        f"{meta['openssl']}  Python {platform.python_version()}"
    )
    print(
        f"server: gunicorn {meta['workers']} {meta['worker_class']} workers, {meta['database']}, "
        f"CA {meta['ca_key']}, client keys {meta['client_key']}, debug off"
    )
    print(
        f"load: {meta['clients']} client {'processes' if meta['processes'] else 'threads'}, "
        f"{meta['enrollments']} enrollments (+{meta['warmup']} warm-up), "
        "ir + certConf with PBM (SHA-256, 500 iterations, HMAC-SHA1)"
    )
    print()
    head = (
        f"{'':24}{'enroll/s':>9}{'p50':>8}{'p90':>8}{'p99 ms':>8}"
        f"{'server CPU':>12}{'(db)':>8}{'loadgen':>9}{'conn/enr':>9}{'errors':>8}{'other':>7}"
    )
    print(head)
    print(
        f"{'':24}{'':9}{'':8}{'':8}{'':8}{'ms/enr':>12}{'':8}{'ms/enr':>9}{'':9}{'':8}{'CPU %':>7}"
    )
    for r in rows:
        print(
            f"{r.label:24}{r.rate:9.1f}{r.p50:8.1f}{r.p90:8.1f}{r.p99:8.1f}"
            f"{r.total_ms:12.2f}{_ms(r.database_ms):>8}{r.load_generator_ms:9.2f}"
            f"{r.connections_per_enrollment:9.2f}{sum(r.errors.values()):8d}{r.other_cpu_percent:7.1f}"
        )
    mock = next((r for r in rows if r.label == "openssl mock"), None)
    fresh = next((r for r in rows if r.label.startswith("fac-ca fresh")), None)
    filled = next((r for r in rows if r.label.startswith("fac-ca prefilled")), None)
    if mock and fresh:
        print(
            f"{'fac-ca / mock':24}{fresh.rate / mock.rate:8.3f}x{fresh.p50 / mock.p50:7.1f}x"
            f"{fresh.p90 / mock.p90:7.1f}x{fresh.p99 / mock.p99:7.1f}x"
            f"{fresh.total_ms / mock.total_ms if mock.total_ms else float('nan'):11.1f}x"
        )
    if fresh and filled:
        print(
            f"{'prefilled / fresh':24}{filled.rate / fresh.rate:8.3f}x{filled.p50 / fresh.p50:7.2f}x"
            f"{filled.p90 / fresh.p90:7.2f}x{filled.p99 / fresh.p99:7.2f}x"
            f"{filled.total_ms / fresh.total_ms:11.2f}x"
        )
    for r in rows:
        if r.other_cpu_percent > DISTURBED_PERCENT:
            print(
                f"DISTURBED: other processes used {r.other_cpu_percent:.0f}% of the machine "
                f"during {r.label}"
            )
    for r in rows:
        if r.errors:
            print(f"\nerrors, {r.label}:")
            for kind, n in sorted(r.errors.items(), key=lambda item: -item[1]):
                print(f"  {n:6d}  {kind}  {r.samples.get(kind, '')[:120]}")
        if r.retries:
            print(f"{r.label}: {r.retries} requests re-sent on a new connection")
    if shapes:
        print(
            f"\nunauthenticated work (largest body the server accepts: {meta['max_body']} bytes), "
            f"{meta['unauth_clients']} clients"
        )
        print(
            f"{'':52}{'bytes':>7}{'requests':>9}{'server CPU':>11}{'(db)':>7}"
            f"{'mock CPU':>9}   answers"
        )
        print(f"{'':52}{'':7}{'':9}{'ms/req':>11}{'':7}{'ms/req':>9}")
        for s in shapes:
            answers = ", ".join(f"{k} x{v}" for k, v in s.outcomes.items())
            flag = " DISTURBED" if s.other_cpu_percent > DISTURBED_PERCENT else ""
            print(
                f"{s.name:52}{s.size:7d}{s.requests:9d}{s.server_ms + (s.database_ms or 0):11.2f}"
                f"{_ms(s.database_ms):>7}{_ms(s.mock_ms):>9}   {answers}{flag}"
            )
    if traceback:
        print("\ngunicorn logged a traceback:\n  " + "\n  ".join(traceback))


# ------------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="docs/benchmarks.md explains the figures.",
    )
    parser.add_argument("--clients", type=int, default=2, help="parallel clients (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--threads", type=int, default=0, help="gthread workers with T threads (default: sync)"
    )
    parser.add_argument("--enrollments", type=int, default=500, help="measured, per phase")
    parser.add_argument("--warmup", type=int, default=40, help="enrollments before each phase")
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server to create a fresh database in (default: SQLite in a temp dir)",
    )
    parser.add_argument(
        "--prefill",
        type=int,
        default=0,
        metavar="N",
        help="after the fresh phase, add N certificates and N log entries and measure again",
    )
    parser.add_argument("--prefill-status", choices=["active", "revoked"], default="active")
    parser.add_argument("--no-mock", action="store_true", help="do not measure OpenSSL's mock")
    parser.add_argument(
        "--unauthenticated", action="store_true", help="also the oversize unauthenticated shapes"
    )
    parser.add_argument("--unauth-requests", type=int, default=400, help="per shape, at most")
    parser.add_argument("--unauth-seconds", type=float, default=8.0, help="per shape, at most")
    parser.add_argument("--unauth-clients", type=int, default=2)
    parser.add_argument(
        "--processes", action="store_true", help="clients as processes instead of threads"
    )
    parser.add_argument("--ca-key", choices=["rsa", "ec"], default="rsa", help="RSA-2048 or P-256")
    parser.add_argument("--client-key", choices=["rsa2048", "p256"], default="rsa2048")
    parser.add_argument(
        "--key-cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "fac-cmp-bench-keys",
        help="where client keys are kept between runs",
    )
    parser.add_argument(
        "--commit",
        metavar="REV",
        help="run the server from REV (git archive into a temp dir) instead of this checkout",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=60,
        metavar="SECONDS",
        help="before each phase, wait up to this long for other processes to leave the CPUs idle",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fac-cmp-load.") as name:
        tmp = Path(name)
        with checkout(args.commit, tmp) as source:
            return bench(args, tmp, source)


def bench(args: argparse.Namespace, tmp: Path, source: Path) -> int:
    commit = git_commit(source)
    phases = ["fresh"] + (["prefilled"] if args.prefill else [])
    per_phase = args.warmup + args.enrollments
    keys = client_keys(per_phase * len(phases), args.client_key, args.key_cache)
    openssl = subprocess.run([OPENSSL, "version"], capture_output=True, text=True).stdout.split()
    meta = {
        "commit": commit,
        "when": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "openssl": " ".join(openssl[:2]),
        "workers": args.workers,
        "worker_class": f"gthread x{args.threads}" if args.threads else "sync",
        "clients": args.clients,
        "processes": args.processes,
        "enrollments": args.enrollments,
        "warmup": args.warmup,
        "ca_key": "RSA-2048" if args.ca_key == "rsa" else "ECDSA P-256",
        "client_key": "RSA-2048" if args.client_key == "rsa2048" else "P-256",
        "unauth_clients": args.unauth_clients,
    }
    product = Product(args, tmp, source)
    rows: list[Figures] = []
    shapes: list[Shape] = []
    traceback: list[str] = []
    mock: Mock | None = None
    try:
        product.set_up()
        meta["database"] = product.db_label
        meta["max_body"] = product.max_body
        recipient = product.ca.subject.public_bytes()
        product.start()
        meter = Meter(product.roots())
        target = Target("fac-ca", product.port)
        for number, phase_name in enumerate(phases):
            if phase_name == "prefilled":
                say(f"prefilling {args.prefill:,} {args.prefill_status} certificates + log entries")
                seconds = product.prefill(args.prefill, args.prefill_status)
                say(f"  {seconds:.0f} s")
            refs = [
                (f"bench-{number}-{i:05d}", secrets.token_urlsafe(12)) for i in range(per_phase)
            ]
            say(f"{phase_name}: {len(refs)} enrollments with import_enrollments")
            product.add_enrollments(refs)
            senders = [
                wire.Sender(
                    ref.encode(),
                    password.encode(),
                    x509.Name.from_rfc4514_string(f"CN={ref}.bench.local").public_bytes(),
                    recipient,
                )
                for ref, password in refs
            ]
            say(f"{phase_name}: building {len(senders)} irs")
            jobs = build_jobs(senders, keys[number * per_phase : (number + 1) * per_phase])
            say(f"{phase_name}: warm-up {args.warmup}, then {args.enrollments} enrollments")
            _, phase = measure_enrollments(target, jobs, args.warmup, args, meter)
            label = (
                "fac-ca fresh"
                if phase_name == "fresh"
                else f"fac-ca prefilled {args.prefill // 1000}k"
            )
            rows.append(figures(label, phase, args.enrollments, "gunicorn", commit))
            say(f"  {rows[-1].rate:.1f} enrollments/s, {rows[-1].total_ms:.2f} ms CPU each")
            if number == 0 and not args.no_mock:
                mock = Mock(tmp)
                mock_meter = Meter({"mock": mock.start()})
                mock_recipient = mock.cert.subject.public_bytes()
                mock_senders = [
                    wire.Sender(
                        MOCK_REF.encode(), MOCK_SECRET.encode(), s.subject_der, mock_recipient
                    )
                    for s in senders
                ]
                say(f"openssl mock: warm-up {args.warmup}, then {args.enrollments} enrollments")
                _, mock_phase = measure_enrollments(
                    Target("openssl mock", mock.port, MOCK_PATH, close_after_each=True),
                    build_jobs(mock_senders, keys[:per_phase]),
                    args.warmup,
                    args,
                    mock_meter,
                )
                rows.append(figures("openssl mock", mock_phase, args.enrollments, "mock", commit))
                say(f"  {rows[-1].rate:.1f} enrollments/s, {rows[-1].total_ms:.2f} ms CPU each")
                if not args.unauthenticated:
                    mock.stop()
        if args.unauthenticated:
            say("unauthenticated shapes")
            if args.wait_quiet:
                wait_for_quiet(args.wait_quiet)
            for name, body in unauthenticated_shapes(product, keys[0], "bench-0-00000"):
                phase, ms, db_ms = measure_shape(target, body, args, meter, "gunicorn")
                shape = Shape(
                    name,
                    len(body),
                    phase.outcome.requests,
                    round(phase.wall, 2),
                    ms,
                    db_ms,
                    dict(phase.outcome.errors),
                    100 * phase.cpu.other / max(phase.cpu.machine_total, 1e-9),
                )
                if mock is not None and mock.process is not None and not name.startswith("not DER"):
                    mock_phase, mock_ms, _ = measure_shape(
                        Target("openssl mock", mock.port, MOCK_PATH, close_after_each=True),
                        body,
                        args,
                        mock_meter,
                        "mock",
                    )
                    shape.mock_ms = mock_ms
                    shape.mock_requests = mock_phase.outcome.requests
                    shape.mock_outcomes = dict(mock_phase.outcome.errors)
                shapes.append(shape)
                say(f"  {name}: {ms + (db_ms or 0):.2f} ms CPU per request")
    finally:
        if mock is not None:
            mock.stop()
        traceback = product.stop()
    print_report(meta, rows, shapes, traceback)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "meta": meta,
                    "enrollments": [asdict(r) | {"total_ms": r.total_ms} for r in rows],
                    "unauthenticated": [asdict(s) for s in shapes],
                },
                indent=2,
            )
        )
    return 1 if any(r.errors for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
