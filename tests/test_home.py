"""App Home: the pod's view and the reporter's, inside Slack's 100 blocks at any volume."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.core import blockkit
from bot.core.render import Renderer
from bot.resolution import service as resolution
from bot.routing import ownership
from bot.slack import home
from storage.db import transaction
from storage.models import OutboxMessage, OutOfOffice, Ticket
from tests.desk import seed
from tests.test_followups import add
from tests.test_resolution import LEAD, LUCIA, OUTCOME, REPORTER, T0, act, new_ticket

JONAS = "U05BER7JBK2"


def text(view: dict) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def test_a_member_with_150_open_tickets_stays_inside_100_blocks(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    with transaction(sessions) as s:
        for i in range(150):
            sev = f"sev{i % 4}"
            seed(s, LUCIA, now=T0 - timedelta(hours=i), severity=sev, status="acknowledged")
    tid = new_ticket(sessions, config)
    for i in range(30):
        add(sessions, config, tid, owner=LUCIA, description=f"gap {i}")
    with transaction(sessions) as s:
        s.add(
            OutOfOffice(
                user_id=LUCIA,
                starts_at=T0 + timedelta(days=3),
                ends_at=T0 + timedelta(days=10),
                note="Leave",
                created_at=T0,
            )
        )
    with sessions() as s:
        view = home.view(s, config, r, LUCIA, T0)
    assert view["type"] == "home"
    assert blockkit.problems(view, "home") == []
    assert len(view["blocks"]) <= 100
    shown = text(view)
    assert "*Your queue* (150)" in shown  # all of them counted, though not all listed
    assert "more in your queue" in shown and "follow-ups; `/escalate followups`" in shown
    assert "*Team backlog* (151 open)" in shown and "Out of office" in shown and "Leave" in shown
    assert "*At risk now*" in shown and "more at risk" in shown
    ids = [
        e["action_id"]
        for b in view["blocks"]
        for e in [*b.get("elements", []), b.get("accessory") or {}]
        if e.get("action_id")
    ]
    assert len(ids) == len(set(ids)) > 0


def test_queue_is_ordered_by_sla_due_and_offers_actions(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    later = new_ticket(sessions, config, severity="sev3", summary="slow one")
    sooner = new_ticket(sessions, config, severity="sev0", summary="urgent one")
    with transaction(sessions) as s:
        for tid in (later, sooner):
            s.get_one(Ticket, tid).assignee_id = LUCIA
    with sessions() as s:
        ctx = home.pod_context(s, config, r, LUCIA, T0)
        assert [row["t"].summary for row in ctx["queue"]] == ["urgent one", "slow one"]
        view = home.view(s, config, r, LUCIA, T0 + timedelta(minutes=12))
    shown = text(view)
    assert shown.index("urgent one") < shown.index("slow one")
    assert "Ack" in shown and "Resolve" in shown and "Add follow-up" in shown  # not yet acked
    assert "time to acknowledge" in shown  # the sev0 is past 75 % of 15 minutes


def test_reporters_see_their_escalations_and_can_reopen(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    open_one = new_ticket(sessions, config, summary="still open")
    done = new_ticket(sessions, config, summary="already done")
    act(
        sessions,
        done,
        lambda s, t: resolution.resolve(s, config, r, t, OUTCOME, actor=LEAD, now=T0),
    )
    with sessions() as s:
        view = home.view(s, config, r, REPORTER, T0 + timedelta(days=1))
        assert blockkit.problems(view, "home") == []
        shown = text(view)
        assert "Your escalations" in shown and "Your queue" not in shown
        assert shown.index("still open") < shown.index("already done")
        assert "decision: *Removed*" in shown
        reopen = [b["accessory"] for b in view["blocks"] if b.get("accessory")]
        assert [(a["text"]["text"], a["value"]) for a in reopen] == [("Reopen", f"ESC-{done}")]
        late = home.view(s, config, r, REPORTER, T0 + timedelta(days=20))
        assert not [b for b in late["blocks"] if b.get("accessory")]
        assert "Reopen" not in text(late)
        assert open_one


def test_reporter_with_many_escalations_gets_and_n_more(sessions, config) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        for i in range(40):
            seed(
                s,
                LUCIA,
                now=T0 + timedelta(minutes=i),
                status="resolved" if i % 2 else "acknowledged",
            )
    with sessions() as s:
        view = home.view(s, config, Renderer(config.team_tz), "U07LEGAL01", T0)
    assert blockkit.problems(view, "home") == []
    assert "…and 15 more older ones" in text(view)


def test_changes_queue_refreshes_for_the_people_concerned(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    tid = new_ticket(sessions, config)
    with sessions() as s:
        owner = s.get_one(Ticket, tid).assignee_id
    with transaction(sessions) as s:
        before = s.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1))
    act(
        sessions, tid, lambda s, t: resolution.resolve(s, config, r, t, OUTCOME, actor=LEAD, now=T0)
    )
    with sessions() as s:
        homes = s.scalars(
            select(OutboxMessage.channel).where(
                OutboxMessage.kind == "home", OutboxMessage.id > before
            )
        ).all()
    assert sorted(homes) == sorted({f"home:{REPORTER}", f"home:{owner}"})  # once each
    assert datetime(2026, 1, 1, tzinfo=UTC) < T0


def test_a_reassignment_refreshes_the_old_owner_too(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    tid = new_ticket(sessions, config)
    with sessions() as s:
        t = s.get_one(Ticket, tid)
        key, old = t.key, t.assignee_id
        last = s.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1))
    new = JONAS if old != JONAS else LUCIA
    with transaction(sessions) as s:
        ownership.reassign(s, config, r, key, actor=LEAD, now=T0, to=new, reason="languages")
    with sessions() as s:
        homes = s.scalars(
            select(OutboxMessage.channel).where(
                OutboxMessage.kind == "home", OutboxMessage.id > last
            )
        ).all()
    assert sorted(homes) == sorted({f"home:{REPORTER}", f"home:{old}", f"home:{new}"})


def test_the_home_is_published_only_when_it_changed(escbot, fake_slack, user_factory) -> None:  # type: ignore[no-untyped-def]
    """views.publish is Tier 4 and every change queues the Homes it shows on: one whose
    rendered view is what was last published for that person is not sent again."""
    from tests.intake_support import PARTNER, escalate
    from tests.outbox_support import drain

    partner = user_factory(PARTNER)
    for _ in range(3):
        assert partner.app_home_opened().status_code == 200
        assert drain(escbot.services.outbox)
    assert len(fake_slack.calls_to("views.publish")) == 1
    assert escalate(partner, fake_slack, text="Slurs in the comments").status_code == 200
    assert drain(escbot.services.outbox)
    assert "Slurs in the comments" in str(fake_slack.home_view(PARTNER))
    published = len(fake_slack.calls_to("views.publish"))
    assert published == 2
    assert partner.app_home_opened().status_code == 200
    assert drain(escbot.services.outbox)
    assert len(fake_slack.calls_to("views.publish")) == published
