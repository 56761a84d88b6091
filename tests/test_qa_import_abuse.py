"""``POST /qa/decisions`` against hostile and broken input (issue #25, items 2 and 4): a
vendor's token writes only its own rows, and nothing a client sends answers 500 or costs
the batch its good rows, on SQLite and PostgreSQL (``ESCBOT_TEST_DATABASE_URL``)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.loader import load_config_text
from bot.qa import imports
from bot.reporting.export import neutralise
from bot.settings import Settings, SettingsError, with_vendor_tokens
from storage.db import transaction
from storage.models import QaDecision
from tests.conftest import QA_TOKEN
from tests.desk import EXAMPLE

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
NORTHWIND_TOKEN, TEJO_TOKEN = "northwind-own-token", "tejo-own-token"
HEADER = "vendor,decision_id,content_ref,policy_area,decision,decided_at\n"


def row(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "vendor": "northwind_manila",
        "decision_id": "n-1",
        "content_ref": "post:123",
        "policy_area": "hateful_activities",
        "decision": "removed",
        "decided_at": "2026-11-25T10:00:00Z",
    }
    return base | over


def csv_line(**over: object) -> str:
    return ",".join(str(v) for v in row(**over).values()) + "\n"


def post(
    url: str, body: bytes, kind: str, token: str = QA_TOKEN, **headers: str
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{url}/qa/decisions",
        data=body,
        headers={"Content-Type": kind, "Authorization": f"Bearer {token}", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def ids(sessions: sessionmaker[Session]) -> set[tuple[str, str]]:
    with sessions() as s:
        return {(v, d) for v, d in s.execute(select(QaDecision.vendor, QaDecision.decision_id))}


def test_a_vendors_token_writes_only_that_vendors_rows(runtime_with) -> None:  # type: ignore[no-untyped-def]
    escbot = runtime_with(
        qa_token=QA_TOKEN,
        vendor_qa_tokens={"northwind_manila": NORTHWIND_TOKEN, "tejo_lisbon": TEJO_TOKEN},
    )
    tejo = {"vendor": "tejo_lisbon", "policy_area": "graphic_violence"}
    forged = [row(decision_id="n-1"), row(decision_id="t-1", **tejo), row(decision_id="n-2")]
    status, answer = post(
        escbot.url, "\n".join(map(json.dumps, forged)).encode(), "application/x-ndjson",
        token=NORTHWIND_TOKEN,
    )  # fmt: skip
    assert (status, answer["imported"], answer["bad_rows"]) == (200, 2, 1)
    assert answer["errors"] == [
        {"line": 2, "error": "vendor: this token sends northwind_manila's decisions only, "
         "not tejo_lisbon's"}
    ]  # fmt: skip

    own = [row(decision_id=f"t-{i}", **tejo) for i in range(1, 51)]
    status, answer = post(
        escbot.url, "\n".join(map(json.dumps, own)).encode(), "application/x-ndjson",
        token=TEJO_TOKEN,
    )  # fmt: skip
    assert (status, answer["imported"], answer["duplicates"], answer["bad_rows"]) == (200, 50, 0, 0)

    # the operator's token keeps the right to send any vendor's rows
    both = [row(decision_id="n-3"), row(decision_id="t-51", **tejo)]
    status, answer = post(
        escbot.url, "\n".join(map(json.dumps, both)).encode(), "application/jsonl"
    )
    assert (status, answer["imported"]) == (200, 2)
    assert post(escbot.url, b"", "text/csv", token="tejo-own-tokem")[0] == 401
    assert len(ids(escbot.services.sessions)) == 54


def test_vendor_tokens_come_from_the_environment_one_each(config) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["vendors"]["northwind_manila"]["qa_token_env"] = "NORTHWIND_QA_TOKEN"
    data["vendors"]["tejo_lisbon"]["qa_token_env"] = "TEJO_QA_TOKEN"
    cfg = load_config_text(yaml.safe_dump(data), "app.yaml")
    base = Settings(bot_token="xoxb-x", signing_secret="s", qa_token="operator")
    env = {"NORTHWIND_QA_TOKEN": " nw-secret\n", "TEJO_QA_TOKEN": ""}
    assert with_vendor_tokens(base, cfg, env).vendor_qa_tokens == {"northwind_manila": "nw-secret"}
    for shared in ({"NORTHWIND_QA_TOKEN": "same", "TEJO_QA_TOKEN": "same"},
                   {"NORTHWIND_QA_TOKEN": "operator"}):  # fmt: skip
        with pytest.raises(SettingsError, match="a token of its own"):
            with_vendor_tokens(base, cfg, shared)


def test_the_four_500s_are_bad_rows_by_line_and_the_rest_imports(escbot) -> None:  # type: ignore[no-untyped-def]
    """The issue's table: a huge CSV field, a 5,000-digit number, 200,000-deep nesting and a
    NUL byte each cost their own line only."""
    body = (
        HEADER
        + csv_line(decision_id="c-1")
        + csv_line(decision_id="c-2", content_ref='"' + "x" * 140_000 + '"')
        + csv_line(decision_id="c-3", content_ref="post:\x00nul")
        + csv_line(decision_id="c-4")
    ).encode()
    status, answer = post(escbot.url, body, "text/csv")
    assert status == 200, answer
    assert [e["line"] for e in answer["errors"]] == [3, 4]
    assert "field larger than field limit" in answer["errors"][0]["error"]
    assert "U+0000" in answer["errors"][1]["error"]
    assert answer["imported"] == 2

    lines = [
        json.dumps(row(decision_id="j-1")),
        '{"vendor": "northwind_manila", "confidence": 1' + "0" * 5000 + "}",
        "[" * 200_000 + "]" * 200_000,
        json.dumps(row(decision_id="j-2", agent_id="a\x00b")),
        json.dumps(row(decision_id="j-3", content_ref="post:\u202eevil")),
        json.dumps(row(decision_id="j-4", content_ref="post:\ud800")),
        json.dumps(row(decision_id="j-5", decided_at="0001-01-01T00:00:00+14:00")),
        json.dumps(row(decision_id="j-6")),
    ]
    status, answer = post(escbot.url, "\n".join(lines).encode(), "application/x-ndjson")
    assert status == 200, answer
    assert [e["line"] for e in answer["errors"]] == [2, 3, 4, 5, 6, 7]
    assert answer["errors"][0]["error"] == "not JSON we can read (a number too long)"
    assert answer["errors"][1]["error"] == "not JSON we can read (nested too deep)"
    assert answer["imported"] == 2
    stored = ids(escbot.services.sessions)
    assert {d for _, d in stored} == {"c-1", "c-4", "j-1", "j-6"}


def test_encodings_and_compression_are_one_clear_4xx(escbot) -> None:  # type: ignore[no-untyped-def]
    body = (HEADER + csv_line()).encode()
    assert (
        post(escbot.url, gzip.compress(body), "text/csv", **{"Content-Encoding": "gzip"})[0] == 415
    )
    status, answer = post(escbot.url, gzip.compress(body), "text/csv")
    assert (status, answer["refused"]) == (422, "the body is gzip: send the rows uncompressed")
    assert post(escbot.url, body, "text/csv; charset=latin-1")[0] == 415
    status, answer = post(escbot.url, body.decode().encode("utf-16"), "text/csv")
    assert (status, answer["refused"]) == (422, "the body is not UTF-8 text")
    assert post(escbot.url, body, "text/csv; charset=UTF-8")[0] == 200


def test_the_export_shows_text_as_slack_does() -> None:
    assert neutralise("post:\u202e1gpj.exe") == "post:1gpj.exe"
    assert neutralise("\u2066=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert neutralise("a\x00b") == "ab"


# -- fuzzing the importer on the test database -----------------------------------------

FIELDS = list(row())
hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Cs", "Co", "Zs", "Zl"]), max_size=5),
    st.just("x" * 600),
    st.sampled_from(["\x00", "\u202e", "=cmd|' /C calc'!A0", "0001-01-01T00:00:00+14:00"]),
)
hostile_value = st.one_of(
    hostile_text,
    st.integers(),
    st.floats(),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
bad_row = st.builds(
    lambda field, value: row(**{field: value}),
    st.sampled_from([*FIELDS, "agent_id", "confidence", "extra"]),
    hostile_value,
)
raw_line = st.one_of(  # a line as sent, not even a row; no quote: it would open a CSV field
    st.text(max_size=60).filter(lambda s: not set(s) & set('\n\r"')),
    st.sampled_from(["[" * 5000, '{"confidence": 1' + "0" * 5000 + "}", "null", "{}"]),
)


def encode(rows: list[dict[str, object] | str], fmt: imports.Format) -> bytes:
    if fmt == "jsonl":
        lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
        return "\n".join(lines).encode("utf-8", "surrogatepass")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for r in rows:
        if isinstance(r, str):
            out.write(r + "\n")
        else:
            writer.writerow(["" if r.get(f) is None else str(r.get(f)) for f in FIELDS])
    return out.getvalue().encode("utf-8", "surrogatepass")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(st.one_of(st.just("good"), bad_row, raw_line), max_size=12),
    fmt=st.sampled_from(["jsonl", "csv"]),
)
def test_fuzzed_batches_never_fail_and_keep_their_good_rows(  # type: ignore[no-untyped-def]
    sessions, config, rows: list[dict[str, object] | str], fmt: imports.Format
) -> None:
    with transaction(sessions) as s:
        s.execute(delete(QaDecision))
    good = {f"g-{n}" for n, r in enumerate(rows) if r == "good"}
    body = encode(
        [row(decision_id=f"g-{n}") if r == "good" else r for n, r in enumerate(rows)], fmt
    )

    result = imports.import_bytes(sessions, config, body, fmt, NOW)

    if result.refused:  # only a body that isn't UTF-8 (a lone surrogate) is refused whole
        assert result.refused == "the body is not UTF-8 text" and result.imported == 0
        return
    assert result.imported + result.duplicates + len(result.errors) == result.rows
    assert good <= {d for _, d in ids(sessions)}
