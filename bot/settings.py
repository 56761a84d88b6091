"""Process settings from the environment (secrets and endpoints; app.yaml holds the rest)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from bot.config import AppConfig

DEFAULT_API_URL = "https://slack.com/api/"
T = TypeVar("T")
#: Variables that may instead name a file holding the value, as ``NAME_FILE``: Docker and
#: Kubernetes mount secrets as files, which keeps them out of ``docker inspect`` and ``ps e``.
SECRET_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "DATABASE_URL",
    "ESCBOT_METRICS_TOKEN",
    "ESCBOT_QA_TOKEN",
)


class SettingsError(Exception):
    """A required environment variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class HttpLimits:
    """What the HTTP server grants one client; why each default: docs/operations.md."""

    connection_limit: int = 1000  # open sockets, idle ones included
    #: open sockets per client address (IPv6: per /64); the trusted proxy is not capped
    client_connections: int = 64
    channel_timeout: int = 30  # seconds a connection may send nothing before it is closed
    header_timeout: float = 10.0  # seconds for a request's headers to arrive whole
    min_body_rate: int = 64 * 1024  # bytes/s a body must average, after header_timeout's grace
    max_header_bytes: int = 32 * 1024
    max_body_bytes: int = 1024 * 1024
    trusted_proxy: str | None = None  # the reverse proxy's address, for X-Forwarded-For


@dataclass(frozen=True)
class Settings:
    bot_token: str
    signing_secret: str
    app_token: str | None = None
    api_url: str = DEFAULT_API_URL
    database_url: str | None = None
    config_path: str | None = None
    host: str = "0.0.0.0"
    port: int = 3000
    threads: int = 8
    timer_interval: timedelta = timedelta(seconds=5)
    channel_rate: float = 1.0  # messages per second per channel (Slack's documented limit)
    #: Socket Mode: seconds between pings and between reconnect attempts (Bolt's default).
    socket_ping_interval: float = 10.0
    http: HttpLimits = field(default_factory=HttpLimits)
    metrics_addr: tuple[str, int] | None = None  # serve /metrics there, not on the Slack port
    metrics_token: str | None = None  # then /metrics wants "Authorization: Bearer <token>"
    #: The operator token of POST /qa/decisions ("Authorization: Bearer <token>"): any
    #: vendor's rows, like ``escbot qa import``. Vendors' tools get their own tokens below.
    qa_token: str | None = None
    #: vendor key → that vendor's own token (``vendors.<v>.qa_token_env``): its rows only
    vendor_qa_tokens: Mapping[str, str] = field(default_factory=dict)
    # how long a person's first notice waits for others to arrive in the same DM
    notice_window: timedelta = timedelta(seconds=2)
    #: how many channels the outbox serves at once (1: one call at a time, in a known order)
    outbox_senders: int = 8

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read the environment; one ``SettingsError`` naming every problem at once."""
        env = dict(os.environ if env is None else env)
        env.update(secret_files(env))
        problems: list[str] = []
        # a blank value (" ", or a file's lone newline) is as good as unset
        missing = [
            n for n in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET") if not env.get(n, "").strip()
        ]
        if missing:
            problems.append(
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set "
                "(see README: Creating the Slack app)"
            )

        def read(parse: Callable[[], T], default: T) -> T:
            try:
                return parse()
            except SettingsError as err:
                problems.append(str(err))
                return default

        port = read(lambda: _int(env, "PORT", 3000, 1, 65535, what="a TCP port number"), 3000)
        api_url = env.get("SLACK_API_URL") or DEFAULT_API_URL
        http = HttpLimits(
            connection_limit=read(
                lambda: _int(env, "ESCBOT_CONNECTION_LIMIT", 1000, 10, 100_000), 1000
            ),
            client_connections=read(
                lambda: _int(env, "ESCBOT_CLIENT_CONNECTIONS", 64, 1, 100_000), 64
            ),
            channel_timeout=read(lambda: _int(env, "ESCBOT_CHANNEL_TIMEOUT", 30, 2, 3600), 30),
            header_timeout=read(lambda: _int(env, "ESCBOT_HEADER_TIMEOUT", 10, 1, 300), 10),
            max_header_bytes=read(
                lambda: _int(env, "ESCBOT_MAX_HEADER_BYTES", 32 * 1024, 4096, 1 << 20), 0
            ),
            max_body_bytes=read(
                lambda: _int(env, "ESCBOT_MAX_BODY_BYTES", 1 << 20, 64 * 1024, 64 << 20), 0
            ),
            trusted_proxy=env.get("ESCBOT_TRUSTED_PROXY", "").strip() or None,
        )
        threads = read(lambda: _int(env, "ESCBOT_THREADS", 8, 1, 256), 8)
        metrics_addr = read(lambda: _address(env.get("ESCBOT_METRICS_ADDR", "").strip()), None)
        channel_rate = read(lambda: _number(env, "ESCBOT_CHANNEL_RATE", 1.0), 1.0)
        notice_window = read(lambda: _number(env, "ESCBOT_NOTICE_WINDOW", 2.0, zero=True), 2.0)
        if problems:
            raise SettingsError("; ".join(problems))
        return cls(
            bot_token=env["SLACK_BOT_TOKEN"].strip(),
            signing_secret=env["SLACK_SIGNING_SECRET"].strip(),
            app_token=env.get("SLACK_APP_TOKEN", "").strip() or None,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            database_url=env.get("DATABASE_URL") or None,
            config_path=env.get("ESCBOT_CONFIG") or None,
            host=env.get("HOST", "0.0.0.0"),
            port=port,
            threads=threads,
            channel_rate=channel_rate,
            http=http,
            metrics_addr=metrics_addr,
            metrics_token=env.get("ESCBOT_METRICS_TOKEN", "").strip() or None,
            qa_token=env.get("ESCBOT_QA_TOKEN", "").strip() or None,
            notice_window=timedelta(seconds=notice_window),
        )


def secret_files(env: Mapping[str, str]) -> dict[str, str]:
    """``{NAME: value}`` for each ``NAME_FILE`` set in ``env``, read from that file.

    The file's trailing newline (``echo`` and most editors add one) is not part of the value.
    ``SettingsError`` names the variable when its file can't be read or both forms are set.
    """
    found: dict[str, str] = {}
    for name in SECRET_VARIABLES:
        path = env.get(f"{name}_FILE", "").strip()
        if not path:
            continue
        if env.get(name, "").strip():
            raise SettingsError(f"set {name} or {name}_FILE, not both")
        try:
            with open(path, encoding="utf-8") as fh:
                found[name] = fh.read().rstrip("\r\n")
        except OSError as err:
            raise SettingsError(
                f"{name}_FILE names a file escbot can't read: {path} ({err.strerror})"
            ) from None
    return found


def with_vendor_tokens(
    settings: Settings, cfg: AppConfig, env: Mapping[str, str] | None = None
) -> Settings:
    """``settings`` with each vendor's QA token read from its ``qa_token_env`` variable
    (app.yaml names the variable; the secret itself stays in the environment)."""
    env = os.environ if env is None else env
    tokens = {
        key: env[v.qa_token_env].strip()
        for key, v in cfg.vendors.items()
        if v.qa_token_env and env.get(v.qa_token_env, "").strip()
    }
    secrets = [*tokens.values(), *([settings.qa_token] if settings.qa_token else [])]
    if len(set(secrets)) != len(secrets):  # one token would write as two vendors
        raise SettingsError(
            "each vendor's qa_token_env must hold a token of its own, different from the "
            "other vendors' and from ESCBOT_QA_TOKEN"
        )
    return replace(settings, vendor_qa_tokens=tokens)


def _int(
    env: dict[str, str], name: str, default: int, low: int, high: int, what: str | None = None
) -> int:
    raw = env.get(name, "").strip() or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        what = what or f"a whole number from {low} to {high}"
        raise SettingsError(f"{name} must be {what}, got {raw!r}")
    return int(raw)


def _number(env: dict[str, str], name: str, default: float, *, zero: bool = False) -> float:
    raw = env.get(name, "").strip() or str(default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or not (value >= 0 if zero else value > 0):
        what = "a number, 0 or more" if zero else "a positive number"
        raise SettingsError(f"{name} must be {what}, got {raw!r}")
    return value


def _address(raw: str) -> tuple[str, int] | None:
    """``127.0.0.1:9100`` or ``[::1]:9100`` → (host, port); empty → None."""
    if not raw:
        return None
    host, sep, port = raw.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"ESCBOT_METRICS_ADDR must be host:port, got {raw!r}")
    return host, int(port)
