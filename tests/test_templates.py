"""Every template in templates/ renders valid JSON within Block Kit's limits, even with
hostile and with maximal input, and no user text becomes a ping, a link or a bidi trick.

How to cover a template you add
-------------------------------
Add a builder to ``BUILDERS`` below, keyed by the template's name (file name without
``.json.j2``). A builder takes an ``Inputs`` — a hostile config (150 options per intake list,
every label and title set to the test text), a hostile transient ``Ticket`` (every text field
set to the test text, 300 content items), the test text itself and a renderer — and returns a
list of contexts, one per variant worth rendering (each ``kind``/``audience``…). Prefer
calling the production context function (e.g. ``bot.slack.cards.card_context``) with these objects
over writing the dict by hand, so the test follows the code. Text your code escapes before
the template (pre-built mrkdwn) must be escaped the same way here (``mrkdwn(...)``).

Each template renders twice: with ``HOSTILE`` text (pings, forged mentions and links,
formatting, bidi overrides) and with 10 000-character text. ``test_every_template_has_a_builder``
fails, naming the template, until its builder exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.config import AppConfig, PolicyArea, Severity, Vendor, load_config
from bot.core.blockkit import Button, problems
from bot.core.mrkdwn import SEVERITY_ICONS
from bot.core.render import Renderer
from bot.core.text import mrkdwn
from bot.delivery import outbox
from bot.intake import choice as intake_choice
from bot.intake import following
from bot.intake import messages as intake_messages
from bot.intake import modal as intake_modal
from bot.intake.draft import Draft
from bot.intake.modal import Origin, Prefill
from bot.intake.service import Match
from bot.resolution import followups
from bot.resolution import service as resolution
from bot.routing import absence
from bot.routing import notices as owner_notices
from bot.sandbox.emulator.fake_slack import block_errors, view_errors
from bot.slack import cards
from storage.models import ContentItem, FollowUp, OutOfOffice, Ticket
from tests.conftest import REPO
from tests.qa_templates import QA_BUILDERS

HOSTILE = (
    "<!channel> <@U123> *bold* <https://evil|click> \u202eevil\u202c <!subteam^S1|@team> "
    "<!here> @here & <#C123> `code` :emoji: "
)
MAXIMAL = (HOSTILE * 200)[:10_000]
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
OPTIONS = 150
LINKS = 300
LEGIT = re.compile(r"<@U0[0-9A-Z]{7,}>")  # ids of real people in the fixtures, e.g. U05MAD1LFZ3


@dataclass(frozen=True)
class Inputs:
    text: str
    cfg: AppConfig
    ticket: Ticket
    renderer: Renderer


Builder = Callable[[Inputs], list[dict[str, Any]]]


# -- hostile objects --------------------------------------------------------------------


def hostile_config(cfg: AppConfig, text: str) -> AppConfig:
    """``cfg`` with every label set to ``text`` and 150 options in each intake list."""
    areas = {
        key: PolicyArea.model_construct(**{**a.__dict__, "title": text, "description": text})
        for key, a in cfg.policy_areas.items()
    }
    extra = OPTIONS - len(areas)
    areas |= {
        f"area_{n}": PolicyArea.model_construct(
            title=f"{n} {text}", pod="critical_harms", sensitive=n % 2 == 0
        )
        for n in range(extra)
    }
    severities = {
        k: Severity.model_construct(**{**s.__dict__, "title": text})
        for k, s in cfg.severities.items()
    }
    vendors = {
        f"vendor_{n}": Vendor.model_construct(
            name=f"{n} {text}", quality_target=0.9, error_categories=(text[:40], "wrong_policy")
        )
        for n in range(OPTIONS)
    }
    many = {f"k{n}": f"{n} {text}" for n in range(OPTIONS)}
    intake = cfg.intake.model_copy(
        update={"regions": many, "languages": many, "source_teams": many}
    )
    resolution_cfg = cfg.resolution.model_copy(
        update={"decisions": {k: text for k in cfg.resolution.decisions}}
    )
    followups_cfg = cfg.followups.model_copy(
        update={"kinds": {k: text for k in cfg.followups.kinds}}
    )
    return cfg.model_copy(
        update={
            "policy_areas": areas,
            "severities": severities,
            "vendors": vendors,
            "intake": intake,
            "resolution": resolution_cfg,
            "followups": followups_cfg,
        }
    )


def hostile_ticket(text: str, *, status: str = "resolved", sensitive: bool = True) -> Ticket:
    ticket = Ticket(
        id=123456,
        number=123456,
        key="ESC-123456",
        summary=text,
        details=text,
        policy_area="graphic_violence",
        severity="sev1",
        sensitive=sensitive,
        status=status,
        reporter_id="U07LEGAL01",
        assignee_id="U05MAD1LFZ3",
        source_team=text,
        source_channel="C07PARTNERS",
        source_permalink="https://fake.slack.com/archives/C07PARTNERS/p1?" + text,
        vendor="vendor_1",
        region=text,
        language=text,
        requested_action=text,
        deadline=NOW + timedelta(days=1),
        routing_reason=text,
        card_channel="C06H2KX8ESC",
        card_ts="1764151200.000100",
        created_at=NOW,
        updated_at=NOW,
        acked_at=NOW,
        resolved_at=NOW + timedelta(hours=1),
        version=3,
        escalation_level=0,
        decision="removed",
        policy_section=text,
        rationale=text,
        vendor_correct=False,
        vendor_error_category=text,
        reopened_count=0,
        paused_seconds=0,
        tta_seconds=60,
        ttr_seconds=3600,
        tta_breached=False,
        ttr_breached=True,
    )
    raws = [
        f"https://example.com/{n}/{text}" if n % 3 == 0 else
        f"https://example.com/{n}?q={n}" if n % 3 == 1 else
        f"{text[:200]}{n}"
        for n in range(LINKS)
    ]  # fmt: skip
    ticket.content_items = [
        ContentItem(raw=r, normalized=r, kind="url", created_at=NOW) for r in raws
    ]
    return ticket


def followup(text: str, n: int, *, status: str = "open") -> FollowUp:
    return FollowUp(
        id=n,
        ticket_id=123456,
        kind="process",
        description=text,
        owner_id="U05BER7JBK2",
        created_by="U05MAD1LFZ3",
        due_at=NOW + timedelta(days=n - 5),
        status=status,
        created_at=NOW,
        snoozed_until=NOW + timedelta(days=1),
    )


# -- builders, one per template -----------------------------------------------------------


def _card(i: Inputs) -> list[dict[str, Any]]:
    long = Button(text=i.text, action_id="long_button", value="x" * 2000)
    buttons = [*cards.ticket_buttons(replace_status(i.ticket, "assigned")), long]
    resolved = cards.card_context(i.renderer, i.cfg, i.ticket, buttons, NOW)
    resolved["fu_summary"] = "Follow-ups: 10 overdue, 5 open"
    open_one = cards.card_context(i.renderer, i.cfg, replace_status(i.ticket, "new"), (), NOW)
    busy = cards.card_context(i.renderer, i.cfg, replace_status(i.ticket, "assigned"), buttons, NOW)
    return [resolved, open_one, busy]


def _take_confirm(i: Inputs) -> list[dict[str, Any]]:
    return [{"key": i.ticket.key}]


def replace_status(ticket: Ticket, status: str) -> Ticket:
    copy = hostile_ticket(ticket.summary, status=status, sensitive=not ticket.sensitive)
    copy.resolved_at = None if status != "resolved" else ticket.resolved_at
    return copy


def _modal(i: Inputs) -> list[dict[str, Any]]:
    prefill = Prefill(summary=i.text, details=i.text, content=i.text)
    origin = Origin.of("C07PARTNERS", "https://fake.slack.com/archives/C07PARTNERS/p1")
    context = intake_modal.modal_context(i.cfg, prefill, origin)
    few = intake_modal.modal_context(i.cfg, Prefill(), Origin())
    return [context, few | {"regions": [], "source_teams": [], "vendors": [], "id_examples": ""}]


def _draft(i: Inputs) -> Draft:
    return Draft(
        summary=i.text,
        policy_area="graphic_violence",
        severity="sev1",
        details=i.text,
        requested_action=i.text,
        content=tuple(item.raw for item in i.ticket.content_items),
    )


def _choice(i: Inputs) -> list[dict[str, Any]]:
    matches = tuple(Match(i.ticket, _draft(i).content) for _ in range(7))
    earlier = [
        {
            "key": i.ticket.key,
            "decision": i.text if n % 2 else None,
            "resolved": "03 Dec 2026",
            "summary": i.text if n % 2 else "",
            "links": [mrkdwn(i.text)] * 10,
            "hidden": 290,
            "reopen": bool(n % 2),
            "action_id": f"{intake_choice.REOPEN_ACTION}_{n}",
        }
        for n in range(1, intake_choice.MAX_MATCHES + 1)
    ]
    return [
        intake_choice.choice_context(_draft(i), matches, {i.ticket.id}),
        intake_choice.choice_context(_draft(i), matches),  # none the reporter may see
        intake_choice.choice_context(_draft(i), ()) | {"earlier": earlier},
    ]


def _follow_request(i: Inputs) -> list[dict[str, Any]]:
    base = {
        "t": i.ticket,
        "requester": "<@U07COMMS02>",
        "summary": i.text,
        "items": 20,
        "value": "x" * 100,
        "approve": following.APPROVE,
        "decline": following.DECLINE,
    }
    return [
        base | {"decided": None},
        base | {"decided": {"approved": True, "by": "<@U05MAD1LFZ3>"}},
        base | {"decided": {"approved": False, "by": "<@U05MAD1LFZ3>"}},
    ]


def _reported_before(i: Inputs) -> list[dict[str, Any]]:
    earlier = {"key": i.ticket.key, "decision": i.text, "resolved": "03 Dec 2026"}
    return [{"t": i.ticket, "earlier": earlier}]


def _done(i: Inputs) -> list[dict[str, Any]]:
    base = {
        "callback_id": intake_choice.DONE_VIEW,
        "key": i.ticket.key,
        "summary": i.text,
        "owner": "<@U05MAD1LFZ3>",
        "intake": "<#C06H2KX8ESC>",
    }
    return [
        base | {"result": "created", "added_count": 0},
        base | {"result": "added", "added_count": 300},
        base | {"result": "requested", "added_count": 0, "summary": "", "owner": ""},
        base
        | {"result": "reopened", "added_count": 0, "summary": i.text, "owner": "<@U05MAD1LFZ3>"},
        base | {"result": "repeat", "added_count": 0, "summary": ""},
    ]


def _details(i: Inputs) -> list[dict[str, Any]]:
    return [intake_messages.details_context(i.cfg, i.renderer, i.ticket)]


def _reporter_dm(i: Inputs) -> list[dict[str, Any]]:
    return [intake_messages.reporter_dm_context(i.renderer, i.cfg, i.ticket)]


def _reported_again(i: Inputs) -> list[dict[str, Any]]:
    added = [item.raw for item in i.ticket.content_items]
    return [
        intake_messages.reported_again_context(i.cfg, i.ticket, "U07COMMS02", _draft(i), added, w)
        for w in (True, False)
    ]


def _reporter_added(i: Inputs) -> list[dict[str, Any]]:
    context = intake_messages.ticket_context(i.cfg, i.ticket)
    return [context | {"card_link": outbox.CARD_LINK, "added_count": n} for n in (0, 1, 300)]


def _status(i: Inputs) -> list[dict[str, Any]]:
    context = intake_messages.ticket_context(i.cfg, i.ticket)
    events = [f"{i.renderer.when(NOW)} · {mrkdwn(i.text)} by <@U05MAD1LFZ3>"] * 5
    return [
        context
        | {
            "status": "resolved",
            "reporter": "<@U07LEGAL01>",
            "ack_due": "done in 1m",
            "resolve_due": "done in 1h :rotating_light: breached",
            "card_channel": "<#C06H2KX8ESC>",
            "events": events,
        }
    ]


def _mine(i: Inputs) -> list[dict[str, Any]]:
    row = {
        "t": i.ticket,
        "sev_icon": ":red_circle:",
        "status": "assigned",
        "role": "you reported it",
        "owner": "<@U05MAD1LFZ3>",
    }
    return [{"tickets": [row] * 80, "intake": "<#C06H2KX8ESC>"}, {"tickets": [], "intake": "—"}]


def _help(i: Inputs) -> list[dict[str, Any]]:
    return [
        {
            "command": "/escalate",
            "lines": [f"• `/escalate {n}` — {mrkdwn(i.text)}" for n in range(5)],
        }
    ]


def _ask(i: Inputs) -> list[dict[str, Any]]:
    return [{"t": i.ticket}]


def _answer(i: Inputs) -> list[dict[str, Any]]:
    return [
        {"t": i.ticket, "question": i.text, "block": "answer"},
        {"t": i.ticket, "question": "", "block": "answer"},
    ]


def _dm_answer(i: Inputs) -> list[dict[str, Any]]:
    others = [f"ESC-{n}" for n in range(200)]
    return [
        {"t": i.ticket, "others": others, "owner": "U05MAD1LFZ3"},
        {"t": None, "others": [], "owner": None},
    ]


def _digest(i: Inputs) -> list[dict[str, Any]]:
    escaped = mrkdwn(i.text)
    section = {"text": escaped, "fields": [escaped] * 12}
    return [
        {
            "title": i.text,
            "notes": [escaped] * 12,
            "sections": [section] * 30,
            "footer": escaped,
            "fallback": escaped,
            "preview": preview,
            "headline": headline,
        }
        for preview, headline in ((True, ""), (False, escaped))
    ]


def _followup_message(i: Inputs) -> list[dict[str, Any]]:
    context = followups.message_context(i.cfg, followup(i.text, 1), i.ticket, NOW)
    kinds = ("added", "done", "snoozed", "overdue", "due_soon", "due_now")
    return [
        context | {"kind": kind, "audience": audience, "actor": "U05MAD1LFZ3", "state": state}
        for kind in kinds
        for audience in ("thread", "dm")
        for state in ("open", "done")
    ]


def _followup_modal(i: Inputs) -> list[dict[str, Any]]:
    return [
        {
            "t": i.ticket,
            "kinds": i.cfg.followups.kinds,
            "owner": "U05MAD1LFZ3",
            "initial_date": "2026-12-03",
            "day_end": "18:00 Europe/Dublin",
        }
    ]


def _followups_list(i: Inputs) -> list[dict[str, Any]]:
    rows = [followups.message_context(i.cfg, followup(i.text, n), i.ticket, NOW) for n in range(40)]
    return [
        {"mine": rows, "mine_more": 3, "team": rows, "team_more": 9, "is_pod": True},
        {"mine": [], "mine_more": 0, "team": [], "team_more": 0, "is_pod": False},
    ]


def _home(i: Inputs) -> list[dict[str, Any]]:
    row = {
        "t": i.ticket,
        "badge": "Needs ack",
        "standing": "ack due <!date^1795687200^{ago}|in 25m>",
        "can_ack": True,
        "can_ask": True,
    }
    fus = [followups.message_context(i.cfg, followup(i.text, n), i.ticket, NOW) for n in range(30)]
    backlog = [
        {"severity": s, "title": i.text, "open": 3, "unassigned": 1, "waiting": 1}
        for s in i.cfg.severities
    ]
    ooo = OutOfOffice(user_id="U05MAD1LFZ3", starts_at=NOW, ends_at=NOW, note=i.text)
    pod = {
        "pod": True,
        "user": "U05MAD1LFZ3",
        "ooo": ooo,
        "can_ooo": True,
        "queue": [row] * 20 + [row | {"can_ack": False}] * 20,
        "queue_more": 4,
        "followups": fus,
        "followups_more": 2,
        "backlog": backlog,
        "backlog_total": 12,
        "at_risk": [row | {"clocks": ["time to acknowledge", "time to resolve"]}] * 40,
        "at_risk_more": 3,
        "sev_icons": SEVERITY_ICONS,
    }
    mine = {
        "t": i.ticket,
        "status": "resolved",
        "decision": i.text,
        "can_reopen": True,
    }
    reporter = {
        "pod": False,
        "user": "U07LEGAL01",
        "mine": [mine] * 120,
        "mine_more": 7,
        "sev_icons": SEVERITY_ICONS,
    }
    return [pod, pod | {"ooo": None, "queue": [], "followups": [], "at_risk": []}, reporter]


def _ooo(i: Inputs) -> list[dict[str, Any]]:
    day = NOW.date()
    entries = [absence.Entry(day, day + timedelta(days=n), i.text, n == 0) for n in range(60)]
    return [
        {"o": absence.Outcome(did, entries, "Europe/Madrid", 2)}
        for did in ("set", "cleared", "listed")
    ]


def _owner_dm(i: Inputs) -> list[dict[str, Any]]:
    kinds = ("routed", "lead", "reassigned", "escalated")
    return [
        owner_notices.dm_context(i.cfg, i.ticket, k, "U05BER7JBK2", i.text, decline)
        for k in kinds
        for decline in (None, "sensitive today 6/6")
    ]


def _owner_fyi(i: Inputs) -> list[dict[str, Any]]:
    return [
        {
            "t": i.ticket,
            "kind": kind,
            "owner": "U05NYC3MRD8",
            "owner_name": i.text,
            "why": i.text,
            "card_link": "https://escbot.invalid/card-permalink",
            "waited": "15m",
        }
        for kind in ("moved", "found", "copy")
    ]


def _notice_list(i: Inputs) -> list[dict[str, Any]]:
    """Items are the ``_item`` lines and ``_action`` buttons of the notices the worker
    gathers (owner_dm, sla_notice)."""
    notices = [i.renderer.render("owner_dm", **c) for c in _owner_dm(i)]
    notices += [i.renderer.render("sla_notice", **c) for c in _sla_notice(i)]
    items = [
        {"line": p[outbox.NOTICE_ITEM], "action": p.get(outbox.NOTICE_ACTION)}
        for p in notices
        if outbox.NOTICE_ITEM in p
    ]
    assert any(item["action"] for item in items) and not all(item["action"] for item in items)
    listed = (items * 4)[:15]
    return [
        {"items": listed, "more": 485, "total": 500},
        {"items": items[:2], "more": 0, "total": 2},
    ]


def _owner_line(i: Inputs) -> list[dict[str, Any]]:
    kinds = (
        "acknowledged",
        "taken",
        "reassigned",
        "rerouted",
        "escalated",
        "exhausted",
        "found",
        "declined",
    )
    return [
        owner_notices.line_context(
            i.ticket,
            kind,
            "U05BER7JBK2",
            previous="U05NYC3MRD8",
            reason=i.text,
            step="pod lead",
            waited="30m",
            override=i.text,
        )
        for kind in kinds
    ]


def _reassign(i: Inputs) -> list[dict[str, Any]]:
    """Shaped like bot.routing.ownership.reassign_choices (names come from the config)."""
    people = [
        {"text": f"{n} {i.text}"[:75], "value": f"U0{n:09d}", "description": i.text[:75]}
        for n in range(100)
    ]
    groups = [
        {
            "label": "Let escbot choose",
            "options": [{"text": "Route again", "value": "route_again"}],
        },
        {"label": "On shift", "options": people},
        {"label": "On shift (2)", "options": people[:50]},
        {"label": "Lead", "options": [{"text": "The pod lead", "value": "U04LQ2M8RTA"}]},
    ]
    return [{"t": i.ticket, "owner": "U05MAD1LFZ3", "groups": groups}]


def _reopen(i: Inputs) -> list[dict[str, Any]]:
    return [{"t": i.ticket, "decision": i.text}]


def _resolution_notice(i: Inputs) -> list[dict[str, Any]]:
    context = resolution.outcome_context(i.cfg, i.ticket)
    return [
        context | {"actor": "U05MAD1LFZ3", "audience": audience, "verdict": i.text}
        for audience in ("thread", "dm")
    ]


def _resolve_modal(i: Inputs) -> list[dict[str, Any]]:
    vendor = i.cfg.vendors["vendor_1"]
    return [
        {
            "t": i.ticket,
            "decisions": i.cfg.resolution.decisions,
            "sections": [f"{n} {i.text}" for n in range(20)],
            "vendor": vendor,
        },
        {"t": i.ticket, "decisions": i.cfg.resolution.decisions, "sections": [], "vendor": None},
    ]


def _sla_notice(i: Inputs) -> list[dict[str, Any]]:
    return [
        {
            "t": i.ticket,
            "level": level,
            "audience": audience,
            "clock_name": clock_name,
            "clock_verb": verb,
            "target": "30 minutes",
            "left": left,
            "due_at": NOW,
            "responsible": "U05NYC3MRD8",
            "lead": "U04LQ2M8RTA",
            "you": you,
        }
        for level in ("at_risk", "breach")
        for clock_name, verb, left in (
            ("time to acknowledge", "acknowledge", "10m"),
            ("time to resolve", "resolve", None),
        )
        for audience in ("thread", "dm")
        for you in (None, "U05NYC3MRD8", "U04LQ2M8RTA")
    ]


def _handover(i: Inputs) -> list[dict[str, Any]]:
    fu = FollowUp(
        id=1, kind=i.text, description=i.text, owner_id="U05BER7JBK2", due_at=NOW, status="open"
    )
    lines = [f"*ESC-{n}* → <@U05BER7JBK2>" for n in range(200)]
    return [
        {"kind": "lead", "user": "U05MAD1LFZ3", "lines": lines, "pod": i.text},
        {"kind": "note", "user": "U05MAD1LFZ3", "count": 3},
        {"kind": "followup", "user": "U05MAD1LFZ3", "fu": fu, "t": i.ticket},
    ]


def _severity_modal(i: Inputs) -> list[dict[str, Any]]:
    return [{"t": i.ticket, "choices": {k: s.title for k, s in i.cfg.severities.items()}}]


def _severity_changed(i: Inputs) -> list[dict[str, Any]]:
    return [
        {
            "t": i.ticket,
            "actor": "U05MAD1LFZ3",
            "old": "sev3",
            "raised": raised,
            "text": i.text,
            "moved_to": moved_to,
            "ack": "by " + i.renderer.when(NOW),
            "resolve": "done in 2h",
            "card_link": "https://example.slack.com/archives/C1/p1",
            "audience": audience,
        }
        for raised in (True, False)
        for moved_to in (None, "U05NYC3MRD8")
        for audience in ("thread", "dm", "ephemeral")
    ]


def _ticket_update(i: Inputs) -> list[dict[str, Any]]:
    return [
        {
            "t": i.ticket,
            "kind": kind,
            "audience": audience,
            "actor": "U05MAD1LFZ3",
            "text": i.text,
            "paused": "2h",
            "via": via,
            "card_link": "https://example.slack.com/archives/C1/p1",
        }
        for kind in ("asked", "answered", "resumed", "reopened")
        for audience in ("thread", "dm")
        for via in ("form", "dm", "thread")
    ]


BUILDERS: dict[str, Builder] = {
    "answer_modal": _answer,
    "ask_reporter_modal": _ask,
    "digest": _digest,
    "dm_answer": _dm_answer,
    "duplicate_choice": _choice,
    "follow_answer": lambda i: [{"t": i.ticket, "approved": a} for a in (True, False)],
    "follow_request": _follow_request,
    "followup_message": _followup_message,
    "followup_modal": _followup_modal,
    "followups_list": _followups_list,
    "handover": _handover,
    "help": _help,
    "home": _home,
    "intake_done": _done,
    "intake_modal": _modal,
    "my_tickets": _mine,
    "notice_list": _notice_list,
    "ooo_status": _ooo,
    "owner_dm": _owner_dm,
    "owner_fyi": _owner_fyi,
    "owner_line": _owner_line,
    "reassign_modal": _reassign,
    "reopen_modal": _reopen,
    "reported_again": _reported_again,
    "reporter_ack": lambda i: [intake_messages.ticket_context(i.cfg, i.ticket)],
    "reporter_added": _reporter_added,
    "reported_before": _reported_before,
    "reporter_dm": _reporter_dm,
    "resolution_notice": _resolution_notice,
    "resolve_modal": _resolve_modal,
    "severity_changed": _severity_changed,
    "severity_modal": _severity_modal,
    "sla_notice": _sla_notice,
    "ticket_card": _card,
    "take_confirm": _take_confirm,
    "ticket_details": _details,
    "ticket_status": _status,
    "ticket_update": _ticket_update,
    **QA_BUILDERS,
}


# -- the checks -----------------------------------------------------------------------------

_CONFIG = load_config(REPO / "app.yaml")
_RENDERER = Renderer(_CONFIG.team_tz)
TEMPLATES = sorted(
    n.removesuffix(".json.j2") for n in _RENDERER.env.list_templates() if n.endswith(".json.j2")
)


def surface(payload: dict[str, Any]) -> str:
    kind = payload.get("type")
    return "modal" if kind == "modal" else "home" if kind == "home" else "message"


def text_objects(obj: Any) -> list[dict[str, Any]]:
    if isinstance(obj, dict):
        found = [obj] if obj.get("type") in ("mrkdwn", "plain_text") and "text" in obj else []
        return found + [t for v in obj.values() for t in text_objects(v)]
    if isinstance(obj, list):
        return [t for v in obj for t in text_objects(v)]
    return []


#: Slack's date token as bot.core.timefmt writes it (the fallback names its zone in full).
DATE_TOKEN = re.compile(r"<!date\^\d+\^\{[a-z_]+\}(?: \{[a-z_]+\})*\|[^<>|]*>")
#: Everything else Slack parses inside ``<…>``: links, user/channel mentions.
SLACK_MARKUP = re.compile(r"<(?:[@#][UWCG][A-Z0-9]+|(?:https?://|mailto:)[^<>|\s]+(?:\|[^<>]*)?)>")


def smuggled(payload: dict[str, Any]) -> list[str]:
    """User text that would ping, link or reorder: in mrkdwn and message text, no ``<!…>``,
    no forged ``<@U123>`` or ``<https://evil|…>``; anywhere, no bidi override."""
    out = []
    mrkdwn_texts = [t["text"] for t in text_objects(payload) if t["type"] == "mrkdwn"]
    if isinstance(payload.get("text"), str):
        mrkdwn_texts.append(payload["text"])
    for text in mrkdwn_texts:
        text = DATE_TOKEN.sub("", text)  # ours, from Renderer.when: no user text inside
        for bad in ("<!", "<@U123>", "<https://evil", "<#C123>", "@here"):
            if bad in text:
                out.append(f"{bad!r} in {text[:80]!r}")
    if "\u202e" in json.dumps(payload, ensure_ascii=False):
        out.append("bidi override")
    return out


def render_all(name: str, text: str) -> list[dict[str, Any]]:
    builder = BUILDERS.get(name)
    if builder is None:
        pytest.fail(
            f"templates/{name}.json.j2 has no context builder: add one to BUILDERS in "
            "tests/test_templates.py (see the module docstring)"
        )
    cfg = hostile_config(_CONFIG, text)
    inputs = Inputs(text=text, cfg=cfg, ticket=hostile_ticket(text), renderer=_RENDERER)
    return [_RENDERER.render(name, **context) for context in builder(inputs)]


def test_every_template_has_a_builder() -> None:
    missing = sorted(set(TEMPLATES) - set(BUILDERS))
    assert not missing, (
        f"templates without a context builder in tests/test_templates.py: {missing}; "
        "add one to BUILDERS (see the module docstring)"
    )
    assert not set(BUILDERS) - set(TEMPLATES), "builders for templates that no longer exist"


@pytest.mark.parametrize("text", [HOSTILE, MAXIMAL], ids=["hostile", "maximal"])
@pytest.mark.parametrize("name", TEMPLATES)
def test_template_renders_within_block_kit_limits(name: str, text: str) -> None:
    payloads = render_all(name, text)
    assert payloads
    for payload in payloads:
        kind = surface(payload)
        assert json.loads(json.dumps(payload)) == payload
        assert problems(payload, kind) == [], json.dumps(payload)[:2000]
        # and what the fake Slack (a second opinion) would refuse
        assert block_errors(payload.get("blocks", []), 50 if kind == "message" else 100) == []
        if kind != "message":
            assert view_errors(payload, kind) == []
        assert smuggled(payload) == []


def test_the_hostile_summary_reads_literally_where_it_is_shown() -> None:
    [payload, _, _] = render_all("ticket_card", HOSTILE)
    title = payload["blocks"][1]["text"]["text"]
    assert "&lt;!channel&gt; &lt;@U123&gt; *bold* &lt;https://evil|click&gt;" in title
    ack = render_all("reporter_ack", HOSTILE)[0]
    assert "&lt;!channel&gt; &lt;@U123&gt; *bold* &lt;https://evil|click&gt;" in ack["text"]


# -- the checker itself catches what it should ------------------------------------------------


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.mark.parametrize(
    ("payload", "kind", "says"),
    [
        ({"blocks": [_section("x")] * 51}, "message", "51 blocks > 50"),
        (
            {
                "type": "modal",
                "title": {"type": "plain_text", "text": "t"},
                "blocks": [_section("x")] * 101,
            },
            "modal",
            "101 blocks > 100",
        ),
        ({"blocks": [_section("x" * 3001)]}, "message", "section text longer than 3000"),
        (
            {"blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}]},
            "message",
            "field longer than 2000",
        ),
        (
            {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]},
            "message",
            "header longer than 150",
        ),
        (
            {"blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}]},
            "message",
            "header text must be plain_text",
        ),
        (
            {
                "blocks": [
                    {
                        "type": "actions",
                        "elements": [
                            {
                                "type": "button",
                                "action_id": "a",
                                "text": {"type": "plain_text", "text": "x" * 76},
                            }
                        ],
                    }
                ]
            },
            "message",
            "button text longer than 75",
        ),
        (
            {"type": "modal", "title": {"type": "plain_text", "text": "x" * 25}, "blocks": []},
            "modal",
            "view title longer than 24",
        ),
        (
            {
                "type": "modal",
                "title": {"type": "plain_text", "text": "t"},
                "private_metadata": "x" * 3001,
                "blocks": [],
            },
            "modal",
            "private_metadata too long",
        ),
        (
            {"blocks": [_section("x") | {"block_id": "b"}, _section("y") | {"block_id": "b"}]},
            "message",
            "duplicate block_id",
        ),
        (
            {
                "blocks": [
                    {
                        "type": "actions",
                        "elements": [
                            {
                                "type": "button",
                                "action_id": "a",
                                "text": {"type": "plain_text", "text": "x"},
                            }
                        ]
                        * 2,
                    }
                ]
            },
            "message",
            "duplicate action_id",
        ),
        (
            {
                "type": "modal",
                "title": {"type": "plain_text", "text": "t"},
                "blocks": [
                    {
                        "type": "input",
                        "label": {"type": "plain_text", "text": "l"},
                        "element": {"type": "plain_text_input", "action_id": "a"},
                    }
                ],
            },
            "modal",
            "no submit button",
        ),
        (
            {
                "blocks": [
                    {
                        "type": "input",
                        "label": {"type": "plain_text", "text": "x" * 2001},
                        "element": {"type": "plain_text_input", "action_id": "a"},
                    }
                ]
            },
            "message",
            "input label longer than 2000",
        ),
        (
            {
                "blocks": [
                    {
                        "type": "input",
                        "label": {"type": "plain_text", "text": "l"},
                        "element": {
                            "type": "plain_text_input",
                            "action_id": "a",
                            "max_length": 10,
                            "initial_value": "x" * 11,
                        },
                    }
                ]
            },
            "message",
            "initial_value longer than max_length",
        ),
        (
            {
                "blocks": [
                    {
                        "type": "input",
                        "label": {"type": "plain_text", "text": "l"},
                        "element": {
                            "type": "static_select",
                            "action_id": "a",
                            "options": [
                                {"text": {"type": "plain_text", "text": "o"}, "value": str(n)}
                                for n in range(101)
                            ],
                        },
                    }
                ]
            },
            "message",
            "more than 100 options",
        ),
        (
            {
                "blocks": [
                    {
                        "type": "input",
                        "label": {"type": "plain_text", "text": "l"},
                        "element": {
                            "type": "static_select",
                            "action_id": "a",
                            "initial_option": {
                                "text": {"type": "plain_text", "text": "z"},
                                "value": "z",
                            },
                            "options": [
                                {"text": {"type": "plain_text", "text": "o"}, "value": "o"}
                            ],
                        },
                    }
                ]
            },
            "message",
            "initial option is not one of the options",
        ),
        (
            {
                "blocks": [
                    {
                        "type": "input",
                        "label": {"type": "plain_text", "text": "l"},
                        "element": {
                            "type": "static_select",
                            "action_id": "a",
                            "options": [
                                {"text": {"type": "plain_text", "text": "o"}, "value": "v" * 151}
                            ],
                        },
                    }
                ]
            },
            "message",
            "option value longer than 150",
        ),
        (
            {
                "blocks": [
                    {
                        "type": "input",
                        "label": {"type": "plain_text", "text": "l"},
                        "element": {
                            "type": "static_select",
                            "action_id": "a",
                            "placeholder": {"type": "plain_text", "text": "p" * 151},
                            "options": [],
                        },
                    }
                ]
            },
            "message",
            "placeholder longer than 150",
        ),
    ],
)
def test_problems_catches_each_limit(payload: dict[str, Any], kind: str, says: str) -> None:
    assert any(says in p for p in problems(payload, kind)), problems(payload, kind)


# -- what people read: no broken "<…>", no ambiguous zone ------------------------------------

BENIGN = "Plain words and more"
QUOTE = re.compile(r"(?m)^> ")  # mrkdwn's block quote
#: A clock time outside a date token must name its zone ("09:00 Europe/Dublin", "12:08 in
#: Nairobi", "09:00 UTC", "11:00 your time" to the person it is about); "%Z" abbreviations
#: such as IST or GMT are ambiguous.
_CLOCK_TIME = re.compile(
    r"\b\d{1,2}:\d{2}\b(?! (?:[A-Z][A-Za-z_]+/[A-Za-z_/]+|in [A-Z]|UTC\b|your time\b))"
)
_ZONE_ABBREVIATION = re.compile(r"\b\d{1,2}:\d{2} (?!UTC\b)[A-Z]{2,5}\b")


def _readable(payload: dict[str, Any]) -> list[str]:
    texts = [t["text"] for t in text_objects(payload)]
    return texts + ([payload["text"]] if isinstance(payload.get("text"), str) else [])


@pytest.mark.parametrize("name", TEMPLATES)
def test_no_bare_angle_brackets(name: str) -> None:
    """Slack reads any ``<…>`` in mrkdwn as a link or mention, even inside backticks, so a
    usage hint such as ``<summary>`` loses its words unless escaped (``&lt;summary&gt;``)."""
    for payload in render_all(name, BENIGN):
        mrkdwn_texts = [t["text"] for t in text_objects(payload) if t["type"] == "mrkdwn"]
        if isinstance(payload.get("text"), str):
            mrkdwn_texts.append(payload["text"])
        for text in mrkdwn_texts:
            rest = SLACK_MARKUP.sub("", DATE_TOKEN.sub("", QUOTE.sub("", text)))
            assert "<" not in rest and ">" not in rest, f"bare <…> in {name}: {text[:300]!r}"


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_time_shown_is_a_date_token_or_names_its_zone(name: str) -> None:
    for payload in render_all(name, BENIGN):
        for text in _readable(payload):
            rest = DATE_TOKEN.sub("", text)
            assert not _ZONE_ABBREVIATION.search(rest), f"zone abbreviation in {name}: {rest!r}"
            assert not _CLOCK_TIME.search(rest), f"a time without its zone in {name}: {rest!r}"


def test_no_strftime_zone_abbreviations_in_the_code() -> None:
    """``%Z`` prints "IST" for Europe/Dublin in summer, which India reads as its own time."""
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("bot", "handlers", "templates")
        for path in (REPO / folder).rglob("*")
        if path.suffix in (".py", ".j2") and "%Z" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
