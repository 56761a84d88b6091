"""The emulator's Slack rules, held against a bare Bolt app (not escbot).

Why a bare app: a rule that only escbot exercises could be bent to fit escbot. Here a
ten-line Bolt app posts, joins, reads history and listens for messages, the way any Slack
app does, and the emulator must answer it as Slack documents: membership, scopes, events.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.emulator import FakeSlack, SlackUser
from bot.slack.manifest import BOT_SCOPES
from bot.slack.server import Server

SECRET = "bare-secret"
PUBLIC, PRIVATE, ARCHIVED = "C0PUBLIC", "G0PRIVATE", "C0OLD"
ALICE = "U0ALICE"


class BareApp:
    """A minimal Bolt app on escbot's HTTP front: ``/hello`` joins the channel and says hello there;
    every message event it receives is queued."""

    def __init__(self, fake: FakeSlack) -> None:
        app = App(
            signing_secret=SECRET,
            token="xoxb-bare",
            client=WebClient(token="xoxb-bare", base_url=fake.url),
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.errors: queue.Queue[str] = queue.Queue()

        @app.command("/hello")
        def hello(ack: Any, command: dict[str, Any], client: WebClient) -> None:
            ack()
            try:
                client.conversations_join(channel=command["channel_id"])
                client.chat_postMessage(channel=command["channel_id"], text="hello")
            except SlackApiError as err:
                self.errors.put(str(err.response["error"]))

        @app.event("message")
        def message(event: dict[str, Any]) -> None:
            self.events.put(event)

        self.server = Server(SlackRequestHandler(app), "127.0.0.1", 0, threads=4)
        self.server.start()
        self.url = f"{self.server.url}/slack/events"

    def close(self) -> None:
        self.server.stop()


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        f.add_channel(PUBLIC, "general")
        f.add_channel(PRIVATE, "secret-room", is_private=True)
        f.add_channel(ARCHIVED, "old-news")
        f.archive(ARCHIVED)
        f.add_user(ALICE, "alice")
        yield f


@pytest.fixture
def bare(fake: FakeSlack) -> Iterator[BareApp]:
    app = BareApp(fake)
    yield app
    app.close()


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-bare", base_url=fake.url, timeout=5)


def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as err:
        call()
    return str(err.value.response["error"])


def test_scopes_default_to_the_manifest_and_are_reported(fake: FakeSlack, client: WebClient):
    resp = client.auth_test()
    assert set(resp.headers["x-oauth-scopes"].split(",")) == set(BOT_SCOPES)
    assert fake.scopes == set(BOT_SCOPES)

    fake.revoke("users:read")  # the manifest's for `escbot doctor` only
    with pytest.raises(SlackApiError) as err:
        client.users_info(user=ALICE)
    body = err.value.response
    assert (body["error"], body["needed"]) == ("missing_scope", "users:read")
    assert set(body["provided"].split(",")) == set(BOT_SCOPES) - {"users:read"}
    assert err.value.response.headers["x-accepted-oauth-scopes"] == "users:read"

    fake.grant("users:read")
    assert client.users_info(user=ALICE)["user"]["name"] == "alice"
    assert error_of(lambda: client.users_info(user="U0NOBODY")) == "user_not_found"

    fake.revoke("chat:write")
    assert error_of(lambda: client.chat_postMessage(channel=ALICE, text="hi")) == "missing_scope"
    fake.set_scopes(["chat:write"])
    assert client.chat_postMessage(channel=ALICE, text="hi")["ok"]
    assert fake.used_scopes >= {"users:read", "chat:write"}


def test_history_scope_follows_the_conversation_kind(fake: FakeSlack, client: WebClient):
    fake.invite(PRIVATE)
    fake.set_scopes(["channels:history", "channels:join"])
    client.conversations_join(channel=PUBLIC)
    assert client.conversations_history(channel=PUBLIC)["ok"]
    for channel, scope in ((PRIVATE, "groups:history"), (fake.dm_channel(ALICE), "im:history")):
        with pytest.raises(SlackApiError) as err:
            client.conversations_history(channel=channel)
        assert err.value.response["needed"] == scope


def test_membership_public_channels(fake: FakeSlack, client: WebClient):
    assert not fake.is_member(PUBLIC)
    # Not a member: reading and sharing are refused; posting needs chat:write.public.
    assert error_of(lambda: client.conversations_history(channel=PUBLIC)) == "not_in_channel"
    assert error_of(lambda: client.chat_postMessage(channel=PUBLIC, text="x")) == "not_in_channel"
    upload = lambda: client.files_upload_v2(channel=PUBLIC, content=b"png", filename="c.png")  # noqa: E731
    assert error_of(upload) == "not_in_channel"
    fake.grant("chat:write.public")
    assert client.chat_postMessage(channel=PUBLIC, text="posted without joining")["ok"]
    assert error_of(lambda: client.conversations_history(channel=PUBLIC)) == "not_in_channel"

    joined = client.conversations_join(channel=PUBLIC)
    assert joined["channel"]["is_member"] and "warning" not in joined
    assert client.conversations_join(channel=PUBLIC)["warning"] == "already_in_channel"
    assert fake.is_member(PUBLIC)
    assert [m["text"] for m in client.conversations_history(channel=PUBLIC)["messages"]] == [
        "posted without joining"
    ]
    assert upload()["files"]
    fake.grant("channels:read")
    assert client.conversations_info(channel=PUBLIC)["channel"]["is_member"] is True


def test_membership_private_archived_and_unknown_channels(fake: FakeSlack, client: WebClient):
    join = lambda c: client.conversations_join(channel=c)  # noqa: E731
    assert error_of(lambda: join(PRIVATE)) == "method_not_supported_for_channel_type"
    assert error_of(lambda: join(ARCHIVED)) == "is_archived"
    assert error_of(lambda: join("C0NOSUCH")) == "channel_not_found"
    fake.grant("chat:write.public", "groups:read")
    # A private channel the bot is not in is invisible to it.
    post = lambda: client.chat_postMessage(channel=PRIVATE, text="x")  # noqa: E731
    assert error_of(post) == "channel_not_found"
    assert error_of(lambda: client.conversations_history(channel=PRIVATE)) == "channel_not_found"
    assert error_of(lambda: client.conversations_info(channel=PRIVATE)) == "channel_not_found"

    fake.invite(PRIVATE)  # a person's /invite @escbot
    assert post()["ok"]
    assert client.conversations_history(channel=PRIVATE)["messages"][0]["text"] == "x"
    assert client.conversations_info(channel=PRIVATE)["channel"]["is_member"] is True
    fake.invite(ARCHIVED)
    assert error_of(lambda: client.chat_postMessage(channel=ARCHIVED, text="x")) == "is_archived"


def test_message_events_only_from_member_channels_and_dms(fake: FakeSlack, bare: BareApp):
    alice = SlackUser(bare.url, SECRET, user_id=ALICE, fake=fake)
    assert alice.message(PUBLIC, "nobody hears this") is None
    assert alice.message(PRIVATE, "nor this") is None
    assert bare.events.empty()

    # /hello: the app joins and posts there; now the channel's messages reach it.
    mark = fake.mark()
    assert alice.command("/hello", channel_id=PUBLIC).status_code == 200
    fake.wait_for("chat.postMessage", since=mark)
    [hello] = fake.messages(PUBLIC)[-1:]
    resp = alice.message_in_thread(PUBLIC, hello.ts, "hi back")
    assert resp is not None and resp.status_code == 200
    event = bare.events.get(timeout=5)
    assert (event["channel_type"], event["thread_ts"]) == ("channel", hello.ts)

    # A private channel: /hello can't join it (a person must invite the app)…
    assert alice.command("/hello", channel_id=PRIVATE).status_code == 200
    assert bare.errors.get(timeout=5) == "method_not_supported_for_channel_type"
    fake.invite(PRIVATE)
    assert alice.message(PRIVATE, "now you hear me") is not None
    assert bare.events.get(timeout=5)["channel_type"] == "group"

    # A DM to the app arrives as message.im…
    assert alice.dm("a question for you") is not None
    assert bare.events.get(timeout=5)["channel_type"] == "im"
    # …unless the app does not subscribe to message.im (or lacks im:history).
    fake.revoke("im:history")
    assert alice.dm("unheard") is None
    fake.kick(PUBLIC)
    assert alice.message(PUBLIC, "gone") is None
    assert bare.events.empty()


def test_unfurl_flags_where_slack_ignores_them_are_recorded(fake: FakeSlack, client: WebClient):
    fake.invite(PUBLIC)
    fake.join(PUBLIC, ALICE)
    posted = client.chat_postMessage(channel=PUBLIC, text="x", unfurl_links=False)
    assert fake.misplaced_unfurls() == []
    client.chat_update(channel=PUBLIC, ts=posted["ts"], text="y", unfurl_links=False)
    client.chat_postEphemeral(channel=PUBLIC, user=ALICE, text="z", unfurl_media=False)
    assert [c.method for c in fake.misplaced_unfurls()] == ["chat.update", "chat.postEphemeral"]
