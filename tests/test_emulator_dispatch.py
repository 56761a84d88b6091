"""The method table (endpoints.py, api/) and the way a request goes through it (dispatch.py).

The dispatcher is called as the HTTP server calls it, with a path, headers and a body, so
these pin the order of Slack's checks and what is recorded without a socket.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.sandbox.emulator import api
from bot.sandbox.emulator.api import response_url
from bot.sandbox.emulator.dispatch import Dispatcher
from bot.sandbox.emulator.endpoints import Endpoints, Route
from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.faults import Faults
from bot.sandbox.emulator.http_server import DROP
from bot.sandbox.emulator.workspace import Workspace
from bot.slack.scopes import METHOD_SCOPES

BOT = {"authorization": "Bearer xoxb-test", "content-type": "application/json"}


def ok(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    return {"echo": args}


def make(endpoints: Endpoints | None = None) -> tuple[Dispatcher, Workspace, Faults]:
    ws, faults = Workspace(), Faults()
    ws.base = "http://fake"
    return Dispatcher(ws, endpoints or api.endpoints(), faults), ws, faults


def body(reply: tuple[int, bytes, dict[str, str]]) -> dict[str, Any]:
    return json.loads(reply[1])


def test_a_name_registered_twice_is_refused() -> None:
    table = Endpoints()
    table.method("x.y", ok)
    table.route("/r/", Route("r", lambda tail, req: {}, ok))
    table.page("/p/", lambda ws, tail, req: None)
    with pytest.raises(ValueError, match=r"x\.y is registered twice"):
        table.method("x.y", ok, token="app")
    with pytest.raises(ValueError):
        table.route("/r/", Route("r2", lambda tail, req: {}, ok))
    with pytest.raises(ValueError):
        table.page("/p/", lambda ws, tail, req: None)


def test_an_unknown_method_is_refused_and_checked_as_a_bot_call() -> None:
    table = Endpoints()
    assert table.token_for("chat.nope") == "bot"
    with pytest.raises(SlackError) as e:
        table.handler("chat.nope")
    assert e.value.error == "unknown_method"


def test_the_areas_serve_every_method_of_the_scope_table() -> None:
    table = api.endpoints()
    assert set(METHOD_SCOPES) <= set(table.methods)
    assert [m for m, e in table.methods.items() if e.token == "app"] == ["apps.connections.open"]
    assert set(table.routes) == {"/upload/", "/response/"}
    assert set(table.pages) == {"/files/"}


def test_unknown_method_after_the_token_with_the_scope_headers() -> None:
    dispatch, ws, _ = make()
    status, data, headers = dispatch("/api/chat.nope", BOT, b"{}")
    assert (status, json.loads(data)) == (200, {"ok": False, "error": "unknown_method"})
    assert headers["x-oauth-scopes"] == ",".join(sorted(ws.scopes))
    assert headers["x-accepted-oauth-scopes"] == ""
    assert body(dispatch("/api/chat.nope", {}, b"")) == {"ok": False, "error": "not_authed"}
    assert [(c.method, c.response["error"]) for c in ws.calls] == [
        ("chat.nope", "unknown_method"),
        ("chat.nope", "not_authed"),
    ]


def test_faults_come_before_the_token_and_the_method() -> None:
    dispatch, ws, faults = make()
    faults.fail("*")
    status, data, headers = dispatch("/api/chat.nope", {}, b"")
    assert (status, json.loads(data)["error"]) == (429, "ratelimited")
    assert headers["Retry-After"] == "1"
    assert ws.calls[-1].status == 429


def test_a_form_token_works_and_is_not_recorded() -> None:
    dispatch, ws, _ = make()
    form = {"content-type": "application/x-www-form-urlencoded"}
    reply = dispatch("/api/auth.test", form, b"token=xoxb-form")
    assert body(reply)["user_id"] == ws.bot_user_id
    assert ws.calls[-1].args == {}


def test_invalid_json_is_recorded_without_args_or_scope_headers() -> None:
    dispatch, ws, _ = make()
    status, data, headers = dispatch("/api/chat.postMessage", BOT, b"[1]")
    assert (status, json.loads(data)) == (200, {"ok": False, "error": "invalid_json"})
    assert "x-oauth-scopes" not in headers
    assert (ws.calls[-1].method, ws.calls[-1].args) == ("chat.postMessage", {})


def test_a_lost_answer_is_dropped_after_the_work_is_done() -> None:
    dispatch, ws, faults = make()
    faults.lose_answers("chat.postMessage")
    post = json.dumps({"channel": "D0ALICE", "text": "hi"}).encode()
    assert dispatch("/api/chat.postMessage", BOT, post) == (DROP, b"", {})
    assert [m.text for m in ws.messages["D0ALICE"]] == ["hi"]
    assert dispatch("/api/chat.postMessage", BOT, post)[0] == 200


def test_the_app_token_method_refuses_the_bot_token_without_scope_headers() -> None:
    dispatch, _, _ = make()
    status, data, headers = dispatch("/api/apps.connections.open", BOT, b"{}")
    assert (status, json.loads(data)["error"]) == (200, "not_allowed_token_type")
    assert "x-oauth-scopes" not in headers


def test_routes_and_pages_outside_the_api() -> None:
    dispatch, ws, _ = make()
    upload_url = body(
        dispatch("/api/files.getUploadURLExternal", BOT, b'{"filename": "a.txt", "length": 3}')
    )["upload_url"]
    path = upload_url.removeprefix("http://fake")
    assert dispatch(path, {}, b"abc")[0] == 200
    assert (ws.calls[-1].method, ws.calls[-1].args) == (
        "file_upload",
        {"file_id": path.split("/")[-1], "length": 3},
    )
    assert dispatch(f"/files/{path.split('/')[-1]}/a.txt", {}, b"")[1] == b"abc"
    assert dispatch("/files/F0NOSUCH/a.txt", {}, b"")[0] == 404
    assert dispatch("/nowhere", {}, b"")[0] == 404
    # a response_url answers a plain "ok", as Slack's do; one it never issued, 404
    url = response_url.new_response_url(ws, "U0ALICE", None, None)
    assert dispatch(url.removeprefix(ws.base), BOT, b'{"text": "hi"}') == (
        200,
        b"ok",
        {"Content-Type": "text/plain"},
    )
    assert dispatch("/response/unknown", BOT, b'{"text": "hi"}')[0] == 404


def test_adding_an_area_is_registering_its_handlers() -> None:
    """What the next areas (openid.connect.*) will do: a module's register() and nothing else."""
    table = api.endpoints()
    table.method("openid.test", ok)
    dispatch, ws, _ = make(table)
    reply = dispatch("/api/openid.test?x=1", BOT, b'{"y": 2}')
    assert body(reply) == {"ok": True, "echo": {"x": "1", "y": 2}}
    assert ws.calls[-1].method == "openid.test"
