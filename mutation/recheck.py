"""Run each survivor of a session again, against the tests as they are now.

    python mutation/recheck.py SESSION.sqlite "python -m pytest -x -q tests/test_foo.py"

Run it in the tree the session mutated (a copy made by mutation/run, or your own): each
survivor's diff is applied with ``patch``, the command run, and the diff reverted. It
prints which survivors the tests added since now kill.
"""

from __future__ import annotations

import shlex
import sqlite3
import subprocess
import sys


def main(db: str, command: str) -> None:
    rows = sqlite3.connect(db).execute(
        "SELECT s.module_path, s.start_pos_row, s.operator_name, r.diff"
        " FROM mutation_specs s JOIN work_results r USING (job_id)"
        " WHERE r.test_outcome = 'SURVIVED' OR r.output = 'timeout'"
        " ORDER BY s.module_path, s.start_pos_row"
    )
    for path, line, op, diff in rows:
        patch = diff.split("\n", 1)[1] + "\n"  # past "--- mutation diff ---"
        subprocess.run(
            ["patch", "-p1", "-s", "--no-backup-if-mismatch"], input=patch, text=True, check=True
        )
        try:
            failed = subprocess.run(shlex.split(command), capture_output=True).returncode != 0
        finally:
            subprocess.run(
                ["patch", "-p1", "-R", "-s", "--no-backup-if-mismatch"],
                input=patch,
                text=True,
                check=True,
            )
        print(f"{'killed  ' if failed else 'survives'} {path}:{line} {op}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
