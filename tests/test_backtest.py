"""Backtests: origins, no look past an origin, and the baselines."""

from __future__ import annotations

import numpy as np
import pytest

from forecastr import backtest
from forecastr.errors import DataError
from tests.test_windows import make_panel  # values 1000 * (series + 1) + step


def test_baselines_golden():
    history = make_panel([7, 3])
    result = backtest.baselines(history, horizon=5, season=4)
    assert result["naive"][0, :, 0].tolist() == [1006] * 5
    # one season (4 steps) back from each future step, repeating: rows 3, 4, 5, 6, 3
    assert result["seasonal_naive"][0, :, 0].tolist() == [1003, 1004, 1005, 1006, 1003]
    # a history shorter than a season falls back to the naive forecast
    assert result["seasonal_naive"][1, :, 0].tolist() == [2002] * 5


def test_origins_and_no_look_past_them():
    panel = make_panel([20, 9, 4])
    seen_lengths = []

    def forecaster(history):
        seen_lengths.append(history.lengths.tolist())
        # the forecast is the last value seen: it must lie strictly before the origin
        last = history.values[history.indptr[1:] - 1, :1]
        return np.repeat(last[:, None, :], 3, axis=1)

    scored = backtest.run(panel, forecaster, horizon=3, folds=3, step=2, season=1)
    # fold 0 cuts 3 from the end, fold 1 five, fold 2 seven; histories need >= 2 points
    assert seen_lengths == [[17, 6], [15, 4], [13, 2]]
    assert scored.fold.tolist() == [0, 0, 1, 1, 2, 2]
    assert scored.series.tolist() == [0, 1, 0, 1, 0, 1]
    assert scored.actual[0, :, 0].tolist() == [1017, 1018, 1019]
    assert scored.actual[3, :, 0].tolist() == [2004, 2005, 2006]
    # the "model" repeats the last history value, like naive
    np.testing.assert_array_equal(scored.forecasts["model"], scored.forecasts["naive"])
    assert scored.origin.tolist() == [17, 6, 15, 4, 13, 2]


def test_report_golden():
    panel = make_panel([12])

    def off_by_two(history):
        k = history.indptr[1:] - 1
        start = history.values[k, 0]
        return (start[:, None] + 1 + np.arange(4) + 2)[..., None]  # the true path + 2

    scored = backtest.run(panel, off_by_two, horizon=4, folds=2, step=4, season=1)
    result = backtest.report(scored, panel.ids, int)
    model = result["overall"]["model"]
    assert model["mae"] == 2.0 and model["bias"] == 2.0
    assert model["mase"] == 2.0  # the naive in-sample step is exactly 1
    # naive repeats the last value: errors 1, 2, 3, 4 -> MAE 2.5
    assert result["overall"]["naive"]["mae"] == 2.5
    assert result["overall"]["relative_mase"] == pytest.approx(2.0 / 2.5)
    assert result["per_step_mae"]["naive"] == [1.0, 2.0, 3.0, 4.0]
    assert [f["origin"] for f in result["per_fold"]] == [8, 4]
    assert result["per_series"][0]["id"] == "s0" and result["forecasts"] == 2


def test_too_short_for_any_origin():
    with pytest.raises(DataError, match="no series is long enough to backtest"):
        backtest.run(make_panel([4]), lambda h: None, horizon=3, folds=1, step=1, season=1)
