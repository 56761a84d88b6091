"""Digest periods, schedules across DST, the composed message, the chart and ``escbot digest``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from click.testing import CliRunner

from bot.cli import main
from bot.core.blockkit import problems
from bot.core.render import Renderer
from bot.reporting import digests, present, report
from bot.reporting.chart import alt_text, render_chart
from bot.reporting.kpi import Attainment, Daily
from bot.reporting.periods import digest_period, period_before, period_containing
from storage.db import transaction
from tests.kpi_data import DAY, KPI, NOW, D, H, History, M

DUBLIN = ZoneInfo("Europe/Dublin")
REPO_CONFIG = "app.yaml"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fire_times(trigger: CronTrigger, after: datetime, until: datetime) -> list[datetime]:
    """The trigger's fire times in ``(after, until]``, as APScheduler computes them."""
    fires, fire = [], trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    while fire is not None and fire <= until:
        fires.append(fire.astimezone(UTC))
        fire = trigger.get_next_fire_time(fire, fire)
    return fires


# -- periods ----------------------------------------------------------------------------


def test_period_before_is_the_last_complete_day_week_or_month() -> None:
    at = utc(2026, 11, 26, 9, 0)  # Thursday
    day = period_before("day", at, DUBLIN)
    assert (day.start, day.end, day.label) == (D, D + DAY, "Wed 25 Nov 2026")
    week = period_before("week", at, DUBLIN)
    assert (week.first, week.last) == (date(2026, 11, 16), date(2026, 11, 22))
    month = period_before("month", at, DUBLIN)
    assert (month.first, month.last, month.label) == (
        date(2026, 10, 1),
        date(2026, 10, 31),
        "October 2026",
    )
    assert month.start == utc(2026, 9, 30, 23, 0)  # 1 Oct 00:00 IST
    assert month.end == utc(2026, 11, 1, 0, 0)  # 1 Nov 00:00 GMT
    # exactly at midnight the day that just ended is complete
    assert period_before("day", D, DUBLIN).first == date(2026, 11, 24)
    assert period_before("month", utc(2026, 1, 5), DUBLIN).first == date(2025, 12, 1)
    assert day.previous.first == date(2026, 11, 24)
    assert month.previous.first == date(2026, 9, 1)


def test_period_containing_a_date() -> None:
    assert period_containing("week", date(2026, 11, 26), DUBLIN).first == date(2026, 11, 23)
    assert period_containing("month", date(2026, 2, 14), DUBLIN).last == date(2026, 2, 28)
    assert period_containing("day", date(2026, 2, 14), DUBLIN).last == date(2026, 2, 14)


def test_days_around_dst_changes_are_local_midnight_to_midnight() -> None:
    spring = period_before("day", utc(2026, 3, 30, 8, 0), DUBLIN)  # Mon 09:00 IST
    assert spring.first == date(2026, 3, 29)
    assert (spring.start, spring.end) == (utc(2026, 3, 29, 0, 0), utc(2026, 3, 28 + 1, 23, 0))
    assert spring.end - spring.start == timedelta(hours=23)
    autumn = period_before("day", utc(2026, 10, 26, 9, 0), DUBLIN)  # Mon 09:00 GMT
    assert autumn.first == date(2026, 10, 25)
    assert (autumn.start, autumn.end) == (utc(2026, 10, 24, 23, 0), utc(2026, 10, 26, 0, 0))
    assert autumn.end - autumn.start == timedelta(hours=25)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # spring forward on Sun 29 Mar 2026: 09:00 GMT = 09:00 UTC, then 09:00 IST = 08:00 UTC
        (
            utc(2026, 3, 26, 12),
            [utc(2026, 3, 27, 9), utc(2026, 3, 30, 8), utc(2026, 3, 31, 8)],
        ),
        # fall back on Sun 25 Oct 2026
        (
            utc(2026, 10, 22, 12),
            [utc(2026, 10, 23, 8), utc(2026, 10, 26, 9), utc(2026, 10, 27, 9)],
        ),
    ],
)
def test_daily_trigger_fires_at_0900_local_across_dst(config, after, expected) -> None:
    trigger = config.digest_trigger(config.digest("daily"))
    fires = list(fire_times(trigger, after, after + timedelta(days=5)))
    assert fires == expected
    assert {f.astimezone(DUBLIN).strftime("%H:%M %a") for f in fires} <= {
        "09:00 Mon",
        "09:00 Tue",
        "09:00 Fri",
    }
    # and each run covers the time since the previous one: Monday's covers the weekend
    periods = [digest_period(config, config.digest("daily"), f) for f in fires]
    assert [p.end for p in periods] == fires
    assert [p.start for p in periods[1:]] == fires[:-1]
    assert periods[1].first.strftime("%a") == "Fri" and periods[1].last.strftime("%a") == "Mon"


def test_weekly_trigger_and_period(config) -> None:
    weekly = config.digest("weekly")
    fires = list(fire_times(config.digest_trigger(weekly), utc(2026, 10, 20), utc(2026, 11, 3)))
    assert fires == [utc(2026, 10, 26, 9, 30), utc(2026, 11, 2, 9, 30)]
    assert digest_period(config, weekly, fires[0]).first == date(2026, 10, 19)


# -- the composed message ------------------------------------------------------------------


def full_history(h: History) -> None:
    """A bit of everything on Wed 25 Nov, plus a quiet baseline, for the composed digest."""
    for day in range(1, 29):
        h.resolved(D - day * DAY + 9 * H, 3600, language="en", source_team="legal")
    evil = "<!channel> *bold* <https://evil.example|click me> @here"
    opened = [
        h.acked(D + i * H, 300 * (i + 1), severity="sev1", language="tl", source_team="comms")
        for i in range(6)
    ]
    h.ticket(D + 7 * H, summary=evil, severity="sev0", card_ts=None)
    for i, t in enumerate(opened[:3]):
        t.status, t.resolved_at, t.ttr_seconds = "resolved", D + (10 + i) * H, 3600 * (i + 1)
        t.vendor, t.vendor_correct = "northwind_manila", i != 0
        t.vendor_error_category = "missed_context" if i == 0 else None
        h.resolution(t, t.resolved_at)
        h.content(t, "example.com/post/9")
    h.content(h.ticket(D - 3 * DAY), "example.com/post/9")
    opened[5].tta_breached = True
    h.breach(opened[5], "tta", D + 5 * H + 30 * M)
    h.followup(opened[0], "U05MAD1LFZ3", created_at=D + H, due_at=D + 2 * H)


@pytest.fixture
def full_report(sessions, config):  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        full_history(History(s))
    weekly = config.digest("weekly")  # every section
    period = period_containing("day", D.date(), DUBLIN)
    with sessions() as s:
        return present.make_digest(
            s, config, Renderer(config.team_tz), weekly, period, NOW, chart=True
        )


def test_composed_digest_has_every_section_within_block_kit_limits(full_report) -> None:
    payload = full_report.payload
    assert problems(payload, "message") == []
    assert "unfurl_links" not in payload  # the worker posts it with previews off
    assert "response_type" not in payload
    text = json.dumps(payload, ensure_ascii=False)
    for heading in (
        "*Volumes*",
        "*Backlog*",
        "*Turnaround*",
        "*SLA ",
        "*Vendor quality*",
        "*Follow-ups*",
        "*Trends worth a look*",
    ):
        assert heading in text
    plain = present.payload_text(payload)
    assert plain.startswith(":bar_chart: Daily digest")
    assert "New *7* (▲6)" in plain
    assert "*sev1* · ack 15m / 30m (n=6)" in plain  # 5…30 min: p50 = 3rd, p90 = 6th
    assert "resolve 2h / 3h (n=3)" in plain
    assert "*sev1* · ack 5/6 (83%) · resolve 3/3 (100%)" in plain
    assert "Northwind CX (Manila)* 67% (2/3, 21–94%)" in plain
    assert "target 92%" in plain and ":warning:" in plain
    assert "Policy area *Hateful activities*: 7 tickets vs 1.0 expected" in plain
    assert "No baseline yet" in plain and "Language *Tagalog* 6" in plain  # new this week
    assert "`example.com/post/9` in 4 tickets within 28 days" in plain
    assert "overdue 1" in plain and "<@U05MAD1LFZ3>" in plain
    assert "nearest-rank" in plain and "P(X ≥ count) < 0.01" in plain
    assert "Times in Europe/Dublin." in plain


def test_numbers_link_to_ticket_cards(full_report) -> None:
    text = json.dumps(full_report.payload)
    # the card permalink: /archives/<channel>/p<ts without the dot>
    assert "<https://slack.com/archives/C06H2KX8ESC/p1764000029000029|ESC-29>" in text
    assert "and 4 more" in text  # 7 new, 3 linked


def test_user_text_cannot_ping_or_forge_links(full_report) -> None:
    text = json.dumps(full_report.payload, ensure_ascii=False)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<https://evil.example" not in text
    assert "@\u2060here" in text


def test_report_json_has_numbers_and_derived_values(full_report) -> None:
    data = json.loads(report.dumps(full_report.report))
    assert data["period"]["first"] == "2026-11-25"
    assert data["tta"]["sev1"] == {"n": 6, "values": {"50": 900, "90": 1800}}
    [nw, tejo] = data["vendors"]
    assert (nw["vendor"], nw["score"], nw["below_target"]) == ("northwind_manila", 2 / 3, True)
    assert [round(x, 4) for x in nw["interval"]] == [0.2077, 0.9385]
    assert tejo["n"] == 0 and tejo["score"] is None
    assert data["volumes"]["new"]["top"][0]["key"] == "ESC-35"  # the sev0


def test_chart_png_and_alt_text(full_report) -> None:
    png, alt = full_report.chart, full_report.alt_text
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert alt.startswith("Stacked bars: tickets opened per day by policy area, 12 Nov to 25 Nov")
    assert "busiest day Wed 25 Nov with 7" in alt


def test_render_chart_copes_with_empty_days() -> None:
    days = tuple(date(2026, 11, d) for d in range(1, 15))
    daily = Daily(days, {}, tuple(Attainment() for _ in days))
    assert render_chart(daily, {}, "nothing").startswith(b"\x89PNG")
    assert "0 tickets in all" in alt_text(daily, {})


def test_sections_follow_the_configuration(sessions, config) -> None:
    daily = config.digest("daily")  # volumes, backlog, turnaround, sla, followups; a chart
    period = digest_period(config, daily, NOW)
    with sessions() as s:
        out = present.make_digest(s, config, Renderer(config.team_tz), daily, period, NOW)
    text = json.dumps(out.payload)
    assert "Vendor quality" not in text and "Trends" not in text and "Spikes" not in text
    assert out.report.vendors is None and out.report.spikes is None
    assert out.chart is None  # no ticket in the period: no chart of zeros
    assert out.payload["blocks"][0]["block_id"] == "headline"
    assert "*0* new ±0 · *0* open ±0 · *0* breached ±0" in out.payload["blocks"][0]["text"]["text"]
    assert problems(out.payload, "message") == []


def test_late_and_preview_notes(sessions, config) -> None:
    daily = config.digest("daily")
    period = period_containing("day", D.date(), DUBLIN)
    with sessions() as s:
        late = present.make_digest(
            s, config, Renderer(DUBLIN), daily, period, NOW, late=True, scheduled=NOW - 6 * H
        )
        preview = present.make_digest(s, config, Renderer(DUBLIN), daily, period, NOW, preview=True)
    assert "Posted late (due Thu 26 Nov 03:00)" in json.dumps(late.payload, ensure_ascii=False)
    assert preview.payload["response_type"] == "ephemeral"
    assert "nothing was posted" in json.dumps(preview.payload)


def test_human_durations() -> None:
    h = present.human
    assert [h(None), h(0), h(59), h(60), h(3599), h(3600), h(3660), h(86400), h(90000)] == [
        "—",
        "0s",
        "59s",
        "1m",
        "59m",
        "1h",
        "1h 1m",
        "1d",
        "1d 1h",
    ]


# -- escbot digest ---------------------------------------------------------------------------


@pytest.fixture
def cli_env(engine, db_url, sessions):  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        full_history(History(s))
    return {"DATABASE_URL": db_url, "ESCBOT_CONFIG": REPO_CONFIG}


def test_cli_digest_prints_text_json_and_blocks(cli_env, tmp_path) -> None:
    runner = CliRunner()
    base = ["digest", "weekly", "--period", "2026-11-25"]
    text = runner.invoke(main, base, env=cli_env)
    assert text.exit_code == 0, text.output
    assert "Weekly digest · week of Mon 23 Nov 2026" in text.output
    assert "New *9*" in text.output  # the week: 7 on Wednesday, 1 each on Monday and Tuesday
    as_json = runner.invoke(main, [*base, "--format", "json"], env=cli_env)
    assert json.loads(as_json.output)["period"]["first"] == "2026-11-23"
    chart = tmp_path / "c.png"
    blocks = runner.invoke(main, [*base, "--format", "blocks", "--chart", str(chart)], env=cli_env)
    assert blocks.exit_code == 0, blocks.output
    assert json.loads(blocks.stdout)["blocks"][0]["block_id"] == "headline"
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_cli_digest_unknown_name_and_empty_database(cli_env, tmp_path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["digest", "hourly"], env=cli_env)
    assert result.exit_code == 2 and "known: daily, weekly" in result.output
    empty = {**cli_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    result = runner.invoke(main, ["digest", "daily"], env=empty)
    assert result.exit_code == 1 and "escbot db upgrade" in result.output


def test_digest_channel_is_configured(config) -> None:
    assert {d.channel for d in config.digests} == {KPI}


# -- which periods are due (catch-up) ---------------------------------------------------


def test_mondays_daily_covers_the_weekend(config) -> None:
    daily = config.digest("daily")  # 09:00 mon-fri
    [(period, due)] = digests.due_periods(config, daily, utc(2026, 11, 23, 10, 0))
    assert due == utc(2026, 11, 23, 9, 0)
    assert (period.start, period.end) == (utc(2026, 11, 20, 9, 0), due)  # Fri 09:00 → Mon
    assert period.label == "Fri 20 Nov 09:00 → Mon 23 Nov 09:00"
    assert (period.previous.start, period.previous.end) == (utc(2026, 11, 19, 9), period.start)
    tuesday = digest_period(config, daily, utc(2026, 11, 24, 9, 0))
    assert tuesday.start == period.end  # each window starts where the one before ended


def test_due_periods_walk_back_over_a_long_catch_up_window(config) -> None:
    daily = config.digest("daily").model_copy(update={"catch_up": timedelta(days=3)})
    due = digests.due_periods(config, daily, utc(2026, 11, 25, 10, 0))  # Wednesday
    assert [(p.first.day, at) for p, at in due] == [
        (20, utc(2026, 11, 23, 9, 0)),  # since Friday, due Monday
        (23, utc(2026, 11, 24, 9, 0)),
        (24, utc(2026, 11, 25, 9, 0)),
    ]


def test_a_run_missed_beyond_catch_up_is_skipped_and_the_next_covers_its_time(config) -> None:
    daily = config.digest("daily")  # catch_up 12h
    assert digests.due_periods(config, daily, utc(2026, 11, 25, 21, 1)) == []  # 12h01m late
    [(period, due)] = digests.due_periods(config, daily, utc(2026, 11, 26, 9, 5))
    assert (period.start, due) == (utc(2026, 11, 25, 9, 0), utc(2026, 11, 26, 9, 0))
    weekly = config.digest("weekly").model_copy(update={"cron": "* * * * *", "catch_up": H})
    minutes = digests.due_periods(config, weekly, utc(2026, 11, 27, 0, 50))
    assert len(minutes) == 60  # a run a minute, each covering its minute
    assert all(p.end - p.start == M for p, _ in minutes)
