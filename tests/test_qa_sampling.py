"""The daily QA sample: stratified by the plan, reproducible from the seed, drawn once across
replicas, assigned within everyone's sensitive-exposure cap."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from bot.config import AppConfig
from bot.qa import sampling
from bot.routing import workload
from storage.db import make_engine, make_session_factory, upgrade
from tests.dbs import fresh_database
from tests.desk import PRIYA, desk_at
from tests.qa_support import DAY, DRAW_TIME, NORTHWIND, decisions, sampled, store


def test_the_sample_is_the_same_across_runs_replicas_and_row_order(  # type: ignore[no-untyped-def]
    sessions, config: AppConfig, tmp_path: Path
) -> None:
    rows = decisions(config, 3000)
    store(sessions, rows)
    # Two replicas draw at the same moment: one sample, stored once.
    replicas = [desk_at(sessions, config, DRAW_TIME) for _ in range(2)]
    runs: list[object] = []
    threads = [
        threading.Thread(target=lambda d=d: runs.append(sampling.draw_sample(d, NORTHWIND, DAY)))
        for d in replicas
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in runs) == 1
    first = sorted(d.decision_id for _, d in sampled(sessions))
    assert first == sampling.drawn(replicas[0], NORTHWIND, DAY)
    assert sampling.draw_sample(replicas[1], NORTHWIND, DAY) is None  # and never again

    # Another database, the rows imported in the opposite order: the same sample.
    (tmp_path / "other").mkdir()
    with fresh_database(tmp_path / "other") as url:
        engine = make_engine(url)
        upgrade(engine)
        other = make_session_factory(engine)
        store(other, rows[::-1])
        desk = desk_at(other, config, DRAW_TIME)
        assert sampling.draw_sample(desk, NORTHWIND, DAY) is not None
        assert sorted(d.decision_id for _, d in sampled(other)) == first
        engine.dispose()
    # An auditor re-derives it from the decisions and the seed alone.
    assert sorted(p.decision_id for p in sampling.rederive(replicas[0], NORTHWIND, DAY)) == first


def test_strata_follow_the_plan(sessions, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    store(sessions, decisions(config, 4000))
    assert sampling.draw_due(desk_at(sessions, config, DRAW_TIME))  # northwind and tejo
    items = sampled(sessions)
    plan = config.qa.plans[NORTHWIND]
    for item, decision in items:
        if decision.vendor != NORTHWIND:
            continue
        area, band = item.stratum.split(":")
        expected = sampling.rule(config, plan, area, band == "low").size(item.stratum_size)
        assert item.stratum_sampled == expected
        assert (band == "low") == (decision.confidence is not None and decision.confidence < 0.6)
    shares = {
        item.stratum: item.stratum_sampled / item.stratum_size
        for item, d in items
        if d.vendor == NORTHWIND
    }
    assert shares["graphic_violence:normal"] > shares["hateful_activities:normal"]  # sensitive 5%
    assert shares["hateful_activities:low"] >= 0.10 > shares["hateful_activities:normal"]
    assert (
        Counter(i.stratum for i, d in items if d.vendor == NORTHWIND)["violent_extremism:normal"]
        == 10
    )  # daily_count
    assert Counter(d.vendor for _, d in items)["tejo_lisbon"] == 0  # no tejo decisions that day


def test_sensitive_items_stay_within_each_graders_cap(sessions, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    areas = ("graphic_violence", "self_harm")
    store(sessions, decisions(config, 2000, areas=areas))
    desk = desk_at(sessions, config, DRAW_TIME)
    sampling.draw_sample(desk, NORTHWIND, DAY)
    items = sampled(sessions)
    assert items and all(i.sensitive for i, _ in items)
    given = Counter(i.grader_id for i, _ in items if i.grader_id)
    caps = {m.id: m.max_sensitive_per_day for p in config.pods.values() for m in p.members}
    assert given and all(n <= (caps[u] or 10**6) for u, n in given.items())
    assert PRIYA not in given  # her cap is 0
    assert any(i.grader_id is None for i, _ in items)  # more than the pod may see today
    # Ticket routing counts the same exposure: the graders are full for today.
    pod = config.pods["critical_harms"]
    with sessions() as s:
        counts = workload.sensitive_today(s, pod, DRAW_TIME, pod.member_ids)
    assert all(counts.get(u, 0) >= n for u, n in given.items())
