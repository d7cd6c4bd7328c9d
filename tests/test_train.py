"""Training through the library API: the loss falls, seeds reproduce, early stopping keeps
the best epoch, divergence is caught, and a trained model beats the naive forecasts."""

from __future__ import annotations

import dataclasses
import io
import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from forecastr import api
from forecastr.cli.ui import starting_point_text
from forecastr.config import FitConfig
from forecastr.data.reader import read_panel
from forecastr.forecasting.forecast import forecast
from forecastr.modelfile.artifact import build_model
from forecastr.training import train as train_module
from forecastr.training.train import TrainingError, Windows, validation_step
from tests.conftest import SAMPLE_DATA, run_cli, seasonal_frame

# epoch_size 0: an epoch is one pass over the windows, so that epochs are easy to count
TINY = {"hidden": 8, "layers": 1, "epochs": 3, "batch_size": 32, "window": 12, "horizon": 4,
        "val_windows": 2, "dropout": 0.0, "epoch_size": 0}


def tiny(**changes) -> FitConfig:
    return FitConfig(**{**TINY, **changes})


def test_loss_falls(long_csv):
    result = api.fit(long_csv, tiny(epochs=15, patience=15, lr=3e-3))
    history = result.artifact.training["history"]
    assert len(history) == 15
    assert history[-1]["train_loss"] < 0.75 * history[0]["train_loss"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]


def test_same_seed_reproduces_the_weights_exactly(long_csv):
    first = api.fit(long_csv, tiny(seed=7, dropout=0.2, layers=2)).artifact.state_dict
    again = api.fit(long_csv, tiny(seed=7, dropout=0.2, layers=2)).artifact.state_dict
    other = api.fit(long_csv, tiny(seed=8, dropout=0.2, layers=2)).artifact.state_dict
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_early_stopping_restores_the_best_epoch(long_csv):
    seen = []
    stopped = api.fit(long_csv, tiny(epochs=60, patience=3, lr=0.01), on_epoch=seen.append)
    training = stopped.artifact.training
    assert training["stopped"] == "patience"
    val = [s["val_loss"] for s in seen]
    assert training["best_epoch"] == int(np.argmin(val)) + 1 < len(val) == training["epochs_run"]
    assert training["epochs_run"] == training["best_epoch"] + 3 and training["best_epoch"] > 2
    # training exactly to the best epoch (the same learning-rate schedule up to it) gives
    # exactly the restored weights
    direct = api.fit(long_csv, tiny(epochs=training["best_epoch"], patience=3, lr=0.01))
    for key, value in stopped.artifact.state_dict.items():
        assert torch.equal(value, direct.artifact.state_dict[key]), key


def test_on_epoch_reports_progress(long_csv):
    seen = []
    api.fit(long_csv, tiny(epochs=2), on_epoch=seen.append)
    assert [s["epoch"] for s in seen] == [1, 2] and seen[0]["epochs"] == 2
    assert {"train_loss", "val_loss", "best_epoch", "lr", "windows_per_second"} <= set(seen[0])
    assert seen[1]["windows_per_second"] > 0


def test_diverging_loss_stops_with_the_epoch_named(tmp_path, caplog):
    huge = pd.DataFrame({"t": range(40), "y": np.linspace(1, 2, 40) * 1e25})
    path = tmp_path / "huge.csv"
    huge.to_csv(path, index=False)
    diverging = tiny(scaler="none", loss="mse", lr=10.0, clip=0.0)
    with pytest.raises(TrainingError, match="diverged at epoch 1"):
        api.fit(path, dataclasses.replace(diverging, baseline="none"))
    # with a baseline the starting point is a usable model: it is kept, with a warning
    with caplog.at_level(logging.WARNING, logger="forecastr"):
        kept = api.fit(path, diverging).artifact
    assert (kept.training["stopped"], kept.training["best_epoch"]) == ("diverged at epoch 1", 0)
    assert "training diverged at epoch 1 (loss not finite); kept the weights of epoch 0" \
        in caplog.text


@pytest.mark.parametrize("mode", ["many-to-one", "many-to-many"])
def test_beats_naive_and_seasonal_naive_on_a_seasonal_series(mode):
    """a10 (monthly drug sales: trend and a strong yearly season); the last 12 months held out."""
    frame = pd.read_csv(SAMPLE_DATA / "single.csv")
    history, actual = frame.iloc[:-12], frame["sales"].to_numpy()[-12:]
    source = io.BytesIO(history.to_csv(index=False).encode())
    cfg = FitConfig(window=36, horizon=12, scaler="window", calendar=True, mode=mode,
                    batch_size=32, epochs=40, patience=8, seed=0, max_steps=200)
    fitted = api.fit(source, cfg).artifact
    source.seek(0)
    predicted, _ = forecast(build_model(fitted), fitted, read_panel(source, cfg), 12,
                            torch.device("cpu"))
    past = history["sales"].to_numpy()
    model_mae = np.abs(predicted[0, :, 0, 0] - actual).mean()  # (S, H, K, Q)
    naive_mae = np.abs(past[-1] - actual).mean()
    seasonal_mae = np.abs(past[-12:] - actual).mean()
    assert model_mae < 0.9 * min(naive_mae, seasonal_mae), (model_mae, naive_mae, seasonal_mae)


def test_epoch_size_bounds_the_windows_of_each_epoch(long_csv, monkeypatch):
    from forecastr.training import train

    batches = []
    original = train.TrainingData.batch

    def counting(self, windows, chosen):
        batches.append(len(chosen))
        return original(self, windows, chosen)

    monkeypatch.setattr(train.TrainingData, "batch", counting)
    result = api.fit(long_csv, tiny(epochs=2, epoch_size=40, batch_size=16, val_windows=0))
    assert batches == [16, 16, 8] * 2  # 40 windows drawn per epoch, in batches of 16
    assert result.artifact.training["train_windows"] > 40


def test_small_data_are_drawn_several_times_over_in_an_epoch(long_csv, monkeypatch):
    from forecastr.training import train

    drawn = []
    original = train.TrainingData.batch

    def counting(self, windows, chosen):
        drawn.append(chosen.clone())
        return original(self, windows, chosen)

    monkeypatch.setattr(train.TrainingData, "batch", counting)
    result = api.fit(long_csv, tiny(epochs=1, epoch_size=200, batch_size=1000, val_windows=0))
    n_train = result.artifact.training["train_windows"]
    assert n_train < 200 < 2 * n_train
    # the batch is capped at the windows there are; 200 draws are a full pass, then more
    assert [len(b) for b in drawn] == [n_train, 200 - n_train]
    assert sorted(drawn[0].tolist()) == list(range(n_train))
    assert result.artifact.training["steps"] == 2


@pytest.mark.parametrize(("bound", "reason", "steps"), [
    ({"max_steps": 7}, "max_steps", 7),  # mid-epoch: that epoch ends there and is validated
    ({"max_steps": 9}, "max_steps", 9),  # at an epoch's end
    ({"max_time": 1e-9}, "max_time", 1),  # the batch that passes the time bound ends it
    ({"epochs": 2}, "epochs", 6),
])
def test_training_stops_at_the_first_bound_and_says_which(long_csv, bound, reason, steps):
    seen = []
    result = api.fit(long_csv, tiny(**{"epochs": 50, "epoch_size": 90, "batch_size": 30,
                                       "patience": 50, **bound}), on_epoch=seen.append)
    training = result.artifact.training
    assert (training["stopped"], training["steps"]) == (reason, steps)
    assert [s["step"] for s in seen] == [h["step"] for h in training["history"]]
    assert seen[-1]["step"] == steps and training["epochs_run"] == -(-steps // 3)
    assert all(s["steps"] == seen[0]["steps"] for s in seen)  # the bar's bound


def test_an_ensemble_trains_distinct_members_and_forecasts_their_median(long_csv):
    cfg = tiny(ensemble=3, epochs=2, dropout=0.2, layers=2)
    fitted = api.fit(long_csv, cfg).artifact
    model = build_model(fitted)
    assert len(model.nets) == 3
    weights = [net.head.weight for net in model.nets]
    assert not torch.equal(weights[0], weights[1]) and not torch.equal(weights[1], weights[2])
    x = torch.randn(5, 12, fitted.dimensions.n_inputs)
    calendar = torch.zeros(5, 4, fitted.dimensions.n_calendar)
    each = torch.stack([net(x, calendar) for net in model.nets])  # (M, B, H, K, Q)
    torch.testing.assert_close(model(x, calendar), each.median(dim=0).values, rtol=0, atol=0)
    # a member of an ensemble learns exactly what it would learn alone (same seed, batches)
    again = api.fit(long_csv, cfg).artifact
    assert all(torch.equal(fitted.state_dict[k], again.state_dict[k]) for k in fitted.state_dict)


def test_a_model_that_never_beat_its_starting_point_says_it_forecasts_that(tmp_path):
    # a season repeated exactly: seasonal naive's validation loss is 0, which no epoch beats
    times = pd.date_range("2000-01-01", periods=96, freq="MS")
    pd.DataFrame({"month": times, "y": np.tile(np.arange(12.0) ** 1.5, 8)}).to_csv(
        tmp_path / "d.csv", index=False)
    result = run_cli(["fit", tmp_path / "d.csv", "-o", tmp_path / "m.fcst", "--max-steps",
                      "5", "--hidden", "4"])
    assert result.exit_code == 0, result.stderr
    assert ("at epoch 0: no epoch beat the seasonal-naive starting point, so the model "
            "forecasts seasonal-naive alone; wrote") in " ".join(result.stderr.split())
    training = api.info(tmp_path / "m.fcst")["training"]
    assert training["best_epoch"] == 0 and training["baseline_loss"] == 0.0


def test_the_summary_says_how_far_training_beat_the_starting_point():
    from forecastr.cli.ui import kept

    assert kept({"baseline_loss": 0.0200, "best_loss": 0.0150, "best_epoch": 4}, "theta") == \
        " (the theta starting point's: 0.0200; 25% lower)"
    assert kept({"baseline_loss": None, "best_loss": 0.01, "best_epoch": 4}, "none") == ""
    assert kept({"best_loss": 0.01, "best_epoch": 4}, "theta") == ""  # an older file


def test_evaluate_says_when_the_model_is_its_starting_point(tmp_path):
    times = pd.date_range("2000-01-01", periods=96, freq="MS")
    pd.DataFrame({"month": times, "y": np.tile(np.arange(12.0) ** 1.5, 8)}).to_csv(
        tmp_path / "d.csv", index=False)
    assert run_cli(["fit", tmp_path / "d.csv", "-o", tmp_path / "m.fcst", "--max-steps", "5",
                    "--hidden", "4"]).exit_code == 0
    shown = run_cli(["evaluate", tmp_path / "m.fcst", tmp_path / "d.csv"])
    assert shown.exit_code == 0, shown.stderr
    assert ("the model forecasts its seasonal-naive starting point alone: no epoch of its "
            "training beat it on validation") in " ".join(shown.stdout.split())
    report = api.evaluate(tmp_path / "m.fcst", tmp_path / "d.csv", device_spec="cpu")
    assert report["starting_point"] == {"baseline": "seasonal-naive", "kept": "baseline",
                                        "baseline_loss": 0.0, "best_loss": 0.0}


def test_info_and_evaluate_say_what_the_model_forecasts_with():
    network = {"baseline": "theta", "kept": "network", "baseline_loss": 0.02,
               "best_loss": 0.015}
    assert starting_point_text(network) == (
        "the model forecasts with its trained network: validation loss 0.0150 against its "
        "theta starting point's 0.0200, 25% lower")
    start = {"baseline": "seasonal-naive", "kept": "baseline", "baseline_loss": 0.0,
             "best_loss": 0.0}
    assert starting_point_text(start) == (
        "the model forecasts its seasonal-naive starting point alone: no epoch of its "
        "training beat it on validation")
    # no baseline, no validation windows, or a file older than the record: nothing said
    assert starting_point_text({"baseline": "none", "kept": None}) is None
    assert starting_point_text(None) is None


def test_info_and_evaluate_report_the_same_starting_point(tmp_path):
    data = tmp_path / "d.csv"
    seasonal_frame(n_series=3, length=60).to_csv(data, index=False)
    model = tmp_path / "m.fcst"
    assert run_cli(["fit", data, "-o", model, "--max-steps", "10", "--hidden", "8",
                    "--window", "12", "--horizon", "4", "--seed", "3"]).exit_code == 0
    start = json.loads(run_cli(["info", model, "--json"]).stdout)["starting_point"]
    training = api.info(model)["training"]
    assert start == {"baseline": "seasonal-naive",
                     "kept": "baseline" if training["best_epoch"] == 0 else "network",
                     "baseline_loss": training["baseline_loss"],
                     "best_loss": training["best_loss"]}
    assert api.evaluate(model, data, device_spec="cpu")["starting_point"] == start
    said = starting_point_text(start)
    for command in (["info", model], ["evaluate", model, data]):
        shown = run_cli(command)
        assert shown.exit_code == 0 and said in " ".join(shown.stdout.split())


def test_a_spread_sample_takes_one_window_in_step_rotating_the_origin():
    # 3 series of 4 validation windows each, in series order
    windows = Windows(torch.arange(12) % 4 + 100, torch.arange(12) // 4)
    sample = windows.spread_sample(4)
    assert sample.series.tolist() == [0, 1, 2]  # one window of every series
    assert sample.origins.tolist() == [100, 101, 102]  # not all the oldest origin
    assert windows.spread_sample(1) is windows


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 500), st.integers(1, 60))
def test_a_spread_sample_is_distinct_ordered_windows_about_one_in_step(n, step):
    taken = Windows(torch.arange(n), torch.zeros(n, dtype=torch.int64)).spread_sample(step)
    order = taken.origins.tolist()
    assert order == sorted(set(order)) and all(0 <= i < n for i in order)
    assert -(-n // step) - 1 <= len(order) <= -(-n // step)


def test_validation_scores_at_most_an_epochs_worth_of_windows():
    assert validation_step(FitConfig(epoch_size=4096), 12_000) == 3
    assert validation_step(FitConfig(epoch_size=4096), 4096) == 1
    assert validation_step(FitConfig(epoch_size=0), 12_000) == 1  # an epoch is every window


def test_a_fit_validates_on_a_sample_of_many_windows(long_csv, monkeypatch):
    scored = []
    original = train_module.validation_loss

    def counted(model, data, windows, *args, **kwargs):
        scored.append((len(windows), len(set(windows.series.tolist()))))
        return original(model, data, windows, *args, **kwargs)

    monkeypatch.setattr(train_module, "validation_loss", counted)
    result = api.fit(long_csv, tiny(epochs=2, val_windows=6, epoch_size=10))
    n_series = len(result.artifact.series["ids"])
    assert result.artifact.training["val_windows"] == 6 * n_series > 10
    # every epoch (and the starting point) scored the same sample: about ten windows, from
    # more than one series
    assert len(scored) == 3 and len(set(scored)) == 1
    assert scored[0][0] <= 10 and scored[0][1] > 1


def test_the_training_time_reported_includes_building_the_optimiser(long_csv, monkeypatch):
    # --verbose's timings counted it and the summary line did not (2.7 s against 1.6 s)
    import time

    real = torch.optim.Adam

    def slow(*args, **kwargs):
        time.sleep(0.5)  # as torch's first optimiser imports its compiler
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.optim, "Adam", slow)
    result = api.fit(long_csv, tiny(epochs=1))
    assert result.artifact.training["seconds"] >= 0.5
