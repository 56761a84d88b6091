"""``config_summary``: what ``escbot check-config`` prints, so a deployer can see at a
glance that the bot understood the file the way they meant it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time

from bot.config.durations import format_duration
from bot.config.fields import WEEKDAYS
from bot.config.model import AppConfig
from bot.config.roster import Calendar, Hours


def _days(days: Sequence[str]) -> str:
    """``mon tue wed thu fri`` -> ``mon-fri``; sets with gaps stay listed."""
    idx = {WEEKDAYS.index(d) for d in days}
    for first in sorted(idx):  # a run may wrap past Sunday: sun-thu
        run = [(first + k) % 7 for k in range(len(idx))]
        if len(idx) > 2 and set(run) == idx:
            return f"{WEEKDAYS[run[0]]}-{WEEKDAYS[run[-1]]}"
    return ",".join(WEEKDAYS[i] for i in sorted(idx))


def _hours(hours: Hours) -> str:
    def hhmm(t: time) -> str:
        return t.strftime("%H:%M")

    return f"{_days(hours.days)} {hhmm(hours.start)}-{hhmm(hours.end)}"


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))] if rows else []
    return [
        indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _days_off(cal: Calendar) -> str:
    """``, public holidays of IE, 1 extra holiday`` (nothing when there are none)."""
    parts = [f"public holidays of {cal.country}"] if cal.country else []
    if cal.subdivision:
        parts[0] += f" ({cal.subdivision})"
    if cal.extra_holidays:
        parts.append(
            _plural(len(cal.extra_holidays), "extra holiday" if cal.country else "holiday")
        )
    if cal.not_holidays:
        parts.append(f"{_plural(len(cal.not_holidays), 'day')} not taken off")
    return "".join(f", {p}" for p in parts)


def config_summary(cfg: AppConfig) -> str:
    """A short, human summary of ``cfg``: one line per area, severity, pod and digest."""
    ws = cfg.workspace
    cal = ws.calendar
    out = [f"escbot configuration{f' from {cfg.source}' if cfg.source else ''}"]
    out.append(
        f"team: time zone {ws.timezone}, intake channel {ws.intake_channel}, "
        f"{_plural(len(ws.admins), 'admin')}"
    )
    out.append(
        f"business hours: {_hours(cal)} {ws.timezone}"
        f" (a working day is {format_duration(cal.working_day)})" + _days_off(cal)
    )

    out.append(f"policy areas ({len(cfg.policy_areas)}):")
    out += _table(
        [
            [
                name,
                area.title,
                "[sensitive]" if area.sensitive else "",
                f"pod {area.pod}",
                _plural(len(cfg.specialists_for(name)), "specialist"),
            ]
            for name, area in cfg.policy_areas.items()
        ]
    )

    out.append("severities (TTA = time to acknowledge, TTR = time to resolve):")
    out += _table(
        [
            [
                name,
                sev.title,
                f"TTA {sev.spell('ack_within')}",
                f"TTR {sev.spell('resolve_within')}",
                "business hours" if sev.business_hours else "24x7",
            ]
            for name, sev in cfg.severities.items()
        ]
    )
    out.append(f"  at risk at {cfg.sla.at_risk_fraction:.0%} of a target")

    out.append(f"pods ({len(cfg.pods)}):")
    for name, pod in cfg.pods.items():
        lead = "member" if pod.member(pod.lead) else "not a member"
        zones = sorted({m.timezone for m in pod.members})
        out.append(
            f"  {name}: {pod.title}, {_plural(len(pod.members), 'member')} in "
            f"{_plural(len(zones), 'time zone')}, lead {pod.lead} ({lead})"
        )
        out += _table(
            [
                [
                    m.id,
                    m.name,
                    m.timezone,
                    _hours(m.hours),
                    "/".join(m.languages),
                    ",".join(m.skills) or "(no skills)",
                    ""
                    if m.max_sensitive_per_day is None
                    else f"sensitive cap {m.max_sensitive_per_day}/day",
                ]
                for m in pod.members
            ],
            indent="    ",
        )
        for rname, rot in pod.rotations.items():
            mark = " (on call)" if rname == pod.oncall_rotation else ""
            out.append(
                f"    rotation {rname}{mark}: {len(rot.members)} in turn, "
                f"handoff {rot.handoff} every {format_duration(rot.every)} from {rot.start}"
            )

    r = cfg.routing
    out.append(
        f"routing: {r.strategy}, language {r.language}, on call for "
        f"{','.join(r.oncall_severities) or 'nothing'} ({r.oncall_hours.replace('_', ' ')}), "
        f"escalation "
        f"{' -> '.join(r.escalation_chain)}"
    )
    if cfg.vendors:
        out.append(
            f"vendors ({len(cfg.vendors)}): "
            + ", ".join(
                f"{key} ({v.name}, target {v.quality_target:.0%})" for key, v in cfg.vendors.items()
            )
        )
    out.append(
        f"follow-ups: {', '.join(cfg.followups.kinds)}; reminded "
        f"{format_duration(cfg.followups.remind_before)} before due, then every "
        f"{format_duration(cfg.followups.overdue_every)} when overdue"
    )

    out.append(f"digests ({len(cfg.digests)}):" if cfg.digests else "digests: none")
    out += _table(
        [
            [
                d.name,
                d.cron,
                cfg.digest_tz(d).key,
                f"-> {d.channel}",
                f"per {d.period}",
                ",".join(d.sections) + ("" if d.chart else " (no chart)"),
            ]
            for d in cfg.digests
        ]
    )
    return "\n".join(out)
