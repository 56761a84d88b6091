"""The first real slice, end to end over HTTP: signed /escalate → modal → ticket → card +
ephemeral."""

from __future__ import annotations

import json
import urllib.request

from sqlalchemy import select

from storage.models import Ticket, TicketEvent
from tests.intake_support import confirmation
from tests.outbox_support import drain

INTAKE = "C06H2KX8ESC"
PARTNER = "U07LEGAL01"


PARTNERS = "C07PARTNERS"  # a public channel of the workspace (tests/conftest.py)


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def escalate(partner, fake_slack, summary: str):  # type: ignore[no-untyped-def]
    """``/escalate <summary>`` opens the prefilled modal; submitting it opens the ticket."""
    mark = fake_slack.mark()
    assert partner.command("/escalate", text=summary, channel_id=PARTNERS).status_code == 200
    fake_slack.wait_for("views.open", since=mark)
    return partner.submit_view(fake_slack.last_view(partner.user_id), {"Your team": "Legal"})


def test_escalate_text_opens_ticket_posts_card_and_answers_reporter(
    escbot, fake_slack, user_factory
) -> None:
    partner = user_factory(PARTNER)
    resp = escalate(partner, fake_slack, "Coordinated hate campaign targeting a creator")
    assert resp.status_code == 200 and not resp.content  # the modal closes: no errors

    reply = confirmation(fake_slack, PARTNER)
    assert "ESC-1" in json.dumps(reply.blocks)

    assert drain(escbot.services.outbox)
    [card] = fake_slack.messages(INTAKE)
    header, title = card.blocks[0]["text"]["text"], card.blocks[1]["text"]["text"]
    assert "SEV2 · ESC-1 · Needs ack" in header and "Coordinated hate campaign" in title

    with escbot.services.sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert (ticket.key, ticket.reporter_id) == ("ESC-1", PARTNER)
        assert ticket.card_ts == card.ts
        first = s.scalars(select(TicketEvent).order_by(TicketEvent.id)).first()
        assert first is not None
        assert (first.action, first.actor_id, first.to_status) == ("create", PARTNER, "new")


def test_second_escalation_gets_next_key(escbot, fake_slack, user_factory) -> None:
    partner = user_factory(PARTNER)
    for summary in ("first", "second"):
        assert escalate(partner, fake_slack, summary).status_code == 200
    fake_slack.wait_until(lambda: len(fake_slack.messages(INTAKE)) == 2)
    headers = [m.blocks[0]["text"]["text"] for m in fake_slack.messages(INTAKE)]
    assert [h.split(" · ")[1] for h in headers] == ["ESC-1", "ESC-2"]


def test_help_explains_usage_and_empty_command_opens_the_form(
    escbot, fake_slack, user_factory
) -> None:
    partner = user_factory(PARTNER)
    assert partner.command("/escalate", text="help").status_code == 200
    reply = fake_slack.wait_for("response_url")
    assert "/escalate status" in json.dumps(reply.args)
    assert partner.command("/escalate").status_code == 200
    fake_slack.wait_for("views.open")
    with escbot.services.sessions() as s:
        assert s.scalars(select(Ticket)).all() == []


def test_bad_signature_is_refused_with_401(escbot, fake_slack, user_factory) -> None:
    partner = user_factory(PARTNER)
    assert partner.command("/escalate", text="x", bad_signature=True).status_code == 401
    assert partner.command("/escalate", text="x", stale=True).status_code == 401
    with escbot.services.sessions() as s:
        assert s.scalars(select(Ticket)).all() == []
    assert fake_slack.calls_to("chat.postMessage") == []


def test_healthz_and_metrics(escbot) -> None:
    status, headers, body = get(f"{escbot.url}/healthz")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["database"] == "ok"
    status, _, body = get(f"{escbot.url}/metrics")
    assert status == 200 and b"escbot_http_requests" in body
    status, _, _ = get(f"{escbot.url}/nope")
    assert status == 404
