"""Grading QA items: one-click uphold, overturn through the modal, corrections audited, the
queue in App Home and the daily DM."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import AppConfig
from bot.core.errors import DomainError, NotAllowed
from bot.core.forms import FieldErrors
from bot.core.render import Renderer
from bot.qa import grading, home, sampling
from bot.slack import home as slack_home
from storage.models import OutboxMessage, QaGrade, QaItem
from tests.desk import LEAD, desk_at
from tests.qa_support import DAY, DRAW_TIME, NORTHWIND, decisions, sampled, store


def submitted(view: dict[str, Any], view_id: str, **fields: str) -> dict[str, Any]:
    """``view`` as Slack sends it back with ``fields`` (block id → option value or text)."""
    values = {}
    for block, value in fields.items():
        if block == "note":
            values[block] = {"value": {"type": "plain_text_input", "value": value}}
        else:
            option = {"value": value}
            values[block] = {"value": {"type": "static_select", "selected_option": option}}
    return view | {"id": view_id, "state": {"values": values}}


@pytest.fixture
def drawn(sessions, config: AppConfig):  # type: ignore[no-untyped-def]
    store(sessions, decisions(config, 300, areas=("hateful_activities",)))
    desk = desk_at(sessions, config, DRAW_TIME)
    sampling.draw_sample(desk, NORTHWIND, DAY)
    return desk


def test_uphold_overturn_and_correct(drawn, sessions, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    desk = drawn
    (first, _), (second, decision), *_ = sampled(sessions)
    assert first.grader_id and second.grader_id
    grading.uphold(desk, first.id, first.grader_id)
    with pytest.raises(DomainError, match="already graded"):
        grading.uphold(desk, first.id, first.grader_id)
    with pytest.raises(NotAllowed):
        grading.uphold(desk, second.id, "U07LEGAL01")

    view = grading.grade_modal(desk, second.id, second.grader_id, correcting=False)
    assert view["callback_id"] == "qa_grade_modal"
    assert f"`{decision.content_ref}`" in json.dumps(view)
    with pytest.raises(NotAllowed):
        grading.submit_grade(desk, submitted(view, "V1", correct_decision="labelled"), "U0X")
    with pytest.raises(FieldErrors) as err:
        grading.submit_grade(
            desk, submitted(view, "V1", correct_decision="labelled"), second.grader_id
        )
    assert set(err.value.errors) == {"error_category"}
    grading.submit_grade(
        desk,
        submitted(
            view, "V2", correct_decision="labelled", error_category="missed_context", note="satire"
        ),
        second.grader_id,
    )
    # The lead corrects it: both grades stay in the audit, the item shows the latest.
    fix = grading.grade_modal(desk, second.id, LEAD, correcting=True)
    grading.submit_grade(desk, submitted(fix, "V3", verdict="upheld"), LEAD)
    with sessions() as s:
        trail = grading.history(s, second.id)
        item = s.get_one(QaItem, second.id)
    refused = [g.actor_id for g in trail if g.verdict == "refused"]
    assert refused == ["U07LEGAL01", "U0X"]  # refused attempts on the item are audited beside
    trail = [g for g in trail if g.verdict != "refused"]
    assert [(g.verdict, g.error_category, g.actor_id) for g in trail] == [
        ("overturned", "missed_context", second.grader_id),
        ("upheld", None, LEAD),
    ]
    assert trail[1].corrects == trail[0].id and trail[0].note == "satire"
    assert (item.verdict, item.graded_by) == ("upheld", LEAD)


def test_queue_in_app_home_and_the_daily_dm_once(drawn, sessions, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    items = sampled(sessions)
    grader = items[0][0].grader_id
    assert grader
    with sessions() as s:
        view = slack_home.view(s, config, Renderer(config.team_tz), grader, DRAW_TIME)
    shown = json.dumps(view)
    assert "Your QA queue" in shown and "qa_uphold:" in shown and "qa_overturn:" in shown
    assert len(view["blocks"]) <= 100

    dm_time = datetime(2026, 11, 26, 9, 31, tzinfo=UTC)
    early = desk_at(sessions, config, DRAW_TIME)
    assert home.send_daily_dms(early) == 0  # before dm_at
    desk = desk_at(sessions, config, dm_time)
    graders = {i.grader_id for i, _ in items if i.grader_id}
    assert home.send_daily_dms(desk) == len(graders)
    assert home.send_daily_dms(desk) == 0  # once a day, whichever replica ticks
    with sessions() as s:
        dms = s.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key.like("qa-dm:%"))).all()
        grades = s.scalar(select(func.count()).select_from(QaGrade))
    assert {m.channel for m in dms} == graders and grades == 0
    assert all(m.payload["unfurl_links"] is False for m in dms)
