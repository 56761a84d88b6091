"""``escbot demo``: a scripted morning at the escalation desk, offline.

It starts the built-in Slack emulator and escbot on real HTTP (127.0.0.1),
then plays partners and specialists through signed requests only — the same
public interface Slack uses — so it doubles as an end-to-end test. It prints
what each person sees and writes ``index.html`` (the intake channel with its
threads, the digest channel and DMs) to the output folder.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.clock import FakeClock
from bot.config import AppConfig, load_config
from bot.demo_html import PAGE, message_html
from bot.emulator import Call, FakeSlack, SlackUser
from bot.runtime import Runtime
from bot.settings import Settings

REPO_CONFIG = Path(__file__).resolve().parent.parent / "app.yaml"
SECRET = "demo-signing-secret"
#: Monday 30 Nov 2026, 09:05 in Dublin: Europe is at work, the Americas not yet.
START = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)

PARTNERS = {
    "U07LEGAL01": "Hannah (Legal)",
    "U07COMMS02": "Tom (Comms)",
    "U07PARTN03": "Keiko (Partner mgmt)",
    "U07VENDR04": "Rafael (Vendor ops)",
}

# (reporter, summary, form fields by label): a dozen escalations of a Monday morning.
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
        "Vendor unsure whether a war-footage compilation is newsworthy",
        {
            "Policy area": "graphic_violence",
            "Severity": "sev2",
            "Your team": "vendor_ops",
            "Vendor": "northwind_manila",
            "Content links or ids": "post:55012",
        },
    ),
]
DUPLICATE = (
    "U07COMMS02",
    "Same street-assault video, now trending in Brazil",
    {
        "Policy area": "graphic_violence",
        "Severity": "sev2",
        "Your team": "comms",
        "Language": "pt",
        "Content links or ids": "http://VIDEO.example/v/91823/#t=12",
    },
)


@dataclass
class Narrator:
    """Turns the emulator's call log into what people would see, step by step."""

    fake: FakeSlack
    names: dict[str, str]
    out: Callable[[str], None] = print
    seen: int = 0
    lines: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.lines.append(text)
        self.out(text)

    def step(self, title: str) -> None:
        self.say(f"\n== {title}")

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
            return f"#{self.fake.channel_name(where)} {prefix}: {text}"
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
        if call.method == "views.publish":
            return f"App Home refreshed for {self._who(a.get('user_id'))}"
        if call.method == "files.completeUploadExternal":
            return "chart uploaded into the digest thread"
        return None


def _header(blocks: object) -> str:
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    for b in blocks or []:  # type: ignore[union-attr]
        if b.get("type") in ("header", "section") and "text" in b:
            return str(b["text"]["text"])
    return ""


def _first_line(text: str) -> str:
    line = (text or "").strip().splitlines()[0] if text and text.strip() else ""
    return line if len(line) <= 140 else line[:139] + "…"


class Desk:
    """The emulator, escbot and the cast, wired together."""

    def __init__(self, cfg: AppConfig, database_url: str, seed: int) -> None:
        self.cfg = cfg
        self.rng = random.Random(seed)
        self.clock = FakeClock(START)
        self.fake = FakeSlack(clock=self.clock, team_id=cfg.workspace.team_id or "T0ESCBOT").start()
        names = dict(PARTNERS)
        for pod in cfg.pods.values():
            names[pod.lead] = f"{pod.title} lead"
            for m in pod.members:
                names[m.id] = m.name
        for uid, name in names.items():
            self.fake.add_user(uid, name)
        self.fake.add_channel(cfg.workspace.intake_channel, "tns-escalations")
        for d in cfg.digests:
            self.fake.add_channel(d.channel, "tns-escalations-kpi")
        self.names = names
        settings = Settings(
            bot_token="xoxb-demo",
            signing_secret=SECRET,
            api_url=self.fake.url,
            database_url=database_url,
            host="127.0.0.1",
            port=0,
            timer_interval=timedelta(seconds=0.2),
            channel_rate=20.0,  # the emulator has no per-channel limit; a morning in seconds
        )
        self.runtime = Runtime.build(settings, cfg, clock=self.clock).start()
        self.narrator = Narrator(self.fake, names)

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
        """Let escbot deliver what it queued, then narrate it."""
        self.runtime.services.outbox.drain(timeout=20)
        self.narrator.flush()

    def close(self) -> None:
        self.runtime.shutdown()
        self.fake.stop()


def escalate(desk: Desk, uid: str, summary: str, fields: dict[str, object]) -> None:
    """What a partner does: /escalate <summary>, fill in the modal, submit."""
    user = desk.user(uid)
    since = desk.fake.mark()
    _ok(user.command("/escalate", text=summary, channel_id="C07PARTNERS"), "/escalate")
    desk.fake.wait_for("views.open", since=since)  # the modal opens right after the ack
    _ok(user.submit_view(desk.fake.last_view(uid), fields), "the escalation form")
    desk.settle()


def _ok(resp: object, what: str) -> None:
    status = getattr(resp, "status_code", 0)
    if status != 200:
        raise RuntimeError(f"{what} answered HTTP {status}")


def play(desk: Desk) -> None:
    n = desk.narrator
    n.step("09:05 — partners raise escalations with /escalate")
    for uid, summary, fields in ESCALATIONS:
        escalate(desk, uid, summary, fields)
    n.step("09:20 — the same video again: escbot offers to add it to the open ticket")
    uid, summary, fields = DUPLICATE
    escalate(desk, uid, summary, fields)
    choice = desk.fake.last_view(uid)
    _ok(desk.user(uid).click(choice, _button_starting(choice, "Add to")), "add to the ticket")
    desk.settle()


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
    images: dict[str, str] = {}
    for f in desk.fake.files:
        if f.content:
            name = f"chart-{f.id}.png"
            (out / name).write_bytes(f.content)
            images[f.id] = name
    sections = []
    channels = [("Intake channel", desk.cfg.workspace.intake_channel)]
    channels += [(f"Digest: {d.name}", d.channel) for d in desk.cfg.digests[:1]]
    for title, channel in channels:
        msgs = "".join(
            message_html(m, desk.names, desk.fake.thread(channel, m.ts), images)
            for m in desk.fake.messages(channel)
        )
        sections.append(f"<h2>{title}</h2>{msgs or '<p>(nothing yet)</p>'}")
    page = out / "index.html"
    page.write_text(PAGE.format(sections="".join(sections)), encoding="utf-8")
    (out / "transcript.txt").write_text("\n".join(desk.narrator.lines) + "\n", encoding="utf-8")
    return page


def run_demo(
    *, out: Path, seed: int, database_url: str | None = None, config_path: str | None = None
) -> int:
    started = time.monotonic()
    logging.getLogger().setLevel(logging.WARNING)  # the transcript is the output
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
