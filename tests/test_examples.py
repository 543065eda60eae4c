"""Every example request in `examples/` replayed through the app: the answer must be the
stored one (`examples/expected/`, uuids numbered), a valid CDS Hooks response, and the
README's table of examples must say what each one gets. Regenerate the stored answers after
a deliberate change with `python -m tests.examples`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conformance import assert_conformant, assert_valid_fhir
from tests.examples import (
    CATALOG,
    EXAMPLES,
    EXPECTED,
    REFERENCE_DATE,
    Example,
    ExampleSettings,
    dump,
    example_settings,
    expected,
    number_uuids,
    readme_row,
    readme_table,
    replay,
    shift_dates,
)

ROOT = Path(__file__).resolve().parent.parent
IDS = [e.path.removesuffix(".json") for e in CATALOG]


@pytest.fixture(scope="module")
def examples_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from cds.app import create_app

    settings = example_settings(tmp_path_factory.mktemp("examples"))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.mark.parametrize("example", CATALOG, ids=IDS)
def test_the_service_gives_the_stored_answer(examples_client: TestClient, example: Example) -> None:
    status, body = replay(examples_client, example)
    assert status == example.status
    assert body == expected(example), (
        f"{example.path}: the answer changed; if that is intended, run "
        "`python -m tests.examples` and read the diff"
    )
    # Stored as the generator writes it, so a regeneration shows only real changes.
    assert example.expected_file.read_text() == dump(body)


@pytest.mark.parametrize("example", CATALOG, ids=IDS)
def test_each_answer_is_a_valid_response(example: Example) -> None:
    body = expected(example)
    if example.status == 200:
        assert_conformant(body)
        for card in body["cards"]:
            for suggestion in card.get("suggestions", []):
                actions = suggestion["actions"]
                # Clients that apply only the first action still get the new order.
                if any(a["type"] == "create" for a in actions):
                    assert actions[0]["type"] == "create"
                for action in actions:
                    if "resource" in action:
                        assert_valid_fhir(action["resource"])
    else:
        assert body["resourceType"] == "OperationOutcome"
        assert all(issue["expression"] for issue in body["issue"])


@pytest.mark.parametrize("example", CATALOG, ids=IDS)
def test_each_request_is_valid_fhir_r4(example: Example) -> None:
    request = example.request()
    assert request["hook"] in ("patient-view", "order-select", "order-sign")
    for bundle in [*request["prefetch"].values(), request["context"].get("draftOrders")]:
        if bundle is not None:
            assert_valid_fhir(bundle)


def test_every_example_file_is_in_the_catalogue() -> None:
    requests = {
        p.relative_to(EXAMPLES).as_posix()
        for p in EXAMPLES.rglob("*.json")
        if EXPECTED not in p.parents
    }
    answers = {p.relative_to(EXPECTED).as_posix() for p in EXPECTED.rglob("*.json")}
    assert requests == {e.path for e in CATALOG}
    assert answers == {e.path.replace(".json", ".response.json") for e in CATALOG}


def test_each_hook_has_examples() -> None:
    assert {e.hook for e in CATALOG} == {"patient-view", "order-select", "order-sign"}


def test_the_readme_lists_every_example_with_the_cards_it_gets() -> None:
    rows = [readme_row(e, e.status, expected(e)) for e in CATALOG]
    assert readme_table(rows) in (ROOT / "README.md").read_text()


# -- the normalisation itself -----------------------------------------------------------


# Rules that read today's date: a pain score within the interval, opioid use going on today.
DATED = ["patient-view-allergy-pain.json", "precautions/long-term-opioid.json"]


@pytest.mark.parametrize("path", DATED)
def test_an_example_written_on_another_day_gets_the_same_answer(
    examples_client: TestClient, path: str
) -> None:
    # The same chart written 1,000 days earlier (across 29 February 2024) and replayed as of
    # that day: the dates move, the answer does not.
    [example] = [e for e in CATALOG if e.path == path]
    earlier = shift_dates(example.request(), -1000)
    status, body = replay(
        examples_client,
        example,
        request=earlier,
        reference=REFERENCE_DATE - timedelta(days=1000),
    )
    assert status == 200
    assert body == shift_dates(expected(example), -1000)


def test_without_the_shift_a_dated_example_would_change(examples_client: TestClient) -> None:
    # What the shift is for: the recent pain score of the README's example, 1,000 days on.
    [example] = [e for e in CATALOG if e.path == "patient-view-allergy-pain.json"]
    _, body = replay(examples_client, example, request=shift_dates(example.request(), -1000))
    [card] = body["cards"]
    assert "Pain and quality of life are due for reassessment" in card["detail"]
    assert "due for reassessment" not in expected(example)["cards"][0]["detail"]


def test_dates_move_by_whole_days_and_back() -> None:
    value: dict[str, Any] = {
        "effectiveDateTime": "2026-02-28T10:15:00+01:00",
        "text": "from 2024-11-24 to 2026-11-24 (730 days)",
        "id": "pain-2026-11-02",
        "partial": "2026-11",
        "not a date": "2026-02-30",
        "number": 20261124,
    }
    moved = shift_dates(value, 1)
    assert moved == {
        "effectiveDateTime": "2026-03-01T10:15:00+01:00",
        "text": "from 2024-11-25 to 2026-11-25 (730 days)",
        "id": "pain-2026-11-03",
        "partial": "2026-11",
        "not a date": "2026-02-30",
        "number": 20261124,
    }
    assert shift_dates(moved, -1) == value


def test_uuids_are_numbered_in_order_of_appearance() -> None:
    card = "6f1c2a0e-9d1b-4c53-8a0e-3f5b7c9d1e2a"
    suggestion = "0b7c2f4e-5a61-4a0e-9d1f-3c2b8e6a7d10"
    response = {"cards": [{"uuid": card, "suggestions": [{"uuid": suggestion}]}]}
    assert number_uuids(response) == {
        "cards": [
            {
                "uuid": "00000000-0000-4000-8000-000000000001",
                "suggestions": [{"uuid": "00000000-0000-4000-8000-000000000002"}],
            }
        ]
    }


def test_example_settings_ignore_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CDS_FHIR_ALLOWLIST", "https://fhir.example.org/r4")
    settings = example_settings(tmp_path)
    assert isinstance(settings, ExampleSettings)
    assert settings.cds_fhir_allowlist == ""
    assert settings.database_url == f"sqlite:///{tmp_path / 'examples.db'}"
