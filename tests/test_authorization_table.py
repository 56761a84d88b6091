"""Who may do what to a ticket, over signed HTTP, with two pods on the desk.

One row per action, one column per kind of person; each cell is run against a
ticket of its own (Critical Harms' ``hateful_activities``), through the real
server, the real Bolt listeners and the emulator. "yes" means the action went
through (a modal opened, the ticket or follow-up changed, the status or the
ticket's details shown); "no" means the person got an ephemeral explanation and
nothing changed. docs/authorization.md holds the same table for people.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from itertools import count
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import AppConfig
from bot.core.desk import Desk
from bot.intake import following
from bot.intake.draft import Draft
from bot.intake.service import open_ticket
from bot.resolution import entry
from bot.sandbox.emulator import FakeSlack, SlackUser
from bot.tickets.permissions import REFUSED
from storage.db import transaction
from storage.models import FollowUp, Ticket, TicketEvent, Watcher
from tests.desk import ADMIN, FRAUDSTER, LEAD, two_pods
from tests.intake_support import BASIC, INTAKE, OTHER_PARTNER, PARTNER, STRANGER, open_modal

ROLES = ("reporter", "watcher", "same_pod", "other_pod", "lead", "admin", "stranger")
ASKER = "U07ASKER01"  # someone who asked to follow the ticket (the "approve" row)
Y, N = "yes", "no"

#: action: answers for reporter, watcher, same-pod member, other-pod member, lead, admin, stranger
TABLE: dict[str, tuple[str, ...]] = {
    "ack": (N, N, N, N, Y, Y, N),  # the owner too; a member of the pod takes it first
    "take": (N, N, Y, N, Y, Y, N),
    "reassign": (N, N, Y, N, Y, Y, N),
    "resolve": (N, N, Y, N, Y, Y, N),
    "ask_reporter": (N, N, Y, N, Y, Y, N),
    "reopen": (Y, N, Y, N, Y, Y, N),
    "severity": (N, N, Y, N, Y, Y, N),
    "followup_add": (N, N, Y, N, Y, Y, N),
    "followup_done": (N, N, Y, N, Y, Y, N),  # its owner and creator too
    "followup_snooze": (N, N, Y, N, Y, Y, N),
    "status": (Y, Y, Y, N, Y, Y, N),
    "approve_follower": (N, N, N, N, Y, Y, N),  # the ticket's owner too
    "duplicate_details": (Y, Y, Y, N, Y, Y, N),  # the others: "handled by the desk (ESC-n)"
}
CELLS = [
    (action, role, want)
    for action, row in TABLE.items()
    for role, want in zip(ROLES, row, strict=True)
]


@pytest.fixture(scope="module")
def config() -> AppConfig:  # the escbot fixture serves this one
    return two_pods()


_content = count(1000)


class Case:
    """One cell: a fresh ticket, the person playing ``role``, and how to read the answer."""

    def __init__(self, escbot: Any, fake: FakeSlack, factory: Any, role: str) -> None:
        self.escbot, self.fake, self.desk = escbot, fake, escbot.services.desk
        self.content = f"post:{next(_content)}"
        draft = Draft(
            summary="Slur campaign against a named streamer",
            policy_area="hateful_activities",
            severity="sev2",
            language="en",
            content=(self.content,),
        )
        desk: Desk = self.desk
        with transaction(desk.sessions) as s:
            ticket = open_ticket(
                s, desk.config, desk.renderer, draft, reporter=PARTNER, now=desk.clock.now()
            )
            s.add(Watcher(ticket_id=ticket.id, user_id=OTHER_PARTNER, created_at=ticket.created_at))
            self.id, self.key, self.owner = ticket.id, ticket.key, ticket.assignee_id
        pod = desk.config.pod_for_area("hateful_activities")
        member = next(m.id for m in pod.members if m.id != self.owner)
        people = {
            "reporter": PARTNER,
            "watcher": OTHER_PARTNER,
            "same_pod": member,
            "other_pod": FRAUDSTER,
            "lead": LEAD,
            "admin": ADMIN,
            "stranger": STRANGER,
        }
        self.user_id = people[role]
        self.user: SlackUser = factory(self.user_id)

    # -- setting the ticket up -------------------------------------------------------------

    def resolved(self) -> None:
        values = {"decision": "removed", "rationale": "Slurs (HA-3).", "policy_section": "2"}
        entry.resolve(self.desk, entry.Submitted(self.id, f"VRES{self.id}", values, LEAD))

    def followup(self) -> int:
        values = {
            "kind": "tooling",
            "description": "Classifier misses digit slurs",
            "owner": self.owner,
            "due": date(2026, 12, 7).isoformat(),
        }
        entry.add_followup(self.desk, entry.Submitted(self.id, f"VFU{self.id}", values, LEAD))
        with self.desk.sessions() as s:
            return s.scalars(select(FollowUp.id).where(FollowUp.ticket_id == self.id)).one()

    def ticket(self) -> Ticket:
        with self.desk.sessions() as s:
            return s.get_one(Ticket, self.id)

    # -- acting and reading the answer -------------------------------------------------------

    def click(self, action_id: str, value: str, channel: str = INTAKE) -> None:
        message = {
            "channel": channel,
            "ts": "1764150000.000100",
            "blocks": [
                {
                    "type": "actions",
                    "block_id": "buttons",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": action_id,
                            "value": value,
                            "text": {"type": "plain_text", "text": "Go"},
                        }
                    ],
                }
            ],
        }
        assert self.user.click(message, "Go").status_code == 200

    def answer(self, mark: int, allowed: Callable[[], bool]) -> str:
        """ "yes" once ``allowed()`` holds, "no" once the person was told why not."""

        def seen() -> str | None:
            if allowed():
                return Y
            for call in self.fake.calls[mark:]:
                text = json.dumps(call.args, ensure_ascii=False)
                if "nothing was changed" in text or "Only " in text:
                    assert call.args.get("response_type", "ephemeral") == "ephemeral", call.args
                    return N
            return None

        return self.fake.wait_until(seen, timeout=10)

    def opened_modal(self, mark: int) -> Callable[[], bool]:
        return lambda: any(c.method == "views.open" and c.ok for c in self.fake.calls[mark:])


def run(case: Case, action: str) -> str:
    fake, key = case.fake, case.key
    if action == "reopen":
        case.resolved()
    fid = case.followup() if action.startswith("followup_") and action != "followup_add" else 0
    mark = fake.mark()
    if action == "ack":
        case.click("ticket_ack", key)
        return case.answer(mark, lambda: case.ticket().acked_at is not None)
    if action == "take":
        case.click("ticket_take", key)
        return case.answer(mark, lambda: case.ticket().assignee_id == case.user_id)
    if action in ("reassign", "resolve", "ask_reporter", "reopen", "severity", "followup_add"):
        action_id = {"ask_reporter": "ticket_ask_reporter", "followup_add": "followup_add"}.get(
            action, f"ticket_{action}"
        )
        case.click(action_id, key)
        return case.answer(mark, case.opened_modal(mark))
    if action in ("followup_done", "followup_snooze"):
        case.click(action, str(fid))

        def changed() -> bool:
            with case.desk.sessions() as s:
                fu = s.get_one(FollowUp, fid)
                return fu.status == "done" or fu.snoozed_until is not None

        return case.answer(mark, changed)
    if action == "status":
        case.user.command("/escalate", text=f"status {key}")

        def shown() -> bool:
            return any(
                c.method == "response_url"
                and "Only " not in json.dumps(c.args)
                and key in str(c.args)
                for c in fake.calls[mark:]
            )

        return case.answer(mark, shown)
    if action == "approve_follower":
        value = case.desk.seal.sign(following.PURPOSE, f"{case.id}:{ASKER}")
        case.click(following.APPROVE, value, channel=fake.dm_channel(case.user_id))

        def admitted() -> bool:
            with case.desk.sessions() as s:
                return (
                    ASKER
                    in s.scalars(select(Watcher.user_id).where(Watcher.ticket_id == case.id)).all()
                )

        return case.answer(mark, admitted)
    assert action == "duplicate_details"
    view = open_modal(case.user, fake, text="Seen it too")
    resp = case.user.submit_view(view, {**BASIC, "Content links or ids": case.content})
    choice = json.dumps(resp.json()["view"], ensure_ascii=False)
    if f"*{key}* already covers" in choice and "owner:" in choice:
        return Y
    assert f"already being handled by the desk (*{key}*)" in choice
    assert "Slur campaign" not in choice and "owner:" not in choice
    return N


@pytest.mark.parametrize(("action", "role", "want"), CELLS, ids=[f"{a}-{r}" for a, r, _ in CELLS])
def test_who_may_do_what(
    escbot: Any, fake_slack: FakeSlack, user_factory: Any, action: str, role: str, want: str
) -> None:
    case = Case(escbot, fake_slack, user_factory, role)
    assert run(case, action) == want


def test_thirty_refused_clicks_write_one_line_each_and_stay_out_of_the_status(
    escbot: Any, fake_slack: FakeSlack, user_factory: Any
) -> None:
    case = Case(escbot, fake_slack, user_factory, "other_pod")
    mark = fake_slack.mark()
    for action_id in ("ticket_take", "ticket_resolve", "ticket_reopen"):
        for _ in range(30):
            case.click(action_id, case.key)
    fake_slack.wait_for("response_url", since=mark, count=90, timeout=30)
    with case.desk.sessions() as s:
        rows = s.scalars(
            select(TicketEvent.payload["doing"].as_string()).where(
                TicketEvent.ticket_id == case.id, TicketEvent.action == REFUSED
            )
        ).all()
    assert sorted(rows) == ["reopen", "resolve", "take"]  # 90 clicks, 3 lines
    mark = fake_slack.mark()
    user_factory(PARTNER).command("/escalate", text=f"status {case.key}")
    status = json.dumps(fake_slack.wait_for("response_url", since=mark).args)
    assert "refused" not in status and "opened by" in status and "assigned by" in status
