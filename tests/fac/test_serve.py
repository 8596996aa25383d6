"""The README's server command: scripts/serve.sh as an administrator starts it."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.cmp.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served(tmp_path):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FAC_", "DJANGO_", "DATABASE_"))
    }
    env.update(
        {
            "PORT": str(port),
            "FAC_BIND": "127.0.0.1",
            "FAC_SKIP_SETUP": "1",
            "FAC_WORKERS": "2",
            "FAC_DATA_DIR": str(tmp_path / "data"),
            "FAC_STATIC_ROOT": str(tmp_path / "static"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'fac.sqlite3'}",
        }
    )
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        ["bash", "scripts/serve.sh", "--no-control-socket"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        get(port)  # both workers warm
        get(port)
        yield port
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
        log.close()


def get(port: int, timeout: float = 10) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=timeout) as response:
        return response.status


def test_slow_clients_do_not_stall_the_server(served):
    """Eight clients send their request heads a line a second; another client is answered."""
    stop = threading.Event()

    def trickle() -> None:
        with socket.create_connection(("127.0.0.1", served)) as connection:
            connection.sendall(b"GET /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            while not stop.wait(1):
                try:
                    connection.sendall(b"X-Slow: 1\r\n")  # never finishing the head
                except OSError:
                    return

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        # With synchronous workers this waited until the slow heads gave up (20-30 s);
        # the socket timeout makes a stalled server fail the test.
        assert [get(served, timeout=5) for _ in range(4)] == [200, 200, 200, 200]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
