"""Making user text safe to show in Slack, and short enough for Block Kit."""

from __future__ import annotations

import re
import unicodedata

# Bidirectional overrides/isolates can make text read differently than it is.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), None)
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_WORD_JOINER = "\u2060"
# "<!channel>", "<@U…>", "<#C…>", "<https://…|…>": Slack's mention and link syntax.
_MENTION_OPEN = re.compile(r"<(?=[!@#]|[A-Za-z][A-Za-z0-9+.-]*:)")
# A link, mention or date we wrote ourselves: cutting into one would break the whole text.
_TOKEN_START = re.compile(r"<(?:https?:|mailto:|[!@#])")


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
    """User text for a plain_text field: shown as typed, but never in mention syntax.

    Slack does not parse plain_text, but the text may be copied into mrkdwn later
    (notifications, exports); a word joiner after ``<`` keeps ``<!channel>``,
    ``<@U…>`` and ``<https://…|…>`` looking the same while making them inert everywhere.
    """
    text = _MENTION_OPEN.sub("<" + _WORD_JOINER, clean(text))
    return _BROADCAST.sub(lambda m: "@" + _WORD_JOINER + m.group(1), text)


def truncate(text: str | None, limit: int, ellipsis: str = "…") -> str:
    """Cut ``text`` to at most ``limit`` characters, never inside an escape entity
    (``&amp;``) nor inside a link or mention (``<https://…|…>``, ``<@U…>``)."""
    text = text or ""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(ellipsis))]
    amp = cut.rfind("&")
    if amp != -1 and len(cut) - amp <= 4 and ";" not in cut[amp:]:
        cut = cut[:amp]
    lt = cut.rfind("<")
    if lt != -1 and ">" not in cut[lt:] and _TOKEN_START.match(cut, lt):
        cut = cut[:lt]
    return cut + ellipsis


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())
