"""Web API ``users.info``: a member's profile and time zone, as routing reads them.

Why the offset from the injected clock: escbot decides "on shift" from ``tz``/``tz_offset``,
so the offset must be the one at the fake's "now" (daylight saving included).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bot.sandbox.emulator.endpoints import Endpoints
from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.workspace import Workspace


def info(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    if args.get("user") not in ws.users:
        raise SlackError("user_not_found")
    return {"user": user_obj(ws, args["user"])}


def user_obj(ws: Workspace, user_id: str) -> dict[str, Any]:
    u = ws.users[user_id]
    try:
        offset = ws.now().astimezone(ZoneInfo(u.tz)).utcoffset()
    except (KeyError, ValueError):
        offset = None
    profile = {
        "real_name": u.real_name,
        "display_name": u.name,
        "email": u.email,
        "real_name_normalized": u.real_name,
        "display_name_normalized": u.name,
    }
    return {
        "id": user_id,
        "team_id": ws.team_id,
        "name": u.name,
        "real_name": u.real_name,
        "deleted": u.deleted,
        "tz": u.tz,
        "tz_label": u.tz,
        "tz_offset": int(offset.total_seconds()) if offset else 0,
        "is_bot": u.is_bot,
        "is_admin": False,
        "profile": profile,
    }


def register(endpoints: Endpoints) -> None:
    endpoints.method("users.info", info)
