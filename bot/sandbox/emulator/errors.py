"""The fake's one error: an ``ok: false`` answer, raised anywhere a request is refused.

Why an exception: a rule deep in a check (a missing scope, a channel the bot can't see) ends
the request the way Slack does, and the dispatcher turns it into the JSON body, HTTP status
and headers in one place.
"""

from __future__ import annotations

from typing import Any


class SlackError(Exception):
    """An ``ok: false`` answer (HTTP 200 unless ``status`` says otherwise)."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


class GestureRefused(ValueError):
    """Slack's client does not let the person do this (e.g. type in a read-only Messages
    tab): nothing reaches the app, and the test that tried learns why."""
