"""GUIDELINE §3 "Response": recorded pain scores and the reassessment interval, on plain facts."""

from __future__ import annotations

import pytest

from guideline.response import Reassessment, review
from tests.plain import TODAY, days_ago, med, score


def test_scores_are_put_in_date_order_most_recent_first() -> None:
    scores = (score(5, days_ago(60)), score(3, days_ago(5)), score(8, days_ago(300)))
    result = review(scores, (), today=TODAY, interval_days=90)
    assert [s.value for s in result.scores or ()] == [3, 5, 8]
    assert result.last_scored == scores[1]


@pytest.mark.parametrize(
    ("age", "state"),
    [(0, Reassessment.SCORED), (90, Reassessment.SCORED), (91, Reassessment.DUE)],
)
def test_a_score_older_than_the_interval_makes_reassessment_due(
    age: int, state: Reassessment
) -> None:
    result = review((score(4, days_ago(age)),), (), today=TODAY, interval_days=90)
    assert result.reassessment is state


def test_a_preliminary_score_is_shown_but_does_not_count() -> None:
    preliminary = score(4, days_ago(3), preliminary=True)
    result = review((preliminary,), (), today=TODAY, interval_days=90)
    assert result.scores == (preliminary,)
    assert (result.reassessment, result.last_scored) == (Reassessment.NONE_RECORDED, None)


def test_no_scores_and_scores_not_obtained_are_told_apart() -> None:
    assert review((), (), today=TODAY, interval_days=90).reassessment is (
        Reassessment.NONE_RECORDED
    )
    unavailable = review(None, (), today=TODAY, interval_days=90)
    assert (unavailable.reassessment, unavailable.scores) == (Reassessment.NOT_AVAILABLE, None)


def test_the_current_agents_are_carried_for_their_start_dates() -> None:
    gabapentin = med("gabapentin", start=days_ago(30))
    result = review((), (gabapentin,), today=TODAY, interval_days=90)
    assert result.current == (gabapentin,)
