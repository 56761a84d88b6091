"""Clarifications: proposed once per pattern, written and posted, acknowledged only by the
vendor's lead, reminders until then, and the error rate before and after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.config import AppConfig
from bot.core.errors import DomainError, NotAllowed
from bot.qa import clarify, grading, sampling
from storage.db import transaction
from storage.models import OutboxMessage, QaClarification, QaDecision, QaItem, Timer
from tests.desk import LEAD, desk_at
from tests.qa_support import (
    DAY,
    DRAW_TIME,
    NORTHWIND,
    VENDOR_CHANNEL,
    VENDOR_LEAD,
    decisions,
    sampled,
    store,
)


def overturn(desk, item: QaItem, category: str) -> None:  # type: ignore[no-untyped-def]
    with transaction(desk.sessions) as s:
        row = s.get_one(QaItem, item.id)
        decision = s.get_one(QaDecision, row.decision_id)
        grader = row.grader_id or LEAD
        grading.record(
            s,
            desk.config,
            row,
            decision,
            grader,
            grading.OVERTURNED,
            "labelled",
            category,
            "",
            desk.clock.now(),
        )


def test_from_pattern_to_acknowledgement(sessions, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    store(sessions, decisions(config, 300, areas=("hateful_activities",)))
    desk = desk_at(sessions, config, DRAW_TIME)
    sampling.draw_sample(desk, NORTHWIND, DAY)
    items = [i for i, _ in sampled(sessions)]
    for item in items[:2]:
        overturn(desk, item, "missed_context")
    assert clarify.propose_from_patterns(desk) == []  # two are not a pattern yet
    overturn(desk, items[2], "missed_context")
    for item in items[3:6]:
        grading.uphold(desk, item.id, item.grader_id or LEAD)
    [proposed] = clarify.propose_from_patterns(desk)
    assert clarify.propose_from_patterns(desk) == []  # once, while it is being dealt with

    view = clarify.modal_for_proposal(desk, proposed, LEAD)
    with pytest.raises(NotAllowed):
        clarify.modal_for_proposal(desk, proposed, VENDOR_LEAD)
    [prefilled] = [
        b["element"]["initial_value"] for b in view["blocks"] if b.get("block_id") == "examples"
    ]
    assert prefilled.count("https://social.example/") == 3  # the overturned decisions' refs
    texts = {
        "policy_point": "HA-1: satire is context",
        "examples": prefilled,
        "instead": "Label satire; remove only attacks.",
    }
    values = {k: {"value": {"type": "plain_text_input", "value": v}} for k, v in texts.items()}
    form = view | {"id": "VC1", "state": {"values": values}}
    posting = desk_at(sessions, config, DRAW_TIME + timedelta(hours=1))
    assert clarify.submit(posting, form, LEAD) == proposed
    with sessions() as s:
        clar = s.get_one(QaClarification, proposed)
        [posted] = s.scalars(select(OutboxMessage).where(OutboxMessage.channel == VENDOR_CHANNEL))
        [reminder] = s.scalars(select(Timer).where(Timer.kind == clarify.TIMER_KIND))
    assert clar.status == clarify.OPEN and len(clar.examples) == 3
    assert "Acknowledge" in str(posted.payload) and posted.payload["unfurl_links"] is False
    assert reminder.due_at == DRAW_TIME + timedelta(hours=1) + config.qa.remind_every

    with pytest.raises(NotAllowed):
        clarify.acknowledge(desk, proposed, LEAD)  # the vendor's lead acknowledges, not ours
    later = desk_at(sessions, config, DRAW_TIME + timedelta(hours=3))
    message = clarify.acknowledge(later, proposed, VENDOR_LEAD)
    assert "unfurl_links" not in message and "Acknowledged by" in str(message)
    with pytest.raises(DomainError, match="already acknowledged"):
        clarify.acknowledge(later, proposed, VENDOR_LEAD)
    next_day = desk_at(sessions, config, DRAW_TIME + timedelta(days=1))
    for item in items[6:9]:
        grading.uphold(next_day, item.id, item.grader_id or LEAD)
    with sessions() as s:
        assert s.get_one(Timer, reminder.id).status == "cancelled"
        week = timedelta(days=7)
        summary = clarify.summary(s, config, DRAW_TIME + week + timedelta(hours=4), week)
    [effect] = summary.effects
    assert summary.open == ()
    assert (effect.before.n, effect.before.hits, effect.before.score) == (6, 3, 0.5)
    assert (effect.after.n, effect.after.hits, effect.after.score) == (3, 0, 0.0)


def test_a_vendor_without_a_channel_gets_no_clarification(sessions, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    vendor = config.vendors[NORTHWIND].model_copy(update={"channel": None})
    cfg = config.model_copy(update={"vendors": {**config.vendors, NORTHWIND: vendor}})
    store(sessions, decisions(cfg, 50, areas=("hateful_activities",)))
    desk = desk_at(sessions, cfg, DRAW_TIME)
    sampling.draw_sample(desk, NORTHWIND, DAY)
    item = sampled(sessions)[0][0]
    overturn(desk, item, "missed_context")
    with pytest.raises(DomainError, match="has no Slack channel"):
        clarify.modal_for_item(desk, item.id, LEAD)


def test_a_digest_counts_the_clarifications_open_at_its_end(sessions, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    """A proposal made after the digest's window, or one acknowledged before it ended, is
    not in it; one sent after the end still reads 'proposed' there (the month test found
    a posted weekly digest whose count changed when rendered again)."""
    end = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    hour = timedelta(hours=1)

    def clarification(key: str, status: str, proposed: datetime, **at: datetime) -> QaClarification:
        return QaClarification(
            vendor=NORTHWIND, policy_area="hateful_activities", error_category="missed_context",
            source="pattern", pattern_key=key, status=status, examples=["post:1"],
            proposed_at=proposed, **at,
        )  # fmt: skip

    with transaction(sessions) as s:
        s.add(clarification("before", clarify.OPEN, end - 48 * hour, posted_at=end + hour))
        s.add(clarification("after", clarify.PROPOSED, end + hour))
        closed = {"posted_at": end - 60 * hour, "acknowledged_at": end - 50 * hour}
        s.add(clarification("closed", clarify.ACKNOWLEDGED, end - 72 * hour, **closed))
        s.add(clarification("sent", clarify.OPEN, end - 30 * hour, posted_at=end - 20 * hour))
    with sessions() as s:
        summary = clarify.summary(s, config, end, timedelta(days=7))
    assert [(row[4], row[5]) for row in summary.open] == [
        (clarify.PROPOSED, end - 48 * hour),
        (clarify.OPEN, end - 20 * hour),
    ]
