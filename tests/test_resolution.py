"""Resolve, wait on the reporter, resume, reopen: the domain, with exact SLA seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import sla
from bot.config import AppConfig
from bot.core.clock import FakeClock
from bot.core.errors import DomainError, NotAllowed, TransitionError
from bot.core.forms import FieldErrors
from bot.core.render import Renderer
from bot.intake.draft import Draft
from bot.intake.service import open_ticket
from bot.resolution import questions
from bot.resolution import service as resolution
from bot.resolution.service import Outcome
from bot.tickets.lifecycle import Action, transition
from storage.db import transaction
from storage.models import OutboxMessage, SlaBreach, Ticket, TicketEvent, Timer
from tests.state import rows

REPORTER = "U07LEGAL01"
LUCIA, LEAD, STRANGER = "U05MAD1LFZ3", "U04LQ2M8RTA", "U09NOBODY1"
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # Thu, 10:00 in Dublin
H = 3600


def new_ticket(
    sessions: sessionmaker[Session],
    cfg: AppConfig,
    now: datetime = T0,
    *,
    severity: str = "sev2",
    vendor: str | None = None,
    summary: str = "Coordinated slurs under a creator's posts",
) -> int:
    """A ticket opened by REPORTER (routing assigns it); returns its id."""
    draft = Draft(
        summary=summary, policy_area="hateful_activities", severity=severity, vendor=vendor
    )
    with transaction(sessions) as s:
        ticket = open_ticket(s, cfg, Renderer(cfg.team_tz), draft, reporter=REPORTER, now=now)
        return ticket.id


def act(sessions: sessionmaker[Session], ticket_id: int, fn) -> Ticket:  # type: ignore[no-untyped-def]
    """Run ``fn(session, ticket)`` in a transaction on the locked ticket; returns it."""
    with transaction(sessions) as s:
        ticket = s.scalars(select(Ticket).where(Ticket.id == ticket_id).with_for_update()).one()
        fn(s, ticket)
        return ticket


def ack(sessions: sessionmaker[Session], cfg: AppConfig, ticket_id: int, now: datetime) -> Ticket:
    def do(s: Session, t: Ticket) -> None:
        transition(s, t, Action.ACKNOWLEDGE, actor=t.assignee_id or LEAD, now=now)
        sla.sync(s, cfg, t, now)

    return act(sessions, ticket_id, do)


OUTCOME = Outcome(
    decision="removed",
    rationale="Slurs targeting a protected group (HA-3).",
    policy_section="HA-3 Slurs and dehumanising speech",
)


def test_full_life_with_exact_sla_seconds(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    tid = new_ticket(sessions, config, vendor="northwind_manila")
    t = ack(sessions, config, tid, T0 + timedelta(minutes=30))
    assert (t.status, t.tta_seconds, t.tta_breached) == ("acknowledged", 1800, False)

    # Thu 15:00 ask the reporter; Fri 11:00 they answer in the thread: 3h + 2h paused
    asked = T0 + timedelta(hours=5)
    t = act(
        sessions,
        tid,
        lambda s, t: questions.ask_reporter(
            s, config, r, t, "Which posts?", actor=LUCIA, now=asked
        ),
    )
    assert (t.status, t.waiting_since) == ("waiting_on_reporter", asked)
    with sessions() as s:
        assert (
            s.scalars(select(Timer).where(Timer.kind == "sla", Timer.status == "pending")).all()
            == []
        )

    replied = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
    with transaction(sessions) as s:
        ticket = s.get_one(Ticket, tid)
        found = questions.on_thread_reply(
            s,
            config,
            r,
            channel=ticket.card_channel,
            thread_ts=ticket.card_ts or "",
            user=REPORTER,
            text="These three",
            now=replied,
        )
    # the card was never posted (no outbox worker here): no card_ts, so no thread to match
    assert found is None
    with transaction(sessions) as s:
        s.get_one(Ticket, tid).card_ts = "1700000000.000100"
    with transaction(sessions) as s:
        found = questions.on_thread_reply(
            s,
            config,
            r,
            channel="C06H2KX8ESC",
            thread_ts="1700000000.000100",
            user=REPORTER,
            text="These three",
            now=replied,
        )
        assert found is not None and found.status == "acknowledged"
        assert (found.paused_seconds, found.waiting_since) == (5 * H, None)

    # Mon 30 Nov 12:00 resolved: Thu 8h + Fri 9h + Mon 3h = 20h counted, minus 5h paused
    resolved = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    verdict = Outcome(
        **{**OUTCOME.__dict__, "vendor_correct": False, "vendor_error_category": "missed_context"}
    )
    t = act(
        sessions,
        tid,
        lambda s, t: resolution.resolve(s, config, r, t, verdict, actor=LUCIA, now=resolved),
    )
    assert (t.status, t.ttr_seconds, t.ttr_breached) == ("resolved", 15 * H, False)
    assert (t.decision, t.policy_section) == ("removed", "HA-3 Slurs and dehumanising speech")
    assert (t.vendor_correct, t.vendor_error_category) == (False, "missed_context")

    # Tue 10:00 the reporter reopens: Mon 12-18 + Tue 9-10 = 7h while resolved don't count
    reopened = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    t = act(
        sessions,
        tid,
        lambda s, t: resolution.reopen(
            s, config, r, t, "Two more accounts", actor=REPORTER, now=reopened
        ),
    )
    assert (t.status, t.reopened_count, t.ttr_seconds) == ("reopened", 1, None)
    assert t.paused_seconds == 12 * H

    # one more business hour of work, then resolved again: 15h + 1h
    again = reopened + timedelta(hours=1)
    upheld = Outcome(**{**OUTCOME.__dict__, "vendor_correct": True})
    t = act(
        sessions,
        tid,
        lambda s, t: resolution.resolve(s, config, r, t, upheld, actor=LUCIA, now=again),
    )
    assert (t.status, t.ttr_seconds, t.tta_seconds) == ("resolved", 16 * H, 1800)
    assert (t.vendor_correct, t.vendor_error_category) == (True, None)  # the latest verdict
    with sessions() as s:
        actions = [
            (e.action, e.actor_id, e.to_status)
            for e in s.scalars(
                select(TicketEvent).where(TicketEvent.ticket_id == tid).order_by(TicketEvent.id)
            )
        ]
        assert [a for a in actions if a[2]] == [
            ("create", REPORTER, "new"),
            ("assign", "escbot", "assigned"),
            ("acknowledge", t.assignee_id, "acknowledged"),
            ("wait_on_reporter", LUCIA, "waiting_on_reporter"),
            ("resume", REPORTER, "acknowledged"),
            ("resolve", LUCIA, "resolved"),
            ("reopen", REPORTER, "reopened"),
            ("resolve", LUCIA, "resolved"),
        ]
        assert s.scalars(select(SlaBreach)).all() == []
        dms = s.scalars(select(OutboxMessage).where(OutboxMessage.channel == REPORTER)).all()
        kinds = [m.dedup_key.split(":")[0] for m in dms]
        assert len([m for m in dms if "resolved" in m.payload["text"]]) == 2
        assert kinds.count("dm") >= 3  # opened, question, outcome ×2


def test_outcome_is_checked_field_by_field(sessions, config) -> None:  # type: ignore[no-untyped-def]
    with sessions() as s:
        tid = new_ticket(sessions, config, vendor="tejo_lisbon")
        t = s.get_one(Ticket, tid)
        with pytest.raises(FieldErrors) as err:
            resolution.check_outcome(config, t, Outcome(decision="nuked", rationale="  "))
        assert set(err.value.errors) == {"decision", "rationale", "vendor_correct"}
        with pytest.raises(FieldErrors) as err:
            resolution.check_outcome(config, t, Outcome("removed", "ok", vendor_correct=False))
        assert err.value.errors == {"vendor_error_category": "Pick what the vendor got wrong."}
        with pytest.raises(FieldErrors) as err:
            resolution.check_outcome(
                config, t, Outcome("removed", "ok", "GV-1 not this area", True)
            )
        assert set(err.value.errors) == {"policy_section"}
        ok = resolution.check_outcome(
            config, t, Outcome("removed", " ok\u202e ", None, True, "language_gap")
        )
        assert (ok.rationale, ok.vendor_correct, ok.vendor_error_category) == ("ok", True, None)


def test_vendor_verdict_is_ignored_without_a_vendor(sessions, config) -> None:  # type: ignore[no-untyped-def]
    tid = new_ticket(sessions, config)
    with sessions() as s:
        t = s.get_one(Ticket, tid)
        ok = resolution.check_outcome(config, t, Outcome("no_violation", "fine", None, False, "x"))
        assert (ok.vendor_correct, ok.vendor_error_category) == (None, None)


def test_resolve_form_reads_back_what_it_offers(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    tid = new_ticket(sessions, config, vendor="northwind_manila")
    with sessions() as s:
        t = s.get_one(Ticket, tid)
        view = resolution.resolve_form(r, config, t)
        blocks = {b.get("block_id") for b in view["blocks"]}
        assert {
            "decision",
            "policy_section",
            "rationale",
            "vendor_correct",
            "vendor_error_category",
        } <= blocks
        values = {
            "decision": "restricted",
            "policy_section": "2",
            "rationale": "x",
            "vendor_correct": "no",
            "vendor_error_category": "wrong_policy",
        }
        outcome = resolution.read_resolve_form(config, t, values)
        assert outcome == Outcome(
            "restricted", "x", "HA-3 Slurs and dehumanising speech", False, "wrong_policy"
        )
        assert (
            resolution.read_resolve_form(config, t, {"policy_section": "99"}).policy_section is None
        )
    plain = new_ticket(sessions, config)
    with sessions() as s:
        view = resolution.resolve_form(r, config, s.get_one(Ticket, plain))
        assert "vendor_correct" not in {b.get("block_id") for b in view["blocks"]}


def test_only_the_pod_resolves_and_asks(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    tid = new_ticket(sessions, config)
    only_pod = r"^Only members of the Critical Harms pod \(and escbot admins\) can {} ESC-1; "
    before = rows(sessions)
    with pytest.raises(NotAllowed, match=only_pod.format("resolve") + "nothing was changed.$"):
        act(
            sessions,
            tid,
            lambda s, t: resolution.resolve(s, config, r, t, OUTCOME, actor=REPORTER, now=T0),
        )
    with pytest.raises(NotAllowed, match=only_pod.format("ask the reporter about")):
        act(
            sessions,
            tid,
            lambda s, t: questions.ask_reporter(s, config, r, t, "?", actor=STRANGER, now=T0),
        )
    with pytest.raises(FieldErrors) as err:
        act(
            sessions,
            tid,
            lambda s, t: questions.ask_reporter(s, config, r, t, "  ", actor=LEAD, now=T0),
        )
    assert set(err.value.errors) == {"question"}
    assert rows(sessions) == before  # no resolution, no question, no event, no message
    with sessions() as s:
        assert s.get_one(Ticket, tid).status == "assigned"
    # the lead (not a member) and an admin may act
    act(
        sessions,
        tid,
        lambda s, t: resolution.resolve(s, config, r, t, OUTCOME, actor="U02A7KQ3ZPM", now=T0),
    )


def test_reopen_rules(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    tid = new_ticket(sessions, config)
    with pytest.raises(TransitionError, match="Can't reopen"):
        act(
            sessions,
            tid,
            lambda s, t: resolution.reopen(s, config, r, t, "why", actor=REPORTER, now=T0),
        )
    act(
        sessions, tid, lambda s, t: resolution.resolve(s, config, r, t, OUTCOME, actor=LEAD, now=T0)
    )
    with pytest.raises(
        NotAllowed,
        match=r"^Only the reporter or members of the Critical Harms pod can reopen ESC-1; nothing",
    ):
        act(
            sessions,
            tid,
            lambda s, t: resolution.reopen(s, config, r, t, "why", actor=STRANGER, now=T0),
        )
    with pytest.raises(FieldErrors):
        act(
            sessions,
            tid,
            lambda s, t: resolution.reopen(s, config, r, t, "", actor=REPORTER, now=T0),
        )
    late = T0 + timedelta(days=14, seconds=1)
    with pytest.raises(DomainError, match=r"reopened for 14d after that.*open a new escalation"):
        act(
            sessions,
            tid,
            lambda s, t: resolution.reopen(s, config, r, t, "why", actor=REPORTER, now=late),
        )
    with sessions() as s:
        t = s.get_one(Ticket, tid)
        assert resolution.reopen_allowed(config, t, REPORTER, T0 + timedelta(days=14))
        assert not resolution.reopen_allowed(config, t, REPORTER, late)
        assert not resolution.reopen_allowed(config, t, STRANGER, T0)
    t = act(
        sessions,
        tid,
        lambda s, t: resolution.reopen(
            s, config, r, t, "why", actor=LUCIA, now=T0 + timedelta(days=14)
        ),
    )
    assert t.status == "reopened"


def test_thread_replies_that_do_not_resume(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    tid = new_ticket(sessions, config)
    with transaction(sessions) as s:
        s.get_one(Ticket, tid).card_ts = "1.000001"

    def reply(user: str, ts: str = "1.000001") -> Ticket | None:
        with transaction(sessions) as s:
            return questions.on_thread_reply(
                s, config, r, channel="C06H2KX8ESC", thread_ts=ts, user=user, text="hi", now=T0
            )

    assert reply(REPORTER) is None  # not waiting
    act(
        sessions,
        tid,
        lambda s, t: questions.ask_reporter(s, config, r, t, "?", actor=LEAD, now=T0),
    )
    assert reply(LUCIA) is None  # not the reporter
    assert reply(REPORTER, "2.000002") is None  # another thread
    assert reply(REPORTER) is not None


def test_resolve_while_waiting_closes_the_pause(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    tid = new_ticket(sessions, config, severity="sev0")  # 24x7
    act(
        sessions,
        tid,
        lambda s, t: questions.ask_reporter(
            s, config, r, t, "?", actor=LEAD, now=T0 + timedelta(minutes=10)
        ),
    )
    t = act(
        sessions,
        tid,
        lambda s, t: resolution.resolve(
            s, config, r, t, OUTCOME, actor=LEAD, now=T0 + timedelta(hours=2)
        ),
    )
    assert (t.paused_seconds, t.waiting_since) == (110 * 60, None)
    assert (t.tta_seconds, t.ttr_seconds) == (600, 600)  # resolving acknowledges, at the pause


def test_card_buttons_follow_the_status(sessions, config) -> None:  # type: ignore[no-untyped-def]
    tid = new_ticket(sessions, config)
    with sessions() as s:
        t = s.get_one(Ticket, tid)
        texts = lambda: [b["text"] for b in resolution.card_buttons(t)]  # noqa: E731
        assert texts() == ["Resolve", "Ask reporter", "Add follow-up"]
        t.status = "waiting_on_reporter"
        assert texts() == ["Resolve", "Resume", "Add follow-up"]
        t.status = "resolved"
        assert texts() == ["Reopen", "Add follow-up"]
        assert all(b["value"] == t.key for b in resolution.card_buttons(t))


def test_clock_fixture_matches(clock: FakeClock) -> None:
    assert clock.now() == T0


def test_asking_the_reporter_acknowledges(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    tid = new_ticket(sessions, config, severity="sev0")
    asked = T0 + timedelta(minutes=7)
    t = act(
        sessions,
        tid,
        lambda s, t: questions.ask_reporter(s, config, r, t, "?", actor=LEAD, now=asked),
    )
    assert (t.acked_at, t.tta_seconds) == (asked, 7 * 60)
