"""Card and suggestion uuids: random version 4 UUIDs, never repeated, not even across a fork."""

from __future__ import annotations

import os
import uuid

from cards.models import Card, Source, Suggestion
from cards.uuids import random_uuid
from guideline.findings import Severity


def test_uuids_are_random_version_4_in_canonical_form() -> None:
    # More than one batch of random bytes, so the refill is exercised too.
    made = [random_uuid() for _ in range(2000)]
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
    # The two random bits under the variant are kept: all four variant digits occur.
    assert {text[19] for text in made} == set("89ab")


def test_cards_and_suggestions_get_their_own_uuids() -> None:
    source = Source(label="guideline")
    cards = [Card(summary="s", indicator=Severity.INFO, source=source) for _ in range(3)]
    suggestions = [Suggestion(label="l") for _ in range(3)]
    uuids = [c.uuid for c in cards] + [s.uuid for s in suggestions]
    assert len(set(uuids)) == 6
    assert all(uuid.UUID(u).version == 4 for u in uuids)


def test_a_forked_child_does_not_repeat_its_parents_uuids() -> None:
    random_uuid()  # the parent holds a batch of random bytes when it forks
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.write(write_end, "".join(random_uuid() for _ in range(5)).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end) as pipe:
        from_child = pipe.read()
    from_parent = "".join(random_uuid() for _ in range(5))
    children = {from_child[i : i + 36] for i in range(0, len(from_child), 36)}
    parents = {from_parent[i : i + 36] for i in range(0, len(from_parent), 36)}
    assert len(children) == 5
    assert not children & parents
