"""Render what the emulator saw (channels, threads, DMs, files) as one static HTML page.

Faithful enough to judge a layout by: emoji shortcodes as emoji, channel and user
names instead of ids, ``<!date^…>`` tokens as a viewer in ``View.tz`` would see them
at ``View.now``, primary/danger buttons, overflow menus (⋯) and confirm dialogs
(shown on hover). Each message is a ``div.msg`` the screenshot test can cut out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.sandbox.emulator import Message

EMOJI = {
    ":red_circle:": "🔴",
    ":large_orange_circle:": "🟠",
    ":large_yellow_circle:": "🟡",
    ":white_circle:": "⚪",
    ":large_blue_circle:": "🔵",
    ":large_purple_circle:": "🟣",
    ":large_green_circle:": "🟢",
    ":arrows_counterclockwise:": "🔄",
    ":palm_tree:": "🌴",
    ":hourglass:": "⌛",
    ":eyes:": "👀",
    ":construction:": "🚧",
    ":zzz:": "💤",
    ":mag:": "🔍",
    ":speech_balloon:": "💬",
    ":question:": "❓",
    ":leftwards_arrow_with_hook:": "↩️",
    ":bell:": "🔔",
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
    ":outbox_tray:": "📤",
    ":raising_hand:": "🙋",
    ":arrow_forward:": "▶️",
    ":arrow_right:": "➡️",
    ":clipboard:": "📋",
    ":repeat:": "🔁",
    ":shield:": "🛡️",
    ":scales:": "⚖️",
    ":bulb:": "💡",
    ":wave:": "👋",
    ":tada:": "🎉",
    ":spiral_calendar_pad:": "🗓️",
    ":no_entry_sign:": "🚫",
}
_SHORTCODE = re.compile(r":[a-z0-9_+-]+:")


def emojize(text: str) -> str:
    """Slack shortcodes as the emoji a reader would see (unknown ones stay as written)."""
    return _SHORTCODE.sub(lambda m: EMOJI.get(m.group(0), m.group(0)), text)


_LINK = re.compile(r"&lt;(https?://[^|&]+?)\|(.+?)&gt;")
_MENTION = re.compile(r"&lt;([@#])([A-Z0-9]+)(?:\|[^&]*)?&gt;")
_DATE = re.compile(r"<!date\^(\d+)\^([^|<>]*)\|([^<>]*)>")
_BOLD = re.compile(r"\*(\S[^*\n]*?)\*")
_ITALIC = re.compile(r"(?<![\w])_(\S[^_\n]*?)_(?![\w])")
_CODE = re.compile(r"`([^`\n]+)`")


@dataclass
class View:
    """Who is looking: names for ids, and the zone and moment date tokens render in."""

    names: dict[str, str] = field(default_factory=dict)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    now: datetime | None = None


def render_date(unix: int, fmt: str, view: View) -> str:
    """A ``<!date^…>`` token as Slack shows it to ``view`` (a subset of Slack's formats)."""
    at = datetime.fromtimestamp(unix, UTC).astimezone(view.tz)
    now = (view.now or datetime.now(UTC)).astimezone(view.tz)

    def ago() -> str:
        seconds = int((at - now).total_seconds())
        n, unit = abs(seconds), "second"
        for size, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
            if n >= size:
                n, unit = n // size, name
                break
        words = f"{n} {unit}{'s' if n != 1 else ''}"
        return f"in {words}" if seconds > 0 else f"{words} ago"

    days = (at.date() - now.date()).days
    pretty = {0: "today", -1: "yesterday", 1: "tomorrow"}.get(days, at.strftime("%b %-d"))
    parts = {
        "{ago}": ago(),
        "{date_short_pretty}": pretty,
        "{date_pretty}": pretty,
        "{date_short}": at.strftime("%b %-d"),
        "{date}": at.strftime("%B %-d"),
        "{time}": at.strftime("%H:%M"),
    }
    for token, text in parts.items():
        fmt = fmt.replace(token, text)
    return fmt


def mrkdwn_to_html(text: str, names: dict[str, str] | View) -> str:
    """Enough of Slack's mrkdwn for a readable page: links, mentions, channels, dates,
    bold, italics, code, quotes and line breaks."""
    view = names if isinstance(names, View) else View(names)
    text = _DATE.sub(lambda m: render_date(int(m.group(1)), m.group(2), view), text)
    out = html.escape(emojize(text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    out = _LINK.sub(r'<a href="\1">\2</a>', out)
    out = _MENTION.sub(
        lambda m: (
            f'<b class="mention">{m.group(1)}'
            f"{html.escape(view.names.get(m.group(2), m.group(2)))}</b>"
        ),
        out,
    )
    out = _CODE.sub(r"<code>\1</code>", out)
    out = _BOLD.sub(r"<b>\1</b>", out)
    out = _ITALIC.sub(r"<i>\1</i>", out)
    lines = out.split("\n")
    out = "<br>".join(
        f'<span class="quote">{line[5:]}</span>' if line.startswith("&gt; ") else line
        for line in lines
    )
    return out


def _button(e: dict[str, Any]) -> str:
    style = e.get("style", "")
    label = html.escape(emojize(e["text"]["text"]))
    confirm = e.get("confirm")
    tip = ""
    if confirm:
        asks = re.sub(r"<[@#]([A-Z0-9]+)>", r"@\1", confirm["text"]["text"])
        tip = f' title="{html.escape(confirm["title"]["text"] + " " + asks)}" data-confirm="1"'
    return f'<span class="btn {style}"{tip}>{label}</span>'


def _overflow(e: dict[str, Any]) -> str:
    items = "".join(f"<li>{html.escape(o['text']['text'])}</li>" for o in e.get("options", []))
    return f'<span class="btn overflow" tabindex="0">⋯<ul class="menu">{items}</ul></span>'


def blocks_to_html(blocks: Iterable[dict[str, Any]], names: dict[str, str] | View) -> str:
    view = names if isinstance(names, View) else View(names)
    parts = []
    for b in blocks:
        kind = b.get("type")
        if kind == "header":
            parts.append(f"<h3>{html.escape(emojize(b['text']['text']))}</h3>")
        elif kind == "section":
            body = f"<p>{_text(b['text'], view)}</p>" if "text" in b else ""
            if b.get("fields"):
                cells = "".join(f"<div>{_text(f, view)}</div>" for f in b["fields"])
                body += f'<div class="fields">{cells}</div>'
            acc = b.get("accessory") or {}
            if acc.get("type") == "button":
                body = f'<div class="acc">{body}<div>{_button(acc)}</div></div>'
            parts.append(body)
        elif kind == "context":
            items = " · ".join(_text(e, view) for e in b["elements"] if "text" in e)
            parts.append(f'<p class="ctx">{items}</p>')
        elif kind == "actions":
            elements = []
            for e in b["elements"]:
                if e.get("type") == "button":
                    elements.append(_button(e))
                elif e.get("type") == "overflow":
                    elements.append(_overflow(e))
            parts.append(f'<p class="actions">{"".join(elements)}</p>')
        elif kind == "divider":
            parts.append("<hr>")
        elif kind == "image":
            src, alt = html.escape(b.get("image_url", "")), html.escape(b.get("alt_text", ""))
            parts.append(f'<img src="{src}" alt="{alt}">')
    return "".join(parts)


def _text(obj: dict[str, Any], view: View) -> str:
    if obj.get("type") == "plain_text":
        return html.escape(emojize(obj["text"]))
    return mrkdwn_to_html(obj["text"], view)


def message_html(
    msg: Message,
    names: dict[str, str] | View,
    replies: Iterable[Message] = (),
    images: dict[str, str] | None = None,
) -> str:
    """One message with its thread; ``images`` maps file ids to saved image file names."""
    view = names if isinstance(names, View) else View(names)
    if msg.blocks:
        body = blocks_to_html(msg.blocks, view)
    else:
        body = f"<p>{mrkdwn_to_html(msg.text or '', view)}</p>"
    files = "".join(
        f'<img src="{html.escape((images or {})[f["id"]])}" '
        f'alt="{html.escape(f.get("alt_txt") or "")}" class="chart">'
        for f in msg.files
        if f.get("id") in (images or {})
    )
    thread = "".join(
        f'<div class="reply">{message_html(r, view, images=images)}</div>'
        for r in replies
        if r.ts != msg.ts
    )
    return f'<div class="msg">{body}{files}{thread}</div>'


STYLE = """body{font:15px/1.46 -apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;
max-width:760px;margin:2em auto;color:#1d1c1d;background:#fff}
.msg{border:1px solid #e2e2e2;border-radius:8px;padding:8px 14px;margin:10px 0}
.msg p{margin:4px 0}.reply{margin-left:24px;border-left:3px solid #e8e8e8;padding-left:8px}
h3{font-size:17px;margin:6px 0}
.fields{display:grid;grid-template-columns:1fr 1fr;gap:4px 16px;margin:4px 0}
.ctx{color:#616061;font-size:13px}.mention{color:#1264a3;background:#e8f5fa;border-radius:3px}
.quote{border-left:4px solid #ddd;padding-left:8px;display:inline-block;color:#454245}
code{font:12px Menlo,monospace;background:#f6f6f6;border:1px solid #e0e0e0;padding:0 3px}
.actions{margin:8px 0 4px}.acc{display:flex;justify-content:space-between;gap:12px}
.btn{display:inline-block;border:1px solid #bbb;border-radius:4px;padding:3px 12px;
margin-right:8px;font-weight:600;font-size:14px;position:relative}
.btn.primary{background:#007a5a;border-color:#007a5a;color:#fff}
.btn.danger{background:#e01e5a;border-color:#e01e5a;color:#fff}
.btn.overflow{padding:3px 9px}.menu{display:none;position:absolute;left:0;top:100%;
margin:2px 0;padding:4px 0;list-style:none;background:#fff;border:1px solid #ccc;
border-radius:6px;box-shadow:0 4px 12px #0002;min-width:160px;font-weight:400;z-index:2}
.menu li{padding:3px 12px}.overflow:hover .menu,.overflow:focus .menu{display:block}
h2{border-bottom:2px solid #4a154b;font-size:18px} img.chart{max-width:100%;border-radius:6px}"""

PAGE = (
    '<!doctype html><meta charset="utf-8"><title>escbot demo</title><style>'
    + STYLE.replace("{", "{{").replace("}", "}}")
    + "</style>\n<h1>escbot demo — a morning at the escalation desk</h1>{sections}"
)


def fragment_page(fragment: str) -> str:
    """One or a few messages on a page of their own, for a screenshot; the script marks
    each card with how many lines it shows before its buttons (``data-lines``)."""
    return (
        '<!doctype html><meta charset="utf-8"><style>'
        + STYLE
        + "body{margin:12px;max-width:720px}</style>"
        + f'<div id="shot">{fragment}</div>'
        + LINE_COUNTER
    )


#: Counts the visual lines of a card above its actions row, as laid out by the browser.
LINE_COUNTER = """<script>
for (const msg of document.querySelectorAll("#shot > .msg")) {
  const stop = msg.querySelector(":scope > .actions");
  const limit = stop ? stop.getBoundingClientRect().top : Infinity;
  const centres = [];
  const walker = document.createTreeWalker(msg, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim() || node.parentElement.closest(".reply, .menu")) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      if (r.height > 0 && r.top < limit) centres.push((r.top + r.bottom) / 2);
    }
  }
  centres.sort((a, b) => a - b);  // one line: centres closer than half a line apart
  msg.dataset.lines = centres.filter((c, i) => i === 0 || c - centres[i - 1] > 9).length;
}
</script>"""
