"""Free-text recognition: synonyms as regular expressions, with cheap negation.

A rule is a row of a table whose system is `text`: its pattern (a Python regular expression,
matched case-insensitively as a whole word; `(?-i:…)` makes part of it case-sensitive) and the
concepts it names. Reading a text:

- every rule's matches are found; a match lying inside a longer match of another rule gives
  way to it, so the most specific phrase wins ("old myocardial infarction" is not also read
  as "myocardial infarction");
- where negation is read, a match is dropped when a negation cue ("no", "denies", "ruled
  out", "family history of" …) comes before it in the same clause, or one ("ruled out",
  "excluded", "negative") follows it directly; clauses end at . ; , ! ? a line break and
  "but"/"however"/"although"/"except";
- an exclusion rule (concept `not:X`) drops X found in its clause ("phantom limb pain: no pain
  since March" is not phantom limb pain; "phantom limb pain; stump without pain" is).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from fhir_mappings.tables import Where

TEXT_SYSTEM = "text"
EXCLUSION_PREFIX = "not:"

# Whole words: no letter directly before or after (digits may touch: "Nortriptyline25mg").
_BEFORE = r"(?<![^\W\d_])"
_AFTER = r"(?![^\W\d_])"
_CLAUSE_BREAK = re.compile(r"[.;,!?\n]|\b(?:but|however|although|though|except)\b", re.I)
# What may stand between a finding and a negation cue that follows it ("AF: ruled out",
# "MI was excluded"); a comma may not ("heart failure, ruled out MI").
_AFTER_FILLER = r"[\s:\-–—]*(?:(?:was|is|were|are|has\s+been|have\s+been|been)\s+)?"


def compile_pattern(pattern: str, where: Where) -> re.Pattern[str]:
    try:
        re.compile(pattern)  # errors are reported at positions of the pattern as written
        compiled = re.compile(f"{_BEFORE}(?:{pattern}){_AFTER}", re.IGNORECASE)
    except re.error as error:
        raise where.error(
            f"the pattern {pattern!r} is not a valid regular expression: {error}"
        ) from None
    if compiled.search(""):
        raise where.error(f"the pattern {pattern!r} matches empty text")
    return compiled


@dataclass(frozen=True, slots=True)
class TextRule:
    concepts: frozenset[str]
    pattern: re.Pattern[str]
    where: Where

    @property
    def excluded(self) -> frozenset[str]:
        """The concepts an exclusion rule drops (empty for an ordinary rule)."""
        return frozenset(
            c.removeprefix(EXCLUSION_PREFIX)
            for c in self.concepts
            if c.startswith(EXCLUSION_PREFIX)
        )


@dataclass(frozen=True, slots=True)
class Negation:
    """The negation cues: before a finding in its clause, or directly after it."""

    before: re.Pattern[str] | None
    after: re.Pattern[str] | None

    @classmethod
    def of(cls, before: Iterable[str], after: Iterable[str]) -> Negation:
        before_cues, after_cues = list(before), list(after)
        return cls(
            re.compile(f"{_BEFORE}(?:{'|'.join(before_cues)}){_AFTER}", re.I)
            if before_cues
            else None,
            re.compile(f"{_AFTER_FILLER}(?:{'|'.join(after_cues)}){_AFTER}", re.I)
            if after_cues
            else None,
        )

    def negates(self, text: str, start: int, end: int) -> bool:
        clause_start = 0
        for brk in _CLAUSE_BREAK.finditer(text, 0, start):
            clause_start = brk.end()
        if self.before is not None and self.before.search(text, clause_start, start):
            return True
        return self.after is not None and self.after.match(text, end) is not None


NO_NEGATION = Negation(None, None)


@dataclass(frozen=True, slots=True)
class TextMatcher:
    rules: tuple[TextRule, ...]
    negation: Negation = NO_NEGATION

    def find(self, text: str) -> frozenset[str]:
        """The concepts the text names (exclusion concepts never appear in the answer)."""
        if not text.strip():
            return frozenset()
        matches: list[tuple[int, int, TextRule]] = []
        # Per clause, the concepts an exclusion in it drops.
        excluded: dict[int, set[str]] = {}
        breaks = [brk.end() for brk in _CLAUSE_BREAK.finditer(text)]
        for rule in self.rules:
            dropped = rule.excluded
            for match in rule.pattern.finditer(text):
                if dropped:
                    excluded.setdefault(bisect_right(breaks, match.start()), set()).update(dropped)
                elif match.end() > match.start():
                    matches.append((match.start(), match.end(), rule))
        found: set[str] = set()
        for start, end, rule in matches:
            if any(
                s <= start and end <= e and (e - s) > (end - start) for s, e, _ in matches
            ) or self.negation.negates(text, start, end):
                continue
            found |= rule.concepts - excluded.get(bisect_right(breaks, start), set())
        return frozenset(found)
