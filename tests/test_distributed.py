"""Training one model on several processes (torchrun, `fit --nproc N`): each rank takes its
share of every batch, DistributedDataParallel averages the gradients over gloo, the ranks
stop together, and rank 0 alone writes the model file and the checkpoint."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from forecastr import api
from forecastr.config import FitConfig
from forecastr.errors import ConfigError
from forecastr.modelfile import artifact
from forecastr.training import distributed
from forecastr.training.distributed import Group
from tests.conftest import SAMPLE_DATA

PRISON = SAMPLE_DATA / "prison.csv.gz"  # 32 quarterly series
# no dropout: each rank draws its own masks, which a run on one process cannot match
SMALL = ["--hidden", "8", "--dropout", "0", "--batch-size", "64", "--device", "cpu",
         "--quiet"]


def test_a_batch_is_shared_so_that_the_averaged_gradient_is_the_whole_batchs():
    chosen = torch.arange(10)
    parts = [Group(rank, 3, rank).share(chosen, len(chosen)) for rank in range(3)]
    assert [p.tolist() for p, _ in parts] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    # DDP averages the ranks' gradients: sum of weight x mean over ranks = the batch's mean
    assert [w for _, w in parts] == [1.2, 0.9, 0.9] and sum(w for _, w in parts) == 3
    lonely = Group(2, 3, 2).share(torch.arange(2), 2)  # a last batch of 2 windows, 3 ranks
    assert lonely[0].tolist() == [0] and lonely[1] == 0.0
    # each rank holding its own windows (--shard-series): its part is what it drew, weighed
    # by the batch's size over all ranks
    own = Group(1, 3, 1, held=(10, 20, 30)).share(torch.tensor([4, 7]), 5)
    assert own[0].tolist() == [4, 7] and own[1] == 2 * 3 / 5


@pytest.fixture
def one_rank(monkeypatch):
    """This process as rank 0 of a group of one, over gloo on a free local port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name, value in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": "0",
                        "WORLD_SIZE": "1", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(distributed, "from_environment", lambda: Group(0, 1, 0))
    yield
    distributed.finish()


@pytest.mark.parametrize("options", [
    {"cell": "gru", "mode": "many-to-one"}, {"cell": "lstm", "mode": "many-to-many"},
    {"cell": "rnn", "mode": "many-to-many", "bidirectional": True, "quantiles": (0.1, 0.9)},
    {"cell": "gru", "mode": "many-to-one", "segment": 4, "ensemble": 2, "dropout": 0.2},
    {"cell": "lstm", "mode": "many-to-one", "intervals": (80.0,), "interval_method": "conformal"}])
def test_distributed_training_on_one_rank_is_exactly_training_without_it(one_rank, options,
                                                                        tmp_path, monkeypatch):
    # every cell and mode under DistributedDataParallel: no parameter left out of a batch
    # (DDP would fail), and with one rank the same arithmetic as a plain run
    cfg = FitConfig(hidden=8, layers=2, window=8, horizon=4, max_steps=6, batch_size=32,
                    val_windows=2, seed=3, **options)
    shared = api.fit(PRISON, cfg, tmp_path / "ddp.fcst").artifact
    monkeypatch.setattr(distributed, "from_environment", distributed.Alone)
    plain = api.fit(PRISON, cfg, tmp_path / "plain.fcst").artifact
    assert shared.training["processes"] == 1 and shared.training["steps"] == 6
    for name, tensor in plain.state_dict.items():
        assert torch.equal(tensor, shared.state_dict[name]), name
    if cfg.intervals:  # calibrated by rank 0 on every validation window, as one process does
        assert (shared.conformal["widths"] == plain.conformal["widths"]).all()


def test_fit_leaves_the_process_group_it_joined_and_not_one_the_caller_set_up(one_rank,
                                                                            tmp_path):
    import torch.distributed as dist

    cfg = FitConfig(hidden=4, window=8, horizon=4, max_steps=2)
    api.fit(PRISON, cfg, tmp_path / "a.fcst")
    assert not dist.is_initialized()  # joined and left by fit
    dist.init_process_group("gloo")  # the caller's own, for work of its own around fit
    api.fit(PRISON, cfg, tmp_path / "b.fcst")
    assert dist.is_initialized()
    dist.destroy_process_group()


def forecastr_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "forecastr", *map(str, args)]


def run_forecastr(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(forecastr_command(*args), capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_two_processes_train_the_model_one_process_trains_with_the_same_global_batch(
        tmp_path):
    one, two = tmp_path / "one.fcst", tmp_path / "two.fcst"
    steps = ["--max-steps", "30", "--seed", "5"]
    assert run_forecastr("fit", PRISON, "-o", one, *SMALL, *steps).returncode == 0
    launched = run_forecastr("fit", PRISON, "-o", two, *SMALL, *steps, "--nproc", "2")
    assert launched.returncode == 0, launched.stderr
    assert not (tmp_path / "two.fcst.ckpt").exists()
    single, double = artifact.load(one), artifact.load(two)
    assert (single.training["processes"], double.training["processes"]) == (1, 2)
    assert single.training["steps"] == double.training["steps"] == 30
    # an ordinary model file: it predicts like any other
    forecasts = [pd.read_csv(io.StringIO(run_forecastr("predict", m, PRISON).stdout))
                 for m in (one, two)]
    # equal but for float rounding: the two halves' losses are summed and the gradients
    # averaged in another order than one process sums them, and Adam carries the last bits
    pd.testing.assert_frame_equal(forecasts[0], forecasts[1], check_exact=False, rtol=1e-3)
    weights = max(float((single.state_dict[k] - double.state_dict[k]).abs().max())
                  for k in single.state_dict)
    assert 0 <= weights < 1e-3


def _children(pid: int) -> dict[int, int]:
    """rank -> pid of the processes `pid` started (read from /proc)."""
    ranks = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        rank = [e for e in environ if e.startswith(b"RANK=")]
        if parent == pid and rank:
            ranks[int(rank[0][5:])] = int(entry.name)
    return ranks


LONG = ["--epochs", "400", "--patience", "400", "--max-steps", "100000", "--epoch-size", "64",
        "--nproc", "2"]


def signal_at_epoch_3(model: Path, signum: int, rank: int | None = 1,
                      fit: list | None = None) -> tuple[subprocess.Popen, dict[int, int]]:
    """Start a 2-process fit (by default of PRISON; `fit`: its arguments after `fit`), send
    `signum` to `rank` (None: to the launcher) once rank 0 has logged epoch 3; the launcher
    (its stderr is left to read) and the ranks' process ids."""
    fit = fit or [PRISON, *SMALL[:-1], *LONG]
    started = subprocess.Popen(forecastr_command("fit", "-o", model, "--verbose", *fit),
                               stderr=subprocess.PIPE, text=True)
    seen = []
    for line in started.stderr:
        seen.append(line)
        if re.search(r"epoch\s+3\b", line):
            break
    ranks = _children(started.pid)
    assert sorted(ranks) == [0, 1], "".join(seen)  # what the run said, if it ended early
    os.kill(started.pid if rank is None else ranks[rank], signum)
    return started, ranks


def signal_rank_1(model: Path, signum: int, fit: list | None = None) -> tuple[int, str]:
    """signal_at_epoch_3 to rank 1: the launcher's exit status and the rest of its stderr."""
    started, _ = signal_at_epoch_3(model, signum, fit=fit)
    rest = started.stderr.read()
    return started.wait(timeout=120), rest


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc (Linux)")
def test_sigterm_to_one_rank_stops_all_with_one_checkpoint_and_resume_finishes(tmp_path):
    model = tmp_path / "m.fcst"
    status, rest = signal_rank_1(model, signal.SIGTERM)
    assert status == 143, rest
    assert (tmp_path / "m.fcst.ckpt").is_file() and not model.exists()
    assert rest.count("checkpoint written to") == 1, rest  # rank 0 wrote it and says so
    assert "--resume --nproc 2" in rest  # the command that continues it
    resumed = run_forecastr("fit", PRISON, "-o", model, *SMALL, *LONG, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert model.is_file() and not (tmp_path / "m.fcst.ckpt").exists()
    assert artifact.load(model).training["resumed"] is True
    other = run_forecastr("fit", PRISON, "-o", model, *SMALL, "--resume")
    assert other.returncode == 2 and "no checkpoint" in other.stderr


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc (Linux)")
def test_a_rank_that_dies_ends_the_run_with_one_line_errors_not_a_hang(tmp_path):
    model = tmp_path / "m.fcst"
    status, rest = signal_rank_1(model, signal.SIGKILL)
    assert status == 137, rest
    assert "forecastr: error: process 1 of 2 was killed by SIGKILL" in rest
    assert all(line.startswith("forecastr: ") for line in rest.splitlines()), rest
    assert not model.exists()


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_a_signal_to_the_launcher_checkpoints_with_the_exit_status_of_one_process(
        tmp_path, signum, status):
    model = tmp_path / "m.fcst"
    started, _ = signal_at_epoch_3(model, signum, rank=None)
    rest = started.stderr.read()
    assert started.wait(timeout=120) == status, rest
    # one line from rank 0, as a fit on one process gives: no warning or internal error from
    # torch's launcher
    assert all(line.startswith("forecastr: ") for line in rest.splitlines()), rest
    assert rest.count("forecastr: interrupted: ") == 1, rest
    assert "checkpoint written to" in rest and "--resume --nproc 2" in rest
    assert (tmp_path / "m.fcst.ckpt").is_file() and not model.exists()


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc (Linux)")
def test_processes_whose_launcher_was_killed_end_without_writing(tmp_path):
    model = tmp_path / "m.fcst"
    started, ranks = signal_at_epoch_3(model, signal.SIGKILL, rank=None)
    assert started.wait(timeout=60) == -signal.SIGKILL
    deadline = time.monotonic() + 60
    while any(Path(f"/proc/{pid}").exists() for pid in ranks.values()):
        assert time.monotonic() < deadline, "the ranks outlived their launcher"
        time.sleep(0.1)
    started.stderr.close()
    assert not model.exists() and not (tmp_path / "m.fcst.ckpt").exists()
    assert list(tmp_path.iterdir()) == []  # nor a temporary file


def test_the_failure_that_ended_a_run_is_its_cause_not_the_others_that_followed():
    from types import SimpleNamespace as Failure

    from forecastr.cli.launch import cause

    bad_input = {0: Failure(exitcode=-15, timestamp=7), 1: Failure(exitcode=2, timestamp=7)}
    assert cause(bad_input)[0] == 1  # rank 0 was only stopped by the launcher
    killed = {0: Failure(exitcode=1, timestamp=5), 1: Failure(exitcode=-9, timestamp=6)}
    assert cause(killed)[0] == 1  # rank 0 only noticed (PeerFailed)
    stopped = {0: Failure(exitcode=143, timestamp=9), 1: Failure(exitcode=143, timestamp=8)}
    assert cause(stopped)[0] == 1  # alike: the earliest
    noticed = {0: Failure(exitcode=1, timestamp=3), 1: Failure(exitcode=1, timestamp=3)}
    assert cause(noticed)[0] == 0  # nothing more telling: the earliest, the lowest rank
    # rank 0 still reading when the launcher stopped it: its handler of SIGTERM exits 143,
    # in the same second of torch's clock as rank 1's bad input; their own reports say
    # which ended first
    reported = {0: Failure(exitcode=143, timestamp=7, error_file_data={"timestamp": 7.61}),
                1: Failure(exitcode=2, timestamp=7, error_file_data={"timestamp": 7.52})}
    assert cause(reported)[0] == 1
    crashed = {0: Failure(exitcode=143, timestamp=7, error_file_data={"timestamp": 7.2}),
               1: Failure(exitcode=-9, timestamp=7, error_file_data={"message": ""})}
    assert cause(crashed)[0] == 1  # no report: torch's second, rounded down, came first


def test_each_process_reports_its_status_and_end_to_the_launcher(tmp_path, monkeypatch):
    from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

    from forecastr.cli.launch import cause, report_status

    failures = {}
    for rank, code in [(1, 2), (0, 143)]:  # rank 1 ends first, then rank 0 is stopped
        reply = tmp_path / f"{rank}.json"  # the file torch's launcher gives each process
        monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(reply))
        report_status(code)
        failures[rank] = ProcessFailure(local_rank=rank, pid=1, exitcode=code,
                                        error_file=str(reply))  # read as torch reads it
    assert cause(failures)[0] == 1
    assert "forecastr exited with status 2" in failures[1].message
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", "")  # torch's launcher logging nowhere
    report_status(2)


def test_resuming_with_another_number_of_processes_is_refused(tmp_path):
    from forecastr.training import checkpoint

    path = tmp_path / "m.ckpt"
    checkpoint.save(path, {}, FitConfig(), "digest", processes=2)
    with pytest.raises(ConfigError, match="trained on 2 process\\(es\\), this one on 1"):
        checkpoint.load(path, FitConfig(), "digest", 1)


def test_a_distributed_fit_needs_a_file_not_stdin(cli):
    result = cli(["fit", "-", "-o", "m.fcst", "--nproc", "2"], input="a,b\n")
    assert result.exit_code == 2 and "must be a file, not stdin" in result.stderr
