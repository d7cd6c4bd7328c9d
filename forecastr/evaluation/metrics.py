"""Forecast error metrics as pure numpy functions over arrays of actuals and forecasts.

Every function takes arrays of the same shape and reduces over all of them. Definitions:
MAPE skips zero actuals; sMAPE is the M4 competition's (0..200, in percent); MASE divides by
the in-sample MAE of the seasonal naive forecast with period m (Hyndman & Koehler, 2006).
Probabilistic forecasts: the pinball (quantile) loss of one quantile, scaled like MASE; the
coverage of an interval (the share of actuals inside it) and its mean width.
"""

from __future__ import annotations

import numpy as np


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(np.abs(forecast - actual)))


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.sqrt(np.mean((forecast - actual) ** 2)))


def bias(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean of forecast - actual: positive when the forecasts run high."""
    return float(np.mean(forecast - actual))


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute percentage error over non-zero actuals; NaN when every actual is 0."""
    nonzero = actual != 0
    if not nonzero.any():
        return float("nan")
    return float(100 * np.mean(np.abs((forecast[nonzero] - actual[nonzero]) / actual[nonzero])))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """M4's symmetric MAPE: 200 * |F - A| / (|A| + |F|), with 0/0 counted as 0."""
    denominator = np.abs(actual) + np.abs(forecast)
    safe = np.where(denominator == 0, 1.0, denominator)
    return float(np.mean(np.where(denominator == 0, 0.0, 200 * np.abs(forecast - actual) / safe)))


def seasonal_scale(history: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal naive forecast (naive when the history is too short)."""
    m = season if len(history) > season else 1
    if len(history) <= m:
        return float("nan")
    return float(np.mean(np.abs(history[m:] - history[:-m])))


def mase(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray) -> float:
    """MASE over forecasts (P, H, K) with the in-sample scale (P, K) of each (see
    seasonal_scale): each pair's MAE over its scale, averaged over pairs and targets (as in
    M4); pairs whose scale is 0 or unknown are left out, NaN when all are."""
    return scaled_mean(np.abs(forecast - actual).mean(axis=1), scale)


def scaled_mean(per_pair: np.ndarray, scale: np.ndarray) -> float:
    """Mean over pairs and targets of a (P, K) score divided by its scale (P, K), leaving
    out pairs whose scale is 0 or unknown; NaN when none is left."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(scale > 0, per_pair / scale, np.nan)
    return float(np.nanmean(ratios)) if np.isfinite(ratios).any() else float("nan")


def quantile_losses(actual: np.ndarray, forecast: np.ndarray, quantile: float) -> np.ndarray:
    """Elementwise pinball loss of a forecast of the `quantile`-quantile: quantile x (A - F)
    when the actual lies above the forecast, (1 - quantile) x (F - A) when below."""
    error = actual - forecast
    return np.maximum(quantile * error, (quantile - 1) * error)


def pinball(actual: np.ndarray, forecast: np.ndarray, quantile: float) -> float:
    """Mean pinball loss of a forecast of the `quantile`-quantile (see quantile_losses)."""
    return float(np.mean(quantile_losses(actual, forecast, quantile)))


def scaled_pinball(actual: np.ndarray, forecast: np.ndarray, quantile: float,
                   scale: np.ndarray) -> float:
    """Pinball loss over forecasts (P, H, K), scaled per pair as MASE scales the MAE."""
    return scaled_mean(quantile_losses(actual, forecast, quantile).mean(axis=1), scale)


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actuals inside [lower, upper], from 0 to 1."""
    return float(np.mean((actual >= lower) & (actual <= upper)))


def width(lower: np.ndarray, upper: np.ndarray) -> float:
    """Mean width of the intervals [lower, upper]."""
    return float(np.mean(upper - lower))


def scaled_width(lower: np.ndarray, upper: np.ndarray, scale: np.ndarray) -> float:
    """Mean width of intervals (P, H, K), scaled per pair as MASE scales the MAE."""
    return scaled_mean((upper - lower).mean(axis=1), scale)


def zeros(actual: np.ndarray) -> int:
    """How many actuals MAPE had to skip."""
    return int(np.sum(actual == 0))
