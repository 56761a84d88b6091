"""The ``escbot`` command line (also ``python -m bot``)."""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
import yaml

from bot.config import AppConfig, ConfigError, config_summary, load_config
from bot.config.advisories import config_advisories
from bot.core import logs
from bot.settings import (
    SECRET_VARIABLES,
    Settings,
    SettingsError,
    secret_files,
    with_vendor_tokens,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def _load_config_or_exit(path: str | None) -> AppConfig:
    try:
        return load_config(path)
    except ConfigError as err:
        click.echo(str(err), err=True)
        sys.exit(1)


@click.group()
# the installed package's version, read when asked: pyproject.toml is its one source
@click.version_option(package_name="escbot", prog_name="escbot", message="%(prog)s %(version)s")
@click.option("--log-level", default="INFO", envvar="ESCBOT_LOG_LEVEL", show_default=True)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    envvar="ESCBOT_LOG_FORMAT",
    show_default=True,
)
def main(log_level: str, log_format: str) -> None:
    """escbot: the escalation desk of a Trust & Safety pod, on Slack."""
    logs.setup(log_level, log_format)
    _read_secret_files()


def _read_secret_files() -> None:
    """Turn each ``NAME_FILE`` into ``NAME`` for every command (and ``--workers``' children).

    Before the subcommand parses its options, so ``--database-url``'s ``DATABASE_URL``
    default sees ``DATABASE_URL_FILE`` too.
    """
    try:
        os.environ.update(secret_files(os.environ))
    except SettingsError as err:
        click.echo(f"escbot: {err}", err=True)
        sys.exit(2)
    for name in SECRET_VARIABLES:
        os.environ.pop(f"{name}_FILE", None)


@main.command("check-config")
@click.argument("path", required=False)
def check_config(path: str | None) -> None:
    """Validate app.yaml (or PATH) and print a summary; exit 1 listing every problem."""
    cfg = _load_config_or_exit(path)
    click.echo(config_summary(cfg))
    today = datetime.now(cfg.team_tz).date()
    for advisory in config_advisories(cfg, today):
        click.echo(f"warning: {advisory}")
    click.echo("OK")


@main.command()
@click.option("--url", help="HTTP mode (required): the public https:// base URL of escbot.")
@click.option("--socket-mode", is_flag=True, help="Manifest for Socket Mode (no request URLs).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
def manifest(url: str | None, socket_mode: bool, fmt: str) -> None:
    """Print a Slack app manifest ready to paste: --url URL for HTTP, or --socket-mode."""
    from bot.slack.manifest import ManifestError
    from bot.slack.manifest import manifest as build

    try:
        data = build(url, socket_mode=socket_mode)
    except ManifestError as err:
        click.echo(f"escbot: {err}", err=True)
        sys.exit(2)
    text = json.dumps(data, indent=2) if fmt == "json" else yaml.safe_dump(data, sort_keys=False)
    click.echo(text)


@main.command()
@click.option("--config", "config_path", help="Default: $ESCBOT_CONFIG, else ./app.yaml.")
def doctor(config_path: str | None) -> None:
    """Check the Slack side (tokens, scopes, channels, users) without writing to Slack.

    Reads SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN and SLACK_API_URL like
    `escbot run`; prints one line per check and exits 1 if any failed.
    """
    from bot.slack.doctor import Secrets, diagnose

    cfg = _load_config_or_exit(config_path)
    logging.getLogger("slack_sdk").setLevel(logging.CRITICAL)  # each failure is a line below
    failed = warned = 0
    for check in diagnose(cfg, Secrets.from_env()):
        click.echo(check.line())
        failed += check.failed
        warned += check.status == "warn"
    if failed:
        click.echo(f"\n{failed} problem(s) to fix, then run `escbot doctor` again")
        sys.exit(1)
    click.echo("\nready: `escbot run`" + (f" ({warned} warning(s) above)" if warned else ""))


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.option("--database-url", envvar="DATABASE_URL", help="Default: a SQLite file here.")
def db_upgrade(database_url: str | None) -> None:
    """Create or migrate the schema to the latest version."""
    from bot.core.clock import SystemClock
    from bot.intake.recanonical import recanonicalize
    from storage.db import DatabaseUnavailable, make_session_factory, open_engine, upgrade

    try:
        engine = open_engine(database_url)
    except DatabaseUnavailable as err:
        _refuse(err)
    upgrade(engine)
    rewritten = recanonicalize(make_session_factory(engine), SystemClock().now())
    if rewritten:
        click.echo(f"{rewritten} stored content links re-keyed for the current duplicate rules")
    click.echo(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


@main.command()
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--database-url", envvar="DATABASE_URL", help="Default: a SQLite file here.")
def backup(target: Path, database_url: str | None) -> None:
    """Copy the SQLite database to TARGET as of one moment, safe while escbot runs.

    PostgreSQL: use pg_dump (docs/operations.md, Backups).
    """
    from storage.backup import BackupRefused, backup_sqlite, sqlite_path

    try:
        size = backup_sqlite(sqlite_path(database_url), target)
    except BackupRefused as err:
        _refuse(err)
    click.echo(f"backed up to {target} ({size:,} bytes)")


@main.command()
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    envvar="ESCBOT_WORKERS",
    show_default=True,
    help="HTTP serving processes on $PORT (about one per core); the outbox and timers "
    "run in the first.",
)
@click.option("--worker-index", type=int, hidden=True)  # set by the supervisor for its workers
@click.pass_context
def run(ctx: click.Context, workers: int, worker_index: int | None) -> None:
    """Serve escbot: HTTP on $PORT, or Socket Mode when SLACK_APP_TOKEN is set.

    Refuses to start, with one line saying what to fix (exit 1), when Slack refuses the
    token, the port is taken or the database can't be used; exit 2 for the environment.
    """
    from bot.slack.identity import TokenRefused
    from bot.slack.server import CannotListen
    from storage.db import DatabaseUnavailable

    try:
        settings = Settings.from_env()
    except SettingsError as err:
        click.echo(f"escbot: {err}", err=True)
        sys.exit(2)
    cfg = _load_config_or_exit(settings.config_path)
    try:
        settings = with_vendor_tokens(settings, cfg)
    except SettingsError as err:
        click.echo(f"escbot: {err}", err=True)
        sys.exit(2)
    if workers > 1 and worker_index is None:
        if settings.app_token:
            click.echo("escbot: Socket Mode is one connection: run it without --workers", err=True)
            sys.exit(2)
        from bot.workers import supervise

        parent = ctx.parent.params if ctx.parent else {}
        try:
            sys.exit(supervise(settings, workers, parent))
        except (TokenRefused, DatabaseUnavailable) as err:
            _refuse(err)
    from bot.runtime import Runtime

    try:
        runtime = Runtime.build(settings, cfg, worker=worker_index)
    except (CannotListen, DatabaseUnavailable) as err:
        _refuse(err)
    signal.signal(signal.SIGTERM, _stop)  # leave the serving loop, then shut down below
    refused: TokenRefused | None = None
    try:
        runtime.serve_forever()
    except KeyboardInterrupt:
        pass
    except TokenRefused as err:
        refused = err
    finally:
        runtime.shutdown()
    if refused is not None:
        _refuse(refused)


def _refuse(err: Exception) -> NoReturn:
    click.echo(f"escbot: {err}", err=True)
    sys.exit(1)


def _stop(*_: object) -> None:
    raise KeyboardInterrupt


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("demo-out"), show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--database-url", help="Default: a temporary SQLite file.")
@click.option("--config", "config_path", help="Default: the example app.yaml.")
def demo(out: Path, seed: int, database_url: str | None, config_path: str | None) -> None:
    """Play a morning at the escalation desk against a built-in Slack emulator (offline)."""
    from bot.sandbox.demo import run_demo

    sys.exit(run_demo(out=out, seed=seed, database_url=database_url, config_path=config_path))


def _sessions_or_exit(database_url: str | None) -> sessionmaker[Session]:
    """An existing, migrated database, or exit 1 with what to do (and no file left behind)."""
    from storage.db import DatabaseUnavailable, make_session_factory, open_engine, require_schema

    try:
        engine = open_engine(database_url, existing=True)
        require_schema(engine)
    except DatabaseUnavailable as err:
        _refuse(err)
    return make_session_factory(engine)


@main.command("digest")
@click.argument("name")
@click.option("--period", "day", type=click.DateTime(["%Y-%m-%d"]), help="A date in the period.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "blocks"]), default="text")
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path), help="Write the PNG.")
@click.option("--database-url", envvar="DATABASE_URL", help="Default: a SQLite file here.")
@click.option("--config", "config_path", help="Default: $ESCBOT_CONFIG, else ./app.yaml.")
def digest(
    name: str,
    day: datetime | None,
    fmt: str,
    chart: Path | None,
    database_url: str | None,
    config_path: str | None,
) -> None:
    """Print digest NAME for the last complete period (or the one containing --period).

    Nothing is posted and no run is recorded.
    """
    from bot.core.clock import SystemClock
    from bot.core.render import Renderer
    from bot.reporting import report
    from bot.reporting.periods import digest_period, period_containing
    from bot.reporting.present import make_digest, payload_text

    cfg = _load_config_or_exit(config_path)
    spec = cfg.digest(name)
    if spec is None:
        known = ", ".join(d.name for d in cfg.digests) or "none configured"
        click.echo(f"escbot: no digest called {name!r} (known: {known})", err=True)
        sys.exit(2)
    sessions = _sessions_or_exit(database_url)
    now = SystemClock().now()
    tz = cfg.digest_tz(spec)
    period = (
        period_containing(spec.period, day.date(), tz) if day else digest_period(cfg, spec, now)
    )
    with sessions() as session:
        out = make_digest(
            session, cfg, Renderer(cfg.team_tz), spec, period, now, chart=chart is not None
        )
    if fmt == "json":
        click.echo(report.dumps(out.report))
    elif fmt == "blocks":
        click.echo(json.dumps(out.payload, indent=2, ensure_ascii=False))
    else:
        click.echo(payload_text(out.payload))
    if chart is not None and out.chart is not None:
        chart.write_bytes(out.chart)
        click.echo(f"chart written to {chart}", err=True)


@main.command("export")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
@click.option("--bom", is_flag=True, help="Start with a UTF-8 byte-order mark (for Excel).")
@click.option("--qa", is_flag=True, help="QA items (sample and grades) instead of tickets.")
@click.option(
    "--graded",
    is_flag=True,
    help="With --qa: the items graded in the days (a digest's), not decided in them.",
)
@click.option("--database-url", envvar="DATABASE_URL", help="Default: a SQLite file here.")
@click.option("--config", "config_path", help="Default: $ESCBOT_CONFIG, else ./app.yaml.")
def export(
    first: datetime,
    last: datetime,
    out: Path | None,
    bom: bool,
    qa: bool,
    graded: bool,
    database_url: str | None,
    config_path: str | None,
) -> None:
    """Write the tickets opened from --from to --to (inclusive, team time zone) as CSV;
    with --qa, the QA items of vendors' decisions made in those days (--graded: the
    items graded in them, whose weights rebuild that period's digest scores)."""
    from bot.qa import export as qa_export
    from bot.reporting.export import date_range
    from bot.reporting.export import write_csv as tickets_csv

    write_csv = functools.partial(qa_export.write_csv, graded=graded) if qa else tickets_csv

    if graded and not qa:
        click.echo("escbot: --graded goes with --qa", err=True)
        sys.exit(2)
    if last < first:
        click.echo("escbot: --to is before --from", err=True)
        sys.exit(2)
    cfg = _load_config_or_exit(config_path)
    sessions = _sessions_or_exit(database_url)
    start, end = date_range(first.date(), last.date(), cfg.team_tz)
    with sessions() as session:
        if out is None:
            count = write_csv(session, sys.stdout, start, end, bom=bom)
        else:
            with out.open("w", encoding="utf-8", newline="") as fh:
                count = write_csv(session, fh, start, end, bom=bom)
    what = "QA items" if qa else "tickets"
    click.echo(f"exported {count} {what}" + (f" to {out}" if out else ""), err=True)


@main.group()
def qa() -> None:
    """The BPO quality programme: vendors' decisions, samples, scores (docs/qa.md)."""


@qa.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), help="Default: by suffix.")
@click.option("--strict", is_flag=True, help="Import nothing if any row is bad.")
@click.option("--database-url", envvar="DATABASE_URL", help="Default: a SQLite file here.")
@click.option("--config", "config_path", help="Default: $ESCBOT_CONFIG, else ./app.yaml.")
def qa_import(
    file: Path, fmt: str | None, strict: bool, database_url: str | None, config_path: str | None
) -> None:
    """Import vendors' decisions from a CSV or JSON Lines FILE, once each.

    The good rows are stored in one transaction; bad rows are listed by line and
    skipped (exit 1), unless --strict. A second run of the same file imports nothing.
    """
    from bot.core.clock import SystemClock
    from bot.qa.imports import guess_format, import_text

    cfg = _load_config_or_exit(config_path)
    chosen = guess_format(f".{fmt}" if fmt else file.name)
    if chosen is None:
        click.echo("escbot: say --format csv or --format jsonl for this file name", err=True)
        sys.exit(2)
    sessions = _sessions_or_exit(database_url)
    with file.open(encoding="utf-8", newline="") as fh:
        result = import_text(sessions, cfg, fh, chosen, SystemClock().now(), strict=strict)
    for error in result.errors[:500]:
        click.echo(f"{file.name}: {error}", err=True)
    if len(result.errors) > 500:
        click.echo(f"…and {len(result.errors) - 500} more bad rows", err=True)
    if result.refused:
        click.echo(f"escbot: {file.name} refused, nothing imported: {result.refused}", err=True)
        sys.exit(2)
    click.echo(
        f"{file.name}: {result.rows} rows read · {result.imported} imported · "
        f"{result.duplicates} already imported · {len(result.errors)} bad"
    )
    if result.errors:
        sys.exit(1)


@qa.command("sample")
@click.argument("vendor")
@click.argument("day", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--database-url", envvar="DATABASE_URL", help="Default: a SQLite file here.")
@click.option("--config", "config_path", help="Default: $ESCBOT_CONFIG, else ./app.yaml.")
def qa_sample(
    vendor: str, day: datetime, database_url: str | None, config_path: str | None
) -> None:
    """Re-derive VENDOR's QA sample of DAY from the seed and compare it with the one drawn."""
    from bot.core.clock import SystemClock
    from bot.core.desk import Desk
    from bot.core.render import Renderer
    from bot.qa import sampling

    cfg = _load_config_or_exit(config_path)
    if vendor not in cfg.qa.plans:
        click.echo(f"escbot: no QA plan for vendor {vendor!r} in qa.plans", err=True)
        sys.exit(2)
    desk = Desk(_sessions_or_exit(database_url), cfg, Renderer(cfg.team_tz), SystemClock())
    picked = sampling.rederive(desk, vendor, day.date())
    for p in picked:
        click.echo(f"{p.stratum}\t{p.sampled}/{p.size}\t{p.decision_id}")
    stored = sampling.drawn(desk, vendor, day.date())
    if stored is None:
        click.echo(f"{len(picked)} decisions; no sample was drawn for that day yet", err=True)
    elif stored == sorted(p.decision_id for p in picked):
        click.echo(f"{len(picked)} decisions: the same as the sample drawn", err=True)
    else:
        click.echo("the sample drawn differs from this one (decisions imported later?)", err=True)
        sys.exit(1)


@main.command("outbox")
@click.option("--retry-dead", is_flag=True, help="Queue dead messages for delivery again.")
@click.option("--database-url", envvar="DATABASE_URL", help="Default: a SQLite file here.")
def outbox_command(retry_dead: bool, database_url: str | None) -> None:
    """List pending and dead Slack messages; retry the dead ones."""
    from bot.delivery import admin as outbox_admin

    sessions = _sessions_or_exit(database_url)
    if retry_dead:
        click.echo(f"{outbox_admin.retry_dead(sessions)} dead message(s) queued again")
        return
    rows = outbox_admin.listing(sessions)
    if not rows:
        click.echo("outbox is empty: nothing pending, nothing dead")
        return
    click.echo(f"{'id':>6}  {'status':8} {'kind':8} {'to':14} {'tries':>5}  {'queued':20} error")
    for r in rows:
        queued = r.created_at.strftime("%Y-%m-%d %H:%M:%S")
        click.echo(
            f"{r.id:>6}  {r.status:8} {r.kind:8} {r.channel[:14]:14} {r.attempts:>5}  "
            f"{queued:20} {r.last_error or ''}"
        )
