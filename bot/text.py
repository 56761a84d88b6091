"""Making user text safe to show in Slack, and short enough for Block Kit."""

from __future__ import annotations

import re
import unicodedata

# Bidirectional overrides/isolates can make text read differently than it is.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), None)
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_WORD_JOINER = "\u2060"


def clean(text: str | None) -> str:
    """Strip bidi overrides and control characters (newlines and tabs stay)."""
    if not text:
        return ""
    return "".join(ch for ch in text.translate(_BIDI) if _keep(ch))


def _keep(ch: str) -> bool:
    # Zero-width joiner stays: emoji sequences need it.
    return ch in "\n\t\u200d" or unicodedata.category(ch) not in ("Cc", "Cf")


def mrkdwn(text: str | None) -> str:
    """Escape user text for a mrkdwn field: nothing in it becomes a link or a ping.

    ``&``, ``<`` and ``>`` are escaped as Slack asks, which defuses ``<!channel>``,
    ``<!subteam^…>``, ``<@U…>`` and ``<url|label>``; a bare ``@here`` gets a word
    joiner so no client or ``link_names`` setting can turn it into a broadcast.
    """
    text = clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda m: "@" + _WORD_JOINER + m.group(1), text)


def plain(text: str | None) -> str:
    """User text for a plain_text field: no mrkdwn parsing there, only cleaning."""
    return _BROADCAST.sub(lambda m: "@" + _WORD_JOINER + m.group(1), clean(text))


def truncate(text: str | None, limit: int, ellipsis: str = "…") -> str:
    """Cut ``text`` to at most ``limit`` characters, never inside an escape entity."""
    text = text or ""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(ellipsis))]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ellipsis


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())
