"""Who reads a digest's channel, and what a public digest leaves out.

A private channel is the desk's (``internal``): the digest shows everything. Anyone in
the workspace can open a public channel, partners included, so a ``public`` digest shows
keys, counts and policy areas: never the summary of a sensitive ticket, the summaries of
the others only with ``summaries: true``, and no reported content (repeated content
items, the calibration set's most disagreed decisions). The report is filtered before it
is laid out, so no template has to remember it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from bot.config.model import Digest
from bot.reporting.kpi import TicketRef
from bot.reporting.report import Report

Audience = Literal["internal", "public"]
INTERNAL: Audience = "internal"
PUBLIC: Audience = "public"
WITHHELD = "withheld: public channel"


def audience_of(digest: Digest, private_channels: set[str]) -> Audience:
    """The digest's own ``audience``, else ``internal`` for a channel known to be private
    and ``public`` for every other (a channel escbot could not check counts as public)."""
    if digest.audience is not None:
        return digest.audience
    return INTERNAL if digest.channel in private_channels else PUBLIC


def for_audience(report: Report, audience: Audience, *, summaries: bool = False) -> Report:
    """``report`` as ``audience`` may read it."""
    if audience == INTERNAL:
        return report

    def ref(r: TicketRef) -> TicketRef:
        return r if summaries and not r.sensitive else replace(r, summary="")

    changes: dict[str, object] = {}
    if report.backlog is not None:
        changes["backlog"] = replace(
            report.backlog, oldest=tuple(ref(r) for r in report.backlog.oldest)
        )
    if report.repeats is not None:
        top = tuple(replace(r, normalized=WITHHELD, kind="withheld") for r in report.repeats.top)
        changes["repeats"] = replace(report.repeats, top=top)
    qa = report.qa
    if qa is not None and qa.calibrations:
        withheld = tuple(
            replace(c, disagreed=tuple(replace(d, content_ref=WITHHELD) for d in c.disagreed))
            for c in qa.calibrations
        )
        changes["qa"] = replace(qa, calibrations=withheld)
    return replace(report, **changes)  # type: ignore[arg-type]
