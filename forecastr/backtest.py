"""Rolling-origin backtests: forecasts from several origins at the tail of every series, each
made from the history before it only, scored beside the naive and seasonal naive baselines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from forecastr import metrics
from forecastr.panel import Panel, select, truncate

METHODS = ("model", "naive", "seasonal_naive")
Forecaster = Callable[[Panel], np.ndarray]  # history panel -> (S, H, K) point forecasts


@dataclass(frozen=True)
class Scored:
    """Every (series, fold) forecast of the backtest: P = number of pairs."""

    series: np.ndarray  # (P,) series number
    fold: np.ndarray  # (P,) 0 = the most recent origin
    origin: np.ndarray  # (P,) time of the first forecast step
    actual: np.ndarray  # (P, H, K)
    forecasts: dict[str, np.ndarray]  # method -> (P, H, K)
    scale: np.ndarray  # (P, K) in-sample seasonal naive MAE, for MASE


def baselines(history: Panel, horizon: int, season: int) -> dict[str, np.ndarray]:
    """Naive (last value) and seasonal naive (same step one season back), (S, H, K) each."""
    k = history.schema.n_targets
    ends = history.indptr[1:]
    last = history.values[ends - 1, :k]  # (S, K)
    naive = np.repeat(last[:, None, :], horizon, axis=1)
    steps = np.arange(horizon)
    m = max(season, 1)
    back = ends[:, None] - m + steps[None, :] % m  # (S, H): row one season before each step
    usable = (history.lengths >= m)[:, None]
    seasonal = np.where(usable[..., None], history.values[np.maximum(back, 0), :k], naive)
    return {"naive": naive, "seasonal_naive": seasonal}


def run(panel: Panel, forecaster: Forecaster, horizon: int, folds: int, step: int,
        season: int) -> Scored:
    """Forecast from `folds` origins stepping back by `step` from the end of every series."""
    k = panel.schema.n_targets
    parts: dict[str, list[np.ndarray]] = {name: [] for name in
                                          ("series", "fold", "origin", "actual", "scale",
                                           *METHODS)}
    for fold in range(folds):
        cuts = panel.lengths - horizon - fold * step
        keep = np.flatnonzero(cuts >= 2)  # an origin needs some history to forecast from
        if not len(keep):
            continue
        subset = select(panel, keep)
        history = truncate(subset, cuts[keep])
        guesses = {"model": forecaster(history)[:, :horizon],
                   **baselines(history, horizon, season)}
        first = subset.indptr[:-1] + cuts[keep]  # row of each origin's first forecast step
        rows = first[:, None] + np.arange(horizon)
        parts["actual"].append(subset.values[rows, :k])
        parts["origin"].append(subset.times[first])
        parts["series"].append(keep)
        parts["fold"].append(np.full(len(keep), fold))
        parts["scale"].append(np.array([[metrics.seasonal_scale(h[:, c], season)
                                         for c in range(k)]
                                        for h in (history.series(i)[0] for i in
                                                  range(history.n_series))]))
        for name in METHODS:
            parts[name].append(guesses[name])
    if not parts["actual"]:
        from forecastr.errors import DataError

        longest = int(np.argmax(panel.lengths))
        raise DataError(f"{panel.source}: no series is long enough to backtest a horizon of "
                        f"{horizon}: the longest, {panel.ids[longest]!r}, has "
                        f"{int(panel.lengths[longest])} points; at least {horizon + 2} are "
                        f"needed (give more history or a smaller --horizon)")
    joined = {name: np.concatenate(values) for name, values in parts.items()}
    return Scored(joined["series"], joined["fold"], joined["origin"], joined["actual"],
                  {name: joined[name] for name in METHODS}, joined["scale"])


def summarise(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    """Metrics over (P, H, K) arrays; MASE is the mean over pairs and targets (as in M4)."""
    per_pair = np.abs(forecast - actual).mean(axis=1)  # (P, K)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(scale > 0, per_pair / scale, np.nan)
    return {"mae": metrics.mae(actual, forecast), "rmse": metrics.rmse(actual, forecast),
            "mape": metrics.mape(actual, forecast), "smape": metrics.smape(actual, forecast),
            "mase": float(np.nanmean(ratios)) if np.isfinite(ratios).any() else float("nan"),
            "bias": metrics.bias(actual, forecast)}


def report(scored: Scored, ids: tuple[str, ...], time_text: Callable[[Any], Any]
           ) -> dict[str, Any]:
    """Overall, per series, per fold and per horizon step, for the model and both baselines."""
    def block(mask: np.ndarray) -> dict[str, dict[str, float]]:
        return {name: summarise(scored.actual[mask], scored.forecasts[name][mask],
                                scored.scale[mask]) for name in METHODS}

    everything = np.ones(len(scored.series), dtype=bool)
    overall = block(everything)
    seasonal = overall["seasonal_naive"]["mase"]
    overall["relative_mase"] = (overall["model"]["mase"] / seasonal
                                if np.isfinite(seasonal) and seasonal > 0 else float("nan"))
    per_series = [{"id": ids[s], **block(scored.series == s)} for s in np.unique(scored.series)]
    per_fold = [{"fold": int(f), "origin": time_text(scored.origin[scored.fold == f].max()),
                 **block(scored.fold == f)} for f in np.unique(scored.fold)]
    per_step = {name: np.abs(scored.forecasts[name] - scored.actual).mean(axis=(0, 2)).tolist()
                for name in METHODS}
    return {"overall": overall, "per_series": per_series, "per_fold": per_fold,
            "per_step_mae": per_step, "forecasts": len(scored.series),
            "mape_skipped_zeros": metrics.zeros(scored.actual)}
