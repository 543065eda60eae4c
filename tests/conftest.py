"""Shared test helpers: a hermetic environment, an app per test, and the example requests."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from fastapi.testclient import TestClient
from hypothesis.configuration import set_hypothesis_home_dir

from cds.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# Externally written FHIR data carried in the repository (see tests/data/PROVENANCE.md).
TESTDATA = ROOT / "tests" / "data"

_SETTING_NAMES = frozenset(Settings.model_fields)
_default_database_dir: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Before any test module is imported: settings come from the tests, not the developer.

    A test that builds `Settings()` reads the environment; with the developer's DATABASE_URL
    it would write into the service's own database. Every setting is removed, and the
    default database is a file in a temporary directory that is deleted at the end.
    """
    global _default_database_dir
    for name in list(os.environ):
        if name.lower() in _SETTING_NAMES or name.startswith("OTEL_"):
            del os.environ[name]
    _default_database_dir = Path(tempfile.mkdtemp(prefix="plp-cds-tests-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{_default_database_dir / 'plp-cds.db'}"
    # The card journal too: never ./plp-cds-state in the working tree.
    os.environ["CDS_STATE_DIR"] = str(_default_database_dir / "state")
    get_settings.cache_clear()
    # Hypothesis would keep its examples and caches in ./.hypothesis; the tests keep nothing.
    set_hypothesis_home_dir(str(_default_database_dir / "hypothesis"))
    hypothesis.settings.register_profile("hermetic", database=None)
    hypothesis.settings.load_profile("hermetic")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _default_database_dir is not None:
        shutil.rmtree(_default_database_dir, ignore_errors=True)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Each test gets its own database, so none sees another's rows.
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'cds.db'}", cds_state_dir=str(tmp_path / "state")
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from cds.app import create_app

    with TestClient(create_app(settings)) as test_client:
        yield test_client


def load_example(name: str) -> dict[str, Any]:
    example: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return example
