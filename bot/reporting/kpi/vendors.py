"""Vendor quality from escalations: the share of reviewed vendor decisions judged right
at resolution, with a Wilson interval, against the vendor's target."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from bot.reporting.kpi.refs import Refs, ticket_refs
from bot.reporting.kpi.window import Window
from storage.models import Resolution, Ticket

Z95 = 1.959963984540054  # two-sided 95 % normal quantile, for Wilson intervals


def wilson(k: float, n: float, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for k successes in n trials (None when n = 0); n may be an
    effective sample size (weighted QA scores, bot/qa/scores.py), so k and n may be real."""
    if n <= 0:
        return None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class VendorQuality:
    vendor: str
    correct: int
    n: int
    previous_correct: int
    previous_n: int
    target: float | None
    wrong: Refs
    errors: tuple[tuple[str, int], ...]

    @property
    def score(self) -> float | None:
        return self.correct / self.n if self.n else None

    @property
    def previous_score(self) -> float | None:
        return self.previous_correct / self.previous_n if self.previous_n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.correct, self.n)

    @property
    def change(self) -> float | None:
        if self.score is None or self.previous_score is None:
            return None
        return self.score - self.previous_score

    @property
    def below_target(self) -> bool:
        return self.score is not None and self.target is not None and self.score < self.target

    @property
    def clearly_below(self) -> bool:
        """Even the interval's upper bound is under target: not just noise."""
        iv = self.interval
        return iv is not None and self.target is not None and iv[1] < self.target


def vendor_quality(
    session: Session, cur: Window, prev: Window, targets: dict[str, float]
) -> tuple[VendorQuality, ...]:
    """Per vendor: share of reviewed decisions judged right, per resolution in the period
    (the verdict recorded then; a later reopen and new verdict count in their own period)."""
    R = Resolution
    reviewed = and_(R.vendor.is_not(None), R.vendor_correct.is_not(None))
    in_cur = case((R.at >= cur.start, 1), else_=0)
    right = case((R.vendor_correct.is_(True), 1), else_=0)
    stmt = (
        select(
            R.vendor,
            func.coalesce(func.sum(in_cur * right), 0),
            func.coalesce(func.sum(in_cur), 0),
            func.coalesce(func.sum(right), 0),
            func.count(),
        )
        .where(reviewed, R.at >= prev.start, R.at < cur.end)
        .group_by(R.vendor)
    )
    counts = {v: tuple(int(x) for x in rest) for v, *rest in session.execute(stmt)}
    errors: dict[str | None, list[tuple[str, int]]] = {}
    for vendor, category, n in session.execute(
        select(R.vendor, R.vendor_error_category, func.count())
        .where(reviewed, R.vendor_correct.is_(False), cur.has(R.at))
        .group_by(R.vendor, R.vendor_error_category)
    ):
        errors.setdefault(vendor, []).append((category or "unspecified", int(n)))
    out = []
    for vendor in sorted(set(targets) | set(counts)):
        k, n, k_all, n_all = counts.get(vendor, (0, 0, 0, 0))
        wrong_ids = select(R.ticket_id).where(
            R.vendor == vendor, R.vendor_correct.is_(False), cur.has(R.at)
        )
        wrong = ticket_refs(session, Ticket.id.in_(wrong_ids), at=cur.end, total=n - k)
        cats = tuple(sorted(errors.get(vendor, []), key=lambda e: (-e[1], e[0])))
        out.append(
            VendorQuality(vendor, k, n, k_all - k, n_all - n, targets.get(vendor), wrong, cats)
        )
    return tuple(out)
