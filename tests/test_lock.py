"""The lock files CI and the Dockerfile install from agree with pyproject.toml: every
dependency is locked at a version its floor allows (the floors sit above the published
advisories), and the development lock runs the very versions the image ships."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

_PIN = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def locked(name: str) -> dict[str, Version]:
    text = (ROOT / name).read_text()
    return {canonicalize_name(n): Version(v) for n, v in _PIN.findall(text)}


def requirements(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in extras:
        names += project["optional-dependencies"][extra]
    return [Requirement(r) for r in names]


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements.lock", ()), ("requirements-dev.lock", ("test", "otel"))]
)
def test_every_dependency_is_locked_within_its_floor(lock: str, extras: tuple[str, ...]) -> None:
    pins = locked(lock)
    for requirement in requirements(*extras):
        version = pins.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in {lock}"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {requirement.name}=={version}, outside {requirement.specifier}"
        )


def test_the_development_lock_runs_what_the_image_ships() -> None:
    runtime, development = locked("requirements.lock"), locked("requirements-dev.lock")
    assert {name: development.get(name) for name in runtime} == runtime


def test_every_pin_carries_hashes() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / lock).read_text()
        assert text.count("==") == len(locked(lock))
        assert len(re.findall(r"^[A-Za-z0-9._-]+==", text, re.MULTILINE)) <= text.count(
            "--hash=sha256:"
        )
