"""Split-conformal intervals: the corrected rank by hand, per-series against pooled widths,
and coverage at the nominal level on data with known noise."""

from __future__ import annotations

import math

import numpy as np

from forecastr.evaluation import metrics
from forecastr.network.conformal import bounds, calibrate, half_width, needed


def test_half_width_is_the_corrected_rank():
    scores = np.array([5.0, 1.0, 4.0, 2.0, 3.0])  # sorted: 1 2 3 4 5, n = 5
    # level 0.5: ceil(6 * 0.5) = 3rd smallest = 3; level 0.8: ceil(4.8) = 5th = 5
    assert half_width(scores, 0.5) == 3.0
    assert half_width(scores, 0.8) == 5.0
    # level 0.9: ceil(5.4) = 6 > 5 residuals: no finite width
    assert math.isinf(half_width(scores, 0.9))
    assert (needed(0.8), needed(0.9), needed(0.95)) == (4, 9, 19)


def test_series_with_enough_residuals_get_their_own_widths():
    rng = np.random.default_rng(0)
    calm = rng.normal(0, 1, (40, 2, 1))  # series 0: 40 residuals, small
    wild = rng.normal(0, 10, (5, 2, 1))  # series 1: only 5, large
    residuals = np.concatenate([calm, wild])
    series = np.r_[np.zeros(40, int), np.ones(5, int)]
    widths, _ = calibrate(residuals, series, 2, [0.8])
    assert widths.shape == (2, 1, 2, 1)
    np.testing.assert_array_equal(widths[0, 0], half_width(np.abs(calm), 0.8))
    np.testing.assert_array_equal(widths[1, 0], half_width(np.abs(residuals), 0.8))  # pooled
    lower, upper = bounds(np.zeros((2, 2, 1)), widths)
    np.testing.assert_array_equal(upper - lower, 2 * widths)


def test_conformal_intervals_reach_their_nominal_coverage():
    rng = np.random.default_rng(42)
    horizon, sigma = 6, 2.0
    truth = np.linspace(0, 5, horizon)  # what a point model forecasts
    calibration = rng.normal(0, sigma, (500, horizon, 1))  # residuals on held-out windows
    widths, _ = calibrate(calibration, np.zeros(500, int), 1, [0.8, 0.95])
    future = truth + rng.normal(0, sigma, (1000, horizon))  # 6,000 new actuals
    point = np.broadcast_to(truth[None, :, None], (1, horizon, 1))
    lower, upper = bounds(point, widths)
    for j, level in enumerate([0.8, 0.95]):
        covered = metrics.coverage(future, lower[0, j, :, 0], upper[0, j, :, 0])
        assert abs(covered - level) <= 0.03, (level, covered)
