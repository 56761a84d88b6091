"""Property tests of routing (hypothesis) on generated pods, checked against an oracle.

The oracle restates the eligibility rules from app.yaml's documentation in the
plainest way, independently of ``bot.routing.decide``; the simulations route many
tickets in a row, updating the snapshot the way the database would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import AppConfig
from bot.routing.candidates import Absence, Need, Snapshot
from bot.routing.decide import LEAD, ONCALL, decide, in_scope

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # a Thursday
AREAS = ("hate", "gore")  # gore is sensitive
LANGS = ("en", "es", "pt")
ALWAYS = {
    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "start": "00:00",
    "end": "23:59",
}
NEVER = {"days": ["sat"], "start": "09:00", "end": "10:00"}
SEVS = ("sev0", "sev1", "sev2", "sev3")


def make_config(members: list[dict[str, Any]], **routing: Any) -> AppConfig:
    ids = [m["id"] for m in members]
    return AppConfig.model_validate(
        {
            "workspace": {"intake_channel": "C0INTAKE", "timezone": "Europe/Dublin"},
            "policy_areas": {
                "hate": {"title": "Hate", "pod": "pod"},
                "gore": {"title": "Gore", "pod": "pod", "sensitive": True},
            },
            "severities": {
                s: {"title": s, "ack_within": "30m", "resolve_within": "8h"} for s in SEVS
            },
            "pods": {
                "pod": {
                    "title": "Pod",
                    "lead": "U0LEAD",
                    "members": members,
                    "rotations": {"primary": {"members": ids, "start": "2025-01-06"}},
                    "oncall_rotation": "primary",
                }
            },
            "routing": routing,
        }
    )


@st.composite
def members(draw: st.DrawFn, min_size: int = 1) -> list[dict[str, Any]]:
    n = draw(st.integers(min_size, 7))
    out = []
    for i in range(n):
        out.append(
            {
                "id": f"U{i:03d}",
                "name": f"Member {i}",
                "skills": draw(st.lists(st.sampled_from(AREAS), unique=True)),
                "languages": draw(st.lists(st.sampled_from(LANGS), min_size=1, unique=True)),
                "timezone": draw(st.sampled_from(["UTC", "Asia/Manila", "America/Lima"])),
                "hours": draw(st.sampled_from([ALWAYS, ALWAYS, NEVER])),
                "max_sensitive_per_day": draw(st.one_of(st.none(), st.integers(0, 3))),
            }
        )
    return out


@st.composite
def situations(draw: st.DrawFn) -> tuple[AppConfig, Need, Snapshot]:
    people = draw(members())
    ids = [m["id"] for m in people]
    cfg = make_config(
        people,
        strategy=draw(st.sampled_from(["least_loaded", "round_robin"])),
        language=draw(st.sampled_from(["preferred", "required"])),
    )
    area = draw(st.sampled_from(AREAS))
    need = Need(
        area,
        draw(st.sampled_from(SEVS)),
        draw(st.sampled_from([None, *LANGS])),
        sensitive=area == "gore",
    )
    per_member = st.dictionaries(st.sampled_from(ids), st.integers(0, 5))
    away_ids = draw(st.lists(st.sampled_from(ids), unique=True))
    snap = Snapshot(
        NOW,
        load=draw(per_member),
        open=draw(per_member),
        sensitive_today=draw(per_member),
        away={u: Absence(NOW + timedelta(days=1)) for u in away_ids},
        pointer=draw(st.integers(0, 20)),
    )
    return cfg, need, snap


def eligible(cfg: AppConfig, m: Any, need: Need, snap: Snapshot, *, shift: bool = True) -> bool:
    """The rules, restated: skill, language if required, not away, under cap, on shift."""
    if need.area not in m.skills or m.id in snap.away:
        return False
    if cfg.routing.language == "required" and need.language and need.language not in m.languages:
        return False
    cap = m.max_sensitive_per_day
    if need.sensitive and cap is not None and snap.sensitive_today.get(m.id, 0) >= cap:
        return False
    return not shift or m.on_shift(snap.now)


@settings(max_examples=300, deadline=None)
@given(situations())
def test_nobody_ineligible_is_chosen_while_someone_eligible_exists(case) -> None:  # type: ignore[no-untyped-def]
    cfg, need, snap = case
    pod = cfg.pods["pod"]
    d = decide(cfg, need, snap)
    fits = [m.id for m in pod.members if eligible(cfg, m, need, snap)]
    chosen = pod.member(d.assignee)
    if d.via == ONCALL:
        assert need.severity in ("sev0", "sev1") and chosen is not None
        assert eligible(cfg, chosen, need, snap, shift=False)
        if not chosen.on_shift(NOW):  # off shift only when nobody eligible is on shift
            assert not fits
    elif fits:
        assert d.assignee in fits
    else:
        assert d.via == LEAD and d.assignee == "U0LEAD"


@settings(max_examples=300, deadline=None)
@given(situations())
def test_no_cap_is_exceeded_and_the_choice_is_deterministic(case) -> None:  # type: ignore[no-untyped-def]
    cfg, need, snap = case
    d = decide(cfg, need, snap)
    assert d == decide(cfg, need, snap)
    member = cfg.pods["pod"].member(d.assignee)
    if need.sensitive and member is not None and member.max_sensitive_per_day is not None:
        assert snap.sensitive_today.get(member.id, 0) < member.max_sensitive_per_day


@settings(max_examples=300, deadline=None)
@given(situations())
def test_reading_only_the_members_in_scope_changes_nothing(case) -> None:  # type: ignore[no-untyped-def]
    """The database snapshot reads load and counts only for ``in_scope`` members."""
    cfg, need, snap = case
    scope = in_scope(cfg, need, snap.now)
    narrow = Snapshot(
        snap.now,
        load={u: v for u, v in snap.load.items() if u in scope},
        open={u: v for u, v in snap.open.items() if u in scope},
        sensitive_today={u: v for u, v in snap.sensitive_today.items() if u in scope},
        away={u: v for u, v in snap.away.items() if u in scope},
        pointer=snap.pointer,
    )
    full, scoped = decide(cfg, need, snap), decide(cfg, need, narrow)
    assert (scoped.assignee, scoped.via, scoped.pointer) == (full.assignee, full.via, full.pointer)
    if full.via != LEAD:  # the lead's list may name another of several reasons per member
        assert scoped.reason == full.reason


def route_many(cfg: AppConfig, needs: list[Need], sensitive: dict[str, int] | None = None) -> Any:
    """Route ``needs`` one after the other, updating the snapshot as the database would."""
    load: dict[str, int] = {}
    count: dict[str, int] = {}
    sens = dict(sensitive or {})
    pointer = 0
    history = []
    for need in needs:
        d = decide(cfg, need, Snapshot(NOW, load, count, sens, pointer=pointer))
        weight = cfg.routing.severity_weights[need.severity]
        load[d.assignee] = load.get(d.assignee, 0) + weight
        count[d.assignee] = count.get(d.assignee, 0) + 1
        if need.sensitive:
            sens[d.assignee] = sens.get(d.assignee, 0) + 1
        pointer = d.pointer if d.pointer is not None else pointer
        history.append((d, dict(count), dict(load), dict(sens)))
    return history


def equal_members(n: int, cap: int | None = None) -> list[dict[str, Any]]:
    return [
        {
            "id": f"U{i:03d}",
            "name": f"Member {i}",
            "skills": list(AREAS),
            "languages": ["en"],
            "timezone": "UTC",
            "hours": ALWAYS,
            "max_sensitive_per_day": cap,
        }
        for i in range(n)
    ]


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 8), st.sampled_from(["sev2", "sev3"]), st.integers(1, 60))
def test_equal_members_stay_within_one_ticket_of_even(n: int, sev: str, tickets: int) -> None:
    for strategy in ("least_loaded", "round_robin"):
        cfg = make_config(equal_members(n), strategy=strategy)
        history = route_many(cfg, [Need("hate", sev)] * tickets)
        for _, count, _, _ in history:
            counts = [count.get(f"U{i:03d}", 0) for i in range(n)]
            assert max(counts) - min(counts) <= 1


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 6), st.lists(st.sampled_from(["sev2", "sev3"]), min_size=1, max_size=50))
def test_mixed_severities_keep_weighted_load_within_one_heaviest_ticket(n: int, sevs) -> None:  # type: ignore[no-untyped-def]
    cfg = make_config(equal_members(n))
    heaviest = max(cfg.routing.severity_weights[s] for s in sevs)
    for _, _, load, _ in route_many(cfg, [Need("hate", s) for s in sevs]):
        loads = [load.get(f"U{i:03d}", 0) for i in range(n)]
        assert max(loads) - min(loads) <= heaviest


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(0, 3), st.integers(1, 30))
def test_caps_hold_over_a_day_then_the_lead_takes_over(n: int, cap: int, tickets: int) -> None:
    cfg = make_config(equal_members(n, cap=cap))
    history = route_many(cfg, [Need("gore", "sev2", sensitive=True)] * tickets)
    for i, (d, _, _, sens) in enumerate(history):
        assert all(v <= cap for u, v in sens.items() if u != "U0LEAD")
        assert (d.via == LEAD) == (i >= n * cap)
