"""QA scores: weighted by stratum, with Wilson intervals and n, apart from escalation
verdicts; in the digest, the CLI and the export."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.config import AppConfig
from bot.core.render import Renderer
from bot.qa import export as qa_export
from bot.qa import grading, sampling
from bot.qa.scores import Graded, Share, VendorScores, category_error_rate, vendor_scores, weighted
from bot.reporting.kpi import Window, wilson
from bot.reporting.periods import period_containing
from bot.reporting.present import make_digest, payload_text
from storage.db import transaction
from storage.models import QaDecision, QaItem, QaRun
from tests.conftest import REPO
from tests.desk import LEAD, desk_at
from tests.qa_support import DAY, DRAW_TIME, NORTHWIND, TEJO, decisions, sampled, store


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


def test_a_category_share_counts_only_the_overturns_of_that_category() -> None:
    def g(upheld: bool, category: str | None) -> Graded:
        return Graded((1, "s"), 4, upheld, "v", "a", None, category)

    graded = [g(False, "over"), g(False, "over"), g(False, "under"), g(False, None), g(True, None)]
    over = weighted(graded, hit="category", category="over")
    assert (over.n, over.hits, over.score) == (5, 2, 0.4)
    unspecified = weighted(graded, hit="category", category=None)  # an upheld item is no error
    assert (unspecified.hits, unspecified.score) == (1, 0.2)
    assert weighted([]) == Share(0, 0, None, 0.0) and Share(0, 0, None, 0.0).interval is None


def test_the_change_is_this_period_minus_the_last() -> None:
    def scores(now: float | None, before: float | None) -> VendorScores:
        def share(score: float | None) -> Share:
            return Share(10, 0, score, 10.0)

        return VendorScores("v", "V", 0.9, share(now), share(before), (), (), ())

    assert scores(0.9, 0.75).change == pytest.approx(0.15)
    assert scores(0.75, 0.9).change == pytest.approx(-0.15)
    assert scores(None, 0.9).change is None and scores(0.9, None).change is None


def test_scores_read_graded_samples_in_the_window_per_vendor_area_and_agent(
    sessions, config: AppConfig
) -> None:  # type: ignore[no-untyped-def]
    """Rows as grading leaves them: calibration grades, pending items, other windows, other
    vendors and other areas stay out of each number they must stay out of."""
    now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    with transaction(sessions) as s:
        run = QaRun(kind="sample", vendor=NORTHWIND, period_start=now - timedelta(days=1),
                    period_end=now, seed="00", created_at=now)  # fmt: skip
        s.add(run)
        s.flush()
        rows = [  # vendor, area, agent, kind, status, verdict, category, graded hours ago
            (NORTHWIND, "hateful_activities", "a1", "sample", "graded", "upheld", None, 1),
            (NORTHWIND, "hateful_activities", "a1", "sample", "graded", "overturned", "over", 1),
            (NORTHWIND, "graphic_violence", None, "sample", "graded", "overturned", "over", 1),
            (NORTHWIND, "graphic_violence", "a2", "sample", "graded", "overturned", None, 1),
            (NORTHWIND, "graphic_violence", "a2", "sample", "graded", "overturned", "over", 2),
            (NORTHWIND, "hateful_activities", "a1", "calibration", "graded", "overturned", "x", 1),
            (NORTHWIND, "hateful_activities", "a1", "sample", "pending", None, None, 1),
            (NORTHWIND, "hateful_activities", "a1", "sample", "graded", "upheld", None, 30),
            (TEJO, "hateful_activities", "t1", "sample", "graded", "overturned", "over", 1),
        ]
        for n, (vendor, area, agent, kind, status, verdict, category, ago) in enumerate(rows):
            decision = QaDecision(vendor=vendor, decision_id=f"d{n}", content_ref=f"post:{n}",
                                  policy_area=area, decision="removed", decided_at=now,
                                  agent_id=agent, imported_at=now)  # fmt: skip
            s.add(decision)
            s.flush()
            s.add(QaItem(run_id=run.id, decision_id=decision.id, kind=kind, slot=n,
                         stratum="s", stratum_size=10, stratum_sampled=5, status=status,
                         verdict=verdict, error_category=category,
                         graded_at=now - timedelta(hours=ago)))  # fmt: skip
    day = Window(now - timedelta(days=1), now)
    before = Window(now - timedelta(days=2), day.start)
    with sessions() as s:
        scores = {v.vendor: v for v in vendor_scores(s, config, day, before)}
        rate = category_error_rate(s, NORTHWIND, "hateful_activities", "over", day.start, now)
    northwind = scores[NORTHWIND]
    assert (northwind.name, northwind.target) == ("Northwind CX (Manila)", 0.92)
    assert (northwind.overall.n, northwind.overall.hits, northwind.overall.score) == (5, 1, 0.2)
    assert northwind.overall.target == 0.92 and northwind.overall.clearly_below
    assert (northwind.previous.n, northwind.previous.score) == (1, 1.0)
    assert northwind.change == pytest.approx(-0.8)
    assert [(a, s.n, s.score, s.target) for a, s in northwind.areas] == [
        ("graphic_violence", 3, 0.0, 0.92),
        ("hateful_activities", 2, 0.5, 0.92),
    ]
    assert [(a, s.n, s.hits) for a, s in northwind.agents] == [
        ("a1", 2, 1), ("a2", 2, 0), ("unknown", 1, 0),
    ]  # fmt: skip
    assert [(c, s.n, s.hits) for c, s in northwind.categories] == [
        ("over", 5, 3), ("unspecified", 5, 1),
    ]  # fmt: skip
    assert (scores[TEJO].overall.n, scores[TEJO].overall.score) == (1, 0.0)
    assert (rate.n, rate.hits, rate.score) == (2, 1, 0.5)  # graphic violence's is 2 of 3


def test_clearly_below_needs_the_whole_interval_under_the_target() -> None:
    share = Share(20, 17, 0.85, 20.0)
    low, high = share.interval or (0, 0)
    assert low < 0.9 < high
    assert not Share(20, 17, 0.85, 20.0, target=0.9).clearly_below  # within the noise
    assert not Share(20, 17, 0.85, 20.0, target=high).clearly_below  # reaches it
    assert Share(20, 17, 0.85, 20.0, target=high + 1e-9).clearly_below
    assert not Share(0, 0, None, 0.0, target=0.9).clearly_below  # no grades: no flag


def test_the_export_rebuilds_every_vendor_score_of_a_digest(  # type: ignore[no-untyped-def]
    db_url, sessions, config: AppConfig
) -> None:
    """The auditor's file: `escbot export --qa --graded` for a digest's week, and nothing
    else, gives each vendor's score and effective n as the digest computes them. A third
    of the sample is left ungraded, unevenly by stratum, so a weight of size ÷ sampled
    (what the export used to write) would not add up."""
    for vendor, seed in ((NORTHWIND, 3), (TEJO, 4)):
        store(sessions, decisions(config, 1500, vendor=vendor, seed=seed, prefix=vendor[:2]))
    desk = desk_at(sessions, config, DRAW_TIME)
    for vendor in (NORTHWIND, TEJO):
        sampling.draw_sample(desk, vendor, DAY)
    for n, (item, _) in enumerate(sampled(sessions)):
        if n % 3 == 0 or (item.stratum.endswith(":low") and n % 2):
            continue  # left ungraded
        grader = item.grader_id or LEAD
        if n % 4:
            grading.uphold(desk, item.id, grader)
        else:
            with transaction(desk.sessions) as s:
                row = s.get_one(QaItem, item.id)
                decision = s.get_one(QaDecision, row.decision_id)
                grading.record(
                    s, config, row, decision, grader, grading.OVERTURNED, "no_violation",
                    "over_enforcement", "", desk.clock.now(),
                )  # fmt: skip
    period = period_containing("week", DAY, config.team_tz)
    with sessions() as s:
        digest = vendor_scores(s, config, period.window, period.previous.window)

    result = CliRunner().invoke(
        main,
        ["export", "--qa", "--graded", "--from", f"{period.first}", "--to", f"{period.last}",
         "--database-url", db_url, "--config", str(REPO / "app.yaml")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    for v in digest:
        mine = [r for r in rows if r["vendor"] == v.vendor and r["weight"]]
        weights = [float(r["weight"]) for r in mine]
        upheld = sum(w for w, r in zip(weights, mine, strict=True) if r["verdict"] == "upheld")
        assert v.overall.n == len(mine) > 0
        assert v.overall.score is not None
        assert math.isclose(upheld / sum(weights), v.overall.score, abs_tol=1e-6)
        n_eff = sum(weights) ** 2 / sum(w * w for w in weights)
        assert math.isclose(n_eff, v.overall.n_eff, rel_tol=1e-6)
        sizes = [int(r["stratum_size"]) / int(r["stratum_sampled"]) for r in mine]
        assert sizes != weights  # the old weight would have given another score
