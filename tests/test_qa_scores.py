"""QA scores: weighted by stratum, with Wilson intervals and n, apart from escalation
verdicts; in the digest, the CLI and the export."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import AppConfig
from bot.core.render import Renderer
from bot.qa import export as qa_export
from bot.qa import grading, sampling
from bot.qa.scores import Graded, vendor_scores, weighted
from bot.reporting.kpi import Window, wilson
from bot.reporting.periods import period_containing
from bot.reporting.present import make_digest, payload_text
from storage.db import transaction
from storage.models import QaDecision, QaItem
from tests.desk import LEAD, desk_at
from tests.qa_support import DAY, DRAW_TIME, NORTHWIND, decisions, sampled, store


def items(strata: list[tuple[int, int, int]]) -> list[Graded]:
    """(population, graded, upheld) per stratum → graded items."""
    out = []
    for h, (size, graded, upheld) in enumerate(strata):
        for i in range(graded):
            out.append(Graded((1, f"s{h}"), size, i < upheld, "v", f"a{h}", None, None))
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=1, max_value=50),
    st.lists(st.tuples(st.integers(1, 40), st.floats(0, 1)), min_size=1, max_size=8),
)
def test_equal_rates_give_the_plain_upheld_share(inverse_rate: int, strata) -> None:  # type: ignore[no-untyped-def]
    """Every stratum sampled at the same rate: the weighted score is the upheld share, and
    the effective n is n (so the interval is the plain Wilson interval)."""
    spec = [(g * inverse_rate, g, round(g * share)) for g, share in strata]
    share = weighted(items(spec))
    upheld, n = sum(u for *_, u in spec), sum(g for _, g, _ in spec)
    assert share.score is not None and math.isclose(share.score, upheld / n, abs_tol=1e-9)
    assert math.isclose(share.n_eff, n) and share.n == n
    assert share.interval is not None and all(
        math.isclose(a, b, abs_tol=1e-9)
        for a, b in zip(share.interval, wilson(upheld, n), strict=True)
    )


def test_a_higher_rate_in_one_stratum_does_not_distort_the_score() -> None:
    # 1000 routine decisions sampled at 2% (all upheld), 100 sensitive at 20% (none upheld)
    share = weighted(items([(1000, 20, 20), (100, 20, 0)]))
    assert share.score is not None and math.isclose(share.score, 1000 / 1100)
    assert share.n == 40 and share.n_eff < 40  # unequal weights: less sure than 40 plain
    low, high = share.interval or (0, 0)
    assert low < 1000 / 1100 < high


def grade_all(desk, sessions, overturn_every: int) -> None:  # type: ignore[no-untyped-def]
    """Uphold every item but every ``overturn_every``-th, which is overturned."""
    for n, (item, _) in enumerate(sampled(sessions)):
        grader = item.grader_id or LEAD
        if n % overturn_every:
            grading.uphold(desk, item.id, grader)
            continue
        with transaction(desk.sessions) as s:
            row = s.get_one(QaItem, item.id)
            decision = s.get_one(QaDecision, row.decision_id)
            grading.record(
                s,
                desk.config,
                row,
                decision,
                grader,
                grading.OVERTURNED,
                "no_violation",
                "over_enforcement",
                "",
                desk.clock.now(),
            )


def test_scores_in_the_digest_and_the_export(sessions, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    store(sessions, decisions(config, 2000))
    desk = desk_at(sessions, config, DRAW_TIME)
    sampling.draw_sample(desk, NORTHWIND, DAY)
    grade_all(desk, sessions, overturn_every=3)  # ~67% upheld: clearly under a 92% target
    week = Window(DRAW_TIME - timedelta(days=1), DRAW_TIME + timedelta(hours=1))
    before = Window(week.start - timedelta(days=1), week.start)
    with sessions() as s:
        [northwind] = [v for v in vendor_scores(s, config, week, before) if v.vendor == NORTHWIND]
    assert northwind.overall.n == len(sampled(sessions))
    assert northwind.overall.clearly_below and northwind.previous.n == 0
    assert {c for c, _ in northwind.categories} == {"over_enforcement"}

    spec = config.digest("weekly")
    assert spec is not None
    period = period_containing("week", DAY, config.team_tz)
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with sessions() as s:
        out = make_digest(s, config, Renderer(config.team_tz), spec, period, now, chart=False)
    text = payload_text(out.payload)
    assert "Vendor quality" in text and "Sampled quality (QA)" in text
    assert (
        f"n={northwind.overall.n}" in text and ":red_circle: *Northwind CX (Manila)* · QA" in text
    )

    buf = io.StringIO()
    start = datetime(2026, 11, 25, tzinfo=UTC) - timedelta(hours=1)
    with sessions() as s:
        count = qa_export.write_csv(s, buf, start, start + timedelta(days=2))
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert count == len(rows) == northwind.overall.n
    assert {r["verdict"] for r in rows} == {"upheld", "overturned"}
    assert all(float(r["weight"]) >= 1 for r in rows)
