"""Quantile models: --quantiles parsed and checked, the pinball loss by hand, quantiles that
never cross, and predict's extra columns beside an unchanged point column."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pandas as pd
import pytest
import torch

from forecastr.config import FitConfig
from forecastr.config_values import from_mapping
from forecastr.errors import ConfigError
from forecastr.network.model import Dimensions, Forecaster
from forecastr.network.outputs import quantile_levels
from forecastr.training import train
from tests.conftest import SAMPLE_DATA

TINY = ["--hidden", "8", "--layers", "1", "--epochs", "2", "--window", "24", "--horizon", "6",
        "--device", "cpu"]


def test_quantiles_from_flags_and_yaml():
    assert from_mapping({"quantiles": "0.9, 0.1"}, "flags")["quantiles"] == (0.9, 0.1)
    assert from_mapping({"quantiles": [0.1, 0.9]}, "x.yaml")["quantiles"] == (0.1, 0.9)
    assert quantile_levels(FitConfig(quantiles=(0.9, 0.1))) == (0.1, 0.5, 0.9)
    assert quantile_levels(FitConfig()) == ()
    with pytest.raises(ConfigError, match=r"'quantiles' must be a list of numbers"):
        from_mapping({"quantiles": "low,high"}, "flags")
    for bad, message in [((0.0,), "must each be in \\(0, 1\\), got 0.0"),
                         ((1.5,), "got 1.5"), ((0.1, 0.1), "lists a quantile twice")]:
        with pytest.raises(ConfigError, match=message):
            FitConfig(quantiles=bad)


def test_pinball_loss_by_hand():
    cfg = FitConfig(quantiles=(0.1, 0.9))  # levels 0.1, 0.5, 0.9
    dims = Dimensions(n_inputs=2, n_targets=1, n_calendar=0, n_quantiles=3, point=1)
    model = Forecaster(dataclasses.replace(cfg, horizon=1, window=4, baseline="seasonal-naive"),
                       dims)
    loss = train.loss_function(cfg, model, torch.device("cpu"))
    output = torch.tensor([[[[8.0, 10.0, 13.0]]]])  # (B, H, K, Q) for an actual of 10
    # under by 2 at 0.1 -> 0.1 * 2 = 0.2; exact at 0.5 -> 0; over by 3 at 0.9 -> 0.1 * 3 = 0.3
    assert loss(output, torch.tensor([[[10.0]]])).item() == pytest.approx((0.2 + 0 + 0.3) / 3)


@pytest.mark.parametrize("mode", ["many-to-one", "many-to-many"])
def test_quantiles_never_cross(mode):
    torch.manual_seed(0)
    cfg = FitConfig(quantiles=(0.05, 0.25, 0.75, 0.95), mode=mode, hidden=8, layers=1)
    dims = Dimensions(n_inputs=3, n_targets=2, n_calendar=0, n_quantiles=5, point=2)
    out = Forecaster(dataclasses.replace(cfg, horizon=4, window=6, baseline="seasonal-naive"),
                     dims)(
        torch.randn(64, 6, 3) * 5)
    assert out.shape == (64, 4, 2, 5)
    assert (out.diff(dim=-1) >= 0).all()


def test_predict_writes_a_column_per_quantile_beside_the_point(cli, tmp_path):
    model = tmp_path / "q.fcst"
    fitted = cli(["fit", SAMPLE_DATA / "long.csv", "-o", model, "--quantiles", "0.1,0.9",
                  *TINY])
    assert fitted.exit_code == 0, fitted.stderr
    out = cli(["predict", model, SAMPLE_DATA / "long.csv"])
    frame = pd.read_csv(io.StringIO(out.stdout))
    assert list(frame.columns) == ["unique_id", "ds", "y", "y-q0.1", "y-q0.9"]
    assert len(frame) == 8 * 6
    assert (frame["y-q0.1"] <= frame["y"]).all() and (frame["y"] <= frame["y-q0.9"]).all()
    lines = cli(["predict", model, SAMPLE_DATA / "long.csv", "--format", "json"]).stdout
    first = pd.read_json(io.StringIO(lines.splitlines()[0]), typ="series")
    assert set(first.index) == {"unique_id", "ds", "y", "y-q0.1", "y-q0.9"}
    history = pd.read_csv(io.StringIO(cli(["predict", model, SAMPLE_DATA / "long.csv",
                                           "--with-history"]).stdout))
    past = history[history["y-q0.1"].isna()]
    assert len(past) == len(history) - 8 * 6  # quantile cells stay empty for history rows


def test_wide_files_get_a_quantile_column_per_series(cli, tmp_path):
    model = tmp_path / "wide.fcst"
    assert cli(["fit", SAMPLE_DATA / "wide.csv", "-o", model, "--quantiles", "0.2,0.8",
                "--hidden", "8", "--layers", "1", "--epochs", "1", "--window", "8",
                "--horizon", "4", "--device", "cpu"]).exit_code == 0
    frame = pd.read_csv(io.StringIO(cli(["predict", model, SAMPLE_DATA / "wide.csv"]).stdout))
    series = pd.read_csv(SAMPLE_DATA / "wide.csv", nrows=1).columns[1:]
    assert list(frame.columns) == [frame.columns[0], *[f"{s}{suffix}" for s in series
                                                       for suffix in ("", "-q0.2", "-q0.8")]]
    for s in series:
        assert (frame[f"{s}-q0.2"] <= frame[s]).all() and (frame[s] <= frame[f"{s}-q0.8"]).all()
    assert np.isfinite(frame.iloc[:, 1:].to_numpy()).all()
