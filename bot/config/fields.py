"""Annotated field types for ``app.yaml``: each validator explains its refusal in the
deployer's terms (what was wrong, what a good value looks like), since those
messages are all they see when the bot refuses to start.
"""

from __future__ import annotations

import difflib
import re
from datetime import time, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, available_timezones

import holidays as public_holidays
from apscheduler.triggers.cron import CronTrigger
from pydantic import AfterValidator, BeforeValidator, PlainSerializer, PlainValidator

from bot.config.durations import SlaTarget, format_duration, parse_duration, parse_target

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = get_args(Weekday)
SEVERITIES: tuple[str, ...] = ("sev0", "sev1", "sev2", "sev3")


def did_you_mean(value: str, choices: Any) -> str:
    """`` (did you mean 'x'?)`` when a choice is close to ``value``, else ``""``."""
    close = difflib.get_close_matches(value, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _matcher(pattern: str, what: str, example: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"not {what}: {value!r} (expected e.g. {example})")
        return value

    return AfterValidator(check)


def _str(value: Any) -> Any:
    """Strip strings, so a stray space pasted with an id doesn't fail the match."""
    return value.strip() if isinstance(value, str) else value


Strip = BeforeValidator(_str)

UserId = Annotated[str, Strip, _matcher(r"[UW][A-Z0-9]{2,}", "a Slack user id", "U04ABC123DE")]
ChannelId = Annotated[
    str,
    Strip,
    _matcher(
        r"[CG][A-Z0-9]{2,}",
        "a Slack channel id",
        "C05ABC123DE; copy it from the channel details, not the #name",
    ),
]
TeamId = Annotated[str, Strip, _matcher(r"T[A-Z0-9]{2,}", "a Slack team id", "T01ABC234")]
Slug = Annotated[
    str, _matcher(r"[a-z][a-z0-9_]*", "a lowercase name (letters, digits, _)", "graphic_violence")
]
EnvName = Annotated[
    str, Strip, _matcher(r"[A-Z_][A-Z0-9_]*", "an environment variable name", "NORTHWIND_QA_TOKEN")
]
DigestName = Annotated[
    str, _matcher(r"[a-z0-9_-]+", "a lowercase name (letters, digits, _ and -)", "daily")
]
LanguageCode = Annotated[
    str, Strip, _matcher(r"[a-z]{2}", "an ISO 639-1 language code", "en, es, pt")
]


def _country(code: str) -> str:
    known = public_holidays.list_supported_countries()
    if code not in known:
        raise ValueError(
            f"not a country the holidays package knows: {code!r}{did_you_mean(code, known)}"
            " (an ISO 3166-1 alpha-2 code, e.g. IE, GB, US)"
        )
    return code


CountryCode = Annotated[str, Strip, AfterValidator(str.upper), AfterValidator(_country)]
#: Names of common ISO 639-1 codes, for languages a member speaks that ``intake.languages``
#: doesn't list (that list, the modal's, names the rest).
LANGUAGE_NAMES = {
    "ar": "Arabic", "bn": "Bengali", "cs": "Czech", "da": "Danish", "de": "German",
    "el": "Greek", "en": "English", "es": "Spanish", "fa": "Persian", "fi": "Finnish",
    "fr": "French", "ga": "Irish", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian",
    "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ko": "Korean", "ms": "Malay",
    "nl": "Dutch", "no": "Norwegian", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian",
    "ru": "Russian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "th": "Thai",
    "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese",
    "zh": "Chinese",
}  # fmt: skip
RegionCode = Annotated[str, _matcher(r"[A-Za-z0-9_-]+", "a region code", "emea, latam")]


def _not_empty(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


Text = Annotated[str, Strip, AfterValidator(_not_empty)]


def _severity(value: Any) -> Any:
    if value not in SEVERITIES:
        names = ", ".join(map(repr, SEVERITIES[:-1])) + f" or {SEVERITIES[-1]!r}"
        raise ValueError(f"must be one of {names} (got {value!r})")
    return value


# Plain str to the type checker, as tickets store the name as text and index the config with it;
# only the four names pass validation.
SevName = Annotated[str, BeforeValidator(_severity)]


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str) -> str:
    """An IANA name that exists on every platform (not just case-insensitive macOS)."""
    try:
        ZoneInfo(name)
        valid = not _zones() or name in _zones()
    except (ValueError, KeyError, OSError):
        valid = False
    if not valid:
        raise ValueError(f"unknown time zone {name!r}{did_you_mean(name, _zones())}")
    return name


TimeZoneName = Annotated[str, Strip, AfterValidator(check_timezone)]

_HHMM = re.compile(r"(\d{1,2}):(\d{2})")


def parse_time(value: Any) -> time:
    """``"09:00"`` -> ``time(9, 0)``; 24-hour clock, minutes only."""
    if isinstance(value, time):
        return value
    match = _HHMM.fullmatch(value.strip()) if isinstance(value, str) else None
    if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
        return time(int(match.group(1)), int(match.group(2)))
    raise ValueError(f"invalid time {value!r} (use 24-hour HH:MM, e.g. 09:00)")


TimeOfDay = Annotated[
    time,
    BeforeValidator(parse_time),
    PlainSerializer(lambda t: t.strftime("%H:%M"), when_used="json"),
]
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, when_used="json"),
]

SlaDuration = Annotated[
    SlaTarget,
    PlainValidator(parse_target),
    PlainSerializer(format_duration, when_used="json"),
]
"""An SLA target: a :data:`Duration` whose days are working days on a business-hours clock."""

_DIGITS = re.compile(r"\d")


def check_cron(expr: str) -> str:
    """A 5-field crontab line that APScheduler accepts.

    Numeric days of week are refused: APScheduler 3 counts 0 as Monday where cron
    counts 0 as Sunday, so ``1-5`` would silently mean Tuesday to Saturday.
    """
    fields = expr.split()
    try:
        CronTrigger.from_crontab(expr, timezone="UTC")
    except ValueError as err:
        raise ValueError(f"invalid cron expression {expr!r}: {err}") from None
    if _DIGITS.search(fields[4]):
        raise ValueError(
            f"invalid cron expression {expr!r}: write days of week as names "
            "(mon-fri, sun), not numbers, which cron and APScheduler read differently"
        )
    return " ".join(fields)


CronExpr = Annotated[str, AfterValidator(check_cron)]


def compile_regex(value: Any) -> re.Pattern[str]:
    """A compiled pattern; a broken one is reported with the regex engine's reason."""
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be a regular expression string (got {value!r})")
    try:
        return re.compile(value)
    except re.error as err:
        raise ValueError(f"invalid regular expression {value!r}: {err}") from None


Regex = Annotated[
    re.Pattern[str],
    BeforeValidator(compile_regex),
    PlainSerializer(lambda p: p.pattern, when_used="json"),
]

#: Where a content id goes in a ``review_links`` URL pattern.
ID_PLACEHOLDER = "{id}"


def check_review_link(value: Any) -> str:
    """A review tool's URL pattern: https, a host, ``{id}`` exactly once and no other braces,
    nothing that would break a Slack link (``|``, ``<``, ``>``, spaces)."""
    if not isinstance(value, str):
        raise ValueError(f"must be a URL with {ID_PLACEHOLDER} in it (got {value!r})")
    example = f"e.g. https://review.example.com/posts/{ID_PLACEHOLDER}"
    try:
        parts = urlsplit(value)
        scheme, host = parts.scheme, parts.hostname
    except ValueError:  # e.g. a broken IPv6 host: "https://[::1/posts/{id}"
        scheme, host = "", None
    if scheme != "https" or not host:
        raise ValueError(f"must be an https:// URL with a host (got {value!r}; {example})")
    if value.count(ID_PLACEHOLDER) != 1:
        raise ValueError(
            f"must contain {ID_PLACEHOLDER} exactly once, where the content id goes "
            f"(got {value!r}; {example})"
        )
    if any(c in value.replace(ID_PLACEHOLDER, "") for c in "{}"):
        raise ValueError(f"{ID_PLACEHOLDER} is the only placeholder allowed (got {value!r})")
    if any(c.isspace() or c in '|<>"' for c in value):
        raise ValueError(f"must not contain spaces, |, <, > or quotes (got {value!r})")
    return value


ReviewLink = Annotated[str, Strip, AfterValidator(check_review_link)]


def normalize_content_id(text: str) -> str:
    """A content id as intake matches and stores it: trimmed, its ``prefix:`` lower-cased
    (the rest can be case-sensitive); no prefix: all lower-cased."""
    prefix, sep, rest = text.strip().partition(":")
    return f"{prefix.lower()}{sep}{rest}" if sep else text.strip().lower()


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def unique(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Refuse repeats: in a list of days, sections or steps a repeat is always a slip."""
    seen = [v for i, v in enumerate(values) if v in values[:i]]
    if seen:
        raise ValueError(f"{seen[0]!r} is listed twice")
    return values


Days = Annotated[tuple[Annotated[Weekday, BeforeValidator(_lower)], ...], AfterValidator(unique)]


def parse_handoff(value: Any) -> str:
    """``"mon 09:00"`` or ``"09:00"`` (daily rotations), normalised to that form."""
    if isinstance(value, str):
        parts = value.split()
        try:
            if len(parts) == 2 and parts[0].lower() in WEEKDAYS:
                return f"{parts[0].lower()} {parse_time(parts[1]):%H:%M}"
            if len(parts) == 1:
                return f"{parse_time(parts[0]):%H:%M}"
        except ValueError:
            pass
    raise ValueError(f"invalid handoff {value!r} (use a day and a time, e.g. 'mon 09:00')")


Handoff = Annotated[str, BeforeValidator(parse_handoff)]
