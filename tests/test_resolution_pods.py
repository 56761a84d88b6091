"""Resolution, follow-ups and status are scoped to the ticket's own pod, with a second pod
on the desk: another pod's member is refused with a message naming the pod, and each kind
of refusal is audited once, however often it is repeated."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.core.clock import FakeClock
from bot.core.desk import Desk
from bot.intake import tracking
from bot.resolution import entry, followups
from bot.tickets.permissions import AUDIT_WINDOW, REFUSED, Refused
from storage.db import transaction
from storage.models import FollowUp, Ticket, TicketEvent
from tests.desk import FRAUD_LEAD, FRAUDSTER, desk_at, two_pods
from tests.test_resolution import LEAD, LUCIA, REPORTER, T0, new_ticket

CH = "Critical Harms"


@pytest.fixture(scope="module")
def config() -> AppConfig:  # the escbot fixture serves this one too
    return two_pods()


@pytest.fixture
def desk(sessions: sessionmaker[Session], config: AppConfig) -> Desk:
    return desk_at(sessions, config, T0)


_views = count()


def submitted(ticket_id: int, actor: str, **values: str) -> entry.Submitted:
    return entry.Submitted(ticket_id, f"V{next(_views)}", values, actor)


RESOLVE = {"decision": "removed", "rationale": "Slurs (HA-3).", "policy_section": "2"}


def refusals(sessions: sessionmaker[Session], ticket_id: int) -> Counter[str]:
    with sessions() as s:
        events = s.scalars(
            select(TicketEvent).where(
                TicketEvent.ticket_id == ticket_id, TicketEvent.action == REFUSED
            )
        ).all()
    assert {e.actor_id for e in events} <= {FRAUDSTER}
    return Counter(e.payload["doing"] for e in events)


def refused(attempt: Callable[[], object]) -> str:
    with pytest.raises(Refused) as err:
        attempt()
    return str(err.value)


def test_config_has_a_second_pod(config: AppConfig) -> None:
    assert [p.title for p in config.pods.values() if p.member(FRAUDSTER)] == ["Trust and Fraud"]
    assert config.can_act(FRAUDSTER) and config.can_act(FRAUD_LEAD)
    assert config.pod_for_area("hateful_activities").title == CH


def test_another_pods_member_is_refused_on_an_open_ticket_and_audited_once(
    sessions: sessionmaker[Session], config: AppConfig, desk: Desk
) -> None:
    tid = new_ticket(sessions, config)
    with sessions() as s:
        key = s.get_one(Ticket, tid).key
    nothing = "; nothing was changed."
    only = f"Only members of the {CH} pod (and escbot admins) can"
    attempts: dict[str, tuple[Callable[[], object], str]] = {
        "resolve (button)": (
            lambda: entry.resolve_modal(desk, key, actor=FRAUDSTER),
            f"{only} resolve {key}{nothing}",
        ),
        "resolve": (
            lambda: entry.resolve(desk, submitted(tid, FRAUDSTER, **RESOLVE)),
            f"{only} resolve {key}{nothing}",
        ),
        "ask (button)": (
            lambda: entry.ask_modal(desk, key, actor=FRAUDSTER),
            f"{only} ask the reporter about {key}{nothing}",
        ),
        "ask": (
            lambda: entry.ask_reporter(desk, submitted(tid, FRAUDSTER, question="Which post?")),
            f"{only} ask the reporter about {key}{nothing}",
        ),
        "follow-up (button)": (
            lambda: entry.followup_modal(desk, key, actor=FRAUDSTER),
            f"{only} add follow-ups to {key}{nothing}",
        ),
        "follow-up": (
            lambda: entry.add_followup(
                desk,
                submitted(
                    tid,
                    FRAUDSTER,
                    kind="tooling",
                    description="Classifier misses digit slurs",
                    owner=FRAUDSTER,
                    due="2026-12-07",
                ),
            ),
            f"{only} add follow-ups to {key}{nothing}",
        ),
        "status": (
            lambda: tracking.status(desk, key, viewer=FRAUDSTER),
            f"Only the reporter, the people following it and the {CH} pod can see {key}.",
        ),
    }
    for attempt, message in attempts.values():
        for _ in range(20):
            assert refused(attempt) == message
    with sessions() as s:
        ticket = s.get_one(Ticket, tid)
        assert (ticket.status, ticket.decision, ticket.acked_at) == ("assigned", None, None)
        assert s.scalar(select(func.count()).select_from(FollowUp)) == 0
    assert refusals(sessions, tid) == {
        "resolve": 1,
        "ask the reporter about": 1,
        "add follow-ups to": 1,
        "see": 1,
    }
    # the ticket's own pod goes on as before (the refusals changed nothing it needs)
    entry.resolve(desk, submitted(tid, LUCIA, **RESOLVE))
    assert "ESC-1" in json.dumps(tracking.status(desk, key, viewer=REPORTER))


def test_another_pods_member_cannot_reopen_or_change_follow_ups(
    sessions: sessionmaker[Session], config: AppConfig, desk: Desk
) -> None:
    tid = new_ticket(sessions, config)
    form = submitted(
        tid, LUCIA, kind="tooling", description="Digit slurs", owner=LUCIA, due="2026-12-07"
    )
    entry.add_followup(desk, form)
    entry.resolve(desk, submitted(tid, LEAD, **RESOLVE))
    with sessions() as s:
        key = s.get_one(Ticket, tid).key
        fid = s.scalars(select(FollowUp.id)).one()
    reopen = f"Only the reporter or members of the {CH} pod can reopen {key}; nothing was changed."
    change = (
        f"Only its owner or members of the {CH} pod can change follow-ups of {key}; "
        "nothing was changed."
    )
    for _ in range(20):
        assert refused(lambda: entry.reopen_modal(desk, key, actor=FRAUDSTER)) == reopen
        form = submitted(tid, FRAUDSTER, reason="Looks wrong")
        assert refused(lambda: entry.reopen(desk, form)) == reopen  # noqa: B023
        assert refused(lambda: entry.followup_done(desk, fid, actor=FRAUDSTER)) == change
        assert refused(lambda: entry.followup_snooze(desk, fid, actor=FRAUDSTER)) == change
    with sessions() as s:
        assert s.get_one(Ticket, tid).status == "resolved"
        fu = s.get_one(FollowUp, fid)
        assert (fu.status, fu.snoozed_until) == ("open", None)
        # their own list of the desk's follow-ups leaves out another pod's
        assert followups.listing(s, config, FRAUDSTER, T0)["team"] == []
        assert len(followups.listing(s, config, LEAD, T0)["team"]) == 1
    assert refusals(sessions, tid) == {"reopen": 1, "change follow-ups of": 1}
    entry.reopen(desk, submitted(tid, REPORTER, reason="The slurs are back"))
    with sessions() as s:
        assert s.get_one(Ticket, tid).status == "reopened"


def test_a_refusal_is_audited_again_after_the_window(
    sessions: sessionmaker[Session], config: AppConfig, desk: Desk
) -> None:
    tid = new_ticket(sessions, config)
    with sessions() as s:
        key = s.get_one(Ticket, tid).key
    clock = desk.clock
    assert isinstance(clock, FakeClock)
    refused(lambda: tracking.status(desk, key, viewer=FRAUDSTER))
    clock.advance(AUDIT_WINDOW + timedelta(seconds=1))
    refused(lambda: tracking.status(desk, key, viewer=FRAUDSTER))
    assert refusals(sessions, tid) == {"see": 2}


def test_members_of_the_other_pod_keep_their_own_tickets(
    sessions: sessionmaker[Session], config: AppConfig, desk: Desk
) -> None:
    tid = new_ticket(sessions, config)
    with transaction(sessions) as s:  # a scams ticket, as routing would file it
        s.get_one(Ticket, tid).policy_area = "scams"
    scams = {"decision": "removed", "rationale": "A fake giveaway.", "policy_section": "0"}
    with sessions() as s:
        key = s.get_one(Ticket, tid).key
    assert refused(lambda: entry.resolve_modal(desk, key, actor=LUCIA)) == (
        f"Only members of the Trust and Fraud pod (and escbot admins) can resolve {key}; "
        "nothing was changed."
    )
    entry.resolve(desk, submitted(tid, FRAUDSTER, **scams))
    with sessions() as s:
        assert s.get_one(Ticket, tid).status == "resolved"


# -- over HTTP: the card's buttons and /escalate status --------------------------------


def test_clicks_and_status_of_another_pods_member_are_explained(
    escbot, fake_slack, user_factory
) -> None:  # type: ignore[no-untyped-def]
    from tests.test_resolution_http import card, escalate, told

    partner = user_factory(REPORTER)
    ticket, msg = escalate(escbot, fake_slack, partner, "Slur campaign under a creator's posts")
    fraud = user_factory(FRAUDSTER)
    mark = fake_slack.mark()
    only = f"Only members of the {CH} pod (and escbot admins) can"
    for button, doing in (
        ("Resolve", "resolve"),
        ("Ask reporter", "ask the reporter about"),
        ("Add follow-up", "add follow-ups to"),
    ):
        said = told(fake_slack, fraud, lambda b=button: fraud.click(msg, b))
        assert said == f":information_source: {only} {doing} {ticket.key}; nothing was changed."
    assert not [c for c in fake_slack.calls[mark:] if c.method == "views.open"]

    mark = fake_slack.mark()
    fraud.command("/escalate", text=f"status {ticket.key}")
    assert fake_slack.wait_for("response_url", since=mark).args["text"] == (
        f":information_source: Only the reporter, the people following it and the {CH} pod "
        f"can see {ticket.key}."
    )
    assert card(fake_slack, ticket)  # the card itself is untouched
    assert refusals(escbot.services.sessions, ticket.id) == {
        "resolve": 1,
        "ask the reporter about": 1,
        "add follow-ups to": 1,
        "see": 1,
    }
