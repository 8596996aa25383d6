"""A stdlib HTTP server that serves CMPServer at /app/cert/cmp2 (RFC 9811).

Runs on 127.0.0.1 on a random port in a thread, so that the real ``openssl
cmp`` client can talk to the protocol layer.  Every exchange is kept in
``exchanges`` (request DER, ServerResult) so tests can decode what was sent.
"""

from __future__ import annotations

import http.server
import threading
from dataclasses import dataclass

from cmp.protocol import CMPServer, MalformedMessage, ServerResult

PATH = "/app/cert/cmp2"
CONTENT_TYPE = "application/pkixcmp"  # RFC 9811, 3.4
MAX_BODY = 256 * 1024


@dataclass(frozen=True)
class Exchange:
    request: bytes
    result: ServerResult | None  # None: answered 400


class CMPHarness:
    def __init__(self, server: CMPServer) -> None:
        self.cmp_server = server
        self.exchanges: list[Exchange] = []
        harness = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                if self.path != PATH:
                    self._reply(404, b"", "text/plain")
                    return
                length = int(self.headers.get("Content-Length", "0"))
                content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
                if content_type != CONTENT_TYPE or not 0 < length <= MAX_BODY:
                    self._reply(415 if content_type != CONTENT_TYPE else 400, b"", "text/plain")
                    return
                body = self.rfile.read(length)
                try:
                    result = harness.cmp_server.handle(body)
                except MalformedMessage:
                    harness.exchanges.append(Exchange(body, None))
                    self._reply(400, b"", "text/plain")
                    return
                harness.exchanges.append(Exchange(body, result))
                self._reply(200, result.body, CONTENT_TYPE)

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

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def results(self) -> list[ServerResult]:
        return [e.result for e in self.exchanges if e.result is not None]

    def __enter__(self) -> CMPHarness:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
