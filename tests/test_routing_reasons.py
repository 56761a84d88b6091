"""The routing reason's composition on a pod bigger than the sample config's: the card's
clause counts the commonest kinds only, and the list names the first few and how many more."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.routing.candidates import Candidate, Need, Why
from bot.routing.reasons import card_line, nobody, reason_for

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
NEED = Need("graphic_violence", "sev2")


def passed(*kinds: str) -> list[tuple[Candidate, Why]]:
    return [
        (Candidate(f"U{i}", f"Person {i}", NOW, True, None, 0, 0, 0, None), Why(kind, f"why {i}"))
        for i, kind in enumerate(kinds)
    ]


def test_a_big_pod_reads_as_the_commonest_kinds_and_a_capped_list(config) -> None:
    kinds = ("shift",) * 4 + ("away",) * 3 + ("cap",) * 2 + ("busier", "skill")
    text = reason_for(config, NEED, "Least busy (0 open)", passed(*kinds))
    line, listed = text.split("\n")
    # ten rivals (the one without the skill was never in the running), three kinds shown
    assert line == "Least busy (0 open). 10 others passed over: 4 off shift, 3 away, 2 at their cap"
    assert card_line(text) == line
    assert listed.startswith("Passed over: Person 0, why 0; Person 1, why 1;")
    assert listed.endswith("Person 7, why 7; and 3 more")


def test_one_kind_of_rival_is_said_without_a_count(config) -> None:
    text = reason_for(config, NEED, "Next in turn (2 open)", passed("turn"))
    assert card_line(text) == "Next in turn (2 open). 1 other passed over: later in turn"


def test_the_lead_has_it_because_nobody_is_free(config) -> None:
    line = nobody(config, NEED, passed("shift", "away", "skill"))
    assert (
        line
        == "Nobody who handles Graphic violence is free (1 off shift, 1 away), so the lead has it"
    )
