"""The import contracts in pyproject.toml ([tool.importlinter]) hold.

.ci/run lints them too; running them here means a layering break shows up with the ordinary
test command, one failing test per contract, with import-linter's chains in the message.
"""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "contracts"
]
LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"


@pytest.mark.parametrize("contract", [c["id"] for c in CONTRACTS])
def test_import_contract_is_kept(contract: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache", "--no-logo", "--contract", contract],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if run.returncode != 0:
        pytest.fail(run.stdout + run.stderr, pytrace=False)


def _graph():  # type: ignore[no-untyped-def]
    import grimp  # import-linter's own graph builder (a dev dependency through it)

    return grimp.build_graph("bot", "handlers", "storage", "templates", cache_dir=None)


def test_no_module_imports_itself_back() -> None:
    """No import cycle, TYPE_CHECKING imports included: a cycle hidden behind a guard still
    means two modules can't be understood (or moved) one without the other."""
    graph = _graph()
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if module < imported and graph.chain_exists(imported, module):
                chain = graph.find_shortest_chain(imported, module) or ()
                cycles.append(" -> ".join((module, *chain)))
    assert cycles == []


def test_architecture_page_maps_every_module() -> None:
    """docs/architecture.md is the codemap a newcomer reads first: every module is on it."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    modules = [
        path.relative_to(ROOT).as_posix()
        for folder in ("bot", "handlers")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "__init__.py"
    ]
    lines = doc.splitlines()

    def mapped(module: str) -> bool:
        folder, name = module.rsplit("/", 1)
        stem = name.removesuffix(".py")
        return module in doc or any(
            f"{folder}/" in line and (f"`{stem}`" in line or f"{stem}.py" in line) for line in lines
        )

    missing = [m for m in modules if not mapped(m)]
    assert missing == [], f"add these modules to docs/architecture.md: {missing}"


def test_architecture_page_names_no_module_that_is_gone() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`((?:bot|handlers|storage)/[\w/]+\.py)`", doc))
    assert sorted(p for p in named if not (ROOT / p).exists()) == []
