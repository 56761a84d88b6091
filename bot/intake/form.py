"""The intake modal: building it, reading a submission, and the duplicate choice.

``/escalate [text]`` and the message shortcut open the same modal, prefilled
(:class:`Prefill`); where it was opened from travels in the view's
``private_metadata`` (:class:`Origin`), signed (:mod:`bot.core.sealed`): a
changed one is refused. :func:`read` turns a submission into a
:class:`~bot.intake.draft.Draft` or into errors shown under the offending fields
(``response_action: errors``) — never an exception, never a silent close.

When the content is already in an open ticket the modal becomes a choice
(:func:`choice_view`). Only a ticket the reporter may see (:mod:`bot.tickets.permissions`:
reporter, watchers, its pod, admins) is shown with its summary, status and owner,
and offered as "add to ESC-n"; any other is "already being handled by the desk
(ESC-n)", which the reporter may only ask to follow (:mod:`bot.intake.following`).
The submission and the choices shown wait server-side in ``pending_drafts``,
keyed by the view id, until a button decides (:func:`decide`): a click is
checked against what was shown to that person, never against what it carries.
Per-person limits (:mod:`bot.intake.limits`) apply before anything is looked up.

Each listener calls one entry point here — :func:`command_modal`,
:func:`message_modal`, :func:`submit_view`, :func:`choose` — with a
:class:`~bot.core.desk.Desk` and what it read from the payload, and answers
Slack with what it gets back (a view, :class:`Submitted` or :class:`Chosen`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.core import forms
from bot.core.desk import Desk
from bot.core.errors import DomainError
from bot.core.forms import FieldErrors
from bot.core.mrkdwn import CONTENT_BUDGET, link, mention, pack
from bot.core.render import Renderer
from bot.core.sealed import Seal, Tampered
from bot.core.text import clean, one_line
from bot.intake import content, following, limits, opening
from bot.intake import messages as intake_messages
from bot.intake import service as intake
from bot.intake.draft import Draft
from bot.intake.service import Match, Outcome, Result
from bot.resolution import service as resolution
from bot.tickets import permissions
from bot.tickets.lifecycle import status_label
from storage.db import transaction
from storage.models import PendingDraft
from storage.queries import request_result

INTAKE_VIEW = "escalate_intake"
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
DETAILS_MAX = 3000  # Slack's plain_text_input limit
REQUESTED_ACTION_MAX = 300
PERMALINK_MAX = 500
PENDING_TTL = timedelta(days=1)
EXPIRED = "That form has expired or was already used: run `/escalate` again."

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Origin:
    """Where the modal was opened: the channel (for the ephemeral answer) and, for
    the message shortcut, the escalated message's permalink."""

    channel: str | None = None
    permalink: str | None = None

    def encode(self) -> str:
        data = {"c": self.channel, "p": self.permalink}
        return json.dumps({k: v for k, v in data.items() if v}, separators=(",", ":"))

    @classmethod
    def of(cls, channel: str | None, permalink: str | None = None) -> Origin:
        """Ids and links as Slack sent them; a link too long to keep is dropped."""
        keep = permalink if permalink and len(permalink) <= PERMALINK_MAX else None
        return cls(channel=channel[:32] if channel else None, permalink=keep)

    @classmethod
    def decode(cls, data: dict[str, Any]) -> Origin:
        return cls.of(data.get("c"), data.get("p"))


@dataclass(frozen=True)
class Prefill:
    summary: str = ""
    details: str = ""
    content: str = ""

    @classmethod
    def from_text(cls, cfg: AppConfig, text: str) -> Prefill:
        """``/escalate <text>``: the summary; a text too long for it also fills the details."""
        line = one_line(clean(text))
        if len(line) <= cfg.intake.summary_max:
            return cls(summary=line)
        return cls(summary=line[: cfg.intake.summary_max], details=clean(text)[:DETAILS_MAX])

    @classmethod
    def from_message(cls, text: str, permalink: str | None) -> Prefill:
        return cls(details=clean(text)[:DETAILS_MAX], content=permalink or "")


@dataclass
class Submission:
    draft: Draft | None
    errors: dict[str, str] = field(default_factory=dict)
    origin: Origin = field(default_factory=Origin)


@dataclass(frozen=True)
class Submitted:
    """How the listener answers a submitted modal: ``errors`` go under its fields,
    ``choice`` replaces it; else it closes. ``finish`` — only when a ticket was opened —
    is the ticket's route step (:mod:`bot.intake.opening`), for the listener to run once
    it has acknowledged, the most urgent ``rank`` first (its severity's place in app.yaml);
    it returns the instant ephemeral (naming the owner) to show in ``channel``, where the
    modal was opened."""

    errors: dict[str, str] = field(default_factory=dict)
    choice: dict[str, Any] | None = None
    finish: Callable[[], dict[str, Any]] | None = None
    channel: str | None = None
    rank: int = 0


@dataclass(frozen=True)
class Chosen:
    """How the listener answers a button of the duplicate choice: the modal's last
    view, and the confirmation to show in ``channel`` when a ticket was opened."""

    view: dict[str, Any]
    confirmation: dict[str, Any] | None = None
    channel: str | None = None


# -- entry points: one per listener --------------------------------------------------------


def command_modal(desk: Desk, text: str, channel: str | None) -> dict[str, Any]:
    """The modal ``/escalate [text]`` opens in ``channel``, prefilled from the text."""
    prefill = Prefill.from_text(desk.config, text)
    return desk.seal.seal_view(modal(desk.renderer, desk.config, prefill, Origin.of(channel)))


def message_modal(desk: Desk, channel: str, text: str, permalink: str | None) -> dict[str, Any]:
    """The modal the message shortcut opens, prefilled from the message."""
    prefill = Prefill.from_message(text, permalink)
    view = modal(desk.renderer, desk.config, prefill, Origin.of(channel, permalink))
    return desk.seal.seal_view(view)


def submit_view(desk: Desk, view: dict[str, Any], reporter: str) -> Submitted:
    """A submitted intake modal: its errors, the duplicate choice, or a ticket opened
    (committed before the answer, so the ack stands for a ticket that exists; routed by
    ``Submitted.finish``)."""
    now = desk.clock.now()
    try:
        origin = Origin.decode(_json(desk.seal.open_view(view, user=reporter)))
    except Tampered as err:  # logged by the seal; nothing is read from such a form
        return Submitted(errors={"summary": str(err)})
    form = read(desk.config, view, now, origin)
    if form.draft is None:
        return Submitted(errors=form.errors)
    try:
        with transaction(desk.sessions) as session:
            outcome, choice = submit(
                session, desk.config, desk.renderer, form, view, reporter=reporter, now=now
            )
    except FieldErrors as err:  # a per-person limit: said under the field it is about
        return Submitted(errors=err.errors)
    if choice is not None:  # already escalated: offer "add to ESC-n"
        return Submitted(choice=choice)
    if outcome.result is not Result.CREATED or outcome.ticket is None:
        return Submitted(channel=form.origin.channel)
    return Submitted(
        finish=partial(_finish, desk, outcome.ticket.id),
        channel=form.origin.channel,
        rank=list(desk.config.severities).index(outcome.ticket.severity),
    )


def choose(desk: Desk, view: dict[str, Any], action: dict[str, Any], reporter: str) -> Chosen:
    """A button of the duplicate choice: what the modal shows next, and the
    confirmation when "open a new one" opened a ticket."""
    with permissions.attempt(desk, reporter) as (session, now):
        outcome, origin = decide(
            session,
            desk.config,
            desk.renderer,
            view,
            action,
            reporter=reporter,
            now=now,
            seal=desk.seal,
        )
    confirmation = None
    if outcome.result is Result.CREATED and outcome.ticket is not None:  # acked before
        ticket = opening.finish(desk, outcome.ticket.id)
        outcome = replace(outcome, ticket=ticket)
        confirmation = intake_messages.reporter_ack(desk.renderer, desk.config, ticket)
    return Chosen(
        view=done_view(desk.renderer, desk.config, outcome),
        confirmation=confirmation,
        channel=origin.channel,
    )


def _finish(desk: Desk, ticket_id: int) -> dict[str, Any]:
    """A new ticket's route step, then the reporter's instant ephemeral."""
    ticket = opening.finish(desk, ticket_id)
    return intake_messages.reporter_ack(desk.renderer, desk.config, ticket)


# -- the modal ------------------------------------------------------------------------


def options(mapping: dict[str, str]) -> list[dict[str, str]]:
    return [{"value": key, "text": text} for key, text in mapping.items()]


def severity_option(cfg: AppConfig, key: str) -> dict[str, str]:
    """A severity as a select option: "SEV2 · Medium: …" as its label, the SLA in its
    ``description`` ("Acknowledge within 4 working hours · resolve within 2 working days"),
    so a long title is what gets cut at Slack's 75 characters, never the SLA."""
    sev = cfg.severities[key]
    ack, resolve = sev.spell("ack_within"), sev.spell("resolve_within")
    return {
        "value": key,
        "text": f"{key.upper()} · {sev.title}",
        "description": f"Acknowledge within {ack} · resolve within {resolve}",
    }


def modal_context(cfg: AppConfig, prefill: Prefill, origin: Origin) -> dict[str, Any]:
    defaults = cfg.intake.defaults
    areas = {
        key: f"{area.title} (sensitive)" if area.sensitive else area.title
        for key, area in cfg.policy_areas.items()
    }
    return {
        "callback_id": INTAKE_VIEW,
        "metadata": origin.encode(),
        "summary_max": cfg.intake.summary_max,
        "details_max": DETAILS_MAX,
        "requested_action_max": REQUESTED_ACTION_MAX,
        "prefill": prefill,
        "areas": options(areas),
        "area": defaults.policy_area,
        "severities": [severity_option(cfg, k) for k in cfg.severities],
        "severity": defaults.severity,
        "regions": options(cfg.intake.regions),
        "region": defaults.region,
        "languages": options(cfg.intake.languages),
        "language": defaults.language,
        "source_teams": options(cfg.intake.source_teams),
        "vendors": options({key: v.name for key, v in cfg.vendors.items()}),
        "id_examples": ", ".join(content.id_examples(cfg.intake.content_id_patterns)),
        "content_max": cfg.limits.content_items,
    }


def modal(renderer: Renderer, cfg: AppConfig, prefill: Prefill, origin: Origin) -> dict[str, Any]:
    return renderer.render("intake_modal", **modal_context(cfg, prefill, origin))


# -- reading a submission --------------------------------------------------------------


def request_key(view: dict[str, Any]) -> str:
    """One outcome per modal: its submission and the buttons of its duplicate choice
    share the key, and a view id is never reused by Slack."""
    return f"view:{view['id']}"


def read(
    cfg: AppConfig, view: dict[str, Any], now: datetime, origin: Origin | None = None
) -> Submission:
    """The submitted modal as a Draft, or the errors to show under its fields.

    ``origin`` is what the view's signed private_metadata said (:func:`submit_view`).
    """
    origin = origin or Origin()
    values = forms.values(view)
    present = {b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"}
    errors: dict[str, str] = {}
    summary = one_line(clean(values.get("summary")))
    if not summary:
        errors["summary"] = "Write a one-line summary of what is happening."
    elif len(summary) > cfg.intake.summary_max:
        errors["summary"] = (
            f"Keep the summary to {cfg.intake.summary_max} characters (it has {len(summary)}); "
            "put the rest in the details."
        )
    intake_cfg = cfg.intake
    picks = {
        "policy_area": _pick(values, "policy_area", cfg.policy_areas, "a policy area", errors),
        "severity": _pick(values, "severity", cfg.severities, "a severity", errors),
        "region": _pick(values, "region", intake_cfg.regions, "a region", errors),
        "language": _pick(values, "language", intake_cfg.languages, "a language", errors),
        "source_team": _pick(values, "source_team", intake_cfg.source_teams, "a team", errors),
        "vendor": _pick(values, "vendor", cfg.vendors, "a vendor", errors, optional=True),
    }
    parsed = content.parse(
        values.get("content"), intake_cfg.content_id_patterns, cfg.limits.content_items
    )
    if parsed.problems:
        errors["content"] = _content_error(cfg, parsed.problems)
    requested = one_line(clean(values.get("requested_action")))
    if len(requested) > REQUESTED_ACTION_MAX:
        errors["requested_action"] = f"Keep it to {REQUESTED_ACTION_MAX} characters."
    details = clean(values.get("details")).strip()
    if len(details) > DETAILS_MAX:
        errors["details"] = f"Keep the details to {DETAILS_MAX} characters."
    deadline = _deadline(view)
    if deadline is not None and deadline <= now:
        errors["deadline"] = "That deadline has passed: pick a time in the future, or none."
    errors = {k: v for k, v in errors.items() if k in present}
    if errors or not picks["policy_area"] or not picks["severity"] or not summary:
        return Submission(None, errors or {"summary": "Fill in the form."}, origin)
    draft = Draft(
        summary=summary,
        details=details,
        content=tuple(ref.raw for ref in parsed.refs),
        requested_action=requested or None,
        deadline=deadline,
        source_channel=origin.channel,
        source_permalink=origin.permalink,
        **picks,  # type: ignore[arg-type]
    )
    return Submission(draft, {}, origin)


def _pick(
    values: dict[str, Any],
    block: str,
    known: dict[str, Any],
    what: str,
    errors: dict[str, str],
    *,
    optional: bool = False,
) -> str | None:
    """A select's value if it is one we offered (a tampered payload can send anything)."""
    value = values.get(block)
    if value is None:
        if not optional and known:
            errors[block] = f"Pick {what}."
        return None
    if value not in known:
        errors[block] = f"Pick {what} from the list."
        return None
    return str(value)


def _content_error(cfg: AppConfig, problems: list[str]) -> str:
    shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if problems[3:] else "")
    examples = ", ".join(content.id_examples(cfg.intake.content_id_patterns))
    accepted = f"http(s) links or ids like {examples}" if examples else "http(s) links"
    return f"One per line, {accepted}. {shown[:1].upper()}{shown[1:]}"[:500]


def _deadline(view: dict[str, Any]) -> datetime | None:
    entry = view.get("state", {}).get("values", {}).get("deadline", {}).get("deadline") or {}
    stamp = entry.get("selected_date_time")
    if stamp in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(int(stamp), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.min.replace(tzinfo=UTC)  # nonsense reads as "in the past"


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# -- the duplicate choice ----------------------------------------------------------------


def submit(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    form: Submission,
    view: dict[str, Any],
    *,
    reporter: str,
    now: datetime,
) -> tuple[Outcome, dict[str, Any] | None]:
    """Submit a valid modal: the outcome, and the choice view to show when the content
    is already in an open ticket. Over a per-person limit: :class:`FieldErrors`."""
    draft = form.draft
    if draft is None:
        raise ValueError("submit a form without errors")
    key = request_key(view)
    if request_result(session, key) is None:  # a retry of a handled one is answered as before
        limits.check_tickets(session, cfg, reporter, draft.severity, now)
    look = bool(draft.content) and limits.lookup_allowed(
        session, cfg, reporter, draft.severity, now
    )
    outcome = intake.submit(
        session,
        cfg,
        draft,
        reporter=reporter,
        now=now,
        request_key=key,
        allow_duplicate=not look,
    )
    if outcome.result is not Result.DUPLICATE:
        return outcome, None
    choice = choice_view(
        session,
        renderer,
        cfg,
        draft,
        form.origin,
        outcome.matches,
        view_id=view["id"],
        reporter=reporter,
        now=now,
        earlier=outcome.earlier,
    )
    return outcome, choice


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
