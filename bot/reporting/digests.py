"""Running KPI digests: on their schedule, caught up after downtime, exactly once per period.

Exactly once: the ``digest_runs`` row (unique on name and period start), the
digest message and its chart upload are written to the database in one
transaction; a second runner (another replica, a restart, the catch-up
check) hits the unique key and posts nothing. The outbox then delivers the
message; with a chart, as one upload shared in the channel with the digest's
blocks as its message, so the chart shows in the channel, not in a thread. A
preview runs the same digest for one requester and records nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import AppConfig, Digest
from bot.core.desk import Desk
from bot.core.errors import NotFound
from bot.core.text import mrkdwn
from bot.delivery.outbox import enqueue_message, enqueue_upload
from bot.reporting.audience import audience_of, for_audience
from bot.reporting.periods import (
    Period,
    digest_period,
    last_fire,
    previous_fire,
    scheduled_period,
)
from bot.reporting.present import TITLES, present
from bot.reporting.report import build_report
from bot.tickets import permissions
from storage.db import transaction
from storage.models import DigestRun

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(minutes=5)  # posted later than this after its time: marked late
MAX_LOOKBACK = 400  # runs catch-up walks back at most (a catch_up of over a year of days)


# -- posting exactly once ----------------------------------------------------------------


def dedup_key(digest: Digest, period: Period) -> str:
    return f"digest:{digest.name}:{period.start}"


def already_run(session: Session, name: str, period: Period) -> bool:
    stmt = select(DigestRun.id).where(
        DigestRun.name == name, DigestRun.period_start == period.start
    )
    return session.scalar(stmt) is not None


def run_due_digest(
    desk: Desk,
    digest: Digest,
    now: datetime,
    *,
    late: bool = False,
    scheduled: datetime | None = None,
) -> DigestRun | None:
    """Post ``digest`` for the last period complete at ``scheduled`` (default ``now``), once.

    Returns the run, or None when that period's digest was already posted (by
    this or another replica). The digest is composed outside the write
    transaction; the run row and the outbox rows then commit together.
    """
    cfg = desk.config
    period = digest_period(cfg, digest, scheduled or now)
    with desk.sessions() as session:
        if already_run(session, digest.name, period):
            return None
        report = build_report(session, cfg, digest, period, now)
    audience = audience_of(digest, desk.private_channels)
    report = for_audience(report, audience, summaries=digest.summaries)
    out = present(cfg, desk.renderer, report, late=late, scheduled=scheduled)
    key = dedup_key(digest, period)
    run = DigestRun(
        name=digest.name,
        period_start=period.start,
        period_end=period.end,
        status="posted",
        late=late,
        created_at=now,
        posted_at=now,
    )
    try:
        with transaction(desk.sessions) as session:
            session.add(run)
            session.flush()  # the unique (name, period_start) decides who posts
            if out.chart is None:
                enqueue_message(session, digest.channel, out.payload, key, now)
            else:  # one message in the channel: the digest, its chart under it
                enqueue_upload(
                    session,
                    digest.channel,
                    content=out.chart,
                    filename=f"{digest.name}-{period.first.isoformat()}.png",
                    title=f"{TITLES[period.kind]} digest chart · {period.label}",
                    alt_txt=out.alt_text or "",
                    message=out.payload,
                    dedup_key=key,
                    now=now,
                )
    except IntegrityError:
        log.info("digest %s for %s was already posted", digest.name, period.label)
        return None
    log.info(
        "digest %s for %s queued for the %s audience%s",
        digest.name,
        period.label,
        audience,
        " (late)" if late else "",
    )
    return run


def due_periods(cfg: AppConfig, digest: Digest, now: datetime) -> list[tuple[Period, datetime]]:
    """The schedule's runs within the last ``catch_up``, oldest first, with what each covers.

    A run older than its ``catch_up`` window is skipped; the run after it still
    starts its window at the skipped run's time, as the schedule says.
    """
    trigger = cfg.digest_trigger(digest)
    found = []
    fire = last_fire(trigger, now)
    for _ in range(MAX_LOOKBACK):
        if fire <= now - digest.catch_up:
            break
        found.append((scheduled_period(cfg, digest, fire), fire))
        fire = previous_fire(trigger, fire)
    return found[::-1]


def catch_up(desk: Desk, now: datetime) -> list[DigestRun]:
    """Post each period whose digest fell due within its ``catch_up`` window and isn't posted.

    Cheap when there is nothing to do (one indexed lookup per due period), so it
    runs at start-up and on every scheduler tick; a post more than
    ``LATE_AFTER`` behind its due time is marked late.
    """
    posted = []
    for digest in desk.config.digests:
        for _period, due in due_periods(desk.config, digest, now):
            try:
                run = run_due_digest(desk, digest, now, late=now - due > LATE_AFTER, scheduled=due)
            except Exception:  # one broken digest must not hold up the others
                log.exception("digest %s due %s failed", digest.name, due.isoformat())
                continue
            if run is not None:
                posted.append(run)
    return posted


def run_scheduled(desk: Desk, name: str) -> None:
    """The APScheduler job: post the digest whose time has just come."""
    digest = desk.config.digest(name)
    if digest is None:
        return
    now = desk.clock.now()
    due = digest_period(desk.config, digest, now).end
    try:
        run_due_digest(desk, digest, now, late=now - due > LATE_AFTER, scheduled=due)
    except Exception:  # the scheduler thread must live on; catch-up retries the period
        log.exception("digest %s failed", name)


def schedule_digests(scheduler: BaseScheduler, desk: Desk) -> None:
    """One cron job per configured digest, in the digest's time zone (DST-safe)."""
    for digest in desk.config.digests:
        scheduler.add_job(
            run_scheduled,
            trigger=desk.config.digest_trigger(digest),
            args=(desk, digest.name),
            id=f"digest:{digest.name}",
            name=f"digest {digest.name}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(digest.catch_up.total_seconds()),
        )


# -- preview ---------------------------------------------------------------------------


def digest_preview(desk: Desk, name: str | None, user_id: str) -> dict[str, Any]:
    """``/escalate digest [name]``: the digest as it would post now, for the requester only."""
    cfg = desk.config
    permissions.check_desk(cfg, user_id, "preview digests")
    if not cfg.digests:
        raise NotFound("No digests are configured (see `digests` in app.yaml).")
    digest = cfg.digest(name) if name else cfg.digests[0]
    if digest is None:
        known = ", ".join(f"`{d.name}`" for d in cfg.digests)
        raise NotFound(f"There is no digest called `{mrkdwn(name)}`. Try one of: {known}.")
    now = desk.clock.now()
    period = digest_period(cfg, digest, now)
    with desk.sessions() as session:
        report = build_report(session, cfg, digest, period, now, chart=False)
    return present(cfg, desk.renderer, report, preview=True).payload
