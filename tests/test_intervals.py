"""Prediction intervals: --intervals by conformal calibration on the validation windows or
from the quantile head, their columns, and conformal coverage at the nominal level on a
synthetic panel with known Gaussian noise."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import torch

from forecastr import api
from forecastr.config import FitConfig
from forecastr.errors import ConfigError
from forecastr.forecasting import forecast, model_data
from forecastr.modelfile.artifact import build_model, load
from forecastr.network.outputs import extra_outputs, quantile_levels
from tests.conftest import SAMPLE_DATA

TINY = ["--hidden", "8", "--layers", "1", "--epochs", "2", "--window", "24", "--horizon", "6",
        "--device", "cpu"]


def test_interval_options_are_checked():
    assert FitConfig(intervals=(80, 95)).intervals == (80, 95)
    assert quantile_levels(FitConfig(intervals=(80,))) == (0.1, 0.5, 0.9)  # the default
    conformal = FitConfig(intervals=(80,), interval_method="conformal")
    assert quantile_levels(conformal) == ()  # a point model: conformal needs no head
    with pytest.raises(ConfigError, match="percentage in \\(0, 100\\), got 100"):
        FitConfig(intervals=(100,))
    with pytest.raises(ConfigError, match="calibrates on the validation windows"):
        FitConfig(intervals=(80,), interval_method="conformal", val_windows=0)


def test_conformal_intervals_are_columns_around_the_point(cli, tmp_path):
    model = tmp_path / "c.fcst"
    assert cli(["fit", SAMPLE_DATA / "long.csv", "-o", model, "--intervals", "95,80",
                "--interval-method", "conformal", *TINY]).exit_code == 0
    loaded = load(model)
    assert loaded.dimensions.n_quantiles == 1  # conformal needs no quantile head
    assert loaded.conformal["widths"].shape == (8, 2, 6, 1)
    frame = pd.read_csv(io.StringIO(cli(["predict", model, SAMPLE_DATA / "long.csv"]).stdout))
    assert list(frame.columns) == ["unique_id", "ds", "y", "y-lo-80", "y-hi-80", "y-lo-95",
                                   "y-hi-95"]
    assert (frame["y-lo-95"] <= frame["y-lo-80"]).all()
    assert (frame["y-lo-80"] <= frame["y"]).all() and (frame["y"] <= frame["y-hi-80"]).all()
    assert (frame["y-hi-80"] <= frame["y-hi-95"]).all()
    # a series the model never saw gets the pooled widths
    renamed = pd.read_csv(SAMPLE_DATA / "long.csv")
    renamed["unique_id"] = renamed["unique_id"].replace("leisure_hospitality", "new_series")
    renamed.to_csv(tmp_path / "renamed.csv", index=False)
    fresh = pd.read_csv(io.StringIO(cli(["predict", model, tmp_path / "renamed.csv"]).stdout))
    new = fresh[fresh["unique_id"] == "new_series"]
    pooled = loaded.conformal["pooled"][0, :, 0]  # 80 %, every step, in scaled units
    assert len(new) == 6 and (new["y-lo-80"] < new["y"]).all() and (pooled > 0).all()


def test_too_few_validation_windows_fail_before_training(cli, tmp_path):
    # one series, 12 validation windows (the default): 19 are needed for 95 %
    result = cli(["fit", SAMPLE_DATA / "single.csv", "-o", tmp_path / "m.fcst", "--intervals",
                  "95", "--interval-method", "conformal", *TINY])
    assert result.exit_code == 2
    assert "12 validation windows are too few for a 95% conformal interval (at least 19" \
        in result.stderr
    assert not (tmp_path / "m.fcst").exists()


def test_quantile_intervals_are_the_head_s_quantiles(cli, tmp_path):
    model = tmp_path / "q.fcst"
    assert cli(["fit", SAMPLE_DATA / "long.csv", "-o", model, "--quantiles", "0.1",
                "--intervals", "80", *TINY]).exit_code == 0  # quantile: the default method
    frame = pd.read_csv(io.StringIO(cli(["predict", model, SAMPLE_DATA / "long.csv"]).stdout))
    assert list(frame.columns) == ["unique_id", "ds", "y", "y-q0.1", "y-lo-80", "y-hi-80"]
    assert (frame["y-q0.1"] == frame["y-lo-80"]).all()
    assert load(model).conformal is None
    architecture = json.loads(cli(["info", model, "--json"]).stdout)["architecture"]
    assert (architecture["quantiles"], architecture["intervals"],
            architecture["interval_method"]) == ([0.1], ["80%"], "quantile")
    assert "intervals" in cli(["info", model]).stdout


def test_conformal_coverage_is_nominal_on_gaussian_noise():
    """200 seasonal series with N(0, 1) noise; fit on 120 months, forecast 12 and score the
    intervals on the 2,400 true future points."""
    rng = np.random.default_rng(7)
    steps = np.arange(132)
    frames, future = [], []
    for s in range(200):
        y = 10 + 3 * np.sin(2 * np.pi * steps / 12 + rng.uniform(0, 2 * np.pi)) \
            + rng.normal(0, 1, len(steps))
        frames.append(pd.DataFrame({"unique_id": f"s{s}", "y": y[:120].round(4),
                                    "ds": pd.date_range("2000-01-01", periods=120, freq="MS")}))
        future.append(y[120:])
    text = pd.concat(frames).to_csv(index=False).encode()
    cfg = FitConfig(window=24, horizon=12, hidden=16, layers=1, epochs=15, val_windows=6,
                    intervals=(80, 95), interval_method="conformal", scaler="standard",
                    device="cpu")
    fitted = api.fit(io.BytesIO(text), cfg)
    values, _ = forecast.forecast(build_model(fitted.artifact), fitted.artifact,
                                  model_data.read_for_model(io.BytesIO(text), fitted.artifact),
                                  12, torch.device("cpu"))
    actual = np.concatenate(future)
    columns = {o.suffix: o.index for o in extra_outputs(fitted.artifact.config)}
    for level in (80, 95):
        low = values[..., 0, columns[f"lo-{level}"]].reshape(-1)
        high = values[..., 0, columns[f"hi-{level}"]].reshape(-1)
        covered = np.mean((actual >= low) & (actual <= high))
        assert abs(covered - level / 100) <= 0.03, (level, covered)


def test_evaluate_scores_quantiles_and_intervals(cli, tmp_path):
    model = tmp_path / "c.fcst"
    assert cli(["fit", SAMPLE_DATA / "long.csv", "-o", model, "--intervals", "80",
                "--quantiles", "0.1,0.9", *TINY]).exit_code == 0
    report = json.loads(cli(["evaluate", model, SAMPLE_DATA / "long.csv", "--json"]).stdout)
    scores = report["overall"]["model"]
    assert set(scores["quantiles"]) == {"0.1", "0.9"}  # the 80 % bounds are these too
    assert scores["quantiles"]["0.1"]["pinball"] > 0
    interval = scores["intervals"]["80"]
    assert interval["nominal"] == 0.8 and 0 <= interval["coverage"] <= 1
    assert interval["off"] == (abs(interval["coverage"] - 0.8) > 0.05)
    assert "intervals" in report["per_series"][0]["model"]
    table = cli(["evaluate", model, SAMPLE_DATA / "long.csv"]).stdout
    assert "intervals" in table and "80%" in table and "pinball" in table
    plot = tmp_path / "bands.png"
    assert cli(["evaluate", model, SAMPLE_DATA / "long.csv", "--plot", plot]).exit_code == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_point_models_evaluate_as_before(cli, tmp_path):
    model = tmp_path / "p.fcst"
    assert cli(["fit", SAMPLE_DATA / "long.csv", "-o", model, *TINY]).exit_code == 0
    scores = json.loads(cli(["evaluate", model, SAMPLE_DATA / "long.csv", "--json"]).stdout)
    assert "intervals" not in scores["overall"]["model"]
    assert "quantiles" not in scores["overall"]["model"]
