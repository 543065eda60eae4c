"""What the HTTP section serves: the service as `plp-cds serve` runs it, the yardsticks beside
it under the same uvicorn, and the peers (bench/peers/)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.floors import RESPONSE_ENV
from bench.patients import HOOK_PATHS
from bench.servers import Command, served_command, uvicorn_command

SERVICE = "service"
PARSE_ONLY = "parse-only"
PARSE_ONLY_H11 = "parse-only (h11)"
BARE = "bare"


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    path: str
    # The server's command line for a worker count.
    command: Callable[[int], Command]
    env: Mapping[str, str]
    ready_path: str = "/"
    peer: bool = False


def _default_settings_env() -> dict[str, str]:
    """The environment minus every setting of the service, so it runs on its defaults (the
    caller keeps DATABASE_URL pointing at the benchmark's scratch database)."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CDS_", "OTEL_")) and name != "REDIS_URL"
    }


def service() -> Target:
    """`plp-cds serve` with default settings: JSON logs, card recording, metrics."""
    return Target(
        SERVICE,
        HOOK_PATHS["patient-view"],
        lambda workers: served_command(workers=workers),
        _default_settings_env(),
        ready_path="/healthz",
    )


def parse_only() -> Target:
    return Target(
        PARSE_ONLY,
        HOOK_PATHS["patient-view"],
        lambda workers: uvicorn_command("bench.floors:parse_only", workers=workers),
        dict(os.environ),
    )


def parse_only_h11() -> Target:
    """The same endpoint on uvicorn's pure-Python h11 parser, which `plp-cds serve` runs on
    for its header limit: what that choice costs, apart from the service."""
    return Target(
        PARSE_ONLY_H11,
        HOOK_PATHS["patient-view"],
        lambda workers: uvicorn_command("bench.floors:parse_only", workers=workers, http="h11"),
        dict(os.environ),
    )


def bare(response: Path) -> Target:
    """Drains the body and answers the service's own precomputed response: uvicorn alone."""
    return Target(
        BARE,
        HOOK_PATHS["patient-view"],
        lambda workers: uvicorn_command("bench.floors:bare", workers=workers),
        os.environ | {RESPONSE_ENV: str(response)},
    )
