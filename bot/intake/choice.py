"""The duplicate choice: when the content is already in an open ticket, the modal
becomes a choice (:func:`choice_view`).

Only a ticket the reporter may see (:mod:`bot.tickets.permissions`: reporter, watchers,
its pod, admins) is shown with its summary, status and owner, and offered as "add to
ESC-n"; any other is "already being handled by the desk (ESC-n)", which the reporter may
only ask to follow (:mod:`bot.intake.following`). Content of a resolved ticket offers
"reopen it" (to those who may) or a new ticket linked to it. The submission and the
choices shown wait server-side in ``pending_drafts``, keyed by the view id, until a
button decides (:func:`decide`): a click is checked against what was shown to that
person, never against what it carries.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.core.errors import DomainError
from bot.core.mrkdwn import CONTENT_BUDGET, link, mention, pack
from bot.core.render import Renderer
from bot.core.sealed import Seal, Tampered
from bot.intake import following, limits
from bot.intake import messages as intake_messages
from bot.intake import service as intake
from bot.intake.draft import Draft
from bot.intake.modal import Origin, request_key
from bot.intake.service import Match, Outcome, Result
from bot.resolution import service as resolution
from bot.tickets import permissions
from bot.tickets.lifecycle import status_label
from storage.models import PendingDraft
from storage.queries import request_result

CHOICE_VIEW = "escalate_duplicate"
DONE_VIEW = "escalate_done"
ADD_ACTION = "intake_add"  # one per matching ticket: intake_add_1, intake_add_2…
ASK_ACTION = "intake_ask"  # for a ticket the reporter may not see: ask to follow it
NEW_ACTION = "intake_new"  # value "new", or the resolved ticket's key the new one follows
REOPEN_ACTION = "intake_reopen"  # one per resolved ticket: intake_reopen_1…
CHOICE_ACTIONS = re.compile(
    rf"^(?:{ADD_ACTION}_\d+|{ASK_ACTION}_\d+|{REOPEN_ACTION}_\d+|{NEW_ACTION})$"
)
MAX_MATCHES = 5
PENDING_TTL = timedelta(days=1)
EXPIRED = "That form has expired or was already used: run `/escalate` again."

log = logging.getLogger(__name__)


def choice_view(
    session: Session,
    renderer: Renderer,
    cfg: AppConfig,
    draft: Draft,
    origin: Origin,
    matches: tuple[Match, ...],
    *,
    view_id: str,
    reporter: str,
    now: datetime,
    earlier: tuple[Match, ...] = (),
) -> dict[str, Any]:
    """The modal's next step: "ESC-n already covers <link> — add to ESC-n / open a new one"
    for tickets ``reporter`` may see, "already being handled by the desk (ESC-n) — ask to
    follow it" for the others; or, for content of resolved tickets (``earlier``), "reported
    before in ESC-n (decision, date) — reopen it / open a new one that links to it" (the
    decision only for a reporter who may see that ticket).

    The submission, its reporter and the choices shown wait in ``pending_drafts``
    (committed before Slack shows the choice); the view carries nothing to trust.
    """
    matches = matches[:MAX_MATCHES]
    visible = {
        m.ticket.id for m in matches if permissions.may_see(session, cfg, m.ticket, reporter)
    }
    context = choice_context(draft, matches, visible)
    context["earlier"] = [
        _earlier(session, renderer, cfg, m, i, reporter, now)
        for i, m in enumerate(earlier[:MAX_MATCHES], 1)
    ]
    shown = {
        m["action_id"]: {"key": m["t"].key, "kind": "add" if m["visible"] else "ask"}
        for m in context["matches"]
    }
    shown |= {
        e["action_id"]: {"key": e["key"], "kind": "reopen"}
        for e in context["earlier"]
        if e["reopen"]
    }
    linked = context["earlier"][0]["key"] if context["earlier"] and not matches else ""
    shown[NEW_ACTION] = {"key": linked or "new", "kind": "new"}
    pending = {
        "draft": draft.to_json(),
        "reporter": reporter,
        "origin": json.loads(origin.encode()),
        "shown": shown,
    }
    session.execute(delete(PendingDraft).where(PendingDraft.created_at < now - PENDING_TTL))
    session.merge(PendingDraft(view_id=view_id, payload=pending, created_at=now))
    return renderer.render("duplicate_choice", **context)


def _earlier(
    session: Session,
    renderer: Renderer,
    cfg: AppConfig,
    match: Match,
    index: int,
    reporter: str,
    now: datetime,
) -> dict[str, Any]:
    """One resolved ticket of the choice: what ``reporter`` may see of it, and whether
    they may reopen it."""
    ticket = match.ticket
    sees = permissions.may_see(session, cfg, ticket, reporter)
    links, hidden = (
        pack((link(raw) for raw in match.content), CONTENT_BUDGET - 200) if sees else ([], 0)
    )
    return {
        **intake_messages.earlier_context(cfg, renderer, ticket, decision=sees),
        "summary": ticket.summary if sees else "",
        "links": links,
        "hidden": hidden,
        "reopen": resolution.reopen_allowed(cfg, ticket, reporter, now),
        "action_id": f"{REOPEN_ACTION}_{index}",
    }


def choice_context(
    draft: Draft, matches: tuple[Match, ...], visible: set[int] | frozenset[int] = frozenset()
) -> dict[str, Any]:
    """The choice's context; only the tickets in ``visible`` (ids) show their content,
    summary, status and owner."""
    shown = []
    for i, match in enumerate(matches[:MAX_MATCHES], 1):
        seen = match.ticket.id in visible
        links, hidden = (
            pack((link(raw) for raw in match.content), CONTENT_BUDGET - 200) if seen else ([], 0)
        )
        shown.append(
            {
                "t": match.ticket,
                "visible": seen,
                "action_id": f"{ADD_ACTION if seen else ASK_ACTION}_{i}",
                "links": links,
                "hidden": hidden,
                "status": status_label(match.ticket.status) if seen else "",
                "owner": mention(match.ticket.assignee_id, "not assigned yet") if seen else "",
            }
        )
    return {
        "callback_id": CHOICE_VIEW,
        "metadata": "",
        "summary": draft.summary,
        "matches": shown,
        "more": max(0, len(matches) - MAX_MATCHES),
        "new_action": NEW_ACTION,
    }


def decide(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    view: dict[str, Any],
    action: dict[str, Any],
    *,
    reporter: str,
    now: datetime,
    seal: Seal,
) -> tuple[Outcome, Origin]:
    """Carry out the button the reporter pressed on the duplicate choice, as it was
    shown to them (``pending_drafts``); a button they were not shown is refused."""
    key = request_key(view)
    row = session.get(PendingDraft, str(view.get("id", "")))
    pending = row.payload if row is not None else {}
    origin = Origin.decode(pending.get("origin") or {})
    previous = request_result(session, key)
    if previous is not None:  # a double click, or the other button after the first
        return Outcome(Result.REPEAT, previous=previous), origin
    if row is None or pending.get("reporter") != reporter:
        log.warning(
            "duplicate choice %s by %s refused: no such form for them",
            action.get("action_id"),
            reporter,
        )
        raise DomainError(EXPIRED)
    draft = Draft.from_json(pending["draft"])
    action_id = str(action.get("action_id", ""))
    choice = pending.get("shown", {}).get(action_id)
    if choice is None or action.get("value") != choice["key"]:
        log.warning(
            "duplicate choice %s=%r by %s refused: not what was shown",
            action_id[:40],
            str(action.get("value"))[:40],
            reporter,
        )
        raise Tampered("That button was not one escbot showed you; nothing was done.")
    if choice["kind"] == "new":
        limits.check_tickets(session, cfg, reporter, draft.severity, now)
        outcome = intake.submit(
            session, cfg, draft, reporter=reporter, now=now, request_key=key,
            allow_duplicate=True, linked="" if choice["key"] == "new" else choice["key"],
        )  # fmt: skip
    elif choice["kind"] == "reopen":
        outcome = intake.reopen_reported(
            session, cfg, renderer, choice["key"], draft,
            reporter=reporter, now=now, request_key=key,
        )  # fmt: skip
    elif choice["kind"] == "add":
        outcome = intake.add_to_ticket(
            session, cfg, renderer, choice["key"], draft,
            reporter=reporter, now=now, request_key=key,
        )  # fmt: skip
    else:
        outcome = following.ask(
            session, cfg, renderer, seal, choice["key"], draft,
            reporter=reporter, now=now, request_key=key,
        )  # fmt: skip
    # a statement, not session.delete: a double click that waited above for this one's
    # locks finds the row gone, which is no news (the ORM would warn of a lost row)
    session.execute(delete(PendingDraft).where(PendingDraft.view_id == row.view_id))
    return outcome, origin


def done_view(renderer: Renderer, cfg: AppConfig, outcome: Outcome) -> dict[str, Any]:
    """What the modal shows once the choice is made (or was made by an earlier click).

    A follow request names the ticket's key only: the reporter may not see it yet.
    """
    ticket = outcome.ticket
    details = ticket is not None and outcome.result is not Result.REQUESTED
    return renderer.render(
        "intake_done",
        callback_id=DONE_VIEW,
        result=outcome.result.value,
        key=ticket.key if ticket else str(outcome.previous.get("key", "")),
        summary=ticket.summary if ticket and details else "",
        owner=mention(ticket.assignee_id, "not assigned yet") if ticket and details else "",
        added_count=len(outcome.added),
        intake=f"<#{cfg.workspace.intake_channel}>",
    )
