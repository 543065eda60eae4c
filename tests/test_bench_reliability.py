"""The recording-at-saturation benchmark, one short run: every card it was answered with is
on record (its numbers are the benchmark's, never asserted here)."""

from __future__ import annotations

from bench.saturation import markdown, run_one


def test_a_short_saturation_run_finds_every_card_returned_on_record() -> None:
    result = run_one("sqlite", "patient-view", seconds=1.0, concurrency=4, postgres_url="")
    assert result.calls > 0
    assert result.failed_calls == 0
    assert result.cards_returned == result.cards_recorded
    assert (result.missing, result.duplicated, result.lost) == (0, 0, 0)
    assert result.writes >= 1
    [_, _, row] = markdown([result]).splitlines()
    assert row.startswith("| sqlite | patient-view |")
