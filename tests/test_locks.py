"""The lock files agree with pyproject.toml: every dependency pinned, inside its range."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", re.MULTILINE)


def pins(lock: str) -> dict[str, str]:
    text = (REPO / "requirements" / lock).read_text()
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return [r for r in found if canonicalize_name(r.name) != "escbot"]


@pytest.mark.parametrize(
    ("lock", "extras"), [("runtime.txt", ()), ("dev.txt", ("test", "dev"))]
)
def test_each_dependency_is_locked_inside_its_range(lock: str, extras: tuple[str, ...]) -> None:
    locked = pins(lock)
    problems = []
    for req in declared(*extras):
        version = locked.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name} is not in requirements/{lock}")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} is outside pyproject's {req}")
    assert not problems, "refresh the lock (docs/operations.md): " + "; ".join(problems)


def test_the_dev_lock_ships_the_runtime_versions() -> None:
    runtime, dev = pins("runtime.txt"), pins("dev.txt")
    assert {name: dev.get(name) for name in runtime} == runtime
