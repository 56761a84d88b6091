"""Context builders for the QA programme's templates, for tests/test_templates.py's checks
(hostile and maximal text everywhere a user or vendor can put it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.core.text import mrkdwn
from bot.qa import clarify, grading
from storage.models import QaClarification, QaDecision, QaItem

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def _pair(text: str, n: int, *, graded: bool = False) -> tuple[QaItem, QaDecision]:
    decision = QaDecision(
        id=n,
        vendor="vendor_1",
        decision_id=text[:128],
        content_ref=text[:500],
        policy_area="graphic_violence",
        decision="removed",
        decided_at=NOW,
        agent_id=text[:64],
        confidence=0.3,
        imported_at=NOW,
    )
    item = QaItem(
        id=n,
        run_id=1,
        decision_id=n,
        kind="calibration" if n % 2 else "sample",
        slot=n % 2,
        stratum="graphic_violence:low",
        stratum_size=100,
        stratum_sampled=10,
        sensitive=True,
        grader_id="U05MAD1LFZ3",
        status="graded" if graded else "pending",
        verdict="overturned" if graded else None,
        error_category=text[:64] if graded else None,
    )
    return item, decision


def _items(inputs: Any, n: int, *, graded: bool = False) -> list[dict[str, Any]]:
    return [
        grading.context(inputs.cfg, *_pair(inputs.text, i, graded=graded)) for i in range(1, n + 1)
    ]


def _qa_home(inputs: Any) -> list[dict[str, Any]]:
    text = mrkdwn(inputs.text)  # pre-built mrkdwn: escaped by bot/qa before the template
    lines = [text] * 20
    clarifications = [{"id": i, "text": text, "button": i % 2 == 0} for i in range(5)]
    full = {
        "queue": _items(inputs, 6),
        "queue_more": 40,
        "graded": _items(inputs, 3, graded=True),
        "lead": True,
        "lead_lines": lines,
        "clarifications": clarifications,
    }
    empty = full | {"queue": [], "queue_more": 0, "graded": [], "lead": False}
    return [full, empty]


def _qa_dm(inputs: Any) -> list[dict[str, Any]]:
    return [{"queue": _items(inputs, 10), "total": 25}, {"queue": _items(inputs, 1), "total": 1}]


def _qa_grade_modal(inputs: Any) -> list[dict[str, Any]]:
    item, decision = _pair(inputs.text, 2)
    vendor = inputs.cfg.vendors["vendor_1"]
    return [
        {
            "meta": json.dumps({"item": item.id, "correcting": correcting}),
            "item": item,
            "d": grading.context(inputs.cfg, item, decision),
            "correcting": correcting,
            "decisions": inputs.cfg.resolution.decisions,
            "categories": vendor.error_categories,
        }
        for correcting in (False, True)
    ]


def _clarification(text: str) -> QaClarification:
    return QaClarification(
        id=77,
        vendor="vendor_1",
        policy_area="graphic_violence",
        error_category=text[:64],
        source="pattern",
        status="open",
        examples=[text[:500]] * 10,
        policy_point=text[:500],
        instead=text[:1500],
        proposed_at=NOW,
        written_by="U05MAD1LFZ3",
        posted_at=NOW,
        acknowledged_by="U08NWLEAD01",
        acknowledged_at=NOW,
    )


def _qa_clarification(inputs: Any) -> list[dict[str, Any]]:
    clar = _clarification(inputs.text)
    vendor = inputs.cfg.vendors["vendor_1"].model_copy(update={"leads": ("U08NWLEAD01",)})
    cfg = inputs.cfg.model_copy(update={"vendors": {**inputs.cfg.vendors, "vendor_1": vendor}})
    context = clarify.message_context(cfg, clar)
    kinds = ("posted", "acknowledged", "reminder", "proposed", "closed")
    return [context | {"kind": kind, "n": 12} for kind in kinds]


def _qa_clarification_modal(inputs: Any) -> list[dict[str, Any]]:
    area = inputs.cfg.policy_areas["graphic_violence"]
    base = {
        "meta": json.dumps({"clarification": 77}),
        "vendor": inputs.text,
        "area": inputs.text,
        "sections": (inputs.text,) * 5,
        "category": inputs.text,
        "examples": "\n".join([inputs.text[:500]] * 10),
    }
    return [base, base | {"examples": "", "sections": area.policy_sections}]


QA_BUILDERS = {
    "qa_home": _qa_home,
    "qa_dm": _qa_dm,
    "qa_grade_modal": _qa_grade_modal,
    "qa_clarification": _qa_clarification,
    "qa_clarification_modal": _qa_clarification_modal,
}
