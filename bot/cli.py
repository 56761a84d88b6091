"""The ``escbot`` command line (also ``python -m bot``)."""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path

import click
import yaml

from bot.config import ConfigError, config_summary, load_config
from bot.settings import Settings, SettingsError


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per tick is noise


def _load_config_or_exit(path: str | None):  # type: ignore[no-untyped-def]
    try:
        return load_config(path)
    except ConfigError as err:
        click.echo(str(err), err=True)
        sys.exit(1)


@click.group()
@click.option("--log-level", default="INFO", envvar="ESCBOT_LOG_LEVEL", show_default=True)
def main(log_level: str) -> None:
    """escbot: the escalation desk of a Trust & Safety pod, on Slack."""
    _setup_logging(log_level)


@main.command("check-config")
@click.argument("path", required=False)
def check_config(path: str | None) -> None:
    """Validate app.yaml (or PATH) and print a summary; exit 1 listing every problem."""
    cfg = _load_config_or_exit(path)
    click.echo(config_summary(cfg))
    click.echo("OK")


@main.command()
@click.option("--url", help="Public base URL of the app in HTTP mode.")
@click.option("--socket-mode", is_flag=True, help="Manifest for Socket Mode (no request URLs).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
def manifest(url: str | None, socket_mode: bool, fmt: str) -> None:
    """Print a Slack app manifest ready to paste."""
    from bot.manifest import manifest as build

    data = build(url, socket_mode=socket_mode)
    text = json.dumps(data, indent=2) if fmt == "json" else yaml.safe_dump(data, sort_keys=False)
    click.echo(text)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.option("--database-url", envvar="DATABASE_URL", help="Default: a SQLite file here.")
def db_upgrade(database_url: str | None) -> None:
    """Create or migrate the schema to the latest version."""
    from storage.db import make_engine, upgrade

    engine = make_engine(database_url)
    upgrade(engine)
    click.echo(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


@main.command()
def run() -> None:
    """Serve escbot: HTTP on $PORT, or Socket Mode when SLACK_APP_TOKEN is set."""
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        click.echo(f"escbot: {err}", err=True)
        sys.exit(2)
    cfg = _load_config_or_exit(settings.config_path)
    from bot.runtime import Runtime

    runtime = Runtime.build(settings, cfg)
    signal.signal(signal.SIGTERM, lambda *_: runtime.shutdown())
    runtime.serve_forever()


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("demo-out"), show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--database-url", help="Default: a temporary SQLite file.")
@click.option("--config", "config_path", help="Default: the example app.yaml.")
def demo(out: Path, seed: int, database_url: str | None, config_path: str | None) -> None:
    """Play a morning at the escalation desk against a built-in Slack emulator (offline)."""
    from bot.demo import run_demo

    sys.exit(run_demo(out=out, seed=seed, database_url=database_url, config_path=config_path))


if __name__ == "__main__":  # pragma: no cover
    main()
