"""Skip cosmic-ray mutants inside type annotations (``str | None`` → ``str + None``).

Every module here has ``from __future__ import annotations``: an annotation is never
evaluated at run time, so no test can tell such a mutant apart (mypy does).

    python mutation/filter_annotations.py SESSION.sqlite
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) of every annotation, as (line, column) pairs."""
    nodes: list[ast.expr] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            nodes.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            nodes.append(node.returns)
    return [
        ((n.lineno, n.col_offset), (n.end_lineno or n.lineno, n.end_col_offset or 0)) for n in nodes
    ]


def main(session: str) -> None:
    spans: dict[Path, list[tuple[tuple[int, int], tuple[int, int]]]] = {}
    skipped = 0
    with use_db(session, WorkDB.Mode.open) as db:
        for item in db.work_items:
            for mutation in item.mutations:
                path = Path(mutation.module_path)
                if path not in spans:
                    spans[path] = annotation_spans(path.read_text())
                start = mutation.start_pos  # (line, column), as ast counts them
                if any(lo <= start < hi for lo, hi in spans[path]):
                    db.set_result(
                        item.job_id,
                        WorkResult(output="in an annotation", worker_outcome=WorkerOutcome.SKIPPED),
                    )
                    skipped += 1
                    break
    print(f"{skipped} mutants in annotations skipped")


if __name__ == "__main__":
    main(sys.argv[1])
