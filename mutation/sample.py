"""Keep a seeded random share of a session's pending mutants; skip the rest.

    python mutation/sample.py SESSION.sqlite 0.4 [SEED]

For the big modules a full run does not fit in an afternoon on two shared cores; a
uniform sample estimates the score without bias (and every survivor it finds is real).
"""

from __future__ import annotations

import random
import sys

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult


def main(session: str, share: float, seed: int) -> None:
    with use_db(session, WorkDB.Mode.open) as db:
        pending = sorted(item.job_id for item in db.pending_work_items)
        keep = set(random.Random(seed).sample(pending, round(len(pending) * share)))
        for job_id in pending:
            if job_id not in keep:
                db.set_result(
                    job_id,
                    WorkResult(output="not in the sample", worker_outcome=WorkerOutcome.SKIPPED),
                )
    print(f"{len(keep)} of {len(pending)} pending mutants kept (seed {seed})")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 22)
