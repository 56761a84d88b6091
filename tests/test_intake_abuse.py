"""Intake under attack, over signed HTTP: probing other people's tickets through the
duplicate check, forged duplicate-choice and modal payloads, and floods from one person.

The attacker here holds a real Slack account (their requests are correctly signed);
what they can't do is see or join a ticket that isn't theirs, nor make escbot act on
anything it did not show them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import AppConfig
from bot.config.loader import load_config_text
from bot.intake.draft import Draft
from bot.intake.service import REPORTED_AGAIN, open_ticket
from bot.sandbox.emulator import FakeSlack, SlackUser
from storage.db import transaction
from storage.models import ContentItem, Ticket, TicketEvent, Watcher
from tests.conftest import REPO
from tests.intake_support import BASIC, INTAKE, OTHER_PARTNER, PARTNER, escalate, open_modal
from tests.outbox_support import drain

PROBER = "U07PROBER1"
VICTIM_SUMMARY = "Doxxing of Jane Roe, a named victim"
VICTIM_ID = "post:31337"
ANCHOR = "post:1"
LIMIT = 30  # limits.duplicate_checks_per_user in the example app.yaml


@pytest.fixture(scope="module")
def config() -> AppConfig:
    return load_config_text((REPO / "app.yaml").read_text(encoding="utf-8"), "app.yaml")


def victim_ticket(escbot: Any) -> tuple[int, str, str]:
    """Another team's sensitive ticket holding ``VICTIM_ID``: (id, key, owner)."""
    desk = escbot.services.desk
    draft = Draft(
        summary=VICTIM_SUMMARY,
        policy_area="graphic_violence",
        severity="sev1",
        language="en",
        content=(VICTIM_ID, "post:31338"),
    )
    with transaction(desk.sessions) as s:
        t = open_ticket(
            s, desk.config, desk.renderer, draft, reporter=OTHER_PARTNER, now=desk.clock.now()
        )
        return t.id, t.key, str(t.assignee_id)


def state_of(escbot: Any, ticket_id: int) -> tuple[int, int, int, int]:
    """(watchers, content items, "reported again" events, outbox rows) of a ticket."""
    with escbot.services.sessions() as s:
        return (
            s.scalar(select(func.count()).where(Watcher.ticket_id == ticket_id)) or 0,
            s.scalar(select(func.count()).where(ContentItem.ticket_id == ticket_id)) or 0,
            s.scalar(
                select(func.count()).where(
                    TicketEvent.ticket_id == ticket_id, TicketEvent.action == REPORTED_AGAIN
                )
            )
            or 0,
            len(s.scalars(select(Ticket.id)).all()),
        )


def everything_to(fake: FakeSlack, user: str, mark: int) -> str:
    """Every view, ephemeral, response and DM ``user`` was shown since ``mark`` (nobody
    else opens a modal or runs a command in these tests)."""
    views = ("views.open", "views.update", "views.push", "response_url")
    shown = [
        json.dumps(c.args, ensure_ascii=False)
        for c in fake.calls[mark:]
        if c.method in views or user in (c.args.get("user"), c.args.get("channel"))
    ]
    shown += [json.dumps(m.blocks, ensure_ascii=False) + (m.text or "") for m in fake.dms(user)]
    return "\n".join(shown)


def told(fake: FakeSlack, user: str, mark: int) -> str:
    """The next message escbot sent ``user`` privately (a DM, as to a modal's button)."""
    call = fake.wait_for(
        lambda c: c.method == "chat.postMessage" and c.args.get("channel") == user, since=mark
    )
    return json.dumps(call.args, ensure_ascii=False)


def submit(user: SlackUser, fake: FakeSlack, content: str, **values: Any) -> Any:
    view = open_modal(user, fake, "Seen on our side")
    return user.submit_view(view, {**BASIC, "Content links or ids": content, **values})


def test_the_probe_learns_nothing_and_joins_nothing(
    escbot: Any, fake_slack: FakeSlack, user_factory: Any
) -> None:
    vid, vkey, owner = victim_ticket(escbot)
    prober = user_factory(PROBER)
    start = fake_slack.mark()
    assert escalate(prober, fake_slack, {"Content links or ids": ANCHOR}).status_code == 200
    assert drain(escbot.services.outbox)
    before = state_of(escbot, vid)
    guesses = [f"post:{n}" for n in range(31237, 31436)]  # 199 guesses, the victim's among them
    assert VICTIM_ID in guesses

    # the script: anchor + 199 guesses in one go — more than one submission takes
    big = submit(prober, fake_slack, "\n".join([ANCHOR, *guesses]))
    assert "at most 20 per escalation" in big.json()["errors"]["content"]

    # within the cap, batch after batch, repeated: the lookup limit stops it
    batches = [guesses[i : i + 19] for i in range(0, len(guesses), 19)] * 3
    answers: list[dict[str, Any]] = []
    last_choice = None
    for batch in batches:
        answers.append(submit(prober, fake_slack, "\n".join([ANCHOR, *batch])).json())
        if answers[-1].get("response_action") == "update":
            last_choice = fake_slack.last_view(PROBER)
    choices = [a for a in answers if a.get("response_action") == "update"]
    limited = [a for a in answers if "errors" in a]
    assert len(choices) == LIMIT - 1  # the first ticket's submission was one lookup too
    assert len(limited) == len(batches) - len(choices)
    assert all("the most one person can" in a["errors"]["content"] for a in limited)
    hits = [a for a in choices if vkey in json.dumps(a)]
    assert hits  # the victim's key is named, by design: "handled by the desk (ESC-n)"
    for hit in hits:
        text = json.dumps(hit, ensure_ascii=False)
        assert f"already being handled by the desk (*{vkey}*)" in text
        assert f"Ask to follow {vkey}" in text and f"Add to {vkey}" not in text
        about = [json.dumps(b) for b in hit["view"]["blocks"] if vkey in json.dumps(b)]
        assert about and not [b for b in about if "<@" in b or "owner:" in b or owner in b]

    # "add to" its own ticket, from a choice that also named the victim's
    with escbot.services.sessions() as s:
        own = s.scalars(select(Ticket.key).where(Ticket.reporter_id == PROBER)).one()
    assert last_choice is not None
    assert prober.click(last_choice, f"Add to {own}").status_code == 200
    fake_slack.wait_for("views.update")
    assert drain(escbot.services.outbox)

    seen = everything_to(fake_slack, PROBER, start) + json.dumps(answers, ensure_ascii=False)
    for secret in (VICTIM_SUMMARY, "Jane Roe", "post:31338", VICTIM_ID):
        assert secret not in seen, secret
    assert state_of(escbot, vid)[:3] == before[:3]  # no watcher, no content, no thread line
    with escbot.services.sessions() as s:
        assert s.scalars(select(Watcher.user_id)).all() == []


def test_forged_choice_buttons_are_refused_and_create_nothing(
    escbot: Any, fake_slack: FakeSlack, user_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _, vkey, _ = victim_ticket(escbot)
    attacker = user_factory(PROBER)
    assert escalate(attacker, fake_slack, {"Content links or ids": ANCHOR}).status_code == 200
    evil = {
        "summary": "S" * 5000,
        "policy_area": "hateful_activities",
        "severity": "sev0",
        "language": "xx",
        "content": ["javascript:alert(document.cookie)"],
        "source_permalink": "https://evil.example/phish",
    }
    forged_new = {
        "type": "modal",
        "id": "V0FORGED01",
        "callback_id": "escalate_duplicate",
        "private_metadata": json.dumps({"o": {"c": "C1"}, "d": evil}),
        "blocks": [
            {
                "type": "actions",
                "block_id": "new",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "intake_new",
                        "value": "new",
                        "text": {"type": "plain_text", "text": "Open a new ticket anyway"},
                    },
                    {
                        "type": "button",
                        "action_id": "intake_add_1",
                        "value": vkey,
                        "text": {"type": "plain_text", "text": f"Add to {vkey}"},
                    },
                ],
            }
        ],
    }
    caplog.set_level("WARNING")
    for label in ("Open a new ticket anyway", f"Add to {vkey}"):
        mark = fake_slack.mark()
        assert attacker.click(forged_new, label).status_code == 200
        assert "expired or was already used" in told(fake_slack, PROBER, mark)
    refusals = [r for r in caplog.records if "no such form for them" in r.getMessage()]
    assert len(refusals) == 2  # one line per forged click

    # a real choice of theirs, with a button changed to a ticket they were never shown
    answer = submit(attacker, fake_slack, f"{ANCHOR}\npost:2")
    real = fake_slack.last_view(PROBER)
    assert answer.json()["response_action"] == "update" and real is not None
    tampered = json.loads(json.dumps(real).replace('"value": "ESC-2"', f'"value": "{vkey}"'))
    mark = fake_slack.mark()
    assert attacker.click(tampered, "Add to ESC-2").status_code == 200
    assert "not one escbot showed you" in told(fake_slack, PROBER, mark)

    assert drain(escbot.services.outbox)
    with escbot.services.sessions() as s:
        tickets = s.scalars(select(Ticket)).all()
        assert len(tickets) == 2  # the victim's and the attacker's first: nothing created
        assert all(len(t.summary) < 200 and t.severity != "sev0" for t in tickets)
        assert not [t for t in tickets if t.source_permalink or t.language == "xx"]
        assert s.scalars(select(Watcher)).all() == []
        assert not s.scalars(select(ContentItem).where(ContentItem.raw.like("javascript:%"))).all()


def test_a_forged_intake_or_resolve_modal_is_refused(
    escbot: Any, fake_slack: FakeSlack, user_factory: Any
) -> None:
    attacker = user_factory(PARTNER)
    view = open_modal(attacker, fake_slack, "Hate raid")
    forged = {**view, "private_metadata": json.dumps({"p": "https://evil.example/phish"})}
    resp = attacker.submit_view(forged, BASIC)
    assert "came back changed" in resp.json()["errors"]["summary"]
    # the resolve modal's ticket id, swapped for another ticket's
    vid, _, _ = victim_ticket(escbot)
    lead = user_factory("U04LQ2M8RTA")
    resolve = {
        "type": "modal",
        "callback_id": "resolve_modal",
        "private_metadata": str(vid),
        "blocks": [],
    }
    mark = fake_slack.mark()
    assert lead.submit_view(resolve, {}, enforce_required=False).status_code == 200
    assert "came back changed" in told(fake_slack, "U04LQ2M8RTA", mark)
    with escbot.services.sessions() as s:
        assert [t.status for t in s.scalars(select(Ticket))] == ["assigned"]


def test_one_person_is_limited_but_sev0_always_gets_through(
    escbot: Any, fake_slack: FakeSlack, user_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    flooder = user_factory(PARTNER)
    for n in range(10):
        resp = escalate(flooder, fake_slack, text=f"Flood {n}")
        assert resp.status_code == 200 and resp.content == b"", resp.text
    over = escalate(flooder, fake_slack, text="One too many")
    assert "You have opened 10 tickets in the last 10m" in over.json()["errors"]["summary"]
    caplog.set_level("WARNING")
    sev0 = escalate(flooder, fake_slack, {"Severity": "sev0"}, text="Imminent harm")
    assert sev0.status_code == 200 and sev0.content == b""
    assert [r for r in caplog.records if "over the intake limit" in r.getMessage()]
    other = escalate(user_factory(OTHER_PARTNER), fake_slack, text="Another partner")
    assert other.content == b""  # the limit is per person
    with escbot.services.sessions() as s:
        mine = s.scalars(select(Ticket.severity).where(Ticket.reporter_id == PARTNER)).all()
    assert len(mine) == 11 and mine.count("sev0") == 1
    assert INTAKE  # the cards wait in the outbox; the flood benchmark is test_outbox's
