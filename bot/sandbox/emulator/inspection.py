"""What tests and the demo read back: calls, messages as they stand, views, files, and waits.

Why apart from the state: a test asks "what did the person see?" (a channel, a thread, their
DMs, the modal in front of them) and waits for the app's asynchronous work; every answer is
a deep copy taken under the lock, so a test can't change the fake by accident, and waits
wake on every change instead of polling.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any, TypeVar

from bot.sandbox.emulator.model import Call, FakeFile, Message
from bot.sandbox.emulator.workspace import Workspace

T = TypeVar("T")


class Inspector:
    """Read-only views of ``ws`` for tests."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def calls(self) -> list[Call]:
        with self.ws.lock:
            return list(self.ws.calls)

    def calls_to(self, method: str) -> list[Call]:
        with self.ws.lock:
            return [c for c in self.ws.calls if c.method == method]

    def mark(self) -> int:
        """Index of the next call; pass as ``wait_for(..., since=mark)`` to ignore earlier ones."""
        with self.ws.lock:
            return len(self.ws.calls)

    def misplaced_unfurls(self) -> list[Call]:
        """Calls that sent ``unfurl_links``/``unfurl_media`` where Slack ignores them.

        Only chat.postMessage takes them; on chat.update, chat.postEphemeral or a response_url
        they do nothing, so a promise resting on them there is not kept.
        """
        with self.ws.lock:
            return [
                c
                for c in self.ws.calls
                if c.method != "chat.postMessage"
                and ("unfurl_links" in c.args or "unfurl_media" in c.args)
            ]

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages (and thread broadcasts) of a channel, oldest first, as they are."""
        with self.ws.lock:
            msgs = self.ws.messages.get(self.ws.alias(channel), [])
            return [copy.deepcopy(m) for m in msgs if not m.is_reply or m.reply_broadcast]

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The replies in the thread of ``ts`` (the parent excluded), oldest first."""
        with self.ws.lock:
            msgs = self.ws.messages.get(self.ws.alias(channel), [])
            return [copy.deepcopy(m) for m in msgs if m.is_reply and m.thread_ts == ts]

    def message(self, channel: str, ts: str) -> Message | None:
        with self.ws.lock:
            return copy.deepcopy(self.ws.by_ts.get((self.ws.alias(channel), ts)))

    def dms(self, user: str) -> list[Message]:
        """Messages the bot sent to ``user``'s DM (thread replies included)."""
        with self.ws.lock:
            return [copy.deepcopy(m) for m in self.ws.messages.get(self.ws.dm_channel(user), [])]

    def ephemerals(self, user: str | None = None) -> list[Message]:
        with self.ws.lock:
            return [
                copy.deepcopy(m)
                for m in self.ws.ephemerals
                if user is None or m.ephemeral_to == user
            ]

    def files(self) -> list[FakeFile]:
        with self.ws.lock:
            return [copy.deepcopy(f) for f in self.ws.files.values()]

    def view(self, view_id: str) -> dict[str, Any] | None:
        with self.ws.lock:
            return copy.deepcopy(self.ws.views.get(view_id))

    def last_view(self, user_id: str) -> dict[str, Any] | None:
        """The modal most recently opened, pushed or updated for ``user_id``."""
        with self.ws.lock:
            vid = self.ws.last_view.get(user_id)
            return copy.deepcopy(self.ws.views[vid]) if vid else None

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view last published for ``user_id``."""
        with self.ws.lock:
            vid = self.ws.home.get(user_id)
            return copy.deepcopy(self.ws.views[vid]) if vid else None

    def wait_until(self, condition: Callable[[], T | None], timeout: float = 5.0) -> T:
        """Block until ``condition()`` is truthy (re-checked after every request); return it."""
        deadline = time.monotonic() + timeout
        with self.ws.changed:
            while True:
                result = condition()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [
                        f"{c.method}:{c.status}:{c.response.get('error', 'ok')}"
                        for c in self.ws.calls[-15:]
                    ]
                    raise TimeoutError(f"condition not met in {timeout}s; last calls: {seen}")
                self.ws.changed.wait(remaining)

    def wait_for(
        self,
        match: str | Callable[[Call], bool],
        timeout: float = 5.0,
        *,
        count: int = 1,
        since: int = 0,
    ) -> Call:
        """Block until ``count`` matching calls (from index ``since``) arrived; return the last.

        A method name matches only successful calls (delivered, ``ok: true``); pass a predicate
        to see failed attempts too.
        """

        def pred(c: Call) -> bool:
            return (c.method == match and c.ok) if isinstance(match, str) else match(c)

        def found() -> Call | None:
            hits = [c for c in self.ws.calls[since:] if pred(c)]
            return hits[count - 1] if len(hits) >= count else None

        try:
            return self.wait_until(found, timeout)
        except TimeoutError as e:
            raise TimeoutError(f"no {count}x {match!r} call: {e}") from None
