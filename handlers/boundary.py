"""The handler boundary: no exception ever escapes a listener.

slack-bolt (seen in 1.30) can answer 404 after a 3 s wait when a listener
raises soon after ``ack()``. So every listener is wrapped: it is acknowledged
even if it failed before acking, a ``DomainError`` becomes a polite answer,
and anything else is logged with the request id and reported to the user in
an ephemeral message, never as a traceback.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt.kwargs_injection import Args
from slack_sdk import WebClient

from bot.core.errors import DomainError
from bot.core.logs import request_id_var, ticket_var

log = logging.getLogger(__name__)

#: The names Bolt can give a listener (its documented ``args`` object has one attribute each).
BOLT_ARGS = frozenset(inspect.signature(Args).parameters) - {"kwargs"}


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a Bolt listener; ``fn`` still gets the arguments it names, as Bolt would give them.

    The wrapper takes Bolt's public ``args`` argument (every injectable value) and hands ``fn``
    those it asks for, so nothing here depends on how Bolt inspects a listener's signature.
    """
    wanted = list(inspect.signature(fn).parameters)
    unknown = [name for name in wanted if name not in BOLT_ARGS]
    if unknown:
        raise TypeError(f"listener {fn.__name__} asks for {unknown}: Bolt gives none of them")

    def wrapper(args: Args) -> None:
        context = args.context
        request_id = context.setdefault("request_id", uuid.uuid4().hex[:12])
        request_id_var.set(request_id)  # listeners run on Bolt's pool threads: carry it over
        ticket_var.set(None)
        acked = False
        ack = args.ack

        def tracking_ack(*a: Any, **kw: Any) -> Any:
            nonlocal acked
            acked = True
            return ack(*a, **kw)

        given = {name: getattr(args, name) for name in wanted} | {"ack": tracking_ack}
        try:
            fn(**{name: given[name] for name in wanted})
        except DomainError as err:
            if not acked:
                ack()
            tell(args.body, args.client, args.respond, f":information_source: {err}")
        except Exception:
            log.exception("listener %s failed (request %s)", fn.__name__, request_id)
            if not acked:
                ack()
            tell(
                args.body,
                args.client,
                args.respond,
                f":warning: Sorry, that failed on our side and nothing was changed by it. "
                f"Try again in a minute; if it keeps failing, tell the escbot admins "
                f"(reference `{request_id}`).",
            )

    # Bolt names a listener in its logs by __name__; no __wrapped__, which Bolt would follow.
    wrapper.__name__, wrapper.__qualname__ = fn.__name__, fn.__qualname__
    wrapper.__doc__, wrapper.__module__ = fn.__doc__, fn.__module__
    return wrapper


def tell(body: dict[str, Any], client: WebClient, respond: Any, text: str) -> None:
    """Tell the requesting user something privately, by the best channel we have."""
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id")
    try:
        if body.get("response_url"):
            respond(text=text, response_type="ephemeral", replace_original=False)
        elif channel and user:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        elif user:
            client.chat_postMessage(channel=user, text=text)
    except Exception:
        log.exception("could not tell %s: %s", user, text)
