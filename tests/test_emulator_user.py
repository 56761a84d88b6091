"""The emulated user's parts (user/): signing and sending, shared payload parts, and the
payload builders, against a loopback server that records what it got."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.core.clock import FakeClock
from bot.sandbox.emulator import FakeSlack, HttpResponse, SlackUser
from bot.sandbox.emulator.user.member import Member
from bot.sandbox.emulator.user.transport import FORM, Transport

SECRET = "s3cret"


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.got: list[tuple[dict[str, str], str]] = []
        self.answer: bytes = b""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/slack/events"

    def payload(self, i: int = -1) -> dict[str, Any]:
        return json.loads(dict(parse_qsl(self.got[i][1]))["payload"])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.server.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.answer)))
        self.end_headers()
        self.wfile.write(self.server.answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def app() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        f.add_channel("C0INTAKE", "intake")
        f.invite("C0INTAKE")
        yield f


def valid(headers: dict[str, str], body: str, secret: str = SECRET) -> bool:
    return SignatureVerifier(secret).is_valid(
        body, headers["x-slack-request-timestamp"], headers["x-slack-signature"]
    )


def test_requests_are_signed_as_slack_signs_them_and_can_be_tampered_with(app: Recorder) -> None:
    transport = Transport(app.url, SECRET, kind="http", fake=None, timeout=5)
    transport.send("a=1", FORM)
    transport.send("a=2", FORM, bad_signature=True)
    transport.send("a=3", FORM, stale=True, retry_num=2)
    (h1, b1), (h2, b2), (h3, b3) = app.got
    assert (b1, b2, b3) == ("a=1", "a=2", "a=3")
    assert valid(h1, b1) and h1["content-type"] == FORM
    assert not valid(h2, b2) and valid(h2, b2, SECRET + "-wrong")
    assert int(h1["x-slack-request-timestamp"]) - int(h3["x-slack-request-timestamp"]) >= 599
    assert (h3["x-slack-retry-num"], h3["x-slack-retry-reason"]) == ("2", "http_timeout")
    assert "x-slack-retry-num" not in h1


def test_replay_sends_the_last_body_again_freshly_signed(app: Recorder) -> None:
    user = SlackUser(app.url, SECRET, user_id="U0ALICE")
    with pytest.raises(RuntimeError, match="nothing sent yet"):
        user.replay()
    user.send("x=1", FORM)
    assert user.last_sent == ("x=1", FORM)
    user.replay(retry_num=1, retry_reason="timeout")
    assert app.got[1][1] == "x=1" and valid(*app.got[1])
    assert app.got[1][0]["x-slack-retry-reason"] == "timeout"


def test_every_request_goes_through_send_so_a_subclass_sees_it(app: Recorder) -> None:
    """bench's TimedUser overrides send() to time requests: builders and replay use it."""

    class Counting(SlackUser):
        sent = 0

        def send(self, body: str, content_type: str, **opts: Any) -> HttpResponse:
            self.sent += 1
            return super().send(body, content_type, **opts)

    user = Counting(app.url, SECRET, user_id="U0ALICE")
    user.command("/escalate")
    user.global_shortcut("escalate")
    user.event({"type": "app_home_opened", "user": "U0ALICE"})
    user.replay()
    assert user.sent == 4 == len(app.got)


def test_socket_transport_needs_a_fake_and_signs_nothing() -> None:
    with pytest.raises(ValueError, match="needs the fake"):
        Transport("", "", kind="socket", fake=None, timeout=1)
    with FakeSlack() as fake:
        transport = Transport("", "", kind="socket", fake=fake, timeout=1)
        with pytest.raises(ValueError, match="not signed"):
            transport.send("a=1", FORM, stale=True)


def test_gesture_times_are_unique_while_the_clock_stands_still() -> None:
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    send = Transport("http://x/", SECRET, kind="http", fake=None, timeout=1).send
    a = Member(send, user_id="U1", user_name="a", team_id="T1", fake=None, clock=clock)
    b = Member(send, user_id="U2", user_name="b", team_id="T1", fake=None, clock=clock)
    stamps = [a.ts(), b.ts(), a.ts()]
    assert len(set(stamps)) == 3 and stamps == sorted(stamps)
    assert stamps[0].startswith(str(int(clock.now().timestamp())))


def test_a_command_carries_the_fakes_urls_and_its_ack_is_shown(
    app: Recorder, fake: FakeSlack
) -> None:
    app.answer = json.dumps({"text": "Only you see this"}).encode()
    user = SlackUser(app.url, SECRET, user_id="U0ALICE", fake=fake)
    user.command("/escalate", "hello")
    fields = dict(parse_qsl(app.got[0][1]))
    assert (fields["command"], fields["text"], fields["channel_name"]) == (
        "/escalate",
        "hello",
        "intake",
    )
    assert fields["response_url"].startswith(fake.base + "/response/")
    assert fake.response_user(fields["response_url"].rsplit("/", 1)[1]) == "U0ALICE"
    assert [m.text for m in fake.ephemerals("U0ALICE")] == ["Only you see this"]


def test_clicks_find_buttons_by_text_and_fall_back_to_the_overflow_menu(
    app: Recorder, fake: FakeSlack
) -> None:
    user = SlackUser(app.url, SECRET, user_id="U0ALICE", fake=fake)
    button = {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"}}
    overflow = {
        "type": "overflow",
        "action_id": "more",
        "options": [{"text": {"type": "plain_text", "text": "Reassign"}, "value": "re"}],
    }
    actions = [{"type": "actions", "block_id": "b", "elements": [button, overflow]}]
    msg = fake.add_message("C0INTAKE", "card", user=fake.bot_user_id, blocks=actions)
    user.click(msg, "acknowledge")  # a person doesn't mind the case
    user.click(msg, "Reassign")
    clicked, chosen = app.payload(0), app.payload(1)
    assert clicked["actions"][0]["text"]["text"] == "Acknowledge"
    assert clicked["container"] == {
        "type": "message",
        "message_ts": msg.ts,
        "channel_id": "C0INTAKE",
        "is_ephemeral": False,
    }
    assert chosen["actions"][0]["selected_option"]["value"] == "re"
    with pytest.raises(LookupError, match="available"):
        user.click(msg, "Resolve")


def test_an_exact_label_wins_over_a_longer_one_whatever_the_case(
    app: Recorder, fake: FakeSlack
) -> None:
    user = SlackUser(app.url, SECRET, user_id="U0ALICE", fake=fake)
    labels = ("Ack", "Ack all")
    buttons = [{"type": "button", "text": {"type": "plain_text", "text": t}} for t in labels]
    blocks = [{"type": "actions", "block_id": "b", "elements": buttons}]
    msg = fake.add_message("C0INTAKE", "card", user=fake.bot_user_id, blocks=blocks)
    user.click(msg, "ack")
    assert app.payload()["actions"][0]["text"]["text"] == "Ack"
    with pytest.raises(LookupError):
        user.click(msg, "ac")  # in both: a person couldn't tell which


def test_a_message_the_app_cannot_hear_is_recorded_but_not_delivered(
    app: Recorder, fake: FakeSlack
) -> None:
    fake.add_channel("C0QUIET", "quiet")
    user = SlackUser(app.url, SECRET, user_id="U0ALICE", fake=fake)
    assert user.message("C0QUIET", "anyone?") is None
    assert [m.text for m in fake.messages("C0QUIET")] == ["anyone?"]
    assert app.got == []
    user.dm("hello bot")
    event = json.loads(app.got[0][1])["event"]
    assert (event["channel"], event["channel_type"], event["text"]) == (
        "D0ALICE",
        "im",
        "hello bot",
    )
