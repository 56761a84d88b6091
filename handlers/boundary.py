"""The handler boundary: no exception ever escapes a listener.

slack-bolt (seen in 1.30) can answer 404 after a 3 s wait when a listener
raises soon after ``ack()``. So every listener is wrapped: it is acknowledged
even if it failed before acking, a ``DomainError`` becomes a polite answer,
and anything else is logged with the request id and reported to the user in
an ephemeral message, never as a traceback.
"""

from __future__ import annotations

import functools
import inspect
import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from bot.core.errors import DomainError
from bot.core.logs import request_id_var, ticket_var

log = logging.getLogger(__name__)

_NEEDED = ("ack", "body", "client", "context", "respond")


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a Bolt listener (Bolt injects arguments by name; we keep that working)."""
    wanted = set(inspect.signature(fn).parameters)

    @functools.wraps(fn)
    def wrapper(**kw: Any) -> None:
        context = kw["context"]
        request_id = context.setdefault("request_id", uuid.uuid4().hex[:12])
        request_id_var.set(request_id)  # listeners run on Bolt's pool threads: carry it over
        ticket_var.set(None)
        acked = False
        ack = kw["ack"]

        def tracking_ack(*args: Any, **kwargs: Any) -> Any:
            nonlocal acked
            acked = True
            return ack(*args, **kwargs)

        kw["ack"] = tracking_ack
        try:
            fn(**{k: v for k, v in kw.items() if k in wanted})
        except DomainError as err:
            if not acked:
                ack()
            tell(kw, f":information_source: {err}")
        except Exception:
            log.exception("listener %s failed (request %s)", fn.__name__, request_id)
            if not acked:
                ack()
            tell(
                kw,
                f":warning: Sorry, that failed on our side and nothing was changed by it. "
                f"Try again in a minute; if it keeps failing, tell the escbot admins "
                f"(reference `{request_id}`).",
            )

    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in _NEEDED]
    params += [
        p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD)
        for n, p in inspect.signature(fn).parameters.items()
        if n not in _NEEDED
    ]
    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    del wrapper.__wrapped__  # Bolt must see the signature above, not fn's
    return wrapper


def tell(kw: dict[str, Any], text: str) -> None:
    """Tell the requesting user something privately, by the best channel we have."""
    body: dict[str, Any] = kw["body"]
    client: WebClient = kw["client"]
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
    try:
        if body.get("response_url"):
            kw["respond"](text=text, response_type="ephemeral", replace_original=False)
        elif channel and user:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        elif user:
            client.chat_postMessage(channel=user, text=text)
    except Exception:
        log.exception("could not tell %s: %s", user, text)
