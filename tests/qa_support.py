"""Helpers for the QA programme's tests: decisions of the example vendors, a desk, grading."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.qa import imports
from storage.models import QaDecision, QaItem

DAY = date(2026, 11, 25)  # a Wednesday; its sample is drawn on Thursday morning
DRAW_TIME = datetime(2026, 11, 26, 7, 5, tzinfo=UTC)  # after draw_at (07:00 Dublin = UTC)
NORTHWIND, TEJO = "northwind_manila", "tejo_lisbon"
VENDOR_CHANNEL = "C07NWINDQA1"
VENDOR_LEAD = "U08NWLEAD01"


def decisions(
    cfg: AppConfig,
    n: int,
    vendor: str = NORTHWIND,
    day: date = DAY,
    seed: int = 3,
    prefix: str = "d",
    areas: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    """``n`` decisions of ``vendor`` spread over the local ``day``, rows ready to store."""
    rng = random.Random(seed)
    areas = areas or tuple(cfg.policy_areas)
    start = datetime.combine(day, time(0), cfg.team_tz)
    now = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
    return [
        {
            "vendor": vendor,
            "decision_id": f"{prefix}{i:06d}",
            "content_ref": f"https://social.example/p/{vendor[:4]}{i}",
            "policy_area": areas[rng.randrange(len(areas))],
            "decision": "removed" if rng.random() < 0.7 else "no_violation",
            "decided_at": (start + timedelta(seconds=rng.randrange(86_400))).astimezone(UTC),
            "agent_id": f"agent{rng.randrange(12):02d}",
            "confidence": round(rng.random(), 2),
            "imported_at": now,
        }
        for i in range(n)
    ]


def store(sessions: sessionmaker[Session], rows: list[dict[str, Any]]) -> int:
    return imports.store(sessions, rows)


def sampled(
    sessions: sessionmaker[Session], kind: str = "sample"
) -> list[tuple[QaItem, QaDecision]]:
    with sessions() as s:
        return [
            (i, d)
            for i, d in s.execute(
                select(QaItem, QaDecision)
                .join(QaDecision, QaDecision.id == QaItem.decision_id)
                .where(QaItem.kind == kind)
                .order_by(QaItem.id)
            )
        ]
