"""Fault injection (faults.py): what each switch makes the next calls answer."""

from __future__ import annotations

import pytest

from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.faults import Faults


def answer(faults: Faults, method: str = "chat.postMessage") -> tuple[str, int, dict[str, str]]:
    """The error the next call gets, or ("ok", 200, {})."""
    try:
        faults.check(method)
    except SlackError as e:
        return e.error, e.status, e.headers
    return "ok", 200, {}


def test_fail_defaults_to_a_429_with_retry_after_once() -> None:
    faults = Faults()
    faults.fail("chat.postMessage")
    assert answer(faults, "chat.update") == ("ok", 200, {})  # another method is untouched
    assert answer(faults) == ("ratelimited", 429, {"Retry-After": "1"})
    assert answer(faults) == ("ok", 200, {})


def test_fail_with_a_status_or_an_error() -> None:
    faults = Faults()
    faults.fail("*", status=503)
    faults.fail("*", status=500)
    faults.fail("*", "channel_not_found")
    assert answer(faults) == ("service_unavailable", 503, {})
    assert answer(faults, "views.open") == ("internal_error", 500, {})
    assert answer(faults, "users.info") == ("channel_not_found", 200, {})


def test_fail_counts_down_or_lasts_until_cleared_and_carries_extra_fields() -> None:
    faults = Faults()
    faults.fail("conversations.history", "missing_scope", times=2, needed="im:history")
    for _ in range(2):
        with pytest.raises(SlackError) as e:
            faults.check("conversations.history")
        assert e.value.extra == {"needed": "im:history"}
    assert answer(faults, "conversations.history")[0] == "ok"
    faults.fail("chat.update", status=500, times=None)
    assert [answer(faults, "chat.update")[1] for _ in range(5)] == [500] * 5
    faults.clear()
    assert answer(faults, "chat.update")[0] == "ok"


def test_outage_answers_503_until_switched_off() -> None:
    faults = Faults()
    faults.outage()
    assert answer(faults) == ("service_unavailable", 503, {})
    faults.outage(False)
    assert answer(faults)[0] == "ok"


def test_fail_ratio_is_seeded_and_half_429_half_500() -> None:
    def run(seed: int) -> list[int]:
        faults = Faults()
        faults.fail_ratio(0.5, seed=seed)
        return [answer(faults)[1] for _ in range(200)]

    first = run(7)
    assert first == run(7)
    assert set(first) == {200, 429, 500}
    assert 60 < first.count(200) < 140


def test_lost_answers_count_down_per_method_and_clear() -> None:
    faults = Faults()
    faults.lose_answers("chat.postMessage", times=2)
    assert not faults.take_lost("chat.update")
    assert [faults.take_lost("chat.postMessage") for _ in range(3)] == [True, True, False]
    faults.lose_answers("chat.postMessage")
    faults.clear()
    assert not faults.take_lost("chat.postMessage")


def test_reset_keeps_lost_answers_and_latency_clear_keeps_the_seed() -> None:
    """FakeSlack.reset() and clear_faults() differ as they always did."""
    faults = Faults()
    faults.latency = 0.25
    faults.lose_answers("chat.postMessage")
    faults.fail("*")
    faults.reset()
    assert answer(faults)[0] == "ok"
    assert faults.take_lost("chat.postMessage") and faults.latency == 0.25
