"""The demo as a person sees it: screenshots in headless Chromium, and the README's pictures.

``escbot demo`` plays a morning and writes, beside its page, the messages the README
shows (``fragment-card.html``, ``fragment-dm.html``, ``fragment-digest.html``). This test

- checks that docs/img/*.png were made from the current templates: the hash of each
  fragment's HTML is recorded in ``docs/img/pictures.json`` when the pictures are made, so
  a template change without new pictures fails here (no browser needed);
- lays the fragments out in headless Chromium (Debian's ``chromium``) and checks that every
  card at rest shows at most 8 lines above its buttons;
- with ``ESCBOT_SCREENSHOTS=1``, writes the pictures and their hashes again.

Without Chromium the layout checks are skipped, saying how to install it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.sandbox.demo import run_demo
from tests.conftest import REPO

IMG = REPO / "docs" / "img"
RECORD = IMG / "pictures.json"
PICTURES = ("card", "dm", "digest")
WIDTH = 760
MAX_CARD_LINES = 8
REGENERATE = os.environ.get("ESCBOT_SCREENSHOTS") == "1"
_CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert run_demo(out=out, seed=7) == 0
    return out


def fragment_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, *_CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def screenshot(browser: str, page: Path, png: Path, profile: Path) -> tuple[int, int]:
    """A PNG of ``page``, cropped to what it shows; returns its size."""
    from PIL import Image, ImageChops  # matplotlib's dependency, there with the app

    _run(browser, profile, f"--window-size={WIDTH},4000", f"--screenshot={png}", page.as_uri())
    with Image.open(png) as shot:
        rgb = shot.convert("RGB")
    background = Image.new("RGB", rgb.size, (255, 255, 255))
    box = ImageChops.difference(rgb, background).getbbox()
    assert box is not None, f"{page.name} rendered blank"
    cropped = rgb.crop((0, 0, WIDTH, min(rgb.height, box[3] + 12)))
    cropped.save(png, optimize=True)
    return cropped.size


def test_the_readme_pictures_match_the_current_templates(demo: Path) -> None:
    recorded = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    current = {name: fragment_hash(demo / f"fragment-{name}.html") for name in PICTURES}
    if REGENERATE:
        pytest.skip("ESCBOT_SCREENSHOTS=1: the pictures are being made again")
    assert recorded.get("fragments") == current, (
        "docs/img/*.png no longer show what the templates render: run "
        "`ESCBOT_SCREENSHOTS=1 pytest tests/test_screenshots.py` and commit docs/img"
    )
    for name in PICTURES:
        assert (IMG / f"{name}.png").exists()


def test_cards_fit_eight_lines_and_the_pictures_are_taken(demo: Path, tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("headless Chromium not installed: `apt-get install -y chromium` (Debian)")
    profile = tmp_path / "profile"
    dom = _run(browser, profile, "--dump-dom", (demo / "fragment-card.html").as_uri()).stdout
    lines = [int(n) for n in re.findall(r'data-lines="(\d+)"', dom)]
    assert lines, "no card on the demo page"
    assert max(lines) <= MAX_CARD_LINES, f"lines above the buttons per card: {lines}"
    out = IMG if REGENERATE else tmp_path
    sizes = {}
    for name in PICTURES:
        sizes[name] = screenshot(
            browser, demo / f"fragment-{name}.html", out / f"{name}.png", profile
        )
        assert sizes[name][1] > 60, f"{name}: {sizes[name]}"
    if REGENERATE:
        shown = re.search(r'src="(chart-[^"]+)"', (demo / "fragment-digest.html").read_text())
        if shown:  # the chart of the digest the picture shows
            shutil.copy(demo / shown.group(1), IMG / "digest-chart.png")
        record = {
            "fragments": {n: fragment_hash(demo / f"fragment-{n}.html") for n in PICTURES},
            "sizes": {n: list(s) for n, s in sizes.items()},
            "card_lines": lines,
        }
        RECORD.write_text(json.dumps(record, indent=2) + "\n")
