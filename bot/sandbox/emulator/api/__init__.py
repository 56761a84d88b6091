"""The fake's Web API, one module per area; ``endpoints()`` collects them into one table.

Why per area: each module holds a family of Slack methods (and the URLs around them) with
the rules it applies, like Slack's own reference; adding an area is adding a module here.
"""

from __future__ import annotations

from bot.sandbox.emulator.api import (
    apps,
    auth,
    chat,
    conversations,
    files,
    reactions,
    response_url,
    users,
    views,
)
from bot.sandbox.emulator.endpoints import Endpoints

AREAS = (auth, users, chat, conversations, views, files, reactions, response_url, apps)


def endpoints() -> Endpoints:
    """Every method, route and page the areas register."""
    table = Endpoints()
    for area in AREAS:
        area.register(table)
    return table
