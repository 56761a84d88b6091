"""Clarifications: closing the loop from overturns back to the vendor.

A specialist writes one from an overturned item, or from a *pattern* escbot
proposes by itself (``qa.pattern_overturns`` overturns in one error category and
policy area of a vendor within ``qa.pattern_window``): the policy point,
examples (content references only) and what to do instead. escbot posts it to
the vendor's Slack Connect channel through the outbox with an Acknowledge button
for the vendor's leads, who are reminded every ``qa.remind_every`` until one of
them clicks it (a durable timer, like follow-up reminders). The digest lists the
open ones and, for each acknowledged at least a period ago, the error rate in
its category before and after.

Writing, sending and seeing clarifications belong to the pod owning the policy area
(:func:`bot.tickets.permissions.check_qa`): another pod's member neither opens the
modal (with its content references) nor sends one under this pod's name; App Home
lists a lead only the clarifications of the pods they lead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from bot.config import AppConfig, Vendor
from bot.core import forms
from bot.core.desk import Desk
from bot.core.errors import DomainError, NotAllowed, NotFound
from bot.core.forms import FieldErrors
from bot.core.render import Renderer
from bot.core.text import clean, mrkdwn, truncate
from bot.delivery import outbox, timers
from bot.qa.grading import OVERTURNED, leads_of
from bot.qa.scores import Share, category_error_rate
from bot.tickets.permissions import QaVerb, check_qa, qa_audited
from storage.db import transaction
from storage.models import QaClarification, QaDecision, QaItem, Timer
from storage.queries import claim_request, insert_new

PROPOSED, OPEN, ACKNOWLEDGED = "proposed", "open", "acknowledged"
TIMER_KIND = "qa_clarification"
MODAL = "qa_clarification_modal"
EXAMPLES_MAX = 10
POINT_MAX, INSTEAD_MAX = 500, 1500
SHOWN = 5


def _vendor(cfg: AppConfig, key: str) -> Vendor:
    vendor = cfg.vendors.get(key)
    if vendor is None or vendor.channel is None:
        raise DomainError(
            f"Vendor `{mrkdwn(key)}` has no Slack channel in app.yaml "
            f"(`vendors.{mrkdwn(key)}.channel`): a clarification can't be sent."
        )
    return vendor


def _load(session: Session, clar_id: int) -> QaClarification:
    clar = session.scalars(
        select(QaClarification).where(QaClarification.id == clar_id).with_for_update()
    ).first()
    if clar is None:
        raise NotFound("That clarification no longer exists.")
    return clar


def _check_writer(cfg: AppConfig, area: str, user: str, item_id: int | None = None) -> None:
    check_qa(cfg, area, user, QaVerb.CLARIFY, item_id=item_id)


# -- proposing -------------------------------------------------------------------------


def propose_from_patterns(desk: Desk) -> list[int]:
    """Propose a clarification for each pattern of overturns not already being clarified;
    once per pattern and window across replicas (``pattern_key``). Their pod lead is told."""
    cfg, now = desk.config, desk.clock.now()
    since = now - cfg.qa.pattern_window
    proposed = []
    with transaction(desk.sessions) as session:
        rows = session.execute(
            select(QaDecision.vendor, QaDecision.policy_area, QaItem.error_category, func.count())
            .join(QaDecision, QaDecision.id == QaItem.decision_id)
            .where(
                QaItem.kind == "sample",
                QaItem.verdict == OVERTURNED,
                QaItem.error_category.is_not(None),
                QaItem.graded_at >= since,
            )
            .group_by(QaDecision.vendor, QaDecision.policy_area, QaItem.error_category)
            .having(func.count() >= cfg.qa.pattern_overturns)
        ).all()
        for vendor, area, category, count in rows:
            recent = session.scalar(
                select(QaClarification.id).where(
                    QaClarification.vendor == vendor,
                    QaClarification.policy_area == area,
                    QaClarification.error_category == category,
                    (QaClarification.status != ACKNOWLEDGED)
                    | (QaClarification.acknowledged_at >= since),
                )
            )
            if recent is not None:
                continue
            examples = list(
                session.scalars(
                    select(QaDecision.content_ref)
                    .join(QaItem, QaItem.decision_id == QaDecision.id)
                    .where(
                        QaDecision.vendor == vendor,
                        QaDecision.policy_area == area,
                        QaItem.error_category == category,
                        QaItem.verdict == OVERTURNED,
                        QaItem.graded_at >= since,
                    )
                    .order_by(QaItem.graded_at.desc())
                    .limit(SHOWN)
                )
            )
            window = int(since.timestamp() // cfg.qa.pattern_window.total_seconds())
            key = f"pattern:{vendor}:{area}:{category}:{window}"
            if not insert_new(
                session,
                QaClarification.__table__,
                vendor=vendor,
                policy_area=area,
                error_category=category,
                source="pattern",
                pattern_key=key[:200],
                status=PROPOSED,
                examples=examples,
                proposed_at=now,
            ):
                continue
            clar = session.scalars(
                select(QaClarification).where(QaClarification.pattern_key == key[:200])
            ).one()
            proposed.append(clar.id)
            for lead in _pod_leads(cfg, area):
                outbox.enqueue_dm(
                    session,
                    lead,
                    desk.renderer.render(
                        "qa_clarification", **message_context(cfg, clar), kind="proposed", n=count
                    ),
                    f"qa-clar:{clar.id}:proposed:{lead}",
                    now,
                )
                outbox.enqueue_home(session, lead, now)
    return proposed


def _pod_leads(cfg: AppConfig, area: str) -> list[str]:
    pod = cfg.pods.get(cfg.policy_areas[area].pod) if area in cfg.policy_areas else None
    return [pod.lead] if pod else list(cfg.workspace.admins)


# -- writing and posting ------------------------------------------------------------------


def modal_for_item(desk: Desk, item_id: int, user: str) -> dict[str, Any]:
    """ "Write clarification" on an overturned item: the modal, prefilled from it."""
    cfg = desk.config
    with qa_audited(desk.sessions, user, desk.clock.now()), desk.sessions() as session:
        item = session.get(QaItem, item_id)
        if item is None or item.kind != "sample" or item.verdict != OVERTURNED:
            raise DomainError("Only an overturned sampled decision can start a clarification.")
        decision = session.get_one(QaDecision, item.decision_id)
        _check_writer(cfg, decision.policy_area, user, item.id)
    _vendor(cfg, decision.vendor)
    draft = {
        "vendor": decision.vendor,
        "area": decision.policy_area,
        "category": item.error_category,
        "examples": [decision.content_ref],
    }
    return _modal(desk, {"item": item_id}, draft)


def modal_for_proposal(desk: Desk, clar_id: int, user: str) -> dict[str, Any]:
    cfg = desk.config
    with qa_audited(desk.sessions, user, desk.clock.now()), desk.sessions() as session:
        clar = session.get(QaClarification, clar_id)
        if clar is None:
            raise NotFound("That clarification no longer exists.")
        _check_writer(cfg, clar.policy_area, user, clar.item_id)
        if clar.status != PROPOSED:
            raise DomainError("That clarification was already written and sent.")
    _vendor(cfg, clar.vendor)
    draft = {
        "vendor": clar.vendor,
        "area": clar.policy_area,
        "category": clar.error_category,
        "examples": clar.examples,
    }
    return _modal(desk, {"clarification": clar_id}, draft)


def _modal(desk: Desk, meta: dict[str, int], draft: dict[str, Any]) -> dict[str, Any]:
    cfg = desk.config
    area = cfg.policy_areas.get(draft["area"])
    view = desk.renderer.render(
        "qa_clarification_modal",
        meta=json.dumps(meta),
        vendor=cfg.vendors[draft["vendor"]].name,
        area=area.title if area else draft["area"],
        sections=area.policy_sections if area else (),
        category=(draft["category"] or "").replace("_", " "),
        examples="\n".join(draft["examples"]),
    )
    return desk.seal.seal_view(view)


def submit(desk: Desk, view: dict[str, Any], user: str) -> int:
    """Post the written clarification to the vendor's channel; its id."""
    cfg = desk.config
    meta = json.loads(desk.seal.open_view(view, user=user))
    values = forms.values(view)
    point = clean(values.get("policy_point") or "").strip()
    instead = clean(values.get("instead") or "").strip()
    examples = [
        line.strip() for line in clean(values.get("examples") or "").splitlines() if line.strip()
    ]
    errors = {}
    if not point or len(point) > POINT_MAX:
        errors["policy_point"] = f"Name the policy point (up to {POINT_MAX} characters)."
    if not instead or len(instead) > INSTEAD_MAX:
        errors["instead"] = f"Say what to do instead (up to {INSTEAD_MAX} characters)."
    if len(examples) > EXAMPLES_MAX or any(len(e) > 500 for e in examples):
        errors["examples"] = f"Up to {EXAMPLES_MAX} references, one per line."
    if errors:
        raise FieldErrors(errors)
    now = desk.clock.now()
    with qa_audited(desk.sessions, user, now), transaction(desk.sessions) as session:
        claimed = claim_request(session, f"view:{view.get('id')}", now, {})
        if "clarification" in meta:
            clar = _load(session, int(meta["clarification"]))
            _check_writer(cfg, clar.policy_area, user, clar.item_id)
            if not claimed:
                return clar.id
            if clar.status != PROPOSED:
                raise FieldErrors({"instead": "Someone sent this clarification meanwhile."})
        else:
            item = session.get_one(QaItem, int(meta["item"]))
            decision = session.get_one(QaDecision, item.decision_id)
            _check_writer(cfg, decision.policy_area, user, item.id)
            if not claimed:
                return 0
            clar = QaClarification(
                vendor=decision.vendor,
                policy_area=decision.policy_area,
                error_category=item.error_category,
                source="overturn",
                item_id=item.id,
                status=PROPOSED,
                examples=[],
                proposed_at=now,
            )
            session.add(clar)
        vendor = _vendor(cfg, clar.vendor)
        assert vendor.channel is not None
        clar.status, clar.policy_point, clar.instead = OPEN, point, instead
        clar.examples, clar.written_by, clar.posted_at = examples, user, now
        session.flush()
        outbox.enqueue_message(
            session,
            vendor.channel,
            desk.renderer.render("qa_clarification", **message_context(cfg, clar), kind="posted"),
            f"qa-clar:{clar.id}:posted",
            now,
        )
        _schedule_reminder(session, cfg, clar, now)
        for lead in leads_of(cfg, clar.policy_area) | {user}:
            outbox.enqueue_home(session, lead, now)
        return clar.id


def _schedule_reminder(
    session: Session, cfg: AppConfig, clar: QaClarification, now: datetime
) -> None:
    when = now + cfg.qa.remind_every
    timers.schedule(
        session,
        TIMER_KIND,
        f"qa-clar:{clar.id}:{int(when.timestamp())}",
        when,
        payload={"clarification": clar.id},
    )


def acknowledge(desk: Desk, clar_id: int, user: str) -> dict[str, Any]:
    """The vendor lead's Acknowledge: closes it, stops the reminders, tells the writer.
    Returns the channel message as it now reads (for the click's ``response_url``)."""
    cfg, now = desk.config, desk.clock.now()
    with transaction(desk.sessions) as session:
        clar = _load(session, clar_id)
        vendor = cfg.vendors.get(clar.vendor)
        if user not in (vendor.leads if vendor else ()) and not cfg.is_admin(user):
            raise NotAllowed(
                "Only the vendor's team lead acknowledges a clarification "
                f"(`vendors.{mrkdwn(clar.vendor)}.leads` in escbot's app.yaml)."
            )
        if clar.status == ACKNOWLEDGED:
            raise DomainError(f"<@{clar.acknowledged_by}> already acknowledged this clarification.")
        if clar.status != OPEN:
            raise DomainError("That clarification has not been sent yet.")
        clar.status, clar.acknowledged_by, clar.acknowledged_at = ACKNOWLEDGED, user, now
        timers.cancel_pending(
            session, Timer.kind == TIMER_KIND, Timer.dedup_key.like(f"qa-clar:{clar.id}:%")
        )
        context = message_context(cfg, clar)
        if clar.written_by:
            outbox.enqueue_dm(
                session,
                clar.written_by,
                desk.renderer.render("qa_clarification", **context, kind="closed"),
                f"qa-clar:{clar.id}:closed",
                now,
            )
        for lead in leads_of(cfg, clar.policy_area) | ({clar.written_by} - {None}):
            outbox.enqueue_home(session, lead, now)  # type: ignore[arg-type]
        payload = desk.renderer.render("qa_clarification", **context, kind="acknowledged")
    return {k: v for k, v in payload.items() if k not in ("unfurl_links", "unfurl_media")}


def make_timer_handler(cfg: AppConfig, renderer: Renderer) -> timers.TimerHandler:
    """The reminder: DM the vendor's leads (with Acknowledge) and schedule the next one."""

    def fire(session: Session, timer: Timer, now: datetime) -> None:
        clar = session.scalars(
            select(QaClarification)
            .where(QaClarification.id == timer.payload["clarification"])
            .with_for_update()
        ).one_or_none()
        if clar is None or clar.status != OPEN:
            return
        vendor = cfg.vendors.get(clar.vendor)
        for lead in vendor.leads if vendor else ():
            outbox.enqueue_dm(
                session,
                lead,
                renderer.render("qa_clarification", **message_context(cfg, clar), kind="reminder"),
                f"qa-clar:{clar.id}:remind:{lead}:{timer.dedup_key}",
                now,
            )
        _schedule_reminder(session, cfg, clar, now)

    return fire


# -- reading ---------------------------------------------------------------------------


def message_context(cfg: AppConfig, clar: QaClarification) -> dict[str, Any]:
    vendor = cfg.vendors.get(clar.vendor)
    area = cfg.policy_areas.get(clar.policy_area)
    return {
        "c": clar,
        "vendor": vendor.name if vendor else clar.vendor,
        "leads": vendor.leads if vendor else (),
        "area": area.title if area else clar.policy_area,
        "category": (clar.error_category or "unspecified").replace("_", " "),
        "examples": [e.replace("`", "'") for e in clar.examples[:EXAMPLES_MAX]],
    }


@dataclass(frozen=True)
class Effect:
    """An acknowledged clarification and its category's error rate before and after."""

    id: int
    vendor: str
    area: str
    category: str
    acknowledged_at: datetime
    before: Share
    after: Share


@dataclass(frozen=True)
class Summary:
    open: tuple[
        tuple[int, str, str, str, str, datetime], ...
    ]  # id, vendor, area, cat, status, since
    effects: tuple[Effect, ...]


def summary(session: Session, cfg: AppConfig, as_of: datetime, period: timedelta) -> Summary:
    """The clarifications open at ``as_of`` (a digest's end: later ones must not change
    it), and the effect of those acknowledged at least ``period`` before it: the
    category's error rate in the ``period`` before posting and after acknowledging."""
    open_rows = session.scalars(
        select(QaClarification)
        .where(
            QaClarification.proposed_at < as_of,
            QaClarification.acknowledged_at.is_(None) | (QaClarification.acknowledged_at >= as_of),
        )
        .order_by(QaClarification.proposed_at)
    ).all()
    done = session.scalars(
        select(QaClarification)
        .where(
            QaClarification.status == ACKNOWLEDGED,
            QaClarification.acknowledged_at <= as_of - period,
        )
        .order_by(QaClarification.acknowledged_at.desc())
        .limit(SHOWN)
    ).all()
    effects = []
    for c in done:
        assert c.acknowledged_at is not None
        posted = c.posted_at or c.proposed_at
        category = c.error_category or ""
        effects.append(
            Effect(
                c.id,
                c.vendor,
                c.policy_area,
                category,
                c.acknowledged_at,
                category_error_rate(
                    session, c.vendor, c.policy_area, category, posted - period, posted
                ),
                category_error_rate(
                    session,
                    c.vendor,
                    c.policy_area,
                    category,
                    c.acknowledged_at,
                    c.acknowledged_at + period,
                ),
            )
        )
    return Summary(
        tuple(
            (
                c.id,
                c.vendor,
                c.policy_area,
                c.error_category or "unspecified",
                OPEN if posted else PROPOSED,
                c.posted_at if c.posted_at and posted else c.proposed_at,
            )
            for c in open_rows
            for posted in [c.posted_at is not None and c.posted_at < as_of]
        ),
        tuple(effects),
    )


def _names(cfg: AppConfig, vendor: str, area: str) -> tuple[str, str]:
    v = cfg.vendors.get(vendor)
    a = cfg.policy_areas.get(area)
    return mrkdwn(v.name if v else vendor), mrkdwn(a.title if a else area)


def summary_text(cfg: AppConfig, s: Summary, when: Callable[[datetime | None], str]) -> str | None:
    """The digest's clarifications field (mrkdwn), or None when there is nothing to say."""
    if not s.open and not s.effects:
        return None
    lines = [f"*Clarifications* · {len(s.open)} open"]
    for _id, vendor, area, category, status, since in s.open[:SHOWN]:
        v, a = _names(cfg, vendor, area)
        state = "proposed, to write" if status == PROPOSED else "waiting for the vendor's ack"
        lines.append(
            f"• {v} · {a} · {mrkdwn(category.replace('_', ' '))} — {state} since {when(since)}"
        )
    for e in s.effects:
        v, a = _names(cfg, e.vendor, e.area)
        before = "—" if e.before.score is None else f"{e.before.score:.0%} (n={e.before.n})"
        after = "—" if e.after.score is None else f"{e.after.score:.0%} (n={e.after.n})"
        lines.append(
            f"• :white_check_mark: {v} · {a} · {mrkdwn(e.category.replace('_', ' '))}: "
            f"error rate {before} before → {after} after (acknowledged {when(e.acknowledged_at)})"
        )
    return truncate("\n".join(lines), 2000)


def for_home(
    session: Session, cfg: AppConfig, now: datetime, areas: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """The lead's App Home list: proposals to write, open ones, the latest closed; of
    ``areas`` only (None: every area, for admins)."""
    mine = QaClarification.policy_area.in_(areas) if areas is not None else true()
    rows = session.scalars(
        select(QaClarification)
        .where(
            QaClarification.status.in_((PROPOSED, OPEN))
            | (QaClarification.acknowledged_at >= now - timedelta(days=14))
        )
        .where(mine)
        .order_by(QaClarification.id.desc())
        .limit(SHOWN)
    ).all()
    out = []
    for c in rows:
        v, a = _names(cfg, c.vendor, c.policy_area)
        what = f"{v} · {a} · {mrkdwn((c.error_category or 'unspecified').replace('_', ' '))}"
        if c.status == PROPOSED:
            text = f":bulb: *Clarification proposed* · {what} ({len(c.examples)} overturns)"
        elif c.status == OPEN:
            text = f":outbox_tray: *Clarification sent* · {what} — waiting for the vendor's ack"
        else:
            who = mrkdwn(c.acknowledged_by)
            text = f":white_check_mark: *Clarification closed* · {what} — acknowledged by <@{who}>"
        out.append({"id": c.id, "text": text, "button": c.status == PROPOSED})
    return out
