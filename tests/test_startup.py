"""Start-up fails fast and clearly: the real `escbot` command, as a process.

Each refusal is exit 1 (2 for the environment and the command line) with one line that
says what to do, no traceback and no file left behind. A Slack that is only unreachable
is no refusal: escbot serves and keeps asking, one log line per try.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack.doctor import bot_token_refused
from tests.test_cli import free_port

REPO = Path(__file__).resolve().parent.parent
ESCBOT = str(Path(sys.executable).with_name("escbot"))  # the installed console script


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without escbot's own variables, plus ``extra``."""
    ours = ("SLACK_", "DATABASE_URL", "ESCBOT_", "PORT", "HOST")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return env | {"ESCBOT_CONFIG": str(REPO / "app.yaml")} | extra


def run_env(db_url: str, api_url: str, **extra: str) -> dict[str, str]:
    settings = {
        "SLACK_BOT_TOKEN": "xoxb-startup",
        "SLACK_SIGNING_SECRET": "startup-secret",
        "SLACK_API_URL": api_url,
        "DATABASE_URL": db_url,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
    }
    return clean_env(**(settings | extra))


def escbot(*args: str, env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ESCBOT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def assert_refused(proc: subprocess.CompletedProcess[str], code: int, line: str) -> None:
    """Exit ``code``, ``line`` as the last line on stderr, and no traceback anywhere."""
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output
    assert proc.returncode == code, output
    assert proc.stderr.strip().splitlines()[-1] == line, output


class Serving:
    """`escbot run` in the background, its log read line by line as it comes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [ESCBOT, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines if text in line]
            if found:
                return found[0]
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no line with {text!r} in:\n{self.output}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        code = self.proc.wait(timeout=30)
        self._reader.join(5)
        return code


@pytest.fixture
def serving() -> Iterator[list[Serving]]:
    started: list[Serving] = []
    yield started
    for s in started:
        s.stop()


# -- Slack's answer to the token ---------------------------------------------------------


@pytest.mark.parametrize("error", ["invalid_auth", "account_inactive", "token_revoked"])
def test_run_refuses_a_token_slack_rejects(db_url: str, fake_slack, error: str) -> None:  # type: ignore[no-untyped-def]
    fake_slack.fail("auth.test", error, times=None)
    proc = escbot("run", env=run_env(db_url, fake_slack.url))
    assert_refused(proc, 1, f"escbot: SLACK_BOT_TOKEN: {bot_token_refused(error)}")
    # nothing served, joined, queued or sent with it: auth.test was the only call
    assert {c.method for c in fake_slack.calls} == {"auth.test"}


def test_the_supervisor_refuses_a_rejected_token_before_any_worker_starts(  # type: ignore[no-untyped-def]
    db_url: str, fake_slack
) -> None:
    fake_slack.fail("auth.test", "invalid_auth", times=None)
    proc = escbot("run", "--workers", "2", env=run_env(db_url, fake_slack.url))
    assert_refused(proc, 1, f"escbot: SLACK_BOT_TOKEN: {bot_token_refused('invalid_auth')}")
    assert len(fake_slack.calls_to("auth.test")) == 1  # the supervisor's, no worker's
    assert "worker 0 started" not in proc.stderr


def test_run_serves_while_slack_is_unreachable_and_starts_when_it_answers(  # type: ignore[no-untyped-def]
    db_url: str, fake_slack, serving
) -> None:
    fake_slack.outage()  # every request answers 503
    escbot_run = Serving(run_env(db_url, fake_slack.url))
    serving.append(escbot_run)
    first = escbot_run.wait_for("serving anyway, with the token alone")
    assert "Slack answered auth.test with service_unavailable (HTTP 503)" in first
    escbot_run.wait_for("escbot listening on")
    escbot_run.wait_for("still serving with the token alone; next try in")
    assert not fake_slack.calls_to("conversations.join")  # no worker talks to Slack yet
    fake_slack.clear_faults()
    escbot_run.wait_for("Slack answered auth.test: escbot is @")
    fake_slack.wait_for("conversations.join", timeout=20)  # then the start-up goes on
    assert escbot_run.stop() == 0
    assert "Traceback" not in escbot_run.output, escbot_run.output


def test_run_stops_when_slack_once_reached_refuses_the_token(  # type: ignore[no-untyped-def]
    db_url: str, fake_slack, serving
) -> None:
    fake_slack.outage()
    escbot_run = Serving(run_env(db_url, fake_slack.url))
    serving.append(escbot_run)
    escbot_run.wait_for("escbot listening on")
    fake_slack.clear_faults()
    fake_slack.fail("auth.test", "token_revoked", times=None)
    assert escbot_run.proc.wait(timeout=30) == 1, escbot_run.output
    escbot_run.stop()
    assert escbot_run.lines[-1] == f"escbot: SLACK_BOT_TOKEN: {bot_token_refused('token_revoked')}"
    assert "Traceback" not in escbot_run.output, escbot_run.output
    assert {c.method for c in fake_slack.calls} == {"auth.test"}


def test_a_clean_start_logs_no_library_noise(db_url: str, fake_slack, serving) -> None:  # type: ignore[no-untyped-def]
    """Bolt's "token will be unused" and alembic's seven INFO lines are gone from every start;
    a migration is one line of ours."""
    escbot_run = Serving(run_env(db_url, fake_slack.url))
    serving.append(escbot_run)
    escbot_run.wait_for("escbot listening on")
    fake_slack.wait_for("conversations.join", timeout=20)
    assert escbot_run.stop() == 0
    assert "`token` will be unused" not in escbot_run.output
    assert not [line for line in escbot_run.lines if " alembic." in line], escbot_run.output
    assert " migrated from empty to " in escbot_run.output or "postgresql" in db_url
    assert "Traceback" not in escbot_run.output


# -- the port and the database ----------------------------------------------------------


def test_run_refuses_a_port_in_use(db_url: str, fake_slack) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = escbot("run", env=run_env(db_url, fake_slack.url, PORT=str(port)))
    assert_refused(
        proc,
        1,
        f"escbot: cannot serve on 127.0.0.1:{port} (PORT): another process is listening "
        "there: stop it, or choose another port",
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("nonsense", "escbot: the database URL (DATABASE_URL or --database-url) can't be used"),
        ("mysql://u@db/escbot", "escbot: the database URL (DATABASE_URL or --database-url) can't"),
        (
            "postgresql://escbot:s3cret@127.0.0.1:1/escbot",
            "escbot: cannot use the database at postgresql+psycopg://escbot:***@127.0.0.1:1/escbot",
        ),
    ],
)
def test_run_refuses_a_database_it_cannot_use(url: str, says: str, fake_slack) -> None:  # type: ignore[no-untyped-def]
    proc = escbot("run", env=run_env(url, fake_slack.url))
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(says), line
    assert "s3cret" not in line


@pytest.mark.parametrize(
    "command",
    [
        ["outbox"],
        ["outbox", "--retry-dead"],
        ["export", "--from", "2026-01-01", "--to", "2026-01-02"],
    ],
)
def test_a_command_in_a_directory_without_a_database(tmp_path: Path, command: list[str]) -> None:
    proc = escbot(*command, env=clean_env(), cwd=tmp_path)
    assert_refused(
        proc,
        1,
        "escbot: there is no database at sqlite:///escbot.db: run `escbot db upgrade` to create "
        "it, or set DATABASE_URL to the one escbot run uses",
    )
    assert list(tmp_path.iterdir()) == []  # no stray escbot.db


def test_a_command_on_a_database_never_migrated(tmp_path: Path) -> None:
    (tmp_path / "escbot.db").write_bytes(b"")
    proc = escbot("outbox", env=clean_env(), cwd=tmp_path)
    assert_refused(
        proc,
        1,
        "escbot: the database at sqlite:///escbot.db has no escbot tables: run `escbot db upgrade`",
    )


# -- the environment and the command line -----------------------------------------------


def test_run_lists_every_missing_or_bad_variable_at_once() -> None:
    proc = escbot("run", env=clean_env(PORT="http", ESCBOT_THREADS="0"))
    assert_refused(
        proc,
        2,
        "escbot: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set (see README: Creating the "
        "Slack app); PORT must be a TCP port number, got 'http'; ESCBOT_THREADS must be a whole "
        "number from 1 to 256, got '0'",
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            [],
            "escbot: --url is required for HTTP mode: the public https:// base URL that reaches "
            "escbot's $PORT (e.g. --url https://escbot.example.com); or --socket-mode",
        ),
        (
            ["--url", "http://escbot.example.com"],
            "escbot: --url must start with https:// (Slack posts only to HTTPS), got "
            "'http://escbot.example.com'",
        ),
        (
            ["--url", "https://"],
            "escbot: --url has no host: e.g. https://escbot.example.com, got 'https://'",
        ),
        (
            ["--url", "https://escbot.example.com/slack/events"],
            "escbot: --url is the base URL: escbot adds /slack/events, got "
            "'https://escbot.example.com/slack/events'",
        ),
        (
            ["--url", "https://escbot.example.com", "--socket-mode"],
            "escbot: --url is for HTTP mode: Socket Mode needs no URL (drop one of them)",
        ),
    ],
)
def test_manifest_wants_a_public_https_url_for_http_only(args: list[str], line: str) -> None:
    proc = escbot("manifest", *args, env=clean_env())
    assert_refused(proc, 2, line)
    assert proc.stdout == ""
