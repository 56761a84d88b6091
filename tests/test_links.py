"""Links show where they really go, and digests warn before a sensitive ticket's lines.

A label cut at 100 characters, a ``user@host`` prefix or a look-alike Unicode
host must not hide the host a click reaches (issue #14, item 8).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.core.mrkdwn import LINK_LABEL, link, real_host
from bot.core.render import Renderer
from bot.reporting import present
from bot.reporting.periods import period_containing
from storage.db import transaction
from tests.kpi_data import NOW, History
from tests.test_digest import DUBLIN


def shown(mrkdwn_link: str) -> tuple[str, str]:
    """(target, label) of ``<target|label>``."""
    assert mrkdwn_link.startswith("<") and mrkdwn_link.endswith(">"), mrkdwn_link
    target, _, label = mrkdwn_link[1:-1].partition("|")
    return target, label


def test_a_long_userinfo_cannot_push_the_host_out_of_the_label() -> None:
    url = "https://trusted.example.com.login" + "x" * 120 + "@evil.example/x"
    target, label = shown(link(url))
    assert target == "https://evil.example/x"  # the sign-in part is dropped from the link
    assert label.startswith("evil.example — ")
    assert "trusted.example.com" not in label and "(sign-in part removed)" in label
    assert len(label) <= LINK_LABEL


def test_idn_look_alikes_show_and_go_to_their_punycode_host() -> None:
    url = "https://\u0430pple.com/login"  # Cyrillic а
    assert real_host(url) == "xn--pple-43d.com"
    target, label = shown(link(url))
    assert target == "https://xn--pple-43d.com/login"
    assert label == "xn--pple-43d.com — https://xn--pple-43d.com/login"
    assert "\u0430" not in link(url)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://example.com/a?b=1&c=2", "example.com"),
        ("http://Example.COM:8443/p", "example.com"),
        ("https://a.b.example.org/" + "p" * 300, "a.b.example.org"),
    ],
)
def test_every_content_link_starts_with_its_host(url: str, host: str) -> None:
    target, label = shown(link(url))
    assert label.startswith(f"{host} — ")
    assert len(label) <= LINK_LABEL + 10  # "&amp;" escapes may lengthen it a little
    assert real_host(target) == host


def test_a_very_long_host_is_shown_by_its_end() -> None:
    url = "https://trusted.example.com." + "a." * 60 + "evil.example/x"
    _, label = shown(link(url))
    assert label.split(" — ")[0].endswith("evil.example")


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "https://exa mple.com", "https://example.com:99999/x", "x"]
)
def test_what_is_not_a_reachable_http_link_stays_text(url: str) -> None:
    assert not link(url).startswith("<")


def test_our_own_labels_stay_as_they_are() -> None:
    assert link("https://slack.com/archives/C1/p1", "ESC-1") == (
        "<https://slack.com/archives/C1/p1|ESC-1>"
    )


def test_digests_warn_before_sensitive_tickets_lines(sessions, config) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        h = History(s)
        h.ticket(NOW - timedelta(hours=3), summary="Hate speech thread")
        gore = h.ticket(
            NOW - timedelta(hours=2),
            summary="Beheading video of a named victim",
            policy_area="graphic_violence",
            sensitive=True,
        )
        h.content(gore, "video.example/v/1")
        for hours in (1, 2):  # content in three tickets: a repeat worth a look
            h.content(h.ticket(NOW - timedelta(minutes=hours)), "video.example/v/1")
    period = period_containing("day", NOW.date(), DUBLIN)
    with sessions() as s:
        digest = present.make_digest(
            s, config, Renderer(config.team_tz), config.digest("weekly"), period, NOW
        )
    lines = json.dumps(digest.payload, ensure_ascii=False).split("\\n")
    victim = [line for line in lines if "named victim" in line]
    assert victim and all(present.CONTENT_WARNING in line for line in victim)
    assert [line for line in lines if "Hate speech thread" in line]
    assert not [line for line in lines if "Hate speech thread" in line and "warning" in line]
    repeated = [line for line in lines if "video.example/v/1" in line]
    assert repeated and all(present.CONTENT_WARNING in line for line in repeated)
