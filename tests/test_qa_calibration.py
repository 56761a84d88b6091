"""Calibration: Fleiss' kappa checked against the literature; a blind set drawn weekly,
graded by different specialists, never counted in the vendor's score."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import AppConfig
from bot.core.render import Renderer
from bot.qa import calibration, grading, sampling
from bot.qa.calibration import fleiss_kappa
from bot.qa.scores import vendor_scores
from bot.reporting.kpi import Window
from bot.reporting.periods import period_containing
from bot.reporting.present import make_digest, payload_text
from storage.db import make_engine, make_session_factory, transaction, upgrade
from storage.models import QaDecision, QaItem
from tests.dbs import fresh_database
from tests.desk import desk_at
from tests.qa_support import DAY, DRAW_TIME, NORTHWIND, decisions, sampled, store

#: Fleiss (1971) as worked on Wikipedia's "Fleiss' kappa" page: 10 subjects, 14 raters,
#: 5 categories; P̄ = 0.378, P̄e = 0.213, κ = 0.210.
WIKIPEDIA = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_kappa_matches_the_worked_example() -> None:
    kappa = fleiss_kappa(WIKIPEDIA)
    assert kappa is not None and math.isclose(kappa, 0.210, abs_tol=0.0005)


def test_kappa_edges() -> None:
    assert fleiss_kappa([[3, 0], [0, 3]]) == 1.0  # perfect agreement
    assert fleiss_kappa([[3, 0], [3, 0]]) is None  # one category only: undefined
    with pytest.raises(ValueError):
        fleiss_kappa([[3, 0], [1, 1]])


def test_a_blind_set_graded_by_different_people_outside_the_scores(
    sessions, config: AppConfig
) -> None:  # type: ignore[no-untyped-def]
    store(sessions, decisions(config, 500, areas=("hateful_activities", "violent_extremism")))
    sampling.draw_sample(desk_at(sessions, config, DRAW_TIME), NORTHWIND, DAY)
    monday = datetime(2026, 11, 30, 7, 5, tzinfo=UTC)
    sunday = desk_at(sessions, config, monday - timedelta(days=1))
    late = calibration.draw_due(sunday)  # the set of Mon 23 Nov, late: nothing to calibrate on
    assert late is not None and late.period_start.date().isoformat() == "2026-11-23"
    assert calibration.draw_due(sunday) is None
    desk = desk_at(sessions, config, monday)
    assert calibration.draw_due(desk) is not None
    assert calibration.draw_due(desk) is None  # once a week
    spec = config.qa.calibration
    assert spec is not None
    items = sampled(sessions, "calibration")
    per_decision: dict[int, list[QaItem]] = defaultdict(list)
    for item, _ in items:
        per_decision[item.decision_id].append(item)
    assert len(per_decision) == spec.items
    assert all(len({i.grader_id for i in v}) == spec.graders for v in per_decision.values())
    sampled_ids = {d.id for _, d in sampled(sessions)}
    assert not sampled_ids & set(per_decision)

    # Everyone upholds, except one grader on one decision, and a split on another.
    for n, (decision, its) in enumerate(sorted(per_decision.items())):
        for k, item in enumerate(its):
            assert item.grader_id
            if (n, k) in ((0, 0), (1, 0), (1, 1)):
                with transaction(sessions) as s:
                    row, d = s.get_one(QaItem, item.id), s.get_one(QaDecision, decision)
                    grading.record(
                        s,
                        config,
                        row,
                        d,
                        item.grader_id,
                        grading.OVERTURNED,
                        "no_violation",
                        "missed_context",
                        "",
                        monday,
                    )
            else:
                grading.uphold(desk, item.id, item.grader_id)
    with sessions() as s:
        today = Window(monday - timedelta(hours=8), monday + timedelta(days=1))
        [result] = calibration.in_window(s, config, today)
        scores = vendor_scores(
            s, config, Window(monday, monday + timedelta(days=1)), Window(monday, monday)
        )
    assert result is not None and (result.n, result.raters, result.pending) == (5, 3, 0)
    table = [[1, 2], [2, 1], [3, 0], [3, 0], [3, 0]]  # (upheld, overturned) per decision
    assert result.kappa is not None and math.isclose(result.kappa, fleiss_kappa(table) or 0)
    assert len(result.disagreed) == 2
    assert all(v.overall.n == 0 for v in scores)  # calibration grades are not vendor scores
    assert "Fleiss' κ" in calibration.summary_text(result, "Mon 30 Nov")


def draw_monday_set(sessions, config: AppConfig, areas: tuple[str, ...]) -> datetime:  # type: ignore[no-untyped-def]
    """Decisions of the week before Monday 30 Nov in ``areas``; that Monday's set drawn."""
    for k in range(7):
        day = DAY - timedelta(days=k)
        store(sessions, decisions(config, 80, day=day, seed=k, prefix=f"w{k}-", areas=areas))
    monday = datetime(2026, 11, 30, 7, 5, tzinfo=UTC)
    assert calibration.draw_due(desk_at(sessions, config, monday)) is not None
    return monday


def grade(sessions, config: AppConfig, items: list[QaItem], when: datetime) -> None:  # type: ignore[no-untyped-def]
    """Uphold ``items`` at ``when``, each by its own grader."""
    desk = desk_at(sessions, config, when)
    for item in items:
        assert item.grader_id
        grading.uphold(desk, item.id, item.grader_id)


def test_kappa_waits_for_five_decisions_and_a_past_digest_never_moves(
    sessions, config: AppConfig
) -> None:  # type: ignore[no-untyped-def]
    monday = draw_monday_set(sessions, config, ("hateful_activities", "violent_extremism"))
    per_decision: dict[int, list[QaItem]] = defaultdict(list)
    for item, _ in sampled(sessions, "calibration"):
        per_decision[item.decision_id].append(item)
    first, *rest = sorted(per_decision.values(), key=lambda its: its[0].decision_id)
    grade(sessions, config, first, monday + timedelta(hours=2))  # one decision by all three

    spec = config.digest("weekly")
    assert spec is not None
    week = period_containing("week", monday.date(), config.team_tz)  # Mon 30 Nov - Sun 6 Dec

    def rendered() -> str:
        with sessions() as s:
            out = make_digest(
                s, config, Renderer(config.team_tz), spec, week, week.end, chart=False
            )
        return payload_text(out.payload)

    text = rendered()
    assert "set of Mon 30 Nov" in text
    assert "1 of 5 decisions graded by all 3 graders, κ not yet meaningful" in text
    assert "Fleiss" not in text
    # the rest graded a week later: this week's digest says what it said
    grade(sessions, config, [i for its in rest for i in its], week.end + timedelta(hours=1))
    assert rendered() == text
    later = Window(week.start, week.end + timedelta(days=1))
    with sessions() as s:
        [now] = calibration.in_window(s, config, later)
    assert (now.n, now.pending) == (5, 0) and now.kappa is None  # all upheld: no κ by chance
    # the week before shows no set: the one of 30 Nov was drawn after it ended
    before = period_containing("week", (monday - timedelta(days=1)).date(), config.team_tz)
    with sessions() as s:
        assert calibration.in_window(s, config, before.window) == ()


def test_the_set_takes_only_decisions_its_graders_can_grade(sessions, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    # self-harm: three specialists, one capped at 3 sensitive items a day, so at most
    # three decisions can each have three different graders
    draw_monday_set(sessions, config, ("self_harm",))
    items = sampled(sessions, "calibration")
    decisions_drawn = {i.decision_id for i, _ in items}
    assert 1 <= len(decisions_drawn) <= 3
    assert all(i.grader_id for i, _ in items)  # no slot left with nobody
    for decision in decisions_drawn:
        graders = [i.grader_id for i, _ in items if i.decision_id == decision]
        assert len(set(graders)) == 3


def test_a_monday_spent_down_draws_its_set_on_tuesday_as_on_time(  # type: ignore[no-untyped-def]
    sessions, config: AppConfig, tmp_path
) -> None:
    def drawn_set(sessions_, when: datetime) -> tuple[str, list[str]]:
        for k in range(7):
            day = DAY - timedelta(days=k)
            store(sessions_, decisions(config, 40, day=day, seed=k, prefix=f"w{k}-"))
        run = calibration.draw_due(desk_at(sessions_, config, when))
        assert run is not None
        ids = sorted({d.decision_id for _, d in sampled(sessions_, "calibration")})
        return run.period_start.date().isoformat(), ids

    on_time = drawn_set(sessions, datetime(2026, 11, 30, 7, 5, tzinfo=UTC))
    (tmp_path / "other").mkdir()
    with fresh_database(tmp_path / "other") as url:
        engine = make_engine(url)
        upgrade(engine)
        late = drawn_set(make_session_factory(engine), datetime(2026, 12, 1, 11, 0, tzinfo=UTC))
        engine.dispose()
    assert late == on_time and on_time[0] == "2026-11-30" and len(on_time[1]) == 5
