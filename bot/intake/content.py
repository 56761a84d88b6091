"""Content references (URLs and ids) in a canonical form, so duplicates match.

Two partners pasting the same post rarely paste the same string: one copies it
from a phone (``m.``, tracking parameters), one from a share button (``?utm_…``,
``#comments``), one types the id. ``normalize`` maps those to one key, and
``parse`` reads the modal's "one per line" field, refusing what is not an
http(s) link or an id of a configured pattern (``javascript:``, ``data:``…).
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PREFIXES = ("utm_",)
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "igshid", "mc_cid", "mc_eid", "ref_src", "si", "feature", "share_id"}
)
#: Host prefixes that name the same site: desktop, mobile.
HOST_PREFIXES = ("www.", "m.", "mobile.")
#: Longest reference accepted: longer is nearly always a paste mishap, and the
#: normalized form must stay indexable (PostgreSQL b-tree rows are ~2.7 kB).
MAX_LENGTH = 500
#: Most references one submission can take at all (``limits.content_items`` is lower);
#: a bigger list belongs in a linked document.
MAX_ITEMS = 200

UNSAFE_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "mailto", "ftp", "blob"})
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
_SLACK_LINK = re.compile(r"^<([^<>|]+)(\|[^<>]*)?>$")


@dataclass(frozen=True)
class Ref:
    """One content reference as typed (``raw``) and as matched (``normalized``)."""

    raw: str
    kind: str  # "url" | "id"
    normalized: str


@dataclass
class Parsed:
    refs: list[Ref] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def normalize(raw: str) -> tuple[str, str]:
    """``(kind, normalized)`` for one content reference: kind is "url" or "id".

    URLs: NFKC; scheme → https; host lower-cased, IDNA-encoded, without ``www.``/``m.``
    and default ports; credentials, fragments, tracking parameters, dot segments
    and trailing slashes dropped; percent-escapes canonical; parameters sorted.
    Ids: NFKC, trimmed, the ``prefix:`` lower-cased (the rest can be case-sensitive).
    """
    text = _unwrap(unicodedata.normalize("NFKC", raw).strip())
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "id", _normalize_id(text)
    host = _host(parts.hostname or "")
    try:
        port = parts.port
    except ValueError:  # "host:abc" is not a URL we can canonicalise
        return "id", _normalize_id(text)
    if port and (parts.scheme.lower(), port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(TRACKING_PREFIXES) and k.lower() not in TRACKING_PARAMS
    )
    return "url", urlunsplit(("https", host, _path(parts.path), urlencode(query), ""))


def parse(
    text: str | None, id_patterns: Mapping[str, re.Pattern[str]], limit: int = MAX_ITEMS
) -> Parsed:
    """Read "one reference per line"; repeats (after normalizing) are kept once, and
    more than ``limit`` of them is a problem."""
    out, seen = Parsed(), set()
    lines = [(n, line.strip()) for n, line in enumerate((text or "").splitlines(), 1)]
    for n, line in lines:
        if not line:
            continue
        ref, problem = _classify(line, id_patterns)
        if problem:
            out.problems.append(f"line {n}: {problem}")
        elif ref is not None and ref.normalized not in seen:
            seen.add(ref.normalized)
            out.refs.append(ref)
    if len(out.refs) > limit:
        out.problems.append(
            f"{len(out.refs)} items; at most {limit} per escalation "
            "(link a list of the rest in the details)"
        )
    return out


def id_examples(id_patterns: Mapping[str, re.Pattern[str]]) -> list[str]:
    """What a configured id looks like, for hints: ``^post:[0-9]+$`` → ``post:…``."""
    examples = []
    for name, pattern in id_patterns.items():
        literal = re.match(r"\^?([A-Za-z0-9_:/.#-]*)", pattern.pattern)
        prefix = literal.group(1) if literal else ""
        examples.append(f"{prefix}…" if prefix else name)
    return examples


def _classify(line: str, id_patterns: Mapping[str, re.Pattern[str]]) -> tuple[Ref | None, str]:
    shown = line if len(line) <= 60 else line[:57] + "…"
    if len(line) > MAX_LENGTH:
        return None, f"“{shown}” is longer than {MAX_LENGTH} characters"
    text = _unwrap(unicodedata.normalize("NFKC", line))
    ident = _normalize_id(text)
    if any(p.fullmatch(ident) for p in id_patterns.values()):
        return Ref(raw=text, kind="id", normalized=ident), ""
    scheme = _SCHEME.match(text)
    name = scheme.group(1).lower() if scheme else ""
    if name in ("http", "https"):
        if not _valid_url(text):
            return None, f"“{shown}” is not a valid link"
        kind, norm = normalize(text)
        return Ref(raw=text, kind=kind, normalized=norm), ""
    if name in UNSAFE_SCHEMES or (scheme and text[scheme.end() :].startswith("//")):
        return None, f"“{shown}” is a {name}: link; only http(s) links are accepted"
    return None, f"“{shown}” is neither an http(s) link nor a known content id"


def _valid_url(text: str) -> bool:
    if any(c.isspace() or c in '<>|"\\' for c in text):
        return False
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    return bool(parts.netloc) and bool(_HOST.match(_host(parts.hostname or "")))


def _unwrap(text: str) -> str:
    """``<https://x|label>`` (how Slack formats a pasted link) → ``https://x``."""
    match = _SLACK_LINK.match(text)
    return match.group(1) if match else text


def _normalize_id(text: str) -> str:
    prefix, sep, rest = text.strip().partition(":")
    return f"{prefix.lower()}{sep}{rest}" if sep else text.strip().lower()


def _host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    with contextlib.suppress(UnicodeError):  # not encodable: compare the Unicode form
        host = host.encode("idna").decode("ascii")
    for prefix in HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") > 1:
            return host.removeprefix(prefix)
    return host


def _path(path: str) -> str:
    path = _PERCENT.sub(_percent, path)
    if path:
        path = posixpath.normpath(path)
        path = "" if path in (".", "/") else path.replace("//", "/")
    return path.rstrip("/")


def _percent(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else f"%{match.group(1).upper()}"
