"""Intake over real HTTP with signed requests against the fake Slack: the /escalate modal,
its inline errors, prefill, the message shortcut, the card with its thread, the reporter's
confirmations, idempotent submissions and the reporter commands."""

from __future__ import annotations

import json
import logging
import statistics
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.slack.ids import MESSAGE_SHORTCUT
from storage.models import ContentItem, Ticket
from tests.intake_support import (
    HOSTILE,
    INTAKE,
    OTHER_PARTNER,
    PARTNER,
    PARTNERS,
    SPECIALIST,
    STRANGER,
    card,
    confirmation,
    escalate,
    forged,
    open_modal,
    visible,
)
from tests.outbox_support import drain, routed

log = logging.getLogger(__name__)


def tickets(escbot) -> list[Ticket]:  # type: ignore[no-untyped-def]
    with escbot.services.sessions() as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.number)))


def test_partner_goes_from_escalate_to_card_thread_ephemeral_and_dm(
    escbot, fake_slack, user_factory, clock
) -> None:
    partner = user_factory(PARTNER)
    deadline = clock.now() + timedelta(hours=6)
    resp = escalate(
        partner,
        fake_slack,
        {
            "Severity": "sev1",
            "Content links or ids": "https://www.example.com/p/1?utm_source=x\npost:42",
            "Region": "Europe",
            "Language": "German",
            "Vendor": "Northwind CX (Manila)",
            "Requested action": "Remove the post",
            "Deadline": deadline,
            "Details": "Posted from three accounts.\nSecond line.",
        },
        text="Coordinated hate campaign against a creator",
    )
    assert resp.status_code == 200 and resp.content == b""  # closes the modal

    # shown where the partner typed, a channel escbot is not in: through the response_url
    ephemeral = confirmation(fake_slack, PARTNER)
    assert not fake_slack.is_member(PARTNERS) and ephemeral.channel == PARTNERS
    assert "ESC-1" in (ephemeral.text or "") and "owner" in json.dumps(ephemeral.blocks)
    assert fake_slack.calls_to("chat.postEphemeral") == []

    assert drain(escbot.services.outbox)
    posted = card(fake_slack, "ESC-1")
    text = json.dumps(posted.blocks)
    for expected in ("Coordinated hate campaign", "Hateful activities", "SEV1", "<@U07LEGAL01>"):
        assert expected in text
    assert "German" in text and "2 items" in text  # the content itself is in the thread
    # source, vendor, region and the content: in the thread's details, once
    thread_text = json.dumps([m.blocks for m in fake_slack.thread(INTAKE, posted.ts)])
    assert "Legal" in thread_text and "Northwind CX" in thread_text and "Europe" in thread_text
    assert "https://www.example.com/p/1?utm_source=x" in thread_text and "post:42" in thread_text
    assert "Northwind CX" not in text and "post:42" not in text
    # Reported content is never previewed, sensitive or not (app.yaml's link_previews is off).
    assert (posted.unfurl_links, posted.unfurl_media) == (False, False)

    [details, *_] = fake_slack.thread(INTAKE, posted.ts)
    assert details.blocks[1]["text"]["text"] == "Posted from three accounts.\nSecond line."
    assert "Remove the post" in json.dumps(details.blocks)

    [dm] = [m for m in fake_slack.dms(PARTNER) if "ESC-1" in (m.text or "")]
    permalink = f"https://fake.slack.com/archives/{INTAKE}/p{posted.ts.replace('.', '')}"
    assert permalink in json.dumps(dm.blocks)

    [ticket] = tickets(escbot)
    assert (ticket.severity, ticket.language, ticket.region) == ("sev1", "de", "europe")
    assert (ticket.source_team, ticket.vendor) == ("legal", "northwind_manila")
    assert ticket.source_channel == PARTNERS and ticket.requested_action == "Remove the post"
    assert ticket.deadline == deadline.replace(microsecond=0)
    with escbot.services.sessions() as s:
        items = s.scalars(select(ContentItem.normalized).order_by(ContentItem.id)).all()
    assert items == ["https://example.com/p/1", "post:42"]


def test_escalate_text_prefills_the_summary_and_long_text_the_details(
    escbot, fake_slack, user_factory, config
) -> None:
    partner = user_factory(PARTNER)
    view = open_modal(partner, fake_slack, "Viral video of an attack")
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert inputs["summary"]["initial_value"] == "Viral video of an attack"
    assert "initial_value" not in inputs["details"]
    severities = [o["text"]["text"] for o in inputs["severity"]["options"]]
    assert severities[0].startswith("SEV0 · ")  # the SLA in the option's description
    sla = inputs["severity"]["options"][0]["description"]["text"]
    assert sla == "Acknowledge within 15 minutes · resolve within 4 hours"
    assert inputs["severity"]["initial_option"]["value"] == config.intake.defaults.severity

    long = "word " * 60
    view = open_modal(partner, fake_slack, long)
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert len(inputs["summary"]["initial_value"]) == config.intake.summary_max
    assert inputs["details"]["initial_value"] == long.strip()


@pytest.mark.parametrize(
    ("label", "value", "block", "says"),
    [
        ("Summary", "   ", "summary", "summary"),
        ("Summary", "x" * 151, "summary", "150 characters"),
        ("Content links or ids", "javascript:alert(1)", "content", "javascript:"),
        ("Content links or ids", "https://ok.example.com/a\ndata:text/html,x", "content", "data:"),
        ("Content links or ids", "post:abc", "content", "known content id"),
        ("Content links or ids", "https://nohost", "content", "not a valid link"),
        ("Deadline", datetime(2026, 11, 26, 9, 0, tzinfo=UTC), "deadline", "passed"),
        (
            "Policy area",
            {"text": {"type": "plain_text", "text": "x"}, "value": "nope"},
            "policy_area",
            "from the list",
        ),
        (
            "Severity",
            {"text": {"type": "plain_text", "text": "x"}, "value": "sev9"},
            "severity",
            "from the list",
        ),
        (
            "Region",
            {"text": {"type": "plain_text", "text": "x"}, "value": "mars"},
            "region",
            "from the list",
        ),
        (
            "Vendor",
            {"text": {"type": "plain_text", "text": "x"}, "value": "acme"},
            "vendor",
            "from the list",
        ),
    ],
)
def test_each_invalid_field_is_answered_inline(
    escbot, fake_slack, user_factory, label, value, block, says
) -> None:
    partner = user_factory(PARTNER)
    # sent as a forged request could: Slack's client keeps the Summary within its max_length
    resp = escalate(
        partner, fake_slack, {label: value}, enforce_required=False, enforce_lengths=False
    )
    assert resp.status_code == 200
    answer = resp.json()
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [block]
    assert says in answer["errors"][block]
    assert tickets(escbot) == []


def test_fixing_the_error_in_the_same_modal_opens_the_ticket(
    escbot, fake_slack, user_factory
) -> None:
    partner = user_factory(PARTNER)
    view = open_modal(partner, fake_slack, "Hate raid")
    bad = partner.submit_view(view, {"Your team": "Legal", "Content links or ids": "ftp://x.org"})
    assert bad.json()["response_action"] == "errors"
    good = partner.submit_view(view, {"Your team": "Legal", "Content links or ids": "post:1"})
    assert good.status_code == 200 and good.content == b""
    assert [t.key for t in tickets(escbot)] == ["ESC-1"]


def test_message_shortcut_prefills_details_and_permalink_and_records_the_source(
    escbot, fake_slack, user_factory
) -> None:
    partner = user_factory(PARTNER)
    text = "Look at this thread, it is escalating"
    message = fake_slack.add_message(PARTNERS, text, user=STRANGER)
    mark = fake_slack.mark()
    assert partner.message_shortcut(MESSAGE_SHORTCUT, message, PARTNERS).status_code == 200
    fake_slack.wait_for("views.open", since=mark)
    [permalink_call] = fake_slack.calls_to("chat.getPermalink")
    permalink = permalink_call.response["permalink"]
    view = fake_slack.last_view(PARTNER)
    assert view is not None
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert inputs["details"]["initial_value"] == text
    assert inputs["content"]["initial_value"] == permalink

    resp = partner.submit_view(
        view, {"Summary": "Pile-on in partner channel", "Your team": "Legal"}
    )
    assert resp.status_code == 200 and resp.content == b""
    [ticket] = tickets(escbot)
    assert (ticket.source_channel, ticket.source_permalink) == (PARTNERS, permalink)
    assert confirmation(fake_slack, PARTNER).channel == PARTNERS
    assert drain(escbot.services.outbox)
    posted = card(fake_slack, "ESC-1")
    assert permalink in json.dumps([m.blocks for m in fake_slack.thread(INTAKE, posted.ts)])


def test_shortcut_opens_the_modal_even_when_the_permalink_fails(
    escbot, fake_slack, user_factory
) -> None:
    partner = user_factory(PARTNER)
    fake_slack.fail("chat.getPermalink", "internal_error")
    message = fake_slack.add_message(PARTNERS, "text", user=STRANGER)
    assert partner.message_shortcut(MESSAGE_SHORTCUT, message, PARTNERS).status_code == 200
    fake_slack.wait_for("views.open")
    view = fake_slack.last_view(PARTNER)
    assert view is not None
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert "initial_value" not in inputs["content"]
    assert inputs["details"]["initial_value"] == "text"


def test_same_submission_twice_makes_one_ticket(escbot, fake_slack, user_factory) -> None:
    partner = user_factory(PARTNER)
    first = escalate(partner, fake_slack, {"Content links or ids": "post:7"})
    assert first.status_code == 200 and first.content == b""
    answers: list[int] = []

    def again() -> None:
        resp = partner.replay()
        answers.append(resp.status_code)
        assert resp.content == b""  # closes the modal quietly, no error

    threads = [threading.Thread(target=again) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200, 200, 200]
    assert [t.key for t in tickets(escbot)] == ["ESC-1"]
    assert drain(escbot.services.outbox)
    assert len(fake_slack.messages(INTAKE)) == 1
    assert len(fake_slack.calls_to("response_url")) == 1


def test_concurrent_double_submit_makes_one_ticket(escbot, fake_slack, user_factory) -> None:
    partner = user_factory(PARTNER)
    view = open_modal(partner, fake_slack, "Double click")
    start = threading.Barrier(4)
    answers: list[bytes] = []

    def submit() -> None:
        start.wait()
        answers.append(partner.submit_view(view, {"Your team": "Legal"}).content)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [b""] * 4
    assert [t.key for t in tickets(escbot)] == ["ESC-1"]


def test_hostile_summary_is_literal_text_and_pings_nobody(escbot, fake_slack, user_factory) -> None:
    partner = user_factory(PARTNER)
    summary = HOSTILE[:150]
    resp = escalate(
        partner,
        fake_slack,
        {"Summary": summary, "Details": HOSTILE, "Requested action": HOSTILE},
        text="x",
    )
    assert resp.status_code == 200 and resp.content == b""
    assert drain(escbot.services.outbox)
    posted = card(fake_slack, "ESC-1")
    thread = fake_slack.thread(INTAKE, posted.ts)
    ephemerals = fake_slack.ephemerals(PARTNER)
    dms = fake_slack.dms(PARTNER)
    for message in [posted, *thread, *ephemerals, *dms]:
        payload = {"text": message.text, "blocks": message.blocks}
        assert forged(payload) == [], payload
    literal = summary.replace("\u202e", "").replace("\u202c", "").replace("@here", "@\u2060here")
    title = visible(posted.blocks[1]["text"]["text"])  # mrkdwn, escaped: it reads literally
    title = title.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert literal.replace("\u2060", "") in title
    # the only people mentioned anywhere are the reporter and the owner; no broadcast at all
    [ticket] = tickets(escbot)
    mentions = {m for c in fake_slack.calls if c.ok for m in _mentions(c.args)}
    assert mentions <= {f"<@{PARTNER}>", f"<@{ticket.assignee_id}>"}, mentions


def _mentions(args: dict) -> set[str]:  # type: ignore[type-arg]
    import re

    found = re.findall(r"<[@!][^>]*>", json.dumps(args, ensure_ascii=False))
    return {m for m in found if not m.startswith("<!date^")}  # times, not mentions


def test_sensitive_ticket_never_unfurls_and_carries_a_content_warning(
    escbot, fake_slack, user_factory
) -> None:
    partner = user_factory(PARTNER)
    resp = escalate(
        partner,
        fake_slack,
        {
            "Policy area": "Graphic violence (sensitive)",
            "Content links or ids": "https://v.example.com/1",
        },
    )
    assert resp.status_code == 200
    assert drain(escbot.services.outbox)
    posted = card(fake_slack, "ESC-1")
    assert (posted.unfurl_links, posted.unfurl_media) == (False, False)
    assert "Content warning" in json.dumps(posted.blocks)
    sent = [c for c in fake_slack.calls_to("chat.postMessage") if c.ok]
    assert sent and all(c.args.get("unfurl_links") in (False, "false", "0") for c in sent)
    assert all(c.args.get("unfurl_media") in (False, "false", "0") for c in sent)
    # …and ephemerals and updates carry no flags at all: Slack ignores them there (conftest).
    assert len(fake_slack.thread(INTAKE, posted.ts)) >= 1
    assert fake_slack.dms(PARTNER)


def test_response_url_refused_the_dm_still_brings_key_owner_and_link(
    escbot, fake_slack, user_factory
) -> None:
    partner = user_factory(PARTNER)
    fake_slack.fail("response_url", "expired_url", status=404)
    resp = escalate(partner, fake_slack)
    assert resp.status_code == 200 and resp.content == b""
    assert drain(escbot.services.outbox)
    posted = card(fake_slack, "ESC-1")
    [dm] = fake_slack.dms(PARTNER)[-1:]
    assert "ESC-1" in dm.text and "owner" in json.dumps(dm.blocks)
    assert f"p{posted.ts.replace('.', '')}" in json.dumps(dm.blocks)


def test_reporter_dm_waits_for_the_card(escbot, fake_slack, user_factory) -> None:
    partner = user_factory(PARTNER)
    fake_slack.fail("chat.postMessage", status=503, times=1)  # the card's first attempt
    assert escalate(partner, fake_slack).status_code == 200
    assert drain(escbot.services.outbox, timeout=20)
    posts = [c for c in fake_slack.calls_to("chat.postMessage") if c.ok]
    card_at = next(i for i, c in enumerate(posts) if c.args["channel"] == INTAKE)
    dm_at = next(i for i, c in enumerate(posts) if c.args["channel"].startswith("D"))
    assert card_at < dm_at


def test_status_shows_state_owner_sla_and_latest_events_to_those_involved(
    escbot, fake_slack, user_factory
) -> None:
    partner = user_factory(PARTNER)
    assert escalate(partner, fake_slack).status_code == 200

    mark = fake_slack.mark()
    partner.command("/escalate", text="status esc-1", channel_id=PARTNERS)
    reply = fake_slack.wait_for("response_url", since=mark)
    text = json.dumps(reply.args)
    assert "ESC-1" in text and "Acknowledge" in text and "opened by <@U07LEGAL01>" in text
    assert reply.args["response_type"] == "ephemeral"

    mark = fake_slack.mark()
    user_factory(SPECIALIST).command("/escalate", text="status ESC-1")
    assert "ESC-1" in json.dumps(fake_slack.wait_for("response_url", since=mark).args)
    mark = fake_slack.mark()
    user_factory(STRANGER).command("/escalate", text="status ESC-1")
    assert fake_slack.wait_for("response_url", since=mark).args["text"] == (
        ":information_source: Only the reporter, the people following it and the "
        "Critical Harms pod can see ESC-1."
    )

    for args, wanted in (("status ESC-99", "no ticket ESC-99"), ("status", "Which ticket")):
        mark = fake_slack.mark()
        partner.command("/escalate", text=args)
        assert wanted in json.dumps(fake_slack.wait_for("response_url", since=mark).args)


def test_status_lists_only_the_last_five_events(escbot, fake_slack, user_factory, clock) -> None:
    from bot.tickets.lifecycle import record

    partner = user_factory(PARTNER)
    assert escalate(partner, fake_slack).status_code == 200
    assert routed(escbot.services.sessions)  # its assign event comes before the notes
    with escbot.services.sessions() as s, s.begin():
        ticket = s.scalars(select(Ticket)).one()
        for n in range(7):
            record(s, ticket, f"note_{n}", actor=SPECIALIST, now=clock.now())
    mark = fake_slack.mark()
    partner.command("/escalate", text="status ESC-1")
    latest = json.dumps(fake_slack.wait_for("response_url", since=mark).args)
    assert [f"note {n} by" in latest for n in range(7)] == [False, False] + [True] * 5


def test_mine_lists_open_tickets_i_reported_or_own(escbot, fake_slack, user_factory) -> None:
    partner, other = user_factory(PARTNER), user_factory(OTHER_PARTNER)
    assert escalate(partner, fake_slack, text="First thing").status_code == 200
    assert escalate(other, fake_slack, text="Other thing").status_code == 200
    mark = fake_slack.mark()
    partner.command("/escalate", text="mine")
    text = json.dumps(fake_slack.wait_for("response_url", since=mark).args)
    assert "ESC-1" in text and "First thing" in text and "ESC-2" not in text
    with escbot.services.sessions() as s:
        owner = s.scalars(select(Ticket.assignee_id).where(Ticket.key == "ESC-2")).one()
    if owner:  # routing assigned it: the owner sees it as theirs
        mark = fake_slack.mark()
        user_factory(owner).command("/escalate", text="mine")
        text = json.dumps(fake_slack.wait_for("response_url", since=mark).args)
        assert "ESC-2" in text and "you own it" in text


def test_views_open_happens_well_within_the_trigger_window(
    escbot, fake_slack, user_factory
) -> None:
    """Slack's trigger_id lives 3 s: measure request → views.open (the fake's clock) over 20
    /escalate and 20 message shortcuts (which also fetch the message's permalink)."""
    partner = user_factory(PARTNER)  # the fake expires trigger_ids after 3 s, as Slack does
    open_modal(partner, fake_slack)  # warm-up (the app's first request)
    message = fake_slack.add_message(PARTNERS, "text", user=STRANGER)
    for name, send in (
        ("/escalate", lambda n: partner.command("/escalate", text=f"open {n}")),
        ("shortcut", lambda n: partner.message_shortcut(MESSAGE_SHORTCUT, message, PARTNERS)),
    ):
        delays = []
        for n in range(20):
            mark = fake_slack.mark()
            started = datetime.now(UTC)
            assert send(n).status_code == 200
            opened = fake_slack.wait_for("views.open", since=mark)
            delays.append((opened.time - started).total_seconds() * 1000)
        p50, worst = statistics.median(delays), max(delays)
        log.warning("%s → views.open: p50 %.1f ms, max %.1f ms (n=20)", name, p50, worst)
        print(f"\n{name} → views.open: p50 {p50:.1f} ms, max {worst:.1f} ms over 20")
        assert worst < 2000
