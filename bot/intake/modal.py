"""The intake modal, out and back: building it, and reading a submission.

``/escalate [text]`` and the message shortcut open the same modal, prefilled
(:class:`Prefill`); where it was opened from travels in the view's
``private_metadata`` (:class:`Origin`), signed (:mod:`bot.core.sealed`): a
changed one is refused. :func:`read` turns a submission into a
:class:`~bot.intake.draft.Draft` or into errors shown under the offending fields
(``response_action: errors``) — never an exception, never a silent close. The
limits a submission is read with are the ones the modal declares, so both are here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.config import AppConfig
from bot.core import forms
from bot.core.render import Renderer
from bot.core.text import clean, one_line
from bot.intake import content
from bot.intake.draft import Draft

INTAKE_VIEW = "escalate_intake"
DETAILS_MAX = 3000  # Slack's plain_text_input limit
REQUESTED_ACTION_MAX = 300
PERMALINK_MAX = 500


@dataclass(frozen=True)
class Origin:
    """Where the modal was opened: the channel (for the ephemeral answer) and, for
    the message shortcut, the escalated message's permalink."""

    channel: str | None = None
    permalink: str | None = None

    def encode(self) -> str:
        data = {"c": self.channel, "p": self.permalink}
        return json.dumps({k: v for k, v in data.items() if v}, separators=(",", ":"))

    @classmethod
    def of(cls, channel: str | None, permalink: str | None = None) -> Origin:
        """Ids and links as Slack sent them; a link too long to keep is dropped."""
        keep = permalink if permalink and len(permalink) <= PERMALINK_MAX else None
        return cls(channel=channel[:32] if channel else None, permalink=keep)

    @classmethod
    def decode(cls, data: dict[str, Any]) -> Origin:
        return cls.of(data.get("c"), data.get("p"))


@dataclass(frozen=True)
class Prefill:
    summary: str = ""
    details: str = ""
    content: str = ""

    @classmethod
    def from_text(cls, cfg: AppConfig, text: str) -> Prefill:
        """``/escalate <text>``: the summary; a text too long for it also fills the details."""
        line = one_line(clean(text))
        if len(line) <= cfg.intake.summary_max:
            return cls(summary=line)
        return cls(summary=line[: cfg.intake.summary_max], details=clean(text)[:DETAILS_MAX])

    @classmethod
    def from_message(cls, text: str, permalink: str | None) -> Prefill:
        return cls(details=clean(text)[:DETAILS_MAX], content=permalink or "")


@dataclass
class Submission:
    draft: Draft | None
    errors: dict[str, str] = field(default_factory=dict)
    origin: Origin = field(default_factory=Origin)


def options(mapping: dict[str, str]) -> list[dict[str, str]]:
    return [{"value": key, "text": text} for key, text in mapping.items()]


def severity_option(cfg: AppConfig, key: str) -> dict[str, str]:
    """A severity as a select option: "SEV2 · Medium: …" as its label, the SLA in its
    ``description`` ("Acknowledge within 4 working hours · resolve within 2 working days"),
    so a long title is what gets cut at Slack's 75 characters, never the SLA."""
    sev = cfg.severities[key]
    ack, resolve = sev.spell("ack_within"), sev.spell("resolve_within")
    return {
        "value": key,
        "text": f"{key.upper()} · {sev.title}",
        "description": f"Acknowledge within {ack} · resolve within {resolve}",
    }


def modal_context(cfg: AppConfig, prefill: Prefill, origin: Origin) -> dict[str, Any]:
    defaults = cfg.intake.defaults
    areas = {
        key: f"{area.title} (sensitive)" if area.sensitive else area.title
        for key, area in cfg.policy_areas.items()
    }
    return {
        "callback_id": INTAKE_VIEW,
        "metadata": origin.encode(),
        "summary_max": cfg.intake.summary_max,
        "details_max": DETAILS_MAX,
        "requested_action_max": REQUESTED_ACTION_MAX,
        "prefill": prefill,
        "areas": options(areas),
        "area": defaults.policy_area,
        "severities": [severity_option(cfg, k) for k in cfg.severities],
        "severity": defaults.severity,
        "regions": options(cfg.intake.regions),
        "region": defaults.region,
        "languages": options(cfg.intake.languages),
        "language": defaults.language,
        "source_teams": options(cfg.intake.source_teams),
        "vendors": options({key: v.name for key, v in cfg.vendors.items()}),
        "id_examples": ", ".join(content.id_examples(cfg.intake.content_id_patterns)),
        "content_max": cfg.limits.content_items,
    }


def modal(renderer: Renderer, cfg: AppConfig, prefill: Prefill, origin: Origin) -> dict[str, Any]:
    return renderer.render("intake_modal", **modal_context(cfg, prefill, origin))


# -- reading a submission --------------------------------------------------------------


def request_key(view: dict[str, Any]) -> str:
    """One outcome per modal: its submission and the buttons of its duplicate choice
    share the key, and a view id is never reused by Slack."""
    return f"view:{view['id']}"


def read(
    cfg: AppConfig, view: dict[str, Any], now: datetime, origin: Origin | None = None
) -> Submission:
    """The submitted modal as a Draft, or the errors to show under its fields.

    ``origin`` is what the view's signed private_metadata said (:func:`submit_view`).
    """
    origin = origin or Origin()
    values = forms.values(view)
    present = {b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"}
    errors: dict[str, str] = {}
    summary = one_line(clean(values.get("summary")))
    if not summary:
        errors["summary"] = "Write a one-line summary of what is happening."
    elif len(summary) > cfg.intake.summary_max:
        errors["summary"] = (
            f"Keep the summary to {cfg.intake.summary_max} characters (it has {len(summary)}); "
            "put the rest in the details."
        )
    intake_cfg = cfg.intake
    picks = {
        "policy_area": _pick(values, "policy_area", cfg.policy_areas, "a policy area", errors),
        "severity": _pick(values, "severity", cfg.severities, "a severity", errors),
        "region": _pick(values, "region", intake_cfg.regions, "a region", errors),
        "language": _pick(values, "language", intake_cfg.languages, "a language", errors),
        "source_team": _pick(values, "source_team", intake_cfg.source_teams, "a team", errors),
        "vendor": _pick(values, "vendor", cfg.vendors, "a vendor", errors, optional=True),
    }
    parsed = content.parse(
        values.get("content"), intake_cfg.content_id_patterns, cfg.limits.content_items
    )
    if parsed.problems:
        errors["content"] = _content_error(cfg, parsed.problems)
    requested = one_line(clean(values.get("requested_action")))
    if len(requested) > REQUESTED_ACTION_MAX:
        errors["requested_action"] = f"Keep it to {REQUESTED_ACTION_MAX} characters."
    details = clean(values.get("details")).strip()
    if len(details) > DETAILS_MAX:
        errors["details"] = f"Keep the details to {DETAILS_MAX} characters."
    deadline = _deadline(view)
    if deadline is not None and deadline <= now:
        errors["deadline"] = "That deadline has passed: pick a time in the future, or none."
    errors = {k: v for k, v in errors.items() if k in present}
    if errors or not picks["policy_area"] or not picks["severity"] or not summary:
        return Submission(None, errors or {"summary": "Fill in the form."}, origin)
    draft = Draft(
        summary=summary,
        details=details,
        content=tuple(ref.raw for ref in parsed.refs),
        requested_action=requested or None,
        deadline=deadline,
        source_channel=origin.channel,
        source_permalink=origin.permalink,
        **picks,  # type: ignore[arg-type]
    )
    return Submission(draft, {}, origin)


def _pick(
    values: dict[str, Any],
    block: str,
    known: dict[str, Any],
    what: str,
    errors: dict[str, str],
    *,
    optional: bool = False,
) -> str | None:
    """A select's value if it is one we offered (a tampered payload can send anything)."""
    value = values.get(block)
    if value is None:
        if not optional and known:
            errors[block] = f"Pick {what}."
        return None
    if value not in known:
        errors[block] = f"Pick {what} from the list."
        return None
    return str(value)


def _content_error(cfg: AppConfig, problems: list[str]) -> str:
    shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if problems[3:] else "")
    examples = ", ".join(content.id_examples(cfg.intake.content_id_patterns))
    accepted = f"http(s) links or ids like {examples}" if examples else "http(s) links"
    return f"One per line, {accepted}. {shown[:1].upper()}{shown[1:]}"[:500]


def _deadline(view: dict[str, Any]) -> datetime | None:
    entry = view.get("state", {}).get("values", {}).get("deadline", {}).get("deadline") or {}
    stamp = entry.get("selected_date_time")
    if stamp in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(int(stamp), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.min.replace(tzinfo=UTC)  # nonsense reads as "in the past"
