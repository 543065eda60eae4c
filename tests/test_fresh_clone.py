"""The repository on its own, as a newcomer gets it: cloned into an empty directory (no
`../shared` beside it), installed with the README's command, served, called once, and its
test command run green.

The install reuses the packages already installed (a venv with the system site-packages and
`pip install --no-deps -e .`), so nothing is downloaded but the build backend.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT

THIS_TEST = Path(__file__).relative_to(ROOT)


def sh(*command: str | Path, cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    run = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert run.returncode == 0, f"{' '.join(map(str, command))}\n{run.stdout}\n{run.stderr}"
    return run.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(base: str, server: subprocess.Popen[str]) -> None:
    for _ in range(150):
        assert server.poll() is None, "the service exited at start-up"
        try:
            httpx.get(f"{base}/healthz", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the service did not answer within 30 s")


def test_a_fresh_clone_installs_serves_and_passes_its_tests(tmp_path: Path) -> None:
    clone = tmp_path / "newcomer" / "plp-cds"
    venv = tmp_path / "venv"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "TMPDIR": str(scratch),
        "PIP_NO_CACHE_DIR": "1",
        # The storage tests' PostgreSQL, as the outer run has it.
        **{k: os.environ[k] for k in ("CI", "TEST_DATABASE_URL") if k in os.environ},
    }
    head = sh("git", "rev-parse", "HEAD", cwd=ROOT, env=env).strip()
    sh("git", "clone", "--quiet", "--no-hardlinks", ROOT, clone, cwd=tmp_path, env=env)
    sh("git", "checkout", "--quiet", "--detach", head, cwd=clone, env=env)
    assert not (clone.parent / "shared").exists()

    # README: python3 -m pip install -e .
    sh(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv, cwd=clone,
       env=env)  # fmt: skip
    sh(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet",
       "--no-deps", "-e", ".", cwd=clone, env=env, timeout=300)  # fmt: skip

    # README: plp-cds serve (on a free port), and one hook call from "Try it".
    port = free_port()
    server = subprocess.Popen(
        [venv / "bin" / "plp-cds", "serve", "--port", str(port)],
        cwd=clone,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server)
        response = httpx.post(
            f"{base}/cds-services/phantom-limb-pain-patient-view",
            content=(clone / "examples" / "patient-view.json").read_bytes(),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert response.status_code == 200, response.text
    [card] = json.loads(response.text)["cards"]
    assert card["summary"].startswith("Phantom limb pain, step 1:")

    # README: python3 -m pytest (all of it but this test, which would clone again).
    out = sh(venv / "bin" / "python", "-m", "pytest", "-rs",
             f"--ignore={THIS_TEST}", cwd=clone, env=env, timeout=600)  # fmt: skip
    summary = out.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, out

    # The tests wrote nothing into the clone: what is there beyond the repository is the
    # install's metadata, bytecode, and the database of the service served above.
    status = sh("git", "status", "--porcelain", "--ignored", "--untracked-files=all", cwd=clone,
                env=env)  # fmt: skip
    extra = {line[3:] for line in status.splitlines()}
    assert {
        path
        for path in extra
        if "__pycache__/" not in path and ".egg-info/" not in path and path != "plp-cds.db"
    } == set()
