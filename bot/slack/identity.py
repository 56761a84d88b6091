"""The bot's identity for Bolt's authorize step, from a cached ``auth.test``."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


class BotIdentity:
    """Answers Bolt's authorize step from a cached ``auth.test``.

    Bolt's default calls ``auth.test`` on the first request and answers 500
    while Slack is unreachable; this one is warmed at start-up with retries and,
    if Slack is still down, authorizes with the token we have anyway so that a
    partner's escalation is taken (and its messages wait in the outbox).
    """

    def __init__(self, client: WebClient, token: str) -> None:
        self.client, self.token = client, token
        self.auth: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def warm(self, attempts: int = 5, delay: float = 0.5) -> bool:
        for attempt in range(attempts):
            if self._fetch():
                return True
            time.sleep(delay * 2**attempt)
        log.warning("auth.test failed %d times; serving with the token alone", attempts)
        return False

    def _fetch(self) -> bool:
        try:
            resp = self.client.auth_test(token=self.token)
        except (SlackApiError, OSError) as err:
            log.warning("auth.test failed: %s", err)
            return False
        with self._lock:
            self.auth = dict(resp.data)  # type: ignore[arg-type]
        return True

    def authorize(self, enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        if self.auth is None:
            self._fetch()
        auth = self.auth or {}
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=auth.get("team_id", team_id),
            bot_token=self.token,
            bot_id=auth.get("bot_id"),
            bot_user_id=auth.get("user_id"),
        )
