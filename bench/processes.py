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
    rank_peak_mb: dict[int, float] = field(default_factory=dict)  # of a distributed fit


# The child reports its own peak: Linux carries the parent's high-water mark into a child's
# ru_maxrss across fork and exec, so wait4's figure is never below the benchmark process's
# own size. VmHWM belongs to the address space that exec created, the child's alone.
WRAPPER = """
import atexit, runpy, sys
def peak():
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM"))
    sys.stderr.write(f"\\nbench-peak-kb {kb}\\n")
atexit.register(peak)
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__") if sys.argv[0] == "forecastr" else exec(
    compile(sys.argv[1], "<bench>", "exec")) if sys.argv[0] == "-c" else None
"""


def run(args: list[str], forecastr: bool = True, env: dict[str, str] | None = None) -> Run:
    """`python -m forecastr ARGS` (or `python -c CODE`): wall time, and the child's own
    peak resident memory as it reports it at exit; for a distributed fit (`--nproc`), each
    rank's peak too. `env`: the child's environment (default: this process's)."""
    command = [sys.executable, "-c", WRAPPER, *(["forecastr"] if forecastr else []), *args]
    rank_peaks: dict[int, float] = {}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        pid = os.posix_spawn(sys.executable, command, os.environ if env is None else env,
                             file_actions=[
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        if "--nproc" in args:  # the ranks are the launcher's children: watch their peaks
            while not (done := os.waitpid(pid, os.WNOHANG))[0]:
                for rank, megabytes in _ranks_peak_mb(pid).items():
                    rank_peaks[rank] = max(megabytes, rank_peaks.get(rank, 0.0))
                time.sleep(0.1)
            status = done[1]
        else:
            _, status = os.waitpid(pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {stderr[-2000:]}")
    found = re.search(r"\nbench-peak-kb (\d+)\n", stderr)
    peak_mb = int(found[1]) / 1024 if found else float("nan")
    return Run(seconds, peak_mb, stdout, stderr, _phases(stderr), rank_peaks)


def _ranks_peak_mb(launcher: int) -> dict[int, float]:
    """rank -> peak resident memory so far (VmHWM) of the processes `launcher` started
    (read from /proc; the last reading before a rank exits is within 0.1 s of its end)."""
    peaks = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            if parent != launcher:
                continue
            with open(f"/proc/{entry}/environ", "rb") as environ:
                rank = [v for v in environ.read().split(b"\0") if v.startswith(b"RANK=")]
            with open(f"/proc/{entry}/status") as status:
                kb = next(line.split()[1] for line in status if line.startswith("VmHWM"))
        except (OSError, IndexError, ValueError, StopIteration):
            continue
        if rank:
            peaks[int(rank[0][5:])] = int(kb) / 1024
    return peaks


def _phases(stderr: str) -> dict[str, float]:
    phases: dict[str, float] = {}
    for line in stderr.splitlines():
        if "timings:" in line:
            for name, seconds in re.findall(r"([a-z ]+?) ([0-9.]+) s",
                                            line.split("timings:")[1]):
                phases[name.strip()] = float(seconds)
    return phases
