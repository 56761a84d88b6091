"""Shared fixtures: databases (SQLite, or PostgreSQL when ESCBOT_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, make_session_factory, upgrade
from tests.dbs import fresh_database


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


# -- the real app on a real server, against the fake Slack ------------------

SIGNING_SECRET = "test-signing-secret"
QA_TOKEN = "test-qa-token"  # POST /qa/decisions (bot/slack/qa_intake.py)
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def config():  # type: ignore[no-untyped-def]
    from bot.config import load_config

    return load_config(REPO / "app.yaml")


#: The example workspace's channels as Slack has them: all public, escbot in none of them
#: until it joins at start (tests that want a private one add it themselves).
CHANNELS = {
    "C06H2KX8ESC": "tns-escalations",  # app.yaml's intake channel
    "C06H2KX9KPI": "tns-escalations-kpi",  # app.yaml's digest channel
    "C07PARTNERS": "partner-requests",  # where partners run /escalate
}


@pytest.fixture
def fake_slack(config, request):  # type: ignore[no-untyped-def]
    """The emulator under Slack's rules and limits, scopes exactly the manifest's.

    A test that needs one of Slack's limits lifted names it:
    ``@pytest.mark.lenient(no_rate_tiers=True)`` (bot/sandbox/emulator/lenient.py).
    Every test ends with no unfurl flag sent where Slack ignores it (the promise that
    reported content never unfurls must not rest on one).
    """
    from bot.sandbox.emulator import FakeSlack, Lenient

    marker = request.node.get_closest_marker("lenient")
    lenient = Lenient(**marker.kwargs) if marker else None
    with FakeSlack(team_id=config.workspace.team_id or "T0ESCBOT", lenient=lenient) as fake:
        for channel_id, name in CHANNELS.items():
            fake.add_channel(channel_id, name)
        yield fake
        assert fake.misplaced_unfurls() == [], "unfurl flags where Slack ignores them"


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from bot.core.clock import FakeClock

    # A Thursday morning in Dublin: most of the pod is on shift.
    return FakeClock(datetime(2026, 11, 26, 10, 0, tzinfo=UTC))


@pytest.fixture
def app_token() -> str | None:
    """None: escbot takes Slack's requests over HTTP. Override it in a module (or parametrize
    it) with an ``xapp-`` token to run that module's escbot, and its users, in Socket Mode."""
    return None


@pytest.fixture
def escbot(db_url, config, fake_slack, clock, app_token):  # type: ignore[no-untyped-def]
    """escbot serving HTTP on 127.0.0.1 (random port) with the example app.yaml; in Socket
    Mode against the fake's WebSocket endpoint too when ``app_token`` is set."""
    from datetime import timedelta

    from bot.runtime import Runtime
    from bot.settings import Settings

    settings = Settings(
        bot_token="xoxb-test-token",
        signing_secret=SIGNING_SECRET,
        api_url=fake_slack.url,
        database_url=db_url,
        host="127.0.0.1",
        port=0,
        # Tests fire timers and digests themselves (services.timers.run_due, digests.catch_up)
        # right after moving the clock; a background tick would race their assertions.
        timer_interval=timedelta(hours=1),
        # Slack's one message a second per channel is the outbox's own test (test_outbox);
        # here it would only make each card update wait.
        channel_rate=1000.0,
        app_token=app_token,
        socket_ping_interval=2.0,  # reconnect soon after a test's network cut
        # A first notice waits for company (batched DMs, test_outbox_notices); here it would
        # only make each owner's DM wait.
        notice_window=timedelta(0),
        qa_token=QA_TOKEN,
    )
    if app_token:
        fake_slack.enable_socket_mode(app_token)
    runtime = Runtime.build(settings, config, clock=clock).start()
    yield runtime
    runtime.shutdown()


@pytest.fixture
def runtime_with(db_url, config, fake_slack, clock):  # type: ignore[no-untyped-def]
    """``runtime_with(**changes)`` → an escbot like the ``escbot`` fixture's, with some
    settings changed (e.g. ``http=HttpLimits(...)``); each one is shut down afterwards."""
    from datetime import timedelta

    from bot.runtime import Runtime
    from bot.settings import Settings

    started: list[Runtime] = []

    def build(**changes):  # type: ignore[no-untyped-def]
        settings = Settings(
            bot_token="xoxb-test-token",
            signing_secret=SIGNING_SECRET,
            api_url=fake_slack.url,
            database_url=db_url,
            host="127.0.0.1",
            port=0,
            timer_interval=timedelta(hours=1),
            **changes,
        )
        started.append(Runtime.build(settings, config, clock=clock).start())
        return started[-1]

    yield build
    for runtime in started:
        runtime.shutdown()


@pytest.fixture
def user_factory(escbot, fake_slack):  # type: ignore[no-untyped-def]
    """``user_factory("U0ANA")`` → a SlackUser sending signed requests as that user (as
    Socket Mode envelopes when escbot runs in Socket Mode)."""
    from bot.sandbox.emulator import SlackUser

    def make(user_id: str, **kw):  # type: ignore[no-untyped-def]
        kw.setdefault("transport", "socket" if escbot.services.settings.app_token else "http")
        return SlackUser(escbot.events_url, SIGNING_SECRET, user_id=user_id, fake=fake_slack, **kw)

    return make
