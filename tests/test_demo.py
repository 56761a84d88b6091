"""``escbot demo``: the same seed gives the same run, on a busy machine too, and its page
shows emoji where escbot sends shortcodes.

The demo runs escbot's background work itself after each step (``Desk.quiet``): were the
outbox, the router, the listeners or the scheduler left to race the script, the order of
the transcript, the notices batched into one DM and the chart's file id would change with
thread timing, and a busy machine shows it (tests/test_screenshots.py hashes the page).
"""

from __future__ import annotations

import filecmp
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.demo_html import EMOJI
from tests.conftest import REPO

SHORTCODE = re.compile(r":[a-z][a-z0-9_+-]*:")
LOAD_SECONDS = 240  # a busy loop's own limit, should the test be killed before its cleanup
BUSY = """
import sys, time
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    pass
"""


@pytest.fixture
def cpu_load() -> Iterator[None]:
    """A busy loop on every core for the test's duration."""
    burners = [
        subprocess.Popen([sys.executable, "-c", BUSY, str(LOAD_SECONDS)])
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        yield
    finally:
        for p in burners:
            p.kill()
            p.wait()


def demos(*outs: Path) -> None:
    """``escbot demo --seed 7`` into each of ``outs``, all at once (each loads the other)."""
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "demo", "--seed", "7", "--out", str(out)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for out in outs
    ]
    try:
        for run in runs:
            _, err = run.communicate(timeout=240)
            assert run.returncode == 0, err.decode()[-2000:]
    finally:
        for run in runs:
            run.kill()
            run.wait()


def test_the_same_seed_gives_a_byte_identical_run_under_cpu_load(
    cpu_load: None, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    demos(first, second)
    names = sorted(p.name for p in first.iterdir())
    assert {"index.html", "transcript.txt"} <= set(names)
    assert any(n.startswith("chart-") for n in names), names
    assert names == sorted(p.name for p in second.iterdir())
    _, differ, errors = filecmp.cmpfiles(first, second, names, shallow=False)
    assert not differ and not errors, f"not the same run: {differ or errors}"
    page = (first / "index.html").read_text() + (first / "transcript.txt").read_text()
    assert SHORTCODE.findall(page) == [], "shortcodes shown as text"


def test_every_shortcode_in_the_templates_renders_as_an_emoji() -> None:
    used = {
        code
        for template in (REPO / "templates").glob("*.j2")
        for code in SHORTCODE.findall(template.read_text())
    }
    assert used, "no shortcode found: the pattern is wrong"
    assert sorted(used - set(EMOJI)) == []
