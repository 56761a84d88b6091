"""Content references (URLs and ids) in a canonical form, so duplicates match.

Two partners pasting the same post rarely paste the same string: one copies it
from a phone (``m.``, tracking parameters), one from a share button (``?utm_…``,
``#comments``), one types the id. ``normalize`` maps those to one key, and
``parse`` reads the modal's "one per line" field, refusing what is not an
http(s) link or an id of a configured pattern (``javascript:``, ``data:``…).

The platforms people escalate from get their own canonical forms, kept as data in
:data:`RULES` (one row per rule, each with a test): x.com and twitter.com, a YouTube
video however it is linked, an Instagram reel or post, and so on. Short links that only
the platform can resolve (``vm.tiktok.com``, ``pin.it`` without a pin id) stay as typed.
A change to the table that changes stored keys bumps :data:`CANON_VERSION`, and
``bot.intake.recanonical`` rewrites the stored keys once.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.config.fields import normalize_content_id

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
_VALUE = re.compile(r"^[\w.-]{1,100}$")  # a query value fit for a canonical link


@dataclass(frozen=True)
class Rule:
    """One row of the content-identity table.

    A link whose host (after ``www.``/``m.``/``mobile.``) is in ``hosts`` and whose path
    (no trailing slash) matches ``path`` becomes ``canonical``, filled from the path's
    named groups and the query's parameters (``lower``: names compared without case).
    With ``canonical`` None the link keeps its form and loses the ``noise`` parameters.
    """

    name: str
    hosts: frozenset[str]
    path: re.Pattern[str]
    canonical: str | None
    noise: frozenset[str] = frozenset()
    lower: frozenset[str] = frozenset()


def _rule(
    name: str,
    hosts: str,
    path: str,
    canonical: str | None,
    *,
    noise: str = "",
    lower: str = "",
) -> Rule:
    return Rule(
        name,
        frozenset(hosts.split()),
        re.compile(path, re.IGNORECASE),
        canonical,
        frozenset(noise.split()),
        frozenset(lower.split()),
    )


_X = "x.com twitter.com fxtwitter.com vxtwitter.com fixupx.com fixvx.com"
_YT = "youtube.com music.youtube.com youtube-nocookie.com"
_FB = "facebook.com web.facebook.com mbasic.facebook.com fb.com"
_REDDIT = "reddit.com old.reddit.com new.reddit.com np.reddit.com"
_PINTEREST = "pinterest.com pinterest.co.uk pinterest.de pinterest.fr pinterest.es pinterest.ca"
_X_PAGES = "(?:search|explore|home|hashtag|i|intent|share|settings|messages|notifications)"
_IG_PAGES = "(?:explore|stories|accounts|direct|reels)"
_YT_ID = r"(?P<v>[\w-]{6,20})"

#: The content-identity table: the first row whose host and path match decides.
RULES: tuple[Rule, ...] = (
    _rule("x: a post", _X, r"/(?:\w{1,15}|i(?:/web)?)/status(?:es)?/(?P<id>\d+)(?:/.*)?",
          "https://x.com/i/status/{id}"),
    _rule("x: an account", _X, rf"/(?!{_X_PAGES}$)(?P<user>\w{{1,15}})", "https://x.com/{user}",
          lower="user"),
    _rule("x: anything else", _X, r".*", None, noise="s t ref_src ref_url"),
    _rule("instagram: a post or reel", "instagram.com instagr.am",
          r"(?:/[\w.]{1,30})?/(?:p|reels?|tv)/(?P<code>[\w-]{5,40})(?:/.*)?",
          "https://instagram.com/p/{code}"),
    _rule("instagram: an account", "instagram.com", rf"/(?!{_IG_PAGES}$)(?P<user>[\w.]{{1,30}})",
          "https://instagram.com/{user}", lower="user"),
    _rule("instagram: anything else", "instagram.com instagr.am", r".*", None,
          noise="igsh igshid img_index"),
    _rule("tiktok: a video", "tiktok.com", r"/@(?P<user>[\w.-]{1,40})/video/(?P<id>\d+)(?:/.*)?",
          "https://tiktok.com/@{user}/video/{id}", lower="user"),
    _rule("tiktok: anything else (vm./vt. short links stay)",
          "tiktok.com vm.tiktok.com vt.tiktok.com", r".*", None,
          noise="is_from_webapp sender_device _r _t web_id share_app_id share_link_id "
          "sec_user_id lang"),
    _rule("facebook: a post", _FB, r"/(?P<page>[\w.-]{1,80})/posts/(?P<id>[\w]+)",
          "https://facebook.com/{page}/posts/{id}", lower="page"),
    _rule("facebook: a permalink", _FB, r"/(?:permalink|story)\.php",
          "https://facebook.com/permalink.php?id={id}&story_fbid={story_fbid}"),
    _rule("facebook: a video", _FB, r"/watch", "https://facebook.com/watch?v={v}"),
    _rule("facebook: a page's video", _FB, r"/[\w.-]{1,80}/videos/(?:[\w.-]+/)?(?P<v>\d+)",
          "https://facebook.com/watch?v={v}"),
    _rule("facebook: a reel", _FB, r"/reel/(?P<id>\d+)", "https://facebook.com/reel/{id}"),
    _rule("facebook: a photo", _FB, r"/photo(?:\.php)?", "https://facebook.com/photo?fbid={fbid}"),
    _rule("facebook: anything else", _FB, r".*", None,
          noise="mibextid rdid sfnsn share_url __cft__ __tn__ ref"),
    _rule("youtube: a video", _YT, rf"/(?:watch|(?:shorts|live|embed|v)/{_YT_ID})",
          "https://youtube.com/watch?v={v}"),
    _rule("youtube: a short link", "youtu.be", rf"/{_YT_ID}", "https://youtube.com/watch?v={v}"),
    _rule("youtube: anything else", _YT, r".*", None, noise="si feature pp t ab_channel"),
    _rule("reddit: a comment", _REDDIT,
          r"(?:/r/\w+)?/comments/(?P<id>[a-z0-9]+)(?:/[^/]*)?/(?:comment/)?(?P<cid>[a-z0-9]+)",
          "https://reddit.com/comments/{id}/comment/{cid}", lower="id cid"),
    _rule("reddit: a post", _REDDIT, r"(?:/r/\w+)?/comments/(?P<id>[a-z0-9]+)(?:/[^/]*)?",
          "https://reddit.com/comments/{id}", lower="id"),
    _rule("reddit: a short link", "redd.it", r"/(?P<id>[a-z0-9]+)",
          "https://reddit.com/comments/{id}", lower="id"),
    _rule("reddit: anything else", _REDDIT, r".*", None, noise="share_id ref ref_source context"),
    _rule("pinterest: a pin", _PINTEREST, r"/pin/(?:[\w-]*--)?(?P<id>\d+)(?:/.*)?",
          "https://pinterest.com/pin/{id}"),
    _rule("pinterest: a short link showing its pin id", "pin.it", r"/(?P<id>\d{6,})",
          "https://pinterest.com/pin/{id}"),
)  # fmt: skip

#: Bumped whenever :data:`RULES` changes what a stored link normalizes to.
CANON_VERSION = 2


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
        return "id", normalize_content_id(text)
    host = _host(parts.hostname or "")
    try:
        port = parts.port
    except ValueError:  # "host:abc" is not a URL we can canonicalise
        return "id", normalize_content_id(text)
    if port and (parts.scheme.lower(), port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(TRACKING_PREFIXES) and k.lower() not in TRACKING_PARAMS
    )
    path = _path(parts.path)
    rule, canonical = _apply(host, path, query)
    if canonical is not None:
        return "url", canonical
    if rule is not None:
        query = [(k, v) for k, v in query if k.lower() not in rule.noise]
    return "url", urlunsplit(("https", host, path, urlencode(query), ""))


def rule_for(raw: str) -> Rule | None:
    """The row of :data:`RULES` that decides ``raw``'s canonical form (tests name it)."""
    parts = urlsplit(_unwrap(unicodedata.normalize("NFKC", raw).strip()))
    if not parts.netloc:
        return None
    query = parse_qsl(parts.query, keep_blank_values=True)
    return _apply(_host(parts.hostname or ""), _path(parts.path), query)[0]


def _apply(host: str, path: str, query: list[tuple[str, str]]) -> tuple[Rule | None, str | None]:
    """The first matching row and the canonical link it makes (None: keep the link)."""
    params = {k.lower(): v for k, v in query if _VALUE.match(v)}
    for rule in RULES:
        if host not in rule.hosts or not (match := rule.path.fullmatch(path)):
            continue
        if rule.canonical is None:
            return rule, None
        values = params | {k: v for k, v in match.groupdict().items() if v}
        values = {k: v.lower() if k in rule.lower else v for k, v in values.items()}
        try:
            return rule, rule.canonical.format_map(values)
        except KeyError:  # a parameter the form needs is missing: try the next row
            continue
    return None, None


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
    ident = normalize_content_id(text)
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
