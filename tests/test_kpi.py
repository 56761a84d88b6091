"""KPI aggregation on small hand-made histories; every expected number is worked out by hand.

Runs on SQLite and (with ESCBOT_TEST_DATABASE_URL) PostgreSQL: the same SQL,
the same nearest-rank percentiles on both.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.reporting import kpi
from bot.reporting.kpi import Attainment, Percentiles, Window, nearest_rank, wilson
from bot.reporting.periods import period_containing
from bot.reporting.report import chart_days
from storage.db import transaction
from storage.models import Ticket
from tests.kpi_data import DAY, NOW, D, H, History, M

PERIOD = Window(D, D + DAY)
PREVIOUS = Window(D - DAY, D)
LUCIA, JONAS, MARCUS = "U05MAD1LFZ3", "U05BER7JBK2", "U05NYC3MRD8"


def sev1_day(h: History) -> None:
    """Ten sev1 tickets opened on the 25th, one an hour, acknowledged 5, 10, … 50 min later
    (target 30 min: the last four breach); the first four resolved after 1h, 2h, 3h and 9h
    (target 8h: the last breaches)."""
    ttrs = [3600, 7200, 10800, 32400]
    for i in range(10):
        created = D + i * H
        tta = (i + 1) * 300
        kw = {}
        if i < 4:
            kw = {
                "status": "resolved",
                "resolved_at": created + timedelta(seconds=ttrs[i]),
                "ttr_seconds": ttrs[i],
                "ttr_breached": i == 3,
            }
        t = h.acked(created, tta, severity="sev1", tta_breached=tta > 1800, **kw)
        if tta > 1800:
            h.breach(t, "tta", created + 30 * M)
        if i == 3:
            h.breach(t, "ttr", created + 8 * H)


def test_nearest_rank() -> None:
    assert [nearest_rank(50, n) for n in (1, 2, 3, 4, 5, 10)] == [1, 1, 2, 2, 3, 5]
    assert [nearest_rank(90, n) for n in (1, 3, 4, 10, 11)] == [1, 3, 4, 9, 10]
    assert nearest_rank(100, 7) == 7


def test_turnaround_percentiles_are_nearest_rank_per_severity(sessions) -> None:
    with transaction(sessions) as s:
        h = History(s)
        sev1_day(h)
        for tta in (100, 700, 50):  # sev2, out of order
            h.acked(D + 12 * H, tta, severity="sev2")
        h.acked(D - 10 * M, 600, severity="sev0")  # acked exactly at the start: counts
        h.acked(D + DAY - 5 * M, 300, severity="sev0")  # acked exactly at the end: does not
        h.acked(D - DAY + 10 * H, 120, severity="sev0")  # the day before
        h.ticket(D + H, severity="sev3", status="acknowledged", acked_at=D + 2 * H)  # unmeasured
    with sessions() as s:
        tta = kpi.tta_percentiles(s, PERIOD)
        ttr = kpi.ttr_percentiles(s, PERIOD)
        before = kpi.tta_percentiles(s, PREVIOUS)
    # sev1 TTA sorted: 300, 600, … 3000 → p50 = 5th = 1500, p90 = 9th = 2700
    # (linear interpolation would give 1650 and 2730).
    assert tta == {
        "sev0": Percentiles(1, {50: 600, 90: 600}),
        "sev1": Percentiles(10, {50: 1500, 90: 2700}),
        "sev2": Percentiles(3, {50: 100, 90: 700}),
    }
    # sev1 TTR: 3600, 7200, 10800, 32400 → p50 = 2nd, p90 = 4th
    assert ttr == {"sev1": Percentiles(4, {50: 7200, 90: 32400})}
    assert before == {"sev0": Percentiles(1, {50: 120, 90: 120})}


def test_sla_attainment_per_severity_and_breaches_in_the_period(sessions) -> None:
    with transaction(sessions) as s:
        h = History(s)
        sev1_day(h)  # ESC-1 … ESC-10
        prev = h.resolved(  # ESC-11: the day before, acked in time, resolved late
            D - DAY + 10 * H,
            18000,
            acked_at=D - DAY + 11 * H,
            tta_seconds=3600,
            ttr_breached=True,
        )
        h.breach(prev, "ttr", D - DAY + 14 * H)
        late = h.ticket(D + 19 * H, severity="sev0", tta_breached=True)  # ESC-12: never acked
        h.breach(late, "tta", D + 20 * H)
    with sessions() as s:
        sla = kpi.sla(s, PERIOD, PREVIOUS, kpi.open_at(s, PERIOD.end))
    # met: the clocks stopped within target; missed: the breaches recorded in the day,
    # ESC-12's ack too, though its clock is still running (breached and still open)
    assert sla.tta == {"sev0": Attainment(0, 1), "sev1": Attainment(6, 4)}
    assert sla.ttr == {"sev1": Attainment(3, 1)}
    assert sla.overall == Attainment(9, 6)
    assert sla.previous == Attainment(1, 1)  # ESC-11: acked in time, its resolve breached
    assert sla.breach_total == 6
    assert [(b.ticket.key, b.clock) for b in sla.breaches] == [
        ("ESC-12", "tta"),
        ("ESC-7", "tta"),
        ("ESC-8", "tta"),
        ("ESC-9", "tta"),
        ("ESC-10", "tta"),
        ("ESC-4", "ttr"),
    ]
    assert sla.breaches[0].at == D + 20 * H
    # clocks still running at the end of the day that had breached: ESC-12's ack only
    assert sla.still_open_total == 1 and sla.still_open[0].ticket.key == "ESC-12"
    assert (sla.still_open_new, sla.late) == (1, 5)
    with sessions() as s:
        open_ids = kpi.open_at(s, PERIOD.end)
        assert kpi.sla(s, PERIOD, PREVIOUS, open_ids, limit=2).breaches[-1].ticket.key == "ESC-7"


def test_wilson_interval_hand_computed() -> None:
    # 8/10: p = 0.8, z² = 3.841459; centre = (0.8 + 0.192073) / 1.384146 = 0.716740,
    # half = 1.959964 / 1.384146 × √(0.016 + 0.009604) = 0.226577
    low, high = wilson(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    low, high = wilson(5, 5)  # all right: lower bound n / (n + z²) = 5 / 8.841459
    assert (round(low, 4), high) == (0.5655, 1.0)
    low, high = wilson(0, 10)
    assert (low, round(high, 4)) == (0.0, 0.2775)
    assert wilson(0, 0) is None


def test_vendor_quality_score_interval_change_and_flag(sessions) -> None:
    with transaction(sessions) as s:
        h = History(s)
        opened = D - 2 * DAY
        for i in range(10):  # Northwind on the 25th: 8 right, 2 wrong
            wrong = i >= 8
            h.resolved(
                opened,
                None,
                resolved_at=D + i * H,
                severity="sev3",
                vendor="northwind_manila",
                vendor_correct=not wrong,
                vendor_error_category=("missed_context", "wrong_policy")[i - 8] if wrong else None,
            )
        for i in range(10):  # Northwind the day before: 9 right
            h.resolved(
                opened,
                None,
                resolved_at=D - DAY + i * H,
                vendor="northwind_manila",
                vendor_correct=i != 0,
            )
        for i in range(5):  # Tejo: 5 of 5
            h.resolved(
                opened, None, resolved_at=D + i * H, vendor="tejo_lisbon", vendor_correct=True
            )
        for right in (True, True, False):  # a vendor not in app.yaml: no target
            h.resolved(opened, None, resolved_at=D + H, vendor="acme", vendor_correct=right)
        h.resolved(opened, None, resolved_at=D + H, vendor="tejo_lisbon")  # no verdict: ignored
    targets = {"northwind_manila": 0.92, "tejo_lisbon": 0.90}
    with sessions() as s:
        got = {q.vendor: q for q in kpi.vendor_quality(s, PERIOD, PREVIOUS, targets)}
    assert list(got) == ["acme", "northwind_manila", "tejo_lisbon"]
    nw = got["northwind_manila"]
    assert (nw.correct, nw.n, nw.previous_correct, nw.previous_n) == (8, 10, 9, 10)
    assert nw.score == 0.8 and nw.previous_score == 0.9
    assert round(nw.change, 6) == -0.1
    assert tuple(round(x, 4) for x in nw.interval) == (0.4902, 0.9433)
    assert nw.below_target and not nw.clearly_below  # 80 % < 92 %, but 92 % is inside the CI
    assert nw.errors == (("missed_context", 1), ("wrong_policy", 1))
    assert nw.wrong.total == 2 and [r.key for r in nw.wrong.top] == ["ESC-9", "ESC-10"]
    tejo = got["tejo_lisbon"]
    assert (tejo.correct, tejo.n, tejo.score, tejo.change) == (5, 5, 1.0, None)
    assert not tejo.below_target and tejo.wrong.total == 0
    acme = got["acme"]
    assert (acme.correct, acme.n, acme.target, acme.below_target) == (2, 3, None, False)


def test_clearly_below_target_when_even_the_upper_bound_is_under_it() -> None:
    q = kpi.VendorQuality("v", 10, 40, 0, 0, 0.9, kpi.Refs(30), ())
    assert q.interval[1] < 0.9 and q.clearly_below and q.below_target


def test_volumes_by_dimension_new_resolved_reopened(sessions) -> None:
    with transaction(sessions) as s:
        h = History(s)
        h.ticket(D, severity="sev1", source_team="legal", language="en")  # ESC-1, at the start
        h.ticket(
            D + 5 * H,
            policy_area="graphic_violence",
            source_team="comms",
            vendor="northwind_manila",
            language="es",
        )  # ESC-2
        h.ticket(D + DAY - M, source_team="legal", vendor="northwind_manila")  # ESC-3
        before = h.resolved(
            D - DAY, 3 * 3600, severity="sev3", source_team="legal", language="en"
        )  # ESC-4: the day before, resolved that day
        h.ticket(D - M, policy_area="graphic_violence", source_team="product")  # ESC-5
        h.ticket(D + DAY)  # ESC-6: the next day
        old = h.resolved(D - 2 * DAY, None, resolved_at=D + 2 * H)  # ESC-7
        h.event(old, "reopen", D + 4 * H)
        h.event(before, "reopen", D - 12 * H)
        h.event(before, "reopen", D + DAY + H)
    with sessions() as s:
        v = kpi.volumes(s, PERIOD, PREVIOUS)
    by = {dim: {x.value: (x.current, x.previous) for x in splits} for dim, splits in v.by.items()}
    assert by == {
        "policy_area": {"hateful_activities": (2, 1), "graphic_violence": (1, 1)},
        "severity": {"sev1": (1, 0), "sev2": (2, 1), "sev3": (0, 1)},
        "source_team": {"legal": (2, 1), "comms": (1, 0), "product": (0, 1)},
        "vendor": {"northwind_manila": (2, 0), None: (1, 2)},
        "language": {"en": (1, 1), "es": (1, 0), None: (1, 1)},
    }
    assert [x.value for x in v.by["severity"]] == ["sev2", "sev1", "sev3"]  # busiest first
    assert (v.new.total, v.previous_new) == (3, 2)
    assert [r.key for r in v.new.top] == ["ESC-1", "ESC-2", "ESC-3"]  # sev1 first, then oldest
    assert v.new.top[0].url == "https://slack.com/archives/C06H2KX8ESC/p1764000001000001"
    assert (v.resolved.total, v.previous_resolved) == (1, 1)
    assert [r.key for r in v.resolved.top] == ["ESC-7"]
    assert (v.reopened.total, v.previous_reopened) == (1, 1)
    assert [r.key for r in v.reopened.top] == ["ESC-7"]


def test_links_show_the_top_few_and_count_the_rest(sessions) -> None:
    with transaction(sessions) as s:
        h = History(s)
        for i in range(7):
            h.ticket(D + i * H, severity="sev3" if i < 5 else "sev0", card_ts=None)
    with sessions() as s:
        v = kpi.volumes(s, PERIOD, PREVIOUS)
    assert v.new.total == 7 and v.new.more == 4
    assert [r.key for r in v.new.top] == ["ESC-6", "ESC-7", "ESC-1"]
    assert v.new.top[0].url is None  # card not posted yet: the key alone


def test_backlog_by_severity_and_oldest_open(sessions) -> None:
    with transaction(sessions) as s:
        h = History(s)
        h.ticket(D - 9 * DAY, severity="sev2", status="acknowledged")  # ESC-1
        h.resolved(D - 20 * DAY, 3600)  # ESC-2: resolved, not backlog
        h.ticket(D - 3 * DAY, severity="sev1", status="waiting_on_reporter")  # ESC-3
        h.ticket(D - 12 * DAY, severity="sev3", status="reopened")  # ESC-4
        h.ticket(D, severity="sev2", status="new")  # ESC-5
        h.ticket(D - 5 * DAY, severity="sev0", status="assigned")  # ESC-6
        h.ticket(D - 1 * DAY, severity="sev2", status="assigned")  # ESC-7
    with sessions() as s:
        b = kpi.backlog(s, NOW)
    assert b.total == 6
    assert b.by_severity == {"sev0": 1, "sev1": 1, "sev2": 3, "sev3": 1}
    assert [r.key for r in b.oldest] == ["ESC-4", "ESC-1", "ESC-6", "ESC-3", "ESC-7"]


def test_followups_opened_done_overdue_with_owners(sessions) -> None:
    with transaction(sessions) as s:
        h = History(s)
        t = h.ticket(D - 20 * DAY)
        h.followup(t, LUCIA, created_at=D + H, due_at=D + 3 * DAY)  # opened, not due
        h.followup(t, JONAS, created_at=D + 2 * H, due_at=D + 5 * H)  # opened, overdue by NOW
        h.followup(t, LUCIA, created_at=D - 5 * DAY, due_at=D - 2 * DAY, done_at=D + 3 * H)
        h.followup(t, JONAS, created_at=D - 10 * DAY, due_at=D - 3 * DAY)  # long overdue
        h.followup(t, MARCUS, created_at=D - 10 * DAY, due_at=D - 9 * DAY, done_at=D - 8 * DAY)
        h.followup(t, MARCUS, created_at=D - H, due_at=D + 10 * DAY)  # opened the day before
    with sessions() as s:
        f = kpi.followups(s, PERIOD, NOW)
    assert f.opened == ((JONAS, 1), (LUCIA, 1))
    assert f.done == ((LUCIA, 1),)
    assert f.overdue == ((JONAS, 2),)
    assert [(i.owner_id, i.due_at) for i in f.overdue_items] == [
        (JONAS, D - 3 * DAY),
        (JONAS, D + 5 * H),
    ]
    assert f.overdue_items[0].ticket.key == "ESC-1"


def test_daily_series_uses_local_days_across_the_spring_dst_change(sessions) -> None:
    dublin = ZoneInfo("Europe/Dublin")
    period = period_containing("day", date(2026, 3, 30), dublin)
    days, bounds = chart_days(period)
    assert days[0] == date(2026, 3, 17) and days[-1] == date(2026, 3, 30) and len(days) == 14
    assert bounds[-2] == datetime(2026, 3, 29, 23, 0, tzinfo=UTC)  # local midnight, IST
    assert bounds[-3] == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # local midnight, GMT
    with transaction(sessions) as s:
        h = History(s)
        h.ticket(datetime(2026, 3, 29, 23, 30, tzinfo=UTC))  # 00:30 IST on the 30th
        h.ticket(datetime(2026, 3, 29, 0, 30, tzinfo=UTC), policy_area="graphic_violence")
        h.ticket(datetime(2026, 3, 28, 23, 59, tzinfo=UTC))
        h.ticket(datetime(2026, 3, 30, 23, 0, tzinfo=UTC))  # the 31st: outside
        h.acked(datetime(2026, 3, 29, 23, 10, tzinfo=UTC), 60)  # acked on the 30th, met
        late = h.resolved(
            datetime(2026, 3, 20, tzinfo=UTC),
            3600,
            resolved_at=datetime(2026, 3, 30, 8, 0, tzinfo=UTC),
            acked_at=datetime(2026, 3, 20, 1, tzinfo=UTC),
            ttr_breached=True,
        )
        h.breach(late, "ttr", datetime(2026, 3, 30, 8, 0, tzinfo=UTC))  # found at the resolve
    with sessions() as s:
        series = kpi.daily(s, days, bounds)
    assert series.volume["hateful_activities"][-3:] == (1, 0, 2)
    assert series.volume["graphic_violence"][-3:] == (0, 1, 0)
    assert series.volume["hateful_activities"][3] == 1  # the 20th
    assert series.attainment[-1] == Attainment(1, 1)
    assert series.attainment[3] == Attainment(1, 0)  # the 20th: acked in time


@pytest.mark.parametrize("n", [1, 2, 7])
def test_percentile_of_identical_values(sessions, n: int) -> None:
    with transaction(sessions) as s:
        h = History(s)
        for _ in range(n):
            h.acked(D + H, 42, severity="sev3")
    with sessions() as s:
        got = kpi.percentiles(s, Ticket.tta_seconds, Ticket.acked_at, PERIOD)
    assert got == {"sev3": Percentiles(n, {50: 42, 90: 42})}
