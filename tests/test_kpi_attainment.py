"""SLA attainment counts what is late (escbot#23, item 8): a clock breached and still open is
missed in the period it breached, once, in the text, per severity and in the chart.

The issue's day: 9 clocks stopped within target and 3 tickets whose acknowledge target
passed with nobody on them. The old definition (only the clocks that stopped) said 100 %.
"""

from __future__ import annotations

from datetime import UTC

from bot.core.render import Renderer
from bot.reporting import kpi, present
from bot.reporting.kpi import Attainment, Window
from bot.reporting.kpi.attainment import decided
from bot.reporting.periods import digest_period, period_containing
from bot.reporting.report import chart_days
from storage.db import transaction
from storage.models import Ticket, TicketEvent
from tests.kpi_data import DAY, NOW, D, H, History, M
from tests.test_kpi import LUCIA
from tests.test_kpi_windows import overall

DAY1, DAY2 = Window(D, D + DAY), Window(D + DAY, D + 2 * DAY)


def issue_day(h: History) -> list[Ticket]:
    """Wed 25 Nov: six sev2 tickets acknowledged in time, three of them resolved in time
    (9 clocks met); three sev1 tickets opened at 18:00, 19:00 and 20:00 that nobody
    acknowledged, whose 30-minute target passed (breach rows at :30). Returns those three."""
    for i in range(6):
        kw = {"status": "resolved", "resolved_at": D + (8 + i) * H, "ttr_seconds": 3600}
        h.acked(D + i * H, 600, severity="sev2", **(kw if i < 3 else {}))
    late = []
    for i in range(3):
        t = h.ticket(D + (18 + i) * H, severity="sev1", tta_breached=True)
        h.breach(t, "tta", t.created_at + 30 * M)
        late.append(t)
    return late


def test_breached_and_still_open_counts_as_missed_in_the_digest(sessions, config) -> None:
    with transaction(sessions) as s:
        issue_day(History(s))
    period = period_containing("day", D.date(), config.team_tz)
    with sessions() as s:
        out = present.make_digest(
            s, config, Renderer(config.team_tz), config.digest("weekly"), period, NOW, chart=True
        )
    sla = out.report.sla
    assert sla is not None
    assert sla.overall == Attainment(9, 3) and sla.overall.rate == 0.75
    assert (sla.late, sla.still_open_new, sla.still_open_total) == (0, 3, 3)
    text = present.payload_text(out.payload)
    # the old text: "*SLA* · *9* met · *0* missed · *3* breached and still open" and 100 %
    assert "*SLA 75%* · *9* of *12* on time · *3* breached and still open\n" in text
    assert "100%" not in text.split("*SLA")[1].split("*sev")[0]
    # per severity: the sev1 acks are 0 of 3, not "0/0 (—)"
    assert "*sev1* · ack 0/3 (0%) · resolve 0/0 (—)" in text
    assert "*sev2* · ack 6/6 (100%) · resolve 3/3 (100%)" in text
    assert present.SLA_RULE in text  # the one definition, in the footer
    # the chart's value for the day: 75 %, not the 100 % it drew
    assert out.report.daily is not None
    assert out.report.daily.attainment[-1] == Attainment(9, 3)
    assert out.report.daily.attainment[-1].rate == 0.75
    assert out.alt_text is not None and "SLA attainment 75% over the days shown" in out.alt_text


def test_a_late_clock_counts_once_and_past_figures_never_move(sessions) -> None:
    """Day 1: three acks breach and stay open. Day 2: their resolve targets pass at 02:00,
    03:00 and 04:00, and the first of them is acknowledged and resolved, late. Day 1 says
    the same after day 2 happened, the late ack and resolve of day 2 add nothing (their
    breaches were counted), and the two days add up to the span."""
    with transaction(sessions) as s:
        late = [t.id for t in issue_day(History(s))]
    with sessions() as s:
        day1_before = kpi.sla(s, DAY1, Window(D - DAY, D), kpi.open_at(s, DAY1.end))
    with transaction(sessions) as s:
        h = History(s)
        tickets = [s.get(Ticket, i) for i in late]
        for t in tickets:
            assert t is not None
            h.breach(t, "ttr", t.created_at + 8 * H)  # day 2, 02:00 to 04:00
        first = tickets[0]
        assert first is not None
        acked, resolved = D + DAY + 9 * H, D + DAY + 11 * H
        first.first_acked_at = first.acked_at = acked
        first.tta_seconds = int((acked - first.created_at).total_seconds())
        first.status, first.resolved_at, first.ttr_breached = "resolved", resolved, True
        first.ttr_seconds = int((resolved - first.created_at).total_seconds())
        h.resolution(first, resolved)  # measured late
        s.add(  # the audit trail the backlog rewinds: open at day 1's end
            TicketEvent(
                ticket_id=first.id,
                at=resolved,
                actor_id=LUCIA,
                action="resolve",
                from_status="acknowledged",
                to_status="resolved",
            )
        )
    with sessions() as s:
        day1 = kpi.sla(s, DAY1, Window(D - DAY, D), kpi.open_at(s, DAY1.end))
        day2 = kpi.sla(s, DAY2, DAY1, kpi.open_at(s, DAY2.end))
        span = overall(decided(s, Window(D, D + 2 * DAY)))
        days, bounds = chart_days(period_containing("day", (D + DAY).date(), UTC))
        series = kpi.daily(s, days, bounds)
    assert day1.overall == day1_before.overall == Attainment(9, 3)
    assert (day1.tta, day1.ttr) == (day1_before.tta, day1_before.ttr)
    assert day1.still_open_total == day1_before.still_open_total == 3
    assert day2.overall == Attainment(0, 3)  # the three resolve targets, nothing else
    assert day2.previous == day1.overall
    assert span == day1.overall + day2.overall == Attainment(9, 6)
    assert list(series.attainment[-2:]) == [day1.overall, day2.overall]
    # at day 2's end: two tickets, each with its ack (breached before) and resolve running
    assert (day2.still_open_total, day2.still_open_new, day2.late) == (4, 2, 1)


def test_the_charts_last_day_ends_with_the_period(sessions, config) -> None:
    """The 09:00 daily for Wed 09:00 → Thu 09:00, computed at 11:00: a breach at 10:00 on
    Thursday is the next digest's, in its text and in its chart's Thursday alike."""
    daily = config.digest("daily")
    period = digest_period(config, daily, NOW + 2 * H)
    assert (period.start, period.end) == (NOW - DAY, NOW)
    with transaction(sessions) as s:
        h = History(s)
        for at in (NOW - H, NOW + H):  # Thu 08:00, in the period; Thu 10:00, after it
            t = h.ticket(at - 15 * M, severity="sev0", tta_breached=True)
            h.breach(t, "tta", at)
    with sessions() as s:
        out = present.make_digest(s, config, Renderer(config.team_tz), daily, period, NOW + 2 * H)
    assert out.report.sla is not None and out.report.daily is not None
    assert out.report.sla.overall == Attainment(0, 1)
    assert out.report.daily.days[-1] == NOW.date()
    assert out.report.daily.attainment[-1] == out.report.sla.overall  # not Attainment(0, 2)
