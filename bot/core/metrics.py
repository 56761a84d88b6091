"""Prometheus metrics escbot exposes on ``GET /metrics`` (see docs/operations.md).

Counters and histograms are updated as things happen; the database-backed
gauges (outbox depth, timer lag, tickets) are read at scrape time, so every
replica reports the same truth and nothing drifts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from storage.models import OutboxMessage, Ticket, Timer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.core.clock import Clock

ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 3, 5)


class Metrics:
    """One registry per app, so tests and the demo can run several apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "escbot_http_requests",
            "HTTP requests served",
            ["path", "status"],
            registry=self.registry,
        )
        self.slack_requests = Counter(
            "escbot_slack_requests",
            "Slack requests by kind and HTTP status",
            ["kind", "status"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "escbot_ack_seconds",
            "Time to answer a Slack request",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.slack_api_errors = Counter(
            "escbot_slack_api_errors",
            "Slack Web API errors seen when delivering",
            ["method", "error"],
            registry=self.registry,
        )
        self.outbox_dead_letters = Counter(
            "escbot_outbox_dead_letters",
            "Messages given up on at once, by error and the fix a person must make",
            ["error", "fix"],
            registry=self.registry,
        )

    def watch_database(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.registry.register(_DatabaseGauges(sessions, clock))


class _DatabaseGauges(Collector):
    """Outbox depth and age, overdue timers, tickets by status: read at scrape time."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.sessions, self.clock = sessions, clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock.now()
        with self.sessions() as s:
            rows = s.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )
            by_status = {status: count for status, count in rows}
            oldest = s.scalar(
                select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == "pending")
            )
            overdue, first_due = s.execute(
                select(func.count(), func.min(Timer.due_at)).where(
                    Timer.status == "pending", Timer.due_at <= now
                )
            ).one()
            tickets = s.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all()
        yield _gauge(
            "escbot_outbox_pending", "Outbox messages waiting", by_status.get("pending", 0)
        )
        yield _gauge("escbot_outbox_dead", "Outbox messages given up on", by_status.get("dead", 0))
        age = (now - oldest).total_seconds() if oldest else 0.0
        yield _gauge(
            "escbot_outbox_oldest_pending_seconds",
            "Age of the oldest waiting message",
            max(0.0, age),
        )
        yield _gauge("escbot_timers_overdue", "Due timers not fired yet", overdue)
        lag = (now - first_due).total_seconds() if first_due else 0.0
        yield _gauge("escbot_timer_lag_seconds", "How late the oldest due timer is", lag)
        family = GaugeMetricFamily("escbot_tickets", "Tickets by status", labels=["status"])
        for status, count in tickets:
            family.add_metric([status], count)
        yield family


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)
