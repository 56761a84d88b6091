"""The fake's table of what it serves: Web API methods by name, and the other URLs it hands out.

Why a table: each API area (``api/``) registers its handlers here, so adding an area (or a
method) is adding a module, and the dispatcher only looks names up. An unknown method answers
``unknown_method``, as Slack does; a name registered twice is a mistake caught at start.

- a ``Method`` runs under ``/api/<name>`` with the token kind it takes (bot or app-level);
- a ``Route`` is a URL outside ``/api/`` that Slack hands out (an upload URL, a response_url):
  no token, but recorded as a call and open to faults like a method;
- a ``Page`` is a plain URL (a file download): not recorded, answered as it wants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.http_server import Reply
from bot.sandbox.emulator.request_parsing import HttpRequest
from bot.sandbox.emulator.rules.access import TokenKind
from bot.sandbox.emulator.workspace import Workspace

#: A method's (or route's) work, with the workspace locked: arguments → the ``ok`` answer's
#: fields; a refusal raises ``SlackError``.
Handler = Callable[[Workspace, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Method:
    handler: Handler
    token: TokenKind = "bot"


@dataclass(frozen=True)
class Route:
    """``args`` turns the URL's tail (after the prefix) and the request into the arguments
    recorded as the call ``name``; ``ok_body`` replaces the JSON of a successful answer."""

    name: str
    args: Callable[[str, HttpRequest], dict[str, Any]]
    handler: Handler
    ok_body: bytes | None = None


#: A plain URL: (workspace, the URL's tail, request) → the answer, or None for 404.
Page = Callable[[Workspace, str, HttpRequest], Reply | None]


class Endpoints:
    """Everything the fake serves, filled by the API areas' ``register``."""

    def __init__(self) -> None:
        self.methods: dict[str, Method] = {}
        self.routes: dict[str, Route] = {}
        self.pages: dict[str, Page] = {}

    def method(self, name: str, handler: Handler, *, token: TokenKind = "bot") -> None:
        """Serve the Web API method ``name`` (e.g. ``chat.postMessage``)."""
        self._new(name, self.methods)
        self.methods[name] = Method(handler, token)

    def route(self, prefix: str, route: Route) -> None:
        """Serve ``route`` under ``prefix`` (``/upload/``); it is recorded as ``route.name``."""
        self._new(prefix, self.routes)
        self.routes[prefix] = route

    def page(self, prefix: str, page: Page) -> None:
        """Serve ``page`` under ``prefix`` (``/files/``)."""
        self._new(prefix, self.pages)
        self.pages[prefix] = page

    def token_for(self, name: str) -> TokenKind:
        """The token ``name`` takes; an unknown method is checked as a bot call first."""
        method = self.methods.get(name)
        return method.token if method else "bot"

    def handler(self, name: str) -> Handler:
        method = self.methods.get(name)
        if method is None:
            raise SlackError("unknown_method")
        return method.handler

    @staticmethod
    def _new(key: str, table: dict[str, Any]) -> None:
        if key in table:
            raise ValueError(f"{key} is registered twice")
