"""Docs kept true by tests: every app.yaml key is documented, the README commands exist,
relative links reach their file and heading, and every benchmark says how to run it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from bot.config import AppConfig

REPO = Path(__file__).resolve().parent.parent


def _models(model: type[BaseModel], path: str = "") -> list[tuple[str, str]]:
    """(section path, key) for every field of the config model, recursively."""
    out = []
    for name, field in model.model_fields.items():
        out.append((path, name))
        for sub in _nested(field.annotation):
            out += _models(sub, f"{path}.{name}" if path else name)
    return out


def _nested(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation) if get_origin(annotation) else ():
        found += _nested(arg)
    return found


def test_every_config_key_is_in_the_configuration_reference() -> None:
    doc = (REPO / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"`([a-z_][a-z0-9_]*)`", doc))
    missing = sorted(
        {f"{path}.{key}".lstrip(".") for path, key in _models(AppConfig) if key not in documented}
    )
    assert missing == [], f"document these app.yaml keys in docs/configuration.md: {missing}"


def test_readme_names_the_two_commands_and_every_cli_command() -> None:
    from bot.cli import main

    readme = (REPO / "README.md").read_text()
    assert "escbot demo" in readme and "pytest" in readme
    for name in main.commands:
        assert f"escbot {name}" in readme, f"README does not mention `escbot {name}`"


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(doc: Path) -> set[str]:
    found: set[str] = set()
    fenced = False
    for line in doc.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6} (.+)", line)):
            slug, n = _slug(m.group(1)), 1
            while slug in found:  # a repeated heading gets -1, -2, …
                slug, n = f"{_slug(m.group(1))}-{n}", n + 1
            found.add(slug)
    return found


def test_relative_links_in_the_docs_reach_a_file_and_a_heading() -> None:
    docs = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
    broken = []
    for doc in docs:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (doc.parent / path).resolve() if path else doc
            if not linked.exists():
                broken.append(f"{doc.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{doc.name}: {target} (no such heading)")
    assert broken == [], f"fix these links: {broken}"


def test_every_benchmark_is_documented_with_its_command() -> None:
    from bench.__main__ import BENCHMARKS

    doc = (REPO / "docs" / "performance.md").read_text()
    missing = [name for name in BENCHMARKS if f"python -m bench.{name}" not in doc]
    assert missing == [], f"docs/performance.md does not say how to run: {missing}"
