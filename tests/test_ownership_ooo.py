"""``/escalate ooo``: whole days in the member's own time zone, validated, listed, cleared."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.errors import DomainError, NotAllowed
from bot.routing import absence, workload
from storage.models import OutOfOffice
from tests.desk import BEATRIZ, LEAD, LUCIA, MORNING, PARTNER, desk_at


def ooo(sessions: sessionmaker[Session], config, user: str, args: str, now=MORNING):  # type: ignore[no-untyped-def]
    return absence.command(desk_at(sessions, config, now), user, args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("2026-12-01", "Give the first and the last day"),
        ("next week", "Give the first and the last day"),
        ("2026-12-01 Christmas", "Give the first and the last day"),
        ("2026-13-01 2026-13-05", "`2026-13-01` is not a date"),
        ("2026-12-10 2026-12-01", "The last day (2026-12-01) is before the first (2026-12-10)"),
        ("2026-11-01 2026-11-25", "That absence is already over: today is 2026-11-26"),
        ("2026-12-01 2028-01-01", "At most 366 days at a time"),
    ],
)
def test_bad_dates_are_explained(sessions, config, args: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError, match=re.escape(message)):
        ooo(sessions, config, LUCIA, args)
    with sessions() as s:
        assert s.scalars(select(OutOfOffice)).all() == []


def test_only_pod_people_have_absences(sessions, config) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotAllowed, match="Out of office is for members, leads and admins"):
        ooo(sessions, config, PARTNER, "2026-12-01 2026-12-02")
    with sessions() as s:
        assert s.scalars(select(OutOfOffice)).all() == []


def test_a_lead_is_away_in_the_teams_time_zone(sessions, config) -> None:  # type: ignore[no-untyped-def]
    done = ooo(sessions, config, LEAD, "2026-12-01 2026-12-02 Conference")
    assert done.did == "set" and done.timezone == "Europe/Dublin"
    with sessions() as s:
        row = s.scalars(select(OutOfOffice)).one()
        assert (row.user_id, row.starts_at) == (LEAD, datetime(2026, 12, 1, tzinfo=UTC))


def test_days_are_read_in_the_members_time_zone(sessions, config) -> None:  # type: ignore[no-untyped-def]
    done = ooo(sessions, config, BEATRIZ, "2026-11-27 2026-11-28   Dentist  <!here> ")
    assert done.did == "set" and done.timezone == "America/Sao_Paulo"
    [entry] = done.entries
    assert (entry.first.isoformat(), entry.last.isoformat(), entry.note, entry.current) == (
        "2026-11-27",
        "2026-11-28",
        "Dentist <!here>",
        False,
    )
    with sessions() as s:
        row = s.scalars(select(OutOfOffice)).one()
        # São Paulo is UTC-3: midnight there is 03:00 UTC
        assert row.starts_at == datetime(2026, 11, 27, 3, tzinfo=UTC)
        assert row.ends_at == datetime(2026, 11, 29, 3, tzinfo=UTC)
        ids = [BEATRIZ, LUCIA]
        assert workload.absences(s, ids, row.starts_at - timedelta(seconds=1)) == {}
        assert set(workload.absences(s, ids, row.starts_at)) == {BEATRIZ}
        assert workload.absences(s, ids, row.ends_at) == {}


def test_list_and_clear(sessions, config) -> None:  # type: ignore[no-untyped-def]
    ooo(sessions, config, LUCIA, "2026-11-26 2026-11-26 today")
    ooo(sessions, config, LUCIA, "2026-12-21 2027-01-04 Winter break")
    listed = ooo(sessions, config, LUCIA, "")
    assert listed.did == "listed"
    assert [(e.note, e.current) for e in listed.entries] == [
        ("today", True),
        ("Winter break", False),
    ]
    cleared = ooo(sessions, config, LUCIA, "clear")
    assert (cleared.did, cleared.cleared, cleared.entries) == ("cleared", 2, [])
    with sessions() as s:
        [kept] = s.scalars(select(OutOfOffice)).all()  # today's, ended now: history stays
        assert kept.ends_at == MORNING and kept.note == "today"
        assert workload.absences(s, [LUCIA], MORNING) == {}
