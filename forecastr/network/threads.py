"""How many threads torch computes with on the CPU: the CPUs this process may use (affinity
mask, cgroup quota), the policy within them, and torch set to it while a command runs."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# One thread per process. Torch's threads run in lock step, and one that another process's
# work descheduled stalls every step: on two cores beside one busy process, one thread
# trained 1.2x-4.7x as fast as two at every size of bench/results/threads.md (median 2.3x).
# Idle, two threads were faster at most sizes (one ran at 0.53x-1.14x their speed; 0.89x-
# 0.92x for the default GRU): that is the price of a default that is safe on shared
# machines, and --threads 2 buys it back on a machine known to be idle.
DEFAULT_THREADS = 1
# set by fit --nproc beside the OMP_NUM_THREADS it gives its processes
LAUNCHER_MARK = "FORECASTR_LAUNCHER_THREADS"


@dataclass(frozen=True)
class ThreadPlan:
    """The intra-op threads torch will use, and why that many."""

    count: int
    reason: str  # e.g. "default", "--threads 4", "OMP_NUM_THREADS=3", "--threads 8, capped..."

    def describe(self) -> str:
        return f"{self.count} thread{'s' if self.count > 1 else ''} ({self.reason})"


def plan(requested: int | None = None, processes: int | None = None,
         environ: dict[str, str] | None = None, cpus: int | None = None) -> ThreadPlan:
    """The threads of one process: OMP_NUM_THREADS when the user set it; otherwise
    `requested` (--threads) or the default, at most this process's share of the CPUs it may
    use. `processes`: how many processes of one run share this machine's CPUs (default: the
    launcher's LOCAL_WORLD_SIZE, else 1)."""
    environ = os.environ if environ is None else environ
    user_value = environ.get("OMP_NUM_THREADS", "")
    # fit --nproc shares the CPUs out through OMP_NUM_THREADS too; that is not the user's
    if user_value and environ.get(LAUNCHER_MARK) != user_value:
        with contextlib.suppress(ValueError):
            if int(user_value) >= 1:
                return ThreadPlan(int(user_value), f"OMP_NUM_THREADS={user_value}")
    if processes is None:
        processes = int(environ.get("LOCAL_WORLD_SIZE", "") or 1)
    available = cpus if cpus is not None else usable_cpus()
    share = max(1, available // max(1, processes))
    wanted = requested if requested is not None else DEFAULT_THREADS
    reason = f"--threads {requested}" if requested is not None else "default"
    if wanted > share:
        limit = (f"this process's share of {available} CPUs" if processes > 1
                 else f"the {available} CPUs this process may use")
        return ThreadPlan(share, f"{reason}, capped at {limit}")
    return ThreadPlan(wanted, reason)


@contextlib.contextmanager
def limited(chosen: ThreadPlan) -> Iterator[ThreadPlan]:
    """torch's intra-op threads set to the plan while the body runs, then restored (a
    library caller's own setting outlives the call)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(chosen.count)
    try:
        yield chosen
    finally:
        torch.set_num_threads(before)


def usable_cpus(proc: Path = Path("/proc/self")) -> int:
    """The CPUs this process may use: its affinity mask (taskset, cpusets), and no more than
    its cgroup's CPU quota (docker --cpus, a Kubernetes CPU limit) rounded up, which
    os.cpu_count() does not see."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        count = os.cpu_count() or 1
    quota = cgroup_quota(proc)
    return max(1, min(count, math.ceil(quota))) if quota is not None else max(1, count)


def cgroup_quota(proc: Path = Path("/proc/self")) -> float | None:
    """CPUs' worth of time per period that this process's cgroups allow (the tightest of the
    cgroup and its ancestors; v2 cpu.max or v1 cpu.cfs_quota_us), or None for no limit."""
    try:
        mounts = (proc / "mountinfo").read_text().splitlines()
        memberships = (proc / "cgroup").read_text().splitlines()
    except OSError:
        return None
    paths = {}  # controller ("" for the unified v2 hierarchy) -> the process's cgroup path
    for line in memberships:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        for controller in controllers.split(",") if hierarchy != "0" else [""]:
            paths[controller] = path
    limits = []
    for line in mounts:
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        fstype, *_, options = line.split(" - ", 1)[1].split()
        root, mount_point = fields[3], Path(fields[4])
        if fstype == "cgroup2" and "" in paths:
            limits += _quotas(mount_point, root, paths[""], _cpu_max)
        elif fstype == "cgroup" and "cpu" in options.split(",") and "cpu" in paths:
            limits += _quotas(mount_point, root, paths["cpu"], _cfs_quota)
    return min(limits) if limits else None


def _quotas(mount_point: Path, root: str, path: str, read) -> list[float]:
    """The quota of the cgroup at `path` and of each of its ancestors under the mount."""
    relative = os.path.relpath(path, root) if path.startswith(root) else "."
    folder = (mount_point / relative).resolve() if relative != "." else mount_point
    found = []
    while True:
        with contextlib.suppress(OSError, ValueError):
            if (quota := read(folder)) is not None:
                found.append(quota)
        if folder == mount_point or mount_point not in folder.parents:
            return found
        folder = folder.parent


def _cpu_max(folder: Path) -> float | None:
    quota, period = (folder / "cpu.max").read_text().split()[:2]
    return None if quota == "max" else int(quota) / int(period)


def _cfs_quota(folder: Path) -> float | None:
    quota = int((folder / "cpu.cfs_quota_us").read_text())
    return None if quota < 0 else quota / int((folder / "cpu.cfs_period_us").read_text())
