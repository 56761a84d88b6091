"""Stored content keys follow the content-identity table: links stored under the old
rules are re-keyed once, so the same post pasted today still finds its ticket."""

from __future__ import annotations

from sqlalchemy import select

from bot.intake.recanonical import recanonicalize
from bot.intake.service import find_duplicates
from storage.db import transaction
from storage.models import ContentItem
from tests.desk import LUCIA, MORNING, seed

OLD = [  # (raw, key as the rules before the table stored it)
    ("https://twitter.com/Jack/status/20?s=20", "https://twitter.com/Jack/status/20?s=20"),
    ("https://youtu.be/dQw4w9WgXcQ?t=42", "https://youtu.be/dQw4w9WgXcQ?t=42"),
    ("https://example.com/p/1", "https://example.com/p/1"),  # already canonical: untouched
]


def test_old_keys_are_rewritten_once_and_match_todays_links(sessions) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        ticket = seed(s, LUCIA, now=MORNING)
        for raw, key in OLD:
            s.add(
                ContentItem(ticket=ticket, raw=raw, normalized=key, kind="url", created_at=MORNING)
            )
        s.add(ContentItem(ticket=ticket, raw="[redacted]", normalized="sha256:ab", kind="url",
                          created_at=MORNING))  # fmt: skip
    with sessions() as s:  # before: x.com does not find the twitter.com link
        assert find_duplicates(s, ["https://x.com/jack/status/20"]) == []

    assert recanonicalize(sessions, MORNING) == 2
    assert recanonicalize(sessions, MORNING) == 0  # once per version

    with sessions() as s:
        keys = s.scalars(select(ContentItem.normalized).order_by(ContentItem.id)).all()
        assert keys == [
            "https://x.com/i/status/20",
            "https://youtube.com/watch?v=dQw4w9WgXcQ",
            "https://example.com/p/1",
            "sha256:ab",
        ]
        [match] = find_duplicates(
            s, ["https://x.com/jack/status/20", "https://youtube.com/shorts/dQw4w9WgXcQ"]
        )
        assert match.ticket.id == ticket.id and len(match.content) == 2
