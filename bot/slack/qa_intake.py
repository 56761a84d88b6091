"""``POST /qa/decisions``: vendors' decisions from a moderation tool, for the QA programme.

The same rows and rules as ``escbot qa import`` (:mod:`bot.qa.imports`): CSV
(``Content-Type: text/csv``) or JSON Lines (``application/x-ndjson``), every row
validated, the good ones stored once per (vendor, decision_id) in one
transaction, the bad ones answered by line; ``?strict=1`` stores nothing when
any row is bad. Authenticated with ``Authorization: Bearer $ESCBOT_QA_TOKEN``;
without that variable the endpoint is off. A batch is at most the server's
body limit (``ESCBOT_MAX_BODY_BYTES``, 1 MB by default: about 5 000 rows).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from bot.core.desk import Desk
from bot.qa.imports import Format, import_bytes

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
Respond = Callable[..., list[bytes]]
FORMATS: dict[str, Format] = {
    "text/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/json-lines": "jsonl",
}


class QaDecisionsEndpoint:
    def __init__(self, desk: Desk, token: str | None, max_body: int, respond: Respond) -> None:
        self.desk = desk
        self.token = token
        self.max_body = max_body
        self.respond = respond

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR", "?")
        if not self.token:
            return self.respond(
                start_response, 403, {"error": "the QA endpoint is off: set ESCBOT_QA_TOKEN"}
            )
        given = environ.get("HTTP_AUTHORIZATION", "").encode()
        if not hmac.compare_digest(given, f"Bearer {self.token}".encode()):
            log.warning("refused POST /qa/decisions from %s: bad or missing bearer token", peer)
            challenge = [("WWW-Authenticate", "Bearer")]
            return self.respond(
                start_response, 401, {"error": "a bearer token is required"}, challenge
            )
        kind = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        fmt = FORMATS.get(kind)
        if fmt is None:
            known = ", ".join(FORMATS)
            return self.respond(start_response, 415, {"error": f"send one of: {known}"})
        length = environ.get("CONTENT_LENGTH") or "0"
        if not length.isdigit():
            return self.respond(start_response, 400, {"error": "bad Content-Length"})
        if int(length) > self.max_body:
            return self.respond(start_response, 413, {"error": "batch too large: send fewer rows"})
        body = environ["wsgi.input"].read(int(length)) if "wsgi.input" in environ else b""
        strict = parse_qs(environ.get("QUERY_STRING", "")).get("strict", ["0"])[0] in ("1", "true")
        desk = self.desk
        result = import_bytes(
            desk.sessions, desk.config, body, fmt, desk.clock.now(), strict=strict
        )
        log.info(
            "POST /qa/decisions from %s: %d rows, %d imported, %d already there, %d bad",
            peer,
            result.rows,
            result.imported,
            result.duplicates,
            len(result.errors),
        )
        return self.respond(start_response, 422 if result.refused else 200, result.as_json())
