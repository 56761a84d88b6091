"""`escbot doctor` through the CLI, over real HTTP, against the strict emulator.

Each test breaks one thing a deployer gets wrong (a scope, an invitation, an id, a
secret, a token) and checks the doctor names it with its fix and exits 1; every run also
checks that the doctor wrote nothing to Slack.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.config import AppConfig
from bot.sandbox.emulator import FakeSlack
from bot.slack import doctor
from bot.slack.manifest import BOT_SCOPES

REPO = Path(__file__).resolve().parent.parent
SECRET = "8f742231b10e8888abcd99e1a2b3c4d5"  # the shape Slack issues: 32 hex digits
WRITES = ("chat.", "conversations.join", "conversations.open", "files.", "views.", "reactions.")
INTAKE, DIGESTS = "C06H2KX8ESC", "C06H2KX9KPI"  # the example app.yaml's channels
LEAD = "U04LQ2M8RTA"


def workspace(config: AppConfig, absent: str | None = None, **kw: Any) -> FakeSlack:
    """The example app.yaml's workspace as a deployer should leave it: a private intake
    channel the bot was invited to, a public digest channel it joins at start, every person."""
    fake = FakeSlack(team_id=kw.pop("team_id", config.workspace.team_id), **kw)
    fake.add_channel(INTAKE, "tns-escalations", is_private=True)
    fake.invite(INTAKE)
    fake.add_channel(DIGESTS, "tns-kpis")
    for user_id in doctor.configured_users(config):
        if user_id != absent:
            fake.add_user(user_id, user_id.lower())
    return fake


@pytest.fixture
def slack(config: AppConfig) -> Iterator[FakeSlack]:
    with workspace(config) as fake:
        yield fake


def run_doctor(fake: FakeSlack, **env: str | None) -> Result:
    """``escbot doctor --config app.yaml`` with good secrets unless ``env`` says otherwise."""
    environment: dict[str, str | None] = {
        "SLACK_BOT_TOKEN": "xoxb-doctor",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_APP_TOKEN": None,
        "ESCBOT_CONFIG": None,
        **env,
    }
    if "SLACK_API_URL" not in environment:
        environment["SLACK_API_URL"] = fake.url
    result = CliRunner().invoke(
        main, ["doctor", "--config", str(REPO / "app.yaml")], env=environment
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    writes = [c.method for c in fake.calls if c.method.startswith(WRITES)]
    assert writes == [], f"the doctor wrote to Slack: {writes}"
    return result


def failures(result: Result) -> list[str]:
    return [line[2:] for line in result.output.splitlines() if line.startswith("✗ ")]


def test_a_ready_workspace_passes_every_check_and_nothing_is_written(
    slack: FakeSlack, config: AppConfig
) -> None:
    result = run_doctor(slack)
    assert result.exit_code == 0, result.output
    assert failures(result) == []
    out = result.output
    assert "✓ SLACK_SIGNING_SECRET looks right" in out and "can't be verified online" in out
    assert "✓ SLACK_BOT_TOKEN works: @escbot (U0ESCBOT)" in out
    assert f"✓ the token has the {len(BOT_SCOPES)} scopes escbot needs" in out
    assert f"✓ workspace {config.workspace.team_id} matches" in out
    assert "✓ #tns-escalations (private; workspace.intake_channel): @escbot is in it" in out
    assert (
        "✓ #tns-kpis (public; digests.daily.channel): "
        "@escbot is not in it yet and joins it at start"
    ) in out
    users = len(doctor.configured_users(config))
    assert f"✓ all {users} user ids in app.yaml are people in this workspace" in out
    assert "HTTP mode (SLACK_APP_TOKEN is not set)" in out
    assert out.rstrip().endswith("ready: `escbot run`")
    # Read-only questions only, and the public channel was not joined.
    assert {c.method for c in slack.calls} == {"auth.test", "conversations.info", "users.info"}
    assert not slack.is_member(DIGESTS)


def test_a_token_without_im_history_fails_naming_that_scope(config: AppConfig) -> None:
    with workspace(config, scopes=[s for s in BOT_SCOPES if s != "im:history"]) as fake:
        result = run_doctor(fake)
    assert result.exit_code == 1
    assert failures(result) == [
        "token lacks im:history: add it under OAuth & Permissions → Bot Token Scopes "
        "(or update the app from `escbot manifest`) and reinstall the app"
    ]
    assert "1 problem(s) to fix" in result.output


def test_a_token_without_the_doctors_read_scopes_says_what_it_could_not_check(
    config: AppConfig,
) -> None:
    lacking = {"users:read", "channels:read"}
    with workspace(config, scopes=[s for s in BOT_SCOPES if s not in lacking]) as fake:
        result = run_doctor(fake)
        asked = len(fake.calls_to("users.info"))
    assert result.exit_code == 1
    found = failures(result)
    assert any(f.startswith("token lacks users:read:") for f in found)
    assert any(f.startswith("token lacks channels:read:") for f in found)
    assert any(
        f.startswith(
            f"can't check channel {DIGESTS} (digests.daily.channel): the token lacks channels:read"
        )
        for f in found
    )
    assert (
        sum(
            f.startswith("can't check the user ids in app.yaml: the token lacks users:read")
            for f in found
        )
        == 1
    )
    assert asked == 1  # the same answer would come for every other id
    # The private intake channel needs groups:read, which the token has.
    assert "✓ #tns-escalations (private; workspace.intake_channel)" in result.output


def test_a_private_channel_nobody_invited_the_bot_to(config: AppConfig) -> None:
    with workspace(config) as fake:
        fake.kick(INTAKE)
        result = run_doctor(fake)
    assert result.exit_code == 1
    assert failures(result) == [
        f"channel {INTAKE} (workspace.intake_channel) not found: if it is private, invite "
        "@escbot to it (/invite @escbot in the channel); otherwise fix the id in app.yaml"
    ]


def test_a_channel_id_that_does_not_exist(config: AppConfig) -> None:
    with FakeSlack(team_id=config.workspace.team_id) as fake:
        fake.add_channel(INTAKE, "tns-escalations")
        for user_id in doctor.configured_users(config):
            fake.add_user(user_id, user_id.lower())
        result = run_doctor(fake)
    assert result.exit_code == 1
    assert [f.split(":")[0] for f in failures(result)] == [
        f"channel {DIGESTS} (digests.daily.channel) not found"
    ]


def test_an_archived_channel(slack: FakeSlack) -> None:
    slack.archive(DIGESTS)
    result = run_doctor(slack)
    assert result.exit_code == 1
    assert failures(result) == [
        "#tns-kpis (digests.daily.channel) is archived: unarchive it, "
        "or put another channel in app.yaml"
    ]


def test_an_unknown_user_id_is_named_with_where_app_yaml_uses_it(config: AppConfig) -> None:
    with workspace(config, absent=LEAD) as fake:
        result = run_doctor(fake)
    assert result.exit_code == 1
    assert failures(result) == [
        f"user {LEAD} (pods.critical_harms.lead) is not in this workspace: fix the id in "
        "app.yaml (in Slack: the person's profile → ⋯ → Copy member ID)"
    ]
    assert "✓ all" not in result.output


def test_deactivated_and_bot_users_are_flagged(config: AppConfig) -> None:
    member = config.pods["critical_harms"].members[0]
    with workspace(config) as fake:
        fake.deactivate(member.id)
        fake.add_user(LEAD, "lead-bot", is_bot=True)
        result = run_doctor(fake)
    assert result.exit_code == 1
    assert failures(result) == [
        f"user {member.id} ({member.name}, pods.critical_harms.members[0].id, "
        "pods.critical_harms.rotations.primary.members[0]) is deactivated in Slack: take them "
        "out of app.yaml (escbot hands their open work over)",
        f"user {LEAD} (pods.critical_harms.lead) is a bot, not a person: put the person's "
        "member ID in app.yaml",
    ]


def test_the_workspace_must_be_app_yamls(config: AppConfig) -> None:
    with workspace(config, team_id="T0OTHER") as fake:
        result = run_doctor(fake)
    assert result.exit_code == 1
    assert failures(result) == [
        "the token is for workspace Escbot Fake (T0OTHER) but app.yaml's workspace.team_id is "
        f"{config.workspace.team_id}: install escbot in that workspace, or fix workspace.team_id"
    ]


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("", "SLACK_SIGNING_SECRET is not set"),
        ("   ", "SLACK_SIGNING_SECRET is not set"),
        (SECRET[:-1], "it is 31 characters long"),
        (SECRET + "\n", "it has spaces or a line break around it"),
        (SECRET.upper(), "it has characters other than 0-9 and a-f"),
    ],
)
def test_a_blank_or_malformed_signing_secret(slack: FakeSlack, secret: str, why: str) -> None:
    result = run_doctor(slack, SLACK_SIGNING_SECRET=secret)
    assert result.exit_code == 1
    [found] = failures(result)
    assert why in found
    assert "copy the Signing Secret from Basic Information → App Credentials" in found


@pytest.mark.parametrize(
    ("token", "error", "says"),
    [
        (None, None, "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…)"),
        ("xapp-1-A0-1-abc", None, "SLACK_BOT_TOKEN is an app-level token (a bot token starts"),
        ("xoxp-1-user", None, "SLACK_BOT_TOKEN is not a bot token (a bot token starts with"),
        ("xoxb-1", "invalid_auth", "auth.test failed (invalid_auth): the token is not valid:"),
        ("xoxb-1", "token_revoked", "auth.test failed (token_revoked): the token was revoked"),
        ("xoxb-1", "ekm_access_denied", "auth.test failed (ekm_access_denied): Slack refused"),
    ],
)
def test_a_bad_bot_token_stops_the_workspace_checks(
    slack: FakeSlack, token: str | None, error: str | None, says: str
) -> None:
    if error:
        slack.fail("auth.test", error)
    result = run_doctor(slack, SLACK_BOT_TOKEN=token)
    assert result.exit_code == 1
    [found] = failures(result)
    assert found.startswith(says), found
    assert "· skipped the scope, workspace, channel and user checks" in result.output
    assert [c.method for c in slack.calls] == (["auth.test"] if error else [])


def test_an_unreachable_slack_api(slack: FakeSlack) -> None:
    url = slack.url
    slack.stop()  # nothing listens on that port any more
    result = run_doctor(slack, SLACK_API_URL=url, SLACK_APP_TOKEN="xapp-1-A0-1-abc")
    assert result.exit_code == 1
    assert [f.split(" (")[0] for f in failures(result)] == [
        f"cannot reach the Slack API at {url}",
        f"cannot reach the Slack API at {url}",
    ]


@pytest.mark.parametrize("method", ["conversations.info", "users.info"])
def test_an_error_or_a_lost_answer_on_a_read_is_a_failure_not_a_crash(
    slack: FakeSlack, method: str
) -> None:
    slack.fail(method, "fatal_error")
    result = run_doctor(slack)
    assert result.exit_code == 1
    [found] = failures(result)
    assert found.startswith(f"{method} failed for ") and "(fatal_error)" in found

    slack.reset()
    slack.lose_answers(method, times=2)  # the client retries a broken connection once
    result = run_doctor(slack)
    assert result.exit_code == 1
    [found] = failures(result)
    assert found.startswith(f"{method} for ") and "got no answer" in found


@pytest.mark.parametrize(
    ("token", "error", "says"),
    [
        ("xoxb-wrong", None, "SLACK_APP_TOKEN is not an app-level token (those start with xapp-)"),
        ("xapp-1", "invalid_auth", "Socket Mode: apps.connections.open failed (invalid_auth)"),
        (
            "xapp-1",
            "not_allowed_token_type",
            "Socket Mode: apps.connections.open failed (not_allowed_token_type)",
        ),
        ("xapp-1", "missing_scope", "SLACK_APP_TOKEN lacks connections:write"),
    ],
)
def test_socket_mode_app_token_failures(
    slack: FakeSlack, token: str, error: str | None, says: str
) -> None:
    if error:
        slack.fail("apps.connections.open", error)
    result = run_doctor(slack, SLACK_APP_TOKEN=token)
    assert result.exit_code == 1
    [found] = failures(result)
    assert found.startswith(says), found
    assert "create an app-level token with connections:write" in found


def test_no_scopes_header_is_a_warning_not_a_failure() -> None:
    [check] = doctor.scopes(None)
    assert check.status == "warn" and not check.failed
    assert check.line().startswith("! Slack did not say which scopes the token has")


def test_socket_mode_app_token_opens_no_connection(slack: FakeSlack) -> None:
    """The app token is checked with apps.connections.open; the URL is never connected to."""
    slack.enable_socket_mode("xapp-1-A0ESCBOT-1-fake")
    result = run_doctor(slack, SLACK_APP_TOKEN="xapp-1-A0ESCBOT-1-fake")
    assert result.exit_code == 0, result.output
    assert "✓ Socket Mode" in result.output
    assert slack.socket is not None and slack.socket.connections_opened == 0


def test_socket_mode_unknown_app_token_fails_as_slack_answers(slack: FakeSlack) -> None:
    slack.enable_socket_mode("xapp-1-A0ESCBOT-1-fake")
    result = run_doctor(slack, SLACK_APP_TOKEN="xapp-1-A0ESCBOT-1-other")
    assert result.exit_code == 1
    [found] = failures(result)
    assert found.startswith("Socket Mode: apps.connections.open failed (invalid_auth)"), found
