"""Jinja2 Block Kit templates → Slack payloads.

Templates live in ``templates/*.json.j2`` and produce JSON. The environment is
strict (a missing variable is an error, not an empty string) and offers the
filters that keep user text harmless and within limits:

- ``mrkdwn``: escape for mrkdwn fields (no pings, no forged links)
- ``plain``: clean for plain_text fields
- ``trunc(n)``: at most n characters
- ``json``: a JSON string literal (use it last on every interpolated value)
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.core import text, timefmt
from bot.core.blockkit import fit

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


class Renderer:
    def __init__(self, tz: ZoneInfo, template_dir: Path = TEMPLATES) -> None:
        self.tz = tz
        self.env = Environment(
            loader=FileSystemLoader(str(template_dir)),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # Templates ship with the code: don't stat() the file on every render.
            auto_reload=False,
        )
        self.env.filters.update(
            mrkdwn=text.mrkdwn,
            plain=text.plain,
            trunc=text.truncate,
            one_line=text.one_line,
            json=lambda v: json.dumps(v, ensure_ascii=False),
            when=self.when,
            zoned=self.zoned,
            duration=timefmt.duration,
        )

    def when(self, value: datetime | None, fmt: str = "%a %d %b %H:%M") -> str:
        """A time as a ``<!date^…>`` token (each viewer's own zone; mrkdwn only), with a
        fallback in the team's zone formatted by ``fmt`` and named in full. A ``fmt``
        without a time of day is a date, written as the team's calendar has it."""
        if value is None:
            return "—"
        if "%H" not in fmt:
            return value.astimezone(self.tz).strftime(fmt)
        return timefmt.slack_date(value, self.tz, fmt)

    def zoned(self, value: datetime | None, fmt: str = "%a %d %b %H:%M") -> str:
        """A time as text in the team's zone, named in full (for plain_text and files)."""
        return "—" if value is None else timefmt.zoned(value, self.tz, fmt)

    def render(self, name: str, **context: Any) -> dict[str, Any]:
        """Render ``templates/<name>.json.j2`` and parse it; blocks are fitted to limits."""
        raw = self.env.get_template(f"{name}.json.j2").render(**context)
        try:
            payload: dict[str, Any] = json.loads(raw)
        except json.JSONDecodeError as exc:  # a template bug, never user input
            raise ValueError(f"template {name} produced invalid JSON: {exc}") from exc
        surface = (
            "modal"
            if payload.get("type") == "modal"
            else ("home" if payload.get("type") == "home" else "message")
        )
        if "blocks" in payload:
            payload["blocks"] = fit(payload["blocks"], surface)
        return payload
