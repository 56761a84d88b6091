"""The permission rules themselves (``bot.tickets.permissions.check``), without a server.

tests/test_authorization_table.py runs the same table through signed HTTP, one ticket a
cell, in about 40 s; this runs every verb for every kind of person on plain objects in
well under a second, and pins the wording of each refusal. It is the runner of the
mutation test of the module (docs/testing.md).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import AppConfig
from bot.core.errors import NotAllowed
from bot.core.render import Renderer
from bot.tickets import permissions
from bot.tickets.permissions import (
    REFUSED,
    Refused,
    Verb,
    allowed,
    audited,
    check,
    check_desk,
    may_see,
    on_desk,
)
from storage.db import transaction
from storage.models import FollowUp, Ticket, TicketEvent, Watcher
from tests.desk import ADMIN, FRAUDSTER, JONAS, LEAD, LUCIA, MORNING, PARTNER, new_ticket, two_pods

WATCHER, STRANGER = "U07WATCH01", "U09NOBODY1"
ROLES = {
    "reporter": PARTNER,
    "watcher": WATCHER,
    "owner": JONAS,  # a member of the ticket's pod, and its assignee
    "same_pod": LUCIA,
    "other_pod": FRAUDSTER,
    "lead": LEAD,
    "admin": ADMIN,
    "stranger": STRANGER,
}
Y, N = True, False
#: verb: may reporter, watcher, owner, same-pod member, other-pod member, lead, admin, stranger
TABLE: dict[Verb, tuple[bool, ...]] = {
    Verb.ACK: (N, N, Y, N, N, Y, Y, N),
    Verb.TAKE: (N, N, Y, Y, N, Y, Y, N),
    Verb.REASSIGN: (N, N, Y, Y, N, Y, Y, N),
    Verb.RESOLVE: (N, N, Y, Y, N, Y, Y, N),
    Verb.ASK: (N, N, Y, Y, N, Y, Y, N),
    Verb.RESUME: (N, N, Y, Y, N, Y, Y, N),
    Verb.REOPEN: (Y, N, Y, Y, N, Y, Y, N),
    Verb.FOLLOW_UP: (N, N, Y, Y, N, Y, Y, N),
    Verb.CHANGE_FOLLOW_UP: (N, N, Y, Y, N, Y, Y, N),  # the follow-up's owner, creator too
    Verb.SEE: (Y, Y, Y, Y, N, Y, Y, N),
    Verb.ADMIT: (N, N, Y, N, N, Y, Y, N),
}


@pytest.fixture(scope="module")
def config() -> AppConfig:
    return two_pods()


def ticket(assignee: str | None = JONAS) -> Ticket:
    return Ticket(
        id=7, key="ESC-7", policy_area="hateful_activities", reporter_id=PARTNER,
        assignee_id=assignee,
    )  # fmt: skip


@pytest.mark.parametrize("verb", list(TABLE))
def test_who_may_do_what(config: AppConfig, verb: Verb) -> None:
    got = tuple(
        allowed(config, ticket(), user, verb)
        if verb is not Verb.SEE
        else _sees(config, ticket(), user, watchers=[WATCHER])
        for user in ROLES.values()
    )
    assert dict(zip(ROLES, got, strict=True)) == dict(zip(ROLES, TABLE[verb], strict=True))


def _sees(cfg: AppConfig, t: Ticket, user: str, watchers: list[str]) -> bool:
    try:
        check(cfg, t, user, Verb.SEE, watchers=watchers)
    except Refused:
        return False
    return True


def test_a_follow_up_is_changed_by_its_owner_and_creator_too(config: AppConfig) -> None:
    fu = FollowUp(owner_id=PARTNER, created_by=WATCHER)
    for user in (PARTNER, WATCHER):
        check(config, ticket(), user, Verb.CHANGE_FOLLOW_UP, followup=fu)
    with pytest.raises(Refused):
        check(config, ticket(), STRANGER, Verb.CHANGE_FOLLOW_UP, followup=fu)
    with pytest.raises(Refused):  # no follow-up named: only the pod
        check(config, ticket(), PARTNER, Verb.CHANGE_FOLLOW_UP)


def test_an_owner_outside_the_pod_may_acknowledge_and_admit_but_not_take(
    config: AppConfig,
) -> None:
    mine = ticket(assignee=FRAUDSTER)  # reassigned across pods by an admin
    check(config, mine, FRAUDSTER, Verb.ACK)
    check(config, mine, FRAUDSTER, Verb.ADMIT)
    check(config, mine, FRAUDSTER, Verb.SEE)
    assert not allowed(config, mine, FRAUDSTER, Verb.TAKE)


@pytest.mark.parametrize(
    ("user", "verb", "assignee", "message"),
    [
        (LUCIA, Verb.ACK, JONAS, "ESC-7 is <@U05BER7JBK2>'s to acknowledge; nothing was "
         "changed. To make it yours, use *Take*."),
        (LUCIA, Verb.ACK, None, "ESC-7 is its owner's to acknowledge; nothing was changed. "
         "To make it yours, use *Take*."),
        (PARTNER, Verb.ACK, JONAS, "ESC-7 is <@U05BER7JBK2>'s to acknowledge; nothing was "
         "changed."),
        (LUCIA, Verb.ADMIT, JONAS, "Only the owner of ESC-7 (or the Critical Harms lead) can "
         "let people follow it; nothing was changed."),
        (PARTNER, Verb.TAKE, JONAS, "Only members of the Critical Harms pod (and escbot "
         "admins) can take ESC-7; nothing was changed."),
        (WATCHER, Verb.REOPEN, JONAS, "Only the reporter or members of the Critical Harms "
         "pod can reopen ESC-7; nothing was changed."),
        (STRANGER, Verb.SEE, JONAS, "Only the reporter, the people following it and the "
         "Critical Harms pod can see ESC-7."),
        (STRANGER, Verb.CHANGE_FOLLOW_UP, JONAS, "Only its owner or members of the Critical "
         "Harms pod can change follow-ups of ESC-7; nothing was changed."),
    ],
)  # fmt: skip
def test_each_refusal_says_who_may(
    config: AppConfig, user: str, verb: Verb, assignee: str | None, message: str
) -> None:
    with pytest.raises(Refused) as err:
        check(config, ticket(assignee), user, verb)
    assert (str(err.value), err.value.verb, err.value.ticket_id) == (message, verb, 7)
    assert err.value.doing == verb.value


def test_the_desk_is_the_pods_and_the_admins(config: AppConfig) -> None:
    assert [on_desk(config, u) for u in (LUCIA, FRAUDSTER, LEAD, ADMIN, PARTNER)] == [
        True, True, True, True, False,
    ]  # fmt: skip
    check_desk(config, FRAUDSTER, "see the team's tickets")
    with pytest.raises(NotAllowed, match=r"^Only pod members \(and escbot admins\) can peek\.$"):
        check_desk(config, PARTNER, "peek")


def test_a_refusal_is_audited_once_a_minute_per_person_and_verb(sessions, config) -> None:  # type: ignore[no-untyped-def]
    t = new_ticket(sessions, config, Renderer(config.team_tz), MORNING)

    def refuse(after: int, user: str = STRANGER, verb: Verb = Verb.TAKE) -> None:
        with pytest.raises(Refused), audited(sessions, user, MORNING + timedelta(seconds=after)):
            raise Refused("no", verb, t.id)

    for after in (0, 30, 59):
        refuse(after)
    refuse(59, verb=Verb.RESOLVE)
    refuse(59, user=WATCHER)
    assert trail(sessions, t.id) == [(STRANGER, "take"), (STRANGER, "resolve"), (WATCHER, "take")]
    refuse(60)  # a minute after the first: a line again
    assert trail(sessions, t.id)[-1] == (STRANGER, "take") and len(trail(sessions, t.id)) == 4
    with pytest.raises(Refused), audited(sessions, STRANGER, MORNING):
        raise Refused("no ticket to note it on", Verb.SEE, None)
    with pytest.raises(Refused), audited(sessions, STRANGER, MORNING):
        raise Refused("a ticket gone meanwhile", Verb.SEE, t.id + 1000)
    assert len(trail(sessions, t.id)) == 4


def trail(sessions, ticket_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        rows = s.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.action == REFUSED)
            .order_by(TicketEvent.id)
        )
        return [(e.actor_id, e.payload["doing"]) for e in rows]


def test_may_see_counts_a_follower(sessions, config) -> None:  # type: ignore[no-untyped-def]
    t = new_ticket(sessions, config, Renderer(config.team_tz), MORNING)
    with transaction(sessions) as s:
        ticket = s.get_one(Ticket, t.id)
        assert not may_see(s, config, ticket, WATCHER)
        s.add(Watcher(ticket_id=t.id, user_id=WATCHER, created_at=MORNING))
        s.flush()
        assert may_see(s, config, ticket, WATCHER)
        assert may_see(s, config, ticket, PARTNER) and not may_see(s, config, ticket, STRANGER)


def test_two_refusals_at_once_are_audited_once(sessions, config) -> None:  # type: ignore[no-untyped-def]
    """The audit locks the ticket before it looks for a recent line: on PostgreSQL a second
    refusal waits for the first one's commit instead of not seeing it (on SQLite the write
    lock already orders them)."""
    t = new_ticket(sessions, config, Renderer(config.team_tz), MORNING)
    err = Refused("no", Verb.TAKE, t.id)
    first_written = threading.Event()

    def second() -> None:
        first_written.wait()
        with transaction(sessions) as s:
            permissions._audit(s, err, t.id, STRANGER, MORNING)

    racer = threading.Thread(target=second)
    racer.start()
    with transaction(sessions) as s:
        permissions._audit(s, err, t.id, STRANGER, MORNING)
        first_written.set()
        racer.join(timeout=0.5)  # the racer reads while this line is uncommitted
    racer.join()
    assert trail(sessions, t.id) == [(STRANGER, "take")]
