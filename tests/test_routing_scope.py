"""Who routing could choose by configuration alone (``in_scope``: the members whose load
the snapshot reads), and when someone next could (``next_chance``: the chain's wait).

test_routing_properties checks that reading only the members in scope changes no
decision; that holds for any scope too wide as well, so the scope itself is pinned here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.config import AppConfig
from bot.routing.candidates import Absence, Need, Snapshot
from bot.routing.decide import in_scope, next_chance, rotation_order
from tests.test_routing import (
    BEATRIZ,
    LUCIA,
    MARCUS,
    MORNING,
    WANJIRU,
    with_routing,
)

NIGHT = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # Thu 02:00 UTC: no one with the skill on shift


def test_in_scope_is_the_skilled_on_shift_the_rotation_and_the_speakers_if_required(
    config: AppConfig,
) -> None:
    need = Need("graphic_violence", "sev2", "es", sensitive=True)
    # on shift at 10:00 UTC: Lucía, Jonas, Priya, Wanjiru; of them Lucía and Wanjiru have
    # the skill; Marcus and Beatriz have it but are off shift
    assert in_scope(config, need, MORNING) == {LUCIA, WANJIRU}
    oncall = Need("graphic_violence", "sev0", "es", sensitive=True)  # the rotation too
    assert in_scope(config, oncall, MORNING) == {LUCIA, WANJIRU, MARCUS, BEATRIZ}
    required = with_routing(config, language="required")
    assert in_scope(required, need, MORNING) == {LUCIA}
    assert in_scope(required, Need("graphic_violence", "sev2", None), MORNING) == {LUCIA, WANJIRU}


def test_next_chance_is_the_first_shift_to_start_of_someone_who_could_take_it(
    config: AppConfig,
) -> None:
    need = Need("graphic_violence", "sev2", "es")
    # Wanjiru starts at 08:30 in Nairobi (05:30 UTC), before Lucía (09:00 Madrid)
    assert next_chance(config, need, Snapshot(NIGHT)) == datetime(2026, 11, 26, 5, 30, tzinfo=UTC)
    away = {WANJIRU: Absence(until=datetime(2026, 11, 27, 0, 0, tzinfo=UTC))}
    assert next_chance(config, need, Snapshot(NIGHT, away=away)) == datetime(
        2026, 11, 26, 8, 0, tzinfo=UTC
    )
    assert (
        next_chance(config, need, Snapshot(NIGHT), exclude=[LUCIA, WANJIRU, MARCUS, BEATRIZ])
        is None
    )
    # someone on shift now is no *next* chance: Lucía and Wanjiru are, Beatriz starts next
    assert next_chance(config, need, Snapshot(MORNING)) == datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    # at her cap of sensitive tickets, Lucía's chance is her first shift of the next day
    capped = Snapshot(MORNING, sensitive_today={LUCIA: 6})
    sensitive = Need("graphic_violence", "sev2", "es", sensitive=True)
    assert next_chance(config, sensitive, capped, exclude=[WANJIRU, MARCUS, BEATRIZ]) == datetime(
        2026, 11, 27, 8, 0, tzinfo=UTC
    )


def test_the_rotation_order_names_each_member_once(config: AppConfig) -> None:
    """A rotation may list someone twice (two weeks in a cycle): the order has them once."""
    pod = config.pods["critical_harms"]
    assert pod.oncall is not None
    twice = pod.oncall.model_copy(update={"members": [LUCIA, MARCUS, LUCIA]})
    changed = pod.model_copy(update={"rotations": {**pod.rotations, "primary": twice}})
    cfg = config.model_copy(update={"pods": {**config.pods, "critical_harms": changed}})
    assert rotation_order(cfg, cfg.pods["critical_harms"], MORNING) == [LUCIA, MARCUS]
