"""The digest reads period-bounded index ranges, never the whole history (SQLite query plans).

Every SELECT a full digest runs is captured and explained. A ``SCAN`` of a
history table is what would make a digest slower as the history grows, so
none is allowed — with no statistics (how escbot's SQLite runs) and after
``ANALYZE``, whose averages hide the skew of a few open tickets among many
resolved ones. (At a million tickets that skew once led SQLite to walk a whole
index; ``python -m bench.digest --explain`` checks the plans at scale, on
PostgreSQL too, whose planner rightly scans the small tables of a test.)
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from bench.digest import history_scans, load
from bot.tickets.lifecycle import OPEN_STATUSES
from storage.models import OPEN_STATUSES_SQL
from tests.dbs import backend


def test_open_statuses_sql_matches_the_lifecycle() -> None:
    listed = re.findall(r"'([a-z_]+)'", OPEN_STATUSES_SQL)
    assert listed == [s.value for s in OPEN_STATUSES]


@pytest.mark.skipif(backend() != "sqlite", reason="SQLite query plans")
@pytest.mark.parametrize("analyze", [False, True])
def test_every_digest_query_uses_an_index_range(engine, config, analyze) -> None:
    load(engine, 6000, rate=100, seed=3)  # 60 days, a few open tickets, bulk-loaded
    if not analyze:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM sqlite_stat1"))
    engine.dispose()  # new connections read the statistics afresh
    assert history_scans(engine, config) == []
