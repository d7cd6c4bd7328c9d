"""Interrupting a fit: Ctrl-C or SIGTERM stops after the current batch and writes a
checkpoint; `--resume` continues from it and ends with exactly the weights and history of an
uninterrupted run on the CPU. A checkpoint from another run is refused."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

from forecastr import api
from forecastr.config import FitConfig
from forecastr.errors import ConfigError, DataError, Interrupted
from forecastr.modelfile.artifact import load
from forecastr.training.stopping import SignalInterrupt, StopRequest, handle_signals, on_signal
from tests.conftest import run_cli, seasonal_frame

# dropout and teacher forcing draw random numbers, so a resume that lost a random state shows
TINY = FitConfig(hidden=8, layers=1, epochs=4, batch_size=16, window=12, horizon=4,
                 val_windows=1, patience=50, dropout=0.2, mode="many-to-many", device="cpu",
                 epoch_size=0)
TINY_FLAGS = ["--hidden", "8", "--layers", "1", "--epochs", "4", "--batch-size", "16",
              "--window", "12", "--horizon", "4", "--val-windows", "1", "--patience", "50",
              "--dropout", "0.2", "--mode", "many-to-many", "--device", "cpu",
              "--epoch-size", "0"]
BATCHES_PER_EPOCH = 8  # 3 series of 60 points: 126 training windows in batches of 16


class StopAfter:
    """Asks to stop once `batches` training batches have run (counting from creation)."""

    def __init__(self, batches: int) -> None:
        self.batches, self.polled = batches, 0

    def requested(self) -> bool:
        self.polled += 1
        return self.polled >= self.batches

    def deferred(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext(self)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    data = folder / "long.csv"
    seasonal_frame().to_csv(data, index=False)
    return data, api.fit(data, TINY, folder / "reference.fcst").artifact


def assert_same_run(artifact, reference) -> None:
    assert artifact.state_dict.keys() == reference.state_dict.keys()
    for name, tensor in reference.state_dict.items():
        assert torch.equal(artifact.state_dict[name], tensor), name
    assert artifact.training["history"] == reference.training["history"]
    assert artifact.training["best_epoch"] == reference.training["best_epoch"]


@pytest.mark.parametrize("batches", [3, BATCHES_PER_EPOCH, 2 * BATCHES_PER_EPOCH + 5])
def test_resume_ends_exactly_where_an_uninterrupted_run_ends(reference, tmp_path, batches):
    data, expected = reference
    output = tmp_path / "m.fcst"
    with pytest.raises(Interrupted) as stopped:
        api.fit(data, TINY, output, stop=StopAfter(batches))
    epoch, batch = divmod(batches - 1, BATCHES_PER_EPOCH)
    assert f"epoch {epoch + 1}, batch {batch + 1} of {BATCHES_PER_EPOCH}" in str(stopped.value)
    checkpoint = tmp_path / "m.fcst.ckpt"
    assert stopped.value.checkpoint == str(checkpoint) and checkpoint.is_file()
    assert not output.exists()  # no model until training finishes
    resumed = api.fit(data, TINY, output, resume=True)
    assert_same_run(resumed.artifact, expected)
    assert_same_run(load(output), expected)
    assert resumed.artifact.training["resumed"] is True
    assert not checkpoint.exists()  # the run is over


def test_resume_at_the_step_bound_takes_no_extra_step(reference, tmp_path):
    data, _ = reference
    bounded = dataclasses.replace(TINY, max_steps=BATCHES_PER_EPOCH + 2, ensemble=2)
    expected = api.fit(data, bounded).artifact
    output = tmp_path / "m.fcst"
    with pytest.raises(Interrupted):  # stopped by the signal on the very last step
        api.fit(data, bounded, output, stop=StopAfter(BATCHES_PER_EPOCH + 2))
    resumed = api.fit(data, bounded, output, resume=True).artifact
    assert_same_run(resumed, expected)
    assert (resumed.training["steps"], resumed.training["stopped"]) == (10, "max_steps")


def test_interrupted_twice_still_reaches_the_same_weights(reference, tmp_path):
    data, expected = reference
    output = tmp_path / "m.fcst"
    with pytest.raises(Interrupted):
        api.fit(data, TINY, output, stop=StopAfter(5))
    with pytest.raises(Interrupted):
        api.fit(data, TINY, output, stop=StopAfter(12), resume=True)
    assert_same_run(api.fit(data, TINY, output, resume=True).artifact, expected)


def test_a_fresh_fit_warns_of_and_keeps_another_run_s_checkpoint(reference, tmp_path,
                                                                    caplog):
    data, expected = reference
    output = tmp_path / "m.fcst"
    with pytest.raises(Interrupted):
        api.fit(data, TINY, output, stop=StopAfter(3))
    kept = (tmp_path / "m.fcst.ckpt").read_bytes()
    wider = dataclasses.replace(TINY, hidden=16, epochs=1)  # another run, to the same -o
    with caplog.at_level(logging.WARNING, logger="forecastr"):
        api.fit(data, wider, output)
    assert f"{output}.ckpt: an interrupted run's checkpoint is there; this fit starts " \
        "afresh" in caplog.text
    assert (tmp_path / "m.fcst.ckpt").read_bytes() == kept  # the finishing run did not write it
    assert_same_run(api.fit(data, TINY, output, resume=True).artifact, expected)
    assert not (tmp_path / "m.fcst.ckpt").exists()  # a resumed run removes its own


def test_a_checkpoint_of_another_run_is_refused(reference, tmp_path):
    data, _ = reference
    output = tmp_path / "m.fcst"
    with pytest.raises(ConfigError, match="no checkpoint .*m.fcst.ckpt to continue from"):
        api.fit(data, TINY, output, resume=True)
    with pytest.raises(Interrupted):
        api.fit(data, TINY, output, stop=StopAfter(3))
    wider = dataclasses.replace(TINY, hidden=16)
    with pytest.raises(ConfigError, match="had --hidden 8, this one 16; resume with the same"):
        api.fit(data, wider, output, resume=True)
    other = tmp_path / "other.csv"
    seasonal_frame(seed=1).to_csv(other, index=False)
    with pytest.raises(DataError, match="the data differ from those the interrupted run"):
        api.fit(other, TINY, output, resume=True)
    assert (tmp_path / "m.fcst.ckpt").is_file()  # refusals keep the checkpoint
    # a checkpoint is not a model: info names what it is
    info = run_cli(["info", tmp_path / "m.fcst.ckpt"])
    assert info.exit_code == 2 and "not a forecastr model file but a forecastr checkpoint" \
        in info.stderr


def test_without_an_output_there_is_nowhere_to_checkpoint(reference):
    data, _ = reference
    with pytest.raises(Interrupted, match="no checkpoint written") as stopped:
        api.fit(data, TINY, stop=StopAfter(2))
    assert stopped.value.checkpoint is None


def test_first_signal_defers_to_the_batch_a_second_one_interrupts():
    stop = StopRequest()
    with pytest.raises(SignalInterrupt):  # outside training: at once
        on_signal(stop, signal.SIGTERM)
    stop = StopRequest()
    with stop.deferred():
        on_signal(stop, signal.SIGINT)
        assert stop.requested() and stop.signal == signal.SIGINT
        with pytest.raises(SignalInterrupt):
            on_signal(stop, signal.SIGINT)
    assert not stop.deferring


def test_two_signals_that_a_handler_sees_as_one_still_interrupt():
    stop = StopRequest()
    with stop.deferred(), pytest.raises(SignalInterrupt):
        on_signal(stop, signal.SIGINT, deliveries=2)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_second_signal_during_one_long_torch_call_interrupts_after_it():
    # both arrive while the main thread is inside one call, so CPython runs the Python-level
    # handler once for the two
    stop = StopRequest()
    matrix = torch.randn(2500, 2500, dtype=torch.float64)

    def send_two() -> None:
        time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=send_two)
    with handle_signals(stop), stop.deferred():
        sender.start()
        with pytest.raises(SignalInterrupt):
            matrix @ matrix  # about 1 s on one idle core, in C++ throughout
            time.sleep(30)  # not reached where the handler interrupted: it must not defer
    sender.join()
    assert stop.signal == signal.SIGINT


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143),
                                            (getattr(signal, "SIGHUP", None), 129)])
def test_a_real_signal_checkpoints_and_resume_matches(tmp_path, signum, status):
    data = tmp_path / "long.csv"
    seasonal_frame(n_series=4, length=80).to_csv(data, index=False)
    flags = ["--hidden", "8", "--layers", "1", "--window", "12", "--horizon", "4",
             "--epochs", "30", "--patience", "100", "--batch-size", "16", "--device", "cpu"]
    output = tmp_path / "m.fcst"
    output.write_bytes(b"the previous model")
    command = [sys.executable, "-m", "forecastr", "fit", str(data), "-o", str(output), "-v",
               *flags]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in process.stderr:  # wait until training runs, then signal mid-epoch
        lines.append(line)
        if "epoch 2/30" in line:
            process.send_signal(signum)
            break
    lines += process.stderr.readlines()
    assert process.wait(timeout=60) == status, "".join(lines)
    last = lines[-1]
    assert last.startswith("forecastr: interrupted: training stopped at epoch ")
    assert f"checkpoint written to {output}.ckpt; to continue: forecastr " in last
    assert last.rstrip().endswith("--resume")
    assert output.read_bytes() == b"the previous model"  # untouched until a model is trained
    resumed = run_cli(["fit", data, "-o", output, "--resume", "-q", *flags])
    assert resumed.exit_code == 0, resumed.stderr
    assert not (tmp_path / "m.fcst.ckpt").exists()
    reference = tmp_path / "reference.fcst"
    assert run_cli(["fit", data, "-o", reference, "-q", *flags]).exit_code == 0
    assert_same_run(load(output), load(reference))


def first_key(state: dict) -> str:
    return next(iter(state["model"]))


DAMAGED_STATES = {
    "weights of another shape": (lambda s: s["model"].update({first_key(s): torch.zeros(3)}),
                                 "model weights do not fit the network"),
    "NaN best weights": (lambda s: s["progress"]["best_state"][first_key(s)].fill_(math.nan),
                         "best weights do not fit the network"),
    "windows beyond the data": (lambda s: s["progress"]["order"].fill_(10**6),
                                "its drawn windows are not windows of these data"),
    "a negative epoch": (lambda s: s["progress"].update(epoch=-1),
                         "its epoch, batch or step counts are not counts"),
    "a count that is text": (lambda s: s["progress"].update(steps="3"),
                             "its epoch, batch or step counts are not counts"),
    "optimiser moments of another shape": (
        lambda s: s["optimiser"]["state"][0].update(exp_avg=torch.zeros(2)),
        "optimiser moments do not fit the weights"),
    "a random state of another size": (lambda s: s["random"].update(generator=torch.zeros(
        3, dtype=torch.uint8)), "corrupt checkpoint ("),
    "a stride-0 tensor": (lambda s: s["progress"].update(
        order=torch.zeros(1, dtype=torch.int64).expand(10**9)),
        "a tensor is not laid out as a plain array of its values"),
}


@pytest.mark.parametrize("case", sorted(DAMAGED_STATES))
def test_a_damaged_checkpoint_is_a_one_line_error_before_training(reference, tmp_path, case):
    data, _ = reference
    output = tmp_path / "m.fcst"
    with pytest.raises(Interrupted):
        api.fit(data, TINY, output, stop=StopAfter(3))
    checkpoint = tmp_path / "m.fcst.ckpt"
    content = torch.load(checkpoint, weights_only=True)
    damage, reason = DAMAGED_STATES[case]
    damage(content["state"])
    torch.save(content, checkpoint)
    result = run_cli(["fit", data, "-o", output, "--resume", *TINY_FLAGS])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"forecastr: error: {checkpoint}: corrupt checkpoint (")
    assert reason in result.stderr and result.stderr.endswith(
        "; run without --resume to start over\n") and result.stderr.count("\n") == 1
    assert not output.exists()
