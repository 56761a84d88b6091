"""KPI aggregation for digests, in SQL: one module per kind of figure.

Every query is bounded by the period (an index range on ``created_at``,
``acked_at``, ``resolved_at``, ``at``…) or by the small set of open rows, so a
digest costs the same whatever the length of the history. Python only sees
aggregates and the few tickets a digest links to.

Figures of a past period never move: acknowledgements are counted by the
ticket's *first* acknowledgement (``first_acked_at``, never cleared),
resolutions by the append-only ``resolutions`` rows (each resolution in the
period it happened, measured then; a reopen doesn't remove it), and what was
open or overdue is read *as of* the period's end, rewinding today's state by
the audit events since. So a digest, or ``escbot digest --period`` for a past
day, says the same before and after any later reassign, reopen or resolve.

The parts: ``window`` (the time range every aggregate is bounded by), ``refs`` (the
tickets a number links to), ``clocks`` (where each SLA clock's stops are recorded),
``flow`` (new, resolved, reopened), ``as_of`` (open at an instant: the backlog),
``turnaround`` (nearest-rank percentiles), ``attainment`` (each SLA clock once: on time, missed),
``vendors`` (vendor verdicts), ``remediation`` (follow-ups), ``series`` (the chart's
days). Callers use the names below; the parts import one another directly.
"""

from bot.reporting.kpi.as_of import Backlog, backlog, open_at
from bot.reporting.kpi.attainment import Attainment, Breach, Sla, sla
from bot.reporting.kpi.clocks import CLOCKS, TTA, TTR, Stops
from bot.reporting.kpi.flow import Split, Volumes, volumes
from bot.reporting.kpi.refs import Refs, TicketRef, most_urgent, ref_columns, refs_of, ticket_refs
from bot.reporting.kpi.remediation import Followups, OverdueFollowup, followups
from bot.reporting.kpi.series import Daily, daily
from bot.reporting.kpi.turnaround import (
    Percentiles,
    nearest_rank,
    percentiles,
    tta_percentiles,
    ttr_percentiles,
)
from bot.reporting.kpi.vendors import VendorQuality, vendor_quality, wilson
from bot.reporting.kpi.window import Window

__all__ = [
    "CLOCKS",
    "TTA",
    "TTR",
    "Attainment",
    "Backlog",
    "Breach",
    "Daily",
    "Followups",
    "OverdueFollowup",
    "Percentiles",
    "Refs",
    "Sla",
    "Split",
    "Stops",
    "TicketRef",
    "VendorQuality",
    "Volumes",
    "Window",
    "backlog",
    "daily",
    "followups",
    "most_urgent",
    "nearest_rank",
    "open_at",
    "percentiles",
    "ref_columns",
    "refs_of",
    "sla",
    "ticket_refs",
    "tta_percentiles",
    "ttr_percentiles",
    "vendor_quality",
    "volumes",
    "wilson",
]
