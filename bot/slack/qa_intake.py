"""``POST /qa/decisions``: vendors' decisions from a moderation tool, for the QA programme.

The same rows and rules as ``escbot qa import`` (:mod:`bot.qa.imports`): CSV
(``Content-Type: text/csv``) or JSON Lines (``application/x-ndjson``), every row
validated, the good ones stored once per (vendor, decision_id) in one
transaction, the bad ones answered by line; ``?strict=1`` stores nothing when
any row is bad. Authenticated with ``Authorization: Bearer <token>``: a vendor's
own token (``vendors.<v>.qa_token_env``) may send only that vendor's rows, any
other vendor's row is a bad row; the operator token ``$ESCBOT_QA_TOKEN`` may send
any vendor's, like ``escbot qa import``. With no token set the endpoint is off.
A batch is at most the server's body limit (``ESCBOT_MAX_BODY_BYTES``, 1 MB by
default: about 5 000 rows), UTF-8 and uncompressed: anything else is one 4xx.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable, Mapping
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


ALL = ""  # the operator token's scope: every vendor


class QaDecisionsEndpoint:
    def __init__(
        self,
        desk: Desk,
        token: str | None,
        max_body: int,
        respond: Respond,
        vendor_tokens: Mapping[str, str] | None = None,
    ) -> None:
        self.desk = desk
        #: (expected Authorization header, the vendor it may write; ALL for the operator's)
        self.tokens = [(f"Bearer {t}".encode(), v) for v, t in (vendor_tokens or {}).items()]
        if token:
            self.tokens.append((f"Bearer {token}".encode(), ALL))
        self.max_body = max_body
        self.respond = respond

    def scope_of(self, given: bytes) -> str | None:
        """The vendor ``given`` may write (ALL: any), or None for no valid token. Every
        token is compared, in constant time, whichever matches."""
        scope = None
        for expected, vendor in self.tokens:
            if hmac.compare_digest(given, expected):
                scope = vendor
        return scope

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR", "?")
        if not self.tokens:
            return self.respond(
                start_response,
                403,
                {"error": "the QA endpoint is off: set a vendor's qa_token_env or ESCBOT_QA_TOKEN"},
            )
        scope = self.scope_of(environ.get("HTTP_AUTHORIZATION", "").encode())
        if scope is None:
            log.warning("refused POST /qa/decisions from %s: bad or missing bearer token", peer)
            challenge = [("WWW-Authenticate", "Bearer")]
            return self.respond(
                start_response, 401, {"error": "a bearer token is required"}, challenge
            )
        kind, _, params = environ.get("CONTENT_TYPE", "").partition(";")
        fmt = FORMATS.get(kind.strip().lower())
        if fmt is None:
            known = ", ".join(FORMATS)
            return self.respond(start_response, 415, {"error": f"send one of: {known}"})
        charset = _charset(params)
        if charset not in (None, "utf-8", "utf8", "us-ascii"):
            return self.respond(start_response, 415, {"error": "send UTF-8 (charset=utf-8)"})
        encoding = environ.get("HTTP_CONTENT_ENCODING", "identity").strip().lower()
        if encoding not in ("", "identity"):
            return self.respond(
                start_response, 415, {"error": "send the rows uncompressed (no Content-Encoding)"}
            )
        length = environ.get("CONTENT_LENGTH") or "0"
        if not length.isdigit():
            return self.respond(start_response, 400, {"error": "bad Content-Length"})
        if int(length) > self.max_body:
            return self.respond(start_response, 413, {"error": "batch too large: send fewer rows"})
        body = environ["wsgi.input"].read(int(length)) if "wsgi.input" in environ else b""
        strict = parse_qs(environ.get("QUERY_STRING", "")).get("strict", ["0"])[0] in ("1", "true")
        desk = self.desk
        result = import_bytes(
            desk.sessions,
            desk.config,
            body,
            fmt,
            desk.clock.now(),
            strict=strict,
            scope=scope or None,
        )
        log.info(
            "POST /qa/decisions from %s (%s token): %d rows, %d imported, %d already there, %d bad",
            peer,
            scope or "operator",
            result.rows,
            result.imported,
            result.duplicates,
            len(result.errors),
        )
        return self.respond(start_response, 422 if result.refused else 200, result.as_json())


def _charset(params: str) -> str | None:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None
