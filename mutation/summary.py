"""Per-module numbers of a cosmic-ray session, and each survivor as a one-line change.

    python mutation/summary.py /tmp/escbot-mutation/content/content.sqlite [--diffs]

Filtered mutants (the operators mutation/*.toml leaves out, ``# pragma: no mutate``
lines, annotations) and those outside a sample are counted apart and left out of the
score: killed / (killed + survived).
"""

from __future__ import annotations

import sqlite3
import sys
from collections import Counter


def main(db: str, diffs: bool) -> None:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT s.module_path, s.start_pos_row, s.operator_name,"
        " r.worker_outcome, r.test_outcome, r.diff, r.output"
        " FROM mutation_specs s LEFT JOIN work_results r USING (job_id)"
        " ORDER BY s.module_path, s.start_pos_row, s.start_pos_col, s.operator_name"
    ).fetchall()
    counts: Counter[str] = Counter()
    survivors = []
    for path, line, op, worker, test, diff, output in rows:
        line = f"{path.rsplit('/', 1)[-1]}:{line}"
        worker, test = (worker or "").lower() or None, (test or "").lower()
        if worker is None:
            counts["pending"] += 1
        elif worker == "skipped":
            counts["not sampled" if output == "not in the sample" else "filtered"] += 1
        elif worker == "normal" and test == "survived":
            counts["survived"] += 1
            survivors.append((line, op, diff))
        elif worker == "normal" and output == "timeout":  # slow, maybe not wrong: rerun it
            counts["timeout"] += 1
            survivors.append((line, op + " (timeout)", diff))
        elif worker == "normal":
            counts["killed"] += 1
        else:  # abnormal (a crash) or timeout: the mutant did not pass the tests
            counts["killed"] += 1
            counts[worker] += 1
    run = counts["killed"] + counts["survived"]
    score = f"{100 * counts['killed'] / run:.1f} %" if run else "-"
    print(
        f"mutants {len(rows)}  "
        + "  ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + f"  score {score}"
    )
    for line, op, diff in survivors:
        changed = [
            d for d in (diff or "").splitlines() if d[:1] in "+-" and d[:3] not in ("+++", "---")
        ]
        print(
            f"  {line} {op.removeprefix('core/')}: {' | '.join(c.strip() for c in changed)}"
            if not diffs
            else f"  {line} {op}\n{diff}"
        )


if __name__ == "__main__":
    main(sys.argv[1], "--diffs" in sys.argv)
