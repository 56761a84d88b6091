"""``escbot demo``: a scripted morning at the escalation desk, offline.

It starts the built-in Slack emulator and escbot on real HTTP (127.0.0.1),
then plays partners and specialists through signed requests only — the same
public interface Slack uses — so it doubles as an end-to-end test. It prints
what each person sees and writes ``index.html`` (the intake channel with its
threads, the digest channel and DMs) to the output folder.
"""

from __future__ import annotations

import html
import json
import logging
import random
import re
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.config import AppConfig, load_config
from bot.core.clock import FakeClock
from bot.delivery.due import Pacer
from bot.runtime import Runtime
from bot.sandbox.demo_html import PAGE, View, emojize, fragment_page, message_html
from bot.sandbox.emulator import Call, FakeSlack, Message, SlackUser
from bot.settings import Settings
from bot.slack.cards import OVERFLOW
from bot.slack.internals import PromptListenerRunner

REPO_CONFIG = Path(__file__).resolve().parents[2] / "app.yaml"
SECRET = "demo-signing-secret"
STEP_TIMEOUT = 30.0  # seconds a step's work may take before the demo gives up
#: Monday 30 Nov 2026, 09:05 in Dublin: Europe is at work, the Americas not yet.
START = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)

PARTNERS = {
    "U07LEGAL01": "Hannah (Legal)",
    "U07COMMS02": "Tom (Comms)",
    "U07PARTN03": "Keiko (Partner mgmt)",
    "U07VENDR04": "Rafael (Vendor ops)",
    "U07PROD005": "Sam (Product)",
}
PARTNER_CHANNEL = "C07PARTNERS"
QA_TOKEN = "demo-qa-token"  # POST /qa/decisions, as Northwind's moderation tool uses it

#: Monday morning's escalations: (reporter, summary, form fields by label).
ESCALATIONS: list[tuple[str, str, dict[str, object]]] = [
    (
        "U07LEGAL01",
        "Coordinated hate campaign targeting a creator after a livestream",
        {
            "Policy area": "hateful_activities",
            "Severity": "sev1",
            "Your team": "legal",
            "Content links or ids": "https://social.example/@creator/live/8812\nacct:771203",
        },
    ),
    (
        "U07COMMS02",
        "Press asking about a viral video of a street assault still up",
        {
            "Policy area": "graphic_violence",
            "Severity": "sev1",
            "Your team": "comms",
            "Language": "es",
            "Content links or ids": "https://video.example/v/91823?utm_source=press",
        },
    ),
    (
        "U07PARTN03",
        "Slur-filled comments under a charity's posts",
        {
            "Policy area": "hateful_activities",
            "Severity": "sev2",
            "Your team": "partner_management",
            "Content links or ids": "https://social.example/charity/posts/4410",
        },
    ),
    (
        "U07VENDR04",
        "Vendor left up a war-footage compilation: newsworthy or gratuitous?",
        {
            "Policy area": "graphic_violence",
            "Severity": "sev2",
            "Your team": "vendor_ops",
            "Vendor": "northwind_manila",
            "Content links or ids": "post:55012",
        },
    ),
    (
        "U07LEGAL01",
        "Court order names three accounts glorifying an attack",
        {
            "Policy area": "violent_extremism",
            "Severity": "sev1",
            "Your team": "legal",
            "Language": "de",
            "Content links or ids": "acct:99120\nacct:99121\nacct:99122",
        },
    ),
    (
        "U07PARTN03",
        "Antisemitic meme format spreading in German-language groups",
        {
            "Policy area": "hateful_activities",
            "Severity": "sev2",
            "Your team": "partner_management",
            "Language": "de",
            "Content links or ids": "https://social.example/g/berlin-memes/p/1200",
        },
    ),
    (
        "U07VENDR04",
        "Vendor removed a news clip of a protest: was that right?",
        {
            "Policy area": "graphic_violence",
            "Severity": "sev3",
            "Your team": "vendor_ops",
            "Vendor": "tejo_lisbon",
            "Language": "pt",
            "Content links or ids": "post:77310",
        },
    ),
    (
        "U07COMMS02",
        "Journalist flags self-harm challenge videos aimed at teens",
        {
            "Policy area": "self_harm",
            "Severity": "sev1",
            "Your team": "comms",
            "Content links or ids": "https://video.example/tag/challenge42",
        },
    ),
    (
        "U07PROD005",
        "Classifier gap: slurs spelled with look-alike characters",
        {"Policy area": "hateful_activities", "Severity": "sev3", "Your team": "product"},
    ),
    (
        "U07PARTN03",
        "Tagalog posts inciting violence against a minority in Mindanao",
        {
            "Policy area": "hateful_activities",
            "Severity": "sev1",
            "Your team": "partner_management",
            "Language": "tl",
            "Content links or ids": "https://social.example/p/mnd-3321",
        },
    ),
    (
        "U07LEGAL01",
        "Regulator asks for our decision on a Hindi hate speech report",
        {
            "Policy area": "hateful_activities",
            "Severity": "sev2",
            "Your team": "legal",
            "Language": "hi",
            "Content links or ids": "post:60110",
        },
    ),
]
#: Whose DMs the page shows (the on-call specialist, who gets the most).
DM_SHOWN = "Wanjiru"
#: The assault video again, reported by someone else with a different URL form.
DUPLICATE: tuple[str, str, dict[str, object]] = (
    "U07PARTN03",
    "Same street-assault video, now trending in Brazil",
    {
        "Policy area": "graphic_violence",
        "Severity": "sev2",
        "Your team": "partner_management",
        "Language": "pt",
        "Content links or ids": "http://VIDEO.example/v/91823/#t=12",
    },
)


@dataclass
class Narrator:
    """Turns the emulator's call log into what people would see, step by step."""

    fake: FakeSlack
    names: dict[str, str]
    clock: Callable[[], datetime] = datetime.now
    out: Callable[[str], None] = print
    seen: int = 0
    lines: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        text = emojize(text)
        self.lines.append(text)
        self.out(text)

    def step(self, title: str) -> None:
        self.say(f"\n== {self.clock():%a %H:%M} — {title}")

    def flush(self) -> None:
        calls = self.fake.calls[self.seen :]
        self.seen += len(calls)
        for call in calls:
            if call.ok:
                line = self._describe(call)
                if line:
                    self.say("   " + line)

    def _dm_user(self, channel: str) -> str:
        """The person a DM channel (D…) belongs to."""
        for uid in self.names:
            if self.fake.dm_channel(uid) == channel:
                return uid
        return channel

    def _who(self, uid: str | None) -> str:
        return self.names.get(uid or "", uid or "?")

    def _describe(self, call: Call) -> str | None:
        a = call.args
        text = _first_line(a.get("text") or _header(a.get("blocks")))
        if call.method == "chat.postMessage":
            where = a.get("channel", "")
            if str(where).startswith(("U", "W", "D")):
                return f"DM → {self._who(self._dm_user(where))}: {text}"
            prefix = "thread reply" if a.get("thread_ts") else "new message"
            line = f"#{self.fake.channel_name(where)} {prefix}: {text}"
            why = _routing_reason(a.get("blocks"))
            return f"{line}\n      {why}" if why and not a.get("thread_ts") else line
        if call.method == "chat.update":
            return f"#{self.fake.channel_name(a.get('channel', ''))} card updated: {text}"
        if call.method == "response_url":
            return f"(only {self._who(self.fake.response_user(a['response_id']))} sees) {text}"
        if call.method == "chat.postEphemeral":
            return f"(only {self._who(a.get('user'))} sees) {text}"
        if call.method in ("views.open", "views.push"):
            view = a.get("view") or {}
            if isinstance(view, str):
                view = json.loads(view)
            return f"modal opens: {view.get('title', {}).get('text', '')}"
        if call.method == "conversations.join":
            return f"escbot joins #{self.fake.channel_name(a.get('channel', ''))}"
        if call.method == "files.completeUploadExternal":
            if not a.get("blocks"):
                return "digest chart uploaded into a thread"
            where = self.fake.channel_name(a.get("channel_id", ""))
            return f"#{where} new message with its chart: {text}"
        return None


def _card_key(message: Message) -> str | None:
    header = (message.blocks or [{}])[0]
    if header.get("type") != "header":
        return None
    found = re.search(r"\bESC-\d+\b", header["text"]["text"])
    return found.group(0) if found else None


def _card_actions(card: Message) -> tuple[list[str], list[str]]:
    """The texts of a card's buttons, and of its overflow menu's items."""
    buttons: list[str] = []
    menu: list[str] = []
    for block in _blocks(card.blocks):
        for el in block.get("elements", []) if block.get("type") == "actions" else []:
            if el.get("type") == "button":
                buttons.append(str(el["text"]["text"]))
            elif el.get("type") == "overflow":
                menu += [str(o["text"]["text"]) for o in el.get("options", [])]
    return buttons, menu


def _blocks(blocks: object) -> list[dict[str, Any]]:
    """Blocks as a call carried them: a list, or JSON text when the call was form-encoded."""
    parsed = json.loads(blocks) if isinstance(blocks, str) else blocks
    return list(parsed) if isinstance(parsed, list) else []


def _routing_reason(blocks: object) -> str | None:
    """The card's "routed to … because …" line."""
    for b in _blocks(blocks):
        for el in b.get("elements", []) if b.get("type") == "context" else []:
            if str(el.get("text", "")).startswith(":compass:"):
                return str(el["text"])
    return None


def _header(blocks: object) -> str:
    for b in _blocks(blocks):
        if b.get("type") in ("header", "section") and "text" in b:
            return str(b["text"]["text"])
    return ""


def _first_line(text: str) -> str:
    line = (text or "").strip().splitlines()[0] if text and text.strip() else ""
    return line if len(line) <= 140 else line[:139] + "…"


class RateSeconds:
    """The seconds Slack's rate limits and escbot's pacing count in the demo: they pass only
    when the demo waits out the pacing (``Desk.quiet``), so the same seed gives the same
    order of messages however fast the machine is, at Slack's real rates."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Desk:
    """The emulator, escbot and the cast, wired together."""

    def __init__(self, cfg: AppConfig, database_url: str, seed: int) -> None:
        self.cfg = cfg
        self.rng = random.Random(seed)
        self.clock = FakeClock(START)
        team = cfg.workspace.team_id or "T0ESCBOT"
        self.seconds = RateSeconds()
        self.fake = FakeSlack(
            clock=self.clock, team_id=team, seed=seed, rate_clock=self.seconds
        ).start()
        names = dict(PARTNERS)
        for pod in cfg.pods.values():
            names[pod.lead] = f"{pod.title} lead"
            for m in pod.members:
                names[m.id] = m.name
        for uid, name in names.items():
            self.fake.add_user(uid, name)
        self.fake.add_channel(cfg.workspace.intake_channel, "tns-escalations")
        self.fake.add_channel(PARTNER_CHANNEL, "partner-requests")
        for d in cfg.digests:  # private, as a desk keeps it: the digest's audience is internal
            self.fake.add_channel(d.channel, "tns-escalations-kpi", is_private=True)
            self.fake.invite(d.channel)
        for key, vendor in cfg.vendors.items():  # Slack Connect channels: escbot is invited
            if vendor.channel:
                self.fake.add_channel(
                    vendor.channel, f"ext-{key.replace('_', '-')}", is_private=True
                )
                self.fake.invite(vendor.channel)
            for uid in vendor.leads:
                self.fake.add_user(uid, f"{vendor.name} lead")
                names[uid] = f"{vendor.name} lead"
        self.names = names
        settings = Settings(
            bot_token="xoxb-demo",
            signing_secret=SECRET,
            api_url=self.fake.url,
            database_url=database_url,
            host="127.0.0.1",
            port=0,
            qa_token=QA_TOKEN,
            # settle() delivers: one message at a time, a person's notices of one step in one
            # DM (it runs once the step's work is done: no window to wait out)
            outbox_senders=1,
            notice_window=timedelta(0),
        )
        self.runtime = Runtime.build(settings, cfg, clock=self.clock).start(workers=False)
        self.runtime.services.outbox.pacer = Pacer(settings.channel_rate, monotonic=self.seconds)
        self.narrator = Narrator(
            self.fake, names, clock=lambda: self.clock.now().astimezone(cfg.team_tz)
        )

    def user(self, uid: str) -> SlackUser:
        return SlackUser(
            self.runtime.events_url,
            SECRET,
            user_id=uid,
            user_name=self.names.get(uid, uid),
            fake=self.fake,
            clock=self.clock,
        )

    def settle(self) -> None:
        """Let escbot finish what the last gesture or move of the clock set off, then
        narrate what people saw."""
        self.quiet()
        self.narrator.flush()

    def quiet(self) -> None:
        """Wait for the step's effects, in a fixed order, so that thread timing can't reorder
        them: the listeners (work after the ack included) and the router finish, the
        scheduler fires what is due at the demo's clock, and the outbox delivers one message
        at a time until none is left (a delivery may make another due: a DM after its card).
        """
        services = self.runtime.services
        runner = self.runtime.app.listener_runner
        assert isinstance(runner, PromptListenerRunner)  # install_runner gave it
        for idle, what in (
            (runner.wait_idle, "its listeners"),
            (services.router.wait_idle, "routing"),
        ):
            if not idle(STEP_TIMEOUT):
                raise RuntimeError(f"escbot did not settle: {what} still busy")
        services.scheduler.tick()
        outbox, deadline = services.outbox, time.monotonic() + STEP_TIMEOUT
        while outbox.pending():
            if outbox.run_once():
                continue
            if paced := outbox.due.paced:  # a channel at Slack's pace: its next second
                self.seconds.now += paced
                continue
            if time.monotonic() > deadline:
                raise RuntimeError("escbot did not settle: its outbox still has messages")
            time.sleep(0.02)  # one waits out a retry's backoff (the outbox keeps the wall's time)

    def advance(self, delta: timedelta) -> None:
        """Time passes: what falls due fires (all at once, at the new time) before anyone
        acts; the next step narrates it."""
        self.clock.advance(delta)
        self.quiet()

    def set_time(self, at: datetime) -> None:
        self.clock.set(at)
        self.quiet()

    # -- what people see and do ---------------------------------------------------
    def cards(self) -> list[Message]:
        return self.fake.messages(self.cfg.workspace.intake_channel)

    def keys(self) -> list[str]:
        return [k for m in self.cards() if (k := _card_key(m))]

    def card(self, key: str) -> Message:
        for m in self.cards():
            if _card_key(m) == key:
                return m
        raise LookupError(key)

    def summary(self, key: str) -> str:
        """The card's title line (the bold first line under the header)."""
        title = _blocks(self.card(key).blocks)[1]["text"]["text"].split("\n", 1)[0]
        return html.unescape(title.strip("*")).replace("&amp;", "&")

    def owner(self, key: str) -> str:
        """The owner named on the card's status line ("Owner <@U…> · ack due …"), or on a
        resolved card's decision line ("… · by <@U…> …")."""
        for block in _blocks(self.card(key).blocks):
            texts = [str(el.get("text", "")) for el in block.get("elements", [])]
            texts.append(str(block.get("text", {}).get("text", "")))
            for text in texts:
                if found := re.search(r"(?:^Owner|· by) <@([UW][A-Z0-9]+)>", text):
                    return found.group(1)
        raise LookupError(f"{key} has no owner")

    def click(self, uid: str, key: str, button: str) -> None:
        """Click ``button`` on the card: a button, or an item of its overflow menu."""
        card = self.card(key)
        visible, menu = _card_actions(card)
        person = self.user(uid)
        if label := next((b for b in visible if b.startswith(button)), None):
            resp = person.click(card, label, channel_id=card.channel, message_ts=card.ts)
        elif label := next((o for o in menu if o.startswith(button)), None):
            resp = person.select(card, OVERFLOW, label, channel_id=card.channel, message_ts=card.ts)
        else:
            raise RuntimeError(f"{key} offers no {button!r}: {visible} and ⋯ {menu}")
        _ok(resp, f"{button} on {key}")
        self.settle()

    def resolve(self, key: str, fields: dict[str, object]) -> None:
        owner = self.owner(key)
        self.click(owner, key, "Resolve")
        _ok(self.user(owner).submit_view(self.fake.last_view(owner), fields), f"resolve {key}")
        self.settle()

    def followup(self, key: str, uid: str, fields: dict[str, object]) -> None:
        self.click(uid, key, "Add follow-up")
        _ok(self.user(uid).submit_view(self.fake.last_view(uid), fields), f"follow-up on {key}")
        self.settle()

    def home_summary(self, uid: str) -> str:
        view = self.fake.home_view(uid) or {}
        heads = [b["text"]["text"] for b in view.get("blocks", []) if b.get("type") == "header"]
        return " | ".join(heads) or "(empty)"

    def close(self) -> None:
        self.runtime.shutdown()
        self.fake.stop()


def escalate(desk: Desk, uid: str, summary: str, fields: dict[str, object]) -> None:
    """What a partner does: /escalate <summary>, fill in the modal, submit."""
    user = desk.user(uid)
    _ok(user.command("/escalate", text=summary, channel_id=PARTNER_CHANNEL), "/escalate")
    desk.quiet()  # the modal opens right after the ack
    _ok(user.submit_view(desk.fake.last_view(uid), fields), "the escalation form")
    desk.settle()


def _ok(resp: object, what: str) -> None:
    status = getattr(resp, "status_code", 0)
    if status != 200:
        raise RuntimeError(f"{what} answered HTTP {status}")
    body = getattr(resp, "text", "")
    if '"errors"' in body:
        raise RuntimeError(f"{what} was refused: {body}")


def play(desk: Desk) -> None:
    n, cfg = desk.narrator, desk.cfg
    lead = next(iter(cfg.pods.values())).lead
    n.step("escbot starts and joins the channels of app.yaml (Slack sends it only theirs)")
    desk.settle()
    n.step("Partners raise a dozen escalations with /escalate")
    for uid, summary, fields in desk.rng.sample(ESCALATIONS, len(ESCALATIONS)):
        escalate(desk, uid, summary, fields)
        desk.advance(timedelta(minutes=1))

    n.step(
        "The assault video again, from another team: escbot says only that the desk has it "
        "(the ticket isn't theirs to see) and lets them ask its owner to follow it"
    )
    uid, summary, fields = DUPLICATE
    escalate(desk, uid, summary, fields)
    choice = desk.fake.last_view(uid)
    if choice is None:
        raise RuntimeError("escbot offered no choice for the duplicate")
    ask = _button_starting(choice, "Ask to follow")
    _ok(desk.user(uid).click(choice, ask), "ask to follow")
    desk.settle()
    owner = desk.owner(ask.rsplit(" ", 1)[-1])

    request = [m for m in desk.fake.dms(owner) if "asks to follow" in (m.text or "")][-1]
    n.step("Its owner approves from the DM: the partner follows the ticket now")
    _ok(desk.user(owner).click(request, "Approve", channel_id=request.channel), "approve")
    desk.settle()

    keys = desk.keys()
    by_summary = {desk.summary(k): k for k in keys}
    key = {s: by_summary[s] for s in by_summary}
    hate = key["Coordinated hate campaign targeting a creator after a livestream"]
    charity = key["Slur-filled comments under a charity's posts"]
    war = key["Vendor left up a war-footage compilation: newsworthy or gratuitous?"]
    protest = key["Vendor removed a news clip of a protest: was that right?"]
    court = key["Court order names three accounts glorifying an attack"]
    memes = key["Antisemitic meme format spreading in German-language groups"]
    lookalike = key["Classifier gap: slurs spelled with look-alike characters"]

    desk.advance(timedelta(minutes=4))
    n.step("Owners acknowledge from the card")
    for k in (hate, charity, war, protest, court):
        desk.click(desk.owner(k), k, "Ack")

    n.step("Jonas takes the German meme ticket himself")
    jonas = _member(cfg, "Jonas")
    if desk.owner(memes) == jonas:
        desk.click(_member(cfg, "Lucía"), memes, "Take")
    else:
        desk.click(jonas, memes, "Take")

    n.step("The lead reassigns the look-alike slurs gap to Priya, with a reason")
    desk.click(lead, lookalike, "Reassign")
    _ok(
        desk.user(lead).submit_view(
            desk.fake.last_view(lead),
            {
                "New owner": _member(cfg, "Priya"),
                "Reason": "Priya owns the classifier relationship with the product team",
            },
        ),
        "reassign",
    )
    desk.settle()

    n.step("Lucía needs more from the reporter: the SLA clock pauses")
    asker = desk.owner(charity)
    desk.click(asker, charity, "Ask reporter")
    _ok(
        desk.user(asker).submit_view(
            desk.fake.last_view(asker),
            {
                "Question": "Do you have the charity's report reference? Still up?",
            },
        ),
        "ask reporter",
    )
    desk.settle()
    desk.advance(timedelta(minutes=10))
    n.step("The reporter answers from escbot's DM (Answer): the clock runs again")
    reporter = "U07PARTN03"
    asked = next(m for m in desk.fake.dms(reporter) if "has a question" in str(m.blocks))
    _ok(desk.user(reporter).click(asked, "Answer", channel_id=asked.channel), "answer button")
    desk.quiet()
    _ok(
        desk.user(reporter).submit_view(
            desk.fake.last_view(reporter),
            {"Your answer": "Reference CH-2291; yes, 40+ comments still visible this morning."},
        ),
        "answer",
    )
    desk.settle()

    desk.advance(timedelta(minutes=40))
    n.step("Decisions, with verdicts on the vendors' first calls")
    desk.settle()
    desk.resolve(
        war,
        {
            "Decision": "Restricted (age-gated or geo-blocked)",
            "Rationale": "Newsworthy war reporting, but graphic: age-gate and warn.",
            "Was Northwind CX (Manila) right?": "No, it was wrong",
            "If not, what went wrong": "Wrong policy",
        },
    )
    desk.resolve(
        protest,
        {
            "Decision": "No violation",
            "Rationale": "Protest footage without graphic injury: restore it.",
            "Was Tejo Trust Services (Lisbon) right?": "No, it was wrong",
            "If not, what went wrong": "Over enforcement",
        },
    )
    desk.resolve(
        hate,
        {
            "Decision": "Account action (strike, suspension)",
            "Rationale": "Coordinated brigading: 14 accounts suspended.",
        },
    )

    n.step("Follow-ups: retrain the vendor, fix the process")
    owner = desk.owner(war)
    desk.followup(
        war,
        owner,
        {
            "Kind": "Vendor training",
            "What needs doing": "Newsworthiness exception training for "
            "Northwind's graphic-violence queue",
            "Owner": owner,
            "Due date": "2026-12-02",
        },
    )
    desk.followup(
        war,
        owner,
        {
            "Kind": "Process",
            "What needs doing": "Add a newsworthiness check to the vendor escalation form",
            "Owner": owner,
            "Due date": "2026-11-30",
        },
    )

    n.step("App Home: what a specialist and a partner see")
    for uid in (owner, "U07LEGAL01"):
        _ok(desk.user(uid).app_home_opened(), "App Home")
    desk.settle()
    for uid in (owner, "U07LEGAL01"):
        n.say(f"   {desk.names[uid]}'s App Home: {desk.home_summary(uid)}")

    n.step("The vendors' moderation tools send Monday's decisions to POST /qa/decisions")
    import_decisions(desk)

    desk.set_time(datetime(2026, 12, 1, 9, 0, 30, tzinfo=UTC))
    n.step("Time travel to Tuesday 09:00: reminders, an overdue follow-up, the daily digest")
    desk.settle()

    qa_morning(desk)


# -- the QA morning --------------------------------------------------------------------


def import_decisions(desk: Desk) -> None:
    """Monday's decisions of each vendor with a QA plan, posted as a moderation tool would."""
    cfg, rng = desk.cfg, desk.rng
    day = datetime(2026, 11, 30, tzinfo=cfg.team_tz)
    areas, decisions = list(cfg.policy_areas), ["removed", "labelled", "no_violation"]
    for vendor in cfg.qa.plans:
        lines = []
        for i in range(600):
            decided = day + timedelta(seconds=rng.randrange(8 * 3600))
            row = {
                "vendor": vendor,
                "decision_id": f"{vendor[:4]}-20261130-{i:05d}",
                "content_ref": f"https://social.example/p/{rng.randrange(10**9)}",
                "policy_area": rng.choice(areas),
                "decision": rng.choice(decisions),
                "decided_at": decided.isoformat(),
                "agent_id": f"{vendor[:2]}-agent-{rng.randrange(25):02d}",
                "confidence": round(rng.random(), 2),
            }
            lines.append(json.dumps(row))
        body = "\n".join(lines).encode()
        request = urllib.request.Request(
            f"{desk.runtime.url}/qa/decisions",
            data=body,
            headers={"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {QA_TOKEN}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            answer = json.loads(resp.read())
        desk.narrator.say(
            f"   POST /qa/decisions ({cfg.vendors[vendor].name}): {answer['rows']} rows, "
            f"{answer['imported']} imported, {answer['bad_rows']} bad"
        )


def qa_morning(desk: Desk) -> None:
    """The sample drawn at 07:00, the graders' DMs at 09:30, one overturn, a clarification the
    vendor lead acknowledges, and the vendor's sampled score in the weekly digest so far."""
    from sqlalchemy import func, select

    from bot.core.render import Renderer
    from bot.reporting.periods import period_containing
    from bot.reporting.present import make_digest, payload_text
    from storage.models import QaItem

    n, cfg = desk.narrator, desk.cfg
    sessions = desk.runtime.services.sessions
    desk.set_time(datetime(2026, 12, 1, 9, 31, tzinfo=UTC))
    n.step("A QA morning: the 07:00 sample, then the graders' DMs at 09:30")
    desk.settle()
    with sessions() as s:
        per_grader: dict[str, int] = {
            g: int(c)
            for g, c in s.execute(
                select(QaItem.grader_id, func.count())
                .where(QaItem.kind == "sample", QaItem.grader_id.is_not(None))
                .group_by(QaItem.grader_id)
            )
            if g
        }

    n.say(
        f"   sampled {sum(per_grader.values())} decisions (stratified, seeded), "
        f"assigned to {len(per_grader)} specialists within their sensitive caps"
    )
    grader = max(per_grader, key=lambda u: per_grader[u])
    user = desk.user(grader)
    _ok(user.app_home_opened(), "App Home")
    desk.settle()
    n.step(f"{desk.names[grader]} grades in App Home: two upheld, one overturned")
    for _ in range(2):
        _ok(user.click(desk.fake.home_view(grader) or {}, "Uphold"), "Uphold")
        desk.settle()
    _ok(user.click(desk.fake.home_view(grader) or {}, "Overturn"), "Overturn")
    desk.quiet()
    view = desk.fake.last_view(grader)
    fields = {
        "Correct decision": "Labelled (warning screen or context label)",
        "Note": "Newsworthy",
    }
    categories = [
        o
        for b in (view or {}).get("blocks", [])
        if b.get("block_id") == "error_category"
        for o in b["element"]["options"]
    ]
    if categories:
        fields["Error category"] = categories[0]["text"]["text"]
    _ok(user.submit_view(view, fields), "the overturn")
    desk.settle()

    n.step("From the overturn, a clarification to the vendor's shared channel")
    _ok(user.click(desk.fake.home_view(grader) or {}, "Write clarification"), "Write clarification")
    desk.quiet()
    written = {
        "Policy point": "GV-2: newsworthy footage of violent death is labelled, not removed",
        "What to do instead": "Apply the warning screen; remove only gratuitous close-ups.",
    }
    _ok(user.submit_view(desk.fake.last_view(grader), written), "the clarification")
    desk.settle()
    posted = [
        (key, m)
        for key, v in cfg.vendors.items()
        if v.channel
        for m in desk.fake.messages(v.channel)
    ]
    if posted:
        key, message = posted[-1]
        vendor_lead = cfg.vendors[key].leads[0]
        n.step(f"{desk.names[vendor_lead]} acknowledges it")
        _ok(
            desk.user(vendor_lead).click(
                message, "Acknowledge", channel_id=message.channel, message_ts=message.ts
            ),
            "Acknowledge",
        )
        desk.settle()

    n.step("The vendors' sampled quality in the weekly digest (this week so far)")
    weekly = next((d for d in cfg.digests if "vendors" in d.sections), None)
    if weekly is None:
        return
    period = period_containing(
        weekly.period, desk.clock.now().astimezone(cfg.team_tz).date(), cfg.team_tz
    )
    with sessions() as s:
        out = make_digest(
            s, cfg, Renderer(cfg.team_tz), weekly, period, desk.clock.now(), chart=False
        )
    text = payload_text(out.payload)
    start = text.find("*Sampled quality (QA)*")
    for line in text[start:].split("\n\n")[0].splitlines() if start >= 0 else []:
        n.say(f"   {line}")


def _member(cfg: AppConfig, first_name: str) -> str:
    for pod in cfg.pods.values():
        for m in pod.members:
            if m.name.split()[0] == first_name:
                return m.id
    raise LookupError(first_name)


def _button_starting(view: dict | None, prefix: str) -> str:
    for block in (view or {}).get("blocks", []):
        for el in [*block.get("elements", []), block.get("accessory") or {}]:
            if isinstance(el, dict) and el.get("type") == "button":
                text = str(el["text"]["text"])
                if text.startswith(prefix):
                    return text
    raise RuntimeError(f"no button starting with {prefix!r}")


def write_html(desk: Desk, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("chart-*.png"):  # from an earlier run
        stale.unlink()
    images: dict[str, str] = {}
    for f in desk.fake.files:
        if f.content:
            name = f"chart-{f.id}.png"
            (out / name).write_bytes(f.content)
            images[f.id] = name
    names = dict(desk.names)
    names[desk.cfg.workspace.intake_channel] = "tns-escalations"
    names.update({d.channel: "tns-escalations-kpi" for d in desk.cfg.digests})
    names.update(
        {
            v.channel: desk.fake.channel_name(v.channel)
            for v in desk.cfg.vendors.values()
            if v.channel
        }
    )
    view = View(names, desk.cfg.team_tz, desk.clock.now())
    sections = []
    channels = [("Intake channel · #tns-escalations", desk.cfg.workspace.intake_channel)]
    channels += [
        (f"Digest: {d.name} · #tns-escalations-kpi", d.channel) for d in desk.cfg.digests[:1]
    ]
    owner = _member(desk.cfg, DM_SHOWN)
    channels.append((f"Direct messages: escbot → {desk.names[owner]}", desk.fake.dm_channel(owner)))
    channels += [
        (f"QA clarifications: {v.name}", v.channel)
        for v in desk.cfg.vendors.values()
        if v.channel and desk.fake.messages(v.channel)
    ]
    for title, channel in channels:
        msgs = "".join(
            message_html(m, view, desk.fake.thread(channel, m.ts), images)
            for m in desk.fake.messages(channel)
        )
        sections.append(f"<h2>{html.escape(title)}</h2>{msgs or '<p>(nothing yet)</p>'}")
    for name, fragment in fragments(desk, view, images).items():
        (out / f"fragment-{name}.html").write_text(fragment_page(fragment), encoding="utf-8")
    page = out / "index.html"
    page.write_text(PAGE.format(sections="".join(sections)), encoding="utf-8")
    (out / "transcript.txt").write_text("\n".join(desk.narrator.lines) + "\n", encoding="utf-8")
    return page


def fragments(desk: Desk, view: View, images: dict[str, str]) -> dict[str, str]:
    """The messages the README shows: cards (one needing ack, one resolved), an owner's DM
    with its Ack button, and the digest with its chart."""
    cards = desk.cards()
    waiting = [m for m in cards if "Needs ack" in _header(m.blocks)]
    done = [m for m in cards if "Resolved" in _header(m.blocks)]
    owner = _member(desk.cfg, DM_SHOWN)
    dms = [m for m in desk.fake.dms(owner) if "Ack" in str(_card_actions(m)[0])]
    digest = [m for d in desk.cfg.digests[:1] for m in desk.fake.messages(d.channel) if m.files]
    picked = {"card": waiting[:1] + done[:1], "dm": dms[:1], "digest": digest[-1:]}
    return {
        name: "".join(message_html(m, view, images=images) for m in msgs)
        for name, msgs in picked.items()
        if msgs
    }


def run_demo(
    *, out: Path, seed: int, database_url: str | None = None, config_path: str | None = None
) -> int:
    started = time.monotonic()
    logging.getLogger().setLevel(logging.WARNING)  # the transcript is the output
    logging.getLogger("alembic").setLevel(logging.WARNING)
    cfg = load_config(config_path or REPO_CONFIG)
    with tempfile.TemporaryDirectory(prefix="escbot-demo-") as tmp:
        desk = Desk(cfg, database_url or f"sqlite:///{tmp}/demo.db", seed)
        try:
            play(desk)
            page = write_html(desk, out)
        finally:
            desk.close()
    print(f"\nWrote {page} and {out / 'transcript.txt'} in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_demo(out=Path("demo-out"), seed=7))
