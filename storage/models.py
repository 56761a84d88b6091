"""SQLAlchemy 2 typed models: the tables escbot keeps.

Timestamps are aware UTC (see ``UTCDateTime``). The audit trail
(``TicketEvent``) is append-only: nothing updates or deletes its rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime

#: The open statuses (bot.tickets.lifecycle.OPEN_STATUSES) as SQL, for the partial index of open
#: tickets; queries must spell the IN list with these literals, in this order, to use it.
OPEN_STATUSES_SQL = (
    "status IN ('new', 'assigned', 'acknowledged', 'waiting_on_reporter', 'reopened')"
)


class Base(DeclarativeBase):
    # Every model maps one Table; DeclarativeBase types it as any FromClause.
    __table__: ClassVar[Table]

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Counter(Base):
    """Named gap-free sequences (ticket numbers): one row each, row-locked on use."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # open tickets by age (a small partial index): the backlog without walking history
        Index(
            "ix_tickets_open",
            "created_at",
            sqlite_where=text(OPEN_STATUSES_SQL),
            postgresql_where=text(OPEN_STATUSES_SQL),
        ),
        # routing's load per assignee, answered from the index alone
        Index("ix_tickets_assignee_load", "assignee_id", "status", "severity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    summary: Mapped[str] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text, default="")
    policy_area: Mapped[str] = mapped_column(String(64), index=True)
    severity: Mapped[str] = mapped_column(String(16), index=True)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(32), index=True)
    reporter_id: Mapped[str] = mapped_column(String(32), index=True)
    assignee_id: Mapped[str | None] = mapped_column(String(32), index=True)
    source_team: Mapped[str | None] = mapped_column(String(64))
    source_channel: Mapped[str | None] = mapped_column(String(32))
    source_permalink: Mapped[str | None] = mapped_column(String(500))
    vendor: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(16))
    requested_action: Mapped[str | None] = mapped_column(String(300))
    deadline: Mapped[datetime | None]
    routing_reason: Mapped[str | None] = mapped_column(Text)
    card_channel: Mapped[str | None] = mapped_column(String(32))
    card_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    assigned_at: Mapped[datetime | None]
    # the current owner's acknowledgement (a reassignment clears it) …
    acked_at: Mapped[datetime | None] = mapped_column(index=True)
    # … and the ticket's first one, set once: what TTA and the KPIs count
    first_acked_at: Mapped[datetime | None] = mapped_column(index=True)
    first_acked_by: Mapped[str | None] = mapped_column(String(32))
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    # the card's version: each transaction that queues the card takes the next one, in SQL
    # (bot.delivery.outbox.enqueue_card); nothing else writes it
    version: Mapped[int] = mapped_column(Integer, default=1)
    # routing / escalation chain
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    # resolution
    decision: Mapped[str | None] = mapped_column(String(64))
    policy_section: Mapped[str | None] = mapped_column(String(200))
    rationale: Mapped[str | None] = mapped_column(Text)
    vendor_correct: Mapped[bool | None] = mapped_column(Boolean)
    vendor_error_category: Mapped[str | None] = mapped_column(String(100))
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    # SLA clocks: pauses while waiting on the reporter, and the measured times
    # (in SLA seconds: business hours where the severity says so, pauses excluded)
    waiting_since: Mapped[datetime | None]
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    tta_seconds: Mapped[int | None] = mapped_column(Integer)
    ttr_seconds: Mapped[int | None] = mapped_column(Integer)
    tta_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    ttr_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    # retention: when details and content links were redacted (the audit trail stays)
    redacted_at: Mapped[datetime | None]

    content_items: Mapped[list[ContentItem]] = relationship(
        back_populates="ticket", order_by="ContentItem.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id"
    )


class ContentItem(Base):
    """A piece of content a ticket is about; ``normalized`` is what duplicates match on."""

    __tablename__ = "content_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    raw: Mapped[str] = mapped_column(String(2000))
    normalized: Mapped[str] = mapped_column(String(2000), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(index=True)

    ticket: Mapped[Ticket] = relationship(back_populates="content_items")


class TicketEvent(Base):
    """Append-only audit trail: who did what to which ticket, and when."""

    __tablename__ = "ticket_events"
    __table_args__ = (
        Index("ix_ticket_events_ticket_at", "ticket_id", "at"),
        Index("ix_ticket_events_action_at", "action", "at"),  # digests: reopens in a period
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class Resolution(Base):
    """One row per time a ticket was resolved, written then and never changed.

    The KPIs count resolutions, time to resolve and vendor verdicts from here,
    so a reopen (which clears ``tickets.resolved_at``) or a second resolution
    never rewrites the figures of the day a ticket was first resolved.
    """

    __tablename__ = "resolutions"
    __table_args__ = (UniqueConstraint("ticket_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(index=True)
    severity: Mapped[str] = mapped_column(String(16))
    ttr_seconds: Mapped[int | None] = mapped_column(Integer)
    ttr_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    decision: Mapped[str | None] = mapped_column(String(64))
    vendor: Mapped[str | None] = mapped_column(String(64))
    vendor_correct: Mapped[bool | None] = mapped_column(Boolean)
    vendor_error_category: Mapped[str | None] = mapped_column(String(100))


class ProcessedRequest(Base):
    """Idempotency keys of Slack requests already handled (retries, double clicks)."""

    __tablename__ = "processed_requests"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)


class PendingDraft(Base):
    """An intake submission waiting on the reporter's duplicate choice.

    Kept here, never in the view's private_metadata, so that nothing a click sends
    back is trusted: the payload holds the validated draft, its reporter and the
    choices shown (``bot.intake.choice``); keyed by the Slack view id, deleted once decided.
    """

    __tablename__ = "pending_drafts"

    view_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(index=True)


class IntakeLookup(Base):
    """One duplicate check by one person: the per-person lookup limit counts these
    (``bot.intake.limits``); rows older than the limit's window are deleted as new come."""

    __tablename__ = "intake_lookups"
    __table_args__ = (Index("ix_intake_lookups_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]


class OutboxMessage(Base):
    """A Slack write waiting to be delivered, stored with the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "status", "channel", "id"),
        Index("ix_outbox_ticket", "ticket_id", "kind"),  # a card's newer versions
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    # None: deliver now. Set (by the worker's own clock) when a retry waits, or while a
    # notice waits for others to the same person to join it in one DM.
    next_attempt_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Rows of one (channel, lane) go in id order (a ticket's card and thread, a digest and
    # its chart); lanes of a channel never wait for each other, the higher priority first.
    lane: Mapped[str] = mapped_column(String(200), default="", server_default="")
    priority: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")


class Timer(Base):
    """A durable timer (SLA notice, escalation step, reminder), fired once by the scheduler.

    ``dedup_key`` makes scheduling idempotent; the lease makes firing exclusive
    across replicas.
    """

    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timers_due", "status", "due_at"),
        # a ticket's timers (SLA reschedule, cancel): without it each change scanned them all
        Index("ix_timers_ticket", "ticket_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    due_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    fired_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]


class Watcher(Base):
    """Someone (besides reporter and assignee) who follows a ticket."""

    __tablename__ = "watchers"
    __table_args__ = (UniqueConstraint("ticket_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class FollowUp(Base):
    """A remediation action item born from a ticket."""

    __tablename__ = "followups"
    __table_args__ = (Index("ix_followups_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(String(32), index=True)
    created_by: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(index=True)
    done_at: Mapped[datetime | None] = mapped_column(index=True)
    snoozed_until: Mapped[datetime | None]


class SlaBreach(Base):
    """A missed SLA target, once per ticket and clock (``tta`` or ``ttr``)."""

    __tablename__ = "sla_breaches"
    __table_args__ = (UniqueConstraint("ticket_id", "clock"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    clock: Mapped[str] = mapped_column(String(8))
    severity: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime]
    at: Mapped[datetime] = mapped_column(index=True)


class OutOfOffice(Base):
    """A specialist's absence; routing skips them while it lasts."""

    __tablename__ = "out_of_office"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)  # routing: who is away now
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime]


class DeskPerson(Base):
    """Everyone app.yaml has put on the desk (members, leads, deputies, admins), and when
    they left it: deactivated in Slack (``user_change``), or gone from app.yaml. Routing
    and QA skip those who left, and nothing is DMed to them but the one note that their
    open work was handed over (``noted_at``)."""

    __tablename__ = "desk_people"
    __table_args__ = (Index("ix_desk_people_left_at", "left_at"),)

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[datetime]
    left_at: Mapped[datetime | None]
    left_via: Mapped[str | None] = mapped_column(String(16))  # slack | config
    noted_at: Mapped[datetime | None]


class DigestRun(Base):
    """One digest for one period: the unique key is what makes it post exactly once."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("name", "period_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="running")
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    posted_at: Mapped[datetime | None]


# -- the BPO quality programme (bot/qa) ----------------------------------------------


class QaDecision(Base):
    """A vendor's decision, imported for sampling; (vendor, decision_id) is its identity,
    so importing the same file twice stores each decision once."""

    __tablename__ = "qa_decisions"
    __table_args__ = (
        UniqueConstraint("vendor", "decision_id", name="uq_qa_decisions_vendor_decision"),
        Index("ix_qa_decisions_vendor_decided", "vendor", "decided_at"),
        # what is left to draw (``sample_run_id IS NULL``) of a vendor's days, found fast
        Index("ix_qa_decisions_undrawn", "sample_run_id", "vendor", "decided_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vendor: Mapped[str] = mapped_column(String(64))
    decision_id: Mapped[str] = mapped_column(String(128))
    content_ref: Mapped[str] = mapped_column(String(500))
    policy_area: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime]
    agent_id: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    imported_at: Mapped[datetime]
    #: The sample run that took this decision into its draw (a late one: into a top-up),
    #: or the ``gap`` run that reported it as never drawn; None: not considered yet.
    sample_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("qa_runs.id", ondelete="SET NULL", name="fk_qa_decisions_sample_run")
    )


class QaRun(Base):
    """One draw (a vendor's daily sample, or a calibration set) for one period: the unique
    key makes it happen once across replicas, like ``DigestRun``. A ``topup`` (decisions
    imported after their day's draw) can happen several times a day: each takes the
    decisions it marks (``QaDecision.sample_run_id``), which no other run can take.
    A ``gap`` records days that fell out of the catch-up window undrawn."""

    __tablename__ = "qa_runs"
    __table_args__ = (
        Index(
            "uq_qa_runs_once",
            "kind",
            "vendor",
            "period_start",
            unique=True,
            postgresql_where=text("kind NOT IN ('topup', 'gap')"),
            sqlite_where=text("kind NOT IN ('topup', 'gap')"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    vendor: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    seed: Mapped[str] = mapped_column(String(64))  # hex: the key the sample was ranked by
    created_at: Mapped[datetime]


class QaItem(Base):
    """A decision to grade, by one grader: a sampled item (``slot`` 0), or one of the
    blind calibration grades of a decision (one slot per grader)."""

    __tablename__ = "qa_items"
    __table_args__ = (
        UniqueConstraint("run_id", "decision_id", "slot"),
        Index("ix_qa_items_grader", "grader_id", "status"),
        Index("ix_qa_items_kind_status", "kind", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("qa_runs.id", ondelete="CASCADE"))
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("qa_decisions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    slot: Mapped[int] = mapped_column(SmallInteger, default=0)
    stratum: Mapped[str] = mapped_column(String(200))
    stratum_size: Mapped[int] = mapped_column(Integer)  # decisions in the stratum that day
    stratum_sampled: Mapped[int] = mapped_column(Integer)  # of which drawn
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    grader_id: Mapped[str | None] = mapped_column(String(32))
    assigned_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    verdict: Mapped[str | None] = mapped_column(String(16))
    correct_decision: Mapped[str | None] = mapped_column(String(64))
    error_category: Mapped[str | None] = mapped_column(String(64))
    graded_by: Mapped[str | None] = mapped_column(String(32))
    graded_at: Mapped[datetime | None] = mapped_column(index=True)


class QaGrade(Base):
    """Append-only audit of grades: every grade and every correction, with who and when."""

    __tablename__ = "qa_grades"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("qa_items.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(16))
    correct_decision: Mapped[str | None] = mapped_column(String(64))
    error_category: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    corrects: Mapped[int | None] = mapped_column(Integer)  # the grade this one replaces
    at: Mapped[datetime]


class QaClarification(Base):
    """Guidance to a vendor from overturns: proposed, posted to its channel, acknowledged."""

    __tablename__ = "qa_clarifications"
    __table_args__ = (Index("ix_qa_clarifications_status", "status", "vendor"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vendor: Mapped[str] = mapped_column(String(64))
    policy_area: Mapped[str] = mapped_column(String(64))
    error_category: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # overturn | pattern
    item_id: Mapped[int | None] = mapped_column(ForeignKey("qa_items.id", ondelete="SET NULL"))
    pattern_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # proposed | open | acknowledged
    examples: Mapped[list[str]] = mapped_column(JSON, default=list)
    policy_point: Mapped[str | None] = mapped_column(Text)
    instead: Mapped[str | None] = mapped_column(Text)
    proposed_at: Mapped[datetime]
    written_by: Mapped[str | None] = mapped_column(String(32))
    posted_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(32))
    acknowledged_at: Mapped[datetime | None]
