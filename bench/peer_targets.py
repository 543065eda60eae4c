"""Peers: other Python services doing the same job, measured by the same HTTP section.

- HealthChain (bench/peers/healthchain_service.py), the maintained Python CDS Hooks
  framework, with its FHIR adapter;
- a FastAPI service that validates the prefetch with `fhir.resources`
  (bench/peers/fhir_resources_service.py).

Each runs from the first interpreter that has its package: this one (`pip install -e
'.[peers]'`), else the venv given with `--peers-venv` (created on first use from
bench/peers/requirements.txt, since HealthChain's caps would hold back the service's own
FastAPI and httpx). A peer found in neither is skipped, with one line saying how to add it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench.servers import uvicorn_command
from bench.targets import Target

REQUIREMENTS = Path(__file__).with_name("peers") / "requirements.txt"
# Reported beside each peer's figures: what it ran on.
VERSIONS = ("healthchain", "fhir.resources", "fastapi", "pydantic", "uvicorn")


@dataclass(frozen=True, slots=True)
class Peer:
    name: str
    app: str
    path: str
    distribution: str


PEERS = (
    Peer(
        "HealthChain",
        "bench.peers.healthchain_service:app",
        "/cds/cds-services/phantom-limb-pain-patient-view",
        "healthchain",
    ),
    Peer(
        "fhir.resources",
        "bench.peers.fhir_resources_service:app",
        "/cds-services/phantom-limb-pain-patient-view",
        "fhir.resources",
    ),
)


@dataclass(frozen=True, slots=True)
class Found:
    targets: list[Target]
    versions: dict[str, dict[str, str | None]]
    skipped: list[str]

    def skip_line(self) -> str | None:
        if not self.skipped:
            return None
        return (
            f"peers skipped: {', '.join(self.skipped)} not installed "
            "(pip install -e '.[peers]' in a venv of its own, or python -m bench --peers-venv DIR)"
        )


def find(venv: Path | None) -> Found:
    interpreters = [sys.executable] + ([str(venv_python(venv))] if venv is not None else [])
    targets, versions, skipped = [], {}, []
    for peer in PEERS:
        for python in interpreters:
            found = _versions(python)
            if found.get(peer.distribution):
                targets.append(_target(peer, python))
                versions[peer.name] = found
                break
        else:
            skipped.append(peer.name)
    return Found(targets, versions, skipped)


def _target(peer: Peer, python: str) -> Target:
    return Target(
        peer.name,
        peer.path,
        # As `uvicorn app` serves them by default: access log and info lines on.
        lambda workers: uvicorn_command(peer.app, workers=workers, logs=True, python=python),
        dict(os.environ),
        ready_path="/docs",
        peer=True,
    )


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(venv: Path) -> None:
    """Create the peers' venv if it is missing, with the same uvicorn as the service."""
    if _versions(str(venv_python(venv))).get("healthchain"):
        return
    if not venv_python(venv).exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    uvicorn = f"uvicorn[standard]=={metadata.version('uvicorn')}"
    subprocess.run(
        [str(venv_python(venv)), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS), uvicorn],
        check=True,
    )


def _versions(python: str) -> dict[str, str | None]:
    if python == sys.executable:
        return {name: _version(name) for name in VERSIONS}
    if not Path(python).exists():
        return {}
    script = (
        "import json, sys\nfrom importlib import metadata\nout = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n        out[name] = metadata.version(name)\n"
        "    except metadata.PackageNotFoundError:\n        out[name] = None\n"
        "print(json.dumps(out))"
    )
    run = subprocess.run(
        [python, "-c", script, *VERSIONS], capture_output=True, text=True, timeout=60
    )
    if run.returncode != 0:
        return {}
    versions: dict[str, str | None] = json.loads(run.stdout)
    return versions


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
