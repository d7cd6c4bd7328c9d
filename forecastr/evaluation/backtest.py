"""Rolling-origin backtests: forecasts from several origins at the tail of every series, each
made from the history before it only, scored beside the naive and seasonal naive baselines
and the Theta method's forecast (a statistical reference computed here, nothing installed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forecastr.data.panel import Panel, select, shown_id, truncate
from forecastr.evaluation import metrics
from forecastr.network import outputs
from forecastr.network.outputs import Output

METHODS = ("model", "naive", "seasonal_naive", "theta")
MIN_HISTORY = 2  # points before an origin that a series needs to be forecast from it
# the Theta reference reads at most this many of the last steps of each history: several
# seasons at every frequency forecastr suggests a season for, and a bound on its work
THETA_REACH = 1_000
# (history panel, ahead (S, reach, C) the rows after each origin, for the values known in
# advance) -> (S, H, K, 1 + E): the point forecast, then E extra outputs (quantiles and
# interval bounds, described by the `extra` argument of run)
ForecastFunction = Callable[[Panel, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Scored:
    """Every (series, fold) forecast of the backtest: P = number of pairs."""

    series: np.ndarray  # (P,) series number
    fold: np.ndarray  # (P,) 0 = the most recent origin
    origin: np.ndarray  # (P,) time of the first forecast step
    actual: np.ndarray  # (P, H, K)
    forecasts: dict[str, np.ndarray]  # method -> (P, H, K)
    scale: np.ndarray  # (P, K) in-sample seasonal naive MAE, for MASE
    bands: np.ndarray | None = None  # (P, H, K, E) the model's extra outputs
    extra: list[Output] = field(default_factory=list)  # (E,) what each of them is


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
    return {"naive": naive, "seasonal_naive": seasonal,
            "theta": theta_reference(history, horizon, season)}


def theta_reference(history: Panel, horizon: int, season: int) -> np.ndarray:
    """(S, H, K) the Theta method's forecast from each series' history (its last
    THETA_REACH steps), all series at once: the statistical reference beside the naive
    ones, the same forecast `--baseline theta` starts a network from."""
    import torch

    from forecastr.network import theta
    from forecastr.network.windows import input_rows

    targets = np.ascontiguousarray(history.values[:, :history.schema.n_targets], np.float64)
    indptr = torch.from_numpy(history.indptr)
    # each series' last steps as the window that ends at its end, padded before it starts
    window, observed = input_rows(torch.from_numpy(targets), indptr, indptr[1:],
                                  torch.arange(history.n_series),
                                  int(min(THETA_REACH, history.lengths.max())))
    return theta.forecast(window, observed, horizon, season).numpy()


def run(panel: Panel, forecaster: ForecastFunction, horizon: int, folds: int, step: int,
        season: int, extra: list[Output] | None = None, reach: int | None = None) -> Scored:
    """Forecast from `folds` origins stepping back by `step` from the end of every series;
    each forecast is given the `reach` (default: `horizon`) rows after its origin, from
    which it may read only what is known in advance (future features)."""
    reach = max(reach or horizon, horizon)
    k = panel.schema.n_targets
    parts: dict[str, list[np.ndarray]] = {name: [] for name in
                                          ("series", "fold", "origin", "actual", "scale",
                                           "bands", *METHODS)}
    for fold in range(folds):
        cuts = panel.lengths - reach - fold * step
        keep = np.flatnonzero(cuts >= MIN_HISTORY)
        if not len(keep):
            continue
        subset = select(panel, keep)
        history = truncate(subset, cuts[keep])
        first = subset.indptr[:-1] + cuts[keep]  # row of each origin's first forecast step
        ahead = subset.values[first[:, None] + np.arange(reach)]  # (S, reach, C)
        outputs = forecaster(history, ahead)[:, :horizon]  # (S, H, K, 1 + E)
        guesses = {"model": outputs[..., 0], **baselines(history, horizon, season)}
        parts["bands"].append(outputs[..., 1:])
        parts["actual"].append(ahead[:, :horizon, :k])
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
                        f"{horizon}: the longest, {shown_id(panel.ids[longest])}, has "
                        f"{int(panel.lengths[longest])} points; at least {reach + 2} are "
                        f"needed (give more history or a smaller --horizon)")
    joined = {name: np.concatenate(values) for name, values in parts.items()}
    return Scored(joined["series"], joined["fold"], joined["origin"], joined["actual"],
                  {name: joined[name] for name in METHODS}, joined["scale"],
                  joined["bands"] if extra else None, list(extra or []))


def summarise(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    """Metrics over (P, H, K) arrays; MASE is the mean over pairs and targets (as in M4)."""
    return {"mae": metrics.mae(actual, forecast), "rmse": metrics.rmse(actual, forecast),
            "mape": metrics.mape(actual, forecast), "smape": metrics.smape(actual, forecast),
            "mase": metrics.mase(actual, forecast, scale),
            "bias": metrics.bias(actual, forecast)}


def report(scored: Scored, ids: tuple[str, ...], time_text: Callable[[Any], Any]
           ) -> dict[str, Any]:
    """Overall, per series, per fold and per horizon step, for the model and both baselines."""
    def block(mask: np.ndarray) -> dict[str, Any]:
        scores: dict[str, Any] = {name: summarise(scored.actual[mask],
                                                  scored.forecasts[name][mask],
                                                  scored.scale[mask]) for name in METHODS}
        if scored.bands is not None:  # the model's quantiles and intervals
            scores["model"].update(probabilistic(scored, mask))
        return scores

    everything = np.ones(len(scored.series), dtype=bool)
    overall = block(everything)
    for name, key in (("seasonal_naive", "relative_mase"), ("naive", "relative_mase_naive"),
                      ("theta", "relative_mase_theta")):
        baseline = overall[name]["mase"]  # relative_mase: to seasonal naive, as M4 reports
        overall[key] = (overall["model"]["mase"] / baseline
                        if np.isfinite(baseline) and baseline > 0 else float("nan"))
    per_series = [{"id": ids[s], **block(scored.series == s)} for s in np.unique(scored.series)]
    per_fold = [{"fold": int(f), "origin": time_text(scored.origin[scored.fold == f].max()),
                 **block(scored.fold == f)} for f in np.unique(scored.fold)]
    per_step = {name: np.abs(scored.forecasts[name] - scored.actual).mean(axis=(0, 2)).tolist()
                for name in METHODS}
    # a history that never changed has no seasonal naive error to scale by
    flat = np.unique(scored.series[(scored.scale <= 0).any(axis=1)])
    return {"overall": overall, "per_series": per_series, "per_fold": per_fold,
            "per_step_mae": per_step, "forecasts": len(scored.series),
            "mape_skipped_zeros": metrics.zeros(scored.actual),
            "mase_skipped_series": [ids[s] for s in flat]}


OFF_BY = 0.05  # coverage this far from the nominal level is flagged


def probabilistic(scored: Scored, mask: np.ndarray) -> dict[str, Any]:
    """Pinball loss (and scaled like MASE) of every quantile the model forecasts, interval
    bounds included as the quantiles they are; coverage and width of every interval."""
    actual, scale = scored.actual[mask], scored.scale[mask]  # (P, H, K), (P, K)
    bands = scored.bands[mask]  # (P, H, K, E)
    by_quantile: dict[float, int] = {}  # an interval bound scores as the quantile it is
    for e, output in enumerate(scored.extra):
        by_quantile.setdefault(output.quantile, e)
    quantiles = {}
    for q, e in sorted(by_quantile.items()):
        quantiles[f"{q:g}"] = {
            "pinball": metrics.pinball(actual, bands[..., e], q),
            "scaled_pinball": metrics.scaled_pinball(actual, bands[..., e], q, scale)}
    intervals = {}
    for low, high in outputs.intervals(scored.extra):
        lower = bands[..., scored.extra.index(low)]
        upper = bands[..., scored.extra.index(high)]
        covered = metrics.coverage(actual, lower, upper)
        nominal = low.level / 100
        intervals[f"{low.level:g}"] = {
            "nominal": nominal, "coverage": covered, "width": metrics.width(lower, upper),
            "scaled_width": metrics.scaled_width(lower, upper, scale),
            "off": bool(abs(covered - nominal) > OFF_BY)}
    return {"quantiles": quantiles, "intervals": intervals}
