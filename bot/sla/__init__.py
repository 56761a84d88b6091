"""SLA clocks: time to acknowledge (TTA) and time to resolve (TTR) per severity.

The package's modules, lowest first (each imports only the ones above it):

- :mod:`bot.sla.calendar`: pure maths: which seconds count (24x7 or the team calendar's
  business hours), targets and at-risk thresholds in those seconds, spans as people read them;
- :mod:`bot.sla.clocks`: where a ticket's clocks stand (used, due, breached, at risk) and
  the books kept on them (pauses, measured times, breaches, the kept ``resolutions``);
- :mod:`bot.sla.notices`: the card's and App Home's words for a clock, and the at-risk and
  breach notices;
- :mod:`bot.sla.timers`: :func:`sync`, and the timers that fire those notices on time.

Code outside the package uses the names below (``from bot import sla``; ``sla.sync``).
A ticket stores no due time: due times are derived from its opening, its severity and its
pauses (``bot.sla.clocks.deadline``, which the card and App Home read when they render),
and the pending timers are their only copy. So whatever changes one of those (a new
severity included) calls :func:`sync` in its transaction, which replaces the timers at
the due times derived afresh.
"""

from bot.sla.calendar import CLOCKS, TTA, TTR, clock_for, target_seconds
from bot.sla.clocks import at_risk_now, due, pause_while_resolved, remeasure_pauses
from bot.sla.notices import CLOCK_NAMES, describe, standing
from bot.sla.timers import TIMER_KIND, make_timer_handler, sync

__all__ = [
    "CLOCKS",
    "CLOCK_NAMES",
    "TIMER_KIND",
    "TTA",
    "TTR",
    "at_risk_now",
    "clock_for",
    "describe",
    "due",
    "make_timer_handler",
    "pause_while_resolved",
    "remeasure_pauses",
    "standing",
    "sync",
    "target_seconds",
]
