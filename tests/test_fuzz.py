"""Fuzzing /slack/events: whatever a signed sender posts, never a 500, never a half ticket.

Payloads are Slack-shaped with hypothesis-chosen holes: missing fields, wrong
types, huge strings, odd Unicode, unknown action ids and callback ids.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from storage.models import OutboxMessage, Ticket, TicketEvent

EXAMPLES = int(os.environ.get("ESCBOT_FUZZ_EXAMPLES", "2000"))

text = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.just("x" * 20_000),
    st.sampled_from(["<!channel>", "\u202eevil", "ESC-1", "ESC-999999999999", "help", "status"]),
)
scalar = st.one_of(st.none(), st.booleans(), st.integers(), text)
json_value = st.recursive(
    scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)
ids = st.sampled_from(
    ["ticket_ack", "ticket_take", "ticket_reassign", "ticket_resolve", "nope", "", "escalate"]
)


def maybe(d: dict) -> st.SearchStrategy[dict]:
    """``d`` with some keys dropped and some values swapped for junk."""
    keys = list(d)
    return st.fixed_dictionaries(
        {},
        optional={k: st.one_of(st.just(d[k]), json_value) for k in keys},
    )


command = maybe(
    {
        "command": "/escalate",
        "text": "summary",
        "user_id": "U07LEGAL01",
        "channel_id": "C1",
        "trigger_id": "1.2.abc",
        "team_id": "T01E5CB7QAZ",
        "response_url": "http://127.0.0.1:9/r",
    }
)
action = st.builds(
    lambda a, extra: {
        "type": "block_actions",
        "actions": [a],
        "user": {"id": "U05MAD1LFZ3"},
        "team": {"id": "T01E5CB7QAZ"},
        **extra,
    },
    maybe({"action_id": "ticket_take", "block_id": "b", "value": "ESC-1", "type": "button"}),
    maybe({"trigger_id": "1.2.3", "channel": {"id": "C06H2KX8ESC"}, "container": {}}),
)
view = st.builds(
    lambda cb, state, extra: {
        "type": "view_submission",
        "user": {"id": "U07LEGAL01"},
        "team": {"id": "T01E5CB7QAZ"},
        "view": {
            "id": "V1",
            "callback_id": cb,
            "state": state,
            "private_metadata": extra.get("pm", ""),
        },
    },
    ids,
    json_value,
    st.dictionaries(st.just("pm"), text),
)
event = st.builds(
    lambda ev, eid: {
        "type": "event_callback",
        "team_id": "T01E5CB7QAZ",
        "event": ev,
        "event_id": eid,
    },
    st.one_of(
        json_value,
        maybe(
            {
                "type": "message",
                "user": "U07LEGAL01",
                "text": "hi",
                "channel": "C06H2KX8ESC",
                "thread_ts": "1.2",
            }
        ),
    ),
    st.text(max_size=20),
)
interactive = st.one_of(action, view, json_value)


def counts(escbot) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with escbot.services.sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(Ticket)) or 0,
            s.scalar(
                select(func.count()).select_from(TicketEvent).where(TicketEvent.action == "create")
            )
            or 0,
            s.scalar(select(func.count(func.distinct(OutboxMessage.ticket_id)))) or 0,
        )


def test_fuzzed_payloads_never_get_a_500(escbot, user_factory) -> None:  # type: ignore[no-untyped-def]
    user = user_factory("U07LEGAL01")

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(command, interactive, event))
    def send(payload: object) -> None:
        if isinstance(payload, dict) and "command" in payload:
            body = urlencode(
                {k: v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}
            )
            resp = user.send(body, "application/x-www-form-urlencoded")
        elif isinstance(payload, dict) and payload.get("type") == "event_callback":
            resp = user.send(json.dumps(payload), "application/json")
        else:
            resp = user.send(
                urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
            )
        assert resp.status_code < 500, (payload, resp.status_code, resp.text[:300])
        assert "Traceback" not in resp.text

    send()
    tickets, created, announced = counts(escbot)
    assert tickets == created  # every ticket has its audit "create" event
    assert announced >= tickets  # ... and its card in the outbox
