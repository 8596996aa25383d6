"""Fixtures that run the real server and the real ``openssl cmp`` client.

``cmp_server`` is the product as an administrator runs it: gunicorn with
several worker processes, its own database (a SQLite file, or a fresh
PostgreSQL database when the suite runs on PostgreSQL), set up through the
management commands of the README.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
OPENSSL = shutil.which("openssl")


def openssl_has_cmp() -> bool:
    if not OPENSSL:
        return False
    result = subprocess.run([OPENSSL, "cmp", "-help"], capture_output=True, text=True)
    return "-srvcert" in result.stdout + result.stderr


requires_openssl_cmp = pytest.mark.skipif(
    not openssl_has_cmp(), reason="openssl cmp is not available"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url(tmp: Path) -> tuple[str, callable]:
    """A fresh database for the server: same engine as the test run."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        import psycopg

        base, _, _name = url.rpartition("/")
        name = "fac_srv_" + secrets.token_hex(4)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        return f"{base}/{name}", drop
    return f"sqlite:///{tmp / 'server.sqlite3'}", lambda: None


@dataclass
class Server:
    url: str
    host: str
    port: int
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    def manage(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [PYTHON, str(ROOT / "manage.py"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            input=input,
            cwd=ROOT,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def cmp(
        self, *args: str, timeout: int = 60, path: str = "/app/cert/cmp2"
    ) -> subprocess.CompletedProcess:
        """Run ``openssl cmp`` against this server's /app/cert/cmp2 (output in ``stdout``)."""
        return subprocess.run(
            [OPENSSL, "cmp", "-server", f"{self.host}:{self.port}", "-path", path, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.workdir,
            timeout=timeout,
        )

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code).stdout


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start listening")


@pytest.fixture(scope="module")
def cmp_server(tmp_path_factory) -> Iterator[Server]:
    """gunicorn with 3 workers on a fresh database, migrated."""
    tmp = tmp_path_factory.mktemp("server")
    url, drop = _database_url(tmp)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FAC_DATA_DIR": str(tmp / "data"),
        "FAC_KEYSTORE_KEY": secrets.token_urlsafe(32),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "FAC_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "FAC_STATIC_ROOT": str(tmp / "static"),
        # Every test client here is 127.0.0.1, failing on purpose hundreds of
        # times; the throttle itself is tested in tests/certauth/test_throttle.py.
        "FAC_THROTTLE_FAILURES": "100000",
    }
    server = Server(
        url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port, env=env, workdir=tmp
    )
    server.manage("migrate", "-v0")
    # As scripts/serve.sh does: the server refuses to start without them.
    server.manage("collectstatic", "--noinput", "-v0")
    log = open(tmp / "gunicorn.log", "w")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "fac.wsgi:application",
            "--workers",
            "3",
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server.process = process
    try:
        _wait_for_port(port, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        text = (tmp / "gunicorn.log").read_text()
        if "Traceback" in text:
            print(text, file=sys.stderr)
        drop()
