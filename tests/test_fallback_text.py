"""Every message's ``text`` is a sentence: it is what push notifications and screen
readers say, so "ESC-2 asked", "ESC-5: escalated" or "SLA breached: ESC-5 …" (which of
the two clocks?) are not enough.

Each template is rendered through its context builder in tests/test_templates.py (every
kind, audience and level the builder covers), with user text set to a marker word. The
part of ``text`` before the first ": " (after it comes user text or a list) must read as a
sentence: at least three words (a key or a mention is one; the marker none), one of them a
verb, so "<@U1> acknowledged ESC-2" passes and "ESC-2 asked" doesn't.
"""

from __future__ import annotations

import re

import pytest

from tests.test_templates import TEMPLATES, render_all

MARK = "Zqx"
_EMOJI = re.compile(r":[a-z0-9_+-]+:")
#: A report, not a person's action: its title and headline numbers (bot.reporting.present).
REPORTS = {"digest"}
_KEY = re.compile(r"\bESC-\d+\b")
_MENTION = re.compile(r"<[@#!][^>]*>")
_LINK = re.compile(r"<[^|>]*\|([^>]*)>")
#: Auxiliaries and the verbs the texts use that don't end in -ed; any word ending in -ed counts.
VERBS = frozenset((
    "is", "are", "was", "were", "be", "been", "has", "have", "had", "do", "does", "did", "can",
    "could", "will", "would", "asks", "ask", "gave", "give", "gives", "take", "takes", "took",
    "needs", "need", "went", "goes", "go", "reported", "opened", "proposes", "made",
    "acknowledge", "follow", "follows", "grade", "read", "let", "lets", "see", "shows", "show",
    "moved", "missed", "answered",
))  # fmt: skip


def head(text: str) -> str:
    """The sentence part of a fallback: before ": ", emoji and user text left out."""
    words = _LINK.sub(r"\1", _EMOJI.sub("", text)).split(": ", 1)[0]
    words = _MENTION.sub("someone", words)
    words = _KEY.sub("ESC", words)
    return " ".join(w for w in re.split(r"[\s·,.;:!?()*_`]+", words) if w and MARK not in w)


def problem(text: str) -> str | None:
    """Why ``text`` is not a sentence, or None."""
    words = head(text).split()
    if len(words) < 3:
        return f"only {len(words)} words besides user text"
    if not any(w.lower() in VERBS or w.lower().endswith("ed") for w in words):
        return "no verb"
    return None


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("ESC-2 asked", False),
        ("ESC-5: escalated", False),
        ("SLA breached: ESC-5 Beheading video", False),
        ("ESC-5 resolved: Removed", False),
        ("Your open escalations: 3", False),
        ("Lucía asked you a question about ESC-2: Zqx", True),
        ("ESC-5 missed its acknowledge target (30 minutes): Zqx", True),
        ("<@U05MAD1LFZ3> gave you ESC-2: Zqx", True),
    ],
)
def test_the_check_tells_code_speak_from_a_sentence(text: str, ok: bool) -> None:
    assert (problem(text) is None) is ok, problem(text)


@pytest.mark.parametrize("name", sorted(set(TEMPLATES) - REPORTS))
def test_every_fallback_text_is_a_sentence(name: str) -> None:
    texts = [p["text"] for p in render_all(name, MARK) if isinstance(p.get("text"), str)]
    bad = {t: why for t in texts if (why := problem(t))}
    assert not bad, f"templates/{name}.json.j2: {bad}"
