"""What a server process (`plp-cds serve`) sets for itself at start-up, beyond the app."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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


def test_the_app_uvicorn_imports_is_tuned_as_a_served_one(tmp_path: Path) -> None:
    # `uvicorn cds.app:app` builds the module's app in a process of its own: so does this.
    script = (
        "import gc, json\n"
        "from fastapi.testclient import TestClient\n"
        "import cds.app\n"
        "with TestClient(cds.app.app):\n"
        "    print(json.dumps([gc.get_threshold()[0], gc.get_freeze_count()]))\n"
    )
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cds.db'}",
        "CDS_STATE_DIR": str(tmp_path / "state"),
    }
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    threshold, frozen = json.loads(run.stdout.strip().splitlines()[-1])
    assert threshold == GC_YOUNG_THRESHOLD
    assert frozen > 0
