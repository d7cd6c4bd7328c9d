"""Backtests: origins, no look past an origin, and the baselines."""

from __future__ import annotations

import numpy as np
import pytest

from forecastr.errors import DataError
from forecastr.evaluation import backtest
from forecastr.network.outputs import Output
from tests.test_windows import make_panel  # values 1000 * (series + 1) + step


def test_baselines_golden():
    history = make_panel([7, 3])
    result = backtest.baselines(history, horizon=5, season=4)
    assert result["naive"][0, :, 0].tolist() == [1006] * 5
    # one season (4 steps) back from each future step, repeating: rows 3, 4, 5, 6, 3
    assert result["seasonal_naive"][0, :, 0].tolist() == [1003, 1004, 1005, 1006, 1003]
    # a history shorter than a season falls back to the naive forecast
    assert result["seasonal_naive"][1, :, 0].tolist() == [2002] * 5
    # the series rise one a step: Theta goes on at half that slope from the last value
    assert result["theta"][:, :, 0].tolist() == [[1006.5, 1007, 1007.5, 1008, 1008.5],
                                                 [2002.5, 2003, 2003.5, 2004, 2004.5]]


def test_the_theta_reference_is_each_series_alone_over_its_last_steps(monkeypatch):
    import torch

    from forecastr.network import theta

    rng = np.random.default_rng(0)
    history = make_panel([30, 12, 50])
    history.values[:, 0] += rng.normal(0, 5, len(history.values)).cumsum()
    together = backtest.baselines(history, horizon=4, season=6)["theta"]
    for s in range(3):
        alone = theta.forecast(torch.tensor(history.series(s)[0][None, :, :1]),
                               torch.ones(1, history.lengths[s]), 4, 6)
        np.testing.assert_allclose(together[s], alone[0].numpy(), rtol=1e-12)
    monkeypatch.setattr(backtest, "THETA_REACH", 20)  # only the last 20 steps are read
    cut = backtest.baselines(history, horizon=4, season=6)["theta"][2]
    last = theta.forecast(torch.tensor(history.series(2)[0][None, -20:, :1]),
                          torch.ones(1, 20), 4, 6)
    np.testing.assert_allclose(cut, last[0].numpy(), rtol=1e-12)


def test_origins_and_no_look_past_them():
    panel = make_panel([20, 9, 4])
    seen_lengths = []

    def forecaster(history, ahead):
        seen_lengths.append(history.lengths.tolist())
        # the forecast is the last value seen: it must lie strictly before the origin
        last = history.values[history.indptr[1:] - 1, :1]
        return np.repeat(last[:, None, :], 3, axis=1)[..., None]  # (S, H, K, 1): a point

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

    def off_by_two(history, ahead):
        k = history.indptr[1:] - 1
        start = history.values[k, 0]
        return (start[:, None] + 1 + np.arange(4) + 2)[..., None, None]  # the true path + 2

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
        backtest.run(make_panel([4]), lambda h, a: None, horizon=3, folds=1, step=1, season=1)


def test_probabilistic_report_golden():
    """One series rising by 1 a step; the point is the truth, a band of +-1.5 around it
    covers every step, a band shifted up by 1 (from truth - 0.5 to truth + 1.5) too, and a
    0.9-quantile forecast of truth - 1 is below every actual."""
    panel = make_panel([12])

    def with_bands(history, ahead):
        truth = history.values[history.indptr[1:] - 1, 0][:, None] + 1 + np.arange(4)
        point = truth[..., None]  # (S, H, 1)
        return np.stack([point, point - 1, point - 1.5, point + 1.5, point - 0.5,
                         point + 1.5], axis=-1)  # (S, H, K, 1 + 5)

    extra = [Output(1, 0.9), Output(2, 0.1, 80, "lo"), Output(3, 0.9, 80, "hi"),
             Output(4, 0.25, 50, "lo"), Output(5, 0.75, 50, "hi")]
    assert [o.suffix for o in extra] == ["q0.9", "lo-80", "hi-80", "lo-50", "hi-50"]
    scored = backtest.run(panel, with_bands, horizon=4, folds=2, step=4, season=1,
                          extra=extra)
    overall = backtest.report(scored, panel.ids, int)["overall"]["model"]
    # q 0.9 at truth - 1: the actual is above by 1 -> loss 0.9; the scale (naive step) is 1
    assert overall["quantiles"]["0.9"] == {"pinball": pytest.approx(0.9),
                                           "scaled_pinball": pytest.approx(0.9)}
    # lo-80 is the 0.1-quantile at truth - 1.5: 0.1 * 1.5; hi-80 the 0.9 at truth + 1.5,
    # already taken by q0.9 (the quantile column wins); lo-50 the 0.25 at truth - 0.5
    assert overall["quantiles"]["0.1"]["pinball"] == pytest.approx(0.15)
    assert overall["quantiles"]["0.25"]["pinball"] == pytest.approx(0.125)
    assert overall["quantiles"]["0.75"]["pinball"] == pytest.approx(0.25 * 1.5)
    eighty, fifty = overall["intervals"]["80"], overall["intervals"]["50"]
    assert eighty == {"nominal": 0.8, "coverage": 1.0, "width": 3.0, "scaled_width": 3.0,
                      "off": True}  # 100 % covered is 20 points more than nominal
    assert fifty["coverage"] == 1.0 and fifty["width"] == 2.0 and fifty["off"] is True
