"""The Theta starting point: the forecast of each window, as the method defines it, against
a plain loop over one series; masks, units and seasons; the network that starts from it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from forecastr import api
from forecastr.config import FitConfig
from forecastr.network import theta
from forecastr.network.model import Dimensions, Forecaster
from tests.conftest import SAMPLE_DATA, run_cli


def theta_by_hand(y: list[float], horizon: int) -> list[float]:
    """Theta without a season, one series, plain Python: SES started at the first value with
    the grid's weight of least squared one-step error, plus half the OLS slope's drift."""
    n = len(y)
    mean_t, mean_y = (n - 1) / 2, sum(y) / n
    slope = sum((t - mean_t) * (v - mean_y) for t, v in enumerate(y)) / sum(
        (t - mean_t) ** 2 for t in range(n))
    best = None
    for alpha in theta.ALPHAS:
        level, sse = y[0], 0.0
        for v in y[1:]:
            sse += (v - level) ** 2
            level += alpha * (v - level)
        if best is None or sse < best[0]:
            best = (sse, alpha, level)
    _, alpha, level = best
    return [level + slope / 2 * (h - 1 + (1 - (1 - alpha) ** n) / alpha)
            for h in range(1, horizon + 1)]


def test_a_straight_line_goes_on_at_half_its_slope():
    # the Theta method's drift is half the trend's slope (Hyndman & Billah, 2003)
    line = torch.arange(24, dtype=torch.float64).mul(2).add(5).view(1, 24, 1)
    out = theta.forecast(line, torch.ones(1, 24), horizon=4, season=1)
    assert out.view(-1).tolist() == [52.0, 53.0, 54.0, 55.0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=40), st.integers(1, 8))
def test_each_window_gets_the_forecast_the_method_defines(values, horizon):
    y = torch.tensor(values, dtype=torch.float64).view(1, -1, 1)
    out = theta.forecast(y, torch.ones(1, len(values)), horizon, season=1).view(-1)
    expected = theta_by_hand(values, horizon)
    scale = max(1.0, max(abs(v) for v in values))
    assert np.allclose(out.numpy(), expected, rtol=1e-9, atol=1e-9 * scale)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 30), st.floats(0.1, 100), st.floats(-1e4, 1e4), st.integers(1, 12))
def test_padding_before_a_series_starts_and_the_units_change_nothing(pad, a, b, season):
    rng = np.random.default_rng(pad)
    length = 40
    y = torch.tensor(rng.normal(size=(1, length, 2)).cumsum(axis=1))
    padded = torch.cat([torch.zeros(1, pad, 2, dtype=torch.float64), y], dim=1)
    mask = torch.cat([torch.zeros(1, pad), torch.ones(1, length)], dim=1)
    alone = theta.forecast(y, torch.ones(1, length), 6, season)
    # the seasonal phase follows the step's place in the window: compare the same phase
    if pad % season == 0:
        assert torch.allclose(theta.forecast(padded, mask, 6, season), alone, atol=1e-9)
    scaled = theta.forecast(a * y + b, torch.ones(1, length), 6, season)
    assert torch.allclose(scaled, a * alone + b, rtol=1e-9, atol=1e-6 * (abs(b) + a))


def test_a_significant_season_is_kept_and_noise_is_rarely_taken_for_one():
    steps = torch.arange(48, dtype=torch.float64)
    noise = torch.randn(48, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    series = 100 + 0.5 * steps + 10 * torch.sin(2 * math.pi * steps / 12) + noise
    out = theta.forecast(series.view(1, 48, 1), torch.ones(1, 48), 12, season=12).view(-1)
    ahead = torch.arange(48, 60, dtype=torch.float64)
    truth = 100 + 0.5 * ahead + 10 * torch.sin(2 * math.pi * ahead / 12)
    # off by less than the halved drift loses (0.25 a step) and the noise; the swing is 20
    assert (out - truth).abs().max() < 4.5
    # without its season the forecast is a line: off by most of the swing
    flat = theta.forecast(series.view(1, 48, 1), torch.ones(1, 48), 12, season=1).view(-1)
    assert (flat - truth).abs().max() > 8
    # pure noise: a 90% test takes about one window in ten for seasonal
    windows = torch.randn(4000, 36, 1, generator=torch.Generator().manual_seed(1),
                          dtype=torch.float64)
    weight = torch.ones(4000, 36, 1, dtype=torch.float64)
    steps = torch.arange(36.0, dtype=torch.float64).view(1, 36, 1)
    count = torch.full((4000, 1, 1), 36.0, dtype=torch.float64)
    slope, intercept = theta._line(windows, weight, steps, count)
    flags = theta._seasonal(windows - intercept - slope * steps, weight, count, 12, 1)
    share = (flags.abs().amax(dim=1) > 0).double().mean().item()
    assert 0.07 < share < 0.13


def test_a_network_with_the_theta_baseline_starts_at_the_theta_forecast():
    cfg = FitConfig(window=24, horizon=6, hidden=4, baseline="theta", highway=True,
                    dropout=0.0)
    dims = Dimensions(n_inputs=2, n_targets=1, n_calendar=0, season=12)
    torch.manual_seed(0)
    net = Forecaster(cfg, dims).eval()
    x = torch.randn(5, 24, 1).cumsum(dim=1)
    inputs = torch.cat([x, torch.ones(5, 24, 1)], dim=-1)  # the mask is the last channel
    expected = theta.forecast(x, torch.ones(5, 24), 6, 12)
    assert torch.allclose(net(inputs).view(5, 6), expected.view(5, 6), atol=1e-6)


def test_a_short_single_series_with_a_trend_is_forecast_on_up(tmp_path):
    years = pd.date_range("1990-01-01", periods=30, freq="YS")
    noise = np.random.default_rng(3).normal(0, 2, 30)
    pd.DataFrame({"year": years, "value": 100 + 5 * np.arange(30) + noise}).to_csv(
        tmp_path / "trend.csv", index=False)
    model = tmp_path / "m.fcst"
    fitted = run_cli(["fit", tmp_path / "trend.csv", "-o", model, "--baseline", "theta",
                      "--max-steps", "40", "--seed", "0"])
    assert fitted.exit_code == 0, fitted.stderr
    forecast = api.predict(model, tmp_path / "trend.csv", device_spec="cpu")
    values = forecast["value"].to_numpy()
    assert len(values) == 6 and values[0] > 240 and np.all(np.diff(values) > 0)


@pytest.mark.parametrize("baseline", ["theta", "seasonal-naive", "none"])
def test_the_baseline_is_a_config_choice_that_info_shows(tmp_path, baseline):
    model = tmp_path / "m.fcst"
    fitted = run_cli(["fit", SAMPLE_DATA / "long.csv", "-o", model, "--baseline", baseline,
                      "--max-steps", "2", "--hidden", "4"])
    assert fitted.exit_code == 0, fitted.stderr
    assert f"│ baseline │ {baseline} │" in " ".join(run_cli(["info", model]).stdout.split())
