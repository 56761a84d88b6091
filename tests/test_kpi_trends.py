"""Trends worth a look: Poisson spikes against the trailing 28 days once a value has a
baseline, and repeat content."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from bot.core.render import Renderer
from bot.reporting import present, trends
from bot.reporting.kpi import Window
from bot.reporting.periods import period_containing
from bot.reporting.trends import poisson_sf
from storage.db import transaction
from tests.kpi_data import DAY, NOW, D, H, History

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
        got = trends.spikes(s, PERIOD, BASELINE)
    found = {(x.dimension, x.value): x for x in got.found}
    # tl: 5 vs μ = 28/28 = 1 → p = 0.00366 < 0.01 → spike
    # sw: 4 vs μ = 1 → p = 0.0190, and under the minimum of 5 anyway → no
    # apac: 5 but never seen before → no baseline yet, not tested; ssa: 4 → under the minimum
    # hateful_activities: 18 vs μ = 56/28 = 2 → p ≈ 6.2e-12 → spike
    assert set(found) == {("language", "tl"), ("policy_area", "hateful_activities")}
    assert got.no_baseline == (trends.Unbaselined("region", "apac", 5),)
    tl = found[("language", "tl")]
    assert (tl.count, tl.baseline, tl.expected) == (5, 28, 1.0)
    assert tl.p_value == pytest.approx(0.0036598468273437, rel=1e-9)
    assert tl.tickets.total == 5 and tl.tickets.top[0].severity == "sev1"
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
        found = {(x.dimension, x.value): x for x in trends.spikes(s, week.window, baseline).found}
    # de: 15 vs 7 → p = 0.0057 → spike; fr: 14 vs 7 → p = 0.0128 → no
    assert ("language", "de") in found and ("language", "fr") not in found
    assert found[("language", "de")].expected == 7.0
    assert found[("language", "de")].p_value == pytest.approx(0.0057172024924960, rel=1e-9)


def test_no_spike_before_a_baseline_and_the_digest_says_so_once(sessions, config) -> None:
    """The issue's first week: 11 tickets from Global, in English, about hateful activities,
    on a desk with no history. The old rule flagged all three "vs 0.0 expected"."""
    week = period_containing("week", date(2026, 11, 23), DUBLIN)
    with transaction(sessions) as s:
        h = History(s)
        for i in range(11):
            h.ticket(week.start + i * 10 * H, region="global", language="en")
    with sessions() as s:
        got = trends.spikes(s, week.window, Window(week.start - 28 * DAY, week.start))
        out = present.make_digest(
            s, config, Renderer(config.team_tz), config.digest("weekly"), week, NOW
        )
    assert got.found == ()
    assert {(u.dimension, u.value, u.count) for u in got.no_baseline} == {
        ("policy_area", "hateful_activities", 11),
        ("region", "global", 11),
        ("language", "en", 11),
    }
    text = present.payload_text(out.payload)
    assert "expected" not in text and ":chart_with_upwards_trend:" not in text
    assert text.count("No baseline yet") == 1  # one line, not one per value
    assert (
        ":hourglass_flowing_sand: No baseline yet (tickets in fewer than 4 of the 4 weeks"
        " before), so not tested for spikes: "
    ) in text
    assert "Region *Global* 11" in text and "Language *English* 11" in text


@pytest.mark.parametrize("weeks", [4, 3])
def test_a_spike_needs_four_weeks_of_history(sessions, weeks: int) -> None:
    """One Tagalog ticket in each of the last ``weeks`` weeks, then 5 in a day: with 4 weeks
    of history (μ = 4/28) a spike, with 3 (the oldest week empty) no baseline yet."""
    with transaction(sessions) as s:
        h = History(s)
        for week in range(weeks):
            h.ticket(D - (week * 7 + 1) * DAY, language="tl", region="apac")
        for i in range(5):
            h.ticket(D + i * H, language="tl", region="apac")
    with sessions() as s:
        got = trends.spikes(s, PERIOD, BASELINE)
    keys = {(x.dimension, x.value) for x in got.found}
    unbaselined = {(u.dimension, u.value) for u in got.no_baseline}
    if weeks == trends.MIN_HISTORY:
        assert {("language", "tl"), ("region", "apac")} <= keys
        tl = next(x for x in got.found if x.value == "tl")
        assert (tl.count, tl.baseline) == (5, 4) and tl.expected == pytest.approx(4 / 28)
        assert ("language", "tl") not in unbaselined
    else:
        assert keys == set()
        assert {("language", "tl"), ("region", "apac")} <= unbaselined


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
