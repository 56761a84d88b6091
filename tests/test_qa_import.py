"""`escbot qa import`: every row validated, bad rows named by line, the rest stored once,
in one transaction."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.qa_import import write_csv
from bot.cli import main
from bot.qa import imports
from storage.models import QaDecision
from tests.conftest import QA_TOKEN
from tests.dbs import backend

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def stored(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(QaDecision)) or 0


def cli(db_url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main, ["qa", "import", *args, "--database-url", db_url, "--config", str(REPO / "app.yaml")]
    )
    return result.exit_code, result.stdout, result.stderr


def row(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "vendor": "northwind_manila",
        "decision_id": "n-1",
        "content_ref": "post:123",
        "policy_area": "hateful_activities",
        "decision": "removed",
        "decided_at": "2026-11-25T10:00:00Z",
        "agent_id": "a7",
        "confidence": 0.8,
    }
    return base | over


def test_100000_rows_with_50_bad_import_the_rest_once(  # type: ignore[no-untyped-def]
    engine: Engine, sessions, db_url: str, config, tmp_path: Path
) -> None:
    path = tmp_path / "decisions.csv"
    bad_lines = write_csv(path, config, rows=100_000, bad=50)

    code, out, err = cli(db_url, str(path))
    assert code == 1  # some rows were bad: a script notices
    named = {
        int(line.split("line ")[1].split(":")[0]) for line in err.splitlines() if "line " in line
    }
    assert named == bad_lines
    assert "100000 rows read · 99950 imported · 0 already imported · 50 bad" in out
    assert stored(sessions) == 99_950

    code, out, _ = cli(db_url, str(path))
    assert "· 0 imported · 99950 already imported · 50 bad" in out
    assert stored(sessions) == 99_950


def test_reasons_and_line_numbers_in_json_lines(sessions, config) -> None:  # type: ignore[no-untyped-def]
    lines = [
        json.dumps(row(decision_id="ok-1")),
        "",  # blank lines are skipped, but counted
        "{not json",
        json.dumps(row(decision_id="ok-2", decided_at="2026-11-25T10:00:00")),  # no zone
        json.dumps(row(decision_id="ok-3", vendor="acme")),
        json.dumps(row(decision_id="ok-4", colour="red")),
        json.dumps(row(decision_id="ok-1")),  # repeats line 1
        json.dumps(row(decision_id="ok-5", confidence=None, agent_id=None)),
        json.dumps(row(decision_id="ok-6", decided_at="2027-01-01T00:00:00Z")),
        "[1, 2]",
    ]
    result = imports.import_text(sessions, config, lines, "jsonl", NOW)
    reasons = {e.line: e.reason for e in result.errors}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 9, 10]
    assert reasons[3].startswith("not JSON")
    assert "decided_at" in reasons[4] and "timezone" in reasons[4]
    assert "unknown vendor 'acme'" in reasons[5]
    assert reasons[6] == "colour: unknown column"
    assert "repeats line 1" in reasons[7]
    assert "future" in reasons[9]
    assert reasons[10] == "not a JSON object"
    assert (result.rows, result.imported) == (9, 2)


def test_csv_line_numbers_survive_quoted_newlines(sessions, config) -> None:  # type: ignore[no-untyped-def]
    body = (
        "vendor,decision_id,content_ref,policy_area,decision,decided_at\n"
        'tejo_lisbon,t-1,"post:1\nspanning two lines",hateful_activities,removed,'
        "2026-11-25T10:00:00Z\n"
        "tejo_lisbon,t-2,post:2,hateful_activities,banned,2026-11-25T10:00:00Z\n"
        "tejo_lisbon,t-3,post:3,hateful_activities\n"
    )
    result = imports.import_bytes(sessions, config, body.encode(), "csv", NOW)
    assert [(e.line, e.reason.split(":")[0]) for e in result.errors] == [
        (4, "decision"),
        (5, "4 values where the header has 6 columns"),
    ]
    assert result.imported == 1


def test_a_bad_header_or_strict_imports_nothing(  # type: ignore[no-untyped-def]
    engine: Engine, sessions, db_url: str, tmp_path: Path
) -> None:
    bad_header = tmp_path / "a.csv"
    bad_header.write_text("vendor,decision,when\nnorthwind_manila,removed,today\n")
    code, _, err = cli(db_url, str(bad_header))
    assert code == 2 and "missing column(s) decision_id" in err and "unknown column(s) when" in err

    one_bad = tmp_path / "b.jsonl"
    one_bad.write_text(json.dumps(row()) + "\n" + json.dumps(row(decision_id="x", decision="?")))
    code, _, err = cli(db_url, str(one_bad), "--strict")
    assert code == 2 and "line 2: decision" in err and "nothing imported" in err
    assert stored(sessions) == 0


def test_a_database_failure_half_way_stores_nothing(  # type: ignore[no-untyped-def]
    engine: Engine, sessions, config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The good rows of a file go in one transaction: a failure in its last chunk takes
    the earlier chunks back with it."""
    with engine.begin() as conn:
        if backend() == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.decision_id = 'n-99' THEN RAISE EXCEPTION 'boom'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER boom BEFORE INSERT ON qa_decisions "
                    "FOR EACH ROW EXECUTE FUNCTION boom()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER boom BEFORE INSERT ON qa_decisions "
                    "WHEN NEW.decision_id = 'n-99' BEGIN SELECT RAISE(ABORT, 'boom'); END"
                )
            )
    monkeypatch.setattr(imports, "CHUNK", 10)
    lines = [json.dumps(row(decision_id=f"n-{i}")) for i in range(100)]
    with pytest.raises(Exception, match="boom"):
        imports.import_text(sessions, config, lines, "jsonl", NOW)
    assert stored(sessions) == 0


# -- POST /qa/decisions ------------------------------------------------------------------


def post(escbot, body: bytes, kind: str, token: str | None = QA_TOKEN, query: str = ""):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": kind}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"{escbot.url}/qa/decisions{query}", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_endpoint_takes_the_same_rows_once(escbot) -> None:  # type: ignore[no-untyped-def]
    batch = "\n".join(
        [json.dumps(row(decision_id=f"h-{i}")) for i in range(300)]
        + [json.dumps(row(decision_id="h-bad", policy_area="spam"))]
    ).encode()
    status, answer = post(escbot, batch, "application/x-ndjson")
    assert status == 200
    assert (answer["imported"], answer["bad_rows"]) == (300, 1)
    assert answer["errors"] == [{"line": 301, "error": "policy_area: unknown policy area 'spam'"}]
    status, answer = post(escbot, batch, "application/x-ndjson")  # the tool sends it again
    assert (status, answer["imported"], answer["duplicates"]) == (200, 0, 300)

    csv_body = (
        b"vendor,decision_id,content_ref,policy_area,decision,decided_at,confidence\n"
        b"tejo_lisbon,c-1,post:9,graphic_violence,removed,2026-11-25T08:00:00+01:00,0.4\n"
        b"tejo_lisbon,c-2,post:10,graphic_violence,removed,2026-11-25T08:00:00+01:00,2\n"
    )
    status, answer = post(escbot, csv_body, "text/csv; charset=utf-8", query="?strict=1")
    assert status == 422 and answer["imported"] == 0 and answer["errors"][0]["line"] == 3
    assert stored(escbot.services.sessions) == 300


def test_the_endpoint_wants_its_token_and_a_known_format(escbot) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps(row()).encode()
    assert post(escbot, body, "application/x-ndjson", token=None)[0] == 401
    assert post(escbot, body, "application/x-ndjson", token="test-qa-tokex")[0] == 401
    assert post(escbot, body, "application/json")[0] == 415
    assert stored(escbot.services.sessions) == 0
