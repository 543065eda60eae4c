"""How the worker profile charges py-spy samples to the slices of issue 15."""

from __future__ import annotations

import pytest

from bench.worker_profile import classify, parse_raw, split

ROUTE = "call_service (cds/api/routes.py:45)"
ASGI = "Runner.run (asyncio/runners.py:118);FastAPI.__call__ (fastapi/applications.py:1224)"


@pytest.mark.parametrize(
    ("innermost", "slice_"),
    [
        ("parse_hook_request (cds/api/routes.py:67);parse_json_object (cds/api/routes.py:59)",
         "orjson parse"),
        ("answer (cds/api/hooks.py:57);medication_fact (fhir_mappings/medications.py:131)",
         "facts and guideline"),
        ("collect (fhir_mappings/resources.py:64)", "resource index and prefetch checks"),
        ("summary_card (cards/patient_view.py:57);BaseModel.__init__ (pydantic/main.py:250)",
         "cards and response model"),
        ("Card.<lambda> (cards/models.py:56);uuid4 (uuid.py:723)", "uuid4 (card uuids)"),
        ("after_hook (cds/storage/recorder.py:40);put (asyncio/queues.py:140)", "card recording"),
        ("info (logging/__init__.py:1489);format (cds/ops/logging.py:60)", "logging"),
        ("labels (prometheus_client/metrics.py:199)", "metrics"),
        ("run_sync (anyio/to_thread.py:27)", "thread hops (sync dependencies)"),
        ("solve_dependencies (fastapi/dependencies/utils.py:671)",
         "FastAPI/Starlette routing, middleware"),
    ],
)  # fmt: skip
def test_each_sample_goes_to_the_part_that_spent_it(innermost: str, slice_: str) -> None:
    assert classify([*ASGI.split(";"), ROUTE, *innermost.split(";")]) == slice_


def test_the_server_and_event_loop_own_what_no_part_claims() -> None:
    assert classify(["Runner.run (asyncio/runners.py:118)"]) == "uvicorn (HTTP parsing), event loop"
    assert classify(["<module> (<string>:1)"]) == "other"


def test_raw_output_is_counted_per_slice_and_split_by_cpu() -> None:
    lines = [
        f"thread (1): MainThread;{ASGI};{ROUTE};parse_json_object (cds/api/routes.py:59) 3",
        "thread (1): MainThread;Runner.run (asyncio/runners.py:118) 1",
        "",
    ]
    slices = parse_raw(lines)
    assert slices == {"orjson parse": 3, "uvicorn (HTTP parsing), event loop": 1}
    rows = split(slices, cpu_ms_per_request=2.0)
    assert [(r.name, r.share, r.ms_per_request) for r in rows] == [
        ("orjson parse", 0.75, 1.5),
        ("uvicorn (HTTP parsing), event loop", 0.25, 0.5),
    ]


def test_the_services_own_http_protocol_counts_as_the_server() -> None:
    guarded = "GuardedH11Protocol.data_received (cds/ops/server.py:96)"
    assert classify(["Runner.run (asyncio/runners.py:118)", guarded]) == (
        "uvicorn (HTTP parsing), event loop"
    )
