"""Routing against the database and the Ack / Take / Reassign operations (no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.desk import Desk
from bot.core.errors import NotAllowed, TransitionError
from bot.core.forms import FieldErrors
from bot.core.render import Renderer
from bot.routing import ownership, workload
from bot.tickets.lifecycle import Change
from storage.db import transaction
from storage.models import Counter, OutboxMessage, Ticket, TicketEvent, Timer
from storage.queries import ticket_by_key
from tests.desk import (
    ADMIN,
    AFTERNOON,
    BEATRIZ,
    JONAS,
    LEAD,
    LUCIA,
    MARCUS,
    MORNING,
    PARTNER,
    PRIYA,
    WANJIRU,
    desk_at,
    new_ticket,
    seed,
)


@pytest.fixture
def renderer(config) -> Renderer:  # type: ignore[no-untyped-def]
    return Renderer(config.team_tz)


def events(s: Session, ticket_id: int, action: str | None = None) -> list[TicketEvent]:
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    return [e for e in s.scalars(stmt) if action is None or e.action == action]


def outbox_rows(s: Session, kind: str, channel: str | None = None) -> list[OutboxMessage]:
    rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)).all()
    return [r for r in rows if channel is None or r.channel == channel]


# -- routing at intake --------------------------------------------------------------------


def test_new_ticket_is_assigned_explained_audited_dmed_and_armed(
    sessions: sessionmaker[Session], config, renderer
) -> None:
    with transaction(sessions) as s:
        seed(s, LUCIA, now=AFTERNOON)
        seed(s, LUCIA, now=AFTERNOON)
        seed(s, BEATRIZ, now=AFTERNOON)
    ticket = new_ticket(sessions, config, renderer, AFTERNOON)
    with sessions() as s:
        t = s.get_one(Ticket, ticket.id)
        assert (t.status, t.assignee_id, t.assigned_at) == ("assigned", BEATRIZ, AFTERNOON)
        assert t.routing_reason.startswith(
            "Least busy (1 open), speaks Spanish, on shift (11:00 in Sao Paulo), "
            "1 of 5 sensitive today. 3 others passed over: 2 without Spanish, 1 busier\n"
            "Passed over: Lucía Fernández, busier (2 open against 1); "
        )
        [assign] = events(s, t.id, "assign")
        assert (assign.actor_id, assign.from_status, assign.to_status) == (
            "escbot",
            "new",
            "assigned",
        )
        table = {c["id"]: c for c in assign.payload["routing"]["candidates"]}
        assert len(table) == 7 and table[BEATRIZ]["chosen"]
        assert table[LUCIA]["note"] == "busier (2 open against 1)"
        assert table[JONAS]["excluded"] == "doesn't handle Graphic violence"
        [dm] = outbox_rows(s, "notice", BEATRIZ)
        assert dm.payload["_after_card"] and dm.ticket_id == t.id
        # sev2 runs on business hours: 4h from 14:00 Dublin is 18:00 the same day
        [step] = s.scalars(select(Timer).where(Timer.kind == "chain")).all()
        assert (step.dedup_key, step.due_at) == (f"chain:{t.id}:1", AFTERNOON + timedelta(hours=4))
        assert s.get_one(Counter, "route:critical_harms").value == 4  # past Beatriz (index 3)


def test_nobody_eligible_goes_to_the_lead_with_reasons_and_a_retry_at_the_next_shift(
    sessions: sessionmaker[Session], config, renderer
) -> None:
    night = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)  # nobody with the skill on shift
    ticket = new_ticket(sessions, config, renderer, night, area="violent_extremism", language=None)
    with sessions() as s:
        t = s.get_one(Ticket, ticket.id)
        assert t.assignee_id == LEAD
        assert t.routing_reason.startswith(
            "Nobody who handles Violent extremism is on shift, so the lead has it\n"
            "Considered: Lucía Fernández, off shift until 09:00 in Madrid; "
        )
        assert outbox_rows(s, "notice", LEAD)
        # Priya's shift (Kolkata 10:00) starts first: Fri 04:30 UTC, before the 4h window
        [retry] = s.scalars(select(Timer).where(Timer.kind == "chain")).all()
        assert retry.payload == {"retry": True, "holder": LEAD}
        assert retry.due_at == datetime(2026, 11, 27, 4, 30, tzinfo=UTC)


def test_snapshot_weights_load_and_counts_sensitive_since_each_local_midnight(
    sessions: sessionmaker[Session], config
) -> None:
    # Lucía's midnight (Madrid) is 23:00 UTC the day before; Wanjiru's (Nairobi) 21:00 UTC.
    before = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)
    with transaction(sessions) as s:
        seed(s, LUCIA, now=MORNING, severity="sev0")
        seed(s, LUCIA, now=MORNING, severity="sev3")
        seed(s, LUCIA, now=MORNING, status="resolved")
        seed(s, LUCIA, now=MORNING, area="graphic_violence", sensitive=True, assigned_at=before)
        seed(s, WANJIRU, now=MORNING, area="graphic_violence", sensitive=True, assigned_at=before)
        moved = seed(s, LUCIA, now=MORNING, area="graphic_violence", sensitive=True)
        moved.assignee_id = MARCUS  # reassigned away: Lucía still saw it today
        from bot.tickets.lifecycle import record

        record(s, moved, "assign", actor=LEAD, now=MORNING, payload={"assignee": MARCUS})
        record(s, moved, "take", actor=LUCIA, now=MORNING)  # and she took it back: still one
    with transaction(sessions) as s:
        snap = workload.snapshot(s, config, config.pods["critical_harms"], MORNING)
    assert snap.load == {LUCIA: 8 + 1 + 2, WANJIRU: 2, MARCUS: 2}
    assert snap.open == {LUCIA: 3, WANJIRU: 1, MARCUS: 1}
    assert snap.sensitive_today == {LUCIA: 1, WANJIRU: 1, MARCUS: 1}


def test_turns_rotate_across_tickets_opened_at_the_same_instant(
    sessions: sessionmaker[Session], config, renderer
) -> None:
    owners = [
        new_ticket(
            sessions, config, renderer, MORNING, area="hateful_activities", language=None
        ).assignee_id
        for _ in range(4)
    ]
    # on shift with the skill at 10:00 UTC, in pod order: Lucía, Jonas, Priya, Wanjiru
    assert owners == [LUCIA, JONAS, PRIYA, WANJIRU]


# -- the buttons ----------------------------------------------------------------------------


def reassign(desk: Desk, key: str, actor: str, **kw: Any) -> Change | None:
    """The modal submitted once (each call its own submission)."""
    return ownership.reassign_ticket(desk, key, actor, submission=uuid4().hex, **kw)


def test_ack_is_for_the_owner_and_cancels_the_chain(
    sessions: sessionmaker[Session], config, renderer
) -> None:
    t = new_ticket(sessions, config, renderer, MORNING)  # sev2 es, 10:00: Lucía
    assert t.assignee_id == LUCIA
    desk = desk_at(sessions, config, MORNING, renderer)

    with pytest.raises(NotAllowed, match="use \\*Take\\*"):
        ownership.acknowledge_ticket(desk, t.key, WANJIRU)
    with pytest.raises(NotAllowed, match="is <@U05MAD1LFZ3>'s to acknowledge; nothing") as err:
        ownership.acknowledge_ticket(desk, t.key, PARTNER)
    assert "Take" not in str(err.value)
    ownership.acknowledge_ticket(desk, t.key, LUCIA)
    with pytest.raises(TransitionError, match="already acknowledged"):
        ownership.acknowledge_ticket(desk, t.key, LUCIA)
    with sessions() as s:
        ticket = s.get_one(Ticket, t.id)
        assert (ticket.status, ticket.acked_at) == ("acknowledged", MORNING)
        assert [e.actor_id for e in events(s, t.id, "acknowledge")] == [LUCIA]
        refused = events(s, t.id, "refused")
        assert [(e.actor_id, e.payload["doing"]) for e in refused] == [
            (WANJIRU, "acknowledge"),
            (PARTNER, "acknowledge"),
        ]
        assert s.scalars(select(Timer.status).where(Timer.kind == "chain")).all() == ["cancelled"]
        lines = [
            r
            for r in outbox_rows(s, "thread")
            if r.dedup_key.endswith(f":{events(s, t.id, 'acknowledge')[0].id}")
        ]
        assert "acknowledged" in str(lines[0].payload)


def test_take_is_for_the_pod_and_admins(sessions: sessionmaker[Session], config, renderer) -> None:
    t = new_ticket(sessions, config, renderer, MORNING)
    desk = desk_at(sessions, config, MORNING, renderer)

    with pytest.raises(NotAllowed):
        ownership.take_ticket(desk, t.key, PARTNER)
    with sessions() as s:
        assert s.get_one(Ticket, t.id).assignee_id == LUCIA
    with pytest.raises(
        TransitionError, match="doesn't handle Graphic violence; at their sensitive cap"
    ):
        ownership.take_ticket(desk, t.key, PRIYA)  # wellness, not permission: see test_wellness
    ownership.take_ticket(desk, t.key, WANJIRU)
    with pytest.raises(TransitionError, match="You already own"):
        ownership.take_ticket(desk, t.key, WANJIRU)
    ownership.take_ticket(desk, t.key, ADMIN)
    with sessions() as s:
        ticket = s.get_one(Ticket, t.id)
        assert (ticket.assignee_id, ticket.status) == (ADMIN, "acknowledged")
        assert ticket.routing_reason == "Taken by an escbot admin"
        takes = events(s, t.id, "take")
        assert [(e.actor_id, e.payload["from"]) for e in takes] == [
            (WANJIRU, LUCIA),
            (ADMIN, WANJIRU),
        ]


def test_reassign_validates_then_hands_over_with_reason(
    sessions: sessionmaker[Session], config, renderer
) -> None:
    t = new_ticket(sessions, config, renderer, MORNING)
    desk = desk_at(sessions, config, MORNING, renderer)

    with pytest.raises(FieldErrors) as err:
        reassign(desk, t.key, LUCIA, to=WANJIRU, reason="  ")
    assert set(err.value.errors) == {"reassign_reason"}
    with pytest.raises(FieldErrors) as err:
        reassign(desk, t.key, LUCIA, to=PARTNER, reason="x")
    assert err.value.errors == {"reassign_to": "Pick a member of the Critical Harms pod."}
    reassign(desk, t.key, LUCIA, to=WANJIRU, reason="Needs <@here> Swahili context")
    with sessions() as s:
        ticket = s.get_one(Ticket, t.id)
        assert (ticket.assignee_id, ticket.status) == (WANJIRU, "assigned")
        assert ticket.routing_reason == (
            "Reassigned to Wanjiru Kamau by Lucía Fernández: Needs <@here> Swahili context"
        )
        last = events(s, t.id, "assign")[-1]
        assert last.payload == {
            "reason": "Needs <@here> Swahili context",
            "from": LUCIA,
            "assignee": WANJIRU,
        }
        [dm] = outbox_rows(s, "notice", WANJIRU)
        shown = str(dm.payload)
        assert "Swahili context" in shown and "&lt;@" in shown and "<@here>" not in shown


def test_route_again_excludes_the_current_owner(
    sessions: sessionmaker[Session], config, renderer
) -> None:
    t = new_ticket(sessions, config, renderer, MORNING, language=None)  # GV: Lucía or Wanjiru
    first = t.assignee_id
    desk = desk_at(sessions, config, MORNING, renderer)

    reassign(desk, t.key, LEAD, to=ownership.ROUTE_AGAIN, reason="overloaded")
    with sessions() as s:
        ticket = s.get_one(Ticket, t.id)
        assert ticket.assignee_id not in (first, LEAD)
        assert ticket.routing_reason.startswith("Least busy")
        second = ticket.assignee_id
        assert events(s, t.id, "assign")[-1].payload["routing"]["via"] == "least_loaded"
    # only two GV specialists on shift: routing again goes back to the first
    reassign(desk, t.key, LEAD, to=None, reason="again")
    with sessions() as s:
        assert s.get_one(Ticket, t.id).assignee_id == first != second
    night = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
    lone = new_ticket(sessions, config, renderer, night, area="violent_extremism", language=None)
    assert lone.assignee_id == LEAD
    lead_has_it = r"Nobody else can take it right now\. Nobody who handles .* so the lead has it$"
    with pytest.raises(FieldErrors, match=lead_has_it):
        reassign(
            desk_at(sessions, config, night, renderer), lone.key, LEAD, to=None, reason="anyone?"
        )


def test_reassign_choices_list_the_pod_and_check_who_asks(
    sessions: sessionmaker[Session], config, renderer
) -> None:
    t = new_ticket(sessions, config, renderer, MORNING)
    with pytest.raises(NotAllowed):
        ownership.reassign_options(desk_at(sessions, config, MORNING, renderer), t.key, PARTNER)
    with sessions() as s:
        assert [e.payload["doing"] for e in events(s, t.id, "refused")] == ["reassign"]
        ctx = ownership.reassign_choices(s, config, t.key, actor=LUCIA, now=MORNING)
    labels = [g["label"] for g in ctx["groups"]]
    assert labels == ["Let escbot choose", "On shift", "Off shift or away", "Lead"]
    values = [o["value"] for g in ctx["groups"] for o in g["options"]]
    assert values[0] == "route_again" and LUCIA not in values and LEAD in values
    on_shift = [o["text"] for o in ctx["groups"][1]["options"]]
    assert on_shift[0] == "Jonas Becker · on shift · 0 open"
    modal = renderer.render("reassign_modal", **ctx)
    assert modal["callback_id"] == "ticket_reassign" and modal["private_metadata"] == t.key


def test_double_acknowledge_in_parallel_makes_one_transition(
    sessions: sessionmaker[Session], config, renderer
) -> None:
    import threading

    t = new_ticket(sessions, config, renderer, MORNING)
    desk = desk_at(sessions, config, MORNING, renderer)
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def click() -> None:
        barrier.wait()
        try:
            ownership.acknowledge_ticket(desk, t.key, LUCIA)
            outcomes.append("ok")
        except TransitionError:
            outcomes.append("refused")

    threads = [threading.Thread(target=click) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(outcomes) == ["ok", "refused", "refused", "refused"]
    with sessions() as s:
        assert len(events(s, t.id, "acknowledge")) == 1
        assert ticket_by_key(s, t.key).version == 3  # created 1, assigned 2, acknowledged 3
