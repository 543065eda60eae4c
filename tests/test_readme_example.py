"""The README's worked example, run as a reader runs it: its shell block in a fresh shell
started in the repository, with what it prints compared to the output the README shows."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

from tests.conftest import ROOT

FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def worked_example() -> tuple[str, str]:
    """The example's shell block and the output block that follows it."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Worked example\n") :]
    blocks = FENCE.findall(section)
    (shell_language, script), (output_language, output) = blocks[0], blocks[1]
    assert (shell_language, output_language) == ("sh", "text")
    return script, output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_worked_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    script, expected = worked_example()
    # Another port than the README's, so the test never meets a server someone is running.
    assert "\nPORT=8001\n" in f"\n{script}"
    script = script.replace("PORT=8001\n", f"PORT={free_port()}\n", 1)
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        # mktemp -d, and so everything the example writes, lands in the test's directory.
        "TMPDIR": str(tmp_path),
        # The service the example starts runs this checkout's code.
        "PYTHONPATH": str(ROOT),
    }
    shell = subprocess.Popen(
        ["bash", "-e", "-c", script],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = shell.communicate(timeout=120)
    finally:
        # Whatever happened, nothing the example started outlives the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
    logs = "\n".join(p.read_text() for p in tmp_path.glob("*/service.log"))
    assert shell.returncode == 0, f"{err}\n{logs}"
    assert out == expected, f"{err}\n{logs}"
