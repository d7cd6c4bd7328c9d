"""forecastr tune: a search over fit's options, each trial scored on origins it never trained
on; reproducible with a seed, resumable after an interruption with the same result, its
space file checked key by key."""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from forecastr import api
from forecastr.config import FitConfig
from forecastr.data.reader import read_panel
from forecastr.errors import ConfigError, Interrupted
from forecastr.modelfile.artifact import load
from forecastr.training import fitting
from forecastr.training.stopping import StopRequest
from forecastr.tuning import holdout, search, trial_loop
from forecastr.tuning.space import Choice, Span, load_space
from tests.conftest import run_cli, seasonal_frame

SMALL = FitConfig(max_steps=15, batch_size=32, epoch_size=128, window=12, horizon=4,
                  device="cpu")
SPACE = {"hidden": Choice((8, 16)), "lr": Span(1e-3, 1e-2, log=True)}
FLAGS = ["--max-steps", "15", "--batch-size", "32", "--epoch-size", "128", "--window", "12",
         "--horizon", "4", "--device", "cpu"]
SPACE_YAML = "hidden: [8, 16]\nlr: {low: 0.001, high: 0.01, log: true}\n"


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "d.csv"
    seasonal_frame(n_series=3, length=60).to_csv(path, index=False)
    return path


def scored(result):
    return [(r.number, r.state, r.score, r.options) for r in result.trials]


def test_a_search_scores_the_defaults_first_and_writes_the_best_as_a_model_file(data, tmp_path):
    out = tmp_path / "m.fcst"
    result = api.tune(data, SMALL, out, space=SPACE, trials=3)
    assert [r.number for r in result.trials] == [1, 2, 3]
    assert result.trials[0].defaults and result.defaults == result.trials[0]
    # the default lr lies in the space and is kept; the default hidden (64) does not
    assert result.trials[0].options["lr"] == pytest.approx(1e-3)
    assert not any(r.defaults for r in result.trials[1:])
    assert all(r.state == "complete" and r.score > 0 for r in result.trials)
    best = min(result.trials, key=lambda r: r.score)
    assert result.best == best
    loaded = load(out)
    assert loaded.config.hidden == best.options["hidden"]
    assert loaded.config.lr == pytest.approx(best.options["lr"])
    assert set(result.references) == {"naive", "seasonal_naive", "theta"}
    table = pd.read_csv(tmp_path / "m.trials.csv")
    assert list(table["trial"]) == [1, 2, 3]
    assert list(table.columns[:6]) == ["trial", "state", "mase", "seconds", "defaults", "error"]
    assert np.allclose(table["mase"], [r.score for r in result.trials])


def test_the_same_seed_gives_the_same_search(data, tmp_path):
    first = api.tune(data, SMALL, tmp_path / "a.fcst", space=SPACE, trials=4)
    second = api.tune(data, SMALL, tmp_path / "b.fcst", space=SPACE, trials=4)
    other = api.tune(data, dataclasses.replace(SMALL, seed=1), tmp_path / "c.fcst",
                     space=SPACE, trials=4)
    assert scored(first) == scored(second)
    assert [r.options for r in other.trials[1:]] != [r.options for r in first.trials[1:]]


@pytest.mark.parametrize("when", ["during trial 3", "between two trials"])
def test_an_interrupted_search_resumes_to_the_result_of_one_never_interrupted(
        data, tmp_path, monkeypatch, when):
    whole = api.tune(data, SMALL, tmp_path / "whole.fcst", space=SPACE, trials=4)
    stop, fits = StopRequest(), []

    def fit_asked_to_stop(*args, **kwargs):  # as Ctrl-C before the third trial's first batch
        fits.append(1)
        if len(fits) == 3:
            stop.signal = 2
        return fitting.fit(*args, **kwargs)

    def asked_after_two(record, trials):  # as Ctrl-C while the second trial was scored
        if record.number == 2:
            stop.signal = 2

    if when.startswith("during"):
        monkeypatch.setattr(trial_loop, "fit", fit_asked_to_stop)
    out = tmp_path / "m.fcst"
    with pytest.raises(Interrupted, match=f"stopped {when}; the finished trials are kept "
                                          "in") as caught:
        api.tune(data, SMALL, out, space=SPACE, trials=4, stop=stop,
                 on_trial=None if when.startswith("during") else asked_after_two)
    monkeypatch.undo()
    assert caught.value.checkpoint == f"{out}.tune" and not out.exists()
    resumed = api.tune(data, SMALL, out, space=SPACE, trials=4, resume=True)
    states = [r.state for r in resumed.trials]
    assert states == ["complete", "complete", "cut short", "complete", "complete"] \
        if when.startswith("during") else ["complete"] * 4
    kept = [(r.score, r.options) for r in resumed.trials if r.state == "complete"]
    assert kept == [(r.score, r.options) for r in whole.trials]
    assert resumed.best.options == whole.best.options
    with pytest.raises(ConfigError, match="another space"):
        api.tune(data, SMALL, out, space={"hidden": Choice((8, 32))}, trials=5, resume=True)


def test_a_stop_asked_as_the_last_trials_end_comes_before_the_final_fit(data, tmp_path,
                                                                         monkeypatch):
    stop = StopRequest()

    def trials_then_a_signal(*args, **kwargs):  # as Ctrl-C while --jobs waits for the others
        stopped = trial_loop.run_trials(*args, **kwargs)
        stop.signal = 2
        return stopped

    monkeypatch.setattr(search, "run_trials", trials_then_a_signal)
    out = tmp_path / "m.fcst"
    with pytest.raises(Interrupted, match="tune stopped after its trials, before the final "
                                          "fit; the finished trials are kept in"):
        api.tune(data, SMALL, out, space=SPACE, trials=2, stop=stop)
    monkeypatch.undo()
    assert not out.exists()
    resumed = api.tune(data, SMALL, out, space=SPACE, trials=2, resume=True)
    assert [r.state for r in resumed.trials] == ["complete"] * 2 and out.is_file()


def test_a_resumed_search_can_go_on_for_more_trials(data, tmp_path):
    out = tmp_path / "m.fcst"
    api.tune(data, SMALL, out, space=SPACE, trials=2)
    more = api.tune(data, SMALL, out, space=SPACE, trials=3, resume=True)
    assert [r.number for r in more.trials] == [1, 2, 3]


def test_trials_are_scored_only_on_data_they_never_trained_on(data):
    panel = read_panel(data)
    held = holdout.Holdout(panel, horizon=4, folds=3, step=4, season=12)
    training = held.training_panel()
    assert list(training.lengths) == [60 - 4 - 2 * 4] * 3  # up to the earliest origin
    fitted = api.fit(training, SMALL).artifact
    from forecastr.network import device

    scored_ = holdout.score(held, fitted, device.resolve_device("cpu"))
    first_origin = panel.times[60 - 12]
    assert scored_.origin.min() == first_origin
    assert (scored_.origin > training.times[training.indptr[1] - 1]).all()


def test_a_panel_too_short_for_every_origin_is_scored_on_the_origins_it_holds(tmp_path):
    path = tmp_path / "short.csv"
    seasonal_frame(n_series=3, length=13).to_csv(path, index=False)
    held = holdout.Holdout(read_panel(path), horizon=4, folds=3, step=4, season=12)
    # 13 points hold a training window (4 + 1 points) before two origins of 4, not three
    assert held.within_history().folds == 2
    assert holdout.Holdout(held.panel, 4, 1, 4, 12).within_history().folds == 1
    eleven = tmp_path / "eleven.csv"
    seasonal_frame(n_series=3, length=11).to_csv(eleven, index=False)
    fewer = holdout.Holdout(read_panel(eleven), 4, 3, 4, 12).within_history()
    assert fewer.folds == 1 and list(fewer.training_panel().lengths) == [7] * 3
    result = run_cli(["tune", path, "-o", tmp_path / "m.fcst", "--trials", "1", *FLAGS])
    assert result.exit_code == 0, result.stderr
    assert "holds 2 origin(s) of 4 steps, 4 apart, with history before them, not 3" \
        in result.stderr
    assert result.stderr.splitlines()[-1].startswith("forecastr: tuned: 1 trial scored")
    # the trial and the final fit read the same short series: their warning is said once
    assert result.stderr.count("left-padded 3 series shorter than window + horizon") == 1


def test_a_search_scored_on_few_forecasts_says_so(tmp_path):
    path = tmp_path / "one.csv"
    seasonal_frame(n_series=1, length=60).to_csv(path, index=False)
    assert holdout.Holdout(read_panel(path), 4, 3, 4, 12).forecasts == 3
    result = run_cli(["tune", path, "-o", tmp_path / "m.fcst", "--trials", "1", *FLAGS])
    assert result.exit_code == 0, result.stderr
    assert "trials are scored on 3 forecasts only (series x origins)" in result.stderr
    more = run_cli(["tune", path, "-o", tmp_path / "m.fcst", "--trials", "1", "--folds", "6",
                    *FLAGS])
    assert more.exit_code == 0 and "forecasts only" not in more.stderr


def test_a_panel_too_short_for_one_origin_is_a_one_line_error(tmp_path):
    path = tmp_path / "short.csv"
    seasonal_frame(n_series=2, length=5).to_csv(path, index=False)
    result = run_cli(["tune", path, "-o", tmp_path / "m.fcst", *FLAGS])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "no series is long enough to hold out 1 origin(s) of 4 steps" in result.stderr
    assert "give a shorter --horizon or more history" in result.stderr


def test_the_command_writes_a_model_a_table_and_one_summary_line(data, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text(SPACE_YAML)
    out, table = tmp_path / "m.fcst", tmp_path / "trials.json"
    result = run_cli(["tune", data, "-o", out, "--space", space, "--trials", "2",
                      "--table", table, *FLAGS])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("forecastr: tuned: 2 trials scored")
    assert "the defaults'" in lines[0] and "seasonal naive" in lines[0]
    rows = [json.loads(line) for line in table.read_text().splitlines()]  # JSON lines
    assert [row["trial"] for row in rows] == [1, 2]
    assert load(out).config.hidden in (8, 16)


@pytest.mark.parametrize("text, message", [
    ("hiden: [8, 16]\n", "unknown key 'hiden' (did you mean 'hidden'?)"),
    ("seed: [1, 2]\n", "'seed' cannot be searched"),
    ("hidden: [8, -1]\n", "hidden"),
    ("lr: {low: 0.01, high: 0.001}\n", "needs low < high"),
    ("cell: {low: 1, high: 2}\n", "'cell' is not a number"),
    ("hidden: 8\n", "must be a list of values"),
    ("- hidden\n", "must be a mapping"),
])
def test_a_bad_space_file_is_a_one_line_error(data, tmp_path, text, message):
    space = tmp_path / "space.yaml"
    space.write_text(text)
    with pytest.raises(ConfigError, match="space.yaml") as caught:
        load_space(space)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    result = run_cli(["tune", data, "-o", tmp_path / "m.fcst", "--space", space, *FLAGS])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_resume_without_a_search_is_refused(data, tmp_path):
    result = run_cli(["tune", data, "-o", tmp_path / "m.fcst", "--resume", *FLAGS])
    assert result.exit_code == 2 and "no search" in result.stderr


def test_without_optuna_the_command_says_which_extra_to_install(data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if it were not installed
    result = run_cli(["tune", data, "-o", tmp_path / "m.fcst", *FLAGS])
    assert result.exit_code == 2
    assert result.stderr == ("forecastr: error: forecastr tune needs Optuna, an optional "
                             "extra: pip install 'forecastr[tune]'\n")


def test_trials_run_in_parallel_processes_share_one_search(data, tmp_path):
    out = tmp_path / "m.fcst"
    result = api.tune(data, SMALL, out, space=SPACE, trials=6, jobs=3)
    assert [r.state for r in result.trials] == ["complete"] * 6  # never more than asked
    assert result.trials[0].defaults
    assert result.best == min(result.trials, key=lambda r: (r.score, r.number))
    assert len(pd.read_csv(tmp_path / "m.trials.csv")) == 6
    with pytest.raises(ConfigError, match="--jobs: processes share the trials"):
        api.tune(data, SMALL, space=SPACE, trials=2, jobs=2)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum, status, jobs", [(signal.SIGINT, 130, 1),
                                                  (signal.SIGTERM, 143, 1),
                                                  (signal.SIGINT, 130, 2)])
def test_a_real_signal_keeps_the_trials_and_the_search_resumes(data, tmp_path, signum, status,
                                                               jobs):
    out = tmp_path / "m.fcst"
    slower = [flag if flag != "15" else "150" for flag in FLAGS]  # trials of seconds each
    args = ["tune", str(data), "-o", str(out), "--trials", "4", "--jobs", str(jobs), *slower]
    process = subprocess.Popen([sys.executable, "-m", "forecastr", *args, "-v"],
                               stderr=subprocess.PIPE, text=True)
    lines = []
    for line in process.stderr:  # the first trial is scored: signal during a later one
        lines.append(line)
        if line.startswith("forecastr: trial 1 of 4: MASE"):
            process.send_signal(signum)
            break
    lines += process.stderr.readlines()
    assert process.wait(timeout=120) == status, "".join(lines)
    # whether the signal came during a trial's fit, its scoring or between two trials
    assert re.match(r"forecastr: interrupted: tune stopped (during trial [2-4]|between two "
                    r"trials|after its trials, before the final fit); ", lines[-1]), lines[-1]
    assert f"the finished trials are kept in {out}.tune; to continue: forecastr tune " \
        in lines[-1] and lines[-1].rstrip().endswith("--resume")
    assert not out.exists()
    resumed = run_cli([*args[:1], data, *args[2:], "--resume"])
    assert resumed.exit_code == 0, resumed.stderr
    table = pd.read_csv(tmp_path / "m.trials.csv")
    assert (table["state"] == "complete").sum() == 4
    assert set(table["state"]) <= {"complete", "cut short"}
    assert load(out).config.horizon == 4
