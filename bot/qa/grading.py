"""Grading a QA item: Uphold in one click, Overturn through a modal, a grade corrected later.

Every grade and every correction is a ``qa_grades`` row (who, when, what, and the
grade it replaces): the append-only audit of the programme. The item keeps the
current grade for the scores. Who may grade is :func:`bot.tickets.permissions.check_qa`:
a sampled item's grader, or the pod's lead and the admins; a calibration item's grader
only (blind). A lead's or admin's correction of a calibration grade is a grade row of
its own that leaves the item, and so the pod's kappa, as the grader graded it.
Refused attempts are audited in the same rows (verdict ``refused``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.core import forms
from bot.core.desk import Desk
from bot.core.errors import DomainError, NotFound
from bot.core.forms import FieldErrors
from bot.core.text import clean
from bot.delivery import outbox
from bot.qa.assign import GRADED, PENDING
from bot.qa.sampling import CALIBRATION
from bot.tickets.permissions import QaVerb, check_qa, qa_audited, qa_overseers
from storage.db import transaction
from storage.models import QaDecision, QaGrade, QaItem
from storage.queries import claim_request

UPHELD, OVERTURNED = "upheld", "overturned"
NOTE_MAX = 1000
GRADE_MODAL = "qa_grade_modal"
T = TypeVar("T")


def _load(session: Session, item_id: int) -> tuple[QaItem, QaDecision]:
    item = session.scalars(select(QaItem).where(QaItem.id == item_id).with_for_update()).first()
    if item is None:
        raise NotFound("That QA item no longer exists.")
    return item, session.get_one(QaDecision, item.decision_id)


def leads_of(cfg: AppConfig, area: str) -> set[str]:
    """Who oversees QA of ``area``: its pod's lead and the admins."""
    return qa_overseers(cfg, area)


def check_grader(
    cfg: AppConfig, item: QaItem, decision: QaDecision, user: str, verb: QaVerb
) -> None:
    check_qa(
        cfg,
        decision.policy_area,
        user,
        verb,
        item_id=item.id,
        grader=item.grader_id,
        calibration=item.kind == CALIBRATION,
    )


def _with_item(
    desk: Desk, item_id: int, user: str, fn: Callable[[Session, QaItem, QaDecision], T]
) -> T:
    with qa_audited(desk.sessions, user, desk.clock.now()), transaction(desk.sessions) as session:
        item, decision = _load(session, item_id)
        return fn(session, item, decision)


def uphold(desk: Desk, item_id: int, user: str) -> None:
    """The one-click grade: the vendor's decision stands."""

    def run(session: Session, item: QaItem, decision: QaDecision) -> None:
        check_grader(desk.config, item, decision, user, QaVerb.GRADE)
        if item.status == GRADED:
            raise DomainError(
                f"That decision was already graded ({item.verdict}) by <@{item.graded_by}>; "
                "use *Correct* in App Home to change it."
            )
        record(session, desk.config, item, decision, user, UPHELD, None, None, "", desk.clock.now())

    _with_item(desk, item_id, user, run)


def grade_modal(desk: Desk, item_id: int, user: str, *, correcting: bool) -> dict[str, Any]:
    """Overturn (or, ``correcting``, correct a grade): the modal, if ``user`` may."""

    def build(session: Session, item: QaItem, decision: QaDecision) -> dict[str, Any]:
        cfg = desk.config
        check_grader(cfg, item, decision, user, QaVerb.CORRECT if correcting else QaVerb.GRADE)
        if correcting and item.status != GRADED:
            raise DomainError("That decision is not graded yet: grade it first.")
        if not correcting and item.status == GRADED:
            raise DomainError(
                f"That decision was already graded ({item.verdict}); use *Correct* to change it."
            )
        vendor = cfg.vendors.get(decision.vendor)
        meta = json.dumps({"item": item.id, "correcting": correcting})
        view = desk.renderer.render(
            "qa_grade_modal",
            meta=meta,
            item=item,
            d=context(cfg, item, decision),
            correcting=correcting,
            decisions=cfg.resolution.decisions,
            categories=vendor.error_categories if vendor else (),
        )
        return desk.seal.seal_view(view)

    return _with_item(desk, item_id, user, build)


def submit_grade(desk: Desk, view: dict[str, Any], user: str) -> None:
    """The grade modal's submission; ``FieldErrors`` for input to fix."""
    meta = json.loads(desk.seal.open_view(view, user=user))
    item_id, correcting = int(meta["item"]), bool(meta["correcting"])
    values = forms.values(view)
    cfg = desk.config

    def run(session: Session, item: QaItem, decision: QaDecision) -> None:
        check_grader(cfg, item, decision, user, QaVerb.CORRECT if correcting else QaVerb.GRADE)
        if not claim_request(session, f"view:{view.get('id')}", desk.clock.now(), {}):
            return  # a double submission of the same modal
        verdict = values.get("verdict") if correcting else OVERTURNED
        errors: dict[str, str] = {}
        if verdict not in (UPHELD, OVERTURNED):
            errors["verdict"] = "Pick Upheld or Overturned."
        vendor = cfg.vendors.get(decision.vendor)
        categories = vendor.error_categories if vendor else ()
        correct = values.get("correct_decision")
        category = values.get("error_category")
        note = clean(values.get("note") or "").strip()
        if verdict == OVERTURNED:
            if correct not in cfg.resolution.decisions:
                errors["correct_decision"] = "Pick the decision the vendor should have made."
            elif correct == decision.decision and not category:
                errors["correct_decision"] = (
                    "That is the vendor's own decision: pick an error category, or uphold it."
                )
            if categories and category not in categories:
                errors["error_category"] = "Pick what went wrong."
        else:
            correct, category = None, None
        if len(note) > NOTE_MAX:
            errors["note"] = f"Keep it under {NOTE_MAX} characters."
        if errors:
            raise FieldErrors(errors)
        if not correcting and item.status == GRADED:
            raise FieldErrors({"note": "Someone graded this meanwhile; use Correct to change it."})
        assert verdict is not None
        now = desk.clock.now()
        record(session, cfg, item, decision, user, verdict, correct, category, note, now)

    _with_item(desk, item_id, user, run)


def record(
    session: Session,
    cfg: AppConfig,
    item: QaItem,
    decision: QaDecision,
    actor: str,
    verdict: str,
    correct: str | None,
    category: str | None,
    note: str,
    now: datetime,
) -> QaGrade:
    """Store a grade (or a correction) with its audit row, and refresh who sees it.

    Someone else's correction of a calibration grade is stored beside it: the item keeps
    its grader's blind grade, which is what the pod's kappa reads.
    """
    previous = session.scalar(
        select(QaGrade.id)
        .where(QaGrade.item_id == item.id, QaGrade.verdict.in_((UPHELD, OVERTURNED)))
        .order_by(QaGrade.id.desc())
        .limit(1)
    )
    grade = QaGrade(
        item_id=item.id,
        actor_id=actor,
        verdict=verdict,
        correct_decision=correct,
        error_category=category,
        note=note,
        corrects=previous,
        at=now,
    )
    session.add(grade)
    if item.kind == CALIBRATION and item.status == GRADED and actor != item.grader_id:
        session.flush()
        return grade
    item.status, item.verdict = GRADED, verdict
    item.correct_decision, item.error_category = correct, category
    item.graded_by, item.graded_at = actor, now
    for user in {actor, *([item.grader_id] if item.grader_id else [])}:
        outbox.enqueue_home(session, user, now)
    for lead in leads_of(cfg, decision.policy_area):
        outbox.enqueue_home(session, lead, now)
    session.flush()
    return grade


def history(session: Session, item_id: int) -> list[QaGrade]:
    """Every grade the item was given and every refused attempt, oldest first (the audit)."""
    return list(
        session.scalars(select(QaGrade).where(QaGrade.item_id == item_id).order_by(QaGrade.id))
    )


def context(cfg: AppConfig, item: QaItem, decision: QaDecision) -> dict[str, Any]:
    """What a grader sees of an item: never the content itself, only its reference."""
    vendor = cfg.vendors.get(decision.vendor)
    area = cfg.policy_areas.get(decision.policy_area)
    return {
        "id": item.id,
        "vendor": vendor.name if vendor else decision.vendor,
        "area": area.title if area else decision.policy_area,
        "decision": cfg.resolution.decisions.get(decision.decision, decision.decision),
        "decision_key": decision.decision,
        # shown as inline code: Slack neither links nor previews it
        "ref": decision.content_ref.replace("`", "'"),
        "decision_id": decision.decision_id,
        "sensitive": item.sensitive,
        "calibration": item.kind == "calibration",
        "verdict": item.verdict,
        "error_category": item.error_category,
        "pending": item.status == PENDING,
    }
