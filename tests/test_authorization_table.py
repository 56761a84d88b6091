"""Who may do what to a ticket or a QA item, over signed HTTP, with two pods on the desk.

One row per action, one column per kind of person; each cell is run against a
ticket of its own (Critical Harms' ``hateful_activities``), through the real
server, the real Bolt listeners and the emulator. "yes" means the action went
through (a modal opened, the ticket or follow-up changed, the status or the
ticket's details shown); "no" means the person got an ephemeral explanation and
nothing changed. The ``qa_`` rows do the same with a QA item of a Northwind decision
in that area, graded by another member of the pod. docs/authorization.md holds the
same table for people.
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
from bot.qa import clarify, grading
from bot.resolution import entry
from bot.sandbox.emulator import FakeSlack, SlackUser
from bot.tickets.permissions import REFUSED
from storage.db import transaction
from storage.models import (
    FollowUp,
    QaClarification,
    QaDecision,
    QaGrade,
    QaItem,
    QaRun,
    Ticket,
    TicketEvent,
    Watcher,
)
from tests.desk import ADMIN, FRAUD_LEAD, FRAUDSTER, LEAD, two_pods
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
    # The QA programme: an item of the pod's area, graded by another member of the pod.
    "qa_grade": (N, N, N, N, Y, Y, N),  # its grader too
    "qa_grade_calibration": (N, N, N, N, N, N, N),  # its grader only: blind
    "qa_correct_calibration": (N, N, N, N, Y, Y, N),  # a separate grade, not in kappa
    "qa_clarify_open": (N, N, Y, N, Y, Y, N),
    "qa_clarify_send": (N, N, Y, N, Y, Y, N),
    "qa_see_scores": (N, N, N, N, Y, Y, N),  # the lead of the item's pod; admins
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
        self.grader = next(m.id for m in pod.members if m.id not in (member, self.owner))

    def qa_item(self, kind: str = "sample", graded: str | None = None) -> int:
        """A Northwind decision of the pod's area as a QA item of ``self.grader``'s."""
        desk: Desk = self.desk
        now = desk.clock.now()
        with transaction(desk.sessions) as s:
            decision = QaDecision(
                vendor="northwind_manila",
                decision_id=f"qa-{self.id}",
                content_ref=f"{self.content}:qa",
                policy_area="hateful_activities",
                decision="removed",
                decided_at=now,
                imported_at=now,
            )
            run = QaRun(
                kind=kind, vendor=f"t{self.id}", period_start=now, period_end=now, seed="",
                created_at=now,
            )  # fmt: skip
            s.add_all([decision, run])
            s.flush()
            item = QaItem(
                run_id=run.id,
                decision_id=decision.id,
                kind=kind,
                slot=1 if kind == "calibration" else 0,
                stratum="hateful_activities",
                stratum_size=1,
                stratum_sampled=1,
                grader_id=self.grader,
                assigned_at=now,
                status="graded" if graded else "pending",
                verdict=graded,
                error_category="missed_context" if graded == "overturned" else None,
                graded_by=self.grader if graded else None,
                graded_at=now if graded else None,
            )
            s.add(item)
            s.flush()
            if graded:
                s.add(QaGrade(item_id=item.id, actor_id=self.grader, verdict=graded, at=now))
            return item.id

    def qa_item_state(self, item_id: int) -> tuple[str, str | None, int]:
        """The item's status and verdict, and how many grades (not refusals) it has."""
        with self.desk.sessions() as s:
            item = s.get_one(QaItem, item_id)
            grades = s.scalars(
                select(QaGrade.id).where(QaGrade.item_id == item_id, QaGrade.verdict != REFUSED)
            ).all()
            return item.status, item.verdict, len(grades)

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

    def click(
        self, action_id: str, value: str, channel: str = INTAKE, user: SlackUser | None = None
    ) -> None:
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
        assert (user or self.user).click(message, "Go").status_code == 200

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
    if action.startswith("qa_"):
        return run_qa(case, action, mark)
    assert action == "duplicate_details"
    view = open_modal(case.user, fake, text="Seen it too")
    resp = case.user.submit_view(view, {**BASIC, "Content links or ids": case.content})
    choice = json.dumps(resp.json()["view"], ensure_ascii=False)
    if f"*{key}* already covers" in choice and "owner:" in choice:
        return Y
    assert f"already being handled by the desk (*{key}*)" in choice
    assert "Slur campaign" not in choice and "owner:" not in choice
    return N


def run_qa(case: Case, action: str, mark: int) -> str:
    fake = case.fake
    if action in ("qa_grade", "qa_grade_calibration"):
        item = case.qa_item("sample" if action == "qa_grade" else "calibration")
        case.click(f"qa_uphold:{item}", str(item))
        return case.answer(mark, lambda: case.qa_item_state(item)[0] == "graded")
    if action == "qa_correct_calibration":
        item = case.qa_item("calibration", graded="upheld")
        mark = fake.mark()
        case.click(f"qa_correct:{item}", str(item))
        return case.answer(mark, case.opened_modal(mark))
    if action == "qa_clarify_open":
        item = case.qa_item(graded="overturned")
        case.click(f"qa_clarify_item:{item}", str(item))
        return case.answer(mark, case.opened_modal(mark))
    if action == "qa_clarify_send":  # the lead's modal, submitted by the person playing the role
        item = case.qa_item(graded="overturned")
        view = clarify.modal_for_item(case.desk, item, LEAD) | {"id": f"VCLAR{item}"}
        mark = fake.mark()
        written = {"Policy point": "HA-1 satire", "What to do instead": "Label it."}
        case.user.submit_view(view, written)

        def sent() -> bool:
            with case.desk.sessions() as s:
                return (
                    s.scalar(select(QaClarification.id).where(QaClarification.item_id == item))
                    is not None
                )

        return case.answer(mark, sent)
    assert action == "qa_see_scores"
    return Y if sees_qa(case, case.user) else N


def sees_qa(case: Case, user: SlackUser) -> bool:
    """Whether ``user``'s App Home shows the QA scores and a clarification of the pod's area."""
    fake, uid = case.fake, user.user_id
    with transaction(case.desk.sessions) as s:
        if (
            s.scalar(select(QaClarification.id).where(QaClarification.pattern_key == "authz"))
            is None
        ):
            s.add(
                QaClarification(
                    vendor="northwind_manila", policy_area="hateful_activities",
                    error_category="missed_context", source="pattern", pattern_key="authz",
                    status="proposed", examples=["post:1"], proposed_at=case.desk.clock.now(),
                )
            )  # fmt: skip
    mark = fake.mark()
    user.app_home_opened()
    fake.wait_until(
        lambda: any(c.method == "views.publish" and c.args.get("user_id") == uid
                    for c in fake.calls[mark:]),
        timeout=10,
    )  # fmt: skip
    home = json.dumps(fake.home_view(uid), ensure_ascii=False)
    return "Vendor quality (QA sample)" in home and "Clarification proposed" in home


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


def test_another_pods_lead_sees_only_their_own_pods_qa(
    escbot: Any, fake_slack: FakeSlack, user_factory: Any
) -> None:
    case = Case(escbot, fake_slack, user_factory, "lead")
    assert sees_qa(case, user_factory(LEAD))
    assert not sees_qa(case, user_factory(FRAUD_LEAD))
    home = json.dumps(fake_slack.home_view(FRAUD_LEAD), ensure_ascii=False)
    assert "Vendor quality (QA sample)" in home  # their own pod's, where nothing is graded
    assert "Clarification" not in home and "missed context" not in home


def test_a_leads_grade_of_a_calibration_item_is_refused_once_and_a_correction_leaves_kappa(
    escbot: Any, fake_slack: FakeSlack, user_factory: Any
) -> None:
    case = Case(escbot, fake_slack, user_factory, "lead")
    item = case.qa_item("calibration")
    mark = fake_slack.mark()
    for _ in range(3):
        case.click(f"qa_uphold:{item}", str(item))
    fake_slack.wait_for("response_url", since=mark, count=3, timeout=15)
    with case.desk.sessions() as s:
        refused = s.scalars(
            select(QaGrade.actor_id).where(QaGrade.item_id == item, QaGrade.verdict == REFUSED)
        ).all()
    assert refused == [LEAD]  # three clicks, one audit line
    assert case.qa_item_state(item) == ("pending", None, 0)

    # Once its grader graded it blind, the lead's correction is a grade of its own.
    case.click(f"qa_uphold:{item}", str(item), user=user_factory(case.grader))
    fake_slack.wait_until(lambda: case.qa_item_state(item)[0] == "graded", timeout=10)
    view = grading.grade_modal(case.desk, item, LEAD, correcting=True) | {"id": "VCORR1"}
    fields = {"Verdict": "Overturned", "Correct decision": "No violation",
              "Error category": "missed context"}  # fmt: skip
    assert user_factory(LEAD).submit_view(view, fields).ok
    fake_slack.wait_until(lambda: case.qa_item_state(item)[2] == 2, timeout=10)
    with case.desk.sessions() as s:
        row = s.get_one(QaItem, item)
        grades = s.scalars(select(QaGrade).where(QaGrade.item_id == item).order_by(QaGrade.id))
        trail = [(g.actor_id, g.verdict) for g in grades]
    assert (row.verdict, row.graded_by) == ("upheld", case.grader)  # what kappa reads
    assert trail[-2:] == [(case.grader, "upheld"), (LEAD, "overturned")]
