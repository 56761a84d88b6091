"""Slack's limits the fake keeps by default, each lifted only by a named kindness (Lenient).

Driven by the real slack_sdk clients over HTTP: trigger_ids expire, response_urls wear out,
view stacks end at 3, ephemerals need both the bot and the person in the channel, and
inputs keep their lengths at submission.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.core.clock import FakeClock
from bot.sandbox.emulator import FakeSlack, GestureRefused, Lenient, view_state

ALICE, BOB = "U0ALICE", "U0BOB"
PUBLIC = "C0PUBLIC"
MODAL = {"type": "modal", "title": {"type": "plain_text", "text": "Escalate"}, "blocks": []}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 26, 10, 0, tzinfo=UTC))


def started(clock: FakeClock, lenient: Lenient | None = None) -> FakeSlack:
    fake = FakeSlack(clock=clock, lenient=lenient).start()
    fake.add_channel(PUBLIC, "partners")
    return fake


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeSlack]:
    fake = started(clock)
    yield fake
    fake.stop()


def client_of(fake: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake.url)


def test_a_trigger_id_expires_after_3_s_and_works_once(fake: FakeSlack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client = client_of(fake)
    fake.register_trigger("t-1", ALICE)
    client.views_open(trigger_id="t-1", view=MODAL)
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        client.views_open(trigger_id="t-1", view=MODAL)
    fake.register_trigger("t-2", ALICE)
    later = time.monotonic() + 3.5
    monkeypatch.setattr(time, "monotonic", lambda: later)
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        client.views_open(trigger_id="t-2", view=MODAL)


def test_no_trigger_expiry_is_a_named_kindness(clock: FakeClock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fake = started(clock, Lenient(no_trigger_expiry=True))
    try:
        fake.register_trigger("t-1", ALICE)
        later = time.monotonic() + 60
        monkeypatch.setattr(time, "monotonic", lambda: later)
        for _ in range(2):
            client_of(fake).views_open(trigger_id="t-1", view=MODAL)
    finally:
        fake.stop()


def test_a_response_url_takes_5_posts_within_30_minutes(fake: FakeSlack, clock: FakeClock) -> None:
    url = fake.new_response_url(ALICE, PUBLIC)
    hook = WebhookClient(url)
    for n in range(5):
        assert hook.send(text=f"#{n}").status_code == 200
    assert hook.send(text="sixth").status_code == 404
    assert [m.text for m in fake.ephemerals(ALICE)] == [f"#{n}" for n in range(5)]

    late = WebhookClient(fake.new_response_url(ALICE, PUBLIC))
    clock.advance(timedelta(minutes=30, seconds=1))
    resp = late.send(text="too late")
    assert (resp.status_code, resp.body) == (404, '{"ok": false, "error": "expired_url"}')
    assert len(fake.ephemerals(ALICE)) == 5


def test_views_push_stops_at_3_views(fake: FakeSlack) -> None:
    client = client_of(fake)
    for n in range(4):
        fake.register_trigger(f"t-{n}", ALICE)
    client.views_open(trigger_id="t-0", view=MODAL)
    client.views_push(trigger_id="t-1", view=MODAL)
    client.views_push(trigger_id="t-2", view=MODAL)
    with pytest.raises(SlackApiError, match="push_limit_reached"):
        client.views_push(trigger_id="t-3", view=MODAL)


def test_an_ephemeral_needs_the_bot_and_the_person_in_the_channel(fake: FakeSlack) -> None:
    client = client_of(fake)
    with pytest.raises(SlackApiError, match="'not_in_channel'"):
        client.chat_postEphemeral(channel=PUBLIC, user=ALICE, text="hi")
    fake.invite(PUBLIC)
    with pytest.raises(SlackApiError, match="user_not_in_channel"):
        client.chat_postEphemeral(channel=PUBLIC, user=ALICE, text="hi")
    fake.join(PUBLIC, ALICE)
    client.chat_postEphemeral(channel=PUBLIC, user=ALICE, text="hi")
    # in a DM: only its person
    client.chat_postEphemeral(channel=fake.dm_channel(ALICE), user=ALICE, text="just you")
    with pytest.raises(SlackApiError, match="user_not_in_channel"):
        client.chat_postEphemeral(channel=fake.dm_channel(ALICE), user=BOB, text="hi")


def test_the_membership_kindness_is_named(clock: FakeClock) -> None:
    fake = started(clock, Lenient(no_ephemeral_membership=True))
    try:
        client_of(fake).chat_postEphemeral(channel=PUBLIC, user=ALICE, text="hi")
    finally:
        fake.stop()


def test_inputs_keep_their_lengths_at_submission() -> None:
    element = {"type": "plain_text_input", "action_id": "a", "max_length": 10, "min_length": 3}
    view = {"blocks": [{"type": "input", "label": "Why", "element": element}]}
    assert view_state(view, {"Why": "abc"})
    with pytest.raises(GestureRefused, match="at most 10"):
        view_state(view, {"Why": "x" * 11})
    with pytest.raises(GestureRefused, match="at least 3"):
        view_state(view, {"Why": "xy"})
    forged = view_state(view, {"Why": "x" * 11}, enforce_lengths=False)
    assert forged["input-0"]["a"]["value"] == "x" * 11


def test_rate_tiers_answer_429_with_retry_after(fake: FakeSlack) -> None:
    fake.invite(PUBLIC)
    raw = WebClient(token="xoxb-test", base_url=fake.url, retry_handlers=[])
    for n in range(3):  # chat.postMessage: a short burst, then 1 a second per channel
        raw.chat_postMessage(channel=PUBLIC, text=f"{n}")
    with pytest.raises(SlackApiError) as err:
        raw.chat_postMessage(channel=PUBLIC, text="one too many")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "1"
    for _ in range(50):  # conversations.open: Tier 3, 50 a minute
        raw.conversations_open(users=ALICE)
    with pytest.raises(SlackApiError) as err:
        raw.conversations_open(users=ALICE)
    # the next of 50 a minute comes within 1.2 s: Retry-After rounds up to 1 or 2, by how
    # long the 50 calls took on this machine
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] in ("1", "2")
