"""The prompt listener runner (bot/slack/internals.py): Slack gets the listener's ack as
soon as it is made, work after it goes on, and an error after the ack cannot take the
answer back (Bolt's own runner could reset it and answer 404 three seconds later)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from slack_bolt import Ack, App
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request import BoltRequest

from bot.slack import internals
from bot.slack.router import Router


def app() -> App:
    bolt = App(
        signing_secret="unused",
        authorize=lambda enterprise_id, team_id: AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-x", bot_id="B1"
        ),
        request_verification_enabled=False,
        token_verification_enabled=False,
        listener_executor=ThreadPoolExecutor(4),
    )
    internals.install_runner(bolt)
    return bolt


def submission(callback_id: str) -> BoltRequest:
    payload = {
        "type": "view_submission",
        "team": {"id": "T1"},
        "user": {"id": "U1", "team_id": "T1"},
        "view": {"id": "V1", "type": "modal", "callback_id": callback_id, "state": {"values": {}}},
    }
    body = urlencode({"payload": json.dumps(payload)})
    return BoltRequest(body=body, headers={"content-type": "application/x-www-form-urlencoded"})


def test_the_ack_is_answered_while_the_listener_goes_on() -> None:
    bolt = app()
    release, finished = threading.Event(), threading.Event()

    @bolt.view("slow_after_ack")
    def slow(ack: Ack) -> None:
        ack(response_action="errors", errors={"summary": "fix this"})
        release.wait(30)  # the answer must not wait for this
        finished.set()

    resp = bolt.dispatch(submission("slow_after_ack"))
    assert resp.status == 200
    assert json.loads(resp.body) == {"response_action": "errors", "errors": {"summary": "fix this"}}
    assert not finished.is_set()
    release.set()
    assert finished.wait(30)


def test_an_error_after_the_ack_keeps_the_ack_and_one_before_it_is_a_500() -> None:
    bolt = app()
    seen: list[Any] = []
    bolt.error(lambda error: seen.append(error))

    @bolt.view("fails_after_ack")
    def after(ack: Ack) -> None:
        ack()
        raise RuntimeError("after")

    @bolt.view("fails_before_ack")
    def before(ack: Ack) -> None:
        raise RuntimeError("before")

    assert bolt.dispatch(submission("fails_after_ack")).status == 200
    assert bolt.dispatch(submission("fails_before_ack")).status == 500


def test_escbot_runs_its_listeners_on_the_prompt_runner(escbot) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(escbot.app.listener_runner, internals.PromptListenerRunner)


def test_the_router_runs_after_ack_work_most_urgent_first_and_survives_a_failure() -> None:
    """bot/slack/router.py: what waits behind a running step goes by rank, then arrival."""
    routing = Router()
    running, release = threading.Event(), threading.Event()
    done: list[str] = []

    def first() -> None:
        running.set()
        release.wait(5)
        done.append("first")

    def failing() -> None:
        raise RuntimeError("a step that fails stays for the scheduler")

    routing.submit(3, first)
    assert running.wait(5)
    for rank, name in [(3, "sev3 a"), (1, "sev1"), (3, "sev3 b"), (0, "sev0")]:
        routing.submit(rank, lambda name=name: done.append(name))  # type: ignore[misc]
    routing.submit(0, failing)
    release.set()
    routing.stop()
    assert done == ["first", "sev0", "sev1", "sev3 a", "sev3 b"]
