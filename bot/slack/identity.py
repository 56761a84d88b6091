"""The bot's identity for Bolt's authorize step, from a cached ``auth.test``."""

from __future__ import annotations

import logging
import threading
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack.doctor import bot_token_refused

log = logging.getLogger(__name__)
_SDK_LOG = log.getChild("sdk")
_SDK_LOG.setLevel(logging.CRITICAL)  # each failure is said once, by ``check``'s caller

#: ``ok: false`` answers that say Slack is struggling, not that the token is bad.
TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
RETRY_CAP = 60.0  # seconds between auth.test attempts at most, while Slack can't be reached


class TokenRefused(Exception):
    """Slack answered ``auth.test`` refusing SLACK_BOT_TOKEN; the message is the doctor's line."""


class BotIdentity:
    """Answers Bolt's authorize step from a cached ``auth.test``.

    A token Slack refuses stops ``escbot run`` before it serves (``check`` raises
    ``TokenRefused``): serving would only queue messages bound for dead letters. While
    Slack is merely unreachable escbot serves anyway, authorizing with the token it has,
    so that a partner's escalation is taken (its messages wait in the outbox), and
    ``keep_trying`` asks again until Slack answers.
    """

    def __init__(self, api_url: str, token: str) -> None:
        # A client of its own, whose failures are this class's log lines, not slack_sdk's.
        self.client = WebClient(base_url=api_url, timeout=10, logger=_SDK_LOG)
        self.token = token
        self.auth: dict[str, Any] | None = None
        self.problem: str | None = None  # why the last auth.test got no answer
        self._lock = threading.Lock()

    def check(self) -> bool:
        """One ``auth.test``: True once answered; False if Slack was not reached (``problem``
        says why); ``TokenRefused`` if Slack refused the token."""
        try:
            resp = self.client.auth_test(token=self.token)
        except SlackApiError as err:
            error = str(err.response.get("error") or "unknown_error")
            if err.response.status_code == 200 and error not in TRANSIENT:
                raise TokenRefused(f"SLACK_BOT_TOKEN: {bot_token_refused(error)}") from None
            self.problem = (
                f"Slack answered auth.test with {error} (HTTP {err.response.status_code})"
            )
            return False
        except (SlackClientError, OSError) as err:
            self.problem = f"cannot reach the Slack API at {self.client.base_url} ({err})"
            return False
        with self._lock:
            self.auth = dict(resp.data)  # type: ignore[arg-type]
        self.problem = None
        return True

    def warm(self, attempts: int = 3, delay: float = 0.1) -> bool:
        """A few quick tries (tests and the demo, whose emulator is already up)."""
        for attempt in range(attempts):
            if self.check():
                return True
            threading.Event().wait(delay * 2**attempt)
        log.warning("%s; serving with the token alone", self.problem)
        return False

    def keep_trying(self, stop: threading.Event, delay: float = 1.0) -> None:
        """After a failed ``check``: ask again until Slack answers (or ``stop`` is set), one
        log line per try; ``TokenRefused`` if Slack, once reached, refuses the token."""
        while not stop.wait(delay):
            if self.check():
                log.info("Slack answered auth.test: escbot is @%s", self._said("user"))
                return
            delay = min(delay * 2, RETRY_CAP)
            log.warning(
                "%s: still serving with the token alone; next try in %.0f s", self.problem, delay
            )

    def _said(self, key: str) -> str:
        return str((self.auth or {}).get(key, "?"))

    def authorize(self, enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        if self.auth is None:
            try:
                self.check()
            except TokenRefused as err:  # the start-up thread stops escbot; here, answer on
                log.error("%s", err)
        auth = self.auth or {}
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=auth.get("team_id", team_id),
            bot_token=self.token,
            bot_id=auth.get("bot_id"),
            bot_user_id=auth.get("user_id"),
        )
