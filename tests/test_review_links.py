"""Content ids link to the review tool where ``intake.review_links`` gives their kind a page.

``post:77310`` in the card's thread, a second report's thread line and the digest's
repeated content becomes ``<https://review.example.com/posts/77310|post:77310>``; an id
whose kind has no page (``video:`` in the example app.yaml) stays text. The id goes into
the URL percent-encoded, so no id can change where the link goes or break Slack's markup.
(Config validation of ``review_links``: tests/test_config.py, ``review-link-*``.)
"""

from __future__ import annotations

import json
import re

import pytest

from bot.config import AppConfig
from bot.core.mrkdwn import content_ref
from bot.core.render import Renderer
from bot.intake import messages
from bot.intake.draft import Draft
from storage.models import ContentItem
from tests.test_templates import NOW, hostile_ticket


def with_odd_kind(cfg: AppConfig) -> AppConfig:
    """The example config plus a ``ref:`` kind whose ids may hold any character."""
    intake = cfg.intake.model_copy(
        update={
            "content_id_patterns": {
                **cfg.intake.content_id_patterns,
                "ref": re.compile("^ref:.+$"),
            },
            "review_links": {
                **cfg.intake.review_links,
                "ref": "https://review.example.com/r?id={id}",
            },
        }
    )
    return cfg.model_copy(update={"intake": intake})


def test_an_id_with_a_page_links_to_the_review_tool(config: AppConfig) -> None:
    assert content_ref(config, "post:77310") == (
        "<https://review.example.com/posts/77310|post:77310>"
    )
    # the prefix is matched as intake matches it, without case; the label is as typed
    assert content_ref(config, "POST:77310") == (
        "<https://review.example.com/posts/77310|POST:77310>"
    )
    assert config.intake.review_url("acct:42") == "https://review.example.com/accounts/42"


def test_an_id_without_a_page_or_pattern_stays_text(config: AppConfig) -> None:
    assert config.intake.review_url("video:dQw4w9WgXcQ") is None
    assert content_ref(config, "video:dQw4w9WgXcQ") == "video:dQw4w9WgXcQ"
    assert content_ref(config, "post:77310x") == "post:77310x"  # not a post id at all
    # links stay links, shown by their host
    assert content_ref(config, "https://x.com/a/status/1").startswith("<https://x.com/a/status/1|")


@pytest.mark.parametrize(
    ("ident", "encoded"),
    [
        ("ref:a/b?c=1&d=2#x", "a%2Fb%3Fc%3D1%26d%3D2%23x"),
        ("ref:<!channel>|evil", "%3C%21channel%3E%7Cevil"),
        ("ref:<https://evil.example|click>", "%3Chttps%3A%2F%2Fevil.example%7Cclick%3E"),
        ("ref:ünï côdé", "%C3%BCn%C3%AF%20c%C3%B4d%C3%A9"),
    ],
)
def test_odd_characters_are_escaped_into_the_url_and_the_label(
    config: AppConfig, ident: str, encoded: str
) -> None:
    cfg = with_odd_kind(config)
    shown = content_ref(cfg, ident)
    target, _, label = shown[1:-1].partition("|")
    assert target == f"https://review.example.com/r?id={encoded}"
    assert shown.count("<") == 1 and shown.count(">") == 1  # one link, nothing smuggled
    assert "<" not in label and ">" not in label
    assert label.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == ident


def test_the_thread_details_and_a_second_report_link_ids_to_the_review_tool(
    config: AppConfig,
) -> None:
    renderer = Renderer(config.team_tz)
    ticket = hostile_ticket("plain words", status="assigned", sensitive=True)
    raws = ["post:77310", "video:dQw4w9WgXcQ", "https://example.com/p/1"]
    ticket.content_items = [
        ContentItem(raw=r, normalized=r, kind="id" if ":" in r[:6] else "url", created_at=NOW)
        for r in raws
    ]
    details = messages.details(renderer, config, ticket)
    text = json.dumps(details["blocks"], ensure_ascii=False)
    assert "<https://review.example.com/posts/77310|post:77310>" in text
    assert "video:dQw4w9WgXcQ" in text and "|video:" not in text
    # a sensitive ticket's details still never unfurl, review links or not
    assert details["unfurl_links"] is False and details["unfurl_media"] is False
    draft = Draft(summary="same post", policy_area="graphic_violence", severity="sev2")
    again = messages.reported_again(renderer, config, ticket, "U07COMMS02", draft, raws[:1], True)
    assert "<https://review.example.com/posts/77310|post:77310>" in json.dumps(again["blocks"])


def test_the_digest_links_a_repeated_id_and_keeps_the_content_warning(sessions, config) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from bot.reporting import present
    from bot.reporting.periods import period_containing
    from storage.db import transaction
    from tests.kpi_data import NOW as KPI_NOW
    from tests.kpi_data import History
    from tests.test_digest import DUBLIN

    with transaction(sessions) as s:
        h = History(s)
        for minutes, sensitive in ((3, True), (2, False), (1, False)):
            t = h.ticket(
                KPI_NOW - timedelta(minutes=minutes),
                policy_area="graphic_violence" if sensitive else "hateful_activities",
                sensitive=sensitive,
            )
            for ident in ("post:77310", "video:dQw4w9WgXcQ"):
                s.add(
                    ContentItem(
                        ticket_id=t.id,
                        raw=ident,
                        normalized=ident,
                        kind="id",
                        created_at=t.created_at,
                    )
                )
    period = period_containing("day", KPI_NOW.date(), DUBLIN)
    with sessions() as s:
        digest = present.make_digest(
            s, config, Renderer(config.team_tz), config.digest("weekly"), period, KPI_NOW
        )
    lines = json.dumps(digest.payload, ensure_ascii=False).split("\\n")
    [post] = [line for line in lines if ":repeat:" in line and "77310" in line]
    assert "<https://review.example.com/posts/77310|post:77310>" in post
    assert present.CONTENT_WARNING in post
    [video] = [line for line in lines if ":repeat:" in line and "video:" in line]
    assert "`video:dQw4w9WgXcQ`" in video  # no page for videos: inline code, as before
