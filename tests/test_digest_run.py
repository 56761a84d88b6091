"""Posting digests exactly once: replicas racing, restarts, catch-up, DST, the chart upload.

Each test builds escbot's real services (``create_app``) against the Slack
emulator and a real database; several "replicas" are several Services with
their own engines on the same database.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from bot.app import Services, create_app
from bot.core.clock import FakeClock
from bot.core.errors import NotAllowed, NotFound
from bot.delivery.outbox import enqueue_message, enqueue_upload
from bot.delivery.worker import OutboxWorker, Pacer
from bot.reporting import digests
from bot.reporting.report import build_report
from bot.settings import Settings
from bot.slack.membership import join_channels
from storage.db import make_engine, make_session_factory, transaction
from storage.models import DigestRun, OutboxMessage
from tests.kpi_data import KPI, NOW, D, H, History
from tests.outbox_support import drain

LEAD = "U04LQ2M8RTA"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def replicas(engine, db_url, config, fake_slack):  # type: ignore[no-untyped-def]
    """``replicas(n, clock)`` → n Services on the same database, like n app processes."""
    made: list[Services] = []

    def make(n: int, clock: FakeClock) -> list[Services]:
        for _ in range(n):
            settings = Settings(
                bot_token="xoxb-test",
                signing_secret="s",
                api_url=fake_slack.url,
                database_url=db_url,
            )
            eng = make_engine(db_url)
            _app, services = create_app(settings, config, eng, make_session_factory(eng), clock)
            services.outbox.pacer = Pacer(rate=100, burst=100)
            join_channels(services.client, config)  # as each process does at start
            made.append(services)
        return made[-n:]

    yield make
    for services in made:
        services.engine.dispose()


@pytest.fixture
def history(sessions):  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        h = History(s)
        for i in range(6):
            h.acked(D + i * H, 600, severity="sev1", language="tl")
        h.content(h.ticket(D - 3 * 24 * H), "example.com/post/1")
    return h


def runs(sessions) -> list[tuple[str, datetime, bool]]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        rows = s.scalars(select(DigestRun).order_by(DigestRun.id))
        return [(r.name, r.period_start, r.late) for r in rows]


def test_digest_posts_once_with_its_chart_in_the_channel(
    replicas, history, sessions, config, fake_slack
) -> None:
    [services] = replicas(1, FakeClock(utc(2026, 11, 30, 9, 30)))
    weekly = config.digest("weekly")  # chart: true
    run = digests.run_due_digest(services.desk, weekly, services.clock.now())
    assert run is not None and (run.period_start, run.late) == (utc(2026, 11, 23, 9, 30), False)
    assert digests.run_due_digest(services.desk, weekly, services.clock.now()) is None
    assert drain(services.outbox)
    [post] = fake_slack.messages(KPI)  # one message in the channel: the digest and its chart
    assert post.blocks[0]["block_id"] == "headline"
    assert post.blocks[0]["text"]["text"].startswith(
        ":bar_chart: Weekly digest · Mon 23 Nov 09:30 → Mon 30 Nov 09:30\n"
    )
    assert fake_slack.thread(KPI, post.ts) == []  # nothing hidden in a thread
    [png] = fake_slack.files
    assert (png.channel, png.thread_ts, png.completed) == (KPI, None, True)
    assert png.content.startswith(b"\x89PNG") and png.filename == "weekly-2026-11-23.png"
    assert png.alt_txt.startswith("Stacked bars: tickets opened per day by policy area")
    assert post.files[0]["id"] == png.id
    assert fake_slack.calls_to("chat.postMessage") == []
    assert runs(sessions) == [("weekly", utc(2026, 11, 23, 9, 30), False)]


def test_two_replicas_at_the_scheduled_minute_post_once(
    replicas, history, sessions, config, fake_slack
) -> None:
    clock = FakeClock(utc(2026, 11, 30, 9, 30))
    weekly = config.digest("weekly")
    apps = replicas(2, clock)
    barrier = threading.Barrier(len(apps))
    results: list[DigestRun | None] = []

    def runner(services: Services) -> None:
        barrier.wait()
        results.append(digests.run_due_digest(services.desk, weekly, clock.now()))

    threads = [threading.Thread(target=runner, args=(s,)) for s in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 2 and sum(r is not None for r in results) == 1
    for services in apps:
        assert drain(services.outbox)
    assert len(fake_slack.messages(KPI)) == 1
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1
    assert len(fake_slack.files) == 1
    assert len(runs(sessions)) == 1


def test_the_unique_run_row_decides_when_both_replicas_passed_the_check(
    replicas, history, sessions, config, fake_slack, monkeypatch
) -> None:
    """Both replicas composed the digest before either committed: the unique key wins."""
    a, b = replicas(2, FakeClock(NOW))
    daily = config.digest("daily")
    monkeypatch.setattr(digests, "already_run", lambda *_: False)
    assert digests.run_due_digest(a.desk, daily, NOW) is not None
    assert digests.run_due_digest(b.desk, daily, NOW) is None
    assert drain(a.outbox)
    assert len(fake_slack.messages(KPI)) == 1
    with sessions() as s:
        keys = s.scalars(select(OutboxMessage.dedup_key).order_by(OutboxMessage.id)).all()
    period = "daily:2026-11-25 09:00:00+00:00"  # since the previous run
    assert keys == [f"digest:{period}"]  # one message, its chart in it


def test_runner_started_after_a_missed_run_posts_it_once_marked_late(
    replicas, history, sessions, config, fake_slack
) -> None:
    # Thu 26 Nov 15:00: the 09:00 daily was missed (6 h ago, catch_up 12 h); the weekly of
    # Mon 23 Nov 09:30 is 3 days old (catch_up 1 d) and is left alone.
    clock = FakeClock(utc(2026, 11, 26, 15, 0))
    [services] = replicas(1, clock)
    posted = digests.catch_up(services.desk, clock.now())
    assert [(r.name, r.period_start, r.late) for r in posted] == [("daily", D + 9 * H, True)]
    assert digests.catch_up(services.desk, clock.now()) == []
    [other] = replicas(1, clock)  # another replica starting later
    assert digests.catch_up(other.desk, clock.now() + H) == []
    assert drain(services.outbox)
    [post] = fake_slack.messages(KPI)
    assert "Posted late (due Thu 26 Nov 09:00)" in str(post.blocks)
    assert runs(sessions) == [("daily", D + 9 * H, True)]


def test_catch_up_skips_runs_older_than_their_window(replicas, history, sessions) -> None:
    clock = FakeClock(utc(2026, 11, 26, 21, 1))  # 12 h 01 m after the daily's 09:00
    [services] = replicas(1, clock)
    assert digests.catch_up(services.desk, clock.now()) == []
    clock.set(utc(2026, 11, 24, 8, 0))  # the weekly of Mon 23 09:30 is 22.5 h late: within 1 d
    assert [(r.name, r.late) for r in digests.catch_up(services.desk, clock.now())] == [
        ("weekly", True)
    ]


def test_catch_up_right_at_the_scheduled_time_is_not_late(replicas, history, sessions) -> None:
    clock = FakeClock(utc(2026, 11, 26, 9, 0, 30))
    [services] = replicas(1, clock)
    assert [(r.name, r.late) for r in digests.catch_up(services.desk, clock.now())] == [
        ("daily", False)
    ]


@pytest.mark.parametrize(
    ("fire", "start", "end", "label"),
    [
        # Monday's run covers the time since Friday's, 09:00 local on both sides of the change
        (
            utc(2026, 3, 30, 8, 0),
            utc(2026, 3, 27, 9),
            utc(2026, 3, 30, 8),
            "Fri 27 Mar 09:00 → Mon 30 Mar 09:00",
        ),
        (
            utc(2026, 10, 26, 9, 0),
            utc(2026, 10, 23, 8),
            utc(2026, 10, 26, 9),
            "Fri 23 Oct 09:00 → Mon 26 Oct 09:00",
        ),
    ],
)
def test_scheduled_job_at_0900_local_on_either_side_of_dst(
    replicas, sessions, config, fake_slack, fire, start, end, label
) -> None:
    clock = FakeClock(fire + timedelta(seconds=2))
    [services] = replicas(1, clock)
    scheduler = BackgroundScheduler(timezone=UTC)
    digests.schedule_digests(scheduler, services.desk)
    job = scheduler.get_job("digest:daily")
    assert str(job.trigger.timezone) == "Europe/Dublin"
    assert job.trigger.get_next_fire_time(None, fire - H) == fire  # 09:00 local
    job.func(*job.args)  # what APScheduler runs at that minute
    with sessions() as s:
        run = s.scalars(select(DigestRun)).one()
    assert (run.period_start, run.period_end, run.late) == (start, end, False)
    assert drain(services.outbox)
    [post] = fake_slack.messages(KPI)
    assert label in post.blocks[0]["text"]["text"]


def test_schedule_digests_adds_one_cron_job_per_digest(replicas, config) -> None:
    [services] = replicas(1, FakeClock(NOW))
    scheduler = BackgroundScheduler(timezone=UTC)
    digests.schedule_digests(scheduler, services.desk)
    digests.schedule_digests(scheduler, services.desk)  # idempotent
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"digest:daily", "digest:weekly"}
    assert jobs["digest:weekly"].misfire_grace_time == 24 * 3600
    assert jobs["digest:daily"].coalesce is True


# -- the outbox "upload" kind -------------------------------------------------------------


@pytest.fixture
def worker(sessions, fake_slack) -> OutboxWorker:  # type: ignore[no-untyped-def]
    from slack_sdk import WebClient

    client = WebClient(token="xoxb-test", base_url=fake_slack.url)
    return OutboxWorker(sessions, client, lambda *_: {}, pacer=Pacer(rate=1000, burst=1000))


def queue_pair(sessions, channel: str = KPI) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        enqueue_message(s, channel, {"text": "digest"}, "digest:x", NOW)
        enqueue_upload(
            s,
            channel,
            content=b"\x89PNG fake",
            filename="x.png",
            title="chart",
            alt_txt="a chart",
            thread_of="digest:x",
            dedup_key="digest-chart:x",
            now=NOW,
        )


def test_upload_waits_for_its_message_and_lands_in_its_thread(sessions, worker, fake_slack) -> None:
    queue_pair(sessions)
    fake_slack.fail("chat.postMessage", status=500)  # the digest message fails once
    assert drain(worker, timeout=20)
    [post] = fake_slack.messages(KPI)
    [f] = fake_slack.files
    assert (f.thread_ts, f.content, f.alt_txt, f.title) == (
        post.ts,
        b"\x89PNG fake",
        "a chart",
        "chart",
    )
    with sessions() as s:
        assert [r.status for r in s.scalars(select(OutboxMessage))] == ["sent", "sent"]


def test_upload_is_dropped_when_its_message_is_dead(sessions, worker, fake_slack) -> None:
    queue_pair(sessions, channel="C0NOTTHERE")
    fake_slack.fail("chat.postMessage", "channel_not_found")
    assert drain(worker)
    assert fake_slack.files == []
    with sessions() as s:
        assert [r.status for r in s.scalars(select(OutboxMessage))] == ["dead", "superseded"]


# -- preview ----------------------------------------------------------------------------


def test_preview_is_private_and_records_nothing(
    replicas, history, sessions, config, fake_slack
) -> None:
    [services] = replicas(1, FakeClock(NOW))
    payload = digests.digest_preview(services.desk, None, LEAD)  # the first digest: daily
    assert payload["response_type"] == "ephemeral"
    assert (
        "Daily digest · Wed 25 Nov 09:00 → Thu 26 Nov 09:00" in payload["blocks"][0]["text"]["text"]
    )
    assert digests.digest_preview(services.desk, "weekly", LEAD)["blocks"]
    assert runs(sessions) == []
    with sessions() as s:
        assert s.scalars(select(OutboxMessage)).all() == []
    assert fake_slack.calls_to("chat.postMessage") == []


def test_preview_refuses_strangers_and_unknown_names(replicas, config) -> None:
    [services] = replicas(1, FakeClock(NOW))
    with pytest.raises(NotAllowed):
        digests.digest_preview(services.desk, "daily", "U07LEGAL01")
    with pytest.raises(NotFound, match="`daily`, `weekly`"):
        digests.digest_preview(services.desk, "<!channel>", LEAD)
    assert runs(services.sessions) == []
    with services.sessions() as s:
        assert s.scalars(select(OutboxMessage)).all() == []


def test_slash_command_preview_over_http_posts_nothing(escbot, user_factory, fake_slack) -> None:
    with transaction(escbot.services.sessions) as s:
        History(s).acked(D + H, 600, severity="sev1")
    lead = user_factory(LEAD)
    assert lead.command("/escalate", text="digest weekly").status_code == 200
    reply = fake_slack.wait_for("response_url")
    assert reply.args["response_type"] == "ephemeral"
    assert "Weekly digest" in reply.args["blocks"][0]["text"]["text"]
    assert "nothing was posted" in str(reply.args["blocks"])
    mark = fake_slack.mark()
    assert lead.command("/escalate", text="digest hourly").status_code == 200
    unknown = fake_slack.wait_for("response_url", since=mark)
    assert "There is no digest called `hourly`" in unknown.args["text"]
    assert drain(escbot.services.outbox)
    assert fake_slack.messages(KPI) == []
    assert runs(escbot.services.sessions) == []


def test_one_failing_digest_does_not_hold_up_the_others(
    replicas, history, sessions, monkeypatch, caplog
) -> None:
    clock = FakeClock(utc(2026, 11, 23, 9, 31))  # Mon: the daily (09:00) and weekly (09:30)
    [services] = replicas(1, clock)
    real = build_report

    def broken(session, cfg, digest, *args, **kw):  # type: ignore[no-untyped-def]
        if digest.name == "daily":
            raise RuntimeError("boom")
        return real(session, cfg, digest, *args, **kw)

    monkeypatch.setattr(digests, "build_report", broken)  # where run_due_digest looks it up
    posted = digests.catch_up(services.desk, clock.now())
    assert [(r.name, r.late) for r in posted] == [("weekly", False)]
    assert "digest daily due 2026-11-23T09:00:00+00:00 failed" in caplog.text
    monkeypatch.setattr(digests, "build_report", real)
    assert [r.name for r in digests.catch_up(services.desk, clock.now())] == ["daily"]  # next tick
