"""The crisis-burst benchmark's plumbing, at a size that proves nothing about speed:
three reports of one video and two routine escalations against ``escbot run`` and the
bare app, on the test database. Its numbers are not asserted, only its counts."""

from __future__ import annotations

from bench import burst
from tests.dbs import PG_URL


def test_a_tiny_burst_makes_one_viral_ticket_and_offers_it_to_the_others() -> None:
    args = ["--viral", "3", "--routine", "2", "--window", "0.3", "--warmup", "1"]
    args += ["--senders", "5", "--settle", "0", "--timeout", "60"]
    if PG_URL:
        args += ["--database-url", PG_URL, "--postgresql-only"]
    report = burst.run(burst.parser().parse_args(args))

    [result] = report["results"]
    assert len(result["viral_tickets"]) == 1
    assert result["viral_answers"] == {"closed": 1, "choice": 2}
    assert result["routine_answers"] == {"closed": 2}
    assert result["tickets_created"] == 3 and result["bare_failures"] == 0
    assert result["card_seconds"] is not None  # the card was posted (how soon is the bench's)
    assert "viral content in one ticket: met" in burst.table(report)
