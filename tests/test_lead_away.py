"""The lead can be away: ``/escalate ooo`` for leads and admins, and a pod's ``deputy`` takes
what would go to the absent lead (routing's fallback, the chain's last step); with no
deputy, an admin. The card says who has it and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from bot.config import AppConfig
from bot.config.loader import load_config_text
from bot.routing import absence
from bot.routing.candidates import Absence
from bot.routing.standin import lead_now
from storage.db import transaction
from storage.models import OutOfOffice
from tests.desk import ADMIN, EXAMPLE, INTAKE, LEAD, desk_at, new_ticket
from tests.outbox_support import drain

DEPUTY = "U04DPTY7KLM"  # not a member: never routed tickets of her own
NIGHT = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # Thursday 03:00 in Dublin


def with_deputy(deputy: str | None) -> AppConfig:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    if deputy:
        data["pods"]["critical_harms"]["deputy"] = deputy
    return load_config_text(yaml.safe_dump(data), "app.yaml (deputy)")


@pytest.fixture(scope="module")
def config() -> AppConfig:
    return with_deputy(DEPUTY)


def everyone_away(sessions, cfg: AppConfig, now: datetime) -> None:  # type: ignore[no-untyped-def]
    """Every member of the pod out of office all week: nobody is eligible."""
    with transaction(sessions) as s:
        for m in cfg.pods["critical_harms"].members:
            s.add(
                OutOfOffice(
                    user_id=m.id,
                    starts_at=now - timedelta(days=1),
                    ends_at=now + timedelta(days=7),
                    created_at=now,
                )
            )


def test_with_the_lead_out_a_sev0_at_three_goes_to_the_deputy(
    escbot, fake_slack, config, clock, user_factory
) -> None:
    clock.set(NIGHT)
    services = escbot.services
    everyone_away(services.sessions, config, NIGHT)
    mark = fake_slack.mark()
    user_factory(LEAD).command("/escalate", "ooo 2026-11-25 2026-11-30 Flying to Manila")
    reply = fake_slack.wait_for("response_url", since=mark)
    assert "2026-11-25 → 2026-11-30 (now) — Flying to Manila" in json.dumps(
        reply.args, ensure_ascii=False
    )
    ticket = new_ticket(services.sessions, config, services.renderer, NIGHT, severity="sev0")
    assert ticket.assignee_id == DEPUTY
    assert drain(services.outbox)
    [card] = [m for m in fake_slack.messages(INTAKE) if ticket.key in m.blocks[0]["text"]["text"]]
    shown = json.dumps(card.blocks, ensure_ascii=False)
    assert f"Owner <@{DEPUTY}>" in shown
    assert "so the deputy has it (the lead is out of office until Tue 01 Dec 00:00)" in shown
    assert fake_slack.dms(DEPUTY) and not fake_slack.dms(LEAD)


def test_without_a_deputy_an_admin_has_it_and_with_the_lead_back_the_lead(sessions) -> None:  # type: ignore[no-untyped-def]
    cfg = with_deputy(None)
    pod = cfg.pods["critical_harms"]
    away = {LEAD: Absence(NIGHT + timedelta(days=2))}
    assert lead_now(cfg, pod, {}).user == LEAD
    held = lead_now(cfg, pod, away)
    assert held.user == ADMIN
    assert held.phrase == (
        "an admin has it (the lead is out of office until Sat 28 Nov 03:00, "
        "and the pod has no deputy)"
    )
    second = lead_now(cfg, pod, {**away, ADMIN: Absence(NIGHT + timedelta(days=1))})
    assert second.user == cfg.workspace.admins[1]
    deputised = with_deputy(DEPUTY)
    assert lead_now(
        deputised, deputised.pods["critical_harms"], {**away, DEPUTY: away[LEAD]}
    ).why == (
        "an admin has it (the lead is out of office until Sat 28 Nov 03:00, and so is the deputy)"
    )


def test_the_chains_lead_step_goes_to_the_deputy_while_the_lead_is_out(
    sessions, config, clock
) -> None:  # type: ignore[no-untyped-def]
    from bot.core.render import Renderer
    from bot.routing import chain
    from storage.queries import ticket_by_id

    now = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
    renderer = Renderer(config.team_tz)
    absence.command(desk_at(sessions, config, now), LEAD, "2026-11-26 2026-11-27")
    ticket = new_ticket(sessions, config, renderer, now, severity="sev1")
    with transaction(sessions) as s:
        row = ticket_by_id(s, ticket.id, lock=True)
        assert row is not None
        change = chain.escalate(s, config, renderer, row, 2, now + timedelta(hours=1))
        assert change is not None and row.assignee_id == DEPUTY
        assert row.routing_reason == (
            "Escalated to the pod's deputy (standing in for the pod lead, who is out of office): "
            "not acknowledged within 30 minutes"
        )
        skipped = change.event.payload["escalation"]["skipped"]
        assert skipped == [
            {
                "step": "lead",
                "id": LEAD,
                "why": "the deputy has it (the lead is out of office until Sat 28 Nov 00:00)",
            }
        ]


def test_a_deputy_who_is_the_lead_is_refused() -> None:
    from bot.config.errors import ConfigError

    with pytest.raises(ConfigError, match="deputy: is the lead"):
        with_deputy(LEAD)
