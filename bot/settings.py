"""Process settings from the environment (secrets and endpoints; app.yaml holds the rest)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta

DEFAULT_API_URL = "https://slack.com/api/"


class SettingsError(Exception):
    """A required environment variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class HttpLimits:
    """What the HTTP server grants one client; why each default: docs/operations.md."""

    connection_limit: int = 1000  # open sockets, idle ones included
    channel_timeout: int = 30  # seconds a connection may send nothing before it is closed
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
    qa_token: str | None = None  # POST /qa/decisions wants "Authorization: Bearer <token>"
    # how long a person's first notice waits for others to arrive in the same DM
    notice_window: timedelta = timedelta(seconds=2)
    #: how many channels the outbox serves at once (1: one call at a time, in a known order)
    outbox_senders: int = 8

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
            # a blank value (" ", or a file's lone newline) is as good as unset
            if not env.get(name, "").strip():
                raise SettingsError(f"{name} is not set (see README: Creating the Slack app)")
        port = env.get("PORT", "3000")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(f"PORT must be a TCP port number, got {port!r}")
        api_url = env.get("SLACK_API_URL") or DEFAULT_API_URL
        http = HttpLimits(
            connection_limit=_int(env, "ESCBOT_CONNECTION_LIMIT", 1000, 10, 100_000),
            channel_timeout=_int(env, "ESCBOT_CHANNEL_TIMEOUT", 30, 2, 3600),
            max_header_bytes=_int(env, "ESCBOT_MAX_HEADER_BYTES", 32 * 1024, 4096, 1 << 20),
            max_body_bytes=_int(env, "ESCBOT_MAX_BODY_BYTES", 1 << 20, 64 * 1024, 64 << 20),
            trusted_proxy=env.get("ESCBOT_TRUSTED_PROXY", "").strip() or None,
        )
        return cls(
            bot_token=env["SLACK_BOT_TOKEN"].strip(),
            signing_secret=env["SLACK_SIGNING_SECRET"].strip(),
            app_token=env.get("SLACK_APP_TOKEN", "").strip() or None,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            database_url=env.get("DATABASE_URL") or None,
            config_path=env.get("ESCBOT_CONFIG") or None,
            host=env.get("HOST", "0.0.0.0"),
            port=int(port),
            threads=_int(env, "ESCBOT_THREADS", 8, 1, 256),
            channel_rate=float(env.get("ESCBOT_CHANNEL_RATE", "1.0")),
            http=http,
            metrics_addr=_address(env.get("ESCBOT_METRICS_ADDR", "").strip()),
            metrics_token=env.get("ESCBOT_METRICS_TOKEN", "").strip() or None,
            qa_token=env.get("ESCBOT_QA_TOKEN", "").strip() or None,
            notice_window=timedelta(seconds=float(env.get("ESCBOT_NOTICE_WINDOW", "2"))),
        )


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip() or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)


def _address(raw: str) -> tuple[str, int] | None:
    """``127.0.0.1:9100`` or ``[::1]:9100`` → (host, port); empty → None."""
    if not raw:
        return None
    host, sep, port = raw.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"ESCBOT_METRICS_ADDR must be host:port, got {raw!r}")
    return host, int(port)
