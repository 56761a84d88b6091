"""``/escalate`` and its subcommands.

``/escalate`` (with or without a summary) opens the intake modal; a first word
found in ``SUBCOMMANDS`` runs that subcommand instead, when the rest reads as its
arguments (``takes``): ``/escalate status ESC-4`` is the subcommand,
``/escalate Status of creator account…`` is a summary. Adding one is one line in
that table: ``"word": Subcommand(function, "usage", "what it does", takes)``,
where ``function(inv: Invocation)`` answers with ``inv.respond(...)``; the help
lists it automatically.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.core.errors import NotFound
from bot.intake import form as intake_form
from bot.intake import tracking
from bot.reporting import digests
from bot.resolution import entry as resolution
from bot.routing import absence, severity
from bot.services import Services
from bot.slack.ids import COMMAND
from handlers.boundary import guarded

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Invocation:
    """One ``/escalate <word> <args>``, as a subcommand sees it (already acknowledged)."""

    services: Services
    command: dict[str, Any]
    args: str
    respond: Respond
    client: WebClient

    @property
    def user(self) -> str:
        return str(self.command["user_id"])


@dataclass(frozen=True)
class Subcommand:
    run: Callable[[Invocation], None]
    usage: str
    about: str
    takes: str = ""  # a regex the arguments match in full (case-insensitive); "" = none

    def accepts(self, args: str) -> bool:
        return re.fullmatch(self.takes, args, re.IGNORECASE | re.DOTALL) is not None


def _help(inv: Invocation) -> None:
    lines = [f"• `{COMMAND} {sub.usage}` — {sub.about}" for sub in SUBCOMMANDS.values()]
    inv.respond(**inv.services.renderer.render("help", command=COMMAND, lines=lines))


def _status(inv: Invocation) -> None:
    inv.respond(**tracking.status(inv.services.desk, inv.args, viewer=inv.user))


def _mine(inv: Invocation) -> None:
    inv.respond(**tracking.mine(inv.services.desk, inv.user))


def _ooo(inv: Invocation) -> None:
    done = absence.command(inv.services.desk, inv.user, inv.args)
    inv.respond(**inv.services.renderer.render("ooo_status", o=done))


def _sev(inv: Invocation) -> None:
    inv.respond(**severity.command(inv.services.desk, inv.args, inv.user))


def _digest(inv: Invocation) -> None:
    name = inv.args.split()[0] if inv.args else None
    inv.respond(**digests.digest_preview(inv.services.desk, name, inv.user))


def _followup(inv: Invocation) -> None:
    if not inv.args:
        raise NotFound(f"Which ticket? Try `{COMMAND} followup ESC-12`.")
    view = resolution.followup_modal(inv.services.desk, inv.args.split()[0], actor=inv.user)
    inv.client.views_open(trigger_id=inv.command["trigger_id"], view=view)


def _followups(inv: Invocation) -> None:
    inv.respond(**resolution.followup_list(inv.services.desk, inv.user))


_KEY = r"(?:esc-)?\d{1,17}"
_DATE = r"\d{1,4}-\d{1,2}-\d{1,2}"

SUBCOMMANDS: dict[str, Subcommand] = {
    "help": Subcommand(_help, "help", "shows this"),
    "status": Subcommand(
        _status, "status ESC-n", "state, owner, SLA and latest events", rf"(?:{_KEY})?"
    ),
    "mine": Subcommand(_mine, "mine", "open tickets you reported or own"),
    "ooo": Subcommand(
        _ooo,
        "ooo <from> <to> [note] | list | clear",
        "your out-of-office",
        rf"(?:list|ls|clear)?|{_DATE}(?:\s.*)?",
    ),
    "sev": Subcommand(
        _sev,
        "sev ESC-n <severity> <reason>",
        "change a ticket's severity (the reason is kept)",
        rf"{_KEY}(?:\s.*)?",
    ),
    "digest": Subcommand(
        _digest, "digest [name]", "a private preview of a KPI digest", r"(?:[\w-]+)?"
    ),
    "followup": Subcommand(
        _followup, "followup ESC-n", "add a remediation follow-up", rf"(?:{_KEY})?"
    ),
    "followups": Subcommand(_followups, "followups", "open follow-ups: yours and the team's"),
}


def subcommand(text: str) -> tuple[Subcommand, str] | None:
    """The subcommand ``text`` runs, with its arguments; None: ``text`` is a summary."""
    word, *rest = text.split(maxsplit=1)[:2] or [""]
    sub = SUBCOMMANDS.get(word.lower())
    args = rest[0].strip() if rest else ""
    return (sub, args) if sub is not None and sub.accepts(args) else None


def register(app: App, services: Services) -> None:
    desk = services.desk

    @app.command(COMMAND)
    @guarded
    def escalate(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        text = command.get("text", "").strip()
        if (found := subcommand(text)) is not None:
            sub, args = found
            sub.run(Invocation(services, command, args, respond, client))
            return
        started = time.perf_counter()
        view = intake_form.command_modal(desk, text, command.get("channel_id"))
        client.views_open(trigger_id=command["trigger_id"], view=view)
        log.debug("intake modal opened in %.1f ms", (time.perf_counter() - started) * 1000)
