"""The KPI parts per window: what a view over many periods (a dashboard's weeks) relies on.

The SLA figures of a span are the sum of those of its parts, and the chart's daily
attainment says what the SLA section says for each day: both read one definition
(``bot.reporting.kpi.attainment``: a clock counts once, when it stopped within target or
when it breached).
"""

from __future__ import annotations

from itertools import pairwise

from bot.reporting import kpi
from bot.reporting.kpi.attainment import Attainment, breaches, decided
from bot.reporting.kpi.window import Window
from storage.db import transaction
from tests.kpi_data import DAY, D, H, History
from tests.test_kpi import sev1_day


def overall(parts: tuple[dict[str, Attainment], ...]) -> Attainment:
    return sum((a for part in parts for a in part.values()), Attainment())


def test_the_sla_figures_of_a_span_add_up_from_its_parts(sessions) -> None:
    with transaction(sessions) as s:
        h = History(s)
        sev1_day(h)  # the 25th: 10 acknowledged, 4 resolved, 5 breaches
        h.resolved(D - DAY + 10 * H, 3600, tta_seconds=600, severity="sev2")  # the 24th
        late = h.ticket(D + DAY + 2 * H, severity="sev0", tta_breached=True)  # the 26th
        h.breach(late, "tta", D + DAY + 3 * H)
    span = Window(D - DAY, D + 2 * DAY)
    hours = [Window(span.start + i * H, span.start + (i + 1) * H) for i in range(72)]
    with sessions() as s:
        whole = decided(s, span)
        by_hour = [decided(s, w) for w in hours]
        assert overall(whole) == Attainment(11, 6)  # 6 breaches: each clock once
        assert sum((overall(p) for p in by_hour), Attainment()) == overall(whole)
        for clock in (0, 1):  # per clock and severity too
            for sev, got in whole[clock].items():
                parts = (p[clock].get(sev, Attainment()) for p in by_hour)
                assert sum(parts, Attainment()) == got
        assert breaches(s, span)[1] == sum(breaches(s, w)[1] for w in hours) == 6


def test_the_charts_days_say_what_the_sla_section_says(sessions) -> None:
    with transaction(sessions) as s:
        h = History(s)
        sev1_day(h)
        h.resolved(D - DAY + 10 * H, 3600, tta_seconds=600, severity="sev2")
    days = [(D - DAY).date(), D.date(), (D + DAY).date()]
    bounds = [D - DAY, D, D + DAY, D + 2 * DAY]
    with sessions() as s:
        series = kpi.daily(s, days, bounds)
        each = [overall(decided(s, Window(a, b))) for a, b in pairwise(bounds)]
    assert list(series.attainment) == each == [Attainment(2, 0), Attainment(9, 5), Attainment()]
