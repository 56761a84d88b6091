"""Slack calls per method in one demo morning (``escbot demo``'s play, at Slack's rates).

    python -m bench.demo_calls [--seed 7]

Plays the demo's morning against the emulator with its default, Slack's, limits and
counts the Web API calls (and response_url posts) by method: answered ok, refused
(``ok: false``), rate-limited (429). docs/performance.md compares it before and after #24.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections import Counter

from bot.config import load_config
from bot.sandbox.demo import REPO_CONFIG, Desk, play


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)
    started = time.monotonic()
    cfg = load_config(REPO_CONFIG)
    with tempfile.TemporaryDirectory(prefix="escbot-calls-") as tmp:
        desk = Desk(cfg, f"sqlite:///{tmp}/demo.db", args.seed)
        try:
            play(desk)
            calls = list(desk.fake.calls)
        finally:
            desk.close()
    took = time.monotonic() - started
    ok = Counter(c.method for c in calls if c.ok)
    refused = Counter(c.method for c in calls if not c.ok and c.status != 429)
    limited = Counter(c.method for c in calls if c.status == 429)
    print(f"{'method':<32}{'ok':>6}{'refused':>9}{'429':>6}")
    for method in sorted(set(ok) | set(refused) | set(limited)):
        print(f"{method:<32}{ok[method]:>6}{refused[method]:>9}{limited[method]:>6}")
    print(f"{'total':<32}{sum(ok.values()):>6}{sum(refused.values()):>9}{sum(limited.values()):>6}")
    print(f"\nthe morning took {took:.1f} s of wall time")


if __name__ == "__main__":
    main()
