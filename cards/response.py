"""The patient-view card's response section: recent pain scores beside when the current
agents started, and the reassessment prompt (GUIDELINE §3 "Response").

Scores are shown as recorded, with no threshold and no response category.
"""

from __future__ import annotations

from cards.wording import bullets, order_line, score_line
from guideline.response import Reassessment, ResponseReview

SCORES_SHOWN = 10  # enough to see a trend beside the start dates, short enough to read


def response_sections(review: ResponseReview) -> list[str]:
    sections = []
    if review.scores:
        shown = review.scores[:SCORES_SHOWN]
        more = len(review.scores) - len(shown)
        tail = f"\n- … {more} earlier" if more else ""
        sections.append(
            "**Pain scores** (most recent first):\n" + bullets(map(score_line, shown)) + tail
        )
    if review.scores and review.current:
        sections.append(
            "**Current agents started:**\n"
            + bullets(
                f"{order_line(m)}: "
                + (
                    m.in_use.start.isoformat()
                    if m.in_use and m.in_use.start
                    else "start not recorded"
                )
                for m in review.current
            )
        )
    sections.append(_reassessment(review))
    return sections


def _reassessment(review: ResponseReview) -> str:
    due = "**Pain and quality of life are due for reassessment:**"
    days = review.interval_days
    if review.reassessment is Reassessment.NOT_AVAILABLE:
        return (
            "**Pain scores were not available** to the service for this request, so it cannot "
            "say when pain was last scored."
        )
    if review.reassessment is Reassessment.NONE_RECORDED:
        what = "final " if review.scores else ""
        return f"{due} no {what}pain score is recorded."
    last = review.last_scored.when.isoformat() if review.last_scored else "never"
    if review.reassessment is Reassessment.DUE:
        return f"{due} no pain score in the last {days} days; last scored on {last}."
    return f"Pain last scored on {last} (within {days} days)."
