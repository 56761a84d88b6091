"""Render what the emulator saw (channels, threads, DMs, files) as one static HTML page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

from bot.sandbox.emulator import Message

EMOJI = {
    ":red_circle:": "🔴",
    ":large_orange_circle:": "🟠",
    ":large_yellow_circle:": "🟡",
    ":white_circle:": "⚪",
    ":warning:": "⚠️",
    ":compass:": "🧭",
    ":memo:": "📝",
    ":white_check_mark:": "✅",
    ":hourglass_flowing_sand:": "⏳",
    ":alarm_clock:": "⏰",
    ":busts_in_silhouette:": "👥",
    ":information_source:": "ℹ️",
    ":rotating_light:": "🚨",
    ":chart_with_upwards_trend:": "📈",
    ":bar_chart:": "📊",
    ":inbox_tray:": "📥",
}
_SHORTCODE = re.compile(r":[a-z0-9_+-]+:")


def emojize(text: str) -> str:
    """Slack shortcodes as the emoji a reader would see (unknown ones stay as written)."""
    return _SHORTCODE.sub(lambda m: EMOJI.get(m.group(0), m.group(0)), text)


_LINK = re.compile(r"&lt;(https?://[^|&]+?)\|(.+?)&gt;")
_MENTION = re.compile(r"&lt;([@#])([A-Z0-9]+)(?:\|[^&]*)?&gt;")
_BOLD = re.compile(r"\*(\S[^*\n]*?)\*")


def mrkdwn_to_html(text: str, names: dict[str, str]) -> str:
    """Enough of Slack's mrkdwn for a readable page: links, mentions, bold, line breaks."""
    out = html.escape(emojize(text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    out = _LINK.sub(r'<a href="\1">\2</a>', out)
    out = _MENTION.sub(
        lambda m: f"<b>{m.group(1)}{html.escape(names.get(m.group(2), m.group(2)))}</b>", out
    )
    out = _BOLD.sub(r"<b>\1</b>", out)
    return out.replace("\n", "<br>")


def blocks_to_html(blocks: Iterable[dict[str, Any]], names: dict[str, str]) -> str:
    parts = []
    for b in blocks:
        kind = b.get("type")
        if kind == "header":
            parts.append(f"<h3>{html.escape(emojize(b['text']['text']))}</h3>")
        elif kind == "section":
            if "text" in b:
                parts.append(f"<p>{_text(b['text'], names)}</p>")
            if b.get("fields"):
                cells = "".join(f"<div>{_text(f, names)}</div>" for f in b["fields"])
                parts.append(f'<div class="fields">{cells}</div>')
        elif kind == "context":
            items = " · ".join(_text(e, names) for e in b["elements"] if "text" in e)
            parts.append(f'<p class="ctx">{items}</p>')
        elif kind == "actions":
            buttons = "".join(
                f'<span class="btn">{html.escape(e["text"]["text"])}</span>'
                for e in b["elements"]
                if e.get("type") == "button"
            )
            parts.append(f"<p>{buttons}</p>")
        elif kind == "divider":
            parts.append("<hr>")
        elif kind == "image":
            src, alt = html.escape(b["image_url"]), html.escape(b.get("alt_text", ""))
            parts.append(f'<img src="{src}" alt="{alt}">')
    return "".join(parts)


def _text(obj: dict[str, Any], names: dict[str, str]) -> str:
    if obj.get("type") == "plain_text":
        return html.escape(emojize(obj["text"]))
    return mrkdwn_to_html(obj["text"], names)


def message_html(
    msg: Message,
    names: dict[str, str],
    replies: Iterable[Message] = (),
    images: dict[str, str] | None = None,
) -> str:
    """One message with its thread; ``images`` maps file ids to saved image file names."""
    if msg.blocks:
        body = blocks_to_html(msg.blocks, names)
    else:
        body = f"<p>{mrkdwn_to_html(msg.text or '', names)}</p>"
    files = "".join(
        f'<img src="{html.escape((images or {})[f["id"]])}" '
        f'alt="{html.escape(f.get("alt_txt") or "")}" class="chart">'
        for f in msg.files
        if f.get("id") in (images or {})
    )
    thread = "".join(
        f'<div class="reply">{message_html(r, names, images=images)}</div>' for r in replies
    )
    return f'<div class="msg">{body}{files}{thread}</div>'


PAGE = """<!doctype html><meta charset="utf-8"><title>escbot demo</title>
<style>body{{font:14px/1.4 system-ui,sans-serif;max-width:900px;margin:2em auto;color:#1d1c1d}}
.msg{{border:1px solid #ddd;border-radius:8px;padding:8px 12px;margin:10px 0}}
.reply{{margin-left:24px;border-left:3px solid #e8e8e8;padding-left:8px}}
.fields{{display:grid;grid-template-columns:1fr 1fr;gap:4px 16px}}
.ctx{{color:#616061;font-size:12px}}
.btn{{border:1px solid #bbb;border-radius:4px;padding:2px 8px;margin-right:6px}}
h2{{border-bottom:2px solid #4a154b}} img.chart{{max-width:100%}}</style>
<h1>escbot demo — a morning at the escalation desk</h1>{sections}"""
