"""SLA calendar maths, to the second: 24x7, business hours, weekends, holidays, DST; and its
laws (hypothesis) on generated calendars and time zones, against the calendar read directly."""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import AppConfig, Calendar, load_config
from bot.config.durations import parse_target
from bot.config.fields import WEEKDAYS
from bot.core.timefmt import duration
from bot.sla.calendar import (
    AT_RISK,
    BREACH,
    CLOCKS,
    TTA,
    TTR,
    SlaClock,
    clock_for,
    span,
    target_seconds,
    threshold,
)
from tests.conftest import REPO
from tests.test_config import is_business_time

DUBLIN = ZoneInfo("Europe/Dublin")
H = 3600


def local(*args: int) -> datetime:
    """A Dublin wall-clock time as an aware UTC instant."""
    return datetime(*args, tzinfo=DUBLIN).astimezone(UTC)


@pytest.fixture
def business(config: AppConfig) -> SlaClock:
    return SlaClock(DUBLIN, config.workspace.calendar)


def test_24x7_counts_every_second_and_ignores_dst() -> None:
    clock = SlaClock(DUBLIN)
    # Irish summer time starts Sun 29 Mar 2026 01:00 UTC: the night is an hour shorter
    start, end = local(2026, 3, 28, 22, 0), local(2026, 3, 29, 8, 0)
    assert clock.elapsed(start, end) == 9 * H
    assert clock.add(start, 9 * H) == end
    assert clock.elapsed(end, start) == 0


def test_business_hours_skip_the_weekend(business: SlaClock) -> None:
    # Fri 27 Nov 16:00 → Mon 30 Nov 11:00: 2h on Friday, 2h on Monday
    start, end = local(2026, 11, 27, 16, 0), local(2026, 11, 30, 11, 0)
    assert business.elapsed(start, end) == 4 * H
    assert business.add(start, 4 * H) == end


def test_business_clock_starts_at_next_opening(business: SlaClock) -> None:
    saturday = local(2026, 11, 28, 12, 0)
    assert business.elapsed(saturday, local(2026, 11, 30, 9, 0)) == 0
    assert business.add(saturday, 1) == local(2026, 11, 30, 9, 0, 1)
    assert business.add(saturday, 0) == saturday  # no time to count: where it started
    evening = local(2026, 11, 26, 20, 0)
    assert business.add(evening, 30 * 60) == local(2026, 11, 27, 9, 30)


def test_a_window_ends_exactly_at_closing(business: SlaClock) -> None:
    start = local(2026, 11, 26, 9, 0)
    assert business.add(start, 9 * H) == local(2026, 11, 26, 18, 0)
    assert business.elapsed(start, local(2026, 11, 26, 23, 0)) == 9 * H


def test_holidays_stand_still(business: SlaClock) -> None:
    # Thu 24 Dec 17:00 → Tue 29 Dec 10:00: Christmas (Fri) and St Stephen's (Mon 28) are holidays
    start, end = local(2026, 12, 24, 17, 0), local(2026, 12, 29, 10, 0)
    assert business.elapsed(start, end) == 2 * H
    assert business.add(start, 2 * H) == end


def test_spring_forward_keeps_local_business_hours(business: SlaClock) -> None:
    # Fri 27 Mar 17:00 GMT → Mon 30 Mar 10:00 IST (= 09:00 UTC): 1h + 1h
    start, end = local(2026, 3, 27, 17, 0), local(2026, 3, 30, 10, 0)
    assert end == datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
    assert business.elapsed(start, end) == 2 * H
    # a sev2 acked within 4 business hours, raised Fri 16:00 → due Mon 11:00 IST
    assert business.add(local(2026, 3, 27, 16, 0), 4 * H) == datetime(
        2026, 3, 30, 10, 0, tzinfo=UTC
    )


def test_fall_back_and_holiday_monday(business: SlaClock) -> None:
    # Fri 23 Oct 17:00 IST; summer time ends Sun 25 Oct; Mon 26 Oct is a bank holiday
    start, end = local(2026, 10, 23, 17, 0), local(2026, 10, 27, 10, 0)
    assert start == datetime(2026, 10, 23, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 10, 27, 10, 0, tzinfo=UTC)
    assert business.elapsed(start, end) == 2 * H
    assert business.add(start, 2 * H) == end


def test_long_spans_add_up_day_by_day(business: SlaClock) -> None:
    # sev3's 5d target (120 business hours) from Thu 26 Nov 10:00: 8+9*13 = 125 ≥ 120
    start = local(2026, 11, 26, 10, 0)
    due = business.add(start, 120 * H)
    assert business.elapsed(start, due) == 120 * H
    # Thu 8h, Fri 9h, then 11 weekdays of 9h (Mon 30 Nov … Mon 14 Dec) = 116h; 4h on Tue 15 Dec
    assert due == local(2026, 12, 15, 13, 0)


def test_add_and_elapsed_are_inverse_on_odd_starts(business: SlaClock) -> None:
    start = datetime(2026, 11, 27, 17, 59, 59, 500_000, tzinfo=UTC)
    for seconds in (1, 59, 3600, 9 * H, 9 * H + 1, 40 * H):
        end = business.add(start, seconds)
        assert business.elapsed(start, end) == seconds


def test_clock_for_reads_the_severity(config: AppConfig) -> None:
    assert clock_for(config, "sev0").calendar is None
    assert clock_for(config, "sev2").calendar == config.workspace.calendar
    assert clock_for(config, "sev2").tz == ZoneInfo("Europe/Dublin")


def test_calendar_and_is_business_time_agree(config: AppConfig, business: SlaClock) -> None:
    t = local(2026, 11, 26, 8, 0)
    for _ in range(24 * 14):
        step = t + timedelta(hours=1)
        counted = business.elapsed(t, step)
        assert counted in (0, H)
        assert (counted == H) == is_business_time(config, t + timedelta(minutes=30))
        t = step


# -- targets, thresholds and spans ------------------------------------------------------


def test_targets_count_working_days_on_business_clocks(config: AppConfig) -> None:
    # app.yaml: sev0 24x7 15m/4h; sev2 business hours 4h / 2 working days of 9h; sev3 1d / 5d
    assert (target_seconds(config, "sev0", TTA), target_seconds(config, "sev0", TTR)) == (
        15 * 60,
        4 * H,
    )
    assert target_seconds(config, "sev2", TTR) == 2 * 9 * H
    assert target_seconds(config, "sev3", TTR) == 5 * 9 * H
    sev3 = config.severities["sev3"].model_copy(update={"resolve_within": parse_target("1w")})
    cfg = config.model_copy(update={"severities": {**config.severities, "sev3": sev3}})
    assert target_seconds(cfg, "sev3", TTR) == 5 * 9 * H  # a working week: the calendar's days


def test_thresholds_at_risk_then_breach(config: AppConfig) -> None:
    assert threshold(config, "sev0", TTA, BREACH) == 15 * 60
    assert threshold(config, "sev0", TTA, AT_RISK) == 675  # 75 % of 15 minutes
    assert threshold(config, "sev2", TTR, AT_RISK) == math.ceil(18 * H * 0.75)


def test_spans_read_as_calendar_or_working_time(config: AppConfig) -> None:
    assert span(config, "sev0", 26 * H + 5 * 60) == "1d 2h"
    assert span(config, "sev2", 26 * H + 5 * 60) == "26h 5m of working time"
    assert span(config, "sev2", 3 * H) == "3h of working time"
    assert span(config, "sev2", 59) == "0m of working time"


# -- laws, on generated calendars ---------------------------------------------------------

ZONES = ("Europe/Dublin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC")
EPOCH, LAST = datetime(2025, 1, 1, tzinfo=UTC), datetime(2028, 12, 31, tzinfo=UTC)
QUARTER = timedelta(minutes=15)


@st.composite
def calendars(draw: st.DrawFn) -> SlaClock:
    """A business clock: some weekdays, quarter-hour opening hours clear of the small hours
    when clocks change, a few holidays, in a zone whose offsets are whole quarter hours
    (Lord Howe moves by half an hour, Kathmandu sits at +05:45). At least 3h a day, so the
    longest span drawn fits the ten years :class:`SlaClock` looks ahead."""
    days = draw(st.sets(st.sampled_from(WEEKDAYS), min_size=1))
    opens = draw(st.integers(6 * 4, 20 * 4))
    closes = draw(st.integers(opens + 12, 23 * 4))
    holidays = draw(st.lists(st.dates(date(2025, 1, 1), date(2029, 1, 31)), max_size=40))
    calendar = Calendar(
        days=tuple(d for d in WEEKDAYS if d in days),
        start=time(opens // 4, opens % 4 * 15),
        end=time(closes // 4, closes % 4 * 15),
        holidays=tuple(holidays),
    )
    return SlaClock(ZoneInfo(draw(st.sampled_from(ZONES))), calendar)


def instants(step: timedelta = timedelta(seconds=1)) -> st.SearchStrategy[datetime]:
    """Aware instants from 2025 to 2028, on whole multiples of ``step``."""
    count = int((LAST - EPOCH) / step)
    return st.integers(0, count).map(lambda n: EPOCH + n * step)


def counts(clock: SlaClock, when: datetime) -> bool:
    """The calendar read directly: is ``when`` a business instant of ``clock``?"""
    cal = clock.calendar
    assert cal is not None
    return not cal.is_holiday(when.astimezone(clock.tz).date()) and cal.covers(when, clock.tz)


@settings(max_examples=150, deadline=None)
@given(calendars(), instants(QUARTER), st.integers(0, 7 * 24 * 4))
def test_elapsed_counts_exactly_the_open_quarter_hours(
    clock: SlaClock, start: datetime, quarters: int
) -> None:
    """Against an oracle that knows nothing of windows: each quarter hour of the span counts
    in full if the calendar covers it, else not at all (offsets and hours are quarters)."""
    open_quarters = sum(counts(clock, start + i * QUARTER) for i in range(quarters))
    assert clock.elapsed(start, start + quarters * QUARTER) == open_quarters * 15 * 60


@settings(max_examples=300, deadline=None)
@given(calendars(), instants(timedelta(microseconds=1)), st.integers(1, 400 * 3600))
def test_add_is_the_inverse_of_elapsed_and_lands_in_open_hours(
    clock: SlaClock, start: datetime, seconds: int
) -> None:
    due = clock.add(start, seconds)
    assert clock.elapsed(start, due) == seconds
    assert counts(clock, due - timedelta(microseconds=1))  # the clock ran up to the due time
    assert clock.add(start, seconds + 1) > due


@settings(max_examples=300, deadline=None)
@given(calendars(), st.lists(instants(), min_size=3, max_size=3).map(sorted))
def test_elapsed_adds_up_over_consecutive_spans(clock: SlaClock, abc: list[datetime]) -> None:
    a, b, c = abc
    assert clock.elapsed(a, c) == clock.elapsed(a, b) + clock.elapsed(b, c)
    assert clock.elapsed(a, c) <= (c - a).total_seconds()
    assert clock.elapsed(c, a) == 0


@given(st.sampled_from(ZONES), instants(timedelta(microseconds=1)), st.integers(0, 10**8))
def test_a_24x7_clock_counts_every_second(zone: str, start: datetime, seconds: int) -> None:
    clock = SlaClock(ZoneInfo(zone))
    assert clock.add(start, seconds) == start + timedelta(seconds=seconds)
    assert clock.elapsed(start, start + timedelta(seconds=seconds, microseconds=999)) == seconds


@given(st.sampled_from(("sev0", "sev1", "sev2", "sev3")), st.sampled_from(CLOCKS))
def test_at_risk_comes_first_at_its_share_of_the_target(severity: str, which: str) -> None:
    cfg = _app_config()
    full = threshold(cfg, severity, which, BREACH)
    assert full == target_seconds(cfg, severity, which) > 0
    warn = threshold(cfg, severity, which, AT_RISK)
    assert warn == math.ceil(full * cfg.sla.at_risk_fraction) and 0 < warn <= full


@given(st.integers(0, 10**7))
def test_working_time_spans_spell_the_whole_minutes(seconds: int) -> None:
    cfg = _app_config()
    assert span(cfg, "sev0", seconds) == duration(seconds)
    text = span(cfg, "sev2", seconds)
    assert text.endswith(" of working time") and "d" not in text.split(" of ")[0]
    hours, minutes = (
        int(m.group(1)) if (m := re.search(rf"(\d+){unit}\b", text)) else 0 for unit in "hm"
    )
    assert minutes < 60 and hours * 3600 + minutes * 60 == seconds - seconds % 60


@functools.cache
def _app_config() -> AppConfig:
    """app.yaml (hypothesis tests take no function-scoped fixtures)."""
    return load_config(REPO / "app.yaml")
