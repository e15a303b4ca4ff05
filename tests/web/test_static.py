"""The UI's own CSS and JavaScript: served from the package, colours meet WCAG AA."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from web.conftest import Web

CSS = (files("integritet.web") / "static" / "style.css").read_text()
VARS = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", CSS))
WHITE = "#ffffff"


def luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


PAIRS = [
    ("ink", "paper"),
    ("ink", "page"),
    ("muted", "paper"),
    ("muted", "page"),
    ("brand", "paper"),
    ("brand", "page"),
    ("danger", "danger-bg"),
    ("ok", "ok-bg"),
    ("warn", "warn-bg"),
    ("ink", "warn-bg"),
]


@pytest.mark.parametrize(("fg", "bg"), PAIRS)
def test_text_colour_pairs_meet_aa(fg: str, bg: str) -> None:
    assert contrast(VARS[fg], VARS[bg]) >= 4.5


@pytest.mark.parametrize("bg", ["brand", "brand-dark", "danger", "console", "ok"])
def test_white_text_on_filled_colours_meets_aa(bg: str) -> None:
    assert contrast(WHITE, VARS[bg]) >= 4.5


def test_focus_is_visible() -> None:
    assert ":focus-visible" in CSS and "outline: 3px solid" in CSS


def test_static_files_are_served_and_unknown_ones_are_not(sqlite_web: Web) -> None:
    css = sqlite_web.client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = sqlite_web.client.get("/static/pii.js")
    assert "/api/v1/pii/check" in js.text
    assert sqlite_web.client.get("/static/../web/__init__.py").status_code == 404
    assert sqlite_web.client.get("/static/nope.css").status_code == 404
