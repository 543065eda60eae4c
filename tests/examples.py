"""The example requests in `examples/` and the responses the service gives them.

Each example is a whole CDS Hooks request with realistic FHIR R4 data; its expected response
is stored beside it under `examples/expected/`, as the service answers it with card and
suggestion uuids numbered in order of appearance. `tests/test_examples.py` replays every
request through the app and compares. After a deliberate change of behaviour, regenerate
the stored responses (and read the diff):

    python -m tests.examples

The examples are written as of `REFERENCE_DATE`. Some rules depend on today's date (a pain
score within the reassessment interval, opioid use "going on today"), so a replay on another
day moves every date in the request by the days since then, and moves the dates in the
response back: each example keeps showing what it shows whenever it runs.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from cds.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXPECTED = EXAMPLES / "expected"
REFERENCE_DATE = date(2026, 11, 24)
SERVICES = {
    "patient-view": "phantom-limb-pain-patient-view",
    "order-select": "phantom-limb-pain-order-select",
    "order-sign": "phantom-limb-pain-order-sign",
}


@dataclass(frozen=True, slots=True)
class Example:
    path: str  # under examples/
    shows: str  # one line for the README's table
    status: int = 200

    @property
    def request_file(self) -> Path:
        return EXAMPLES / self.path

    @property
    def expected_file(self) -> Path:
        return EXPECTED / self.path.replace(".json", ".response.json")

    def request(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.request_file.read_text())
        return body

    @property
    def hook(self) -> str:
        hook: str = self.request()["hook"]
        return hook


# The README's table lists them in this order.
CATALOG: tuple[Example, ...] = (
    Example(
        "patient-view.json",
        "gabapentin current, heart failure: step 1, SNRIs and the lidocaine patch offered, "
        "TCAs left out for the heart; no pain score recorded",
    ),
    Example(
        "patient-view-allergy-pain.json",
        "duloxetine intolerance: duloxetine left out and named; three pain scores beside when "
        "gabapentin started",
    ),
    Example(
        "order-select.json",
        "amitriptyline selected, first-degree AV block: heart caution with SNRI swaps "
        "(create, then delete the draft); a tertiary-amine TCA",
    ),
    Example(
        "order-sign.json",
        "desipramine draft beside current nortriptyline (125 mg/day), oxycodone, a residual "
        "limb splint, hypertension",
    ),
    Example(
        "precautions/tca-heart-critical-lbbb.json",
        "nortriptyline selected, left bundle branch block: critical",
    ),
    Example(
        "precautions/tca-heart-critical-complete-av-block.json",
        "desipramine signed, complete AV block (SNOMED CT and ICD-10-CM I44.2): critical",
    ),
    Example(
        "precautions/tca-heart-warning-heart-failure.json",
        "nortriptyline signed, heart failure with reduced ejection fraction: warning",
    ),
    Example(
        "precautions/tca-heart-warning-first-degree-av-block.json",
        "nortriptyline signed, first-degree AV block known only by text "
        '("1st degree AV block"): warning',
    ),
    Example(
        "precautions/tca-dose-100-mg.json",
        "nortriptyline 2 × 50 mg at bedtime: exactly 100 mg/day is flagged, with the arithmetic",
    ),
    Example(
        "precautions/tca-dose-prn-maximum.json",
        "nortriptyline 25 mg as needed up to 3 a day, at most 6 capsules a day: the maximum "
        "(150 mg/day) is counted",
    ),
    Example(
        "precautions/tca-cardiovascular-risk.json",
        "nortriptyline signed, type 2 diabetes and daily smoking: consider an SNRI, with swaps",
    ),
    Example(
        "precautions/opioid-caution.json",
        "oxycodone as needed selected: short-term use for severe exacerbations only",
    ),
    Example(
        "precautions/tca-snri-stacked.json",
        "venlafaxine signed while nortriptyline is current: the switch stops nortriptyline",
    ),
    Example(
        "precautions/long-term-opioid.json",
        "oxycodone renewed since January 2025 with gaps under 30 days: long-term opioid "
        "warning beside the step card",
    ),
    Example(
        "precautions/splinting.json",
        "a resting splint for the residual limb (one-click removal) beside a shrinker sock "
        "(not a splint)",
    ),
    Example(
        "behaviours/allergy-tca-class.json",
        'intolerance of "tricyclic antidepressants": both TCAs left out, SNRIs offered',
    ),
    Example(
        "behaviours/allergy-one-snri-order-sign.json",
        "nortriptyline signed with heart failure and a venlafaxine intolerance: only the "
        "duloxetine swap",
    ),
    Example(
        "behaviours/every-first-line-agent-excluded.json",
        "heart failure and an SNRI intolerance rule out every TCA and SNRI: the next step's "
        "options, each reason named",
    ),
    Example(
        "behaviours/pain-scores-reassessment-due.json",
        "gabapentin and duloxetine (step 2), last pain score in July 2025: reassessment due",
    ),
    Example(
        "behaviours/oud-buprenorphine-patient-view.json",
        "buprenorphine for opioid use disorder since 2024: no long-term opioid warning, step "
        "3's short-term opioid withheld and why",
    ),
    Example(
        "behaviours/oud-buprenorphine-order-sign.json",
        "buprenorphine renewal for opioid use disorder: no short-term-only caution",
    ),
    Example(
        "behaviours/oud-oxycodone-order-sign.json",
        "oxycodone for the same patient: the opioid caution, agonist treatment named apart",
    ),
    Example(
        "behaviours/out-of-scope.json",
        "phantom limb without pain (G54.7) and a resolved G54.6: no cards, even beside a "
        "TCA and heart failure (the service advises on phantom limb pain only)",
    ),
    Example(
        "behaviours/paged-orders-out-of-scope.json",
        "the same chart with its orders paged (a next link) and no FHIR server: still no "
        "cards, not a 412 (the Conditions came whole: the guideline does not apply)",
    ),
    Example(
        "behaviours/paged-prefetch-412.json",
        "Conditions prefetched as the first page of 64 (a next link), the FHIR server not "
        "usable: 412 naming the key, not advice from page one",
        status=412,
    ),
)


# -- normalising a response ------------------------------------------------------------

_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")


def shift_dates(value: Any, days: int) -> Any:
    """`value` with every calendar date in its strings moved by `days` (a date-time keeps
    its time and zone). Strings that only look like dates are left alone."""
    if isinstance(value, dict):
        return {k: shift_dates(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_dates(v, days) for v in value]
    if isinstance(value, str) and days:
        return _DATE.sub(lambda m: _shifted(m, days), value)
    return value


def _shifted(match: re.Match[str], days: int) -> str:
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return match[0]
    return (day + timedelta(days=days)).isoformat()


def number_uuids(response: Any) -> Any:
    """Card and suggestion uuids, random per call, numbered in order of appearance."""
    numbers: dict[str, str] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: numbers.setdefault(v, f"00000000-0000-4000-8000-{len(numbers) + 1:012d}")
                if k == "uuid" and isinstance(v, str)
                else walk(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(response)


# -- replaying -------------------------------------------------------------------------


def utc_today() -> date:
    return datetime.now(UTC).date()


def replay(
    client: TestClient,
    example: Example,
    *,
    request: dict[str, Any] | None = None,
    reference: date = REFERENCE_DATE,
) -> tuple[int, Any]:
    """The service's answer to the example (or to `request`, written as of `reference`) as
    of that day: its status, and its body with uuids numbered."""
    body = example.request() if request is None else request
    while True:
        days = (utc_today() - reference).days
        response = client.post(
            f"/cds-services/{SERVICES[body['hook']]}", json=shift_dates(body, days)
        )
        # A replay that ran across midnight (UTC) is done again, on one day throughout.
        if (utc_today() - reference).days == days:
            return response.status_code, number_uuids(shift_dates(response.json(), -days))


class ExampleSettings(Settings):
    """The defaults and nothing from the environment: a developer's CDS_FHIR_ALLOWLIST or
    DATABASE_URL cannot change an example's answer or receive its card records."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def example_settings(directory: Path) -> Settings:
    return ExampleSettings(database_url=f"sqlite:///{directory / 'examples.db'}")


def dump(body: Any) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


# -- the README's table ----------------------------------------------------------------


def indicators(status: int, body: Any) -> str:
    if status != 200:
        return f"— (HTTP {status})"
    found = [card["indicator"] for card in body["cards"]]
    return ", ".join(found) if found else "no cards"


def readme_row(example: Example, status: int, body: Any) -> str:
    link = f"[`{example.path}`](examples/{example.path})"
    return f"| {link} | {example.hook} | {example.shows} | {indicators(status, body)} |"


def readme_table(rows: list[str]) -> str:
    header = "| example | hook | what it shows | cards (indicator) |\n|---|---|---|---|\n"
    return header + "\n".join(rows) + "\n"


def expected(example: Example) -> Any:
    return json.loads(example.expected_file.read_text())


def regenerate(client: TestClient) -> list[str]:
    """Writes each example's answer where it differs from the stored one; the README rows."""
    rows = []
    for example in CATALOG:
        status, body = replay(client, example)
        if status != example.status:
            raise SystemExit(f"{example.path}: HTTP {status}, expected {example.status}")
        stored = example.expected_file
        if not stored.exists() or stored.read_text() != dump(body):
            stored.parent.mkdir(parents=True, exist_ok=True)
            stored.write_text(dump(body))
            print(f"wrote {stored.relative_to(ROOT)}")
        rows.append(readme_row(example, status, body))
    return rows


def main() -> None:
    from cds.app import create_app

    with tempfile.TemporaryDirectory(prefix="plp-cds-examples-") as directory:
        app = create_app(example_settings(Path(directory)))
        with TestClient(app) as client:
            rows = regenerate(client)
    table = readme_table(rows)
    if table not in (ROOT / "README.md").read_text():
        print("\nREADME.md: replace the table of examples with\n")
        print(table)


if __name__ == "__main__":
    main()
