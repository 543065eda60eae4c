"""Start an HTTP server on a free loopback port in a subprocess, and always stop it again."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
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
    # Where the server's stdout and stderr go, so its log lines can be counted.
    log_path: Path | None = None

    def cpu_by_process(self) -> dict[int, float]:
        """CPU seconds (user + system, all threads) of each process of the server: its own
        process group, so the workers it forks are counted.

        Unlike wall-clock throughput this does not depend on how the CPUs are shared with
        the load generator or noisy neighbours. Linux only; empty elsewhere.
        """
        tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        seconds = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # the process ended while being read
            if int(fields[2]) == self.pid:  # field 5, the process group
                pid = int(stat.parent.name)
                seconds[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        return seconds

    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_process().values())

    def log_lines(self) -> int:
        if self.log_path is None or not self.log_path.exists():
            return 0
        with self.log_path.open("rb") as log:
            return sum(1 for _ in log)


Command = Callable[[int], list[str]]


def uvicorn_command(
    app: str,
    *,
    workers: int = 1,
    factory: bool = False,
    logs: bool = False,
    python: str = sys.executable,
    http: str | None = None,
) -> Command:
    """`python -m uvicorn app`; without `logs`, at warning level with no access log; `http`
    picks uvicorn's HTTP implementation (default: its own choice, httptools when present)."""

    def command(port: int) -> list[str]:
        argv = [python, "-m", "uvicorn", app, "--host", LOOPBACK, "--port", str(port)]
        argv += ["--workers", str(workers)]
        if not logs:
            argv += ["--log-level", "warning", "--no-access-log"]
        if http is not None:
            argv += ["--http", http]
        if factory:
            argv.append("--factory")
        return argv

    return command


def served_command(*, workers: int = 1) -> Command:
    """`plp-cds serve` as an operator runs it: its own logging, recording and settings."""

    def command(port: int) -> list[str]:
        return [
            sys.executable,
            "-c",
            "import sys; from cds.cli import main; main(sys.argv[1:])",
            "serve",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]

    return command


@contextmanager
def server(
    command: Command,
    *,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    ready_path: str = "/",
    startup_timeout_s: float = 60.0,
) -> Iterator[Server]:
    """Yield the server `command(port)` starts, serving this work tree's code; its output
    goes to a scratch file that `Server.log_lines` counts."""
    port = free_port()
    # The repo root first on the path: an installed copy of the package elsewhere must not
    # be the one measured.
    child_env = dict(env if env is not None else os.environ)
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    with tempfile.TemporaryDirectory(prefix="bench-server-") as scratch:
        log_path = Path(scratch) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command(port),
                cwd=REPO,
                env=child_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group, so the workers it forks can be ended with it.
                start_new_session=True,
            )
        base = f"http://{LOOPBACK}:{port}"
        try:
            _wait_ready(process, base + ready_path, startup_timeout_s, workers, log_path)
            yield Server(base, process.pid, log_path)
        finally:
            _stop(process)


@contextmanager
def plp_cds_server(
    *, workers: int = 1, env: Mapping[str, str] | None = None, startup_timeout_s: float = 60.0
) -> Iterator[Server]:
    """`plp-cds serve` with `env` added to this environment, ready once /healthz answers;
    its JSON log is at `Server.log_path` while it runs."""
    with server(
        served_command(workers=workers),
        workers=workers,
        env=os.environ | dict(env or {}),
        ready_path="/healthz",
        startup_timeout_s=startup_timeout_s,
    ) as running:
        yield running


def worker_pids(running: Server) -> list[int]:
    """The worker processes of a multi-worker server, oldest first: its children started
    by multiprocessing's spawn (not its resource tracker). Linux only."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == running.pid and b"spawn_main" in command:  # field 4, the parent
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
    """Yield `uvicorn target` running on 127.0.0.1, without logs, serving this work tree."""
    command = uvicorn_command(target, workers=workers, factory=factory)
    with server(
        command,
        workers=workers,
        env=os.environ | (env or {}),
        ready_path=ready_path,
        startup_timeout_s=startup_timeout_s,
    ) as running:
        yield running


def _wait_ready(
    process: subprocess.Popen[bytes], url: str, timeout_s: float, workers: int, log: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_bytes().decode(errors="replace")
            raise RuntimeError(f"the server exited with {process.returncode}: {output[-2000:]}")
        try:
            httpx.get(url, timeout=1.0)
            # With several workers the socket answers as soon as the first is up: give the
            # others a moment to import the app so the run does not start on one worker.
            if workers > 1:
                time.sleep(1.0 + 0.5 * workers)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"the server did not answer {url} within {timeout_s} s")


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
