"""Faults during long work: a process killed with SIGKILL at any moment leaves the output path
holding either the previous complete file or the new complete file, never a partial one."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from forecastr.artifact import load
from tests.conftest import SAMPLE_DATA, run_cli, seasonal_frame

TINY = ["--hidden", "8", "--layers", "1", "--window", "24", "--horizon", "6"]


def kill_at(command: list[str], delay: float) -> None:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_during_predict_never_leaves_a_partial_file(tmp_path):
    model = tmp_path / "m.fcst"
    assert run_cli(["fit", SAMPLE_DATA / "long.csv", "-o", model, "--epochs", "1",
                    *TINY]).exit_code == 0
    data = tmp_path / "many.csv"
    seasonal_frame(n_series=1500, length=30).to_csv(data, index=False)
    output = tmp_path / "forecast.csv"
    old = b"unique_id,ds,y\nold,2000-01-01,1\n"
    output.write_bytes(old)
    command = [sys.executable, "-m", "forecastr", "predict", str(model), str(data), "-o",
               str(output), "--with-history"]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    duration = time.perf_counter() - started
    complete = output.read_bytes()
    assert complete.count(b"\n") == 1500 * 36 + 1
    for share in (0.8, 0.87, 0.93, 0.98):  # the output is written near the end of the run
        output.write_bytes(old)
        kill_at(command, duration * share)
        assert output.read_bytes() in (old, complete)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_during_fit_leaves_the_previous_model_or_a_complete_one(tmp_path):
    output = tmp_path / "m.fcst"
    command = [sys.executable, "-m", "forecastr", "fit", str(SAMPLE_DATA / "long.csv"), "-o",
               str(output), "--epochs", "2", *TINY]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    duration = time.perf_counter() - started
    previous = output.read_bytes()
    for share in (0.9, 0.97):  # the model file is written at the very end
        kill_at(command, duration * share)
        if output.read_bytes() != previous:
            load(output)  # a replaced file must be a whole, loadable model
            previous = output.read_bytes()
