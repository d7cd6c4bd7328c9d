"""Metrics against numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forecastr.evaluation import metrics

ACTUAL = np.array([2.0, 4.0, 0.0, 8.0])
FORECAST = np.array([3.0, 2.0, 1.0, 8.0])
# errors F - A: 1, -2, 1, 0 ; absolute: 1, 2, 1, 0


def test_mae_rmse_bias():
    assert metrics.mae(ACTUAL, FORECAST) == 1.0  # (1 + 2 + 1 + 0) / 4
    assert metrics.rmse(ACTUAL, FORECAST) == pytest.approx(math.sqrt(6 / 4))  # (1+4+1+0)/4
    assert metrics.bias(ACTUAL, FORECAST) == 0.0  # (1 - 2 + 1 + 0) / 4


def test_mape_skips_zero_actuals():
    # |1/2| = 50 %, |-2/4| = 50 %, the zero is skipped, |0/8| = 0 %  -> 100 / 3
    assert metrics.mape(ACTUAL, FORECAST) == pytest.approx(100 / 3)
    assert metrics.zeros(ACTUAL) == 1
    assert math.isnan(metrics.mape(np.zeros(3), np.ones(3)))


def test_smape_is_the_m4_definition():
    # 200 * |F - A| / (|A| + |F|): 200/5 = 40, 400/6 = 66.67, 200/1 = 200, 0 -> mean 76.67
    assert metrics.smape(ACTUAL, FORECAST) == pytest.approx((40 + 400 / 6 + 200 + 0) / 4)
    assert metrics.smape(np.zeros(2), np.zeros(2)) == 0.0  # 0/0 counts as a perfect forecast


def test_mase_uses_the_in_sample_seasonal_naive_error():
    history = np.array([1.0, 2.0, 3.0, 5.0, 6.0, 8.0])
    # season 2: |3-1|, |5-2|, |6-3|, |8-5| -> 2, 3, 3, 3 -> scale 11 / 4
    assert metrics.seasonal_scale(history, 2) == 2.75
    # season 1 (naive): 1, 1, 2, 1, 2 -> 7 / 5
    assert metrics.seasonal_scale(history, 1) == pytest.approx(1.4)
    # a history no longer than the season falls back to the naive scale
    assert metrics.seasonal_scale(np.array([1.0, 3.0, 4.0]), 12) == 1.5
    # one pair (P = 1, K = 1): its MAE (1) over its scale
    one = ACTUAL[None, :, None], FORECAST[None, :, None]
    assert metrics.mase(*one, np.array([[2.75]])) == pytest.approx(1 / 2.75)
    assert math.isnan(metrics.mase(*one, np.array([[0.0]])))
    # two pairs: each MAE over its own scale, then the mean (M4); a scale of 0 is left out
    pairs = np.stack([ACTUAL, ACTUAL])[..., None], np.stack([FORECAST, ACTUAL + 2])[..., None]
    assert metrics.mase(*pairs, np.array([[2.75], [4.0]])) == pytest.approx((1 / 2.75 + 0.5) / 2)
    assert metrics.mase(*pairs, np.array([[0.0], [4.0]])) == pytest.approx(0.5)
    assert math.isnan(metrics.seasonal_scale(np.array([1.0]), 1))


def test_pinball_loss_by_hand():
    actual = np.array([10.0, 10.0, 10.0])
    forecast = np.array([8.0, 10.0, 13.0])
    # q = 0.9: under-forecast by 2 -> 0.9 * 2 = 1.8; exact -> 0; over by 3 -> 0.1 * 3 = 0.3
    assert metrics.pinball(actual, forecast, 0.9) == pytest.approx((1.8 + 0 + 0.3) / 3)
    # q = 0.1: 0.1 * 2 = 0.2; 0; 0.9 * 3 = 2.7
    assert metrics.pinball(actual, forecast, 0.1) == pytest.approx((0.2 + 0 + 2.7) / 3)
    # the median's pinball loss is half the absolute error
    assert metrics.pinball(actual, forecast, 0.5) == pytest.approx(metrics.mae(actual, forecast)
                                                                    / 2)
    one = actual[None, :, None], forecast[None, :, None]
    assert metrics.scaled_pinball(*one, 0.9, np.array([[2.0]])) == pytest.approx(0.35)
    assert math.isnan(metrics.scaled_pinball(*one, 0.9, np.array([[0.0]])))
    # an interval [A - 1, A + 2] of width 3 scales like MASE too
    assert metrics.scaled_width(one[0] - 1, one[0] + 2, np.array([[1.5]])) == 2.0


def test_coverage_and_width_by_hand():
    actual = np.array([1.0, 5.0, 9.0, 4.0])
    lower = np.array([0.0, 5.0, 10.0, 0.0])
    upper = np.array([2.0, 6.0, 12.0, 3.0])
    # inside, on the lower edge (inside), below, above -> 2 of 4
    assert metrics.coverage(actual, lower, upper) == 0.5
    assert metrics.width(lower, upper) == pytest.approx((2 + 1 + 2 + 3) / 4)
