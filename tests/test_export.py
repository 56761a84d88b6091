"""``escbot export``: every ticket of the range as RFC 4180 CSV, and no formula ever runs."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.reporting.export import HEADER, date_range, neutralise, write_csv
from storage.db import transaction
from tests.kpi_data import DAY, D, H, History, M

TRAPS = [
    '=HYPERLINK("https://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\tTab first",
    "\rCarriage return first",
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "x"),  # a carriage return is removed, as Slack's rendering does
        ("a=1", "a=1"),
        ("", ""),
        (-5, -5),  # numbers are numbers, not text
    ],
)
def test_neutralise(value, expected) -> None:
    assert neutralise(value) == expected


@pytest.fixture
def tickets(sessions):  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        h = History(s)
        for i, trap in enumerate(TRAPS):
            t = h.ticket(D + i * H, summary=trap, details=f"details {trap}")
            h.content(t, f"example.com/{i}")
        quoted = h.resolved(
            D + 10 * H,
            5400,
            summary='Comma, "quotes" and\na newline — ünïcödé 🚩',
            vendor="northwind_manila",
            vendor_correct=False,
            vendor_error_category="missed_context",
            decision="removed",
            tta_breached=True,
            acked_at=D + 10 * H + 20 * M,
            tta_seconds=1200,
        )
        h.content(quoted, "example.com/a")
        h.content(quoted, "example.com/b")
        h.ticket(D - M)  # the day before: outside
        h.ticket(D + DAY)  # the day after: outside
    return h


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_every_ticket_of_the_range_every_field_no_formula(sessions, tickets, config) -> None:
    start, end = date_range(date(2026, 11, 25), date(2026, 11, 25), config.team_tz)
    out = io.StringIO(newline="")
    with sessions() as s:
        assert write_csv(s, out, start, end) == len(TRAPS) + 1
    text = out.getvalue()
    assert text.startswith("id,number,key,")
    assert "\r\n" in text and text.endswith("\r\n")
    rows = parse(text)
    assert list(rows[0]) == list(HEADER)
    assert [r["key"] for r in rows] == [f"ESC-{n}" for n in range(1, len(TRAPS) + 2)]
    for row, trap in zip(rows, TRAPS, strict=False):
        # shown as text, never evaluated (a carriage return is removed, as Slack shows it)
        assert row["summary"] in ("'" + trap, trap.lstrip("\r"))
        assert row["details"] == "details " + trap.replace("\r", "")
    for row in rows:  # no cell anywhere can start a formula
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    last = rows[-1]
    assert last["summary"] == 'Comma, "quotes" and\na newline — ünïcödé 🚩'
    assert last["content"] == "https://example.com/a\nhttps://example.com/b"
    assert (last["status"], last["decision"], last["vendor_correct"]) == (
        "resolved",
        "removed",
        "false",
    )
    assert (last["tta_seconds"], last["ttr_seconds"], last["tta_breached"]) == (
        "1200",
        "5400",
        "true",
    )
    assert (last["ack_wall_seconds"], last["resolve_wall_seconds"]) == ("1200", "5400")
    assert last["created_at"] == "2026-11-25T10:00:00+00:00"
    assert last["card_link"].startswith("https://slack.com/archives/C06H2KX8ESC/p")
    assert rows[0]["resolved_at"] == "" and rows[0]["vendor_correct"] == ""


def test_cli_export_to_a_file_with_bom(sessions, tickets, db_url, tmp_path) -> None:
    out = tmp_path / "tickets.csv"
    env = {"DATABASE_URL": db_url, "ESCBOT_CONFIG": "app.yaml"}
    args = ["export", "--from", "2026-11-24", "--to", "2026-11-25", "--out", str(out), "--bom"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert "exported 8 tickets" in result.output  # the day before counts now
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid,number,key,")
    rows = parse(raw.decode("utf-8-sig"))
    assert len(rows) == 8 and [r["key"] for r in rows][-2:] == ["ESC-7", "ESC-8"]
    assert rows[0]["summary"] == "'" + TRAPS[0]


def test_cli_export_to_stdout_and_bad_range(sessions, tickets, db_url) -> None:
    env = {"DATABASE_URL": db_url, "ESCBOT_CONFIG": "app.yaml"}
    runner = CliRunner()
    result = runner.invoke(main, ["export", "--from", "2026-11-26", "--to", "2026-11-26"], env=env)
    assert result.exit_code == 0
    assert [r["key"] for r in parse(result.stdout)] == ["ESC-9"]
    bad = runner.invoke(main, ["export", "--from", "2026-11-26", "--to", "2026-11-01"], env=env)
    assert bad.exit_code == 2 and "--to is before --from" in bad.output


def test_a_large_export_streams_in_batches(sessions, config) -> None:
    with transaction(sessions) as s:
        h = History(s)
        for i in range(2345):
            h.ticket(D + i * M)
    start, end = date_range(date(2026, 11, 1), date(2026, 12, 31), config.team_tz)
    out = io.StringIO(newline="")
    with sessions() as s:
        assert write_csv(s, out, start, end) == 2345
    assert len(parse(out.getvalue())) == 2345
