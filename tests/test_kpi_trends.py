"""Trends worth a look: Poisson spikes against the trailing 28 days, and repeat content."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from bot.reporting import trends
from bot.reporting.kpi import Window
from bot.reporting.periods import period_containing
from bot.reporting.trends import poisson_sf
from storage.db import transaction
from tests.kpi_data import DAY, D, H, History

DUBLIN = ZoneInfo("Europe/Dublin")
PERIOD = Window(D, D + DAY)
BASELINE = Window(D - 28 * DAY, D)


@pytest.mark.parametrize(
    ("c", "mu", "expected"),
    [
        # 1 − e⁻¹(1 + 1 + 1/2 + 1/6 + 1/24) = 1 − e⁻¹·65/24
        (5, 1.0, 0.0036598468273437),
        # 1 − e⁻¹(1 + 1 + 1/2 + 1/6) = 1 − e⁻¹·8/3
        (4, 1.0, 0.0189881568761538),
        (15, 7.0, 0.0057172024924960),
        (14, 7.0, 0.0128113928034202),
        (1100, 1000.0, 0.0009626304058666),  # large μ: no underflow
    ],
)
def test_poisson_upper_tail(c: int, mu: float, expected: float) -> None:
    assert poisson_sf(c, mu) == pytest.approx(expected, rel=1e-9)


def test_poisson_edges() -> None:
    assert poisson_sf(0, 3.0) == 1.0
    assert poisson_sf(1, 0.0) == 0.0  # nothing expected, something seen
    assert poisson_sf(3, 5.0) == pytest.approx(1 - 0.006737947 * (1 + 5 + 12.5), rel=1e-6)


def spike_history(h: History) -> None:
    """Baseline: one Tagalog and one Swahili ticket on each of the 28 days before the 25th.
    On the 25th: 5 Tagalog, 4 Swahili, 5 from APAC and 4 from SSA (regions never seen before).
    Everything is hateful_activities with no source team."""
    for day in range(1, 29):
        h.ticket(D - day * DAY + 10 * H, language="tl")
        h.ticket(D - day * DAY + 11 * H, language="sw")
    for i in range(5):
        h.ticket(D + i * H, language="tl", severity="sev1" if i == 4 else "sev2")
        h.ticket(D + i * H, region="apac")
    for i in range(4):
        h.ticket(D + i * H, language="sw")
        h.ticket(D + i * H, region="ssa")
    h.ticket(D + DAY + H, language="tl")  # the next day: neither period nor baseline


def test_spikes_against_the_trailing_28_day_mean(sessions) -> None:
    with transaction(sessions) as s:
        h = History(s)
        spike_history(h)
    assert h.n == 56 + 18 + 1
    with sessions() as s:
        found = {(x.dimension, x.value): x for x in trends.spikes(s, PERIOD, BASELINE)}
    # tl: 5 vs μ = 28/28 = 1 → p = 0.00366 < 0.01 → spike
    # sw: 4 vs μ = 1 → p = 0.0190, and under the minimum of 5 anyway → no
    # apac: 5 vs μ = 0 → p = 0 → spike; ssa: 4 vs 0 → under the minimum → no
    # hateful_activities: 18 vs μ = 56/28 = 2 → p ≈ 6.2e-12 → spike
    assert set(found) == {
        ("language", "tl"),
        ("region", "apac"),
        ("policy_area", "hateful_activities"),
    }
    tl = found[("language", "tl")]
    assert (tl.count, tl.baseline, tl.expected) == (5, 28, 1.0)
    assert tl.p_value == pytest.approx(0.0036598468273437, rel=1e-9)
    assert tl.tickets.total == 5 and tl.tickets.top[0].severity == "sev1"
    apac = found[("region", "apac")]
    assert (apac.count, apac.baseline, apac.expected, apac.p_value) == (5, 0, 0.0, 0.0)
    area = found[("policy_area", "hateful_activities")]
    assert (area.count, area.baseline, area.expected) == (18, 56, 2.0)
    assert area.p_value == pytest.approx(6.1890077221e-12, rel=1e-6)


def test_spike_expectation_scales_to_a_week(sessions) -> None:
    """A week against the 28 days before it: μ = 7 × baseline/28."""
    week = period_containing("week", date(2026, 11, 23), DUBLIN)  # Mon 23 – Sun 29 Nov
    baseline = Window(week.start - 28 * DAY, week.start)
    with transaction(sessions) as s:
        h = History(s)
        for day in range(1, 29):  # one a day for each language → μ = 7 for the week
            h.ticket(week.start - day * DAY + H, language="de", policy_area="graphic_violence")
            h.ticket(week.start - day * DAY + H, language="fr", policy_area="self_harm")
        for i in range(15):
            h.ticket(week.start + i * 10 * H, language="de", policy_area="violent_extremism")
        for i in range(14):
            h.ticket(week.start + i * 10 * H, language="fr", policy_area="violent_extremism")
    with sessions() as s:
        found = {(x.dimension, x.value): x for x in trends.spikes(s, week.window, baseline)}
    # de: 15 vs 7 → p = 0.0057 → spike; fr: 14 vs 7 → p = 0.0128 → no
    assert ("language", "de") in found and ("language", "fr") not in found
    assert found[("language", "de")].expected == 7.0
    assert found[("language", "de")].p_value == pytest.approx(0.0057172024924960, rel=1e-9)


def test_repeat_content_in_three_tickets_within_28_days(sessions) -> None:
    with transaction(sessions) as s:
        h = History(s)
        # post:1 — three tickets in 28 days, the last in the period → flagged
        for t in (D - 20 * DAY, D - 2 * DAY, D + H):
            h.content(h.ticket(t), "example.com/post/1")
        # post:2 — three tickets, none in the period → not flagged
        for t in (D - 10 * DAY, D - 5 * DAY, D - DAY):
            h.content(h.ticket(t), "example.com/post/2")
        # post:3 — one of three is 29 days back, outside the window → only two
        for t in (D - 28 * DAY - H, D - DAY, D + H):
            h.content(h.ticket(t), "example.com/post/3")
        # post:4 — three items but in two tickets → not flagged
        twice = h.ticket(D + 2 * H)
        h.content(twice, "example.com/post/4")
        h.content(twice, "example.com/post/4")
        h.content(h.ticket(D - 3 * DAY), "example.com/post/4")
        # post:5 — four tickets, one after the period (ignored) → three, flagged
        for t in (D - 27 * DAY, D - 6 * DAY, D + 20 * H, D + DAY + H):
            h.content(h.ticket(t, severity="sev1"), "example.com/post/5")
    with sessions() as s:
        found = trends.repeats(s, PERIOD)
    assert found.total == 2
    assert [(r.normalized, r.tickets.total) for r in found.top] == [
        ("example.com/post/1", 3),
        ("example.com/post/5", 3),
    ]
    assert [t.key for t in found.top[0].tickets.top] == ["ESC-1", "ESC-2", "ESC-3"]
    with sessions() as s:
        assert trends.repeats(s, PERIOD, limit=1).total == 2
