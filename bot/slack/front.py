"""escbot's HTTP/1.1 front: sockets on an asyncio loop, h11 to parse, WSGI on a thread pool.

waitress let one client stop intake: 1,010 sockets each sending a byte every 5 s filled its
connection limit, past which it stops accepting, and its only timeout is for silence, so a
dribble never ends. It offers no deadline for a whole request and no cap per client, and
adding them means subclassing its channel internals. Here, instead:

- a request's headers must arrive within ``header_timeout`` of the connection (or, on a
  kept-alive connection, of the request's first byte), and its body at ``min_body_rate``
  after a grace of the same length; ``channel_timeout`` of silence ends any wait, as before;
- :class:`bot.slack.admission.Admission` caps the connections per client and the total,
  and makes room for a newcomer by dropping the longest-waiting incomplete connection,
  so a request that arrives whole always gets in;
- only a whole request (at most ``max_body_bytes``: 413 past that, before the body is
  read) reaches a thread: slow sockets cost a socket, never a thread, and a client that
  doesn't read its answer is dropped after ``channel_timeout``.

h11 (python-hyper's sans-I/O HTTP/1.1 parser) does the parsing and framing: chunked
bodies, keep-alive, ``Expect: 100-continue``, header limits (431).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import IO, Any
from urllib.parse import unquote_to_bytes

import h11

from bot.settings import HttpLimits
from bot.slack.admission import Admission

log = logging.getLogger(__name__)

WSGIApp = Callable[..., Iterable[bytes]]
READ = 64 * 1024
SPOOL = 256 * 1024  # a body past this waits for the app in a temporary file
TALLY_EVERY = 10.0  # seconds between log lines about dropped connections
_PROXY_HEADERS = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_")  # never believed, never passed on
_RENAMED = {"CONTENT_TYPE", "CONTENT_LENGTH"}


class _Closed(Exception):
    """The connection is done: closed by the client, refused, or past a deadline."""


class Front:
    """Serves ``wsgi`` on ``sock`` (bound, not yet listening) until :meth:`interrupt`."""

    def __init__(
        self, wsgi: WSGIApp, sock: socket.socket, threads: int, limits: HttpLimits, name: str
    ) -> None:
        self.wsgi = wsgi
        self.sock = sock
        self.limits = limits
        self.name = name
        self.host, self.port = sock.getsockname()[:2]
        self.admission: Admission[_Connection] = Admission(
            limits.connection_limit, limits.client_connections, limits.trusted_proxy
        )
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self.tally: Counter[str] = Counter()
        self._tallied_at = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._interrupted = False

    def run(self) -> None:
        """Serve in this thread until :meth:`interrupt`; then close every connection."""
        try:
            asyncio.run(self._serve())
        finally:
            self._ready.set()  # a failed start must not leave a waiter behind
            self.sock.close()
            self.pool.shutdown(wait=True, cancel_futures=True)

    def wait_ready(self, timeout: float) -> None:
        self._ready.wait(timeout)

    def interrupt(self) -> None:
        """Make :meth:`run` return (from any thread, before or after it starts)."""
        self._interrupted = True
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                self._loop.call_soon_threadsafe(self._stop.set)

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(
            self._accept, sock=self.sock, limit=READ, backlog=socket.SOMAXCONN
        )
        self._ready.set()
        if not self._interrupted:
            await self._stop.wait()
        server.close()
        tasks = [conn.task for conn in self.admission.connections() if conn.task]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) else ""
        conn = _Connection(self, reader, writer, address)
        refused, victim = self.admission.admit(conn, address)
        if victim is not None:
            victim.drop()
            self._count("waiting, pushed out by a newer connection")
        if refused:
            writer.transport.abort()
            self._count(f"refused: {refused}")
            return
        graceful = True
        try:
            await conn.serve()
        except (_Closed, ConnectionError):
            pass
        except asyncio.CancelledError:  # the server is stopping
            graceful = False
        except TimeoutError:
            self._count("past a deadline")
            graceful = False
        except Exception:  # a bug here must cost one connection, not the loop
            log.exception("HTTP connection from %s failed", address)
        finally:
            try:
                await conn.close(graceful)
            finally:
                self.admission.release(conn)

    def _count(self, why: str) -> None:
        """One log line every TALLY_EVERY seconds, not one per hostile socket."""
        self.tally[why] += 1
        now = time.monotonic()
        if now - self._tallied_at >= TALLY_EVERY:
            summary = ", ".join(f"{n} {what}" for what, n in sorted(self.tally.items()))
            log.warning("%s: connections closed since the last report: %s", self.name, summary)
            self.tally.clear()
            self._tallied_at = now

    def call(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """Run the WSGI app on a pool thread; its whole answer, so no thread waits on a socket."""
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return _no_write

        try:
            result = self.wsgi(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            log.exception("the app failed on %s", environ.get("PATH_INFO", "?"))
            return "500 Internal Server Error", [("Content-Type", "text/plain")], b"error\n"
        status, headers = started
        return status, headers, body


def _no_write(data: bytes) -> None:
    raise NotImplementedError("escbot's apps return their body; write() is not supported")


class _Connection:
    def __init__(
        self,
        front: Front,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        address: str,
    ) -> None:
        self.front, self.reader, self.writer, self.address = front, reader, writer, address
        self.limits = front.limits
        self.task = asyncio.current_task()
        self.h11 = h11.Connection(
            h11.SERVER, max_incomplete_event_size=self.limits.max_header_bytes
        )

    async def close(self, graceful: bool) -> None:
        """Close; ``graceful``: after the answer still buffered here has gone out (a client
        that won't read it gets ``channel_timeout``, as for any send)."""
        transport = self.writer.transport
        try:
            if graceful and not transport.is_closing() and transport.get_write_buffer_size():
                transport.close()  # flushes, then closes
                with contextlib.suppress(TimeoutError, ConnectionError):
                    async with asyncio.timeout(self.limits.channel_timeout):
                        await self.writer.wait_closed()
        finally:
            transport.abort()  # what the kernel holds still goes out

    def drop(self) -> None:
        """Close now; the read it waits on ends, and with it :meth:`serve`."""
        self.writer.transport.abort()

    async def serve(self) -> None:
        first = True
        while True:
            if not first and not self.h11.trailing_data[0]:  # kept alive: wait for a request
                await self._receive(self.limits.channel_timeout)
            first = False
            try:
                async with asyncio.timeout(self.limits.header_timeout):
                    request = await self._next()
            except h11.RemoteProtocolError as err:
                await self._refuse(err.error_status_hint, str(err))
                return
            if not isinstance(request, h11.Request):
                return  # closed between requests
            if _header_bytes(request) > self.limits.max_header_bytes:
                # h11 bounds only a header still arriving; this one came in one read
                await self._refuse(431, "headers too large")
            body, size = await self._body(request)
            self.front.admission.busy(self)
            environ = self._environ(request, body, size)
            loop = asyncio.get_running_loop()
            try:
                status, headers, data = await loop.run_in_executor(
                    self.front.pool, self.front.call, environ
                )
            finally:
                body.close()
            await self._respond(request, status, headers, data)
            if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
                return  # h11 says this connection must close (HTTP/1.0, Connection: close)
            self.h11.start_next_cycle()
            self.front.admission.waiting(self)

    async def _receive(self, silence: float) -> None:
        async with asyncio.timeout(silence):  # (wait_for would cost a task per read)
            data = await self.reader.read(READ)
        self.h11.receive_data(data)  # b"": the client closed; h11 reports ConnectionClosed

    async def _next(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            await self._receive(self.limits.channel_timeout)

    async def _body(self, request: h11.Request) -> tuple[IO[bytes], int]:
        """The body, in memory up to SPOOL bytes and in a temporary file past that (a
        thousand connections sending a maximal body must not hold a gigabyte), and its
        length."""
        declared = dict(request.headers).get(b"content-length")
        length = int(declared) if declared is not None else None  # h11 checked it is a number
        limit = self.limits.max_body_bytes
        if length is not None and length > limit:
            await self._refuse(413, f"body of {length} bytes")
        if self.h11.client_is_waiting_for_100_continue:
            await self._send(h11.InformationalResponse(status_code=100, headers=[]))
        grace = self.limits.header_timeout + (length or limit) / self.limits.min_body_rate
        body = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115 (closed by serve)
        size = 0
        try:
            async with asyncio.timeout(grace):
                while True:
                    event = await self._next()
                    if isinstance(event, h11.Data):
                        body.write(event.data)
                        size += len(event.data)
                        if size > limit:  # chunked: no length to refuse up front
                            await self._refuse(413, f"chunked body past {limit} bytes")
                    elif isinstance(event, h11.EndOfMessage):
                        body.seek(0)
                        return body, size
                    else:
                        raise _Closed
        except h11.RemoteProtocolError as err:
            body.close()
            await self._refuse(err.error_status_hint, str(err))
            raise  # unreachable: _refuse raises _Closed
        except BaseException:
            body.close()
            raise

    def _environ(self, request: h11.Request, body: IO[bytes], size: int) -> dict[str, Any]:
        path, _, query = request.target.partition(b"?")
        remote = self.address
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method.decode("ascii"),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"),
            "SERVER_NAME": str(self.front.host),
            "SERVER_PORT": str(self.front.port),
            "SERVER_PROTOCOL": f"HTTP/{request.http_version.decode('ascii')}",
            "SERVER_SOFTWARE": "escbot",
            "CONTENT_LENGTH": str(size),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": body,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for raw_name, raw_value in request.headers:
            if b"_" in raw_name:  # HTTP_X_USER would be indistinguishable from X-User
                continue
            name = raw_name.decode("ascii").upper().replace("-", "_")
            key = name if name in _RENAMED else f"HTTP_{name}"
            value = raw_value.decode("latin-1")
            if key == "CONTENT_LENGTH":
                continue  # the body's own length, set above (chunked bodies have none)
            # a repeated header joins with ", ", as waitress did (bot.slack.signature relies
            # on it: a repeated signature header then fails its shape)
            environ[key] = f"{environ[key]}, {value}" if key in environ else value
        proxy = self.limits.trusted_proxy
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        if proxy and proxy in ("*", remote) and forwarded:
            remote = forwarded.rsplit(",", 1)[-1].strip()  # the client the proxy saw
        for key in [k for k in environ if k.startswith(_PROXY_HEADERS)]:
            del environ[key]
        environ["REMOTE_ADDR"] = environ["REMOTE_HOST"] = remote
        return environ

    async def _respond(
        self, request: h11.Request, status: str, headers: list[tuple[str, str]], data: bytes
    ) -> None:
        code, _, reason = status.partition(" ")
        response = h11.Response(
            status_code=int(code),
            reason=reason.encode("latin-1"),
            headers=[*headers, ("Server", "escbot")],
        )
        events: list[Any] = [response]
        if request.method != b"HEAD" and data:
            events.append(h11.Data(data=data))
        await self._send(*events, h11.EndOfMessage())

    async def _refuse(self, status: int, why: str) -> None:
        """Answer a request the parser or a limit refused, in plain text, and close."""
        log.debug("refused an HTTP request from %s: %s (%d)", self.address, why, status)
        if self.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            text = f"{status} {_reason(status)}\n".encode()
            headers = [("Content-Type", "text/plain"), ("Connection", "close")]
            with contextlib.suppress(h11.LocalProtocolError):  # h11 can't frame one: just close
                await self._send(
                    h11.Response(status_code=status, headers=headers),
                    h11.Data(data=text),
                    h11.EndOfMessage(),
                )
        raise _Closed

    async def _send(self, *events: Any) -> None:
        # one write for the whole answer: headers and body in one segment where they fit
        self.writer.write(b"".join(self.h11.send(event) or b"" for event in events))
        # a client that won't read its answer is as slow as one that won't send
        async with asyncio.timeout(self.limits.channel_timeout):
            await self.writer.drain()


def _header_bytes(request: h11.Request) -> int:
    """The request line and headers as sent, give or take their separators."""
    fields = sum(len(name) + len(value) + 4 for name, value in request.headers.raw_items())
    return len(request.method) + len(request.target) + 12 + fields


def _reason(status: int) -> str:
    return HTTPStatus(status).phrase
