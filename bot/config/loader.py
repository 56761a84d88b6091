"""Reading ``app.yaml``: file -> YAML -> :class:`AppConfig`, or one :class:`ConfigError`
listing every problem with its key path and line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.config.errors import ConfigError, Loc, Problem, format_loc
from bot.config.model import AppConfig

DEFAULT_PATH = "app.yaml"
_BOOL, _INT = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int"
_MERGE = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars, because YAML 1.1 rules bite this file:
    ``no`` (Norwegian) and ``on`` are not booleans, ``18:00`` is not the base-60
    integer 1080, ``0700`` is not octal. A malformed date stays a string, so it is
    reported with its key path instead of crashing the parser.
    """

    def construct_yaml_timestamp(self, node: ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(_INT, re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789"))
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _index(node: Node | None) -> tuple[dict[Loc, int], list[Problem]]:
    """Line of every key and list item by path, and the keys given twice in one mapping
    (PyYAML would silently keep the last)."""
    lines: dict[Loc, int] = {}
    duplicates: list[Problem] = []

    def walk(node: Node, path: Loc, active: frozenset[int]) -> None:
        if id(node) in active:  # a recursive alias
            return
        active = active | {id(node)}
        if isinstance(node, MappingNode):
            seen: dict[str, int] = {}
            for key_node, value in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
                    continue
                key, line = key_node.value, key_node.start_mark.line + 1
                if key in seen:
                    duplicates.append(
                        Problem(
                            format_loc((*path, key)),
                            f"duplicate key (first at line {seen[key]}); give it once",
                            line,
                        )
                    )
                seen.setdefault(key, line)
                lines.setdefault((*path, key), line)
                walk(value, (*path, key), active)
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                lines.setdefault((*path, i), item.start_mark.line + 1)
                walk(item, (*path, i), active)

    if node is not None:
        walk(node, (), frozenset())
    return lines, duplicates


def _line(loc: Loc, lines: dict[Loc, int]) -> int | None:
    """The line of ``loc`` or of its nearest ancestor present in the file (a missing key
    points at its parent)."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _parse(text: str, source: Path | None) -> tuple[Any, dict[Loc, int], list[Problem]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        context = f" ({err.context})" if err.context else ""
        raise ConfigError(source, [f"YAML syntax error{where}: {err.problem}{context}"]) from None
    except yaml.YAMLError as err:
        raise ConfigError(source, [f"YAML error: {err}"]) from None
    finally:
        loader.dispose()
    return (data, *_index(node))


def load_config_text(text: str, source: str | os.PathLike[str] | None = None) -> AppConfig:
    """Validate YAML ``text``; ``source`` only names it in messages and the summary."""
    path = Path(source) if source is not None else None
    data, lines, problems = _parse(text, path)
    if data is None:
        raise ConfigError(
            path,
            [
                "the file is empty: it needs workspace, policy_areas, "
                "severities and pods at least (see docs/configuration.md)"
            ],
        )
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"{type(data).__name__} {data!r}"
        raise ConfigError(
            path, [f"the file must be a mapping of sections (workspace:, pods:, ...), not {kind}"]
        )
    config: AppConfig | None = None
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as err:
        for e in err.errors(include_url=False):
            loc = tuple(e["loc"])
            problems.append(Problem(format_loc(loc), e["msg"], _line(loc, lines)))
    if problems or config is None:
        problems.sort(key=lambda p: (p.line is None, p.line or 0))
        raise ConfigError(path, problems)
    config._source = path
    return config


def load_config(path: str | os.PathLike[str] | None = None) -> AppConfig:
    """Load and validate the configuration: ``path``, else ``$ESCBOT_CONFIG``, else
    ``./app.yaml``. Raises :class:`ConfigError` listing every problem."""
    source = Path(path if path is not None else os.environ.get("ESCBOT_CONFIG") or DEFAULT_PATH)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            source, [f"file not found: {source} (pass its path, or set ESCBOT_CONFIG)"]
        ) from None
    except UnicodeDecodeError as err:
        raise ConfigError(source, [f"not UTF-8 text (bad byte at offset {err.start})"]) from None
    except OSError as err:
        raise ConfigError(source, [f"cannot read {source}: {err.strerror or err}"]) from None
    return load_config_text(text, source)
