"""``ConfigError`` and the translation of pydantic's errors into ``key.path: reason``.

A deployer fixing ``app.yaml`` needs every problem at once, each pointing at the
key to change in words about the file (``unknown key``, ``required key is
missing``), not at Python types.
"""

from __future__ import annotations

import os
import re
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, NamedTuple, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from bot.config.fields import did_you_mean

Loc = tuple[str | int, ...]
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


class Problem(NamedTuple):
    """One thing wrong with the file: where (a key path), why, and the line if known."""

    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class ConfigError(Exception):
    """The configuration can't be used; ``errors`` holds every problem as ``key.path: reason``."""

    def __init__(
        self, source: str | os.PathLike[str] | None, problems: Sequence[Problem | str]
    ) -> None:
        self.source = Path(source) if source is not None else None
        self.problems = [p if isinstance(p, Problem) else Problem("", p) for p in problems]
        self.errors: list[str] = [str(p) for p in self.problems]
        super().__init__(self.errors)

    def __str__(self) -> str:
        count = len(self.problems)
        where = f" in {self.source}" if self.source else ""
        lines = [f"invalid configuration{where}: {count} problem{'' if count == 1 else 's'}"]
        for p in self.problems:
            lines.append(f"  line {p.line}: {p}" if p.line else f"  {p}")
        return "\n".join(lines)


def format_loc(loc: Sequence[Any]) -> str:
    """``('pods', 'x', 'members', 2, 'id')`` -> ``pods.x.members[2].id``."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{str(part)!r}]"
    return out


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            tp = next(a for a in get_args(tp) if a is not type(None))
        else:
            return tp


def known_keys(root: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the model at ``loc`` accepts, found by walking the type annotations."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return []
            tp = field.annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) in (list, tuple):
            tp = get_args(tp)[0]
        else:
            return []
    tp = _unwrap(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


_KIND = {
    "model_type": "must be a mapping (key: value lines)",
    "model_attributes_type": "must be a mapping (key: value lines)",
    "dict_type": "must be a mapping (key: value lines)",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "string_type": "must be a string",
}


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def describe(err: ErrorDetails, root: type[BaseModel]) -> tuple[Loc, str]:
    """The key path (as a loc tuple) and a plain-words reason for one pydantic error."""
    loc: Loc = tuple(err["loc"])
    is_key = bool(loc) and loc[-1] == "[key]"
    if is_key:
        loc = loc[:-1]
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        reason = "required key is missing"
    elif kind == "extra_forbidden":
        keys = known_keys(root, loc[:-1])
        hint = did_you_mean(str(loc[-1]), keys)
        if not hint and keys:
            hint = f" (expected one of: {', '.join(keys)})"
        reason = "unknown key" + hint
    elif kind in ("value_error", "assertion_error") and "error" in ctx:
        reason = str(ctx["error"])
    elif kind == "literal_error":
        reason = f"must be one of {ctx.get('expected')} (got {_shown(value)})"
    elif kind in _KIND:
        reason = f"{_KIND[kind]} (got {_shown(value)})"
    else:
        reason = re.sub(r"^(Input|Value|Dictionary|List|Tuple|String) should", "must", err["msg"])
        reason = reason.replace(" after validation", "")
        if not isinstance(value, dict | list | tuple):
            reason += f" (got {value!r})"
    return loc, (f"invalid key: {reason}" if is_key else reason)
