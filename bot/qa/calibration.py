"""Calibration of the pod itself: a few decisions graded blind by several specialists.

Once a week (``qa.calibration.weekday`` at ``qa.draw_at``) ``items`` decisions
of the past seven days that were not sampled are drawn (seeded like the sample,
kind ``calibration``) and each is given to ``graders`` different specialists as
a QA item of its own. Nobody sees the others' grades. Their agreement is Fleiss'
kappa over the grade categories (upheld, or overturned with an error category),
reported with n (decisions graded by everyone), together with the decisions they
disagreed on most, for the pod to settle. Calibration grades never count toward
vendor scores (the scores read ``kind = sample`` only).

A digest reports the sets drawn in its window, measured with the grades given by
its end: rendered again later it says the same. κ is shown from
:data:`MIN_DECISIONS` fully graded decisions on; one or two say nothing about
agreement. Only decisions that enough graders can take (the area's skill, not away,
under their sensitive cap) are drawn, so no slot is left with nobody.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.config.fields import WEEKDAYS
from bot.core.desk import Desk
from bot.core.text import mrkdwn
from bot.qa import assign
from bot.qa.sampling import CALIBRATION, SAMPLE, already_drawn, day_bounds, rank, run_seed
from bot.reporting.kpi import Window
from bot.routing import workload
from storage.db import transaction
from storage.models import QaDecision, QaItem, QaRun

log = logging.getLogger(__name__)

DISAGREED_SHOWN = 3
_D = TypeVar("_D")  # a drawn decision, as the draw's query gives it
#: Fully graded decisions before κ is shown: fewer say nothing about agreement.
MIN_DECISIONS = 5


def fleiss_kappa(table: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa of ``table`` (one row per subject, one column per category, each cell
    the raters who chose it; every row sums to the same n ≥ 2). None when undefined."""
    rows = [list(r) for r in table if sum(r)]
    if not rows:
        return None
    n = sum(rows[0])
    if n < 2 or any(sum(r) != n for r in rows):
        raise ValueError("every subject needs the same number (at least 2) of ratings")
    subjects = len(rows)
    p_j = [sum(r[j] for r in rows) / (subjects * n) for j in range(len(rows[0]))]
    p_i = [(sum(c * c for c in r) - n) / (n * (n - 1)) for r in rows]
    p_bar = sum(p_i) / subjects
    p_e = sum(p * p for p in p_j)
    if p_e == 1:
        return None  # everyone always chose one category: agreement by chance alone
    return (p_bar - p_e) / (1 - p_e)


def category(verdict: str | None, error: str | None) -> str:
    return "upheld" if verdict == "upheld" else f"overturned: {error or 'unspecified'}"


@dataclass(frozen=True)
class Disagreement:
    decision_id: str
    vendor: str
    content_ref: str
    grades: tuple[tuple[str, int], ...]  # category, how many graders chose it


@dataclass(frozen=True)
class Calibration:
    started: datetime
    kappa: float | None  # None below MIN_DECISIONS, or when undefined
    n: int  # decisions graded by every grader
    raters: int
    pending: int  # calibration grades still to give
    disagreed: tuple[Disagreement, ...]
    decisions: int  # in the set


def due_week(cfg: AppConfig, now: datetime) -> datetime | None:
    """The start (UTC) of the latest calibration set due at ``now``: its weekday's, once
    ``draw_at`` has passed that day. Later in the week it is still due, so a Monday spent
    down draws Monday's set on Tuesday (the same decisions, the same seed)."""
    spec = cfg.qa.calibration
    if spec is None:
        return None
    local = now.astimezone(cfg.team_tz)
    back = (local.weekday() - WEEKDAYS.index(spec.weekday)) % 7
    if back == 0 and local.time() < cfg.qa.draw_at:
        back = 7
    return day_bounds(cfg, local.date() - timedelta(days=back))[0]


def draw_due(desk: Desk) -> QaRun | None:
    """Draw this week's calibration set, once across replicas (its ``qa_runs`` row)."""
    cfg = desk.config
    spec = cfg.qa.calibration
    now = desk.clock.now()
    start = due_week(cfg, now)
    if spec is None or start is None or not cfg.qa.plans:
        return None
    with desk.sessions() as session:
        if already_drawn(session, CALIBRATION, "", start):
            return None
    day = start.astimezone(cfg.team_tz).date()
    seed = run_seed(cfg, CALIBRATION, "", day)
    since = start - timedelta(days=7)
    run = QaRun(
        kind=CALIBRATION,
        vendor="",
        period_start=start,
        period_end=start,
        seed=seed.hex(),
        created_at=now,
    )
    try:
        with transaction(desk.sessions) as session:
            session.add(run)
            session.flush()
            sampled = select(QaItem.decision_id).where(QaItem.kind == SAMPLE)
            found = session.execute(
                select(
                    QaDecision.id, QaDecision.vendor, QaDecision.decision_id, QaDecision.policy_area
                )
                .where(QaDecision.vendor.in_(list(cfg.qa.plans)))
                .where(QaDecision.decided_at >= since, QaDecision.decided_at < start)
                .where(QaDecision.id.not_in(sampled))
            ).all()
            # ranked by the vendor's own ids, not ours: the same set from any copy of the data
            ranked = sorted(found, key=lambda r: rank(seed, f"{r[1]}\0{r[2]}"))
            chosen = _gradable(session, cfg, ranked, lambda r: r[3], spec.items, spec.graders, now)
            rows = [
                {
                    "run_id": run.id,
                    "decision_id": d,
                    "kind": CALIBRATION,
                    "slot": slot,
                    "stratum": CALIBRATION,
                    "stratum_size": 0,
                    "stratum_sampled": 0,
                    "sensitive": bool(
                        (a := cfg.policy_areas.get(area)) is not None and a.sensitive
                    ),
                    "status": assign.PENDING,
                }
                for d, _vendor, _id, area in chosen
                for slot in range(1, spec.graders + 1)
            ]
            if rows:
                session.execute(insert(QaItem), rows)
            assign.assign_pending(session, cfg, now)
    except IntegrityError:
        return None
    log.info("QA calibration set of %s: %d decisions", day, len(chosen))
    return run


def in_window(session: Session, cfg: AppConfig, window: Window) -> tuple[Calibration, ...]:
    """The sets drawn in ``window`` (when they were drawn, not the day they are for: a
    set drawn after a digest was posted must not change it), each measured with the
    grades given by the window's end."""
    runs = session.scalars(
        select(QaRun)
        .where(QaRun.kind == CALIBRATION, window.has(QaRun.created_at))
        .order_by(QaRun.period_start)
    )
    return tuple(c for run in runs if (c := measure(session, run, window.end)) is not None)


def measure(session: Session, run: QaRun, until: datetime) -> Calibration | None:
    """The set's agreement as it stood at ``until`` (None: a week with nothing to draw)."""
    rows = session.execute(
        select(QaItem, QaDecision)
        .join(QaDecision, QaDecision.id == QaItem.decision_id)
        .where(QaItem.run_id == run.id)
    ).all()
    if not rows:
        return None

    def graded(item: QaItem) -> bool:
        return (
            item.status == assign.GRADED and item.graded_at is not None and item.graded_at < until
        )

    by_decision: dict[int, list[QaItem]] = defaultdict(list)
    decisions: dict[int, QaDecision] = {}
    for item, decision in rows:
        by_decision[decision.id].append(item)
        decisions[decision.id] = decision
    complete = {
        d: Counter(category(i.verdict, i.error_category) for i in items)
        for d, items in by_decision.items()
        if items and all(graded(i) for i in items)
    }
    pending = sum(not graded(i) for i, _ in rows)
    raters = max((len(v) for v in by_decision.values()), default=0)
    cats = sorted({c for counts in complete.values() for c in counts})
    table = [[counts[c] for c in cats] for counts in complete.values()]
    kappa = fleiss_kappa(table) if len(table) >= MIN_DECISIONS and raters >= 2 else None

    def agreement(counts: Counter[str]) -> float:
        m = sum(counts.values())
        return (sum(c * c for c in counts.values()) - m) / (m * (m - 1)) if m > 1 else 1.0

    worst = sorted(complete.items(), key=lambda kv: (agreement(kv[1]), kv[0]))
    disagreed = tuple(
        Disagreement(
            decisions[d].decision_id,
            decisions[d].vendor,
            decisions[d].content_ref,
            tuple(counts.most_common()),
        )
        for d, counts in worst[:DISAGREED_SHOWN]
        if agreement(counts) < 1
    )
    return Calibration(
        run.period_start.astimezone(UTC),
        kappa,
        len(complete),
        raters,
        pending,
        disagreed,
        len(by_decision),
    )


def _gradable(
    session: Session,
    cfg: AppConfig,
    ranked: Sequence[_D],
    area_of: Callable[[_D], str],
    items: int,
    graders: int,
    now: datetime,
) -> list[_D]:
    """The first ``items`` of ``ranked`` that ``graders`` different people can grade today:
    the area's skill, not away, and for a sensitive decision room under their daily cap,
    counting the slots already handed out in this set."""
    people = {m.id: m for pod in cfg.pods.values() for m in pod.members}
    away = workload.absences(session, people, now)
    exposure: Counter[str] = Counter()
    for pod in cfg.pods.values():
        exposure.update(workload.sensitive_today(session, pod, now, pod.member_ids))
    chosen = []
    for row in ranked:
        area = cfg.policy_areas.get(area_of(row))
        sensitive = bool(area and area.sensitive)
        fits = [
            m
            for m in cfg.specialists_for(area_of(row))
            if m.id not in away
            and (
                not sensitive
                or m.max_sensitive_per_day is None
                or exposure[m.id] < m.max_sensitive_per_day
            )
        ]
        if len(fits) < graders:
            continue
        if sensitive:  # the ones with the most room take it
            for m in sorted(fits, key=lambda m: (exposure[m.id], m.id))[:graders]:
                exposure[m.id] += 1
        chosen.append(row)
        if len(chosen) == items:
            break
    return chosen


LEVELS = (
    (0.8, "almost perfect"),
    (0.6, "substantial"),
    (0.4, "moderate"),
    (0.2, "fair"),
    (0.0, "slight"),
)


def level(kappa: float) -> str:
    """Landis and Koch's words for a kappa (a convention, not a test)."""
    return next((word for bound, word in LEVELS if kappa > bound), "poor")


def summary_text(c: Calibration, when_day: str) -> str:
    """The digest's calibration field (mrkdwn, references escaped)."""
    if c.kappa is None and c.n < MIN_DECISIONS:
        head = (
            f"*Calibration* (set of {when_day}) · {c.n} of {c.decisions} decisions graded by"
            f" all {c.raters} graders, κ not yet meaningful (it needs {MIN_DECISIONS})"
        )
    elif c.kappa is None:
        head = (
            f"*Calibration* (set of {when_day}) · everyone gave every decision the same grade:"
            f" agreement can't be told from chance (n={c.n})"
        )
    else:
        head = (
            f"*Calibration* (set of {when_day}) · Fleiss' κ = {c.kappa:.2f}, {level(c.kappa)} "
            f"agreement (n={c.n} decisions × {c.raters} graders, graded blind)"
        )
    lines = [head + (f" · {c.pending} grade(s) pending" if c.pending else "")]
    for d in c.disagreed:
        grades = ", ".join(f"{mrkdwn(cat.replace('_', ' '))} {n}" for cat, n in d.grades)
        ref = mrkdwn(d.content_ref.replace("`", "'"))[:200]
        lines.append(f"• Most disagreed: `{ref}` ({mrkdwn(d.vendor)}): {grades}")
    return "\n".join(lines)
