"""Web API ``apps.connections.open``: the app-level token asks for a Socket Mode URL.

Why apart: it is the one method called with the app-level token (``xapp-…``, checked by
``rules.access.check_token``), and its answer comes from the Socket Mode server
(``socket_mode.py``), not from the workspace's records.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.emulator.endpoints import Endpoints
from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.workspace import Workspace


def connections_open(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    if ws.socket is None:  # the token check refuses first; this keeps the types honest
        raise SlackError("invalid_auth")
    return {"url": ws.socket.open_url()}


def register(endpoints: Endpoints) -> None:
    endpoints.method("apps.connections.open", connections_open, token="app")
