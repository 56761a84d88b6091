"""Docs kept true by tests: every app.yaml key is documented, the README commands exist."""

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
