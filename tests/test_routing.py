"""Routing decisions on the example app.yaml: eligibility, choice, on-call, explanation.

Who is on shift (app.yaml), Thursday 2026-11-26:
- 10:00 UTC: Lucía (11:00 Madrid), Jonas (11:00 Berlin), Priya (15:30 Kolkata),
  Wanjiru (13:00 Nairobi); Marcus (05:00 New York) and Beatriz (07:00 São Paulo) are not.
- 14:00 UTC: Lucía, Jonas, Marcus (09:00), Beatriz (11:00), Wanjiru (17:00).
The primary rotation has Beatriz on call that week, Wanjiru next.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.config import AppConfig
from bot.routing.candidates import Absence, Need, Snapshot
from bot.routing.decide import LEAD, LEAST_LOADED, ONCALL, ROUND_ROBIN, decide
from bot.routing.reasons import card_line

LUCIA, JONAS, MARCUS, BEATRIZ = "U05MAD1LFZ3", "U05BER7JBK2", "U05NYC3MRD8", "U05SAO2BAL6"
ANDREA, PRIYA, WANJIRU, LEAD_ID = "U05MNL8ASN4", "U05CCU6PRM9", "U05NBO4WKM1", "U04LQ2M8RTA"
MORNING = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
AFTERNOON = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
GV_ES = Need("graphic_violence", "sev2", "es", sensitive=True)


def rows(decision) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {r["id"]: r for r in decision.audit("least_loaded")["candidates"]}


def with_routing(cfg: AppConfig, **changes) -> AppConfig:  # type: ignore[no-untyped-def]
    return cfg.model_copy(update={"routing": cfg.routing.model_copy(update=changes)})


def test_spanish_graphic_violence_goes_to_the_least_loaded_speaker_on_shift(config) -> None:
    snap = Snapshot(
        AFTERNOON,
        load={LUCIA: 4, BEATRIZ: 2, MARCUS: 0},
        open={LUCIA: 2, BEATRIZ: 1},
        sensitive_today={BEATRIZ: 2},
    )
    d = decide(config, GV_ES, snap)
    assert (d.assignee, d.via) == (BEATRIZ, LEAST_LOADED)
    assert d.reason == (
        "Least busy (1 open), speaks Spanish, on shift (11:00 in Sao Paulo), "
        "3 of 5 sensitive today. 3 others passed over: 2 without Spanish, 1 busier\n"
        "Passed over: Lucía Fernández, busier (2 open against 1); "
        "Jonas Becker, doesn't handle Graphic violence; "
        "Marcus Reed, doesn't speak Spanish, a speaker was free; "
        "Andrea Santos, doesn't handle Graphic violence; "
        "Priya Raman, doesn't handle Graphic violence; "
        "Wanjiru Kamau, doesn't speak Spanish, a speaker was free"
    )
    # the card shows the first line only: no one is named there, the skill-less not counted
    assert card_line(d.reason) == d.reason.split("\n")[0]
    table = rows(d)
    assert set(table) == {LUCIA, JONAS, MARCUS, BEATRIZ, ANDREA, PRIYA, WANJIRU}
    assert table[BEATRIZ]["chosen"] and table[BEATRIZ]["excluded"] is None
    assert table[LUCIA]["note"] == "busier (2 open against 1)"
    # lighter, but don't speak Spanish: passed over, not excluded
    assert table[MARCUS]["excluded"] is None
    assert table[MARCUS]["note"] == "doesn't speak Spanish, a speaker was free"
    assert table[JONAS]["excluded"] == "doesn't handle Graphic violence"
    assert table[ANDREA]["excluded"] == "doesn't handle Graphic violence"


def test_sensitive_cap_and_absence_and_shift_exclude_with_reasons(config) -> None:
    until = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)
    snap = Snapshot(
        AFTERNOON,
        sensitive_today={BEATRIZ: 5},
        away={WANJIRU: Absence(until, "conference")},
        load={LUCIA: 6},
        open={LUCIA: 3},
    )
    d = decide(config, GV_ES, snap)
    assert d.assignee == LUCIA
    table = rows(d)
    assert table[BEATRIZ]["excluded"] == "at their sensitive cap (5 of 5 today)"
    assert table[WANJIRU]["excluded"] == "out of office until Sun 29 Nov 02:00 in Nairobi"
    assert card_line(d.reason) == (
        "Least busy (3 open), speaks Spanish, on shift (15:00 in Madrid), 1 of 6 sensitive "
        "today. 3 others passed over: 1 without Spanish, 1 at their cap, 1 away"
    )
    assert "Beatriz Almeida, at their sensitive cap (5 of 5 today)" in d.reason
    assert "Wanjiru Kamau, out of office until Sun 29 Nov 02:00 in Nairobi" in d.reason
    morning = decide(config, GV_ES, Snapshot(MORNING))
    assert rows(morning)[MARCUS]["excluded"] == "off shift (05:00 America/New_York)"
    assert "Marcus Reed, off shift until 09:00 in New York" in morning.reason
    assert "Beatriz Almeida, off shift until 10:00 in Sao Paulo" in morning.reason


def test_without_an_eligible_speaker_the_least_loaded_other_gets_it(config) -> None:
    snap = Snapshot(AFTERNOON, sensitive_today={BEATRIZ: 5, LUCIA: 6}, load={MARCUS: 2})
    d = decide(config, GV_ES, snap)
    assert d.assignee == WANJIRU
    assert "nobody free speaks Spanish" in card_line(d.reason)


def test_required_language_excludes_non_speakers_down_to_the_lead(config) -> None:
    cfg = with_routing(config, language="required")
    snap = Snapshot(AFTERNOON, sensitive_today={BEATRIZ: 5, LUCIA: 6})
    d = decide(cfg, GV_ES, snap)
    assert (d.assignee, d.via) == (LEAD_ID, LEAD)
    assert rows(d)[MARCUS]["excluded"] == "doesn't speak Spanish"
    assert card_line(d.reason) == (
        "Nobody who handles Graphic violence is free "
        "(2 at their cap, 2 without Spanish), so the lead has it"
    )
    assert "\nConsidered: Lucía Fernández, at their sensitive cap (6 of 6 today); " in d.reason
    assert "Beatriz Almeida, at their sensitive cap (5 of 5 today)" in d.reason
    assert "Marcus Reed, doesn't speak Spanish; " in d.reason
    assert "Wanjiru Kamau, doesn't speak Spanish" in d.reason
    assert d.pointer is None


def test_oncall_severity_prefers_a_rotation_member_on_shift(config) -> None:
    """Thursday 10:00 Dublin, sev1: the on-call (Beatriz, 07:00 São Paulo) is off shift;
    the rotation goes on with Wanjiru (on shift, no Spanish) and Lucía (on shift, Spanish)."""
    sev1 = Need("graphic_violence", "sev1", "es", sensitive=True)
    d = decide(config, sev1, Snapshot(MORNING))
    assert (d.assignee, d.via) == (LUCIA, ONCALL)
    assert card_line(d.reason) == (
        "Next on call for Graphic violence, speaks Spanish, on shift (11:00 in Madrid), "
        "1 of 6 sensitive today. 3 others passed over: 2 off shift, 1 without Spanish"
    )
    assert (
        "\nPassed over: Beatriz Almeida, off shift until 10:00 in Sao Paulo; "
        "Wanjiru Kamau, doesn't speak Spanish, a speaker was free; "
        "Marcus Reed, off shift until 09:00 in New York; "
        "Jonas Becker, doesn't handle Graphic violence"
    ) in d.reason
    assert d.pointer is None  # on-call doesn't use up anyone's turn
    around = with_routing(config, oncall_hours="around_the_clock")
    d = decide(around, sev1, Snapshot(MORNING))
    assert (d.assignee, d.via) == (BEATRIZ, ONCALL)
    assert d.reason.startswith(
        "On call for Graphic violence, speaks Spanish, off shift (07:00 in Sao Paulo)"
    )
    # the shift aside, the rules hold: Beatriz has no self_harm skill
    harm = decide(around, Need("self_harm", "sev0", None, sensitive=True), Snapshot(MORNING))
    assert harm.assignee == WANJIRU and rows(harm)[BEATRIZ]["excluded"] == (
        "doesn't handle Suicide and self-harm"
    )
    assert "Passed over: Beatriz Almeida, doesn't handle Suicide and self-harm;" in harm.reason


def test_oncall_severity_at_night_goes_to_the_first_rotation_member_who_can_take_it(
    config,
) -> None:
    """Sunday 03:00 Dublin, sev0 self-harm: nobody is on shift; the on-call (Beatriz) has no
    self-harm skill, the next in the rotation (Wanjiru, 06:00 Nairobi) has."""
    sunday = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    d = decide(config, Need("self_harm", "sev0", None, sensitive=True), Snapshot(sunday))
    assert (d.assignee, d.via) == (WANJIRU, ONCALL)
    assert card_line(d.reason) == (
        "Next on call for Suicide and self-harm, off shift (06:00 in Nairobi), "
        "1 of 6 sensitive today. 2 others passed over: 1 later on call, 1 off shift"
    )
    assert "Beatriz Almeida, doesn't handle Suicide and self-harm" in d.reason
    assert "Marcus Reed, later in the on-call rotation" in d.reason
    assert "Andrea Santos, off shift until Mon 08:00 in Manila" in d.reason
    # with Wanjiru and Marcus away, nobody can: the lead, and the reasons
    away = {u: Absence(sunday.replace(day=30)) for u in (WANJIRU, MARCUS)}
    d = decide(config, Need("self_harm", "sev0", None, sensitive=True), Snapshot(sunday, away=away))
    assert d.via == LEAD
    assert card_line(d.reason) == (
        "Nobody who handles Suicide and self-harm is free (2 away, 1 off shift), so the lead has it"
    )
    assert "Wanjiru Kamau, out of office until Mon 30 Nov 06:00 in Nairobi" in d.reason


def test_ties_rotate_with_the_pointer_and_the_pointer_moves_past_the_chosen(config) -> None:
    ha = Need("hateful_activities", "sev3", None)
    first = decide(config, ha, Snapshot(MORNING, pointer=0))
    assert first.assignee == LUCIA and first.pointer == 1
    assert first.reason.startswith("Least busy, next in turn (0 open)")
    second = decide(config, ha, Snapshot(MORNING, pointer=first.pointer or 0))
    assert second.assignee == JONAS and second.pointer == 2
    # pointer 2 (Marcus, off shift): the next on shift after him is Priya (index 5)
    third = decide(config, ha, Snapshot(MORNING, pointer=2))
    assert third.assignee == PRIYA and third.pointer == 6
    # wraps around: after Wanjiru (index 6) comes Lucía again
    assert decide(config, ha, Snapshot(MORNING, pointer=7)).assignee == LUCIA


def test_round_robin_ignores_load(config) -> None:
    cfg = with_routing(config, strategy="round_robin")
    ha = Need("hateful_activities", "sev3", None)
    d = decide(cfg, ha, Snapshot(MORNING, load={JONAS: 0, LUCIA: 50}, pointer=0))
    assert (d.assignee, d.via) == (LUCIA, ROUND_ROBIN)
    assert "50" not in d.reason and d.reason.startswith("Next in turn (0 open)")
    assert {who: why.text for who, why in d.notes.items()} == {
        JONAS: "later in turn",
        PRIYA: "later in turn",
        WANJIRU: "later in turn",
    }


def test_excluded_people_are_never_chosen(config) -> None:
    d = decide(config, GV_ES, Snapshot(AFTERNOON), exclude={BEATRIZ, LUCIA})
    assert d.assignee not in {BEATRIZ, LUCIA}
    assert rows(d)[BEATRIZ]["excluded"] == "already had it"


def test_zero_cap_never_gets_sensitive_tickets(config) -> None:
    pod = config.pods["critical_harms"]
    priya = pod.member(PRIYA).model_copy(update={"skills": ("self_harm",)})
    members = tuple(priya if m.id == PRIYA else m for m in pod.members)
    cfg = config.model_copy(
        update={"pods": {"critical_harms": pod.model_copy(update={"members": members})}}
    )
    d = decide(cfg, Need("self_harm", "sev3", None, sensitive=True), Snapshot(MORNING))
    assert rows(d)[PRIYA]["excluded"] == "at their sensitive cap (0 of 0 today)"


@pytest.mark.parametrize("when", [MORNING, AFTERNOON])
def test_same_state_and_clock_same_decision(config, when: datetime) -> None:
    snap = Snapshot(when, load={LUCIA: 2, WANJIRU: 2}, pointer=3)
    assert decide(config, GV_ES, snap) == decide(config, GV_ES, snap)


def test_the_benchmark_runs_small(capsys) -> None:  # type: ignore[no-untyped-def]
    from bench import routing as bench

    bench.main(["--members", "12", "--open", "60", "--resolved", "30", "--rounds", "3", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert set(report["results"]) == {"decision (pure)", "snapshot (db)", "snapshot + decision"}
    assert report["machine"]["database"].startswith("sqlite")


# -- reasons in people's words ----------------------------------------------------------

SUNDAY_NIGHT = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
BACK = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
#: A representative set of decisions: (routing changes, need, snapshot, excluded).
SCENARIOS = {
    "least loaded, a speaker": ({}, GV_ES, Snapshot(AFTERNOON, load={LUCIA: 4, BEATRIZ: 2})),
    "caps and absence": (
        {},
        GV_ES,
        Snapshot(
            AFTERNOON, sensitive_today={BEATRIZ: 5}, away={WANJIRU: Absence(BACK, "conference")}
        ),
    ),
    "no speaker free": ({}, GV_ES, Snapshot(AFTERNOON, sensitive_today={BEATRIZ: 5, LUCIA: 6})),
    "required language to the lead": (
        {"language": "required"},
        Need("graphic_violence", "sev2", "pt", sensitive=True),
        Snapshot(MORNING),
    ),
    "portuguese, nobody on shift": (
        {},
        Need("hateful_activities", "sev2", "pt"),
        Snapshot(SUNDAY_NIGHT),
    ),
    "round robin": (
        {"strategy": "round_robin"},
        Need("hateful_activities", "sev3", "sw"),
        Snapshot(MORNING, pointer=3),
    ),
    "on call, next in rotation": (
        {},
        Need("graphic_violence", "sev1", "es", True),
        Snapshot(MORNING),
    ),
    "on call around the clock": (
        {"oncall_hours": "around_the_clock"},
        Need("graphic_violence", "sev1", "pt", True),
        Snapshot(MORNING),
    ),
    "night sev0 to a rotation member": (
        {},
        Need("self_harm", "sev0", None, True),
        Snapshot(SUNDAY_NIGHT),
    ),
    "night sev0 to the lead": (
        {},
        Need("self_harm", "sev0", None, True),
        Snapshot(SUNDAY_NIGHT, away={u: Absence(BACK) for u in (WANJIRU, MARCUS)}),
    ),
}


def _scenario(config: AppConfig, name: str):  # type: ignore[no-untyped-def]
    changes, need, snap = SCENARIOS[name]
    return decide(with_routing(config, **changes), need, snap)


def config_ids(config: AppConfig) -> list[str]:
    """What a reason must never show: ids of areas, languages, severities and strategies,
    zone names, Slack user ids."""
    ids = [k for k in config.policy_areas if "_" in k] + list(config.severities)
    ids += ["least_loaded", "round_robin", "oncall", "Sao_Paulo", "/"]
    ids += [m.id for pod in config.pods.values() for m in pod.members]
    return ids


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_reasons_shown_to_people_carry_no_config_ids(config, name: str) -> None:
    import re

    d = _scenario(config, name)
    codes = {c for pod in config.pods.values() for m in pod.members for c in m.languages}
    shown = [d.reason, *(c.why_not().text for c in d.candidates if c.why_not())]  # type: ignore[union-attr]
    for text in shown:
        assert not [i for i in config_ids(config) if i in text], text
        assert not re.search(rf"\b({'|'.join(codes)})\b", text), text
    line = card_line(d.reason)
    # one line on the card: nobody named there, at most one clause of who else
    assert line.count("passed over") <= 1 and "\n" not in line
    assert not any(c.name in line for c in d.candidates), line
    assert len(line) <= 170, line


def test_a_tie_goes_to_the_next_in_turn_and_the_other_is_told_so(config) -> None:  # type: ignore[no-untyped-def]
    snap = Snapshot(AFTERNOON, load={LUCIA: 2, BEATRIZ: 2, MARCUS: 0}, open={LUCIA: 1, BEATRIZ: 1})
    d = decide(config, GV_ES, snap)
    assert (d.assignee, d.via) == (LUCIA, LEAST_LOADED)
    assert d.reason.startswith("Least busy, next in turn (1 open), speaks Spanish")
    assert d.notes[BEATRIZ].text == "as busy, later in turn" and LUCIA not in d.notes
    assert not d.to_lead
    night = decide(config, GV_ES, Snapshot(datetime(2026, 11, 26, 2, 0, tzinfo=UTC)))
    assert (night.assignee, night.via, night.to_lead) == (LEAD_ID, LEAD, True)


def test_an_urgent_ticket_with_the_rotation_off_shift_goes_to_someone_on_shift(config) -> None:  # type: ignore[no-untyped-def]
    """prefer_on_shift: the rotation is passed over for being off shift, not for not being
    on call (that reading is around_the_clock's)."""
    night = Snapshot(datetime(2026, 11, 26, 3, 0, tzinfo=UTC))  # 11:00 in Manila
    d = decide(config, Need("hateful_activities", "sev0", None), night)
    assert (d.assignee, d.via) == (ANDREA, LEAST_LOADED)
    assert card_line(d.reason) == (
        "Least busy (0 open), on shift (11:00 in Manila). 5 others passed over: off shift"
    )
