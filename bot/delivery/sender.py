"""The outbox's sender: the one piece that talks to Slack, and what each answer means.

- ``not_in_channel`` → ``conversations.join`` once and the same call again (posts,
  uploads, the look-ups below); a channel the bot can't join is a dead letter;
- each post carries its ``dedup_key`` as message metadata, so a retry after a crash or a
  lost answer finds the earlier post (a shared file: by its name) instead of posting twice;
- 429 → the whole channel waits ``Retry-After``; other errors a retry may cure → backoff;
  errors no retry cures (``missing_scope``, ``channel_not_found``, ``is_archived``, …) →
  ``dead`` at once, with one log line and a metric that name the fix (:func:`fix_for`).

The call is made outside any transaction (on SQLite a transaction's lock is the whole
database's, and intake must never wait on Slack); the outcome is recorded after it.
"""

from __future__ import annotations

import base64
import json
import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.core.clock import Clock
from bot.core.metrics import Metrics
from bot.delivery.due import RATELIMITED, UNCERTAIN, DueRows
from bot.delivery.outbox import CARD_LINK
from bot.delivery.planner import Plan
from bot.delivery.recovery import UNAVAILABLE, Recovery
from storage.models import OutboxMessage, Ticket

log = logging.getLogger(__name__)

#: Slack refused the message itself: retrying the same message can't help.
MALFORMED = frozenset(
    {
        "invalid_blocks",
        "msg_too_long",
        "no_text",
        "message_not_found",
        "cant_update_message",
        "invalid_arguments",
    }
)
MAX_BACKOFF = timedelta(minutes=5)
#: How far before a row's queueing the look for an interrupted post starts: our clock
#: and Slack's may disagree by this much.
LOOK_BACK_SKEW = timedelta(minutes=5)
METADATA_EVENT = "escbot_outbox"  # message metadata that lets a retry find its own post
#: Link/media preview flags: chat.postMessage takes them; chat.update and ephemerals ignore them.
UNFURL_FLAGS = ("unfurl_links", "unfurl_media")


@dataclass
class Sender:
    """Makes a planned row's Slack call and records what came of it."""

    sessions: sessionmaker[Session]
    client: WebClient
    due: DueRows  # the channel's pacer, and rows to release when a delivery settles
    clock: Clock
    metrics: Metrics | None = None
    on_dead: Callable[[OutboxMessage], None] | None = None
    recovery: Recovery | None = None  # told when Slack answers 5xx or not at all
    #: DM channel ids by user, as conversations.open answered them
    _dm_channels: dict[str, str] = field(default_factory=dict, init=False)

    def send(self, row_id: int, plan: Plan) -> int:
        """Deliver ``plan`` for the row ``row_id``; 1 if it went out, else 0 (recorded as a
        retry or a dead letter, the notices batched with it released)."""
        try:
            result = self._call(plan)
        except _Dead as err:
            with self._failing(row_id, plan) as row:
                self._dead(row, err.error, err.fix)
            return 0
        except SlackApiError as err:
            with self._failing(row_id, plan) as row:
                self._failed(row, err)
            return 0
        except Exception as err:  # network errors, timeouts: Slack may have posted it
            with self._failing(row_id, plan) as row:
                row.result = {UNCERTAIN: True}
                self._retry(row, self._unavailable(err, f"{type(err).__name__}: {err}"), None)
            return 0
        with self.sessions() as s, s.begin():
            if plan.card_of is not None and plan.method == "post":
                s.execute(
                    update(Ticket)
                    .where(Ticket.id == plan.card_of, Ticket.card_ts.is_(None))
                    .values(card_ts=result["ts"])
                )
                self.due.card_posted(s, plan.card_of)
            self._finish(s.get_one(OutboxMessage, row_id), "sent", result)
            for other in plan.batch:  # notices delivered in the same DM
                self._finish(s.get_one(OutboxMessage, other), "sent", {**result, "with": row_id})
        return 1

    def superseded(self, row: OutboxMessage) -> None:
        """Nothing to send for ``row`` (a newer version queued, its ticket or parent gone)."""
        self._finish(row, "superseded", {})

    # -- calling Slack ----------------------------------------------------
    def _call(self, plan: Plan) -> dict[str, Any]:
        args = dict(plan.args)
        if plan.method == "publish":
            resp = self.client.views_publish(**args)
            return {"view_id": resp["view"]["id"]}
        if plan.method == "upload":
            content = base64.b64decode(args.pop("content_b64"))

            def upload() -> dict[str, Any]:
                if plan.look_since and (found := self._find_shared(args, plan.look_since)):
                    return found
                resp = self.client.files_upload_v2(content=content, **args)
                return {"channel": args["channel"], "files": [f["id"] for f in resp["files"]]}

            return self._as_member(args["channel"], upload)
        if plan.method == "update":  # unfurl flags belong to chat.postMessage alone
            args = {k: v for k, v in args.items() if k not in UNFURL_FLAGS}
            resp = self.client.chat_update(**args)
            return {"channel": resp["channel"], "ts": resp["ts"]}
        user = args["channel"] if plan.method == "dm" else None
        if user is not None:
            args["channel"] = self._open_dm(user)
        if plan.card_link:
            channel, ts = plan.card_link
            link = self.client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
            args = _with_card_link(args, link)

        def post() -> dict[str, Any]:
            if plan.look_since and (found := self._find_posted(args, plan.dedup, plan.look_since)):
                return found
            for flag in UNFURL_FLAGS:  # what a payload doesn't allow is never previewed
                args.setdefault(flag, False)
            metadata = {"event_type": METADATA_EVENT, "event_payload": {"dedup": plan.dedup}}
            try:
                resp = self.client.chat_postMessage(**args, metadata=metadata)
            except SlackApiError as err:  # a cached DM channel Slack no longer knows
                if user is None or err.response.get("error") != "channel_not_found":
                    raise
                self._dm_channels.pop(user, None)
                args["channel"] = self._open_dm(user)
                resp = self.client.chat_postMessage(**args, metadata=metadata)
            return {"channel": resp["channel"], "ts": resp["ts"]}

        return self._as_member(args["channel"], post)

    def _open_dm(self, user: str) -> str:
        """The DM channel with ``user``: opened once per person and process (Tier 3,
        50 a minute), and again only when Slack answers ``channel_not_found``."""
        if (channel := self._dm_channels.get(user)) is None:
            channel = str(self.client.conversations_open(users=user)["channel"]["id"])
            self._dm_channels[user] = channel
        return channel

    def _as_member(self, channel: str, send: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``send``; on ``not_in_channel``, join the channel once and send again.

        A channel the bot can't join (private: ``method_not_supported_for_channel_type``)
        needs a person to invite it, which no retry replaces: the message is dead.
        """
        try:
            return send()
        except SlackApiError as err:
            if err.response.get("error") != "not_in_channel":
                raise
        try:
            self.client.conversations_join(channel=channel)
        except SlackApiError as err:
            joined = err.response.get("error") or f"http {err.response.status_code}"
            if err.response.status_code == 429 or joined in ("internal_error", "fatal_error"):
                raise  # Slack's trouble, not the channel's: retry later
            raise _Dead(f"not_in_channel (join: {joined})", _invite(channel)) from err
        log.info("outbox: joined %s to post in it", channel)
        return send()

    def _find_posted(
        self, args: dict[str, Any], dedup: str, since: datetime
    ) -> dict[str, Any] | None:
        """The message an earlier, interrupted attempt posted, found by its metadata."""
        for message in self._messages_since(args, since, include_all_metadata=True):
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("dedup") == dedup:
                log.info("outbox: %s was already posted before a crash; not posting again", dedup)
                return {"channel": args["channel"], "ts": message["ts"]}
        return None

    def _find_shared(self, args: dict[str, Any], since: datetime) -> dict[str, Any] | None:
        """The file an interrupted upload already shared, found by its file name (a digest
        chart's names its digest and period); a share message has no metadata to carry."""
        for message in self._messages_since(args, since):
            files = [f for f in message.get("files") or [] if f.get("name") == args["filename"]]
            if files:
                log.info("outbox: %s was already shared; not uploading again", args["filename"])
                return {
                    "channel": args["channel"],
                    "ts": message["ts"],
                    "files": [f["id"] for f in files],
                }
        return None

    def _messages_since(
        self, args: dict[str, Any], since: datetime, **extra: Any
    ) -> Iterator[dict[str, Any]]:
        """Every message of the channel (or of the thread ``args`` posts in) from shortly
        before ``since``, page by page. All of them: a replica killed mid-post holds its
        row for the lease, and a busy channel takes hundreds of messages meanwhile, so the
        newest page alone can miss the post and double it."""
        channel, thread = args["channel"], args.get("thread_ts")
        if since.tzinfo is None:  # stored naive in UTC
            since = since.replace(tzinfo=UTC)
        oldest = f"{(since - LOOK_BACK_SKEW).timestamp():.6f}"
        if thread:
            pages = self.client.conversations_replies(
                channel=channel, ts=thread, oldest=oldest, limit=200, **extra
            )
        else:
            pages = self.client.conversations_history(
                channel=channel, oldest=oldest, limit=200, **extra
            )
        for page in pages:  # SlackResponse follows response_metadata.next_cursor
            yield from page.get("messages") or []

    # -- recording ---------------------------------------------------------
    @contextmanager
    def _failing(self, row_id: int, plan: Plan) -> Iterator[OutboxMessage]:
        """The row whose call failed, to record it; the notices it carried are released."""
        with self.sessions() as s, s.begin():
            yield s.get_one(OutboxMessage, row_id)
            self.due.release(s, plan.batch)

    def _failed(self, row: OutboxMessage, err: SlackApiError) -> None:
        error = str(err.response.get("error") or f"http {err.response.status_code}")
        if self.metrics:
            method = (err.response.api_url or "?").rsplit("/", 1)[-1]
            self.metrics.slack_api_errors.labels(method, error).inc()
        if err.response.status_code == 429:
            retry_after = float(err.response.headers.get("Retry-After", 1) or 1)
            self.due.pacer.penalise(row.channel, retry_after)
            self._retry(row, RATELIMITED, timedelta(seconds=retry_after))
        elif (fix := fix_for(error, err.response.data, row.channel)) is not None:
            self._dead(row, error, fix)
        else:
            self._retry(row, self._unavailable(err, error), None)

    def _unavailable(self, err: Exception, error: str) -> str:
        """``error`` as recorded; Slack answering 5xx or not at all parks the row until
        the recovery probe sees Slack back (bot.delivery.recovery)."""
        status = err.response.status_code if isinstance(err, SlackApiError) else None
        if self.recovery is None or not (isinstance(err, OSError) or (status or 0) >= 500):
            return error
        self.recovery.unavailable()
        return f"{UNAVAILABLE}: {error}"

    def _dead(self, row: OutboxMessage, error: str, fix: str) -> None:
        """Give up on ``row`` at once: one log line and one metric, both naming the fix."""
        row.status = "dead"
        row.last_error = error
        row.result = {"fix": fix}
        row.lease_owner = row.lease_until = None
        log.error(
            "outbox: message %s (%s) to %s is dead (%s): %s",
            row.id,
            row.kind,
            row.channel,
            error,
            fix,
        )
        if self.metrics:
            self.metrics.outbox_dead_letters.labels(error.split(" ", 1)[0], fix).inc()
        if self.on_dead:
            self.on_dead(row)

    def _retry(self, row: OutboxMessage, error: str, after: timedelta | None) -> None:
        """Try ``row`` again ``after`` (a 429's ``Retry-After``), else after an exponential
        backoff with jitter, up to :data:`MAX_BACKOFF`."""
        row.attempts += 1
        if after is None:
            backoff = min(MAX_BACKOFF.total_seconds(), 0.5 * 2 ** min(row.attempts, 12))
            after = timedelta(seconds=backoff * random.uniform(0.8, 1.2))
        row.next_attempt_at = self.clock.now() + after
        row.last_error = error
        row.lease_owner = row.lease_until = None
        log.warning(
            "outbox: message %s to %s failed (%s), retry in %.1fs",
            row.id,
            row.channel,
            error,
            after.total_seconds(),
        )

    def _finish(self, row: OutboxMessage, status: str, result: dict[str, Any]) -> None:
        row.status = status
        row.result = result
        row.delivered_at = self.clock.now()
        row.lease_owner = row.lease_until = None


def fix_for(error: str, response: Any, channel: str) -> str | None:
    """What a person must do before ``error`` can go away; None if a retry may cure it."""
    where = _where(channel)
    if error == "missing_scope":
        needed = response.get("needed") if isinstance(response, dict) else None
        return f"add scope {needed or '(see Slack’s answer)'} to the app and reinstall it"
    if error == "not_in_channel":  # only when even the join was refused
        return _invite(channel)
    fixes = {
        "channel_not_found": f"check that {where} exists; if it is private, invite @escbot to it",
        "is_archived": f"unarchive {where} or point app.yaml at a live channel",
        "invalid_auth": "check SLACK_BOT_TOKEN (reinstall the app if its token was revoked)",
        "not_authed": "set SLACK_BOT_TOKEN",
        "account_inactive": "reinstall the app: its token belongs to a deactivated account",
        "token_revoked": "reinstall the app: its token was revoked",
        "user_not_found": f"check the user id {channel} in app.yaml",
        "cannot_dm_bot": f"{channel} is a bot: name a person in app.yaml",
    }
    if error in fixes:
        return fixes[error]
    if error in MALFORMED:
        return "a message escbot built is refused by Slack: report this as a bug"
    return None


def _where(channel: str) -> str:
    return f"<#{channel}>" if channel.startswith(("C", "G")) else f"<@{channel}>"


def _invite(channel: str) -> str:
    return f"invite @escbot to {_where(channel)}"


def _with_card_link(args: dict[str, Any], permalink: str) -> dict[str, Any]:
    """``args`` with ``CARD_LINK`` replaced by ``permalink`` (escaped for mrkdwn and JSON)."""
    escaped = json.dumps(permalink.replace("&", "&amp;"))[1:-1]
    return dict(json.loads(json.dumps(args).replace(CARD_LINK, escaped)))


class _Dead(Exception):
    """A failure no retry cures; ``fix`` says what a person must do."""

    def __init__(self, error: str, fix: str) -> None:
        super().__init__(error)
        self.error, self.fix = error, fix
