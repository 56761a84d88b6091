"""The WSGI apps escbot serves, and the server that runs them (:mod:`bot.slack.front`).

Routes: ``POST /slack/events`` (commands, interactivity, events), ``GET /healthz``
and ``GET /metrics`` (or ``/metrics`` on its own address, ``ESCBOT_METRICS_ADDR``),
and ``POST /qa/decisions`` (vendors' decisions for QA, :mod:`bot.slack.qa_intake`).
A Slack request is admitted in this order, each step before the next reads
anything: size (413), Slack's signature over the raw bytes (401), UTF-8 and JSON
(400), the payload's nesting depth and shape (400); only then Bolt. Each refusal
is one log line and a 4xx, never a traceback or a 5xx.
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import json
import logging
import resource
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse

from bot.core.metrics import Metrics
from bot.settings import HttpLimits
from bot.slack.front import Front
from bot.slack.payloads import malformed
from bot.slack.qa_intake import QaDecisionsEndpoint
from bot.slack.signature import SignatureGate
from storage.db import ping

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
HEALTH_CACHE = 1.0  # seconds a good database ping answers /healthz without another


@dataclass(frozen=True)
class Refusal:
    status: int
    error: str  # what the sender is told
    reason: str  # what the log says


class SlackEndpoint:
    """``POST /slack/events`` → Bolt, once the request is signed and parses."""

    def __init__(
        self, app: App, signing_secret: str, metrics: Metrics, max_body: int = 1 << 20
    ) -> None:
        self.app = app
        self.gate = SignatureGate(signing_secret)
        self.metrics = metrics
        self.max_body = max_body

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        admitted = self._admit(environ)
        if isinstance(admitted, Refusal):
            log.warning(
                "refused a Slack request from %s: %s (%d)",
                environ.get("REMOTE_ADDR", "?"),
                admitted.reason,
                admitted.status,
            )
            self.metrics.slack_requests.labels("refused", str(admitted.status)).inc()
            return _respond(start_response, admitted.status, {"error": admitted.error})
        started = time.perf_counter()
        resp = self.app.dispatch(admitted)
        kind = _kind(admitted.body)
        self.metrics.ack_seconds.labels(kind).observe(time.perf_counter() - started)
        self.metrics.slack_requests.labels(kind, str(resp.status)).inc()
        if resp.status == 404:  # signed, parsed, but not a kind of request Slack sends
            log.warning("refused a signed request Bolt could not route (%s)", kind)
            return _respond(start_response, 400, {"error": "unsupported request"})
        out = WsgiHttpResponse(status=resp.status, headers=resp.headers, body=resp.body)
        start_response(out.status, out.get_headers())
        return out.get_body()

    def _admit(self, environ: dict[str, Any]) -> BoltRequest | Refusal:
        length = environ.get("CONTENT_LENGTH") or "0"
        if not length.isdigit():
            return Refusal(400, "bad request", "bad Content-Length")
        if int(length) > self.max_body:  # the front refuses these first; a bare WSGI call may not
            return Refusal(413, "request too large", f"body of {length} bytes")
        raw = environ["wsgi.input"].read(int(length)) if "wsgi.input" in environ else b""
        unsigned = self.gate.problem(raw, environ)
        if unsigned:
            return Refusal(401, "invalid request", unsigned)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Refusal(400, "malformed payload: not UTF-8", "signed body is not UTF-8")
        try:
            request = BoltRequest(
                body=text,
                query=environ.get("QUERY_STRING", ""),
                headers=WsgiHttpRequest(environ).get_headers(),
            )
        except RecursionError:  # the JSON parser's own bound, far past MAX_DEPTH
            return Refusal(400, "malformed payload: nested too deep", "signed JSON nested too deep")
        except Exception as err:  # broken JSON, a 5000-digit number, a list where Bolt reads
            # a dict (its constructor reads team and enterprise ids from the parsed body)
            return Refusal(400, "malformed payload", f"signed body does not parse: {err!r:.120}")
        problem = malformed(request.body)
        if problem:
            return Refusal(400, f"malformed payload: {problem}", f"signed payload: {problem}")
        return request


def _kind(body: dict[str, Any]) -> str:
    """command, block_actions, view_submission, event_callback, … (bounded label values)."""
    if "command" in body:
        return "command"
    kind = body.get("type")
    return kind if kind in _KINDS else "other"


_KINDS = frozenset(
    {
        "block_actions",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "event_callback",
        "url_verification",
        "block_suggestion",
    }
)


def _respond(
    start_response: StartResponse,
    status: int,
    body: dict[str, Any],
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers],
    )
    return [data]


class Probes:
    """``/healthz`` and ``/metrics``, on the Slack port or on the metrics address.

    /healthz is cheap (a ``SELECT 1`` at most once a second) and says only
    whether the database answers. /metrics (ticket counts, outbox depth) is
    for the operator: with ``ESCBOT_METRICS_TOKEN`` it wants that bearer token;
    without one it is open on its own address (``ESCBOT_METRICS_ADDR``, whose
    network placement protects it) and loopback-only on the Slack port.
    """

    def __init__(self, services: Any, *, separate: bool) -> None:
        self.services = services
        self.metrics: Metrics = services.metrics
        self.token: str | None = services.settings.metrics_token
        self.separate = separate
        self._healthy_at = float("-inf")

    def healthz(self, start_response: StartResponse) -> Iterable[bytes]:
        if time.monotonic() - self._healthy_at > HEALTH_CACHE:
            try:
                ping(self.services.engine)
            except Exception as err:
                log.warning("healthz: database unreachable: %s", type(err).__name__)
                return _respond(start_response, 503, {"ok": False, "database": "unreachable"})
            self._healthy_at = time.monotonic()
        return _respond(start_response, 200, {"ok": True, "database": "ok"})

    def metrics_page(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        refused = self._refusal(environ)
        if refused:
            status, error = refused
            log.warning("refused /metrics to %s: %s", environ.get("REMOTE_ADDR", "?"), error)
            challenge = [("WWW-Authenticate", "Bearer")] if status == 401 else []
            return _respond(start_response, status, {"error": error}, challenge)
        data = generate_latest(self.metrics.registry)
        start_response(
            "200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(data)))]
        )
        return [data]

    def _refusal(self, environ: dict[str, Any]) -> tuple[int, str] | None:
        if self.token:
            given = environ.get("HTTP_AUTHORIZATION", "").encode()
            if hmac.compare_digest(given, f"Bearer {self.token}".encode()):
                return None
            return 401, "a bearer token is required"
        if self.separate or _loopback(environ.get("REMOTE_ADDR", "")):
            return None
        return 403, "loopback only: set ESCBOT_METRICS_TOKEN or ESCBOT_METRICS_ADDR"


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a unix socket, or nothing
        return False


class EscbotWSGI:
    """The Slack port: /slack/events, /healthz, and /metrics unless it has its own address."""

    def __init__(self, app: App, services: Any) -> None:
        settings = services.settings
        self.metrics: Metrics = services.metrics
        self.slack = SlackEndpoint(
            app, settings.signing_secret, self.metrics, settings.http.max_body_bytes
        )
        self.serves_metrics = settings.metrics_addr is None
        self.probes = Probes(services, separate=False)
        self.qa = QaDecisionsEndpoint(
            services.desk,
            settings.qa_token,
            settings.http.max_body_bytes,
            _respond,
            settings.vendor_qa_tokens,
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        status_holder: list[str] = []

        def recording_start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            status_holder.append(status.split(" ", 1)[0])
            return start_response(status, headers, *exc)

        try:
            if path == "/slack/events" and method == "POST":
                return self.slack(environ, recording_start)
            if path == "/healthz" and method == "GET":
                return self.probes.healthz(recording_start)
            if path == "/metrics" and method == "GET" and self.serves_metrics:
                return self.probes.metrics_page(environ, recording_start)
            if path == "/qa/decisions" and method == "POST":
                return self.qa(environ, recording_start)
            return _respond(recording_start, 404, {"error": "not found"})
        finally:
            routes = ("/slack/events", "/healthz", "/metrics", "/qa/decisions")
            known = path if path in routes else "other"
            self.metrics.requests.labels(known, status_holder[0] if status_holder else "500").inc()


def exposure(settings: Any) -> str:
    """What answers on the Slack port and to whom, for the start-up line (the table of
    docs/operations.md, *Network exposure*): an operator sees what a bind exposes."""
    vendors = len(settings.vendor_qa_tokens)
    if settings.qa_token or vendors:
        qa = f"bearer tokens: {vendors} vendor(s)" + (", operator" if settings.qa_token else "")
    else:
        qa = "off: no vendor qa_token_env, no ESCBOT_QA_TOKEN"
    if settings.metrics_addr:
        metrics = "not here: on ESCBOT_METRICS_ADDR"
    else:
        metrics = "bearer token" if settings.metrics_token else "loopback only"
    return (
        f"POST /slack/events (Slack-signed), POST /qa/decisions ({qa}), "
        f"GET /healthz (anyone), GET /metrics ({metrics})"
    )


class MetricsWSGI:
    """``ESCBOT_METRICS_ADDR``: /metrics and /healthz only, away from the Slack port."""

    def __init__(self, services: Any) -> None:
        self.probes = Probes(services, separate=True)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == "/metrics" and method == "GET":
            return self.probes.metrics_page(environ, start_response)
        if path == "/healthz" and method == "GET":
            return self.probes.healthz(start_response)
        return _respond(start_response, 404, {"error": "not found"})


def _allow_descriptors(connections: int) -> None:
    """Raise the soft open-files limit (often 1024) so the connection limit can be reached."""
    wanted = connections + 256  # database, log files, the outbox's HTTP client
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        log.warning(
            "open files are limited to %d: fewer than %d connections can be served", hard, wanted
        )


def _listening_socket(host: str, port: int, *, shared: bool) -> socket.socket:
    """A socket bound to host:port. ``shared`` (SO_REUSEPORT): the kernel spreads new
    connections over every process bound so (by a hash of each connection), with no
    process in between (``escbot run --workers``)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock  # the front listens on it


class CannotListen(Exception):
    """The address to serve on is taken, not ours, or not an address; says what to change."""

    def __init__(self, host: str, port: int, setting: str, err: OSError) -> None:
        if err.errno == errno.EADDRINUSE:
            why = "another process is listening there: stop it, or choose another port"
        elif err.errno == errno.EACCES:
            why = "this user may not listen there: choose a port above 1023"
        else:
            why = f"{err.strerror or err}: check the host"
        super().__init__(f"cannot serve on {host}:{port} ({setting}): {why}")


class Server:
    """The front on a background thread (tests, demo, the metrics address) or the foreground."""

    def __init__(
        self,
        wsgi: Callable[..., Iterable[bytes]],
        host: str,
        port: int,
        threads: int = 8,
        limits: HttpLimits | None = None,
        *,
        reuse_port: bool = False,
        setting: str = "PORT",
    ) -> None:
        """``setting``: the variable that chose host and port, named if they can't be used."""
        limits = limits or HttpLimits()
        _allow_descriptors(limits.connection_limit)
        try:
            sock = _listening_socket(host, port, shared=reuse_port)
        except OSError as err:
            raise CannotListen(host, port, setting, err) from None
        self.server = Front(wsgi, sock, threads, limits, name="http")
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.server.host, self.server.port

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def serve_forever(self) -> None:
        self.server.run()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.run, name="http-loop", daemon=True)
        self._thread.start()
        self.server.wait_ready(5)

    def interrupt(self) -> None:
        """Make ``serve_forever`` return (from another thread)."""
        self.server.interrupt()

    def stop(self) -> None:
        self.server.interrupt()
        if self._thread is not None:
            self._thread.join(5)
        else:
            self.server.sock.close()  # never served
