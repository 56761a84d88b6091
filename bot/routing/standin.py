"""Who has what would go to a pod's lead: the lead, or a stand-in while the lead is away.

Routing's fallback and the escalation chain's ``lead`` step both end here. While the
lead is out of office (``/escalate ooo``), the pod's ``deputy`` has it; with no deputy,
or the deputy away too, the first of the workspace's admins who is not away. With
everyone away the lead keeps it: somebody must, and the lead is who the pod names.
Pure: absences come from the routing snapshot, so the answer is the same for the same
state and clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.config import AppConfig
from bot.config.roster import Pod
from bot.routing.candidates import Absence


@dataclass(frozen=True)
class StandIn:
    """Who has it and, when it isn't the lead, why (plain text for the card)."""

    user: str
    why: str | None = None

    @property
    def phrase(self) -> str:
        """How the card's routing line ends: "so the deputy has it (the lead is …)"."""
        if self.why is None:
            return "the lead has it"
        return self.why


def people(cfg: AppConfig, pod: Pod) -> tuple[str, ...]:
    """Everyone who may stand in for ``pod``'s lead, lead first: whose absences matter."""
    deputy = (pod.deputy,) if pod.deputy else ()
    return tuple(dict.fromkeys((pod.lead, *deputy, *cfg.workspace.admins)))


def lead_now(cfg: AppConfig, pod: Pod, away: Mapping[str, Absence]) -> StandIn:
    """The lead, or who stands in for them given who is ``away`` now."""
    absent = away.get(pod.lead)
    if absent is None:
        return StandIn(pod.lead)
    until = absent.until.astimezone(_zone(cfg, pod.lead))
    out = (
        "the lead has left the desk"
        if absent.left
        else f"the lead is out of office until {until:%a %d %b %H:%M}"
    )
    if pod.deputy and pod.deputy not in away:
        return StandIn(pod.deputy, f"the deputy has it ({out})")
    reason = "and so is the deputy" if pod.deputy else "and the pod has no deputy"
    admin = next((a for a in cfg.workspace.admins if a not in away and a != pod.lead), None)
    if admin is None:
        return StandIn(pod.lead)
    return StandIn(admin, f"an admin has it ({out}, {reason})")


def _zone(cfg: AppConfig, user: str) -> ZoneInfo:
    member = cfg.member(user)
    return member.tz if member is not None else cfg.team_tz
