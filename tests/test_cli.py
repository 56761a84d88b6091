"""The escbot command line, including `escbot run` as a real process against the fake Slack."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml
from click.testing import CliRunner

from bot.cli import main
from bot.sandbox.emulator import SlackUser

REPO = Path(__file__).resolve().parent.parent


def test_check_config_passes_the_example() -> None:
    result = CliRunner().invoke(main, ["check-config", str(REPO / "app.yaml")])
    assert result.exit_code == 0, result.output
    assert "hateful_activities" in result.output and "OK" in result.output


def test_check_config_names_the_key_path_of_a_broken_file(tmp_path: Path) -> None:
    text = (REPO / "app.yaml").read_text().replace("Europe/Madrid", "Europe/Madridd", 1)
    bad = tmp_path / "app.yaml"
    bad.write_text(text)
    result = CliRunner().invoke(main, ["check-config", str(bad)])
    assert result.exit_code == 1
    assert "pods.critical_harms.members[0].timezone" in result.output
    assert "Europe/Madridd" in result.output


def test_manifest_is_valid_yaml_with_command_shortcut_and_urls() -> None:
    result = CliRunner().invoke(main, ["manifest", "--url", "https://esc.example.org"])
    assert result.exit_code == 0
    data = yaml.safe_load(result.output)
    command = data["features"]["slash_commands"][0]
    assert command["command"] == "/escalate"
    assert command["url"] == "https://esc.example.org/slack/events"
    assert data["features"]["shortcuts"][0]["type"] == "message"
    assert data["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    assert "chat:write" in data["oauth_config"]["scopes"]["bot"]
    socket_mode = yaml.safe_load(CliRunner().invoke(main, ["manifest", "--socket-mode"]).output)
    assert socket_mode["settings"]["socket_mode_enabled"] is True
    assert "url" not in socket_mode["features"]["slash_commands"][0]


def test_run_without_tokens_names_the_missing_variables() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "escbot: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set"
    )


def test_db_upgrade_creates_the_schema(db_url: str) -> None:
    result = CliRunner().invoke(main, ["db", "upgrade", "--database-url", db_url])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_escbot_run_serves_slack_over_http(db_url: str, fake_slack) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-run-test",
        "SLACK_SIGNING_SECRET": "run-secret",
        "SLACK_API_URL": fake_slack.url,
        "DATABASE_URL": db_url,
        "ESCBOT_CONFIG": str(REPO / "app.yaml"),
        "PORT": str(port),
        "HOST": "127.0.0.1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:
                    assert resp.status == 200 and json.load(resp)["ok"] is True
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "escbot run did not come up"
                time.sleep(0.2)
        user = SlackUser(
            f"{base}/slack/events", "run-secret", user_id="U07LEGAL01", fake=fake_slack
        )
        resp = user.command("/escalate", text="Coordinated hate campaign targeting a creator")
        assert resp.status_code == 200
        fake_slack.wait_for("views.open", timeout=20)
        modal = fake_slack.last_view("U07LEGAL01")
        assert user.submit_view(modal, {"Your team": "Legal"}).status_code == 200
        card = fake_slack.wait_for(
            lambda c: c.method == "chat.postMessage" and c.args.get("channel") == "C06H2KX8ESC",
            timeout=20,
        )
        assert "ESC-1" in json.dumps(card.args)
        assert user.command("/escalate", text="x", bad_signature=True).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)
