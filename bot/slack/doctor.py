"""``escbot doctor``: check a deployment's Slack side before ``escbot run``, read-only.

Why: a wrong token, a missing scope, a private channel nobody invited the bot to or a
mistyped user id all fail quietly at run time (a dead outbox message, a reply that never
arrives). Each check here asks Slack one read-only question (``auth.test``,
``conversations.info``, ``users.info``, ``apps.connections.open``) and answers with one
line: ✓, ! (worth a look) or ✗ with the exact fix. Nothing is ever written to Slack: a
public channel the bot is not in is only reported, since ``escbot run`` joins it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import AppConfig
from bot.settings import DEFAULT_API_URL
from bot.slack.manifest import BOT_SCOPES
from bot.slack.membership import channels_of

Status = Literal["ok", "warn", "fail", "note"]
MARKS: dict[Status, str] = {"ok": "✓", "warn": "!", "fail": "✗", "note": "·"}
SCOPES_HEADER = "x-oauth-scopes"
SIGNING_SECRET = re.compile(r"[0-9a-f]{32}")  # what Slack issues: 32 lower-case hex digits
TIMEOUT = 10  # seconds per Slack call: a doctor that hangs helps nobody

REINSTALL = (
    "add it under OAuth & Permissions → Bot Token Scopes (or update the app from "
    "`escbot manifest`) and reinstall the app"
)
BOT_TOKEN_FIX = "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions"
APP_TOKEN_FIX = (
    "create an app-level token with connections:write under Basic Information → "
    "App-Level Tokens and turn Socket Mode on"
)


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    status: Status
    text: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def line(self) -> str:
        return f"{MARKS[self.status]} {self.text}"


def ok(text: str) -> Check:
    return Check("ok", text)


def warn(text: str) -> Check:
    return Check("warn", text)


def fail(text: str) -> Check:
    return Check("fail", text)


def note(text: str) -> Check:
    return Check("note", text)


@dataclass(frozen=True)
class Secrets:
    """What the doctor reads from the environment (the same variables as ``escbot run``)."""

    bot_token: str | None
    signing_secret: str | None
    app_token: str | None
    api_url: str = DEFAULT_API_URL

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Secrets:
        env = os.environ if env is None else env
        api_url = env.get("SLACK_API_URL") or DEFAULT_API_URL
        return cls(
            bot_token=env.get("SLACK_BOT_TOKEN"),
            signing_secret=env.get("SLACK_SIGNING_SECRET"),
            app_token=env.get("SLACK_APP_TOKEN") or None,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
        )


@dataclass(frozen=True)
class Identity:
    """Who the bot token belongs to, from ``auth.test``."""

    user_id: str
    name: str
    team_id: str
    team: str
    scopes: frozenset[str] | None  # None: Slack sent no x-oauth-scopes header


def diagnose(cfg: AppConfig, secrets: Secrets) -> Iterator[Check]:
    """Every check in order; lazy, so the CLI prints each line as soon as it is known."""
    yield signing_secret(secrets.signing_secret)
    client = WebClient(token=secrets.bot_token, base_url=secrets.api_url, timeout=TIMEOUT)
    identity, checks = bot_token(client, secrets)
    yield from checks
    if identity is None:
        yield note("skipped the scope, workspace, channel and user checks: they need the token")
    else:
        yield from scopes(identity.scopes)
        yield from workspace(cfg, identity)
        yield from channels(client, cfg, identity)
        yield from users(client, cfg)
    yield socket_mode(secrets)


# -- the signing secret -------------------------------------------------------------


def signing_secret(secret: str | None) -> Check:
    """Only its shape can be checked: Slack never tells anyone the secret but the app."""
    where = "copy the Signing Secret from Basic Information → App Credentials"
    if not secret or not secret.strip():
        return fail(f"SLACK_SIGNING_SECRET is not set: {where}")
    if not SIGNING_SECRET.fullmatch(secret):
        if secret != secret.strip():
            why = "it has spaces or a line break around it"
        elif len(secret) != 32:
            why = f"it is {len(secret)} characters long"
        else:
            why = "it has characters other than 0-9 and a-f"
        return fail(
            f"SLACK_SIGNING_SECRET does not look like a Slack signing secret (32 hex "
            f"characters; {why}): {where} (not the Client Secret or Verification Token)"
        )
    return ok(
        "SLACK_SIGNING_SECRET looks right (32 hex characters); it can't be verified online: "
        "requests answered 401 after `escbot run` mean it is the wrong one"
    )


# -- the bot token ------------------------------------------------------------------


def bot_token_refused(error: str) -> str:
    """The line for a bot token ``auth.test`` refused with ``error`` (here and ``escbot run``)."""
    if error in ("invalid_auth", "not_authed"):
        fix = f"the token is not valid: {BOT_TOKEN_FIX}"
    elif error in ("token_revoked", "token_expired", "account_inactive"):
        fix = f"the token was revoked or the app uninstalled: reinstall, then {BOT_TOKEN_FIX}"
    else:
        fix = f"Slack refused the token: {BOT_TOKEN_FIX}"
    return f"auth.test failed ({error}): {fix}"


def bot_token(client: WebClient, secrets: Secrets) -> tuple[Identity | None, list[Check]]:
    """``auth.test`` with SLACK_BOT_TOKEN; the identity is ``None`` when it doesn't work."""
    token = secrets.bot_token
    if not token or not token.strip():
        return None, [fail(f"SLACK_BOT_TOKEN is not set: {BOT_TOKEN_FIX}")]
    if not token.startswith("xoxb-"):
        kind = "an app-level token" if token.startswith("xapp-") else "not a bot token"
        return None, [
            fail(f"SLACK_BOT_TOKEN is {kind} (a bot token starts with xoxb-): {BOT_TOKEN_FIX}")
        ]
    try:
        resp = client.auth_test()
    except SlackApiError as err:
        return None, [fail(bot_token_refused(_error(err)))]
    except (SlackClientError, OSError) as err:
        return None, [
            fail(
                f"cannot reach the Slack API at {secrets.api_url} ({err}): check the "
                "network, or SLACK_API_URL if you set it"
            )
        ]
    identity = Identity(
        user_id=str(resp.get("user_id", "")),
        name=str(resp.get("user", "escbot")),
        team_id=str(resp.get("team_id", "")),
        team=str(resp.get("team", "")),
        scopes=_granted(resp.headers),
    )
    return identity, [
        ok(
            f"SLACK_BOT_TOKEN works: @{identity.name} ({identity.user_id}) in "
            f"{identity.team} ({identity.team_id})"
        )
    ]


def _granted(headers: Mapping[str, Any]) -> frozenset[str] | None:
    value = next((v for k, v in headers.items() if k.lower() == SCOPES_HEADER), None)
    if value is None:
        return None
    return frozenset(s.strip() for s in str(value).split(",") if s.strip())


def scopes(granted: frozenset[str] | None) -> list[Check]:
    """The token's scopes, as Slack reports them on every answer, against the manifest's."""
    if granted is None:
        return [
            warn(
                "Slack did not say which scopes the token has (no x-oauth-scopes header): "
                "compare OAuth & Permissions with `escbot manifest` by hand"
            )
        ]
    missing = [s for s in BOT_SCOPES if s not in granted]
    if not missing:
        return [ok(f"the token has the {len(BOT_SCOPES)} scopes escbot needs")]
    return [fail(f"token lacks {scope}: {REINSTALL}") for scope in missing]


def workspace(cfg: AppConfig, identity: Identity) -> list[Check]:
    expected = cfg.workspace.team_id
    if expected is None:
        return []
    if expected == identity.team_id:
        return [ok(f"workspace {identity.team_id} matches workspace.team_id in app.yaml")]
    return [
        fail(
            f"the token is for workspace {identity.team} ({identity.team_id}) but app.yaml's "
            f"workspace.team_id is {expected}: install escbot in that workspace, or fix "
            "workspace.team_id"
        )
    ]


# -- channels -----------------------------------------------------------------------


def channels(client: WebClient, cfg: AppConfig, identity: Identity) -> Iterator[Check]:
    bot = f"@{identity.name}"
    for channel_id, key in channels_of(cfg).items():
        yield channel(client, channel_id, key, bot)


def channel(client: WebClient, channel_id: str, key: str, bot: str) -> Check:
    """Exists, not archived, and the bot is in it or can join it (public channels only).

    Slack answers ``channel_not_found`` both for an id that doesn't exist and for a private
    channel the bot is not in: it can't tell them apart, so the fix names both.
    """
    try:
        info = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as err:
        if _error(err) == "channel_not_found":
            return fail(
                f"channel {channel_id} ({key}) not found: if it is private, invite {bot} to it "
                f"(/invite {bot} in the channel); otherwise fix the id in app.yaml"
            )
        return _api_failure("conversations.info", f"channel {channel_id} ({key})", err)
    except (SlackClientError, OSError) as err:
        return _unreachable("conversations.info", f"channel {channel_id}", err)
    name = f"#{info.get('name') or channel_id}"
    kind = "private" if info.get("is_private") else "public"
    if info.get("is_archived"):
        return fail(f"{name} ({key}) is archived: unarchive it, or put another channel in app.yaml")
    if info.get("is_member"):
        return ok(f"{name} ({kind}; {key}): {bot} is in it")
    # Slack shows a private channel only to its members, so this one is public.
    return ok(f"{name} (public; {key}): {bot} is not in it yet and joins it at start")


# -- users --------------------------------------------------------------------------


def configured_users(cfg: AppConfig) -> dict[str, list[str]]:
    """Each user id in app.yaml with the keys that name it, its member name first if any."""
    found: dict[str, list[str]] = {}

    def add(user_id: str, key: str) -> None:
        found.setdefault(user_id, []).append(key)

    for pod in cfg.pods.values():
        for member in pod.members:
            add(member.id, member.name)
    for i, admin in enumerate(cfg.workspace.admins):
        add(admin, f"workspace.admins[{i}]")
    for pod_key, pod in cfg.pods.items():
        add(pod.lead, f"pods.{pod_key}.lead")
        if pod.deputy:
            add(pod.deputy, f"pods.{pod_key}.deputy")
        for i, member in enumerate(pod.members):
            add(member.id, f"pods.{pod_key}.members[{i}].id")
        for rot_key, rotation in pod.rotations.items():
            for i, user_id in enumerate(rotation.members):
                add(user_id, f"pods.{pod_key}.rotations.{rot_key}.members[{i}]")
    return found


def users(client: WebClient, cfg: AppConfig) -> Iterator[Check]:
    known = configured_users(cfg)
    bad = 0
    for user_id, keys in known.items():
        try:
            found = client.users_info(user=user_id).get("user") or {}
        except SlackApiError as err:
            bad += 1
            where = f"user {user_id} ({', '.join(keys)})"
            if _error(err) == "user_not_found":
                yield fail(
                    f"{where} is not in this workspace: fix the id in app.yaml "
                    "(in Slack: the person's profile → ⋯ → Copy member ID)"
                )
                continue
            if _error(err) == "missing_scope":  # the same answer would come for every id
                yield _api_failure("users.info", "the user ids in app.yaml", err)
                return
            yield _api_failure("users.info", where, err)
            continue
        except (SlackClientError, OSError) as err:
            bad += 1
            yield _unreachable("users.info", f"user {user_id}", err)
            continue
        if (problem := _not_a_person(found)) is not None:
            bad += 1
            yield fail(f"user {user_id} ({', '.join(keys)}) {problem}")
    if not bad:
        yield ok(f"all {len(known)} user ids in app.yaml are people in this workspace")


def _not_a_person(user: dict[str, Any]) -> str | None:
    """Why a ``users.info`` user can't work the desk: deactivated, or a bot."""
    if user.get("deleted"):
        return (
            "is deactivated in Slack: take them out of app.yaml (escbot hands their open "
            "work over)"
        )
    if user.get("is_bot"):
        return "is a bot, not a person: put the person's member ID in app.yaml"
    return None


# -- Socket Mode --------------------------------------------------------------------


def socket_mode(secrets: Secrets) -> Check:
    """``apps.connections.open`` with SLACK_APP_TOKEN; the URL is never connected to."""
    token = secrets.app_token
    if token is None:
        return note(
            "HTTP mode (SLACK_APP_TOKEN is not set): Slack must reach /slack/events at the "
            "request URLs of `escbot manifest --url …`; the doctor can't check that from here"
        )
    if not token.startswith("xapp-"):
        return fail(
            f"SLACK_APP_TOKEN is not an app-level token (those start with xapp-): {APP_TOKEN_FIX}"
        )
    client = WebClient(base_url=secrets.api_url, timeout=TIMEOUT)
    try:
        client.apps_connections_open(app_token=token)
    except SlackApiError as err:
        error = _error(err)
        if error == "missing_scope":
            return fail(f"SLACK_APP_TOKEN lacks connections:write: {APP_TOKEN_FIX}")
        return fail(f"Socket Mode: apps.connections.open failed ({error}): {APP_TOKEN_FIX}")
    except (SlackClientError, OSError) as err:
        return fail(f"cannot reach the Slack API at {secrets.api_url} ({err}): check the network")
    return ok(
        "Socket Mode: SLACK_APP_TOKEN opens connections (apps.connections.open; "
        "the doctor did not connect)"
    )


# -- helpers ------------------------------------------------------------------------


def _error(err: SlackApiError) -> str:
    return str(err.response.get("error") or "unknown_error")


def _unreachable(method: str, what: str, err: Exception) -> Check:
    return fail(f"{method} for {what} got no answer ({err}): run the doctor again")


def _api_failure(method: str, what: str, err: SlackApiError) -> Check:
    error = _error(err)
    if error == "missing_scope":
        needed = err.response.get("needed") or "a scope"
        return fail(f"can't check {what}: the token lacks {needed}: {REINSTALL}")
    return fail(
        f"{method} failed for {what} ({error}): run the doctor again; if it persists, "
        "see status.slack.com"
    )
