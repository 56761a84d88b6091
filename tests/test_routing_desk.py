"""The desk's real situations over signed HTTP with a moving clock (issue 13): who gets a
night-time sev0, what each person is told when the chain moves a ticket on or a clock
runs out, reassigning to yourself, and wellness on Take, Reassign and Decline.

Each test reads what people see: the card in the intake channel, its thread, and the
DMs the emulator received for each person.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storage.db import transaction
from storage.models import Ticket, Timer
from tests.desk import (
    ANDREA,
    BEATRIZ,
    INTAKE,
    JONAS,
    LEAD,
    LUCIA,
    MARCUS,
    MORNING,
    PRIYA,
    WANJIRU,
    seed,
)
from tests.test_ownership_http import actions, card_of, open_and_post, settle, shown, ticket_row

SUNDAY_NIGHT = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # 03:00 Dublin; nobody on shift


def dm_texts(fake_slack, user: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [json.dumps(m.blocks, ensure_ascii=False) for m in fake_slack.dms(user)]


def tick(escbot, clock, delta: timedelta) -> None:  # type: ignore[no-untyped-def]
    """The clock moves on; the scheduler's timers fire; the outbox delivers."""
    clock.advance(delta)
    escbot.services.timers.run_due()
    settle(escbot)


def pending_chain(escbot, ticket: Ticket) -> list[Timer]:  # type: ignore[no-untyped-def]
    with escbot.services.sessions() as s:
        return list(
            s.scalars(
                select(Timer).where(
                    Timer.ticket_id == ticket.id, Timer.kind == "chain", Timer.status == "pending"
                )
            )
        )


# -- routing for sev0/sev1 ----------------------------------------------------------------


def test_sunday_night_sev0_self_harm_reaches_a_skilled_rotation_member_and_copies_the_lead(
    escbot, fake_slack, config, clock
) -> None:
    """The on-call (Beatriz) has no self-harm skill; Wanjiru is next in the rotation and has."""
    clock.set(SUNDAY_NIGHT)
    ticket, card = open_and_post(
        escbot, fake_slack, config, area="self_harm", severity="sev0", language=None
    )
    assert ticket.assignee_id == WANJIRU
    assert f"Owner <@{WANJIRU}>" in shown(card)
    assert "Next on call for Suicide and self-harm, off shift (06:00 in Nairobi)" in shown(card)
    assert "2 others passed over: 1 later on call, 1 off shift" in shown(card)
    # the full list is for the owner: in their DM, not on the card
    assert "Andrea Santos" not in shown(card)
    [mine] = [t for t in dm_texts(fake_slack, WANJIRU) if "is yours" in t]
    assert "Beatriz Almeida, doesn't handle Suicide and self-harm" in mine
    assert "Andrea Santos, off shift until Mon 08:00 in Manila" in mine
    assert any("is yours" in t for t in dm_texts(fake_slack, WANJIRU))
    [copy] = dm_texts(fake_slack, LEAD)  # only copied: told, not given it
    assert f"went to <@{WANJIRU}>, who is off shift" in copy
    # not acknowledged in 15m: the chain's first step goes on down the rotation (Marcus)
    tick(escbot, clock, timedelta(minutes=15))
    assert actions(escbot, ticket, "assign")[-1].payload["assignee"] == MARCUS
    assert ticket_row(escbot, ticket).assignee_id == MARCUS


def test_thursday_morning_sev1_goes_to_a_skilled_member_on_shift_not_the_off_shift_oncall(
    escbot, fake_slack, config, clock
) -> None:
    """10:00 Dublin: Beatriz (on call) is at 07:00 in São Paulo; Lucía is on shift."""
    clock.set(MORNING)
    ticket, card = open_and_post(escbot, fake_slack, config, severity="sev1")
    assert ticket.assignee_id == LUCIA
    assert "Next on call for Graphic violence, speaks Spanish, on shift" in shown(card)
    assert "3 others passed over: 2 off shift, 1 without Spanish" in shown(card)
    assert fake_slack.dms(BEATRIZ) == [] and fake_slack.dms(LEAD) == []


def test_the_lead_fallback_tries_again_when_a_shift_starts(
    escbot, fake_slack, config, clock
) -> None:
    """Sunday 03:00, sev0 self-harm, Wanjiru and Marcus out of office: nobody in the rotation
    can take it, so the lead has it; Andrea's shift (Mon 08:00 Manila) makes her eligible."""
    from storage.models import OutOfOffice

    clock.set(SUNDAY_NIGHT)
    with transaction(escbot.services.sessions) as s:
        for user in (WANJIRU, MARCUS):
            s.add(
                OutOfOffice(
                    user_id=user,
                    starts_at=SUNDAY_NIGHT - timedelta(days=1),
                    ends_at=SUNDAY_NIGHT + timedelta(days=3),
                    created_at=SUNDAY_NIGHT,
                )
            )
    ticket, card = open_and_post(
        escbot, fake_slack, config, area="self_harm", severity="sev0", language=None
    )
    assert ticket.assignee_id == LEAD
    assert (
        ":compass: Nobody who handles Suicide and self-harm is free (2 away, 1 off shift), "
        "so the lead has it"
    ) in shown(card)
    [retry] = pending_chain(escbot, ticket)
    assert retry.due_at == SUNDAY_NIGHT + timedelta(minutes=15)  # the chain interval first
    tick(escbot, clock, timedelta(minutes=15))
    [retry] = pending_chain(escbot, ticket)  # nobody yet: tried again later
    assert retry.due_at == SUNDAY_NIGHT + timedelta(minutes=30)
    monday = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # 08:00 in Manila
    tick(escbot, clock, monday - clock.now())
    assert ticket_row(escbot, ticket).assignee_id == ANDREA
    assert any("is yours" in t for t in dm_texts(fake_slack, ANDREA))
    assert any(f"has moved to <@{ANDREA}>" in t for t in dm_texts(fake_slack, LEAD))
    thread = json.dumps([m.blocks for m in fake_slack.thread(INTAKE, card.ts)])
    assert f"moves to <@{ANDREA}> from <@{LEAD}>" in thread
    [step] = pending_chain(escbot, ticket)  # and the chain now runs for Andrea
    assert step.dedup_key == f"chain:{ticket.id}:1"


# -- notices --------------------------------------------------------------------------------


def test_chain_step_and_breach_at_the_same_due_time_tell_each_person_the_right_thing(
    escbot, fake_slack, config, clock
) -> None:
    clock.set(MORNING)
    ticket, _ = open_and_post(escbot, fake_slack, config, severity="sev1")
    assert ticket.assignee_id == LUCIA
    tick(escbot, clock, timedelta(minutes=30))  # TTA due: breach and chain step together
    lucia, wanjiru, lead = (dm_texts(fake_slack, u) for u in (LUCIA, WANJIRU, LEAD))
    assert any(
        f"was moved to <@{WANJIRU}> because it wasn't acknowledged in 30 minutes" in t
        for t in lucia
    )
    [breach] = [t for t in lucia if "SLA breached" in t]
    assert f"Owner when it ran out: you · now with <@{WANJIRU}>" in breach
    assert any("was not acknowledged in time and is now yours" in t for t in wanjiru)
    assert not any("SLA breached" in t for t in wanjiru)  # the new owner isn't blamed
    [copy] = [t for t in lead if "SLA breached" in t]
    assert f"Owner when it ran out: <@{LUCIA}>" in copy and "copied as the pod lead" in copy


def test_no_at_risk_warning_after_its_deadline_passed(escbot, fake_slack, config, clock) -> None:
    """The desk was down from 10:05 to 10:40: the sev1's at-risk (10:23) and breach (10:30)
    are both due when it comes back; only the breach is sent."""
    clock.set(MORNING)
    ticket, _ = open_and_post(escbot, fake_slack, config, severity="sev1")
    tick(escbot, clock, timedelta(minutes=40))
    seen = [t for u in (LUCIA, WANJIRU, LEAD) for t in dm_texts(fake_slack, u)]
    assert not any("SLA at risk" in t for t in seen)
    assert sum("SLA breached" in t for t in seen) == 2  # Lucía, and the lead's copy
    assert [e.action for e in actions(escbot, ticket, "sla_at_risk")] == []


# -- reassign to yourself ----------------------------------------------------------------


def test_reassigning_to_yourself_is_a_take(escbot, fake_slack, config, clock, user_factory) -> None:
    clock.set(MORNING)
    ticket, card = open_and_post(
        escbot, fake_slack, config, area="hateful_activities", language=None
    )
    assert ticket.assignee_id == LUCIA
    jonas = user_factory(JONAS)
    jonas.click(card, "Reassign")
    view = fake_slack.wait_until(lambda: fake_slack.last_view(JONAS))
    resp = jonas.submit_view(view, {"New owner": JONAS, "Reason": "German-language network"})
    assert resp.status_code == 200 and "errors" not in resp.text
    settle(escbot)
    row = ticket_row(escbot, ticket)
    assert (row.assignee_id, row.status) == (JONAS, "acknowledged")
    assert [e.actor_id for e in actions(escbot, ticket, "take")] == [JONAS]
    assert pending_chain(escbot, ticket) == []
    thread = json.dumps([m.blocks for m in fake_slack.thread(INTAKE, card.ts)])
    assert f"<@{JONAS}> took *{ticket.key}* from <@{LUCIA}>" in thread
    assert "reassigned" not in thread
    assert fake_slack.dms(JONAS) == []  # nobody tells you what you did yourself


# -- wellness on every path ------------------------------------------------------------------


def test_the_reassign_menu_shows_exposure_and_skill_and_an_override_is_needed_and_audited(
    escbot, fake_slack, config, clock, user_factory
) -> None:
    clock.set(MORNING)
    ticket, card = open_and_post(escbot, fake_slack, config)  # graphic violence: Lucía
    lucia = user_factory(LUCIA)
    lucia.click(card, "Reassign")
    view = fake_slack.wait_until(lambda: fake_slack.last_view(LUCIA))
    options = {
        o["value"]: o.get("description", {}).get("text", "")
        for b in view["blocks"]
        if b.get("block_id") == "reassign_to"
        for g in b["element"]["option_groups"]
        for o in g["options"]
    }
    assert options[WANJIRU] == "sensitive today 0/6 · has the skill"
    assert options[PRIYA] == (
        "sensitive today 0/0 · doesn't handle Graphic violence · needs override"
    )
    resp = lucia.submit_view(view, {"New owner": PRIYA, "Reason": "Hindi captions"})
    errors = resp.json()["errors"]
    assert errors["reassign_to"].startswith(
        "Priya Raman: doesn't handle Graphic violence; at their sensitive cap (0 of 0 today)."
    )
    assert ticket_row(escbot, ticket).assignee_id == LUCIA
    resp = lucia.submit_view(
        view,
        {"New owner": PRIYA, "Reason": "Hindi captions", "Wellness override": ["override"]},
    )
    assert resp.status_code == 200 and "errors" not in resp.text
    settle(escbot)
    [_, given] = actions(escbot, ticket, "assign")
    assert given.payload["override"] == {
        "problems": [
            "doesn't handle Graphic violence",
            "at their sensitive cap (0 of 0 today)",
        ],
        "reason": "Hindi captions",
    }
    thread = json.dumps([m.blocks for m in fake_slack.thread(INTAKE, card.ts)], ensure_ascii=False)
    assert "Wellness override: doesn't handle Graphic violence; at their sensitive cap" in thread


def test_take_at_the_cap_is_refused_and_the_owner_at_cap_may_decline(
    escbot, fake_slack, config, clock, user_factory
) -> None:
    """Beatriz (cap 5) has seen five graphic tickets today; Lucía (cap 6) five."""
    afternoon = MORNING + timedelta(hours=4)
    clock.set(afternoon)
    with transaction(escbot.services.sessions) as s:
        for hour in range(5):
            for who in (BEATRIZ, LUCIA):
                seed(
                    s,
                    who,
                    now=afternoon,
                    area="graphic_violence",
                    sensitive=True,
                    status="resolved",
                    assigned_at=afternoon - timedelta(minutes=10 * hour + 5),
                )
    ticket, card = open_and_post(escbot, fake_slack, config)
    assert ticket.assignee_id == LUCIA  # her sixth: at her cap now
    user_factory(BEATRIZ).click(card, "Take")
    [note] = fake_slack.wait_until(lambda: fake_slack.ephemerals(BEATRIZ))
    assert "You can't take" in note.text and "at their sensitive cap (5 of 5 today)" in note.text
    [dm] = fake_slack.dms(LUCIA)
    assert "sensitive today 6/6" in json.dumps(dm.blocks)
    user_factory(LUCIA).click(dm, "Decline — at my exposure cap")
    fake_slack.wait_until(lambda: len(actions(escbot, ticket, "assign")) == 2)
    settle(escbot)
    row = ticket_row(escbot, ticket)
    assert row.assignee_id not in (LUCIA, BEATRIZ)
    assert row.routing_reason.startswith("Lucía Fernández declined it at their sensitive cap.")
    thread = json.dumps([m.blocks for m in fake_slack.thread(INTAKE, card.ts)])
    assert f"<@{LUCIA}> declined *{ticket.key}*" in thread
    # no penalty: it no longer counts towards her day
    from bot.routing import workload

    with escbot.services.sessions() as s:
        counts = workload.sensitive_today(s, config.pods["critical_harms"], clock.now(), [LUCIA])
    assert counts == {LUCIA: 5}
    assert f"Owner <@{row.assignee_id}>" in shown(card_of(fake_slack, ticket))
    assert [e.actor_id for e in actions(escbot, ticket, "decline")] == [LUCIA]
