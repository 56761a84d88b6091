"""Slack's signature, checked on the raw bytes before anything decodes or parses them.

An unsigned request must not reach a decoder, a JSON parser or Bolt: each of
those has failed on hostile input (a ``\\xff`` byte, a timestamp ``abc``, JSON
nested 400 deep), and a failure there was a 500 with a traceback per request.
Here the headers are checked for shape first (one timestamp of digits, one
``v0=`` signature of 64 hex digits; the front joins a repeated header with
", ", so a repeat fails the shape), then the timestamp's age, then the HMAC
over the exact bytes received. (slack_sdk's ``SignatureVerifier`` decodes a
bytes body as UTF-8 before hashing, which raises on invalid bytes; the HMAC
here is the same ``v0:{timestamp}:{body}`` over bytes.)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

MAX_AGE = 5 * 60  # Slack's replay window: a request older than this is refused

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


class SignatureGate:
    def __init__(self, signing_secret: str, now: Callable[[], float] = time.time) -> None:
        self._secret = signing_secret.encode()
        self._now = now

    def problem(self, body: bytes, environ: Mapping[str, Any]) -> str | None:
        """Why ``body`` with these WSGI headers is not signed by Slack, or None when it is."""
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE")
        if timestamp is None and signature is None:
            return "unsigned"
        if not isinstance(timestamp, str) or not _TIMESTAMP.fullmatch(timestamp):
            return "malformed or repeated timestamp header"
        if not isinstance(signature, str) or not _SIGNATURE.fullmatch(signature):
            return "malformed or repeated signature header"
        if abs(self._now() - int(timestamp)) > MAX_AGE:
            return "stale timestamp"
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self._secret, base, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return "bad signature"
        return None
