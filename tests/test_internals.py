"""The library internals escbot uses (bot/slack/internals.py), each still as we use it.

A new slack-bolt or waitress may change any of them without notice: each test names the
internal in its failure, so whoever moves the upper bound in pyproject.toml knows what to
fix. The behaviour on top of them is tested elsewhere (tests/test_runner.py, the suite).
"""

from __future__ import annotations

import inspect
import logging
import socket
import threading

from slack_bolt import App, BoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.listener.listener import Listener
from slack_bolt.listener.thread_runner import ThreadListenerRunner
from slack_bolt.request import BoltRequest
from waitress.server import create_server

from bot.slack import internals


def bolt_app() -> App:
    return App(
        signing_secret="s",
        authorize=lambda **_: AuthorizeResult(enterprise_id=None, team_id="T1", bot_token="xoxb-1"),
        token_verification_enabled=False,
    )


def parameters(fn: object) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p != "self"]  # type: ignore[arg-type]


def test_bolt_App__listener_runner_holds_the_runner_it_calls() -> None:
    app = bolt_app()
    assert isinstance(getattr(app, "_listener_runner", None), ThreadListenerRunner), (
        "slack-bolt changed App._listener_runner (internals.install_runner replaces it)"
    )
    internals.install_runner(app)
    assert isinstance(app.listener_runner, internals.PromptListenerRunner), (
        "slack-bolt's App.listener_runner no longer returns App._listener_runner"
    )


def test_bolt_ThreadListenerRunner_run_takes_what_we_override() -> None:
    expected = ["request", "response", "listener_name", "listener", "starting_time"]
    assert parameters(ThreadListenerRunner.run) == expected, (
        "slack-bolt changed ThreadListenerRunner.run's parameters "
        f"(PromptListenerRunner.run overrides it): {parameters(ThreadListenerRunner.run)}"
    )


def test_bolt_ThreadListenerRunner_init_takes_what_we_copy() -> None:
    expected = {
        "logger",
        "process_before_response",
        "listener_error_handler",
        "listener_start_handler",
        "listener_completion_handler",
        "listener_executor",
        "lazy_listener_runner",
    }
    found = set(parameters(ThreadListenerRunner.__init__))
    assert found == expected, (
        f"slack-bolt changed ThreadListenerRunner.__init__ (internals.install_runner copies "
        f"its arguments): now {sorted(found)}"
    )
    runner = bolt_app().listener_runner
    missing = [name for name in expected if not hasattr(runner, name)]
    assert not missing, f"slack-bolt's ThreadListenerRunner no longer keeps {missing}"


def test_bolt_Listener_has_what_the_runner_reads() -> None:
    app = bolt_app()

    @app.command("/x")
    def listener(ack) -> None:  # type: ignore[no-untyped-def]
        ack()

    [bolt_listener] = app._listeners  # a test may read it; escbot does not
    assert isinstance(bolt_listener, Listener)
    for name in ("auto_acknowledgement", "lazy_functions", "ack_timeout"):
        assert hasattr(bolt_listener, name), f"slack-bolt's Listener no longer has {name}"
    assert parameters(bolt_listener.run_ack_function) == ["request", "response"], (
        "slack-bolt changed Listener.run_ack_function(request, response)"
    )


def test_bolt_request_lazy_only_and_the_context_ack() -> None:
    request = BoltRequest(body="command=%2Fx&text=", headers={})
    assert request.lazy_only is False, "slack-bolt's BoltRequest no longer has lazy_only"
    ack = internals.PromptAck()
    context = BoltContext()
    context["ack"] = ack
    assert context.ack is ack, (
        "slack-bolt no longer takes a listener's ack from the request context's 'ack' key"
    )
    ack()
    assert ack.answered.is_set(), "slack-bolt's Ack.__call__ no longer sets Ack.response"


def test_waitress_trigger_and_map_stop_a_server_with_open_connections() -> None:
    def wsgi(_environ, start_response):  # type: ignore[no-untyped-def]
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = create_server(wsgi, host="127.0.0.1", port=0, asyncore_use_poll=True)
    assert isinstance(getattr(server, "_map", None), dict), "waitress changed server._map"
    assert "thunk" in parameters(server.trigger.pull_trigger), (
        "waitress changed server.trigger.pull_trigger(thunk)"
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    with socket.create_connection(("127.0.0.1", server.effective_port), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # kept alive: HTTP/1.1
        assert conn.recv(100).startswith(b"HTTP/1.1 200")
        internals.stop_waitress(server, thread)
        assert not thread.is_alive(), (
            "waitress's loop survived wasyncore.close_all(server._map) run through its trigger"
        )
        try:
            rest = conn.recv(100)
        except ConnectionResetError:
            rest = b""
        assert rest == b"", "waitress left a connection open after stopping"


def test_bolt_unused_token_warning_is_dropped_and_only_it(monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from slack_sdk import WebClient

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")  # as in escbot run
    internals.quiet_unused_token_warning()
    with caplog.at_level(logging.WARNING, logger="slack_bolt"):
        App(
            signing_secret="s",
            client=WebClient(),
            authorize=lambda **_: AuthorizeResult(enterprise_id=None, team_id="T1"),
        )
        logging.getLogger("slack_bolt.App").warning("a real warning")
    assert [r.getMessage() for r in caplog.records] == ["a real warning"], (
        "slack-bolt changed its 'token will be unused' warning (internals._UnusedTokenWarning "
        f"drops it by its text): {[r.getMessage() for r in caplog.records]}"
    )
