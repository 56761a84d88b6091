"""Web API ``api.test``, ``auth.test`` and ``team.info``: who the token is, and its team.

Why: Bolt's authorize and ``escbot doctor`` start from auth.test; its answer must name the
same bot user, bot id and team the rest of the fake uses.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.emulator.endpoints import Endpoints
from bot.sandbox.emulator.workspace import Workspace


def api_test(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    return {"args": args}


def auth_test(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_name,
        "user": ws.users[ws.bot_user_id].name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def team_info(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    team = {"id": ws.team_id, "name": ws.team_name, "domain": ws.team_domain}
    return {"team": {**team, "email_domain": "example.com", "icon": {}}}


def register(endpoints: Endpoints) -> None:
    endpoints.method("api.test", api_test)
    endpoints.method("auth.test", auth_test)
    endpoints.method("team.info", team_info)
