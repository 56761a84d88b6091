"""Web API ``reactions.add``: the bot reacts to a message it can see, once per emoji.

Why: a second identical reaction is ``already_reacted`` in Slack; code that reacts on a retry
must cope with that answer.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.emulator.endpoints import Endpoints
from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.rules import access
from bot.sandbox.emulator.workspace import Workspace


def add(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    msg = access.find_message(ws, args, "timestamp")
    users = msg.reactions.setdefault(str(args.get("name")), [])
    if ws.bot_user_id in users:
        raise SlackError("already_reacted")
    users.append(ws.bot_user_id)
    return {}


def register(endpoints: Endpoints) -> None:
    endpoints.method("reactions.add", add)
