"""The HTTP front's framing (bot.slack.front), on a real socket with a small WSGI app:
what reaches the app, and what is refused before it. Slow clients and caps:
tests/test_edge_connections.py."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from bot.settings import HttpLimits
from bot.slack.server import Server

BIG = 8 << 20  # more than the kernel's socket buffers hold


def echo(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Answers with what it was given: the body, the WSGI variables that matter here."""
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("a bug in the app")
    if environ["PATH_INFO"] == "/big":
        start_response("200 OK", [("Content-Length", str(BIG))])
        return [b"x" * BIG]
    body = environ["wsgi.input"].read()
    seen = {k: v for k, v in environ.items() if k.startswith(("HTTP_", "REMOTE_", "CONTENT_"))}
    data = json.dumps({"body": body.decode(), "path": environ["PATH_INFO"], **seen}).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[Server] = []

    def start(**limits: Any) -> tuple[str, int]:
        server = Server(echo, "127.0.0.1", 0, threads=2, limits=HttpLimits(**limits))
        server.start()
        servers.append(server)
        return server.address

    yield start
    for server in servers:
        server.stop()


def exchange(address: tuple[str, int], raw: bytes, source: str = "127.0.0.1") -> bytes:
    """Send ``raw``, read until the server closes (every request here says Connection: close)."""
    with socket.create_connection(address, timeout=5, source_address=(source, 0)) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def answer(raw: bytes) -> dict[str, Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), raw[:200]
    return dict(json.loads(body))


def test_a_chunked_body_reaches_the_app_whole_with_its_length(serve) -> None:  # type: ignore[no-untyped-def]
    address = serve()
    raw = exchange(
        address,
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    )
    seen = answer(raw)
    assert (seen["body"], seen["CONTENT_LENGTH"]) == ("hello world", "11")


def test_a_client_that_expects_100_continue_is_told_to_go_on(serve) -> None:  # type: ignore[no-untyped-def]
    address = serve()
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(
            b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100")  # curl waits 1 s for this
        sock.sendall(b"ok")
        assert b'"body": "ok"' in sock.recv(4096)


def test_too_large_is_refused_before_the_app(serve) -> None:  # type: ignore[no-untyped-def]
    address = serve(max_body_bytes=100, max_header_bytes=4096)
    big_chunked = b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    big_chunked += b"40\r\n" + b"x" * 64 + b"\r\n"
    big_chunked += b"40\r\n" + b"x" * 64 + b"\r\n"
    assert exchange(address, big_chunked).startswith(b"HTTP/1.1 413")
    huge_header = b"GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + b"h" * 8000 + b"\r\n\r\n"
    assert exchange(address, huge_header).startswith(b"HTTP/1.1 431")
    assert exchange(address, b"NOT HTTP\r\n\r\n").startswith(b"HTTP/1.1 400")


def test_headers_reach_the_app_as_waitress_gave_them(serve) -> None:  # type: ignore[no-untyped-def]
    address = serve()
    raw = exchange(
        address,
        b"GET /a%20b?q=1 HTTP/1.1\r\nHost: a\r\nX-Twice: 1\r\nX-Twice: 2\r\nX_Under: spoof\r\n"
        b"X-Forwarded-For: 203.0.113.9\r\nForwarded: for=203.0.113.9\r\nConnection: close\r\n\r\n",
    )
    seen = answer(raw)
    assert seen["path"] == "/a b"
    assert seen["HTTP_X_TWICE"] == "1, 2"  # a repeated signature header then fails its shape
    assert "HTTP_X_UNDER" not in seen  # X_Under would pass for X-Under
    assert seen["REMOTE_ADDR"] == "127.0.0.1"  # an untrusted peer's X-Forwarded-For is ignored
    assert not any(key.startswith(("HTTP_X_FORWARDED", "HTTP_FORWARDED")) for key in seen)


def test_the_trusted_proxy_names_the_client(serve) -> None:  # type: ignore[no-untyped-def]
    address = serve(trusted_proxy="127.0.0.1")
    request = (
        b"GET /x HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.1, 203.0.113.9\r\n"
        b"Connection: close\r\n\r\n"
    )
    assert answer(exchange(address, request))["REMOTE_ADDR"] == "203.0.113.9"
    assert answer(exchange(address, request, source="127.0.0.2"))["REMOTE_ADDR"] == "127.0.0.2"


def test_pipelined_requests_are_answered_in_order_and_a_failing_app_is_a_500(serve) -> None:  # type: ignore[no-untyped-def]
    address = serve()
    raw = exchange(
        address,
        b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
        b"GET /boom HTTP/1.1\r\nHost: a\r\n\r\n"
        b"HEAD /three HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    first, second, third = raw.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"200") and b'"path": "/one"' in first
    assert second.startswith(b"500")
    assert third.startswith(b"200") and third.endswith(b"\r\n\r\n")  # HEAD: no body


def test_a_large_answer_goes_out_whole_before_the_connection_closes(serve) -> None:  # type: ignore[no-untyped-def]
    address = serve()
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        time.sleep(0.3)  # the kernel's buffers fill; the rest waits in the server
        received = 0
        while chunk := sock.recv(64 << 10):  # a slow reader: the server closes mid-way
            received += len(chunk)
            time.sleep(0.001)
    assert received > BIG


def test_stopping_ends_the_loop_and_closes_kept_alive_connections() -> None:
    server = Server(echo, "127.0.0.1", 0, threads=2)
    server.start()
    with socket.create_connection(server.address, timeout=5) as conn:
        conn.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")  # kept alive: HTTP/1.1
        assert conn.recv(4096).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        server.stop()
        assert server._thread is not None and not server._thread.is_alive()
        assert time.monotonic() - started < 2  # not after the connection's 30 s of silence
        try:
            rest = conn.recv(100)
        except ConnectionResetError:
            rest = b""
        assert rest == b""


def test_a_body_past_the_spool_size_reaches_the_app_whole(serve) -> None:  # type: ignore[no-untyped-def]
    address = serve(max_body_bytes=1 << 20)
    body = b"b" * (600 << 10)  # spooled to a temporary file past 256 KB
    head = f"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: {len(body)}\r\n"
    seen = answer(exchange(address, head.encode() + b"Connection: close\r\n\r\n" + body))
    assert (len(seen["body"]), seen["CONTENT_LENGTH"]) == (len(body), str(len(body)))
