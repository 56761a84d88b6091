"""What a deployment leans on outside the app: the version, secrets from files, backups."""

from __future__ import annotations

import fnmatch
import sqlite3
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.settings import Settings, SettingsError

REPO = Path(__file__).resolve().parent.parent
ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32}


def test_version_is_the_one_in_pyproject() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"escbot {declared}\n"


def test_secrets_come_from_files_without_their_newline(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("xoxb-from-a-file\n")
    (tmp_path / "db").write_text("postgresql://escbot:pw@db/escbot")
    env = {
        "SLACK_BOT_TOKEN_FILE": str(tmp_path / "token"),
        "SLACK_SIGNING_SECRET": "s" * 32,
        "DATABASE_URL_FILE": str(tmp_path / "db"),
    }
    settings = Settings.from_env(env)
    assert settings.bot_token == "xoxb-from-a-file"
    assert settings.database_url == "postgresql://escbot:pw@db/escbot"


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({**ENV, "SLACK_BOT_TOKEN_FILE": "/nonexistent"}, "not both"),
        ({"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN_FILE": "/nonexistent"}, "/nonexistent"),
    ],
)
def test_a_secret_file_that_cannot_be_used_is_named(env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        Settings.from_env(env)


def test_every_command_reads_secret_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DATABASE_URL_FILE reaches --database-url's default, which the subcommand parses."""
    db = tmp_path / "escbot.db"
    (tmp_path / "url").write_text(f"sqlite:///{db}\n")
    monkeypatch.setenv("DATABASE_URL_FILE", str(tmp_path / "url"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert db.is_file()


def test_backup_is_a_whole_database_taken_while_a_writer_holds_it(tmp_path: Path) -> None:
    db = tmp_path / "escbot.db"
    url = f"sqlite:///{db}"
    assert CliRunner().invoke(main, ["db", "upgrade", "--database-url", url]).exit_code == 0
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE marks (n INTEGER)")
    writer.executemany("INSERT INTO marks VALUES (?)", [(n,) for n in range(100)])
    writer.commit()
    writer.execute("INSERT INTO marks VALUES (100)")  # not committed: not in the backup
    try:
        result = CliRunner().invoke(main, ["backup", str(tmp_path / "b.db"), "--database-url", url])
    finally:
        writer.rollback()
        writer.close()
    assert result.exit_code == 0, result.output
    copy = sqlite3.connect(tmp_path / "b.db")
    assert copy.execute("SELECT count(*) FROM marks").fetchone() == (100,)
    assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert copy.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    copy.close()

    again = CliRunner().invoke(main, ["backup", str(tmp_path / "b.db"), "--database-url", url])
    assert again.exit_code == 1 and "never overwritten" in again.output


def test_backup_points_postgresql_to_pg_dump(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["backup", str(tmp_path / "b.db"), "--database-url", "postgresql://u@h/escbot"]
    )
    assert result.exit_code == 1 and "pg_dump" in result.output
    assert not (tmp_path / "b.db").exists()


def test_package_data_ships_every_template_and_migration() -> None:
    """An installed escbot (the image's) has only what package-data names: the editable
    install of the tests reads the source tree and would never notice a file left out
    (a template partial was, until the image's journey in deploy/ci.sh failed on it)."""
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    needed = {
        "templates": [p.name for p in (REPO / "templates").iterdir() if p.suffix != ".py"],
        "storage": [
            p.relative_to(REPO / "storage").as_posix()
            for p in (REPO / "storage" / "migrations").rglob("*.py")
        ],
    }
    for package, files in needed.items():
        left_out = [
            f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns[package])
        ]
        assert left_out == [], f"{package}: not in [tool.setuptools.package-data]"
