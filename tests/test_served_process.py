"""What a server process (`plp-cds serve`) sets for itself at start-up, beyond the app."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cds.app import create_app
from cds.ops.lifespan import GC_YOUNG_THRESHOLD
from cds.settings import Settings


@pytest.fixture
def collector_restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


@pytest.mark.usefixtures("collector_restored")
def test_a_server_process_collects_young_objects_less_often(settings: Settings) -> None:
    gc.set_threshold(700, 10, 10)
    with TestClient(create_app(settings, freeze_gc=True)):
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)
        assert gc.get_freeze_count() > 0, "start-up objects moved out of the collector's way"


@pytest.mark.usefixtures("collector_restored")
def test_an_app_built_for_tests_leaves_the_collector_alone(settings: Settings) -> None:
    gc.set_threshold(700, 10, 10)
    with TestClient(create_app(settings)):
        assert gc.get_threshold() == (700, 10, 10)
