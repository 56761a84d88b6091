"""SLA clock arithmetic, to the second: 24x7, business hours, weekends, holidays, DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import AppConfig
from bot.config.durations import parse_target
from bot.core.render import Renderer
from bot.sla import AT_RISK, TTA, TTR, SlaClock, at_risk_now, clock_for, describe, due, used
from storage.models import Ticket
from tests.test_config import is_business_time

DUBLIN = ZoneInfo("Europe/Dublin")
H = 3600
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


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


def ticket(severity: str, created: datetime, **kw: object) -> Ticket:
    """An in-memory ticket: SLA arithmetic needs no database."""
    fields: dict[str, object] = {
        "key": "ESC-1",
        "severity": severity,
        "status": "acknowledged",
        "created_at": created,
        "paused_seconds": 0,
        "tta_breached": False,
        "ttr_breached": False,
    }
    return Ticket(**{**fields, **kw})


def test_business_ttr_skips_holiday_weekend_dst_and_the_pause(config: AppConfig) -> None:
    # sev3: created Fri 23 Oct 15:00 IST; summer time ends Sun 25; Mon 26 is a bank holiday;
    # waiting on the reporter Tue 27 10:00-12:00 GMT; resolved Wed 28 11:00 GMT.
    clock = clock_for(config, "sev3")
    paused = clock.elapsed(local(2026, 10, 27, 10, 0), local(2026, 10, 27, 12, 0))
    assert paused == 2 * H
    t = ticket(
        "sev3",
        local(2026, 10, 23, 15, 0),
        paused_seconds=paused,
        status="resolved",
        resolved_at=local(2026, 10, 28, 11, 0),
    )
    # Fri 3h + Tue 9h + Wed 2h = 14h counted, 2h of it paused
    assert used(config, t, local(2026, 11, 30, 0, 0)) == 12 * H


def test_spring_forward_ttr_with_a_pause(config: AppConfig) -> None:
    clock = clock_for(config, "sev2")
    paused = clock.elapsed(local(2026, 3, 30, 9, 30), local(2026, 3, 30, 10, 0))
    t = ticket("sev2", local(2026, 3, 27, 16, 0), paused_seconds=paused)
    # Fri 2h + Mon 3h (IST) - 30m
    assert used(config, t, local(2026, 3, 30, 12, 0)) == 4 * H + 30 * 60


def test_due_times_shift_by_the_pause_and_freeze_while_waiting(config: AppConfig) -> None:
    t = ticket("sev2", local(2026, 11, 26, 10, 0))  # Thu: 4 working hours, 2 working days
    assert due(config, t, TTA) == local(2026, 11, 26, 14, 0)
    assert due(config, t, TTA, AT_RISK) == local(2026, 11, 26, 13, 0)
    assert due(config, t, TTR) == local(2026, 11, 30, 10, 0)  # Monday, same time
    assert due(config, t, TTR, AT_RISK) == local(2026, 11, 27, 14, 30)  # 75% of 18h: 8h + 5.5h
    t.paused_seconds = 2 * H
    assert due(config, t, TTA) == local(2026, 11, 26, 16, 0)
    t.waiting_since = local(2026, 11, 26, 11, 0)
    assert due(config, t, TTA) is None
    assert used(config, t, local(2026, 12, 1, 0, 0)) == 0  # 1h counted, 2h paused before
    t.acked_at = local(2026, 11, 26, 10, 30)
    assert due(config, t, TTA) is None and due(config, t, TTR) is None


def test_at_risk_now_and_the_card_line(config: AppConfig) -> None:
    r = Renderer(config.team_tz)
    t = ticket("sev0", T0)  # 24x7: ack 15m
    assert at_risk_now(config, t, T0 + timedelta(seconds=674)) == []
    assert at_risk_now(config, t, T0 + timedelta(seconds=675)) == [TTA]
    assert describe(config, r, t, TTA) == "by Thu 26 Nov 10:15 GMT"
    t.tta_breached = True
    assert describe(config, r, t, TTA) == "was due Thu 26 Nov 10:15 GMT :rotating_light: breached"
    t.acked_at, t.tta_seconds = T0 + timedelta(minutes=20), 1200
    assert describe(config, r, t, TTA) == "done in 20m :rotating_light: breached"
    t.waiting_since = T0 + timedelta(minutes=30)
    assert describe(config, r, t, TTR) == "paused while waiting on the reporter (3h30m left)"


# -- business-hours targets in working days -----------------------------------------------


@pytest.mark.parametrize(
    ("severity", "created", "which", "expected", "why"),
    [
        ("sev2", (2026, 11, 26, 10, 0), TTR, (2026, 11, 30, 10, 0), "Thu + 2 working days"),
        ("sev2", (2026, 12, 3, 17, 0), TTR, (2026, 12, 7, 17, 0), "resolve by Mon 7 Dec 17:00"),
        ("sev2", (2026, 11, 26, 20, 0), TTR, (2026, 11, 30, 18, 0), "after hours: end of Mon"),
        ("sev2", (2026, 11, 28, 11, 0), TTR, (2026, 12, 1, 18, 0), "Saturday: end of Tuesday"),
        (
            "sev2",
            (2026, 11, 27, 16, 0),
            TTA,
            (2026, 11, 30, 11, 0),
            "4 working hours over a weekend",
        ),
        ("sev3", (2026, 12, 3, 10, 0), TTA, (2026, 12, 4, 10, 0), "1 working day: Fri 10:00"),
        ("sev3", (2026, 12, 3, 10, 0), TTR, (2026, 12, 10, 10, 0), "5 working days: a week"),
        # Christmas: Fri 25 and Mon 28 Dec 2026 are holidays, so are the weekend days
        ("sev2", (2026, 12, 23, 12, 0), TTR, (2026, 12, 29, 12, 0), "holidays skipped"),
        ("sev3", (2026, 12, 24, 15, 0), TTA, (2026, 12, 29, 15, 0), "Christmas Eve + 1 day"),
        # summer time starts Sun 29 Mar 2026: the local time is kept, not the UTC one
        ("sev3", (2026, 3, 27, 10, 0), TTA, (2026, 3, 30, 10, 0), "across spring forward"),
        ("sev2", (2026, 10, 23, 15, 0), TTR, (2026, 10, 28, 15, 0), "autumn back + holiday"),
    ],
)
def test_working_days_land_where_a_calendar_says(
    config: AppConfig,
    severity: str,
    created: tuple[int, ...],
    which: str,
    expected: tuple[int, ...],
    why: str,
) -> None:
    t = ticket(severity, local(*created), status="assigned")
    assert due(config, t, which) == local(*expected), why


def test_the_card_says_the_calendar_due_time_and_working_time(config: AppConfig) -> None:
    r = Renderer(config.team_tz)
    t = ticket("sev2", local(2026, 12, 3, 17, 0), status="acknowledged", tta_seconds=600)
    t.acked_at = t.created_at + timedelta(minutes=10)
    assert describe(config, r, t, TTR) == "by Mon 07 Dec 17:00 GMT"
    t.ttr_seconds, t.status = 11 * H + 30 * 60, "resolved"
    assert describe(config, r, t, TTR) == "done in 11h30m of working time"


def test_weeks_are_working_weeks_and_24x7_days_are_calendar_days(config: AppConfig) -> None:
    sev3 = config.severities["sev3"].model_copy(update={"resolve_within": parse_target("1w")})
    cfg = config.model_copy(update={"severities": {**config.severities, "sev3": sev3}})
    t = ticket("sev3", local(2026, 12, 2, 10, 0), status="assigned")  # Wed
    assert due(cfg, t, TTR) == local(2026, 12, 9, 10, 0)  # five working days
    sev1 = config.severities["sev1"].model_copy(update={"resolve_within": parse_target("2d")})
    cfg = config.model_copy(update={"severities": {**config.severities, "sev1": sev1}})
    t = ticket("sev1", local(2026, 11, 28, 10, 0), status="assigned")  # Sat, 24x7
    assert due(cfg, t, TTR) == local(2026, 11, 30, 10, 0)
