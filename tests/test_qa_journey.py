"""The QA programme over signed HTTP against the emulator: a moderation tool posts the
vendor's decisions, the morning sample is drawn, a grader upholds and overturns items in
App Home, escbot proposes a clarification from the pattern, the pod lead writes it, the
vendor lead is reminded and acknowledges it, the lead sees it closed, and the vendor's
sampled score and interval appear in `escbot digest` and in the posted digest."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.qa import schedule
from bot.reporting import digests
from storage.models import QaClarification, QaItem
from tests.desk import LEAD, PARTNER
from tests.qa_support import VENDOR_CHANNEL, VENDOR_LEAD, decisions
from tests.test_qa_import import post
from tests.test_resolution_http import modal, settle

REPO = Path(__file__).resolve().parent.parent
KPI = "C06H2KX9KPI"


def ndjson(rows: list[dict]) -> bytes:  # type: ignore[type-arg]
    return "\n".join(
        json.dumps({**r, "decided_at": r["decided_at"].isoformat()})
        for r in ({k: v for k, v in row.items() if k != "imported_at"} for row in rows)
    ).encode()


def verdicts(escbot, grader: str) -> Counter[str]:  # type: ignore[no-untyped-def]
    with escbot.services.sessions() as s:
        return Counter(s.scalars(select(QaItem.verdict).where(QaItem.graded_by == grader)))


def shown(view_or_message) -> str:  # type: ignore[no-untyped-def]
    blocks = (
        view_or_message["blocks"] if isinstance(view_or_message, dict) else view_or_message.blocks
    )
    return json.dumps(blocks, ensure_ascii=False)


def test_the_qa_morning_over_slack(escbot, fake_slack, user_factory, clock, config, db_url) -> None:  # type: ignore[no-untyped-def]
    desk = escbot.services.desk
    escbot.services.client.conversations_join(channel=KPI)
    fake_slack.add_channel(VENDOR_CHANNEL, "ext-northwind-qa", is_private=True)
    fake_slack.invite(VENDOR_CHANNEL)  # a Slack Connect channel: someone /invites escbot

    # A moderation tool sends Wednesday's decisions; the morning tick draws the sample.
    rows = decisions(config, 400, areas=("hateful_activities",))
    status, answer = post(escbot, ndjson(rows), "application/x-ndjson")
    assert (status, answer["imported"]) == (200, 400)
    schedule.tick(desk)  # Thursday 10:00 in Dublin: after draw_at and dm_at
    settle(escbot)
    with escbot.services.sessions() as s:
        graders = Counter(s.scalars(select(QaItem.grader_id)).all())
    grader_id = graders.most_common(1)[0][0]
    assert grader_id and graders[grader_id] >= 5
    [dm] = [m for m in fake_slack.dms(grader_id) if "QA today" in shown(m)]
    assert "Uphold" in shown(dm)

    # The grader upholds one and overturns three in App Home.
    grader = user_factory(grader_id)
    grader.app_home_opened()
    settle(escbot)
    home = fake_slack.home_view(grader_id)
    assert "Your QA queue" in shown(home) and "`https://social.example/p/" in shown(home)
    assert grader.click(home, "Uphold").ok  # the grade is written after the ack
    fake_slack.wait_until(lambda: verdicts(escbot, grader_id) == {"upheld": 1})
    settle(escbot)
    for n in range(3):
        view = modal(fake_slack, grader, fake_slack.home_view(grader_id), "Overturn")
        fields = {"Correct decision": "No violation", "Error category": "over enforcement"}
        assert grader.submit_view(view, fields | {"Note": f"satire, case {n}"}).ok
        settle(escbot)
    assert verdicts(escbot, grader_id) == {"upheld": 1, "overturned": 3}

    # Three overturns of one kind: escbot proposes a clarification to the pod lead.
    schedule.tick(desk)
    settle(escbot)
    [proposal] = [m for m in fake_slack.dms(LEAD) if "A pattern of overturns" in shown(m)]
    lead = user_factory(LEAD)
    view = modal(fake_slack, lead, proposal, "Write clarification")
    assert "social.example" in json.dumps(view)  # the examples, by reference
    written = {
        "Policy point": "HA-1: satire that mocks a hateful view is not an attack",
        "What to do instead": "Label it as satire; remove only when it targets a group.",
    }
    assert lead.submit_view(view, written).ok
    settle(escbot)
    [posted] = fake_slack.messages(VENDOR_CHANNEL)
    assert "Acknowledge" in shown(posted) and f"<@{VENDOR_LEAD}>" in shown(posted)

    # Nobody acknowledges for a day: the vendor lead is reminded. A partner can't ack it.
    clock.advance(timedelta(days=1, minutes=1))
    escbot.services.timers.run_due()
    settle(escbot)
    assert any("Reminder" in shown(m) for m in fake_slack.dms(VENDOR_LEAD))
    user_factory(PARTNER).click(posted, "Acknowledge")
    fake_slack.wait_until(
        lambda: any("vendor's team lead" in e.text for e in fake_slack.ephemerals(PARTNER))
    )
    assert user_factory(VENDOR_LEAD).click(posted, "Acknowledge").ok
    fake_slack.wait_until(
        lambda: "Acknowledged by" in shown(fake_slack.messages(VENDOR_CHANNEL)[0])
    )
    settle(escbot)
    [after] = fake_slack.messages(VENDOR_CHANNEL)
    assert "Acknowledged by" in shown(after) and 'Acknowledge"' not in shown(after)
    with escbot.services.sessions() as s:
        clar = s.scalars(select(QaClarification)).one()
    assert (clar.status, clar.acknowledged_by) == ("acknowledged", VENDOR_LEAD)
    clock.advance(timedelta(days=2))
    escbot.services.timers.run_due()  # no reminder after the ack
    settle(escbot)
    assert sum("Reminder" in shown(m) for m in fake_slack.dms(VENDOR_LEAD)) == 1

    # The lead sees it closed: a DM, and App Home.
    assert any("Clarification closed" in shown(m) for m in fake_slack.dms(LEAD))
    lead.app_home_opened()
    settle(escbot)
    lead_home = shown(fake_slack.home_view(LEAD))
    assert "Clarification closed" in lead_home and "Vendor quality (QA sample)" in lead_home

    # The vendor's sampled score and its interval: `escbot digest` and the posted digest.
    result = CliRunner().invoke(
        main,
        [
            "digest",
            "weekly",
            "--period",
            "2026-11-26",
            "--database-url",
            db_url,
            "--config",
            str(REPO / "app.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Sampled quality (QA)" in result.output
    assert "Northwind CX (Manila)* · QA 25% (" in result.output and "n=4)" in result.output
    clock.set(datetime(2026, 11, 30, 9, 31, tzinfo=UTC))  # Monday's weekly digest
    assert digests.run_due_digest(desk, config.digest("weekly"), clock.now())
    settle(escbot)
    [digest] = fake_slack.messages(KPI)
    assert "Sampled quality (QA)" in shown(digest) and "n=4)" in shown(digest)
    assert "waiting for the vendor" not in shown(digest)  # closed: not listed as open
