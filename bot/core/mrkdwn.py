"""The mrkdwn pieces every message about a ticket shares: links, mentions, channels.

They build Slack's markup as plain strings (no Slack client involved), so the
card, the thread lines, the DMs, the modal and the digests all write a link or
a mention the same way and within the same budgets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from bot.config import AppConfig
from bot.core.text import mrkdwn, truncate
from storage.models import Ticket

SEVERITY_ICONS = {
    "sev0": ":red_circle:",
    "sev1": ":large_orange_circle:",
    "sev2": ":large_yellow_circle:",
    "sev3": ":large_blue_circle:",  # not ⚪: nearly invisible on Slack's light theme
}
#: Room for the content list in one section (3000) with its heading.
CONTENT_BUDGET = 2900
LINK_LABEL = 100
#: A longer host is shown by its end, where its registrable domain is.
HOST_SHOWN = 60
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")


def link(url: str, label: str | None = None) -> str:
    """A mrkdwn link to ``url`` if it is a plain http(s) URL, else the escaped text.

    Without a ``label`` the text shown starts with the link's real host
    (:func:`real_host`: punycode, no user-info), so neither a label cut at
    :data:`LINK_LABEL` characters nor ``https://trusted.example@evil.example``
    nor a look-alike Unicode host hides where it goes; the link itself points
    at that same host, without the user-info. A URL too long for any mrkdwn
    field is shown (shortened) as text rather than broken.
    """
    usable = url.lower().startswith(("https://", "http://")) and len(url) <= CONTENT_BUDGET // 2
    if not usable or any(c in url for c in "|<> \n"):
        return mrkdwn(truncate(label or url, LINK_LABEL))
    target = _without_userinfo(url)
    host = real_host(url)
    if host is None:  # not a host a browser would reach as written: text, not a link
        return mrkdwn(truncate(label or url, LINK_LABEL))
    if label is None:
        flag = " (sign-in part removed)" if "@" in urlsplit(url).netloc else ""
        shown_host = host if len(host) <= HOST_SHOWN else "…" + host[-(HOST_SHOWN - 1) :]
        rest = LINK_LABEL - len(shown_host) - len(flag) - 3
        shown = f"{shown_host} — {truncate(target, max(rest, 10))}{flag}"
    else:
        shown = truncate(label, LINK_LABEL)
    return f"<{target.replace('&', '&amp;')}|{mrkdwn(shown)}>"


def content_ref(cfg: AppConfig, raw: str) -> str:
    """A reported content reference as mrkdwn: an http(s) link as :func:`link` shows it; a
    content id (``post:77310``) as a link to the review tool where ``intake.review_links``
    gives its kind a page, else as plain text."""
    url = cfg.intake.review_url(raw)
    return link(url, raw.strip()) if url is not None else link(raw)


def real_host(url: str) -> str | None:
    """The host ``url`` really goes to, as ASCII (IDN hosts in punycode: ``аpple.com``
    with a Cyrillic а is ``xn--pple-43d.com``); None if it has no usable host."""
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # a bad port is no usable host either
    except ValueError:
        return None
    if not host:
        return None
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


def _without_userinfo(url: str) -> str:
    """``url`` without a ``user:password@`` part, IDN host in punycode (what the label shows)."""
    parts = urlsplit(url)
    host = real_host(url)
    if host is None:
        return url
    netloc = host if ":" not in host else f"[{host}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    if netloc == parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=netloc))


def mention(user_id: str | None, nobody: str = "—") -> str:
    """``<@U…>`` for a Slack user id; anything else (e.g. the bot's own actor name) escaped."""
    if not user_id:
        return nobody
    return f"<@{user_id}>" if _USER_ID.match(user_id) else mrkdwn(user_id)


def channel(channel_id: str | None) -> str:
    """``<#C…>`` for a channel id; DMs and unknowns read as "a direct message"/"—"."""
    if not channel_id:
        return "—"
    return f"<#{channel_id}>" if _CHANNEL_ID.match(channel_id) else "a direct message"


def pack(lines: Iterable[str], budget: int) -> tuple[list[str], int]:
    """As many whole ``lines`` as fit ``budget`` characters (joined by newlines), and
    how many were left out: a link is never cut in half."""
    kept: list[str] = []
    used, total = 0, 0
    for line in lines:
        total += 1
        if len(kept) == total - 1 and used + len(line) + 1 <= budget:
            kept.append(line)
            used += len(line) + 1
    return kept, total - len(kept)


def link_previews(cfg: AppConfig, ticket: Ticket) -> bool:
    """Whether posts showing a ticket's reported content may unfurl it.

    Why off by default: a preview shows hateful or graphic media inline to the whole channel,
    and Slack's crawler fetches the reported URL. Only a policy area that turns
    ``link_previews`` on gets them, and never a sensitive ticket.
    """
    area = cfg.policy_areas.get(ticket.policy_area)
    return bool(area and area.link_previews and not ticket.sensitive)


def source(cfg: AppConfig, ticket: Ticket) -> str:
    """Who raised it and from where, as mrkdwn: "Legal · <message link> in #channel"."""
    team = cfg.intake.source_teams.get(ticket.source_team or "", ticket.source_team or "")
    parts = [mrkdwn(team)] if team else []
    if ticket.source_permalink:
        url = ticket.source_permalink
        label = f"message ({real_host(url) or 'link'})"
        parts.append(f"{link(url, label)} in {channel(ticket.source_channel)}")
    elif ticket.source_channel:
        parts.append(f"from {channel(ticket.source_channel)}")
    return " · ".join(parts) or "—"
