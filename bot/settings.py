"""Process settings from the environment (secrets and endpoints; app.yaml holds the rest)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

DEFAULT_API_URL = "https://slack.com/api/"


class SettingsError(Exception):
    """A required environment variable is missing or malformed; the message names it."""


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
    # how long a person's first notice waits for others to arrive in the same DM
    notice_window: timedelta = timedelta(seconds=2)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
            if not env.get(name):
                raise SettingsError(f"{name} is not set (see README: Creating the Slack app)")
        port = env.get("PORT", "3000")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(f"PORT must be a TCP port number, got {port!r}")
        api_url = env.get("SLACK_API_URL") or DEFAULT_API_URL
        return cls(
            bot_token=env["SLACK_BOT_TOKEN"],
            signing_secret=env["SLACK_SIGNING_SECRET"],
            app_token=env.get("SLACK_APP_TOKEN") or None,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            database_url=env.get("DATABASE_URL") or None,
            config_path=env.get("ESCBOT_CONFIG") or None,
            host=env.get("HOST", "0.0.0.0"),
            port=int(port),
            threads=int(env.get("ESCBOT_THREADS", "8")),
            channel_rate=float(env.get("ESCBOT_CHANNEL_RATE", "1.0")),
            notice_window=timedelta(seconds=float(env.get("ESCBOT_NOTICE_WINDOW", "2"))),
        )
