"""Running forecastr (or any Python code) in a child process and measuring what the user
feels: wall time, peak resident memory, and the per-phase timings that --verbose logs."""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field


@dataclass
class Run:
    seconds: float  # wall time of the whole process, start-up included
    peak_mb: float  # peak resident set size of the child alone
    stdout: str
    stderr: str
    phases: dict[str, float] = field(default_factory=dict)  # from "timings:" log lines


def run(args: list[str], forecastr: bool = True) -> Run:
    """`python -m forecastr ARGS` (or `python ARGS`): wall time and the child's own peak RSS
    (os.wait4 reports the usage of that one child, not a maximum over all children)."""
    command = [sys.executable, *(["-m", "forecastr"] if forecastr else []), *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        pid = os.posix_spawn(sys.executable, command, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {stderr[-2000:]}")
    return Run(seconds, usage.ru_maxrss / 1024, stdout, stderr, _phases(stderr))


def _phases(stderr: str) -> dict[str, float]:
    phases: dict[str, float] = {}
    for line in stderr.splitlines():
        if "timings:" in line:
            for name, seconds in re.findall(r"([a-z ]+?) ([0-9.]+) s",
                                            line.split("timings:")[1]):
                phases[name.strip()] = float(seconds)
    return phases
