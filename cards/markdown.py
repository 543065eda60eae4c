"""EHR text made inert inside a card's Markdown `detail`.

Drug names, condition text, resource ids and units come from the EHR, and an EHR's data
can hold anything a user or an interface typed. Interpolated raw, `](https://…)` would
make a link the prescriber trusts as ours, `<img …>` or `<script>` HTML, `# …` after a
bullet a heading, and a newline a new paragraph of instructions. Every such character is
backslash-escaped (CommonMark: any ASCII punctuation may be), line breaks become spaces,
and text that could start a block (a list marker, a numbered item) is escaped where it
starts. What a reader sees is the text as the EHR holds it.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Inline syntax anywhere in a line: escapes, emphasis, code, links and images, HTML and
# entities, GFM tables and strikethrough, headings, and the `:` of a bare URL (GFM
# autolinks `https://…`).
_INLINE = re.compile(r"([\\`*_\[\]<>&|~#:])")
# Block syntax where the text starts (it may start a line after our "- "): a list item,
# a thematic break or setext underline, a numbered item.
_BLOCK_START = re.compile(r"^([-+=])|^(\d+)([.)])")
# GFM also links bare `www.` names.
_WWW = re.compile(r"(?i)\bwww\.")
_LINE_BREAKS = re.compile(r"\s+")
# What the steps below act on, in a form that is quick to rule out: most EHR text (drug
# names, ids, dates) holds none of it and is returned as it is after a scan for these
# characters instead of four substitutions (0.2-0.5 µs a call instead of 2.5-4.1). ASCII
# text is scanned with an ASCII-only class (its whitespace: \t-\r and \x1c-\x1f), which
# is quicker than asking for Unicode whitespace at each character.
_INLINE_OR_BREAK = re.compile(r"[\\`*_\[\]<>&|~#:]|[^\S ]")
_INLINE_OR_BREAK_ASCII = re.compile(r"[\\`*_\[\]<>&|~#:\t-\r\x1c-\x1f]")
_NUMBERED = re.compile(r"\d+[.)]")


# A card repeats the same few labels, ids and statuses (a typical patient-view escapes 41
# strings, 0.3-0.9 µs each; 0.1 µs from the cache). Longer text is escaped each time, so a
# caller cannot fill the cache with megabytes.
_CACHED_CHARACTERS = 256


def escape_markdown(text: str) -> str:
    """`text` as literal Markdown: rendered, it reads exactly as given, on one line."""
    if len(text) > _CACHED_CHARACTERS:
        return _escape_markdown(text)
    return _escape_cached(text)


def _escape_markdown(text: str) -> str:
    if not text:
        return text
    special = _INLINE_OR_BREAK_ASCII if text.isascii() else _INLINE_OR_BREAK
    if (
        special.search(text) is not None
        or "  " in text
        or text[0] in "-+= "
        or text[-1] == " "
        or (text[0].isdigit() and _NUMBERED.match(text) is not None)
        # A superset of `\bwww\.`: only `w` and `W` match `w` ignoring case.
        or "www." in text.lower()
    ):
        return escaped(text)
    return text


_escape_cached = lru_cache(maxsize=4096)(_escape_markdown)


def escaped(text: str) -> str:
    """Every step applied, whether or not the text needs it (`escape_markdown` without its
    shortcut, which must give the same answer)."""
    text = _LINE_BREAKS.sub(" ", text).strip()
    text = _INLINE.sub(r"\\\1", text)
    text = _WWW.sub(lambda match: match.group(0)[:-1] + "\\.", text)
    return _BLOCK_START.sub(
        lambda m: f"\\{m.group(1)}" if m.group(1) else f"{m.group(2)}\\{m.group(3)}", text
    )
