"""The content-identity table (``bot.intake.content.RULES``): every row has its examples
here, each the way people paste it, and each row is checked to decide its own examples."""

from __future__ import annotations

import pytest

from bot.intake.content import RULES, normalize, rule_for

#: rule name → (what people paste, the canonical key), one or more per row of RULES.
EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "x: a post": [
        ("https://twitter.com/Jack/status/20?s=20&t=Ab-3xYz", "https://x.com/i/status/20"),
        ("https://mobile.twitter.com/jack/status/20", "https://x.com/i/status/20"),
        ("https://x.com/JACK/status/20/photo/1", "https://x.com/i/status/20"),
        ("https://www.x.com/i/web/status/20", "https://x.com/i/status/20"),
        ("https://fxtwitter.com/jack/status/20", "https://x.com/i/status/20"),
    ],
    "x: an account": [
        ("https://twitter.com/Jack?s=21", "https://x.com/jack"),
        ("https://mobile.x.com/jack/", "https://x.com/jack"),
    ],
    "x: anything else": [
        ("https://x.com/search?q=slur&s=20&t=abc", "https://x.com/search?q=slur"),
    ],
    "instagram: a post or reel": [
        (
            "https://www.instagram.com/reel/C1aBcD_9x-z/?igsh=MWQ1ZGU",
            "https://instagram.com/p/C1aBcD_9x-z",
        ),
        ("https://instagram.com/p/C1aBcD_9x-z/?img_index=2", "https://instagram.com/p/C1aBcD_9x-z"),
        (
            "https://www.instagram.com/someone/reel/C1aBcD_9x-z/",
            "https://instagram.com/p/C1aBcD_9x-z",
        ),
        ("https://instagr.am/p/C1aBcD_9x-z", "https://instagram.com/p/C1aBcD_9x-z"),
    ],
    "instagram: an account": [
        ("https://www.instagram.com/Some.One/?igsh=abc", "https://instagram.com/some.one"),
    ],
    "instagram: anything else": [
        (
            "https://www.instagram.com/stories/some.one/3141?igsh=xyz",
            "https://instagram.com/stories/some.one/3141",
        ),
    ],
    "tiktok: a video": [
        (
            "https://www.tiktok.com/@Some.User/video/7301234567890123456?is_from_webapp=1&sender_device=pc",
            "https://tiktok.com/@some.user/video/7301234567890123456",
        ),
        (
            "https://m.tiktok.com/@some.user/video/7301234567890123456?_r=1&_t=8h",
            "https://tiktok.com/@some.user/video/7301234567890123456",
        ),
    ],
    "tiktok: anything else (vm./vt. short links stay)": [
        ("https://vm.tiktok.com/ZMjAbCdEf/", "https://vm.tiktok.com/ZMjAbCdEf"),
        ("https://vt.tiktok.com/ZSabc123/?_r=1", "https://vt.tiktok.com/ZSabc123"),
        (
            "https://www.tiktok.com/@some.user?is_from_webapp=1&sender_device=pc",
            "https://tiktok.com/@some.user",
        ),
    ],
    "facebook: a post": [
        (
            "https://www.facebook.com/SomePage/posts/pfbid02AbC?mibextid=Nif5oz",
            "https://facebook.com/somepage/posts/pfbid02AbC",
        ),
        (
            "https://m.facebook.com/somepage/posts/pfbid02AbC/",
            "https://facebook.com/somepage/posts/pfbid02AbC",
        ),
    ],
    "facebook: a permalink": [
        (
            "https://m.facebook.com/story.php?story_fbid=111&id=222&mibextid=abc",
            "https://facebook.com/permalink.php?id=222&story_fbid=111",
        ),
        (
            "https://www.facebook.com/permalink.php?id=222&story_fbid=111",
            "https://facebook.com/permalink.php?id=222&story_fbid=111",
        ),
    ],
    "facebook: a video": [
        (
            "https://www.facebook.com/watch/?v=123456&mibextid=abc",
            "https://facebook.com/watch?v=123456",
        ),
    ],
    "facebook: a page's video": [
        (
            "https://m.facebook.com/SomePage/videos/a-title/123456/",
            "https://facebook.com/watch?v=123456",
        ),
    ],
    "facebook: a reel": [
        (
            "https://www.facebook.com/reel/987654?mibextid=abc&rdid=x",
            "https://facebook.com/reel/987654",
        ),
    ],
    "facebook: a photo": [
        (
            "https://m.facebook.com/photo.php?fbid=555&set=a.1&mibextid=x",
            "https://facebook.com/photo?fbid=555",
        ),
    ],
    "facebook: anything else": [
        (
            "https://www.facebook.com/share/p/1AbCdEf/?mibextid=WC7FNe",
            "https://facebook.com/share/p/1AbCdEf",
        ),
    ],
    "youtube: a video": [
        (
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
            "https://youtube.com/watch?v=dQw4w9WgXcQ",
        ),
        (
            "https://m.youtube.com/watch?v=dQw4w9WgXcQ&feature=youtu.be",
            "https://youtube.com/watch?v=dQw4w9WgXcQ",
        ),
        (
            "https://music.youtube.com/watch?v=dQw4w9WgXcQ&si=abc",
            "https://youtube.com/watch?v=dQw4w9WgXcQ",
        ),
        (
            "https://youtube.com/shorts/dQw4w9WgXcQ?feature=share",
            "https://youtube.com/watch?v=dQw4w9WgXcQ",
        ),
        ("https://www.youtube.com/live/dQw4w9WgXcQ", "https://youtube.com/watch?v=dQw4w9WgXcQ"),
        (
            "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
            "https://youtube.com/watch?v=dQw4w9WgXcQ",
        ),
    ],
    "youtube: a short link": [
        ("https://youtu.be/dQw4w9WgXcQ?t=42", "https://youtube.com/watch?v=dQw4w9WgXcQ"),
        ("https://youtu.be/dQw4w9WgXcQ?si=Zx-1", "https://youtube.com/watch?v=dQw4w9WgXcQ"),
    ],
    "youtube: anything else": [
        ("https://www.youtube.com/@SomeChannel?si=abc", "https://youtube.com/@SomeChannel"),
        (
            "https://www.youtube.com/playlist?list=PL123&si=x",
            "https://youtube.com/playlist?list=PL123",
        ),
    ],
    "reddit: a comment": [
        (
            "https://old.reddit.com/r/Pics/comments/abc123/some_title/def456/?context=3",
            "https://reddit.com/comments/abc123/comment/def456",
        ),
        (
            "https://www.reddit.com/r/pics/comments/abc123/comment/def456/",
            "https://reddit.com/comments/abc123/comment/def456",
        ),
    ],
    "reddit: a post": [
        (
            "https://old.reddit.com/r/pics/comments/abc123/some_title/",
            "https://reddit.com/comments/abc123",
        ),
        ("https://np.reddit.com/r/Pics/comments/abc123/", "https://reddit.com/comments/abc123"),
        (
            "https://www.reddit.com/r/pics/comments/abc123/other_slug/?share_id=x&utm_source=y",
            "https://reddit.com/comments/abc123",
        ),
    ],
    "reddit: a short link": [
        ("https://redd.it/abc123", "https://reddit.com/comments/abc123"),
    ],
    "reddit: anything else": [
        (
            "https://www.reddit.com/r/pics/s/AbCdEf123?share_id=x",
            "https://reddit.com/r/pics/s/AbCdEf123",
        ),
    ],
    "pinterest: a pin": [
        (
            "https://www.pinterest.com/pin/123456789012345678/",
            "https://pinterest.com/pin/123456789012345678",
        ),
        (
            "https://pinterest.co.uk/pin/a-title--123456789012345678/sent/?invite_code=x",
            "https://pinterest.com/pin/123456789012345678",
        ),
    ],
    "pinterest: a short link showing its pin id": [
        ("https://pin.it/123456789012345678", "https://pinterest.com/pin/123456789012345678"),
    ],
}


def test_every_row_of_the_table_has_examples() -> None:
    assert [r.name for r in RULES] == list(EXAMPLES), "keep EXAMPLES in the table's order"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_row(rule) -> None:  # type: ignore[no-untyped-def]
    for pasted, key in EXAMPLES[rule.name]:
        assert rule_for(pasted) is rule, pasted
        assert normalize(pasted) == ("url", key), pasted
        assert normalize(key) == ("url", key), f"{key} is not a fixed point"


@pytest.mark.parametrize(
    "link",
    [
        "https://pin.it/1aBcDeF",  # a short code: only Pinterest knows the pin
        "https://vm.tiktok.com/ZMjAbCdEf",
        "https://example.com/watch?v=dQw4w9WgXcQ",  # not YouTube
        "https://notx.com/jack/status/20",
    ],
)
def test_links_that_only_their_platform_can_resolve_stay_as_typed(link: str) -> None:
    assert normalize(link) == ("url", link)


def test_different_content_keeps_different_keys() -> None:
    assert normalize("https://youtu.be/dQw4w9WgXcQ") != normalize("https://youtu.be/dQw4w9WgXcR")
    assert normalize("https://x.com/a/status/1") != normalize("https://x.com/a/status/2")
    # an Instagram code is case-sensitive; a reel's code is its post's code
    assert normalize("https://instagram.com/p/AbC12") != normalize("https://instagram.com/p/abc12")
