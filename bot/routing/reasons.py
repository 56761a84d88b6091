"""The routing reason, in people's words: the card's line and who was passed over.

Never in config ids: policy areas by title, languages by name, people by their roster
name, time zones by city. The first line is the card's: the choice (worded by
``bot.routing.decide``) and who else could have had it in one clause ("Least busy
(1 open), speaks Spanish, on shift (11:00 in Madrid). 2 others passed over: off shift");
the second names everyone passed over and why ("Passed over: Ana Silva, off shift until
09:00 in Lisbon; …"), for the owner's DM and the thread (:func:`card_line` cuts it for
the card). Each rule words its own refusal (:func:`bot.routing.candidates.assess`, the
strategy's notes); this module counts and lists them.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.config import AppConfig
from bot.routing.candidates import Candidate, Need, Why

#: How many passed-over people the reason names before "and n more".
PASSED_SHOWN = 8
#: How many kinds of "passed over" the card's clause counts ("2 off shift, 1 away").
KINDS_SHOWN = 3


def card_line(reason: str) -> str:
    """The card's part of a stored routing reason: its first line (the rest, the full
    passed-over list, is for the owner's DM and the thread)."""
    return reason.split("\n", 1)[0]


def passed_over(
    people: list[Candidate],
    rota: list[Candidate],
    chosen: str | None,
    notes: Mapping[str, Why],
    around: bool,
) -> list[tuple[Candidate, Why]]:
    """Every member but the chosen and why they weren't, the on-call rotation first and
    in its order."""
    in_rota = {c.id for c in rota}
    ordered = rota + [c for c in people if c.id not in in_rota]
    out = []
    for c in ordered:
        if c.id == chosen:
            continue
        why = c.why_not(shift_matters=not (around and c.id in in_rota)) or notes.get(c.id)
        out.append((c, why or Why("off_rota", "not on the on-call rotation")))
    return out


def named(label: str, passed: list[tuple[Candidate, Why]]) -> str:
    """ "Passed over: Ana Silva, off shift until 09:00 in Lisbon; Jonas Becker, …": the
    owner's DM and the thread."""
    shown = [f"{c.name}, {why.text}" for c, why in passed[:PASSED_SHOWN]]
    more = f"; and {len(passed) - PASSED_SHOWN} more" if len(passed) > PASSED_SHOWN else ""
    return f"{label}: {'; '.join(shown)}{more}" if shown else ""


def _short(cfg: AppConfig, need: Need, kind: str) -> str:
    """A kind of "passed over" in a few words, to be counted: "2 off shift"."""
    if kind in ("language", "speakers"):
        return f"without {cfg.language_name(need.language or '')}"
    return _SHORT.get(kind, kind)


_SHORT = {
    "tried": "already had it",
    "away": "away",
    "left": "left the desk",
    "cap": "at their cap",
    "shift": "off shift",
    "busier": "busier",
    "turn": "later in turn",
    "rotation": "later on call",
    "off_rota": "not on call",
}


def _counted(cfg: AppConfig, need: Need, whys: list[Why]) -> str:
    """ "off shift" when all are alike, else "2 off shift, 1 away" (the commonest kinds)."""
    counts: dict[str, int] = {}
    for why in whys:
        label = _short(cfg, need, why.kind)
        counts[label] = counts.get(label, 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:KINDS_SHOWN]
    return ", ".join(f"{n} {label}" for label, n in top)


def reason_for(cfg: AppConfig, need: Need, head: str, passed: list[tuple[Candidate, Why]]) -> str:
    """The card's line (the choice, and who else could have had it in one clause), then
    the full list. Members who don't handle the area were never in the running: only the
    list names them."""
    rivals = [why for _, why in passed if why.kind != "skill"]
    line = head
    if rivals:
        n = len(rivals)
        line += f". {n} other{'s' if n != 1 else ''} passed over: {_counted(cfg, need, rivals)}"
    listed = named("Passed over", passed)
    return f"{line}\n{listed}" if listed else line


def nobody(
    cfg: AppConfig,
    need: Need,
    passed: list[tuple[Candidate, Why]],
    holder: str = "the lead has it",
) -> str:
    """Why the lead (or ``holder``, their stand-in) has it, in one line: "Nobody on shift
    speaks Portuguese, so the lead has it"."""
    area = cfg.area_title(need.area)
    whys = [why for _, why in passed if why.kind not in ("skill", "tried")]
    kinds = {why.kind for why in whys}
    language = cfg.language_name(need.language or "")
    if not whys:
        other = " else" if any(why.kind == "tried" for _, why in passed) else ""
        head = f"Nobody{other} in the pod handles {area}"
    elif kinds == {"language"}:
        head = f"Nobody who handles {area} speaks {language}"
    elif kinds == {"language", "shift"}:
        head = f"Nobody on shift speaks {language}"
    elif kinds == {"shift"}:
        head = f"Nobody who handles {area} is on shift"
    else:
        head = f"Nobody who handles {area} is free ({_counted(cfg, need, whys)})"
    return f"{head}, so {holder}"
