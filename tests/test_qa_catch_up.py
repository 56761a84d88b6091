"""QA after downtime (#23): every day with decisions gets its sample, drawn once across
replicas and identical to the on-time draw; late imports are drawn as top-ups; days too
old to draw are reported in the digest, never skipped silently."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from bot.config import AppConfig
from bot.core.render import Renderer
from bot.qa import sampling
from bot.reporting.periods import period_containing
from bot.reporting.present import make_digest, payload_text
from storage.models import QaDecision, QaItem, QaRun
from tests.desk import desk_at
from tests.qa_support import NORTHWIND, TEJO, decisions, sampled, store

THU, FRI, SAT, SUN = (date(2026, 11, 26) + timedelta(days=n) for n in range(4))
FRIDAY_DRAW = datetime(2026, 11, 27, 7, 5, tzinfo=UTC)  # Thursday's sample, on time
MONDAY_BACK = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # down from Saturday 06:00 until now


def store_days(sessions, config: AppConfig, *days: date, n: int = 620, prefix: str = "") -> None:  # type: ignore[no-untyped-def]
    for k, day in enumerate(days):
        for vendor in (NORTHWIND, TEJO):
            tag = f"{prefix}{vendor[:2]}{day:%d}-"
            store(sessions, decisions(config, n, vendor=vendor, day=day, seed=k, prefix=tag))


def runs(sessions, kind: str) -> list[tuple[str, date]]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return sorted(
            (r.vendor, r.period_start.astimezone(UTC).date())
            for r in s.scalars(select(QaRun).where(QaRun.kind == kind))
        )


def test_a_weekend_of_downtime_is_drawn_on_monday_once_as_on_time(  # type: ignore[no-untyped-def]
    sessions, config: AppConfig
) -> None:
    store_days(sessions, config, THU, FRI, SAT)
    assert sampling.draw_due(desk_at(sessions, config, FRIDAY_DRAW))  # Thursday's, on time
    assert {d for _, d in runs(sessions, sampling.SAMPLE)} == {THU}
    monday = desk_at(sessions, config, MONDAY_BACK)
    # what an on-time draw on Saturday and Sunday morning would have given
    on_time = {
        (v, day): sorted(p.decision_id for p in sampling.rederive(monday, v, day))
        for v in (NORTHWIND, TEJO)
        for day in (FRI, SAT)
    }
    assert all(on_time.values())

    replicas = [desk_at(sessions, config, MONDAY_BACK) for _ in range(3)]
    drawn: list[list[QaRun]] = []
    threads = [
        threading.Thread(target=lambda d=d: drawn.append(sampling.draw_due(d))) for d in replicas
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r) for r in drawn) == 4  # Friday and Saturday of two vendors, once
    assert sampling.draw_due(monday) == []  # and nothing more at the next tick
    assert {d for _, d in runs(sessions, sampling.SAMPLE)} == {THU, FRI, SAT}
    for (vendor, day), expected in on_time.items():
        assert sampling.drawn(monday, vendor, day) == expected
    with sessions() as s:
        undrawn = s.scalar(
            select(func.count()).select_from(QaDecision).where(QaDecision.sample_run_id.is_(None))
        )
    assert undrawn == 0


def test_late_decisions_are_drawn_as_a_top_up_by_the_same_rule(  # type: ignore[no-untyped-def]
    sessions, config: AppConfig
) -> None:
    store_days(sessions, config, THU)
    desk = desk_at(sessions, config, FRIDAY_DRAW)
    sampling.draw_due(desk)
    before = {i.id for i, _ in sampled(sessions)}
    store_days(sessions, config, THU, n=300, prefix="late")  # the vendor's second file
    later = desk_at(sessions, config, FRIDAY_DRAW + timedelta(hours=3))
    [top_up, _] = sampling.draw_due(later)  # one per vendor
    assert top_up.kind == sampling.TOPUP
    assert sampling.draw_due(later) == []
    new = [(i, d) for i, d in sampled(sessions) if i.id not in before]
    assert new and all(d.decision_id.startswith("late") for _, d in new)
    # the late batch is a stratum of its own: 300 decisions, not the day's 920
    assert {i.run_id for i, _ in new} == {r.id for r in _runs_of(sessions, sampling.TOPUP)}
    northwind = [i for i, d in new if d.vendor == NORTHWIND]
    assert (
        sum({i.stratum: i.stratum_size for i in northwind}.values()) <= 300
    )  # sizes count the late decisions only
    for vendor in (NORTHWIND, TEJO):  # the auditor's re-derivation includes the top-up
        rederived = sorted(p.decision_id for p in sampling.rederive(later, vendor, THU))
        assert rederived == sampling.drawn(later, vendor, THU)


def _runs_of(sessions, kind: str) -> list[QaRun]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return list(s.scalars(select(QaRun).where(QaRun.kind == kind)))


def test_days_older_than_the_catch_up_are_reported_not_skipped(  # type: ignore[no-untyped-def]
    sessions, config: AppConfig
) -> None:
    old = THU - timedelta(days=10)
    store_days(sessions, config, old, old + timedelta(days=1), n=100)
    desk = desk_at(sessions, config, MONDAY_BACK)
    gaps = sampling.draw_due(desk)
    assert [r.kind for r in gaps] == [sampling.GAP] * 4  # two days, two vendors
    assert sampling.draw_due(desk) == []  # reported once
    assert sampled(sessions) == []  # and never drawn

    spec = config.digest("weekly")
    assert spec is not None
    period = period_containing("week", MONDAY_BACK.date(), config.team_tz)

    def render() -> str:
        with sessions() as s:
            out = make_digest(
                s, config, Renderer(config.team_tz), spec, period, MONDAY_BACK, chart=False
            )
        return payload_text(out.payload)

    text = render()
    assert "Not sampled:" in text
    assert f"Northwind CX (Manila) {old:%d}–{old + timedelta(days=1):%d %b} (200 decisions)" in text
    # more late decisions of those days, found later: a new gap, the past digest unchanged
    store_days(sessions, config, old, n=50, prefix="later")
    assert len(sampling.draw_due(desk_at(sessions, config, MONDAY_BACK + timedelta(days=8)))) == 2
    assert render() == text
    with sessions() as s:
        items = s.scalar(select(func.count()).select_from(QaItem))
    assert items == 0
