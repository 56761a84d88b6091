"""Content references: the same post pasted differently normalizes to one key; the modal's
"one per line" field accepts http(s) links and configured ids, and refuses the rest."""

from __future__ import annotations

import re

import pytest

from bot.intake.content import MAX_ITEMS, MAX_LENGTH, id_examples, normalize, parse

PATTERNS = {
    "post": re.compile(r"^post:[0-9]+$"),
    "account": re.compile(r"^acct:[0-9]+$"),
    "video": re.compile(r"^video:[A-Za-z0-9_-]{11}$"),
}


@pytest.mark.parametrize(
    "variant",
    [
        "https://example.com/p/1",
        "HTTPS://EXAMPLE.COM/p/1",
        "http://example.com/p/1",
        "https://www.example.com/p/1/",
        "https://m.example.com/p/1",
        "https://example.com:443/p/1",
        "https://example.com/p/1#comments",
        "https://example.com/p/1?utm_source=share&utm_medium=ios",
        "https://example.com/p/1?fbclid=abc&igshid=x&si=y",
        "https://example.com/p/./x/../1",
        "https://example.com//p//1",
        "https://user:pw@example.com/p/1",
        "  https://example.com/p/1  ",
        "<https://example.com/p/1>",
        "<https://example.com/p/1|example.com/p/1>",
        "ｈｔｔｐｓ://ｅｘａｍｐｌｅ.ｃｏｍ/p/1",  # fullwidth, as some phones paste it
        "https://example.com/p/%31",
        "https://example.com.:443/p/1",
    ],
)
def test_url_variants_normalize_to_one_key(variant: str) -> None:
    assert normalize(variant) == ("url", "https://example.com/p/1")


def test_query_parameters_that_matter_are_kept_and_sorted() -> None:
    assert normalize("https://example.org/watch?v=abc&t=10&utm_campaign=z") == (
        "url",
        "https://example.org/watch?t=10&v=abc",
    )
    one, other = "https://example.org/watch?v=abc", "https://example.org/watch?v=abd"
    assert normalize(one)[1] != normalize(other)[1]


def test_hosts_compare_in_their_idna_form_and_ports_that_matter_stay() -> None:
    assert normalize("https://bücher.de/x") == normalize("https://xn--bcher-kva.de/x")
    assert normalize("http://example.com:8080/a")[1] == "https://example.com:8080/a"
    assert normalize("https://m.co/a")[1] == "https://m.co/a"  # a short domain, not a mobile prefix


def test_percent_escapes_are_canonical_but_reserved_ones_stay_escaped() -> None:
    assert normalize("https://example.org/a%2fb")[1] == "https://example.org/a%2Fb"
    assert normalize("https://example.org/%7Euser")[1] == "https://example.org/~user"


def test_ids_keep_their_case_after_the_prefix() -> None:
    assert normalize(" POST:123 ") == ("id", "post:123")
    assert normalize("video:AbCdEfGhIjK") == ("id", "video:AbCdEfGhIjK")
    assert normalize("video:AbCdEfGhIjK") != normalize("video:abcdefghijk")


def test_parse_accepts_links_and_configured_ids_and_drops_repeats() -> None:
    parsed = parse(
        "https://example.com/p/1\n\n  POST:42\nhttps://www.example.com/p/1?utm_source=x\nacct:7",
        PATTERNS,
    )
    assert parsed.problems == []
    assert [(r.raw, r.kind, r.normalized) for r in parsed.refs] == [
        ("https://example.com/p/1", "url", "https://example.com/p/1"),
        ("POST:42", "id", "post:42"),
        ("acct:7", "id", "acct:7"),
    ]


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("javascript:alert(document.cookie)", "javascript: link; only http(s) links"),
        ("JavaScript:alert(1)", "javascript: link"),
        ("data:text/html;base64,PHNjcmlwdD4=", "data: link"),
        ("vbscript:msgbox", "vbscript: link"),
        ("file:///etc/passwd", "file: link"),
        ("ftp://example.com/x", "ftp: link"),
        ("post:abc", "neither an http(s) link nor a known content id"),
        ("acct 12", "neither"),
        ("https://", "not a valid link"),
        ("https://no-dot/x", "not a valid link"),
        ("https://example.com/a b", "not a valid link"),
        ("https://exa<mple.com/", "not a valid link"),
        ("https://example.com:99999/", "not a valid link"),
        ("https://example.com/" + "a" * MAX_LENGTH, f"longer than {MAX_LENGTH}"),
    ],
)
def test_parse_names_each_bad_line(line: str, says: str) -> None:
    parsed = parse(f"https://ok.example.com/1\n{line}", PATTERNS)
    assert [r.raw for r in parsed.refs] == ["https://ok.example.com/1"]
    [problem] = parsed.problems
    assert problem.startswith("line 2: ") and says in problem


def test_parse_refuses_more_items_than_a_ticket_takes() -> None:
    text = "\n".join(f"post:{n}" for n in range(MAX_ITEMS + 1))
    assert parse(text, PATTERNS).problems == [
        f"{MAX_ITEMS + 1} items; at most {MAX_ITEMS} per escalation "
        "(link a list of the rest in the details)"
    ]


def test_parse_takes_a_lower_cap_per_submission() -> None:
    text = "\n".join(f"post:{n}" for n in range(21))
    assert parse(text, PATTERNS, 20).problems == [
        "21 items; at most 20 per escalation (link a list of the rest in the details)"
    ]
    assert parse("\n".join(f"post:{n}" for n in range(20)), PATTERNS, 20).problems == []


def test_id_examples_read_the_literal_prefix_of_each_pattern() -> None:
    assert id_examples(PATTERNS) == ["post:…", "acct:…", "video:…"]
    assert id_examples({"odd": re.compile(r"[0-9]+")}) == ["odd"]


def test_the_limits_are_500_characters_and_200_items_both_included() -> None:
    longest = "https://example.com/" + "a" * 480
    assert parse(longest, PATTERNS).problems == []
    [problem] = parse(longest + "a", PATTERNS).problems
    assert "is longer than 500 characters" in problem
    assert parse("\n".join(f"post:{n}" for n in range(200)), PATTERNS).problems == []
    [problem] = parse("\n".join(f"post:{n}" for n in range(201)), PATTERNS).problems
    assert problem.startswith("201 items; at most 200 per escalation")


def test_a_problem_quotes_a_long_line_cut_to_57_characters() -> None:
    assert parse("oops", PATTERNS).problems == [
        "line 1: “oops” is neither an http(s) link nor a known content id"
    ]
    assert parse("x" * 60, PATTERNS).problems == [
        f"line 1: “{'x' * 60}” is neither an http(s) link nor a known content id"
    ]
    assert parse("y" * 61, PATTERNS).problems == [
        f"line 1: “{'y' * 57}…” is neither an http(s) link nor a known content id"
    ]


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("http://example.com:80/a", ("url", "https://example.com/a")),  # http's default port
        ("https://example.com:80/a", ("url", "https://example.com:80/a")),  # not https's
        ("http:post", ("id", "http:post")),  # no host: nothing to canonicalise
        ("ftp://example.com/a", ("id", "ftp://example.com/a")),  # not http(s)
        ("https://Example.com:abc/x", ("id", "https://Example.com:abc/x")),  # a port not a number
        ("https://example.com/p?b=1&a=", ("url", "https://example.com/p?a=&b=1")),  # blank kept
        # a canonical form missing a parameter (story_fbid): the next row, which drops noise
        (
            "https://facebook.com/permalink.php?id=1&mibextid=abc",
            ("url", "https://facebook.com/permalink.php?id=1"),
        ),
    ],
)
def test_normalize_at_the_edges(raw: str, key: tuple[str, str]) -> None:
    assert normalize(raw) == key
