"""A stdlib HTTP server that serves SCEPServer at the SCEP paths FAC answers on.

Runs on 127.0.0.1 on a random port in a thread, so that the real
``scepclient`` can talk to the protocol layer.  GET and POST are handled as the
Django adapter will: the query string is decoded once (``+`` becomes a space,
as in Django's QueryDict), the POST body is passed as is.  Every exchange is
kept in ``exchanges`` so tests can check what was sent and answered.
"""

from __future__ import annotations

import http.server
import threading
import urllib.parse
from dataclasses import dataclass

from scep.protocol import MalformedMessage, SCEPResult, SCEPServer

#: FortiAuthenticator's SCEP URL and the path Cisco and most clients default to.
PATHS = ("/app/cert/scep", "/app/cert/scep/", "/cgi-bin/pkiclient.exe")
MAX_BODY = 256 * 1024


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    operation: str | None
    message: str | None
    body: bytes | None
    result: SCEPResult | None  # None: answered 400


class SCEPHarness:
    """``drop_caps`` removes capabilities from GetCACaps (to make clients use GET)."""

    def __init__(self, server: SCEPServer, *, drop_caps: tuple[str, ...] = ()) -> None:
        self.scep_server = server
        self.drop_caps = drop_caps
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        harness = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                self._handle(None)

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                length = int(self.headers.get("Content-Length", "0"))
                if not 0 < length <= MAX_BODY:
                    self._reply(413 if length else 400, b"", "text/plain")
                    return
                self._handle(self.rfile.read(length))

            def _handle(self, body: bytes | None) -> None:
                url = urllib.parse.urlsplit(self.path)
                if url.path not in PATHS:
                    self._reply(404, b"", "text/plain")
                    return
                query = urllib.parse.parse_qs(url.query)
                operation = query.get("operation", [None])[0]
                message = query.get("message", [None])[0]
                method = "POST" if body is not None else "GET"
                try:
                    result = harness.scep_server.handle(operation, message=message, body=body)
                except MalformedMessage:
                    harness._record(Exchange(method, url.path, operation, message, body, None))
                    self._reply(400, b"Malformed SCEP message.\n", "text/plain")
                    return
                harness._record(Exchange(method, url.path, operation, message, body, result))
                payload = result.body
                if operation == "GetCACaps" and harness.drop_caps:
                    caps = [c for c in payload.decode().split() if c not in harness.drop_caps]
                    payload = "".join(f"{c}\n" for c in caps).encode()
                self._reply(result.status, payload, result.content_type)

            def _reply(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args) -> None:  # noqa: A002 - stdlib signature
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str = PATHS[0]) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def results(self) -> list[SCEPResult]:
        return [e.result for e in self.exchanges if e.result is not None]

    @property
    def operations(self) -> list[str | None]:
        return [e.operation for e in self.exchanges]

    def pki_results(self) -> list[SCEPResult]:
        return [r for r in self.results if r.operation == "PKIOperation"]

    def __enter__(self) -> SCEPHarness:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
