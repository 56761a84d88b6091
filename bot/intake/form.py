"""The intake modal: building it, reading a submission, and the duplicate choice.

``/escalate [text]`` and the message shortcut open the same modal, prefilled
(:class:`Prefill`); where it was opened from travels in the view's
``private_metadata`` (:class:`Origin`). :func:`read` turns a submission into a
:class:`~bot.intake.draft.Draft` or into errors shown under the offending fields
(``response_action: errors``) — never an exception, never a silent close.

When the content is already in an open ticket the modal becomes a choice
(:func:`choice_view`): the submission waits in the view's private_metadata,
or — when it does not fit Slack's 3000 characters — in ``pending_drafts``
keyed by the view id, until a button decides it (:func:`decide`).

Each listener calls one entry point here — :func:`command_modal`,
:func:`message_modal`, :func:`submit_view`, :func:`choose` — with a
:class:`~bot.core.desk.Desk` and what it read from the payload, and answers
Slack with what it gets back (a view, :class:`Submitted` or :class:`Chosen`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.core import forms
from bot.core.blockkit import PRIVATE_METADATA
from bot.core.desk import Desk
from bot.core.errors import DomainError
from bot.core.mrkdwn import CONTENT_BUDGET, link, mention, pack
from bot.core.render import Renderer
from bot.core.text import clean, one_line
from bot.intake import content
from bot.intake import messages as intake_messages
from bot.intake import service as intake
from bot.intake.draft import Draft
from bot.intake.service import Match, Outcome, Result
from bot.tickets.lifecycle import status_label
from storage.db import transaction
from storage.models import PendingDraft
from storage.queries import request_result

INTAKE_VIEW = "escalate_intake"
CHOICE_VIEW = "escalate_duplicate"
DONE_VIEW = "escalate_done"
ADD_ACTION = "intake_add"  # one per matching ticket: intake_add_1, intake_add_2…
NEW_ACTION = "intake_new"
CHOICE_ACTIONS = re.compile(rf"^(?:{ADD_ACTION}_\d+|{NEW_ACTION})$")
MAX_MATCHES = 5
DETAILS_MAX = 3000  # Slack's plain_text_input limit
REQUESTED_ACTION_MAX = 300
PERMALINK_MAX = 500
PENDING_TTL = timedelta(days=1)


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
    ``choice`` replaces it, and ``confirmation`` — only when a ticket was opened —
    is the instant ephemeral to show in ``channel``, where the modal was opened."""

    errors: dict[str, str] = field(default_factory=dict)
    choice: dict[str, Any] | None = None
    confirmation: dict[str, Any] | None = None
    channel: str | None = None


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
    return modal(desk.renderer, desk.config, prefill, Origin.of(channel))


def message_modal(desk: Desk, channel: str, text: str, permalink: str | None) -> dict[str, Any]:
    """The modal the message shortcut opens, prefilled from the message."""
    prefill = Prefill.from_message(text, permalink)
    return modal(desk.renderer, desk.config, prefill, Origin.of(channel, permalink))


def submit_view(desk: Desk, view: dict[str, Any], reporter: str) -> Submitted:
    """A submitted intake modal: its errors, the duplicate choice, or a ticket opened
    (committed before the answer, so the confirmation names a ticket that exists)."""
    now = desk.clock.now()
    form = read(desk.config, view, now)
    if form.draft is None:
        return Submitted(errors=form.errors)
    with transaction(desk.sessions) as session:
        outcome, choice = submit(
            session, desk.config, desk.renderer, form, view, reporter=reporter, now=now
        )
    if choice is not None:  # already escalated: offer "add to ESC-n"
        return Submitted(choice=choice)
    return Submitted(confirmation=_confirmation(desk, outcome), channel=form.origin.channel)


def choose(desk: Desk, view: dict[str, Any], action: dict[str, Any], reporter: str) -> Chosen:
    """A button of the duplicate choice: what the modal shows next, and the
    confirmation when "open a new one" opened a ticket."""
    now = desk.clock.now()
    with transaction(desk.sessions) as session:
        outcome, origin = decide(
            session, desk.config, desk.renderer, view, action, reporter=reporter, now=now
        )
    return Chosen(
        view=done_view(desk.renderer, desk.config, outcome),
        confirmation=_confirmation(desk, outcome),
        channel=origin.channel,
    )


def _confirmation(desk: Desk, outcome: Outcome) -> dict[str, Any] | None:
    """The reporter's instant ephemeral, for a ticket just opened (not for one joined)."""
    if outcome.result is not Result.CREATED or outcome.ticket is None:
        return None
    return intake_messages.reporter_ack(desk.renderer, desk.config, outcome.ticket)


# -- the modal ------------------------------------------------------------------------


def options(mapping: dict[str, str]) -> list[dict[str, str]]:
    return [{"value": key, "text": text} for key, text in mapping.items()]


def severity_text(cfg: AppConfig, key: str) -> str:
    """ "sev2 · ack 4 working hours · resolve 2 working days — Medium: …": SLA first, so
    it survives Slack's 75-character option limit."""
    sev = cfg.severities[key]
    ack, resolve = sev.spell("ack_within"), sev.spell("resolve_within")
    return f"{key} · ack {ack} · resolve {resolve} — {sev.title}"


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
        "severities": [{"value": k, "text": severity_text(cfg, k)} for k in cfg.severities],
        "severity": defaults.severity,
        "regions": options(cfg.intake.regions),
        "region": defaults.region,
        "languages": options(cfg.intake.languages),
        "language": defaults.language,
        "source_teams": options(cfg.intake.source_teams),
        "vendors": options({key: v.name for key, v in cfg.vendors.items()}),
        "id_examples": ", ".join(content.id_examples(cfg.intake.content_id_patterns)),
    }


def modal(renderer: Renderer, cfg: AppConfig, prefill: Prefill, origin: Origin) -> dict[str, Any]:
    return renderer.render("intake_modal", **modal_context(cfg, prefill, origin))


# -- reading a submission --------------------------------------------------------------


def request_key(view: dict[str, Any]) -> str:
    """One outcome per modal: its submission and the buttons of its duplicate choice
    share the key, and a view id is never reused by Slack."""
    return f"view:{view['id']}"


def read(cfg: AppConfig, view: dict[str, Any], now: datetime) -> Submission:
    """The submitted modal as a Draft, or the errors to show under its fields."""
    origin = Origin.decode(_metadata(view))
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
    parsed = content.parse(values.get("content"), intake_cfg.content_id_patterns)
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


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
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
    is already in an open ticket."""
    if form.draft is None:
        raise ValueError("submit a form without errors")
    key = request_key(view)
    outcome = intake.submit(
        session, cfg, renderer, form.draft, reporter=reporter, now=now, request_key=key
    )
    if outcome.result is not Result.DUPLICATE:
        return outcome, None
    choice = choice_view(
        session,
        renderer,
        cfg,
        form.draft,
        form.origin,
        outcome.matches,
        view_id=view["id"],
        now=now,
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
    now: datetime,
) -> dict[str, Any]:
    """The modal's next step: "ESC-n already covers <link> — add to ESC-n / open a new one".

    The submission rides along in private_metadata, or in ``pending_drafts`` when
    it is too big for it; either way it is committed before Slack shows the choice.
    """
    meta: dict[str, Any] = {"o": json.loads(origin.encode()), "d": draft.to_json()}
    encoded = json.dumps(meta, separators=(",", ":"), ensure_ascii=False)
    if len(encoded) > PRIVATE_METADATA:
        session.execute(delete(PendingDraft).where(PendingDraft.created_at < now - PENDING_TTL))
        session.merge(PendingDraft(view_id=view_id, payload=draft.to_json(), created_at=now))
        encoded = json.dumps({"o": meta["o"], "ref": view_id}, separators=(",", ":"))
    return renderer.render("duplicate_choice", **choice_context(draft, matches, encoded))


def choice_context(draft: Draft, matches: tuple[Match, ...], metadata: str) -> dict[str, Any]:
    shown = []
    for i, match in enumerate(matches[:MAX_MATCHES], 1):
        links, hidden = pack((link(raw) for raw in match.content), CONTENT_BUDGET - 200)
        shown.append(
            {
                "t": match.ticket,
                "action_id": f"{ADD_ACTION}_{i}",
                "links": links,
                "hidden": hidden,
                "status": status_label(match.ticket.status),
                "owner": mention(match.ticket.assignee_id, "not assigned yet"),
            }
        )
    return {
        "callback_id": CHOICE_VIEW,
        "metadata": metadata,
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
) -> tuple[Outcome, Origin]:
    """Carry out the button the reporter pressed on the duplicate choice."""
    meta = _metadata(view)
    origin = Origin.decode(meta.get("o") or {})
    key = request_key(view)
    previous = request_result(session, key)
    if previous is not None:  # a double click, or the other button after the first
        return Outcome(Result.REPEAT, previous=previous), origin
    draft = _restore(session, meta)
    if action.get("action_id") == NEW_ACTION:
        outcome = intake.submit(
            session, cfg, renderer, draft, reporter=reporter, now=now, request_key=key,
            allow_duplicate=True,
        )  # fmt: skip
    else:
        outcome = intake.add_to_ticket(
            session, cfg, renderer, str(action.get("value", "")), draft,
            reporter=reporter, now=now, request_key=key,
        )  # fmt: skip
    if "ref" in meta:
        session.execute(delete(PendingDraft).where(PendingDraft.view_id == meta["ref"]))
    return outcome, origin


def _restore(session: Session, meta: dict[str, Any]) -> Draft:
    if "d" in meta:
        return Draft.from_json(meta["d"])
    row = session.get(PendingDraft, str(meta.get("ref", "")))
    if row is None:
        raise DomainError("That form has expired or was already used: run `/escalate` again.")
    return Draft.from_json(row.payload)


def done_view(renderer: Renderer, cfg: AppConfig, outcome: Outcome) -> dict[str, Any]:
    """What the modal shows once the choice is made (or was made by an earlier click)."""
    ticket = outcome.ticket
    return renderer.render(
        "intake_done",
        callback_id=DONE_VIEW,
        result=outcome.result.value,
        key=ticket.key if ticket else str(outcome.previous.get("key", "")),
        summary=ticket.summary if ticket else "",
        owner=mention(ticket.assignee_id, "not assigned yet") if ticket else "",
        added_count=len(outcome.added),
        intake=f"<#{cfg.workspace.intake_channel}>",
    )
