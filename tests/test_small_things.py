"""Where the product said one thing and did another, over signed HTTP with a moving clock:
the ooo hint only for those who may use it, "due today" until the end of the owner's day
with "due now" at that time, and summaries that start with a subcommand word."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.delivery.worker import Pacer
from handlers.commands import subcommand
from storage.models import OutOfOffice
from tests.desk import ADMIN, JONAS, LEAD, LUCIA, PARTNER
from tests.test_resolution_http import escalate, modal, settle

HINT = "Going away? `/escalate ooo`"


@pytest.fixture(autouse=True)
def quick_delivery(escbot) -> None:  # type: ignore[no-untyped-def]
    escbot.services.outbox.pacer = Pacer(rate=1000, burst=1000)


def home_of(fake_slack, user) -> str:  # type: ignore[no-untyped-def]
    mark = fake_slack.mark()
    assert user.app_home_opened().status_code == 200
    fake_slack.wait_for(
        lambda c: c.method == "views.publish" and c.args.get("user_id") == user.user_id, since=mark
    )
    return json.dumps(fake_slack.home_view(user.user_id)["blocks"])


def test_ooo_hint_only_for_those_who_may_use_it(escbot, fake_slack, user_factory) -> None:  # type: ignore[no-untyped-def]
    for who in (LUCIA, LEAD, ADMIN):  # a pod member, the lead, an admin: all may be away
        assert HINT in home_of(fake_slack, user_factory(who))
    assert HINT not in home_of(fake_slack, user_factory(PARTNER))
    for text in ("ooo", "ooo 2026-12-01 2026-12-02"):
        mark = fake_slack.mark()
        user_factory(PARTNER).command("/escalate", text=text)
        refused = json.dumps(fake_slack.wait_for("response_url", since=mark).args)
        assert "Out of office is for members, leads and admins" in refused
    with escbot.services.sessions() as s:
        assert s.scalars(select(OutOfOffice)).all() == []


@pytest.mark.parametrize(
    ("text", "runs"),
    [
        ("status ESC-4", ("status", "ESC-4")),
        ("Status of creator account used for slurs", None),
        ("status", ("status", "")),
        ("mine", ("mine", "")),
        ("Mine workers targeted by a hate page", None),
        ("ooo 2026-12-21 2027-01-04 Winter break", ("ooo", "2026-12-21 2027-01-04 Winter break")),
        ("ooo clear", ("ooo", "clear")),
        ("OOO replies used to spread slurs", None),
        ("sev ESC-4 sev0 live attack", ("sev", "ESC-4 sev0 live attack")),
        ("Sev threats against a streamer", None),
        ("digest weekly", ("digest", "weekly")),
        ("Digest of hate raids on a stream", None),
        ("followup esc-3", ("followup", "esc-3")),
        ("Followup to the raid yesterday", None),
        ("followups", ("followups", "")),
        ("help", ("help", "")),
        ("Help: a creator is being doxxed", None),
    ],
)
def test_a_subcommand_runs_only_when_the_rest_reads_as_its_arguments(
    text: str, runs: tuple[str, str] | None
) -> None:
    found = subcommand(text)
    got = None if found is None else (found[0].usage.split()[0], found[1])
    assert got == runs


def test_a_summary_starting_with_a_subcommand_word_opens_the_form(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory
) -> None:
    partner = user_factory(PARTNER)
    mark = fake_slack.mark()
    assert partner.command("/escalate", text="Status of creator account used for slurs").ok
    fake_slack.wait_for("views.open", since=mark)
    form = json.dumps(fake_slack.last_view(PARTNER))
    assert "Status of creator account used for slurs" in form  # the summary, prefilled
    mark = fake_slack.mark()
    assert partner.command("/escalate", text="status ESC-99").ok  # the subcommand still works
    answer = json.dumps(fake_slack.wait_for("response_url", since=mark).args)
    assert "There is no ticket ESC-99" in answer


def test_due_today_is_accepted_until_the_end_of_the_owners_day(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory, clock
) -> None:
    _, msg = escalate(escbot, fake_slack, user_factory(PARTNER), "Vendor missed a slur")
    lead = user_factory(LEAD)
    clock.set(datetime(2026, 11, 26, 19, 0, tzinfo=UTC))  # after 18:00 in Dublin; 20:00 Berlin
    view = modal(fake_slack, lead, msg, "Add follow-up")
    fields = {
        "Kind": "Vendor training",
        "What needs doing": "Brief the vendor tonight",
        "Owner": JONAS,  # in Berlin
        "Due date": "2026-11-26",
    }
    resp = lead.submit_view(view, fields)
    assert resp.status_code == 200 and not resp.content.strip(b"{} ")  # accepted
    settle(escbot)
    dms = lambda: json.dumps([m.blocks for m in fake_slack.dms(JONAS)])  # noqa: E731
    assert "made you the owner" in dms() and "Overdue" not in dms()

    clock.set(datetime(2026, 11, 26, 22, 59, tzinfo=UTC))  # 23:59 in Berlin: the due time
    escbot.services.timers.run_due()
    escbot.services.timers.run_due()
    settle(escbot)
    assert "*Due now* (Thu 26 Nov, 23:59 your time)" in dms() and "Overdue" not in dms()

    clock.advance(timedelta(days=1))
    escbot.services.timers.run_due()
    settle(escbot)
    assert "*Overdue* since Thu 26 Nov" in dms()

    # a day that is over for the owner is still refused as past
    clock.set(datetime(2026, 11, 27, 23, 30, tzinfo=UTC))  # 00:30 on the 28th in Berlin
    view = modal(fake_slack, lead, msg, "Add follow-up")
    resp = lead.submit_view(view, {**fields, "Due date": "2026-11-27"})
    assert resp.json()["errors"] == {"due": "The due date can't be in the past."}
