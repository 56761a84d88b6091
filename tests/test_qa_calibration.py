"""Calibration: Fleiss' kappa checked against the literature; a blind set drawn weekly,
graded by different specialists, never counted in the vendor's score."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import AppConfig
from bot.qa import calibration, grading, sampling
from bot.qa.calibration import fleiss_kappa
from bot.qa.scores import vendor_scores
from bot.reporting.kpi import Window
from storage.db import transaction
from storage.models import QaDecision, QaItem
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
    assert calibration.draw_due(desk_at(sessions, config, monday - timedelta(days=1))) is None
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
        result = calibration.latest(s, config)
        scores = vendor_scores(
            s, config, Window(monday, monday + timedelta(days=1)), Window(monday, monday)
        )
    assert result is not None and (result.n, result.raters, result.pending) == (5, 3, 0)
    table = [[1, 2], [2, 1], [3, 0], [3, 0], [3, 0]]  # (upheld, overturned) per decision
    assert result.kappa is not None and math.isclose(result.kappa, fleiss_kappa(table) or 0)
    assert len(result.disagreed) == 2
    assert all(v.overall.n == 0 for v in scores)  # calibration grades are not vendor scores
    assert "Fleiss' κ" in calibration.summary_text(result, "Mon 30 Nov")
