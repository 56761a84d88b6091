"""The manifest asks for exactly the scopes escbot uses.

Derived, not listed: a representative day of escbot runs against the strict emulator with the
manifest's scopes, and the scopes its calls and the events it hears really needed (the
emulator looks each one up in bot/slack/scopes.py) must be the manifest's — none missing
(a call would have answered ``missing_scope``), none asked for and never used.

The day: a partner escalates from a public channel; the intake channel is private (escbot
invited) and the digest channel public (escbot joins it at start); the owner asks the reporter,
who answers once in the card's thread and once by DM; the daily digest posts with its chart,
and its first answer is lost so the outbox looks its post up in the channel's history.
Before it all, the deployer runs ``escbot doctor``, whose read scopes the manifest asks for too.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import update

from bot.delivery.worker import Pacer
from bot.reporting import digests
from bot.slack import doctor, scopes
from bot.slack.manifest import BOT_SCOPES, manifest
from storage.db import transaction
from storage.models import OutboxMessage
from tests.conftest import SIGNING_SECRET
from tests.desk import INTAKE, PARTNER
from tests.outbox_support import drain
from tests.test_reporter_answers import ask
from tests.test_resolution_http import row

KPI = "C06H2KX9KPI"


@pytest.fixture
def fake_slack(fake_slack):  # type: ignore[no-untyped-def]
    fake_slack.add_channel(INTAKE, "tns-escalations", is_private=True)
    fake_slack.invite(INTAKE)
    return fake_slack


def feature_scopes() -> set[str]:
    """Scopes the manifest's features need without any Web API call."""
    features = manifest("https://escbot.example.com")["features"]
    return {scopes.COMMANDS} if features["slash_commands"] or features["shortcuts"] else set()


def test_the_manifest_asks_for_exactly_the_scopes_a_day_of_escbot_uses(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory, clock, config
) -> None:
    escbot.services.outbox.pacer = Pacer(rate=1000, burst=1000)
    partner = user_factory(PARTNER)
    # The deployer runs `escbot doctor` first (its read scopes are the manifest's too).
    secrets = doctor.Secrets("xoxb-test-token", SIGNING_SECRET, None, fake_slack.url)
    assert list(doctor.diagnose(config, secrets))

    first, card = ask(escbot, fake_slack, user_factory, clock, "Slurs in a private group")
    assert partner.message_in_thread(INTAKE, card.ts, "The first account") is not None
    fake_slack.wait_until(lambda: row(escbot, first).status == "acknowledged")
    second, _ = ask(escbot, fake_slack, user_factory, clock, "Hate symbols in avatars")
    assert partner.dm("Both of them") is not None
    fake_slack.wait_until(lambda: row(escbot, second).status == "acknowledged")
    assert drain(escbot.services.outbox)

    # The next morning's digest (shared with its chart); Slack takes it but the answer is lost.
    clock.advance(timedelta(days=1))
    clock.set(clock.now().replace(hour=9, minute=5))
    escbot.services.outbox.client.retry_handlers.clear()
    fake_slack.lose_answers("files.completeUploadExternal")
    assert digests.run_due_digest(escbot.services.desk, config.digest("daily"), clock.now())
    escbot.services.outbox.run_once()
    with transaction(escbot.services.sessions) as s:  # retry now, not after the backoff
        s.execute(update(OutboxMessage).values(next_attempt_at=None))
    assert drain(escbot.services.outbox)
    assert len(fake_slack.messages(KPI)) == 1 and fake_slack.files  # posted once, with chart
    assert fake_slack.calls_to("conversations.history")

    refused = [c for c in fake_slack.calls if c.response.get("error") == "missing_scope"]
    assert refused == [], "the manifest lacks a scope escbot needs"
    used = fake_slack.used_scopes | feature_scopes()
    assert sorted(set(BOT_SCOPES) - used) == [], "the manifest asks for scopes never used"
    assert sorted(used - set(BOT_SCOPES)) == []
    assert len(BOT_SCOPES) == len(set(BOT_SCOPES))


def test_every_method_escbot_calls_is_in_the_scope_table() -> None:
    """A new Slack call must say which scope it needs (bot/slack/scopes.py)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    called: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (root / folder).rglob("*.py"):
            if "sandbox" in path.parts:
                continue
            found = re.findall(r"client\.([a-z]+_[A-Za-z]+)\(", path.read_text())
            called |= {name for name in found if hasattr(WebClient, name)}  # not Socket Mode's
    methods = {m.replace(".", "_") for m in scopes.METHOD_SCOPES}
    helpers = {"files_upload_v2": "files_getUploadURLExternal"}
    missing = sorted(helpers.get(c, c) for c in called if helpers.get(c, c) not in methods)
    assert called and missing == []
