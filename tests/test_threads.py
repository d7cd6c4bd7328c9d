"""The thread policy: how many threads torch computes with, never more than the affinity mask
and the cgroup CPU quota allow, OMP_NUM_THREADS first; --threads on fit, predict and evaluate,
and what the summary, --verbose and info say of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from forecastr.network import threads
from forecastr.network.threads import ThreadPlan, cgroup_quota, limited, plan, usable_cpus

QUICK = ["--window", "12", "--horizon", "3", "--hidden", "4", "--epochs", "1",
         "--epoch-size", "32", "--batch-size", "16", "--val-windows", "1", "--device", "cpu"]


@pytest.mark.parametrize(("requested", "processes", "cpus", "expected"), [
    (None, 1, 8, ThreadPlan(1, "default")),
    (4, 1, 8, ThreadPlan(4, "--threads 4")),
    (4, 1, 2, ThreadPlan(2, "--threads 4, capped at the 2 CPUs this process may use")),
    (None, 4, 2, ThreadPlan(1, "default")),  # a share is never below one thread
    (4, 4, 8, ThreadPlan(2, "--threads 4, capped at this process's share of 8 CPUs")),
    (2, 3, 8, ThreadPlan(2, "--threads 2")),
])
def test_the_plan_is_the_request_or_the_default_within_the_processs_share(
        requested, processes, cpus, expected):
    assert plan(requested, processes, environ={}, cpus=cpus) == expected


def test_the_users_omp_num_threads_wins_but_not_the_launchers_share():
    assert plan(1, 1, environ={"OMP_NUM_THREADS": "3"}, cpus=2) == \
        ThreadPlan(3, "OMP_NUM_THREADS=3")
    # fit --nproc gave this process its share through OMP_NUM_THREADS: the policy decides
    launched = {"OMP_NUM_THREADS": "2", threads.LAUNCHER_MARK: "2", "LOCAL_WORLD_SIZE": "2"}
    assert plan(None, environ=launched, cpus=4) == ThreadPlan(1, "default")
    assert plan(8, environ=launched, cpus=4) == \
        ThreadPlan(2, "--threads 8, capped at this process's share of 4 CPUs")
    # a value OpenMP would not take is not a choice
    assert plan(None, 1, environ={"OMP_NUM_THREADS": "many"}, cpus=2).reason == "default"


def test_limited_sets_torchs_threads_and_restores_them():
    before = torch.get_num_threads()
    with limited(ThreadPlan(2 if before == 1 else 1, "test")) as chosen:
        assert torch.get_num_threads() == chosen.count
    assert torch.get_num_threads() == before


def mount(tmp_path: Path, mountinfo: list[str], cgroup: list[str]) -> Path:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "mountinfo").write_text("\n".join(mountinfo) + "\n")
    (proc / "cgroup").write_text("\n".join(cgroup) + "\n")
    return proc


def limit(folder: Path, **files: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_", ".", 1)).write_text(text + "\n")


def test_a_cgroup_v2_quota_is_the_tightest_of_the_cgroup_and_its_parents(tmp_path):
    root = tmp_path / "cg2"
    proc = mount(tmp_path, [f"30 23 0:26 / {root} rw,nosuid - cgroup2 cgroup2 rw"],
                 ["0::/kubepods/pod1/box"])
    limit(root / "kubepods", cpu_max="max 100000")
    limit(root / "kubepods" / "pod1", cpu_max="150000 100000")  # --cpus 1.5
    limit(root / "kubepods" / "pod1" / "box", cpu_max="max 100000")
    assert cgroup_quota(proc) == 1.5
    limit(root / "kubepods" / "pod1" / "box", cpu_max="50000 100000")
    assert cgroup_quota(proc) == 0.5


def test_a_containers_own_cgroup_root_reads_its_quota_at_the_mount(tmp_path):
    # in a container the mount's root is the container's cgroup, which /proc/self/cgroup
    # names by its host path
    root = tmp_path / "cg2"
    proc = mount(tmp_path, [f"30 23 0:26 /docker/abc {root} rw - cgroup2 cgroup2 rw"],
                 ["0::/docker/abc"])
    limit(root, cpu_max="200000 100000")
    assert cgroup_quota(proc) == 2.0


def test_a_cgroup_v1_cfs_quota_and_no_quota(tmp_path):
    cpu = tmp_path / "cpu"
    proc = mount(tmp_path, [
        f"32 31 0:29 / {cpu} rw,relatime - cgroup cgroup rw,cpu,cpuacct",
        f"35 31 0:32 / {tmp_path / 'memory'} rw,relatime - cgroup cgroup rw,memory"],
        ["4:memory:/job", "2:cpu,cpuacct:/job", "0::/"])
    limit(cpu / "job", cpu_cfs_quota_us="300000", cpu_cfs_period_us="100000")
    limit(cpu, cpu_cfs_quota_us="-1", cpu_cfs_period_us="100000")
    assert cgroup_quota(proc) == 3.0
    limit(cpu / "job", cpu_cfs_quota_us="-1", cpu_cfs_period_us="100000")
    assert cgroup_quota(proc) is None


def test_no_cgroup_files_means_no_quota(tmp_path):
    assert cgroup_quota(tmp_path / "nowhere") is None
    proc = mount(tmp_path, ["31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw"], ["0::/"])
    assert cgroup_quota(proc) is None


def test_usable_cpus_is_the_affinity_mask_within_the_quota_rounded_up(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(threads, "cgroup_quota", lambda proc: None)
    assert usable_cpus() == 4
    monkeypatch.setattr(threads, "cgroup_quota", lambda proc: 1.5)
    assert usable_cpus() == 2
    monkeypatch.setattr(threads, "cgroup_quota", lambda proc: 0.2)
    assert usable_cpus() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3})
    monkeypatch.setattr(threads, "cgroup_quota", lambda proc: 8.0)
    assert usable_cpus() == 1


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="affinity masks are Linux's")
def test_a_process_in_a_one_cpu_affinity_mask_plans_one_thread_whatever_is_asked():
    # as `taskset -c 0 forecastr fit --threads 2` would run
    code = ("from forecastr.network.threads import plan; p = plan(2, environ={}); "
            "print(p.count, '|', p.reason)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, preexec_fn=lambda: os.sched_setaffinity(0, {0}))
    assert out.stdout.strip() == "1 | --threads 2, capped at the 1 CPUs this process may use"


def test_fit_says_its_threads_in_the_log_the_summary_and_the_model_file(cli, long_csv,
                                                                         tmp_path):
    model = tmp_path / "m.fcst"
    fitted = cli(["fit", long_csv, "-o", model, *QUICK, "--threads", "1", "--verbose"])
    assert fitted.exit_code == 0, fitted.stderr
    assert "threads: 1 thread (--threads 1)" in fitted.stderr
    assert " on cpu with 1 thread (" in fitted.stderr.splitlines()[-1]
    training = json.loads(cli(["info", model, "--json"]).stdout)["training"]
    assert (training["threads"], training["threads_reason"]) == (1, "--threads 1")
    assert json.loads(cli(["info", model, "--json"]).stdout)["config"]["threads"] == 1


def test_predict_and_evaluate_take_threads_and_say_them(cli, long_csv, tmp_path):
    model = tmp_path / "m.fcst"
    assert cli(["fit", long_csv, "-o", model, *QUICK]).exit_code == 0
    before = torch.get_num_threads()
    predicted = cli(["predict", model, long_csv, "--threads", "1", "--verbose"])
    assert predicted.exit_code == 0, predicted.stderr
    assert "threads: 1 thread (--threads 1)" in predicted.stderr
    evaluated = cli(["evaluate", model, long_csv, "--verbose"])
    assert evaluated.exit_code == 0, evaluated.stderr
    assert "threads: 1 thread (default)" in evaluated.stderr
    assert torch.get_num_threads() == before  # a library caller's setting is left as it was


@pytest.mark.parametrize("command", ["fit", "predict", "evaluate"])
def test_zero_threads_is_a_one_line_usage_error(cli, long_csv, tmp_path, command):
    args = {"fit": ["fit", long_csv, "-o", tmp_path / "m.fcst"],
            "predict": ["predict", tmp_path / "m.fcst", long_csv],
            "evaluate": ["evaluate", tmp_path / "m.fcst", long_csv]}[command]
    if command != "fit":
        assert cli(["fit", long_csv, "-o", tmp_path / "m.fcst", *QUICK]).exit_code == 0
    failed = cli([*args, "--threads", "0"])
    assert failed.exit_code == 2
    assert failed.stderr.count("\n") == 1
    assert "--threads must be" in failed.stderr and "at least 1" in failed.stderr


def test_a_yaml_file_sets_threads(cli, long_csv, tmp_path):
    (tmp_path / "fit.yaml").write_text("threads: 1\n")
    printed = cli(["fit", "--config", tmp_path / "fit.yaml", "--print-config"])
    assert "threads: 1" in printed.stdout.splitlines()
