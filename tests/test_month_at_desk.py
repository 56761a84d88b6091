"""A month at the desk (#23): a Hypothesis state machine drives random intake, acks, takes,
reassigns, questions and answers, resolves, reopens, follow-ups, absences, QA imports and
grading, outages and clock jumps over weeks, through the same domain entry points the
Slack handlers call, on SQLite and PostgreSQL. After every step it checks what a desk
must keep true whatever happened:

- no open ticket, follow-up or QA item is owned by someone outside the pods;
- nobody is DMed who can't act on it;
- every posted digest renders again, later, to the same message, and its count of new
  tickets is the export's for its window;
- after a tick, every day due with decisions has its sample (or a reported gap).

The suite runs a short walk; ``ESCBOT_MONTH_EXAMPLES=200`` runs a long one (docs/testing.md
gives its time).
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.app import register_timer_handlers
from bot.config import AppConfig
from bot.config.loader import load_config_text
from bot.core.clock import FakeClock
from bot.core.desk import Desk
from bot.core.errors import DomainError
from bot.core.render import Renderer
from bot.delivery.outbox import DM, NOTICE
from bot.delivery.timers import TimerRunner
from bot.intake.draft import Draft
from bot.intake.service import open_ticket
from bot.qa import export as qa_export
from bot.qa import grading, sampling
from bot.qa import schedule as qa_schedule
from bot.qa.scores import VendorScores
from bot.reporting import digests
from bot.reporting.export import rows as export_rows
from bot.reporting.periods import scheduled_period
from bot.reporting.present import compose
from bot.reporting.report import build_report
from bot.resolution import followups, questions
from bot.resolution import service as resolution
from bot.routing import absence, handover, ownership, severity
from bot.tickets.lifecycle import is_open
from storage.db import transaction
from storage.models import (
    Base,
    Counter,
    DeskPerson,
    DigestRun,
    FollowUp,
    OutboxMessage,
    QaDecision,
    QaItem,
    Ticket,
)
from tests.desk import EXAMPLE
from tests.qa_support import NORTHWIND, TEJO, decisions, store

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # a Monday morning, Dublin = UTC
REPORTERS = ("U07LEGAL01", "U07COMMS02", "U07PARTN03")
EXAMPLES = int(os.environ.get("ESCBOT_MONTH_EXAMPLES", "6"))
STEPS = int(os.environ.get("ESCBOT_MONTH_STEPS", "40"))
JUMPS = (timedelta(minutes=10), timedelta(hours=2), timedelta(hours=9), timedelta(days=1))


def reset(sessions: sessionmaker[Session]) -> None:
    """An empty desk (the schema stays): every table emptied, children first, and the
    ticket numbers back to the start."""
    with transaction(sessions) as s:
        for table in reversed(Base.metadata.sorted_tables):
            if table is not Counter.__table__:
                s.execute(delete(table))
        s.execute(update(Counter).values(value=0))


def moved(name: str, posted: dict[str, Any], again: dict[str, Any]) -> str:
    """What changed in a digest rendered again, as a diff of its blocks."""
    before, after = (
        json.dumps(p, indent=1, ensure_ascii=False).splitlines() for p in (posted, again)
    )
    diff = difflib.unified_diff(before, after, "posted", "rendered again", lineterm="", n=2)
    return f"the {name} digest moved:\n" + "\n".join(diff)


def without(removed: set[str]) -> AppConfig:
    """The example app.yaml with ``removed`` taken out of the pod and its rotations."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for pod in data["pods"].values():
        pod["members"] = [m for m in pod["members"] if m["id"] not in removed]
        for rotation in pod.get("rotations", {}).values():
            rotation["members"] = [m for m in rotation["members"] if m not in removed]
    return load_config_text(yaml.safe_dump(data), f"app.yaml without {sorted(removed)}")


def assert_scores_rebuild(
    session: Session, start: datetime, end: datetime, vendors: tuple[VendorScores, ...]
) -> None:
    """Each vendor's QA score is what `escbot export --qa --graded` gives for the window."""
    out = io.StringIO()
    qa_export.write_csv(session, out, start, end, graded=True)
    rows = [r for r in csv.DictReader(io.StringIO(out.getvalue())) if r["weight"]]
    for v in vendors:
        mine = [
            (float(r["weight"]), r["verdict"] == "upheld") for r in rows if r["vendor"] == v.vendor
        ]
        if v.overall.score is None:
            assert mine == []
            continue
        total = sum(w for w, _ in mine)
        assert math.isclose(sum(w for w, up in mine if up) / total, v.overall.score, abs_tol=1e-6)


def month_machine(sessions: sessionmaker[Session], config: AppConfig) -> type[Any]:
    members = sorted(m.id for pod in config.pods.values() for m in pod.members)
    leads = {pod.lead for pod in config.pods.values()}
    staff = set(members) | leads | set(config.workspace.admins)
    vendor_leads = {u for v in config.vendors.values() for u in v.leads}
    areas = sorted(config.policy_areas)
    severities = sorted(config.severities)

    class MonthAtTheDesk(RuleBasedStateMachine):
        tickets = Bundle("tickets")

        def __init__(self) -> None:
            super().__init__()
            reset(sessions)
            self.clock = FakeClock(START)
            self.desk = Desk(sessions, config, Renderer(config.team_tz), self.clock)
            self.timers = self.timer_runner(config)
            self.ticked = False
            self.decision_seq = 0
            self.removed: set[str] = set()
            self.posted_with: dict[int, AppConfig] = {}  # digest run → the config it was made with

        def timer_runner(self, cfg: AppConfig) -> TimerRunner:
            timers = TimerRunner(sessions, self.clock)
            register_timer_handlers(timers, cfg, self.desk.renderer)
            return timers

        def restart_with(self, cfg: AppConfig) -> None:
            """app.yaml changed and escbot restarted: the next tick sees the new file."""
            self.desk = Desk(sessions, cfg, self.desk.renderer, self.clock)
            self.timers = self.timer_runner(cfg)
            self.ticked = False

        # -- the scheduler ---------------------------------------------------------
        def tick(self) -> None:
            """What the scheduler does on every tick of every replica."""
            handover.tick(self.desk)
            self.timers.run_due()
            digests.catch_up(self.desk, self.clock.now())
            qa_schedule.tick(self.desk)
            self.ticked = True

        def attempt(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
            """A person's action; refusals (not theirs, wrong state) are part of the walk."""
            try:
                return fn(*args, **kwargs)
            except DomainError:
                return None

        def ticket(self, key: str) -> Ticket:
            with sessions() as s:
                return s.scalars(select(Ticket).where(Ticket.key == key)).one()

        # -- people ----------------------------------------------------------------
        @rule(
            target=tickets,
            area=st.sampled_from(areas),
            severity=st.sampled_from(severities),
            reporter=st.sampled_from(REPORTERS),
            language=st.sampled_from(("en", "es", "de", None)),
        )
        def escalate(self, area: str, severity: str, reporter: str, language: str | None) -> str:
            draft = Draft(
                summary=f"Report {uuid.uuid4().hex[:8]}",
                policy_area=area,
                severity=severity,
                language=language,
            )
            with transaction(sessions) as s:
                ticket = open_ticket(
                    s, self.desk.config, self.desk.renderer, draft, reporter=reporter,
                    now=self.clock.now(),
                )  # fmt: skip
                return ticket.key

        @rule(key=tickets)
        def acknowledge(self, key: str) -> None:
            owner = self.ticket(key).assignee_id
            if owner:
                self.attempt(ownership.acknowledge_ticket, self.desk, key, owner)

        @rule(key=tickets, who=st.sampled_from(members))
        def take(self, key: str, who: str) -> None:
            self.attempt(ownership.take_ticket, self.desk, key, who)

        @rule(key=tickets, who=st.sampled_from(members))
        def route_again(self, key: str, who: str) -> None:
            self.attempt(
                ownership.reassign_ticket,
                self.desk,
                key,
                who,
                to=None,
                reason="rebalancing",
                submission=uuid.uuid4().hex,
            )

        @rule(key=tickets)
        def ask_reporter(self, key: str) -> None:
            ticket = self.ticket(key)
            if ticket.assignee_id:
                self.work(key, ticket.assignee_id, questions.ask_reporter, "Which account?")

        @rule(key=tickets)
        def reporter_answers(self, key: str) -> None:
            def answer(s: Session, cfg: AppConfig, renderer: Renderer, t: Ticket, **kw: Any) -> Any:
                via = questions.VIA_FORM
                return questions.answer(s, cfg, renderer, t, "This one.", via=via, **kw)

            self.work(key, self.ticket(key).reporter_id, answer)

        @rule(key=tickets, decision=st.sampled_from(sorted(config.resolution.decisions)))
        def resolve(self, key: str, decision: str) -> None:
            ticket = self.ticket(key)
            outcome = resolution.Outcome(decision, "Checked against the policy.")
            if ticket.assignee_id:
                self.work(key, ticket.assignee_id, resolution.resolve, outcome)

        @rule(key=tickets)
        def reporter_reopens(self, key: str) -> None:
            self.work(key, self.ticket(key).reporter_id, resolution.reopen, "Still up.")

        @rule(
            key=tickets,
            owner=st.sampled_from(members),
            kind=st.sampled_from(sorted(config.followups.kinds)),
            days=st.integers(0, 10),
        )
        def add_followup(self, key: str, owner: str, kind: str, days: int) -> None:
            ticket = self.ticket(key)
            actor = ticket.assignee_id or owner
            due = self.clock.now().astimezone(config.team_tz).date() + timedelta(days=days)

            def add(s: Session, cfg: AppConfig, renderer: Renderer, t: Ticket, **kw: Any) -> Any:
                return followups.add(
                    s, cfg, renderer, t, kind=kind, description="Fix the gap", owner=owner,
                    due=due, **kw,
                )  # fmt: skip

            self.work(key, actor, add)

        @rule(who=st.sampled_from(members), days=st.integers(0, 5), length=st.integers(0, 6))
        def out_of_office(self, who: str, days: int, length: int) -> None:
            first = self.clock.now().astimezone(config.team_tz).date() + timedelta(days=days)
            last = first + timedelta(days=length)
            self.attempt(absence.command, self.desk, who, f"{first} {last} away")

        def work(self, key: str, actor: str, fn: Any, *args: Any) -> None:
            """``fn(session, cfg, renderer, ticket, *args, actor=, now=)`` in a transaction."""
            try:
                with transaction(sessions) as s:
                    ticket = s.scalars(select(Ticket).where(Ticket.key == key)).one()
                    fn(
                        s, self.desk.config, self.desk.renderer, ticket, *args,
                        actor=actor, now=self.clock.now(),
                    )  # fmt: skip
            except DomainError:
                pass

        @rule(key=tickets, to=st.sampled_from(severities), who=st.sampled_from(members))
        def change_severity(self, key: str, to: str, who: str) -> None:
            self.attempt(severity.command, self.desk, f"{key} {to} it is worse than it looked", who)

        @rule(days=st.integers(0, 3), length=st.integers(0, 4))
        def lead_away(self, days: int, length: int) -> None:
            first = self.clock.now().astimezone(config.team_tz).date() + timedelta(days=days)
            lead = next(iter(self.desk.config.pods.values())).lead
            self.attempt(
                absence.command, self.desk, lead, f"{first} {first + timedelta(days=length)}"
            )

        @precondition(lambda self: len(self.staying()) > len(members) - 2)
        @rule(who=st.sampled_from(members))
        def leaves_the_pod(self, who: str) -> None:
            """Taken out of app.yaml, then a restart."""
            if who in self.staying():
                self.clock.advance(timedelta(seconds=1))
                self.removed.add(who)
                self.restart_with(without(self.removed))

        @precondition(lambda self: len(self.staying()) > len(members) - 2)
        @rule(who=st.sampled_from(members))
        def deactivated_in_slack(self, who: str) -> None:
            self.clock.advance(timedelta(seconds=1))  # "after they left" is then unambiguous
            handover.user_changed(self.desk, {"id": who, "deleted": True})

        def staying(self) -> set[str]:
            """Members still on the desk: in app.yaml and not deactivated."""
            with sessions() as s:
                gone = set(
                    s.scalars(select(DeskPerson.user_id).where(DeskPerson.left_at.is_not(None)))
                )
            return {m for pod in self.desk.config.pods.values() for m in pod.member_ids} - gone

        # -- the vendors' decisions and their grading --------------------------------
        @rule(
            vendor=st.sampled_from((NORTHWIND, TEJO)),
            days_ago=st.integers(0, 12),
            n=st.integers(1, 60),
        )
        def vendor_file(self, vendor: str, days_ago: int, n: int) -> None:
            """A file of decisions of a past day, on time or late (a day, or past catch-up)."""
            day = self.clock.now().astimezone(config.team_tz).date() - timedelta(days=days_ago)
            self.decision_seq += 1
            rows = decisions(
                config, n, vendor=vendor, day=day, seed=self.decision_seq,
                prefix=f"f{self.decision_seq}-",
            )  # fmt: skip
            for row in rows:
                row["imported_at"] = self.clock.now()
            store(sessions, rows)
            self.ticked = False  # drawn at the next tick, not before

        @rule(count=st.integers(1, 5))
        def grade(self, count: int) -> None:
            with sessions() as s:
                items = s.scalars(
                    select(QaItem)
                    .where(QaItem.status == "pending", QaItem.grader_id.is_not(None))
                    .order_by(QaItem.id)
                    .limit(count)
                ).all()
            for item in items:
                assert item.grader_id
                self.attempt(grading.uphold, self.desk, item.id, item.grader_id)

        # -- time ------------------------------------------------------------------
        @rule(jump=st.sampled_from(JUMPS))
        def time_passes(self, jump: timedelta) -> None:
            self.clock.advance(jump)
            self.tick()

        @precondition(lambda self: self.clock.now() < START + timedelta(days=35))
        @rule(hours=st.integers(6, 60))
        def outage(self, hours: int) -> None:
            """escbot is down: nothing ticks, then it comes back and catches up."""
            self.clock.advance(timedelta(hours=hours))
            self.ticked = False
            self.tick()

        # -- what must always hold ---------------------------------------------------
        @invariant()
        def work_stays_with_the_desk(self) -> None:
            """Open tickets, follow-ups and QA items are held by people on the desk, from
            the first tick after app.yaml changed (a deactivation: at once)."""
            with sessions() as s:
                gone = set(
                    s.scalars(select(DeskPerson.user_id).where(DeskPerson.left_at.is_not(None)))
                )
                opened = {
                    t.assignee_id
                    for t in s.scalars(select(Ticket).where(Ticket.assignee_id.is_not(None)))
                    if is_open(t.status)
                }
                fu_owners = set(
                    s.scalars(select(FollowUp.owner_id).where(FollowUp.status == "open"))
                )
                graders = set(
                    s.scalars(
                        select(QaItem.grader_id).where(
                            QaItem.status == "pending", QaItem.grader_id.is_not(None)
                        )
                    )
                )
            if not self.ticked:
                gone = gone - self.removed  # app.yaml's change is read at the next tick
                desk, pod_members = staff, set(members)
            else:
                desk = handover.on_desk(self.desk.config)
                pod_members = {m for p in self.desk.config.pods.values() for m in p.member_ids}
            assert opened <= desk - gone, f"open tickets held by {opened - (desk - gone)}"
            # a follow-up may belong to anyone (a product team, say), but not to someone gone
            assert not fu_owners & gone, f"follow-ups held by {fu_owners & gone}"
            assert graders <= pod_members - gone, (
                f"QA items held by {graders - (pod_members - gone)}"
            )

        @invariant()
        def nobody_is_dmed_who_cannot_act(self) -> None:
            """DMs go to people who can act; someone who left gets one note, nothing else."""
            with sessions() as s:
                reporters = set(s.scalars(select(Ticket.reporter_id)))
                dms = s.execute(
                    select(
                        OutboxMessage.channel, OutboxMessage.dedup_key, OutboxMessage.created_at
                    ).where(OutboxMessage.kind.in_((DM, NOTICE)))
                ).all()
                left = dict(
                    s.execute(
                        select(DeskPerson.user_id, DeskPerson.left_at).where(
                            DeskPerson.left_at.is_not(None)
                        )
                    ).all()
                )
            assert {to for to, _, _ in dms} <= staff | reporters | vendor_leads
            for person, since in left.items():
                after = [key for to, key, at in dms if to == person and since and at >= since]
                assert len(after) <= 1 and all(k.startswith("handover:") for k in after), after

        @invariant()
        def digests_never_move_and_count_what_the_export_counts(self) -> None:
            with sessions() as s:
                runs = s.scalars(select(DigestRun).where(DigestRun.status == "posted")).all()
                for run in runs:
                    spec = config.digest(run.name)
                    assert spec is not None
                    period = scheduled_period(config, spec, run.period_end)
                    posted = s.scalars(
                        select(OutboxMessage.payload).where(
                            OutboxMessage.dedup_key == digests.dedup_key(spec, period)
                        )
                    ).one()
                    cfg = self.posted_with.setdefault(run.id, self.desk.config)
                    report = build_report(s, cfg, spec, period, run.created_at)
                    again = compose(
                        cfg, self.desk.renderer, report, late=run.late, scheduled=run.period_end
                    )
                    blocks = {"blocks": posted["blocks"]}
                    assert again["blocks"] == blocks["blocks"], moved(
                        run.name, blocks, {"blocks": again["blocks"]}
                    )
                    if report.volumes is not None:
                        exported = sum(1 for _ in export_rows(s, period.start, period.end))
                        assert report.volumes.new.total == exported
                    if report.qa is not None:
                        assert_scores_rebuild(s, period.start, period.end, report.qa.vendors)

        @invariant()
        def every_day_due_is_sampled_or_reported(self) -> None:
            if not self.ticked:
                return
            last = sampling.last_due_day(config, self.clock.now())
            end = sampling.day_bounds(config, last)[1]
            with sessions() as s:
                undrawn = s.scalars(
                    select(QaDecision.decided_at).where(
                        QaDecision.sample_run_id.is_(None), QaDecision.decided_at < end
                    )
                ).all()
            assert undrawn == [], f"{len(undrawn)} decisions of days due were never drawn"

    return MonthAtTheDesk


def test_a_month_at_the_desk(sessions, config: AppConfig) -> None:  # type: ignore[no-untyped-def]
    machine = month_machine(sessions, config)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            # CI walks the same months every run; ESCBOT_MONTH_RANDOM=1 explores new ones
            derandomize=not os.environ.get("ESCBOT_MONTH_RANDOM"),
            database=None,
            report_multiple_bugs=False,
            # a failing walk is printed as found: shrinking a month takes longer than CI has
            phases=[Phase.explicit, Phase.generate],
        ),
    )
