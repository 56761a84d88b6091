"""From an HTTP request to a recorded call: routing, faults, tokens, scopes, the answer.

Why one place: every request goes through the same steps in Slack's order — injected faults
first, then the token, then the method (``unknown_method``) and its scope, then the method's
own work — under the workspace's lock, so a call's changes are atomic, each one is recorded
as a ``Call``, and waiters are woken. Every Web API answer carries the token's scopes
(``x-oauth-scopes``) as Slack's do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from bot.sandbox.emulator.endpoints import Endpoints, Route
from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.faults import Faults
from bot.sandbox.emulator.http_server import DROP, Reply
from bot.sandbox.emulator.model import Call
from bot.sandbox.emulator.request_parsing import HttpRequest, bearer, parse_body
from bot.sandbox.emulator.rules import access
from bot.sandbox.emulator.workspace import Workspace
from bot.slack import scopes as slack_scopes

API = "/api/"
_NOT_FOUND: Reply = (404, b"not found", {"Content-Type": "text/plain"})


class Dispatcher:
    """Answers the fake's HTTP requests from ``endpoints`` over ``ws``, with ``faults``."""

    def __init__(self, ws: Workspace, endpoints: Endpoints, faults: Faults) -> None:
        self.ws = ws
        self.endpoints = endpoints
        self.faults = faults

    def __call__(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(path)
        request = HttpRequest(parts.path, parts.query, headers, body)
        if self.faults.latency:
            time.sleep(self.faults.latency)
        if request.path.startswith(API):
            return self._api(request.path[len(API) :], request)
        for prefix, route in self.endpoints.routes.items():
            if request.path.startswith(prefix):
                return self._route(route, request.path[len(prefix) :], request)
        for prefix, page in self.endpoints.pages.items():
            if request.path.startswith(prefix):
                return page(self.ws, request.path[len(prefix) :], request) or _NOT_FOUND
        return _NOT_FOUND

    def _api(self, name: str, request: HttpRequest) -> Reply:
        try:
            args = parse_body(request.content_type, request.body, request.query)
        except ValueError:
            return self.serve(name, {}, _invalid_json, scope_headers=False)
        token = bearer(request.headers.get("authorization")) or args.pop("token", None)
        kind = self.endpoints.token_for(name)

        def call(args: dict[str, Any]) -> dict[str, Any]:
            access.check_token(self.ws, kind, token)
            handler = self.endpoints.handler(name)
            self.ws.limits.take_method(name)  # the method's tier (rules/rate.py)
            access.check_scope(self.ws, name, args)
            return handler(self.ws, args)

        reply = self.serve(name, args, call, scope_headers=kind == "bot")
        if reply[0] == 200 and self.faults.take_lost(name):
            return DROP, b"", {}
        return reply

    def _route(self, route: Route, tail: str, request: HttpRequest) -> Reply:
        args = route.args(tail, request)
        reply = self.serve(route.name, args, lambda a: route.handler(self.ws, a))
        if reply[0] == 200 and route.ok_body is not None:
            return 200, route.ok_body, {"Content-Type": "text/plain"}
        return reply

    def serve(
        self,
        name: str,
        args: dict[str, Any],
        work: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        scope_headers: bool = False,
    ) -> Reply:
        """Faults, then ``work``, then recording; one lock so state changes are atomic."""
        ws = self.ws
        with ws.changed:
            headers: dict[str, str] = {}
            try:
                self.faults.check(name)
                response, status = {"ok": True, **work(args)}, 200
            except SlackError as e:
                response, status, headers = e.body(), e.status, e.headers
            recorded = {k: v for k, v in args.items() if k != "content"}
            if "content" in args:
                recorded["length"] = len(args["content"])
            ws.calls.append(Call(name, recorded, ws.now(), response, status))
            ws.changed.notify_all()
            if scope_headers:  # Slack reports the token's scopes on every Web API answer
                headers = {
                    "x-oauth-scopes": ",".join(sorted(ws.scopes)),
                    "x-accepted-oauth-scopes": ",".join(slack_scopes.accepted(name)),
                    **headers,
                }
        out = {"Content-Type": "application/json; charset=utf-8", **headers}
        return status, json.dumps(response).encode(), out


def _invalid_json(args: dict[str, Any]) -> dict[str, Any]:
    raise SlackError("invalid_json")
