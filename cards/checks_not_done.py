"""The card that says the guideline's checks were not done (CDS_UNAVAILABLE_DATA_ANSWER=card).

It stands in for a 412 with clients that show a failed call as no advice at all: it gives no
advice and suggests nothing, says which checks were not applied, and why, in the words of the
412 it replaces.
"""

from __future__ import annotations

from cards.markdown import escape_markdown
from cards.models import Card
from cards.source import override_reasons, source
from guideline.findings import Severity

SUMMARY = "Phantom limb pain checks not done: the service could not read the whole chart"


def checks_not_done(reason: str) -> Card:
    return Card(
        summary=SUMMARY,
        detail=(
            "The phantom limb pain guideline's checks (tricyclic antidepressants with cardiac "
            "disease, TCA doses of 100 mg/day or more, the treatment steps) were not applied "
            "to this patient: the data they need could not be read.\n\n"
            f"**Why:** {escape_markdown(reason)}\n\n"
            "Review the chart yourself before prescribing, above all a tricyclic "
            "antidepressant. Your EHR team can give the service the whole chart: prefetch "
            "without paging, or a FHIR access token with each call."
        ),
        indicator=Severity.WARNING,
        source=source("checks-not-done"),
        overrideReasons=override_reasons("chart-reviewed"),
    )
