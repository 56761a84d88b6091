"""QA scores that say how sure they are: upheld shares with a 95 % Wilson interval and n.

Only sampled items count (``kind = sample``): calibration grades never do, and
escalation verdicts (``bot.reporting.kpi.vendor_quality``) are reported beside
these, never mixed in — escalations are the hard, contested cases.

**Weighting.** A stratum (policy area × confidence band, one day) of ``N``
decisions of which ``g`` were graded stands for ``N`` decisions: each graded
item weighs ``N / g`` (the inverse of its sampling probability). The score is
the weighted share upheld, so sampling graphic violence at 5 % and hate speech
at 2 % doesn't make graphic violence count 2.5 times in the vendor's score.
When every stratum is sampled at the same rate all weights are equal and the
score is the plain upheld share. The interval is Wilson's at the effective
sample size ``(Σw)² / Σw²`` (Kish), which is n for equal weights and less when
weights differ: the honest width for a weighted estimate.

Scores cover the items *graded* in the window, so a daily digest reports the
grading of that day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.reporting.kpi import Window, wilson
from storage.models import QaDecision, QaItem


@dataclass(frozen=True)
class Graded:
    """One graded sample item, as the scores need it."""

    stratum: tuple[int, str]  # (run, stratum): weights are per day's stratum
    size: int
    upheld: bool
    vendor: str
    area: str
    agent: str | None
    category: str | None


@dataclass(frozen=True)
class Share:
    """A weighted share (upheld, or of one error category) of ``n`` graded items."""

    n: int
    hits: int  # items counted (unweighted), e.g. upheld
    score: float | None
    n_eff: float
    target: float | None = None

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.score is None:
            return None
        return wilson(self.score * self.n_eff, self.n_eff)

    @property
    def clearly_below(self) -> bool:
        """The whole interval lies under the target: not just noise."""
        iv = self.interval
        return iv is not None and self.target is not None and iv[1] < self.target


def weighted(items: Iterable[Graded], hit: str = "upheld", category: str | None = None) -> Share:
    """The weighted share of ``items`` that are upheld (or, ``hit="category"``, that were
    overturned for ``category``), weights ``N_h / g_h`` within the given items."""
    items = list(items)
    graded: dict[tuple[int, str], int] = defaultdict(int)
    for g in items:
        graded[g.stratum] += 1
    total = hits_w = squares = 0.0
    hits = 0
    for g in items:
        w = g.size / graded[g.stratum]
        counted = g.upheld if hit == "upheld" else (not g.upheld and g.category == category)
        total += w
        squares += w * w
        if counted:
            hits_w += w
            hits += 1
    if not items:
        return Share(0, 0, None, 0.0)
    return Share(len(items), hits, hits_w / total, total * total / squares)


@dataclass(frozen=True)
class VendorScores:
    vendor: str
    name: str
    target: float
    overall: Share
    previous: Share
    areas: tuple[tuple[str, Share], ...]
    categories: tuple[tuple[str, Share], ...]  # the error rate per category
    agents: tuple[tuple[str, Share], ...]

    @property
    def change(self) -> float | None:
        if self.overall.score is None or self.previous.score is None:
            return None
        return self.overall.score - self.previous.score


def graded_items(session: Session, window: Window) -> list[Graded]:
    rows = session.execute(
        select(
            QaItem.run_id,
            QaItem.stratum,
            QaItem.stratum_size,
            QaItem.verdict,
            QaItem.error_category,
            QaDecision.vendor,
            QaDecision.policy_area,
            QaDecision.agent_id,
        )
        .join(QaDecision, QaDecision.id == QaItem.decision_id)
        .where(QaItem.kind == "sample", QaItem.status == "graded", window.has(QaItem.graded_at))
    )
    return [
        Graded((run, stratum), size, verdict == "upheld", vendor, area, agent, category)
        for run, stratum, size, verdict, category, vendor, area, agent in rows
    ]


def vendor_scores(
    session: Session,
    cfg: AppConfig,
    cur: Window,
    prev: Window,
    areas: Collection[str] | None = None,
) -> tuple[VendorScores, ...]:
    """Per vendor with a QA plan: the score, its trend, and per area, category and agent;
    of the items in ``areas`` only, when given (a pod lead's own pod)."""
    now_items, before = graded_items(session, cur), graded_items(session, prev)
    if areas is not None:
        now_items = [g for g in now_items if g.area in areas]
        before = [g for g in before if g.area in areas]
    out = []
    for key in cfg.qa.plans:
        vendor = cfg.vendors[key]
        mine = [g for g in now_items if g.vendor == key]
        overall = weighted(mine)
        by_area: dict[str, list[Graded]] = defaultdict(list)
        by_agent: dict[str, list[Graded]] = defaultdict(list)
        for g in mine:
            by_area[g.area].append(g)
            by_agent[g.agent or "unknown"].append(g)
        categories = sorted({g.category or "unspecified" for g in mine if not g.upheld})
        out.append(
            VendorScores(
                vendor=key,
                name=vendor.name,
                target=vendor.quality_target,
                overall=_with_target(overall, vendor.quality_target),
                previous=weighted(g for g in before if g.vendor == key),
                areas=tuple(
                    (a, _with_target(weighted(v), vendor.quality_target))
                    for a, v in sorted(by_area.items())
                ),
                categories=tuple(
                    (c, weighted(mine, hit="category", category=None if c == "unspecified" else c))
                    for c in categories
                ),
                agents=tuple(
                    (a, _with_target(weighted(v), vendor.quality_target))
                    for a, v in sorted(by_agent.items())
                ),
            )
        )
    return tuple(out)


def _with_target(share: Share, target: float) -> Share:
    return Share(share.n, share.hits, share.score, share.n_eff, target)


def category_error_rate(
    session: Session, vendor: str, area: str, category: str, start: datetime, end: datetime
) -> Share:
    """The weighted share of ``vendor``'s graded decisions in ``area`` overturned for
    ``category`` between ``start`` and ``end`` (clarifications' before and after)."""
    items = [
        g
        for g in graded_items(session, Window(start, end))
        if g.vendor == vendor and g.area == area
    ]
    return weighted(items, hit="category", category=category)
