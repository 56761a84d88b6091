"""The Slack emulator itself, driven by the real slack_sdk client and a real Bolt app over HTTP."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.core.clock import FakeClock
from bot.sandbox.emulator import FakeSlack, SlackUser, view_state
from bot.slack.server import Server

SECRET = "secret"
INTAKE = "C0INTAKE"
ALICE = "U0ALICE"


def workspace(fake: FakeSlack) -> FakeSlack:
    """The channels these tests use, public, with the bot in them."""
    for cid, name in ((INTAKE, "intake"), ("C0OTHER", "other")):
        fake.add_channel(cid, name)
        fake.invite(cid)
    return fake


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield workspace(f)


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake.url, timeout=5)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# ---------------------------------------------------------------------- Web API


def test_post_update_thread_and_permalink(fake: FakeSlack, client: WebClient) -> None:
    card = client.chat_postMessage(
        channel=INTAKE, text="ESC-1", blocks=[section("*ESC-1*")], unfurl_links=False
    )
    assert card["channel"] == INTAKE and card["message"]["blocks"][0]["block_id"]
    reply = client.chat_postMessage(channel=INTAKE, text="assigned", thread_ts=card["ts"])
    nested = client.chat_postMessage(channel=INTAKE, text="acked", thread_ts=reply["ts"])
    assert card["ts"] < reply["ts"] < nested["ts"]
    client.chat_update(channel=INTAKE, ts=card["ts"], text="ESC-1 (acked)")

    [msg] = fake.messages(INTAKE)
    assert msg.text == "ESC-1 (acked)" and msg.blocks and msg.unfurl_links is False
    assert msg.reply_count == 2
    assert [m.text for m in fake.thread(INTAKE, card["ts"])] == ["assigned", "acked"]
    replies = client.conversations_replies(channel=INTAKE, ts=card["ts"])["messages"]
    assert [m["text"] for m in replies] == ["ESC-1 (acked)", "assigned", "acked"]
    link = client.chat_getPermalink(channel=INTAKE, message_ts=card["ts"])["permalink"]
    assert link == f"https://fake.slack.com/archives/{INTAKE}/p{card['ts'].replace('.', '')}"

    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel=INTAKE, ts="1.000000", text="x")
    assert err.value.response["error"] == "message_not_found"
    call = fake.calls_to("chat.postMessage")[0]
    assert call.args["blocks"] == [section("*ESC-1*")] and call.args["unfurl_links"] is False


def test_clock_drives_ts(fake: FakeSlack) -> None:
    clocked = FakeSlack(clock=FakeClock(datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC))).start()
    workspace(clocked)
    try:
        c = WebClient(token="xoxb-test", base_url=clocked.url)
        first = c.chat_postMessage(channel=INTAKE, text="a")["ts"]
        second = c.chat_postMessage(channel=INTAKE, text="b")["ts"]
        assert (first, second) == ("1700000000.000000", "1700000000.000001")
    finally:
        clocked.stop()


def test_dm_users_and_conversations(fake: FakeSlack, client: WebClient) -> None:
    fake.add_user(ALICE, "alice", tz="Europe/Dublin")
    dm = client.conversations_open(users=ALICE)["channel"]["id"]
    assert dm.startswith("D") and dm == client.conversations_open(users=[ALICE])["channel"]["id"]
    sent = client.chat_postMessage(channel=ALICE, text="ESC-7 is yours")
    assert sent["channel"] == dm
    assert [m.text for m in fake.dms(ALICE)] == ["ESC-7 is yours"]
    fake.grant("im:read", "users:read")  # conversations.info on a DM, users.info
    assert client.conversations_info(channel=dm)["channel"]["is_im"]

    user = client.users_info(user=ALICE)["user"]
    assert (user["name"], user["tz"]) == ("alice", "Europe/Dublin")
    with pytest.raises(SlackApiError, match="user_not_found"):
        client.users_info(user="U0NOBODY")

    fake.join(INTAKE, ALICE)  # an ephemeral needs its person in the channel
    client.chat_postEphemeral(channel=INTAKE, user=ALICE, text="only you")
    assert [m.text for m in fake.ephemerals(ALICE)] == ["only you"]
    history = client.conversations_history(channel=dm)["messages"]
    assert [m["text"] for m in history] == ["ESC-7 is yours"]


def test_views_open_push_update_publish(fake: FakeSlack, client: WebClient) -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Escalate"}, "blocks": []}
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        client.views_open(trigger_id="", view=modal)
    fake.register_trigger("t-1", ALICE)
    opened = client.views_open(trigger_id="t-1", view=modal | {"callback_id": "esc"})["view"]
    assert opened["id"].startswith("V") and opened["hash"]
    assert fake.last_view(ALICE)["callback_id"] == "esc"

    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)

    home = {"type": "home", "blocks": [section("My queue")]}
    client.views_publish(user_id=ALICE, view=home)
    assert fake.home_view(ALICE)["blocks"][0]["text"]["text"] == "My queue"

    fake.register_trigger("t-2", ALICE)
    client.views_push(trigger_id="t-2", view=modal)
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        client.views_open(trigger_id="t-2", view=modal)


def test_files_upload_v2(fake: FakeSlack, client: WebClient) -> None:
    card = client.chat_postMessage(channel=INTAKE, text="digest")
    result = client.files_upload_v2(
        channel=INTAKE,
        content=b"\x89PNG fake",
        filename="chart.png",
        title="Backlog",
        alt_txt="backlog chart",
        initial_comment="this week",
        thread_ts=card["ts"],
    )
    [f] = fake.files
    assert result["file"]["id"] == f.id
    assert (f.content, f.alt_txt, f.title, f.channel) == (
        b"\x89PNG fake",
        "backlog chart",
        "Backlog",
        INTAKE,
    )
    assert [c.method for c in fake.calls[-3:]] == [
        "files.getUploadURLExternal",
        "file_upload",
        "files.completeUploadExternal",
    ]
    [shared] = fake.thread(INTAKE, card["ts"])
    assert shared.files[0]["id"] == f.id and shared.text == "this week"


def test_block_kit_limits(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=INTAKE, text="x", blocks=[section("b")] * 51)
    assert err.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError, match="msg_too_long"):
        client.chat_postMessage(channel=INTAKE, text="x" * 40_001)
    big = {"type": "modal", "title": {"type": "plain_text", "text": "t"}}
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.views_open(trigger_id="t", view=big | {"blocks": [section("b")] * 101})
    client.views_open(trigger_id="t", view=big | {"blocks": [section("b")] * 100})
    button = {"type": "button", "text": {"type": "plain_text", "text": "x" * 76}}
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(
            channel=INTAKE, text="x", blocks=[{"type": "actions", "elements": [button]}]
        )
    assert fake.messages(INTAKE) == []


# ---------------------------------------------------------------------- faults


def test_429_surfaces_with_retry_after_and_retry_handler_recovers(fake: FakeSlack) -> None:
    plain = WebClient(token="xoxb-test", base_url=fake.url)
    fake.fail("chat.postMessage")
    with pytest.raises(SlackApiError) as err:
        plain.chat_postMessage(channel=INTAKE, text="x")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "1"
    assert err.value.response["error"] == "ratelimited"

    retrying = WebClient(
        token="xoxb-test", base_url=fake.url, retry_handlers=[RateLimitErrorRetryHandler()]
    )
    fake.fail("chat.postMessage", retry_after=0)  # 0 keeps the handler's sleep under 1 s
    assert retrying.chat_postMessage(channel=INTAKE, text="delivered")["ok"]
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 429, 200]
    assert [m.text for m in fake.messages(INTAKE)] == ["delivered"]


def test_outage_errors_and_auth(fake: FakeSlack, client: WebClient) -> None:
    fake.outage(True)
    with pytest.raises(SlackApiError) as err:
        client.auth_test()
    assert err.value.response.status_code == 503
    fake.outage(False)
    assert client.auth_test()["user_id"] == fake.bot_user_id

    fake.fail("chat.postMessage", status=503, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel=INTAKE, text="x")
    client.chat_postMessage(channel=INTAKE, text="x")

    fake.fail("chat.postMessage", error="channel_not_found", times=None)
    for _ in range(3):
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel=INTAKE, text="x")
        assert err.value.response.status_code == 200
    fake.clear_faults()
    client.chat_postMessage(channel=INTAKE, text="x")

    with pytest.raises(SlackApiError, match="not_authed"):
        WebClient(base_url=fake.url).auth_test()
    with pytest.raises(SlackApiError, match="unknown_method"):
        client.api_call("tickets.create")


def test_fail_ratio_is_seeded(fake: FakeSlack, client: WebClient) -> None:
    def run() -> list[int]:
        fake.reset()
        fake.fail_ratio(0.5, seed=7)
        for _ in range(20):
            with contextlib.suppress(SlackApiError):
                client.auth_test()
        return [c.status for c in fake.calls]

    statuses = run()
    assert statuses == run()
    assert {429, 500, 200} <= set(statuses)


def test_channel_rate_limit(fake: FakeSlack, client: WebClient) -> None:
    fake.enforce_channel_rate(per_second=1.0, burst=2)
    client.chat_postMessage(channel=INTAKE, text="1")
    client.chat_postMessage(channel=INTAKE, text="2")
    client.chat_postMessage(channel="C0OTHER", text="other channel has its own bucket")
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=INTAKE, text="3")
    assert err.value.response.status_code == 429
    assert int(err.value.response.headers["Retry-After"]) >= 1


def test_wait_for_and_response_url(fake: FakeSlack, client: WebClient) -> None:
    mark = fake.mark()
    threading.Timer(0.05, lambda: client.chat_postMessage(channel=INTAKE, text="later")).start()
    call = fake.wait_for("chat.postMessage", since=mark, timeout=5)
    assert call.args["text"] == "later"
    with pytest.raises(TimeoutError):
        fake.wait_for("chat.delete", timeout=0.05)

    url = fake.new_response_url(ALICE, INTAKE)
    assert WebhookClient(url).send(text="Escalation received").status_code == 200
    assert fake.wait_for("response_url").args["text"] == "Escalation received"
    assert [m.text for m in fake.ephemerals(ALICE)] == ["Escalation received"]


# ---------------------------------------------------------------------- SlackUser against Bolt

MODAL_INPUTS: list[dict[str, Any]] = [
    {
        "type": "input",
        "block_id": "summary",
        "label": {"type": "plain_text", "text": "Summary"},
        "element": {"type": "plain_text_input", "action_id": "v"},
    },
    {
        "type": "input",
        "block_id": "policy",
        "label": {"type": "plain_text", "text": "Policy area"},
        "element": {
            "type": "static_select",
            "action_id": "v",
            "options": [
                {"text": {"type": "plain_text", "text": "Hateful activities"}, "value": "hate"},
                {"text": {"type": "plain_text", "text": "Graphic violence"}, "value": "gv"},
            ],
        },
    },
    {
        "type": "input",
        "block_id": "severity",
        "label": {"type": "plain_text", "text": "Severity"},
        "element": {
            "type": "radio_buttons",
            "action_id": "v",
            "options": [
                {"text": {"type": "plain_text", "text": s}, "value": s} for s in ("sev1", "sev2")
            ],
            "initial_option": {"text": {"type": "plain_text", "text": "sev2"}, "value": "sev2"},
        },
    },
    {
        "type": "input",
        "block_id": "owner",
        "optional": True,
        "label": {"type": "plain_text", "text": "Owner"},
        "element": {"type": "users_select", "action_id": "v"},
    },
    {
        "type": "input",
        "block_id": "deadline",
        "optional": True,
        "label": {"type": "plain_text", "text": "Deadline"},
        "element": {"type": "datepicker", "action_id": "v"},
    },
    {
        "type": "input",
        "block_id": "flags",
        "optional": True,
        "label": {"type": "plain_text", "text": "Flags"},
        "element": {
            "type": "checkboxes",
            "action_id": "v",
            "options": [{"text": {"type": "plain_text", "text": "Sensitive"}, "value": "sens"}],
        },
    },
]
MODAL = {
    "type": "modal",
    "callback_id": "escalate",
    "private_metadata": "from-test",
    "title": {"type": "plain_text", "text": "Escalate"},
    "submit": {"type": "plain_text", "text": "Submit"},
    "blocks": MODAL_INPUTS,
}

DONE = {
    "type": "modal",
    "title": {"type": "plain_text", "text": "Escalated"},
    "blocks": [section("Thanks")],
}


class Stack:
    """A real Bolt app on escbot's HTTP front, talking to the fake; listeners report to queues."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.submitted: queue.Queue[dict[str, Any]] = queue.Queue()
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.selected: queue.Queue[dict[str, Any]] = queue.Queue()
        app = App(
            token="xoxb-test",
            signing_secret=SECRET,
            client=WebClient(token="xoxb-test", base_url=fake.url),
            process_before_response=False,
        )

        @app.command("/escalate")
        def escalate(ack: Any, body: dict[str, Any], client: WebClient) -> None:
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=MODAL)

        @app.view("escalate")
        def submit(ack: Any, view: dict[str, Any]) -> None:
            values = view["state"]["values"]
            if values["summary"]["v"]["value"] == "?":
                ack(response_action="errors", errors={"summary": "Say what happened"})
                return
            if values["summary"]["v"]["value"] == "next":
                ack(response_action="update", view=DONE)
                return
            ack()
            self.submitted.put(view)

        @app.action("ack")
        def on_ack(ack: Any, body: dict[str, Any], client: WebClient, respond: Any) -> None:
            ack()
            client.chat_update(
                channel=body["channel"]["id"],
                ts=body["message"]["ts"],
                text=f"acked by <@{body['user']['id']}>",
                blocks=[],
            )
            respond(text="You acknowledged ESC-1", replace_original=False)

        @app.event("app_home_opened")
        def home(event: dict[str, Any], client: WebClient) -> None:
            client.views_publish(
                user_id=event["user"], view={"type": "home", "blocks": [section("Queue")]}
            )

        @app.shortcut("escalate_message")
        def shortcut(ack: Any, body: dict[str, Any], client: WebClient) -> None:
            ack()
            channel, ts = body["channel"]["id"], body["message"]["ts"]
            link = client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
            client.views_open(
                trigger_id=body["trigger_id"], view=MODAL | {"private_metadata": link}
            )

        @app.action("reassign")
        def reassign(ack: Any, action: dict[str, Any]) -> None:
            ack()
            self.selected.put(action)

        @app.event("message")
        def message(event: dict[str, Any]) -> None:
            self.messages.put(event)

        self.server = Server(SlackRequestHandler(app), "127.0.0.1", 0, threads=4)
        self.server.start()
        self.url = f"{self.server.url}/slack/events"

    def close(self) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with FakeSlack() as fake:
        s = Stack(workspace(fake))
        yield s
        s.close()


@pytest.fixture
def alice(stack: Stack) -> Iterator[SlackUser]:
    stack.fake.reset()
    with SlackUser(stack.url, SECRET, user_id=ALICE, user_name="alice", fake=stack.fake) as user:
        yield user


def test_signatures_are_checked(stack: Stack, alice: SlackUser) -> None:
    assert alice.command("/escalate", bad_signature=True).status_code == 401
    assert alice.command("/escalate", stale=True).status_code == 401
    assert stack.fake.calls_to("views.open") == []
    assert alice.command("/escalate").status_code == 200
    stack.fake.wait_for("views.open")
    assert alice.url_verification("abc").json() == {"challenge": "abc"}


def test_submit_view_by_label(stack: Stack, alice: SlackUser) -> None:
    alice.command("/escalate", text="hate speech")
    stack.fake.wait_for("views.open")
    view = stack.fake.last_view(ALICE)
    assert view is not None and view["callback_id"] == "escalate"

    resp = alice.submit_view(
        view,
        {
            "Summary": "Slur in a post",
            "Policy area": "Graphic violence",
            "owner": "U0BOB",  # labels match case-insensitively
            "Deadline": date(2024, 5, 1),
            "Flags": ["Sensitive"],
        },
    )
    assert resp.status_code == 200
    got = stack.submitted.get(timeout=5)
    values = got["state"]["values"]
    assert values["summary"]["v"] == {"type": "plain_text_input", "value": "Slur in a post"}
    assert values["policy"]["v"]["selected_option"]["value"] == "gv"
    assert values["severity"]["v"]["selected_option"]["value"] == "sev2"  # initial option kept
    assert values["owner"]["v"]["selected_user"] == "U0BOB"
    assert values["deadline"]["v"]["selected_date"] == "2024-05-01"
    assert [o["value"] for o in values["flags"]["v"]["selected_options"]] == ["sens"]
    assert (got["id"], got["private_metadata"]) == (view["id"], "from-test")

    errors = alice.submit_view(view, {"Summary": "?", "Policy area": "hate"}).json()
    assert errors == {"response_action": "errors", "errors": {"summary": "Say what happened"}}
    with pytest.raises(LookupError, match="Reporter"):
        alice.submit_view(view, {"Reporter": "x"})
    with pytest.raises(ValueError, match="Policy area"):
        alice.submit_view(view, {"Summary": "no policy"})


def test_click_button_by_text(stack: Stack, alice: SlackUser) -> None:
    client = WebClient(token="xoxb-test", base_url=stack.fake.url)
    buttons = {
        "type": "actions",
        "elements": [
            {"type": "button", "action_id": "ack", "text": {"type": "plain_text", "text": "Ack"}},
            {"type": "button", "action_id": "take", "text": {"type": "plain_text", "text": "Take"}},
        ],
    }
    client.chat_postMessage(channel=INTAKE, text="ESC-1", blocks=[section("ESC-1"), buttons])
    [card] = stack.fake.messages(INTAKE)
    with pytest.raises(LookupError, match="Take"):
        alice.click(card, "Resolve")
    assert alice.click(card, "ack").status_code == 200

    stack.fake.wait_for("chat.update")
    assert stack.fake.messages(INTAKE)[0].text == f"acked by <@{ALICE}>"
    stack.fake.wait_for("response_url")
    assert [m.text for m in stack.fake.ephemerals(ALICE)] == ["You acknowledged ESC-1"]


def test_events(stack: Stack, alice: SlackUser) -> None:
    assert alice.app_home_opened().status_code == 200
    stack.fake.wait_for("views.publish")
    assert stack.fake.home_view(ALICE)["blocks"][0]["text"]["text"] == "Queue"
    assert alice.replay(retry_num=1, retry_reason="http_timeout").status_code == 200

    card = stack.fake.add_message(INTAKE, "ESC-2", user=stack.fake.bot_user_id)
    assert alice.message_in_thread(INTAKE, card.ts, "more context").status_code == 200
    event = stack.messages.get(timeout=5)
    assert (event["thread_ts"], event["user"], event["text"]) == (card.ts, ALICE, "more context")
    assert [m.ts for m in stack.fake.thread(INTAKE, card.ts)] == [event["ts"]]


def test_shortcut_select_and_response_action(stack: Stack, alice: SlackUser) -> None:
    post = stack.fake.add_message(INTAKE, "a hateful post", user="U0BOB")
    assert alice.message_shortcut("escalate_message", post, INTAKE).status_code == 200
    stack.fake.wait_for("views.open")
    view = stack.fake.last_view(ALICE)
    assert view is not None and view["private_metadata"].endswith(post.ts.replace(".", ""))

    alice.submit_view(view, {"Summary": "next", "Policy area": "hate"})
    after = stack.fake.last_view(ALICE)
    assert after is not None and after["id"] == view["id"]
    assert after["blocks"][0]["text"]["text"] == "Thanks"

    picker = {
        "type": "static_select",
        "action_id": "reassign",
        "placeholder": {"type": "plain_text", "text": "Reassign to…"},
        "options": [{"text": {"type": "plain_text", "text": "Bob"}, "value": "U0BOB"}],
    }
    client = WebClient(token="xoxb-test", base_url=stack.fake.url)
    client.chat_postMessage(
        channel=INTAKE, text="ESC-3", blocks=[section("ESC-3") | {"accessory": picker}]
    )
    card = stack.fake.messages(INTAKE)[-1]
    assert alice.select(card, "Reassign to…", "Bob").status_code == 200
    assert stack.selected.get(timeout=5)["selected_option"]["value"] == "U0BOB"


def test_view_state_defaults_and_types() -> None:
    def block(label: str, element: dict[str, Any], optional: bool = True) -> dict[str, Any]:
        text = {"type": "plain_text", "text": label}
        return {
            "type": "input",
            "block_id": label,
            "optional": optional,
            "label": text,
            "element": element,
        }

    view = {
        "blocks": [
            block("Items", {"type": "number_input", "action_id": "n", "initial_value": "1"}),
            block("Watchers", {"type": "multi_users_select", "action_id": "w"}),
            block("At", {"type": "timepicker", "action_id": "t"}),
            block("When", {"type": "datetimepicker", "action_id": "d"}),
            block("Notes", {"type": "plain_text_input", "action_id": "p"}),
        ]
    }
    when = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    state = view_state(view, {"Watchers": ["U1", "U2"], "At": "09:30", "When": when})
    assert state["Items"]["n"] == {"type": "number_input", "value": "1"}
    assert state["Watchers"]["w"]["selected_users"] == ["U1", "U2"]
    assert state["At"]["t"]["selected_time"] == "09:30"
    assert state["When"]["d"]["selected_date_time"] == int(when.timestamp())
    assert state["Notes"]["p"] == {"type": "plain_text_input", "value": None}


def test_latency(fake: FakeSlack, client: WebClient) -> None:
    fake.latency = 0.2
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.2
