"""Shared test helpers: an app per test, and builders for FHIR JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds.app import create_app
from cds.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared"
TESTDATA = SHARED / "testdata"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Each test gets its own database, so none writes to the working directory.
    return Settings(database_url=f"sqlite:///{tmp_path / 'cds.db'}")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def load_example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())
