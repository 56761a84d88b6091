"""Reading a request the way Slack does: query, JSON, form or multipart bodies; tokens; flags.

Why apart from the methods: slack_sdk sends the same argument as JSON, as a form field or as
JSON text inside a form field depending on the call, and the fake must accept each form once,
in one place, so every method sees plain Python values.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

#: Argument names whose values Slack accepts as JSON text inside form bodies.
JSON_ARGS = frozenset({"blocks", "attachments", "view", "files", "metadata", "unfurls"})


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as the fake's routes see it (header names lower-cased)."""

    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def parse_body(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    """Query string, then JSON, form or multipart body; JSON-valued form args decoded.

    Raises ``ValueError`` for a body that is not what its content type says.
    """
    args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    ctype = content_type.lower()
    if ctype.startswith("application/json"):
        data = json.loads(body or b"{}")
        if not isinstance(data, dict):
            raise ValueError("JSON body must be an object")
        args.update(data)
    elif ctype.startswith("multipart/form-data"):
        args.update(parse_multipart(content_type, body))
    elif body:
        args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    for key in JSON_ARGS & args.keys():
        value = args[key]
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            args[key] = json.loads(value)
    return args


def parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Named fields of a multipart body; file parts stay bytes, the others become text."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    out: dict[str, Any] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if not isinstance(name, str) or not isinstance(payload, bytes):
            raise ValueError("multipart parts must be plain named fields")
        out[name] = payload if part.get_filename() else payload.decode("utf-8")
    return out


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, else None."""
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def flag(value: Any) -> bool | None:
    """Slack booleans arrive as JSON true/false or form "1"/"0"/"true"/"false"."""
    if value is None or isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes")


def user_ids(args: dict[str, Any]) -> list[str]:
    """The ``users`` argument (a list, or comma-separated ids) as a list."""
    users = args.get("users") or ""
    return users if isinstance(users, list) else [u for u in users.split(",") if u]
