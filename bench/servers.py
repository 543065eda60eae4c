"""Start uvicorn on a free loopback port in a subprocess, and always stop it again."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.patients import REPO

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Server:
    base: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of uvicorn and its workers: its own process group.

        Unlike wall-clock throughput this does not depend on how the CPUs are shared with
        the load generator. Linux only; 0.0 elsewhere.
        """
        tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # the process ended while being read
            if int(fields[2]) == self.pid:  # field 5, the process group
                total += int(fields[11]) + int(fields[12])  # fields 14 and 15, utime + stime
        return total / tick


@contextmanager
def plp_cds_server(
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    startup_timeout_s: float = 60.0,
) -> Iterator[Server]:
    """Yield `plp-cds serve` (the command operators run) on a free loopback port, serving
    this work tree's code; its JSON log goes to `log_path` (else nowhere)."""
    port = free_port()
    command = [sys.executable, "-m", "cds.cli", "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    child_env = os.environ | (env or {})
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    log = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=child_env,
        stdout=log,
        stderr=subprocess.STDOUT if log_path is not None else subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://{LOOPBACK}:{port}"
    try:
        _wait_ready(process, base + "/healthz", startup_timeout_s, workers)
        yield Server(base, process.pid)
    finally:
        _stop(process)
        if log_path is not None and not isinstance(log, int):
            log.close()


def worker_pids(server: Server) -> list[int]:
    """The worker processes of a multi-worker server, oldest first: its children started
    by multiprocessing's spawn (not its resource tracker). Linux only."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == server.pid and b"spawn_main" in command:  # field 4, the parent
            children.append((int(fields[19]), int(stat.parent.name)))  # field 22, start time
    return [pid for _, pid in sorted(children)]


@contextmanager
def uvicorn_server(
    target: str,
    *,
    workers: int = 1,
    factory: bool = False,
    env: dict[str, str] | None = None,
    ready_path: str = "/",
    startup_timeout_s: float = 30.0,
) -> Iterator[Server]:
    """Yield `uvicorn target` running on 127.0.0.1, serving this work tree's code."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", target, "--host", LOOPBACK, "--port", str(port)]
    command += ["--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    if factory:
        command.append("--factory")
    # The repo root first on the path: an installed copy of the package elsewhere must not
    # be the one measured.
    child_env = os.environ | (env or {})
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # Its own process group, so the workers it forks can be ended with it.
        start_new_session=True,
    )
    base = f"http://{LOOPBACK}:{port}"
    try:
        _wait_ready(process, base + ready_path, startup_timeout_s, workers)
        yield Server(base, process.pid)
    finally:
        _stop(process)


def _wait_ready(process: subprocess.Popen[bytes], url: str, timeout_s: float, workers: int) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"the server exited with {process.returncode}: {err[-2000:]}")
        try:
            httpx.get(url, timeout=1.0)
            # With several workers the socket answers as soon as the first is up: give the
            # others a moment to import the app so the run does not start on one worker.
            if workers > 1:
                time.sleep(1.0 + 0.5 * workers)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"uvicorn did not answer {url} within {timeout_s} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    else:
        # Killed on purpose: its workers (same process group) must not outlive it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    if process.stderr is not None:
        process.stderr.close()
