"""Digest audiences (issue #25, item 5), over signed HTTP against the emulator: a digest in a
public channel shows keys, counts and areas, never a sensitive ticket's summary (and no
summary at all unless ``summaries: true``); in a private channel it shows them; the start
log and ``escbot doctor`` say which channels are public and what that means."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from bot.reporting import audience
from bot.reporting.periods import digest_period
from bot.reporting.present import payload_text, present
from bot.reporting.report import build_report
from storage.models import Ticket
from tests.desk import PARTNER
from tests.test_digest_http import (
    INTAKE,
    KPI,
    posted_digests,
    private_kpi_channel,
    run_digests,
    utc,
)
from tests.test_doctor import run_doctor

EVERYDAY = "Slur-filled pile-on under a post"
GRAPHIC = "Murder video of a named minor, reuploaded"


def escalate(escbot, user_factory, fake_slack, summary: str, area: str) -> Ticket:  # type: ignore[no-untyped-def]
    partner = user_factory(PARTNER)
    mark = fake_slack.mark()
    assert partner.command("/escalate", text=summary).status_code == 200
    fake_slack.wait_for("views.open", since=mark)
    form = {"Severity": "sev1", "Your team": "Legal", "Policy area": area}
    assert partner.submit_view(fake_slack.last_view(PARTNER), form).status_code == 200
    return fake_slack.wait_until(lambda: found(escbot, summary), timeout=10)


def found(escbot, summary: str) -> Ticket | None:  # type: ignore[no-untyped-def]
    with escbot.services.sessions() as s:
        return s.scalars(select(Ticket).where(Ticket.summary == summary)).first()


def thursdays_digest(escbot, user_factory, fake_slack, clock) -> tuple[str, Ticket, Ticket]:  # type: ignore[no-untyped-def]
    everyday = escalate(escbot, user_factory, fake_slack, EVERYDAY, "Hateful activities")
    graphic = escalate(escbot, user_factory, fake_slack, GRAPHIC, "Graphic violence (sensitive)")
    assert graphic.sensitive and not everyday.sensitive
    run_digests(escbot, clock, utc(2026, 11, 27, 9, 0, 30))  # Fri 09:00: Thursday's digest
    [digest] = posted_digests(fake_slack)
    return payload_text({"blocks": digest.blocks}), everyday, graphic


def test_a_public_channels_digest_shows_keys_and_counts_but_no_summary(
    escbot, user_factory, fake_slack, clock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.slack.membership"):
        escbot.join_channels()  # as at start: the example's channels are public here
    logged = caplog.text
    assert f"channel {KPI} is public" in logged and "posts for a public audience" in logged
    assert f"channel {INTAKE} is public" in logged and "every ticket card" in logged

    text, everyday, graphic = thursdays_digest(escbot, user_factory, fake_slack, clock)
    assert "Oldest open:" in text and everyday.key in text and graphic.key in text
    assert "*2* open" in text or "2* open" in text
    assert GRAPHIC not in text and "Murder" not in text
    assert EVERYDAY not in text and "pile-on" not in text


def test_a_private_channels_digest_shows_the_summaries(
    escbot, user_factory, fake_slack, clock
) -> None:
    private_kpi_channel(escbot, fake_slack)
    text, _, _ = thursdays_digest(escbot, user_factory, fake_slack, clock)
    assert EVERYDAY in text and GRAPHIC[:40] in text


def test_summaries_true_shows_only_the_non_sensitive_ones(
    escbot, user_factory, fake_slack, clock
) -> None:
    _, _, graphic = thursdays_digest(escbot, user_factory, fake_slack, clock)
    cfg, desk = escbot.services.config, escbot.services.desk
    daily = cfg.digest("daily").model_copy(update={"summaries": True})
    period = digest_period(cfg, daily, utc(2026, 11, 27, 9, 0))
    with desk.sessions() as s:
        report = build_report(s, cfg, daily, period, clock.now())
    seen = audience.audience_of(daily, desk.private_channels)
    assert seen == "public"
    shown = present(cfg, desk.renderer, audience.for_audience(report, seen, summaries=True))
    text = payload_text(shown.payload)
    assert EVERYDAY in text and GRAPHIC not in text and graphic.key in text


def test_doctor_says_which_channels_are_public_and_what_it_means(fake_slack: Any) -> None:
    result = run_doctor(fake_slack)
    out = result.output
    assert "#tns-escalations-kpi (public; digests.daily.channel)" in out
    assert f"channel {KPI} is public (anyone in the workspace can read it)" in out
    assert "digest daily posts for a public audience: keys, counts and areas" in out
    intake = [line for line in out.splitlines() if f"channel {INTAKE} is public" in line]
    assert intake and intake[0].startswith("!") and "every ticket card" in intake[0]
