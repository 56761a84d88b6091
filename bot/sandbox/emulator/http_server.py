"""The fake's HTTP server: real sockets on loopback, one thread per connection.

Why stdlib and apart from Slack's logic: the real ``slack_sdk.WebClient`` must talk to the
fake over real HTTP (keep-alive, body encodings, a connection cut mid-answer), while what an
answer says is the dispatcher's business; this module only moves bytes.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: (status, body, headers): what a request is answered with.
Reply = tuple[int, bytes, dict[str, str]]
#: ``Reply`` status meaning "close the connection without answering".
DROP = -1
#: Answers a request: ``(path with query, lower-cased headers, body) -> Reply``.
Serve = Callable[[str, dict[str, str], bytes], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the stdlib's 5 drops connections under load tests
    serve: Serve


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, data, out_headers = self.server.serve(self.path, headers, body)
        if status == DROP:  # the call was processed; the answer is "lost on the network"
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(status)
        for name, value in out_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class HttpServer:
    """``serve`` on ``host:port`` (0: any free port) from a daemon thread."""

    def __init__(self, host: str, port: int, serve: Serve) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.serve = serve
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-slack", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
