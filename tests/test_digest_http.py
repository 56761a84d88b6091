"""Digests as the desk lives them, over signed HTTP with a moving clock: what the lead
reads in the KPI channel, and what the Slack preview shows later.

Thursday's digest stays byte-identical after Friday's reassign, Monday's covers the
weekend and counts the breach still open, empty sections collapse into one line, and a
digest set to another time zone speaks in it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.config import AppConfig
from bot.config.loader import load_config_text
from bot.reporting import digests
from bot.reporting.periods import digest_period
from bot.reporting.present import payload_text, present
from bot.reporting.report import build_report
from bot.sandbox.emulator.fake_slack import Message
from storage.models import OutboxMessage, Ticket
from tests.desk import EXAMPLE, LEAD
from tests.outbox_support import drain, routed

INTAKE, KPI = "C06H2KX8ESC", "C06H2KX9KPI"
PARTNER = "U07LEGAL01"
NEW_YORK = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def config() -> AppConfig:
    """The example app.yaml, with the weekly digest read in New York."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["digests"][1]["timezone"] = NEW_YORK
    return load_config_text(yaml.safe_dump(data), "app.yaml (weekly in New York)")


def escalate(escbot, user_factory, fake_slack, summary: str, severity: str = "sev2") -> Ticket:  # type: ignore[no-untyped-def]
    """A partner's ``/escalate``, submitted: the ticket it opened."""
    partner = user_factory(PARTNER)
    mark = fake_slack.mark()
    assert partner.command("/escalate", text=summary).status_code == 200
    fake_slack.wait_for("views.open", since=mark)
    form = {"Severity": severity, "Your team": "Legal"}
    assert partner.submit_view(fake_slack.last_view(PARTNER), form).status_code == 200
    assert routed(escbot.services.sessions)
    with escbot.services.sessions() as s:
        return s.scalars(select(Ticket).where(Ticket.summary == summary)).one()


def card(fake_slack, ticket: Ticket) -> Message:  # type: ignore[no-untyped-def]
    return next(m for m in fake_slack.messages(INTAKE) if ticket.key in m.blocks[0]["text"]["text"])


def posted_digests(fake_slack) -> list[Message]:  # type: ignore[no-untyped-def]
    return [
        m
        for m in fake_slack.messages(KPI)
        if m.blocks and m.blocks[0].get("block_id") == "headline"
    ]


def run_digests(escbot, clock, at: datetime) -> None:  # type: ignore[no-untyped-def]
    clock.set(at)
    escbot.services.timers.run_due()
    digests.catch_up(escbot.services.desk, at)
    assert drain(escbot.services.outbox)


def blocks_bytes(blocks: list[dict[str, Any]]) -> str:
    """The blocks as bytes, without the block ids Slack fills in where a message has none."""
    plain = [{k: v for k, v in b.items() if k != "block_id"} for b in blocks]
    return json.dumps(plain, ensure_ascii=False, sort_keys=True)


def sent_payload(escbot, period_start: datetime) -> str:  # type: ignore[no-untyped-def]
    """The blocks escbot queued for the daily digest of ``period_start`` (shared with its
    chart), as bytes."""
    with escbot.services.sessions() as s:
        row = s.scalars(
            select(OutboxMessage).where(OutboxMessage.dedup_key == f"digest:daily:{period_start}")
        ).one()
        return json.dumps(row.payload["blocks"], ensure_ascii=False, sort_keys=True)


def private_kpi_channel(escbot, fake_slack) -> None:  # type: ignore[no-untyped-def]
    """Make the digests' channel private, with escbot invited, as a desk keeps it."""
    fake_slack.add_channel(KPI, "tns-escalations-kpi", is_private=True)
    fake_slack.invite(KPI)
    assert escbot.join_channels()[KPI] == "private"


def test_thursdays_digest_is_byte_identical_after_fridays_reassign(
    escbot, fake_slack, user_factory, clock, config
) -> None:
    private_kpi_channel(escbot, fake_slack)  # the desk's own: the preview shows the same
    ticket = escalate(escbot, user_factory, fake_slack, "Slur-filled pile-on under a post")
    assert drain(escbot.services.outbox)
    owner = user_factory(ticket.assignee_id)
    clock.set(utc(2026, 11, 26, 10, 10))  # Thu: acknowledged in 10 minutes
    assert owner.click(card(fake_slack, ticket), "Ack").status_code == 200
    assert drain(escbot.services.outbox)

    run_digests(escbot, clock, utc(2026, 11, 27, 9, 0, 30))  # Fri 09:00: Thursday's digest
    [thursday] = posted_digests(fake_slack)
    seen = payload_text({"blocks": thursday.blocks})
    assert seen.startswith(":bar_chart: Daily digest · Thu 26 Nov 09:00 → Fri 27 Nov 09:00")
    assert "*sev2* · ack 10m / 10m (n=1)" in seen
    assert "*SLA 100%* · *1* of *1* on time\n" in seen
    assert "No follow-ups." in seen and "none" not in seen  # the empty section, one line

    # Friday: the lead gives it to someone else, who takes it; then it is resolved and reopened
    clock.set(utc(2026, 11, 27, 11, 0))
    lead = user_factory(LEAD)
    mark = fake_slack.mark()
    lead.click(card(fake_slack, ticket), "Reassign")
    fake_slack.wait_for("views.open", since=mark)
    other = "U05NBO4WKM1" if ticket.assignee_id != "U05NBO4WKM1" else "U05MAD1LFZ3"
    reply = lead.submit_view(fake_slack.last_view(LEAD), {"New owner": other, "Reason": "Swahili"})
    assert reply.status_code == 200 and not reply.content
    assert drain(escbot.services.outbox)
    with escbot.services.sessions() as s:
        moved = s.get_one(Ticket, ticket.id)
        assert (moved.assignee_id, moved.acked_at, moved.first_acked_by) == (
            other,
            None,  # the new owner hasn't acknowledged it…
            ticket.assignee_id,  # …but the first acknowledgement stays on the record
        )

    # the same digest computed again now, and the preview the lead asks for in Slack
    cfg, desk = escbot.services.config, escbot.services.desk
    daily = cfg.digest("daily")
    period = digest_period(cfg, daily, utc(2026, 11, 27, 9, 0))
    clock.set(utc(2026, 11, 27, 15, 0))
    with desk.sessions() as s:
        again = present(cfg, desk.renderer, build_report(s, cfg, daily, period, clock.now()))
    assert json.dumps(again.payload["blocks"], ensure_ascii=False, sort_keys=True) == sent_payload(
        escbot, period.start
    )  # byte for byte what was posted on Friday morning
    assert blocks_bytes(again.payload["blocks"]) == blocks_bytes(thursday.blocks)
    mark = fake_slack.mark()
    assert lead.command("/escalate", text="digest daily").status_code == 200
    preview = fake_slack.wait_for("response_url", since=mark).args["blocks"]
    assert preview[1]["elements"][-1]["text"].startswith(":eyes: Preview")
    preview[1]["elements"].pop()  # the preview's own note; everything else as posted
    assert blocks_bytes(preview) == blocks_bytes(thursday.blocks)


def test_mondays_digest_covers_the_weekend_and_counts_breaches_still_open(
    escbot, fake_slack, user_factory, clock, config
) -> None:
    run_digests(escbot, clock, utc(2026, 11, 27, 9, 0, 30))  # Friday's, before the tickets
    clock.set(utc(2026, 11, 27, 14, 0))  # Fri afternoon, after Friday's digest
    friday = escalate(escbot, user_factory, fake_slack, "Hateful symbols in a trending video")
    clock.set(utc(2026, 11, 28, 11, 0))  # Saturday
    saturday = escalate(escbot, user_factory, fake_slack, "Threat to a mosque", severity="sev0")
    assert drain(escbot.services.outbox)
    run_digests(escbot, clock, utc(2026, 11, 28, 12, 0))  # the sev0's ack target passes unmet

    run_digests(escbot, clock, utc(2026, 11, 30, 9, 0, 30))  # Monday 09:00
    friday_post, monday = posted_digests(fake_slack)
    assert "New *0*" in payload_text({"blocks": friday_post.blocks}) or "No new" in payload_text(
        {"blocks": friday_post.blocks}
    )
    seen = payload_text({"blocks": monday.blocks})
    assert seen.startswith(":bar_chart: Daily digest · Fri 27 Nov 09:00 → Mon 30 Nov 09:00")
    assert "Since the previous digest" in seen
    assert "New *2*" in seen and friday.key in seen and saturday.key in seen
    # Friday's sev2 missed its 4 working hours at 18:00; Saturday's sev0 its 15 minutes
    # both count as missed at once: 0 % (the old definition said 0 missed, and no rate)
    assert "*SLA 0%* · *0* of *2* on time · *2* breached and still open\n" in seen
    assert "*sev0* · ack 0/1 (0%) · resolve 0/0 (—)" in seen
    assert (
        f"*Breached and still open* (2):\n• {saturday.key} sev0 ack · Sat 28 Nov 11:15\n"
        f"• {friday.key} sev2 ack · Fri 27 Nov 18:00"
    ) in seen
    assert "Times in Europe/Dublin." in seen


def test_a_digest_set_to_new_york_speaks_new_york_time(
    escbot, fake_slack, user_factory, clock, config
) -> None:
    escalate(escbot, user_factory, fake_slack, "Coordinated brigading of a news thread")
    # Mon 30 Nov 09:30 in New York is 14:30 UTC: the weekly posts then, not at Dublin's 09:30
    run_digests(escbot, clock, utc(2026, 11, 30, 9, 31))
    assert [m.blocks[0]["text"]["text"].split("\n")[0] for m in posted_digests(fake_slack)] == [
        ":bar_chart: Daily digest · Fri 27 Nov 09:00 → Mon 30 Nov 09:00"
    ]
    run_digests(escbot, clock, utc(2026, 11, 30, 14, 30, 30))
    weekly = payload_text({"blocks": posted_digests(fake_slack)[-1].blocks})
    assert weekly.startswith(":bar_chart: Weekly digest · Mon 23 Nov 09:30 → Mon 30 Nov 09:30")
    assert "open at Mon 30 Nov 09:30" in weekly and "Times in America/New_York." in weekly
    assert "open at Mon 30 Nov 09:30" in weekly  # New York time, also inside the sections
    assert "• ESC-1 sev2 ack · Thu 26 Nov 09:00" in weekly  # 14:00 in Dublin
    assert (
        "No acknowledgements or resolutions to time, vendor decisions reviewed, follow-ups"
        " or spikes." in weekly
    )  # the empty sections, in one line
