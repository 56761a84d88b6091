"""The intake modal without HTTP: what it offers, how a submission is read, that its
private_metadata is signed, and that the duplicate choice keeps the submission server-side."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.core.blockkit import problems
from bot.core.clock import FakeClock
from bot.core.desk import Desk
from bot.core.render import Renderer
from bot.core.sealed import Seal
from bot.intake import choice as intake_choice
from bot.intake import form as intake_form
from bot.intake import modal as intake_modal
from bot.intake import service as intake
from bot.intake.draft import Draft
from bot.intake.modal import Origin, Prefill
from bot.intake.service import Result
from bot.sandbox.emulator import view_state
from storage.db import transaction
from storage.models import PendingDraft, ProcessedRequest
from tests.state import rows

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SEAL = Seal()


def modal(config, prefill: Prefill | None = None, origin: Origin | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    view = intake_modal.modal(
        Renderer(config.team_tz), config, prefill or Prefill(), origin or Origin.of("C07PARTNERS")
    )
    return {**view, "id": "V0TEST0001", "hash": "1.x"}


def submitted(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return {**view, "state": {"values": view_state(view, values, enforce_required=False)}}


def test_modal_offers_every_configured_choice_with_defaults_and_fits_block_kit(config) -> None:  # type: ignore[no-untyped-def]
    view = modal(config)
    assert problems(view, "modal") == []
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert list(inputs) == [
        "summary", "policy_area", "severity", "content", "region", "language",
        "source_team", "vendor", "requested_action", "deadline", "details",
    ]  # fmt: skip
    optional = {k for k, b in inputs.items() if b["optional"]}
    assert optional == {"content", "vendor", "requested_action", "deadline", "details"}
    assert [o["value"] for o in inputs["policy_area"]["element"]["options"]] == list(
        config.policy_areas
    )
    assert "(sensitive)" in json.dumps(inputs["policy_area"]["element"]["options"][1])
    assert inputs["region"]["element"]["initial_option"]["value"] == "global"
    assert inputs["summary"]["element"]["max_length"] == config.intake.summary_max
    assert "post:…" in inputs["content"]["hint"]["text"]
    sev = [o["text"]["text"] for o in inputs["severity"]["element"]["options"]]
    assert sev[2] == "SEV2 · Medium: clear violation, limited reach"  # whole: the SLA is apart
    sla = inputs["severity"]["element"]["options"][2]["description"]["text"]
    assert sla == "Acknowledge within 4 working hours · resolve within 2 working days"


def test_read_turns_a_submission_into_a_draft(config) -> None:  # type: ignore[no-untyped-def]
    origin = Origin.of("C07PARTNERS", "https://fake.slack.com/archives/C/p1")
    view = modal(config, origin=origin)
    deadline = NOW + timedelta(days=1)
    form = intake_modal.read(
        config,
        submitted(
            view,
            {
                "Summary": "  Hate raid \n on a stream  ",
                "Your team": "comms",
                "Content links or ids": "post:1\n\nhttps://x.example.com/a",
                "Deadline": deadline,
                "Details": "Line one\nLine two\u202e",
                "Requested action": "  Take it down  ",
            },
        ),
        NOW,
        origin,
    )
    assert form.errors == {}
    assert form.draft == Draft(
        summary="Hate raid on a stream",
        policy_area="hateful_activities",
        severity="sev2",
        details="Line one\nLine two",
        language="en",
        region="global",
        source_team="comms",
        vendor=None,
        requested_action="Take it down",
        deadline=deadline,
        content=("post:1", "https://x.example.com/a"),
        source_channel="C07PARTNERS",
        source_permalink="https://fake.slack.com/archives/C/p1",
    )
    assert Draft.from_json(json.loads(json.dumps(form.draft.to_json()))) == form.draft


def test_read_reports_every_problem_at_once(config) -> None:  # type: ignore[no-untyped-def]
    view = modal(config)
    values = {
        "Summary": "",
        "Policy area": {"text": {"type": "plain_text", "text": "x"}, "value": "spam"},
        "Your team": None,
        "Content links or ids": "javascript:x\nfoo\ndata:x\nfile:/x\nhttps://ok.example.com",
        "Deadline": NOW - timedelta(minutes=1),
    }
    form = intake_modal.read(config, submitted(view, values), NOW)
    assert form.draft is None
    assert set(form.errors) == {"summary", "policy_area", "source_team", "content", "deadline"}
    assert form.errors["source_team"] == "Pick a team."
    content = form.errors["content"]
    assert content.startswith("One per line, http(s) links or ids like post:…, acct:…")
    assert "Line 1: “javascript:x”" in content and "(and 1 more)" in content


def test_read_survives_nonsense_in_a_tampered_payload(config) -> None:  # type: ignore[no-untyped-def]
    view = modal(config)
    state = view_state(view, {"Summary": "ok", "Your team": "legal"}, enforce_required=False)
    state["deadline"]["deadline"]["selected_date_time"] = "soon"
    form = intake_modal.read(
        config, {**view, "private_metadata": "{not json", "state": {"values": state}}, NOW
    )
    assert form.errors == {
        "deadline": "That deadline has passed: pick a time in the future, or none."
    }
    assert form.origin == Origin()


def test_prefill_and_origin(config) -> None:  # type: ignore[no-untyped-def]
    assert Prefill.from_text(config, "  short \n text ") == Prefill(summary="short text")
    long = "x " * 200
    prefill = Prefill.from_text(config, long)
    assert len(prefill.summary) == config.intake.summary_max and prefill.details == long
    assert Prefill.from_message("m" * 5000, "https://p").details == "m" * 3000
    assert Origin.of("C1", "https://" + "p" * 600) == Origin("C1", None)
    assert Origin.decode(json.loads(Origin.of("C1", "https://p").encode())) == Origin(
        "C1", "https://p"
    )


def test_entry_points_answer_a_modal_without_slack(config, sessions) -> None:  # type: ignore[no-untyped-def]
    desk = Desk(sessions, config, Renderer(config.team_tz), FakeClock(NOW))
    opened = intake_form.command_modal(desk, "Hate raid", "C07PARTNERS")
    assert json.loads(desk.seal.open_view(opened, user="U1")) == {"c": "C07PARTNERS"}
    view = {**opened, "id": "V0FIRST"}
    before = rows(sessions)
    for forged in ('{"c":"C07PARTNERS","p":"https://evil.example"}', "", "x." + "{}"):
        tampered = submitted({**view, "private_metadata": forged}, {"Your team": "comms"})
        refused = intake_form.submit_view(desk, tampered, "U1")
        assert list(refused.errors) == ["summary"] and "changed" in refused.errors["summary"]
    wrong = intake_form.submit_view(desk, submitted(view, {"Summary": ""}), "U1")
    assert set(wrong.errors) == {"summary", "source_team"} and wrong.choice is None
    assert rows(sessions) == before  # neither a ticket, nor a draft, nor the view's id
    values = {"Your team": "comms", "Content links or ids": "post:1"}
    first = intake_form.submit_view(desk, submitted(view, values), "U1")
    assert (first.errors, first.choice) == ({}, None)
    assert first.finish is not None and "ESC-1" in first.finish()["text"]
    shortcut = intake_form.message_modal(desk, "C9", "look", "https://fake.slack.com/p1")
    second = {**shortcut, "id": "V0SECOND"}
    choice = intake_form.submit_view(desk, submitted(second, {**values, "Summary": "Raid"}), "U2")
    assert choice.finish is None and choice.choice is not None
    assert choice.choice["callback_id"] == intake_choice.CHOICE_VIEW
    new = intake_form.choose(
        desk, {**choice.choice, "id": "V0SECOND"}, {"action_id": "intake_new", "value": "new"}, "U2"
    )
    assert new.view["callback_id"] == intake_choice.DONE_VIEW
    assert new.confirmation is not None
    assert "ESC-2" in new.confirmation["text"]
    again = intake_form.choose(
        desk, {**choice.choice, "id": "V0SECOND"}, {"action_id": "intake_new", "value": "new"}, "U2"
    )
    assert again.confirmation is None  # a double click: nothing new
    assert again.view["callback_id"] == intake_choice.DONE_VIEW


def _big_draft() -> Draft:
    return Draft(
        summary="Same videos again",
        policy_area="graphic_violence",
        severity="sev1",
        details="d" * 3000,
        content=tuple(f"https://v.example.com/{n}" for n in range(60)),
    )


def test_the_draft_and_the_choices_shown_wait_in_the_database(config, sessions) -> None:  # type: ignore[no-untyped-def]
    renderer = Renderer(config.team_tz)
    draft = _big_draft()
    with transaction(sessions) as s:
        first = intake.open_ticket(s, config, renderer, draft, reporter="U1", now=NOW)
        matches = tuple(intake.find_duplicates(s, draft.content))
        assert [m.ticket.key for m in matches] == [first.key]
        view = intake_choice.choice_view(
            s, renderer, config, draft, Origin.of("C9"), matches,
            view_id="V0BIG", reporter="U1", now=NOW,
        )  # fmt: skip
    assert view["private_metadata"] == ""  # nothing to trust comes back with a click
    with sessions() as s:
        pending = s.get_one(PendingDraft, "V0BIG").payload
    assert (pending["reporter"], pending["origin"]) == ("U1", {"c": "C9"})
    assert pending["shown"] == {
        "intake_add_1": {"key": "ESC-1", "kind": "add"},
        "intake_new": {"key": "new", "kind": "new"},
    }
    assert problems(view, "modal") == []
    add = next(e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"])
    with transaction(sessions) as s:
        outcome, origin = intake_choice.decide(
            s, config, renderer, {**view, "id": "V0BIG"}, add, reporter="U1", now=NOW, seal=SEAL
        )
    assert (outcome.result, outcome.ticket.key, outcome.added) == (Result.ADDED, first.key, ())
    assert origin == Origin("C9")
    with sessions() as s:
        assert s.scalars(select(PendingDraft)).all() == []  # used up
        assert s.get_one(ProcessedRequest, "view:V0BIG").result == {
            "result": "added",
            "key": "ESC-1",
        }
    with transaction(sessions) as s:  # the other button after the first: the first one stands
        again, _ = intake_choice.decide(
            s, config, renderer, {**view, "id": "V0BIG"}, {"action_id": "intake_new"},
            reporter="U1", now=NOW, seal=SEAL,
        )  # fmt: skip
    assert (again.result, again.previous) == (Result.REPEAT, {"result": "added", "key": "ESC-1"})


def test_stale_pending_drafts_are_swept(config, sessions) -> None:  # type: ignore[no-untyped-def]
    renderer = Renderer(config.team_tz)
    draft = _big_draft()
    with transaction(sessions) as s:
        s.add(PendingDraft(view_id="V0OLD", payload={}, created_at=NOW - timedelta(days=2)))
        intake_choice.choice_view(
            s, renderer, config, draft, Origin(), (), view_id="V0NEW", reporter="U1", now=NOW
        )
    with sessions() as s:
        assert s.scalars(select(PendingDraft.view_id)).all() == ["V0NEW"]


def test_duplicates_ignore_resolved_tickets(config, sessions) -> None:  # type: ignore[no-untyped-def]
    renderer = Renderer(config.team_tz)
    draft = Draft(
        summary="s", policy_area="hateful_activities", severity="sev2", content=("post:9",)
    )
    with transaction(sessions) as s:
        ticket = intake.open_ticket(s, config, renderer, draft, reporter="U1", now=NOW)
        assert [m.content for m in intake.find_duplicates(s, ["POST:9", "post:10"])] == [
            ("POST:9",)
        ]
        ticket.status = "resolved"
        s.flush()
        assert intake.find_duplicates(s, ["post:9"]) == []


def test_duplicates_are_offered_oldest_ticket_first(config, sessions) -> None:  # type: ignore[no-untyped-def]
    """The ticket that had the content first is the one to add to: it leads the offer."""
    renderer = Renderer(config.team_tz)

    def draft(*content: str) -> Draft:
        return Draft(
            summary="s", policy_area="hateful_activities", severity="sev2", content=content
        )

    with transaction(sessions) as s:
        for n, content in enumerate((("post:9",), ("post:10", "post:9")), 1):
            ticket = intake.open_ticket(
                s, config, renderer, draft(*content), reporter="U1", now=NOW + timedelta(hours=n)
            )
            assert ticket.key == f"ESC-{n}"
        again = intake.submit(
            s, config, draft("post:10", "POST:9"), reporter="U2", now=NOW, request_key="r"
        )
    assert again.result is Result.DUPLICATE
    assert [(m.ticket.key, m.content) for m in again.matches] == [
        ("ESC-1", ("POST:9",)),
        ("ESC-2", ("post:10", "POST:9")),
    ]
