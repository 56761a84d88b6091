"""Holidays that don't run out: the team calendar takes a country's public holidays from
the holidays package, with the company's own days added or removed, and an explicit list
that is about to end is said by ``check-config`` and the start log."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import main
from bot.config import AppConfig, Calendar, ConfigError, load_config
from bot.config.advisories import config_advisories
from bot.runtime import Runtime
from bot.settings import Settings
from bot.sla.calendar import SlaClock
from tests.conftest import REPO

DUBLIN = ZoneInfo("Europe/Dublin")
#: app.yaml's calendar as it was filed in #23: Irish holidays listed by hand, to 2026-12-28.
LISTED = {
    "holidays": ["2026-03-17", "2026-10-26", "2026-12-25", "2026-12-28"],
}


def with_calendar(tmp_path: Path, calendar: dict[str, object]) -> Path:
    data = yaml.safe_load((REPO / "app.yaml").read_text())
    data["workspace"]["calendar"] = calendar
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_country_gives_next_years_holidays(config: AppConfig) -> None:
    cal = config.workspace.calendar
    assert cal.country == "IE"
    assert cal.is_holiday(date(2027, 1, 1))  # New Year's Day: past any list in app.yaml
    assert cal.is_holiday(date(2031, 3, 17))  # St Patrick's Day, years ahead
    assert cal.is_holiday(date(2026, 12, 28))  # the company's extra day
    assert not cal.is_holiday(date(2027, 1, 4))


def test_a_business_clock_stands_still_on_new_years_day(config: AppConfig) -> None:
    clock = SlaClock(DUBLIN, config.workspace.calendar)
    start = datetime(2026, 12, 31, 17, 0, tzinfo=DUBLIN).astimezone(UTC)
    # one working hour on Thursday 31 Dec, none on Friday 1 Jan, the rest on Monday 4 Jan
    due = clock.add(start, 3 * 3600)
    assert due == datetime(2027, 1, 4, 11, 0, tzinfo=DUBLIN).astimezone(UTC)


def test_days_are_added_and_taken_back() -> None:
    cal = Calendar.model_validate(
        {"country": "ie", "extra_holidays": ["2027-01-05"], "not_holidays": ["2027-03-17"]}
    )
    assert cal.country == "IE"
    assert cal.is_holiday(date(2027, 1, 5))
    assert not cal.is_holiday(date(2027, 3, 17))  # the company works St Patrick's Day
    assert cal.is_holiday(date(2027, 1, 1))
    assert cal.listed_until is None  # nothing to run out


def test_the_older_holidays_key_is_still_read() -> None:
    cal = Calendar.model_validate(LISTED)
    assert cal.extra_holidays[-1] == date(2026, 12, 28)
    assert not cal.is_holiday(date(2027, 1, 1))  # no country: the list is all there is
    assert cal.listed_until == date(2026, 12, 28)


@pytest.mark.parametrize(
    ("calendar", "reason"),
    [
        ({"country": "IX"}, "workspace.calendar.country: not a country the holidays package"),
        ({"country": "GB", "subdivision": "SCX"}, "unknown subdivision 'SCX' of GB"),
        ({"subdivision": "SCT"}, "workspace.calendar: subdivision needs a country"),
    ],
)
def test_an_unknown_country_is_refused_with_its_key(
    tmp_path: Path, calendar: dict[str, object], reason: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(with_calendar(tmp_path, calendar))
    assert reason in str(err.value)


def test_a_list_ending_within_60_days_is_advised_and_a_country_is_not(tmp_path: Path) -> None:
    listed = load_config(with_calendar(tmp_path, LISTED))
    [advice] = config_advisories(listed, date(2026, 12, 8))
    assert advice.startswith("workspace.calendar: the holiday list ends on 2026-12-28;")
    assert "workspace.calendar.country" in advice
    assert config_advisories(listed, date(2026, 10, 28)) == []  # 61 days ahead: not yet
    [ended] = config_advisories(listed, date(2027, 1, 2))
    assert "the holiday list ended on 2026-12-28" in ended
    assert config_advisories(load_config(REPO / "app.yaml"), date(2026, 12, 8)) == []


def test_check_config_warns_when_the_list_ends(tmp_path: Path) -> None:
    ends = datetime.now(DUBLIN).date() + timedelta(days=20)
    path = with_calendar(tmp_path, {"holidays": [ends.isoformat()]})
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    assert f"warning: workspace.calendar: the holiday list ends on {ends:%Y-%m-%d}" in result.output
    assert result.output.rstrip().endswith("OK")
    ok = CliRunner().invoke(main, ["check-config", str(REPO / "app.yaml")])
    assert "warning" not in ok.output
    assert "public holidays of IE, 1 extra holiday" in ok.output


def test_the_start_log_warns_when_the_list_ends(  # type: ignore[no-untyped-def]
    tmp_path, db_url, fake_slack, clock, caplog
) -> None:
    ends = clock.now().astimezone(DUBLIN).date() + timedelta(days=20)  # the runtime's today
    listed = load_config(with_calendar(tmp_path, {"holidays": [ends.isoformat()]}))
    settings = Settings(
        bot_token="xoxb-test-token",
        signing_secret="s",
        api_url=fake_slack.url,
        database_url=db_url,
        host="127.0.0.1",
        port=0,
    )
    caplog.set_level("WARNING", logger="bot.runtime")
    Runtime.build(settings, listed, clock=clock).shutdown()  # built, never started
    assert f"app.yaml: workspace.calendar: the holiday list ends on {ends:%Y-%m-%d}" in caplog.text
