"""The resource index and the paging check read every entry of every prefetched search:
odd entries are counted or skipped, never fatal."""

from __future__ import annotations

from typing import Any

from cds.fhir.paging import is_partial, matches
from fhir_mappings.resources import collect


def searchset(*entries: Any, total: Any = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": list(entries)}
    if total is not None:
        bundle["total"] = total
    return bundle


def entry(mode: Any = "match", resource_type: str = "Condition", n: int = 0) -> dict[str, Any]:
    made: dict[str, Any] = {"resource": {"resourceType": resource_type, "id": f"r{n}"}}
    if mode is not None:
        made["search"] = {"mode": mode}
    return made


def test_matches_count_every_entry_but_includes_and_outcomes() -> None:
    bundle = searchset(
        entry("match", n=1),
        entry(None, n=2),  # no search element: a match
        entry("include", "Medication", n=3),
        entry("outcome", "OperationOutcome", n=4),
        entry(["include"], n=5),  # a mode of the wrong type reads as absent
        {"resource": {"resourceType": "Condition", "id": "r6"}, "search": "include"},
        "not an entry",
        entry("match", n=7),
    )
    assert matches(bundle) == 5
    assert not is_partial(bundle | {"total": 5})
    assert is_partial(bundle | {"total": 6})
    assert matches({"resourceType": "Bundle", "entry": "nope"}) == 0
    assert is_partial(searchset(total=1))


def test_a_next_link_is_partial_whatever_the_total() -> None:
    bundle = searchset(entry(n=1), total=1)
    bundle["link"] = [{"relation": "next", "url": "Condition?page=2"}]
    assert is_partial(bundle)


def test_the_index_keeps_wanted_resources_and_names_medications_by_both_references() -> None:
    medication = {
        "fullUrl": "http://ehr.example.org/fhir/Medication/m1",
        "resource": {"resourceType": "Medication", "id": "m1"},
    }
    condition = entry(n=1) | {"fullUrl": "http://ehr.example.org/fhir/Condition/r1"}
    found = collect(
        [
            searchset(
                condition,
                medication,
                entry(resource_type="Patient", n=2),  # not wanted: left out, not skipped
                {"resource": {"id": "no-type"}},
                {"fullUrl": "urn:uuid:1"},
                "not an entry",
                entry(n=1),  # the same Condition again
            )
        ]
    )
    assert [c["id"] for c in found.conditions] == ["r1"]
    assert set(found.medications) == {"Medication/m1", "http://ehr.example.org/fhir/Medication/m1"}
    assert found.skipped == 3


def test_a_reference_finds_the_resource_of_that_type_and_id_first_sent() -> None:
    request = {"resourceType": "MedicationRequest", "id": "7", "status": "active"}
    statement = {"resourceType": "MedicationStatement", "id": "7", "status": "active"}
    again = request | {"status": "stopped"}  # the same order on a later page
    found = collect(
        [searchset({"resource": request}, {"resource": statement}), searchset({"resource": again})]
    )
    # A switch sends back the EHR's own order: the one named, never its namesake of another
    # type, nor a later copy.
    assert found.resource("MedicationRequest/7") is request
    assert found.resource("MedicationStatement/7") is statement
    assert found.resource("MedicationRequest/8") is None
    assert found.resource("MedicationRequest") is None
    assert found.resource("Condition/7") is None
