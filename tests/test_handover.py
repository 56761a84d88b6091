"""People who leave the desk: removed from app.yaml (then a restart) or deactivated in
Slack, their open tickets, follow-ups, QA items and calibration slots move within one
scheduler tick, the new owners and the lead are told, and they get one note, nothing more."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.config import AppConfig
from bot.config.loader import load_config_text
from bot.resolution import entry
from bot.routing import ownership
from bot.runtime import Runtime
from bot.sandbox.emulator import FakeSlack, SlackUser
from bot.settings import Settings
from storage.db import transaction
from storage.models import DeskPerson, FollowUp, QaDecision, QaItem, QaRun, Ticket, TicketEvent
from tests.conftest import SIGNING_SECRET
from tests.desk import AFTERNOON, EXAMPLE, INTAKE, LEAD, LUCIA, new_ticket
from tests.outbox_support import drain


def without(user: str) -> AppConfig:
    """The example app.yaml with ``user`` taken out of the pod and its rotation."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    pod = data["pods"]["critical_harms"]
    pod["members"] = [m for m in pod["members"] if m["id"] != user]
    for rotation in pod["rotations"].values():
        rotation["members"] = [m for m in rotation["members"] if m != user]
    return load_config_text(yaml.safe_dump(data), "app.yaml (without one)")


def start(db_url: str, cfg: AppConfig, fake: FakeSlack, clock) -> Runtime:  # type: ignore[no-untyped-def]
    settings = Settings(
        bot_token="xoxb-test-token",
        signing_secret=SIGNING_SECRET,
        api_url=fake.url,
        database_url=db_url,
        host="127.0.0.1",
        port=0,
        timer_interval=timedelta(hours=1),  # the test ticks the scheduler itself
        channel_rate=1000.0,
        notice_window=timedelta(0),
    )
    return Runtime.build(settings, cfg, clock=clock).start()


def lucias_work(runtime: Runtime, cfg: AppConfig) -> dict[str, int]:
    """Two tickets she took, a follow-up she owns, a QA item and a calibration slot."""
    services = runtime.services
    desk = services.desk
    keys = []
    for summary in ("Beheading clip with Spanish captions", "Gore compilation reuploaded"):
        t = new_ticket(services.sessions, cfg, services.renderer, AFTERNOON, summary=summary)
        ownership.take_ticket(desk, t.key, LUCIA)
        keys.append(t.id)
    values = {
        "kind": "tooling",
        "description": "Hash-match the clip",
        "owner": LUCIA,
        "due": date(2026, 12, 3).isoformat(),
    }
    entry.add_followup(desk, entry.Submitted(keys[0], "VFU1", values, LEAD))
    with transaction(services.sessions) as s:
        run = QaRun(
            kind="sample",
            vendor="northwind_manila",
            period_start=AFTERNOON - timedelta(days=1),
            period_end=AFTERNOON,
            seed="00",
            created_at=AFTERNOON,
        )
        s.add(run)
        for i, slot in enumerate((0, 1)):
            d = QaDecision(
                vendor="northwind_manila",
                decision_id=f"hd{i}",
                content_ref=f"https://social.example/p/{i}",
                policy_area="hateful_activities",
                decision="removed",
                decided_at=AFTERNOON - timedelta(hours=5),
                imported_at=AFTERNOON,
            )
            s.add(d)
            s.flush()
            s.add(
                QaItem(
                    run_id=run.id,
                    decision_id=d.id,
                    kind="sample" if slot == 0 else "calibration",
                    slot=slot,
                    stratum="hateful_activities",
                    stratum_size=10,
                    stratum_sampled=1,
                    grader_id=LUCIA,
                    assigned_at=AFTERNOON,
                )
            )
    assert drain(services.outbox)
    return {"tickets": len(keys)}


def held_by(runtime: Runtime, user: str) -> dict[str, int]:
    with runtime.services.sessions() as s:
        return {
            "tickets": len(s.scalars(select(Ticket).where(Ticket.assignee_id == user)).all()),
            "followups": len(s.scalars(select(FollowUp).where(FollowUp.owner_id == user)).all()),
            "qa": len(s.scalars(select(QaItem).where(QaItem.grader_id == user)).all()),
        }


def dms_to(fake: FakeSlack, user: str) -> str:
    return json.dumps([m.blocks for m in fake.dms(user)], ensure_ascii=False)


@pytest.fixture
def fake(config) -> Any:  # type: ignore[no-untyped-def]
    from tests.conftest import CHANNELS

    with FakeSlack(team_id=config.workspace.team_id or "T0ESCBOT") as fake:
        for channel_id, name in CHANNELS.items():
            fake.add_channel(channel_id, name)
        yield fake


def test_removed_from_app_yaml_and_restarted_all_her_work_moves_in_one_tick(
    db_url, config, fake, clock
) -> None:  # type: ignore[no-untyped-def]
    clock.set(AFTERNOON)
    first = start(db_url, config, fake, clock)
    try:
        first.services.scheduler.tick()  # the roll call: everyone in app.yaml is on the desk
        lucias_work(first, config)
    finally:
        first.shutdown()
    assert held_by(first, LUCIA) == {"tickets": 2, "followups": 1, "qa": 2}
    before = len(fake.dms(LUCIA))
    smaller = without(LUCIA)
    clock.set(AFTERNOON + timedelta(minutes=5))
    second = start(db_url, smaller, fake, clock)
    try:
        second.services.scheduler.tick()
        assert held_by(second, LUCIA) == {"tickets": 0, "followups": 0, "qa": 0}
        with second.services.sessions() as s:
            owners = s.scalars(select(Ticket.assignee_id).where(Ticket.status != "resolved"))
            assert LUCIA not in set(owners)
            [fu] = s.scalars(select(FollowUp)).all()
            assert fu.owner_id == LEAD
            graders = set(s.scalars(select(QaItem.grader_id)))
            assert LUCIA not in graders and None not in graders
            moved = s.scalars(
                select(TicketEvent).where(TicketEvent.action.in_(("assign", "handover")))
            ).all()
            assert (
                sum(1 for e in moved if (e.payload.get("handover") or {}).get("from") == LUCIA) == 2
            )
            assert any(e.action == "handover" and e.payload["from"] == LUCIA for e in moved)
            person = s.get_one(DeskPerson, LUCIA)
            assert person.left_via == "config" and person.noted_at is not None
        assert drain(second.services.outbox)
        lead = dms_to(fake, LEAD)
        assert f"<@{LUCIA}> has left the Critical Harms desk" in lead
        assert "QA item" in lead and "calibration slot" in lead and "follow-up on" in lead
        for key, owner in moved_tickets(second):
            assert f"*{key}*" in dms_to(fake, owner)  # the new owner is told it is theirs
            [card] = [m for m in fake.messages(INTAKE) if key in m.blocks[0]["text"]["text"]]
            assert "Handed over: its owner left the Critical Harms desk" in json.dumps(
                card.blocks, ensure_ascii=False
            )
        # the one note, and nothing else, ever: a second tick and an SLA breach later
        notes = fake.dms(LUCIA)[before:]
        assert len(notes) == 1 and "was handed over" in json.dumps(notes[0].blocks)
        clock.advance(timedelta(days=3))
        second.services.scheduler.tick()
        assert drain(second.services.outbox)
        assert len(fake.dms(LUCIA)) == before + 1
    finally:
        second.shutdown()


def moved_tickets(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.services.sessions() as s:
        rows = s.execute(select(Ticket.key, Ticket.assignee_id).order_by(Ticket.id)).all()
    return [(key, owner) for key, owner in rows if owner]


def test_deactivated_in_slack_her_work_moves_without_a_restart(
    escbot, fake_slack, config, clock, user_factory
) -> None:  # type: ignore[no-untyped-def]
    clock.set(AFTERNOON)
    escbot.services.scheduler.tick()
    lucias_work(escbot, config)
    before = len(fake_slack.dms(LUCIA))
    fake_slack.add_user(LUCIA, "lucia", "Europe/Madrid")
    answer = user_factory(LEAD).user_change(LUCIA)
    assert answer is not None and answer.status_code == 200
    nothing = {"tickets": 0, "followups": 0, "qa": 0}

    def handed_over() -> bool:  # the lead's list and her note are queued last
        with escbot.services.sessions() as s:
            person = s.get(DeskPerson, LUCIA)
        return held_by(escbot, LUCIA) == nothing and person is not None and bool(person.noted_at)

    fake_slack.wait_until(handed_over, timeout=10)
    assert drain(escbot.services.outbox)
    assert f"<@{LUCIA}> has left the Critical Harms desk" in dms_to(fake_slack, LEAD)
    notes = fake_slack.dms(LUCIA)[before:]
    assert len(notes) == 1 and "was handed over" in json.dumps(notes[0].blocks)
    # never routed anything again, though app.yaml still lists her
    t = new_ticket(
        escbot.services.sessions, config, escbot.services.renderer, AFTERNOON, language="es"
    )
    assert t.assignee_id != LUCIA
    escbot.services.scheduler.tick()
    assert drain(escbot.services.outbox)
    assert len(fake_slack.dms(LUCIA)) == before + 1


def test_the_event_arrives_only_with_the_subscription(config) -> None:  # type: ignore[no-untyped-def]
    with FakeSlack(events=["app_home_opened"]) as fake:
        fake.add_user(LUCIA, "lucia", "Europe/Madrid")
        user = SlackUser("http://127.0.0.1:9/slack/events", SIGNING_SECRET, user_id=LEAD, fake=fake)
        assert user.user_change(LUCIA) is None  # not subscribed: Slack sends nothing
    from bot.slack.manifest import BOT_EVENTS

    assert "user_change" in BOT_EVENTS


def test_nothing_is_dmed_to_someone_who_left_but_the_note(sessions) -> None:  # type: ignore[no-untyped-def]
    from bot.delivery import outbox
    from storage.models import OutboxMessage

    with transaction(sessions) as s:
        s.add(DeskPerson(user_id=LUCIA, seen_at=AFTERNOON, left_at=AFTERNOON, left_via="slack"))
        s.flush()
        outbox.enqueue_dm(s, LUCIA, {"text": "ESC-1 missed its resolve target"}, "k1", AFTERNOON)
        outbox.enqueue_notice(s, LUCIA, {"text": "overdue follow-up"}, "k2", AFTERNOON)
        outbox.enqueue_dm(s, LEAD, {"text": "for the lead"}, "k3", AFTERNOON)
        outbox.enqueue_handover_note(s, LUCIA, {"text": "handed over"}, "k4", AFTERNOON)
    with sessions() as s:
        rows = s.execute(select(OutboxMessage.channel, OutboxMessage.dedup_key)).all()
    assert sorted(rows) == [(LEAD, "k3"), (LUCIA, "k4")]


def test_a_profile_edit_is_not_a_departure_and_reactivation_brings_her_back(
    sessions, config
) -> None:  # type: ignore[no-untyped-def]
    from bot.routing import handover
    from tests.desk import PARTNER, desk_at

    desk = desk_at(sessions, config, AFTERNOON)
    handover.tick(desk)
    handover.user_changed(desk, {"id": PARTNER, "deleted": False, "real_name": "New name"})
    handover.tick(desk)  # the roll call must not read the partner as someone who left
    with sessions() as s:
        assert s.get(DeskPerson, PARTNER) is None
    handover.user_changed(desk, {"id": LUCIA, "deleted": True})
    handover.user_changed(desk, {"id": LUCIA, "deleted": False})
    with sessions() as s:
        assert s.get_one(DeskPerson, LUCIA).left_at is None
