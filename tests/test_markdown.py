"""EHR text in a card's Markdown detail is shown as text: no links, images, HTML, headings
or new paragraphs of its own. Rendered with a CommonMark renderer (plus GFM tables and
strikethrough) to see what a prescriber would see."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from cards.markdown import escape_markdown, escaped
from tests.conftest import load_example

RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
HOSTILE = [
    "[Stop all medication](https://evil.example/stop)",
    "![x](https://evil.example/pixel.png)",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "**urgent** _now_ `code` ~~struck~~",
    "line one\n\n# Heading injected\n\n- a new list",
    "- starts like a list",
    "1. starts numbered",
    "> quoted",
    "a | table | row",
    "&lt;entity&gt; &amp;",
    "back\\slash\\",
    "https://evil.example and www.evil.example",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_as_itself_and_nothing_else(text: str) -> None:
    html = RENDERER.render(f"- {escape_markdown(text)}")
    assert not re.search(r"<(a|img|script|h\d|em|strong|code|s|del|table|blockquote|ol)\b", html)
    assert html.count("<li>") == 1
    expected = " ".join(text.split())
    shown = RENDERER.render(escape_markdown(text))
    # What the reader sees: the text itself, HTML-escaped once by the renderer.
    unescaped = (
        shown.removeprefix("<p>").removesuffix("</p>\n").replace("&lt;", "<").replace("&gt;", ">")
    )
    assert unescaped.replace("&quot;", '"').replace("&amp;", "&") == expected


def test_plain_names_and_ids_are_left_as_they_are() -> None:
    for text in ("Amitriptyline 25 MG Oral Tablet", "MedicationRequest/draft-ami", "active"):
        assert escape_markdown(text) == text


def hostile_chart() -> dict[str, Any]:
    request = copy.deepcopy(load_example("patient-view.json"))
    for entry in request["prefetch"]["conditions"]["entry"]:
        code = entry["resource"]["code"]
        code["text"] = "Phantom limb pain](https://evil.example)\n\n# Call 555-0100 now <b>x</b>"
        code["coding"] = [{k: v for k, v in c.items() if k != "display"} for c in code["coding"]]
    return request


def test_condition_text_in_a_card_detail_cannot_add_links_or_headings(
    client: TestClient,
) -> None:
    response = client.post("/cds-services/phantom-limb-pain-patient-view", json=hostile_chart())
    assert response.status_code == 200
    [card] = response.json()["cards"]
    html = RENDERER.render(card["detail"])

    assert "Call 555-0100 now" in html, "the EHR's text is shown"
    assert not re.search(r"<(a|h1|b)\b", html)


# Text made mostly of what the escaping acts on, so the shortcut is tried at its edges.
_MARKDOWN_ALPHABET = st.sampled_from(
    list("\\`*_[]<>&|~#:-+=.)0123456789 \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u2028wWab/é")
)
_MARKDOWN_TEXT = st.one_of(
    st.text(_MARKDOWN_ALPHABET, max_size=12),
    st.text(max_size=12),
    st.lists(st.sampled_from(["www.", "WwW.", "1.", "12)", " ", "a", "-", "\n"]), max_size=6).map(
        "".join
    ),
)


@settings(max_examples=500)
@given(_MARKDOWN_TEXT)
def test_the_shortcut_for_text_needing_no_escape_gives_the_full_answer(text: str) -> None:
    assert escape_markdown(text) == escaped(text)


@pytest.mark.parametrize("text", HOSTILE)
def test_long_text_past_the_cache_is_escaped_the_same(text: str) -> None:
    # Text over 256 characters is escaped each time instead of from the cache: same answer.
    long = f"{text} {'x' * 300} {text}"
    assert escape_markdown(long) == escaped(long)
    assert escape_markdown(long) != long
