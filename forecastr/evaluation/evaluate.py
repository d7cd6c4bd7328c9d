"""evaluate and compare: a model (or several) backtested from rolling origins at the tail of
DATA, beside the naive, seasonal naive and Theta references, with what its file says it
kept; with refit, a model of its configuration is fitted before each origin first."""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from forecastr.config import at_least_one
from forecastr.data.calendar import rhythm
from forecastr.data.panel import Panel, has_clock_times, time_text
from forecastr.data.source import rereadable
from forecastr.data.writer import check_writable
from forecastr.errors import ConfigError, out_of_memory
from forecastr.network.outputs import extra_outputs
from forecastr.network.threads import limited, plan
from forecastr.training.fitting import FEWER_SERIES, fit

if TYPE_CHECKING:
    from forecastr.modelfile.contents import Artifact

log = logging.getLogger(__name__)


def evaluate(model_path: str | Path, source: str | Path | BinaryIO, *, folds: int = 3,
             step: int | None = None, season: int | None = None, horizon: int | None = None,
             device_spec: str = "auto", plot_path: str | Path | None = None,
             refit: bool = False, threads: int | None = None,
             on_epoch: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Backtest a model on the tail of DATA with rolling origins, beside naive baselines.

    Each origin's forecast uses only the history before it. The model forecasts as it is,
    or with `refit`, a model of its configuration is fitted on the history before each
    origin first (no forecast then scores data its model was trained on). `folds` origins,
    `step` steps apart (default: the horizon), score `horizon` steps each (default: the
    trained horizon) against seasonal naive at `season` (default: from the frequency).
    `plot_path` draws a few series to a PNG (needs matplotlib). `threads`: --threads
    (None: the policy of forecastr.network.threads). `on_epoch` is called after each epoch of a
    refit, as fit calls it, with `fit` (1 to `fits`, one per origin) added to its stats.
    """
    from forecastr.evaluation import backtest, plot
    from forecastr.forecasting import forecast, model_data
    from forecastr.modelfile import artifact
    from forecastr.network import device

    at_least_one(folds=folds, step=step, season=season, horizon=horizon, threads=threads)
    loaded = _model_to_evaluate(model_path, source, horizon, plot_path)
    target_device = device.resolve_device(device_spec)
    panel = model_data.read_for_model(source, loaded, str(model_path))
    horizon = horizon or loaded.horizon
    season = season or rhythm(panel.schema.freq).season
    model = artifact.build_model(loaded, str(model_path)).to(target_device)

    extra = extra_outputs(loaded.config)
    read = [loaded.dimensions.point, *[output.index for output in extra]]

    refits = itertools.count(1)

    def predict(history: Panel, ahead: np.ndarray) -> np.ndarray:  # (S, H, K, 1 + E)
        net, used = _refitted(loaded, history, device_spec, target_device, threads,
                              _numbered(on_epoch, next(refits), folds)) if refit \
            else (model, loaded)
        return forecast.forecast(net, used, history, horizon, target_device,
                                 future=ahead[..., panel.schema.future_from:])[0][..., read]

    reach = forecast.future_steps(loaded, horizon) if loaded.dimensions.n_future else horizon
    computing = plan(threads)
    log.info("threads: %s", computing.describe())
    with out_of_memory(f"backtesting {panel.n_series:,} series", FEWER_SERIES), \
            limited(computing):
        scored = backtest.run(panel, predict, horizon, folds, step or horizon, season,
                              extra, reach)
    if plot_path is not None:
        plot.draw(panel, scored, plot_path)
    return _evaluation_report(str(model_path), loaded, panel, scored, {
        "horizon": horizon, "folds": folds, "step": step or horizon, "season": season,
        "refit": refit})


def compare(model_paths: list[str | Path], source: str | Path | BinaryIO, *, folds: int = 3,
            step: int | None = None, season: int | None = None, horizon: int | None = None,
            device_spec: str = "auto", refit: bool = False, threads: int | None = None,
            on_epoch: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Backtest several models on the same origins of DATA, as `evaluate` backtests one:
    each model's overall scores and verdict, the references (naive, seasonal naive, Theta)
    once, and the best model by MASE. The horizon scored is the shortest the models were
    fitted for, unless `horizon` says; models that cannot be scored on the same origins
    (their future features reach further) raise ConfigError."""
    from forecastr.modelfile import artifact

    if not model_paths:
        raise ConfigError("compare: give at least one model")
    horizon = horizon or min(artifact.load(path).horizon for path in model_paths)
    held = rereadable(source)
    reports = []
    for path in model_paths:
        if hasattr(held, "seek"):
            held.seek(0)
        reports.append(evaluate(path, held, folds=folds, step=step, season=season,
                                horizon=horizon, device_spec=device_spec, refit=refit,
                                threads=threads, on_epoch=on_epoch))
    first = reports[0]
    for path, report in zip(model_paths[1:], reports[1:]):
        if [f["origin"] for f in report["per_fold"]] != [f["origin"] for f in first["per_fold"]] \
                or report["forecasts"] != first["forecasts"]:
            raise ConfigError(f"{path} is scored on other origins or series of DATA than "
                              f"{model_paths[0]} (its future features or columns differ); "
                              f"evaluate it on its own")
    keys = ("relative_mase", "relative_mase_naive", "relative_mase_theta")
    models = [{"model": str(path), "scores": report["overall"]["model"],
               **{key: report["overall"][key] for key in keys},
               "starting_point": report["starting_point"],
               "in_sample_forecasts": report["in_sample_forecasts"]}
              for path, report in zip(model_paths, reports)]
    scored = [m for m in models if m["scores"]["mase"] == m["scores"]["mase"]]
    return {"data": first["data"], "horizon": horizon, "folds": folds, "step": first["step"],
            "season": first["season"], "refit": refit, "forecasts": first["forecasts"],
            "models": models,
            "references": {name: first["overall"][name]
                           for name in ("naive", "seasonal_naive", "theta")},
            "best": min(scored, key=lambda m: m["scores"]["mase"])["model"] if scored
            else None}


def _model_to_evaluate(model_path: str | Path, source: str | Path | BinaryIO,
                       horizon: int | None, plot_path: str | Path | None) -> Artifact:
    """The model file loaded, after the checks that need no data: the plot can be drawn and
    written, and the model forecasts `horizon` steps."""
    from forecastr.evaluation import plot
    from forecastr.modelfile import artifact

    if plot_path is not None:
        plot.require_matplotlib()
        check_writable(plot_path, inputs={"MODEL": model_path, "DATA": source})
    loaded = artifact.load(model_path)
    if horizon is not None and horizon > loaded.horizon:
        raise ConfigError(f"--horizon must be at most {loaded.horizon}, the horizon "
                          f"{model_path} was fitted for; got {horizon} (fit a model with a "
                          f"longer --horizon to score more steps)")
    return loaded


def _evaluation_report(model: str, loaded: Artifact, panel: Panel, scored: Any,
                       settings: dict[str, Any]) -> dict[str, Any]:
    """evaluate's report: what was scored with which `settings`, then backtest.report's
    scores."""
    from forecastr.evaluation import backtest

    clock = has_clock_times(panel.times)
    result = backtest.report(scored, panel.ids, lambda t: time_text(t, clock))
    in_sample = 0 if settings["refit"] else _in_sample(loaded, panel, scored)
    return {"model": model, "data": panel.source, **settings, "in_sample_forecasts": in_sample,
            "starting_point": loaded.starting_point(), **result}


def _numbered(on_epoch: Callable[[dict[str, Any]], None] | None, number: int, fits: int
              ) -> Callable[[dict[str, Any]], None] | None:
    """`on_epoch` for refit `number` of `fits`: the stats it is given say which refit."""
    if on_epoch is None:
        return None
    return lambda stats: on_epoch({**stats, "fit": number, "fits": fits})


def _refitted(loaded: Artifact, history: Panel, device_spec: str, target_device: Any,
              threads: int | None, on_epoch: Callable[[dict[str, Any]], None] | None
              ) -> tuple[Any, Artifact]:
    """A model of `loaded`'s configuration fitted on `history` alone, and its artifact."""
    from forecastr.modelfile import artifact

    last = history.times[history.indptr[1:] - 1].max()
    log.info("evaluate --refit: fitting on %d series up to %s", history.n_series,
             time_text(last, has_clock_times(history.times)))
    fitted = fit(history, dataclasses.replace(loaded.config, device=device_spec,
                                              threads=threads), on_epoch=on_epoch).artifact
    return artifact.build_model(fitted).to(target_device), fitted


def _in_sample(loaded: Artifact, panel: Panel, scored: Any) -> int:
    """How many backtest forecasts start at or before the last time the model was trained
    on for their series: their actuals were training data, so their scores flatter it."""
    from forecastr.forecasting import forecast

    texts = loaded.series.get("last_times") or []
    if not texts:
        return 0
    until = (np.array([t.replace(" ", "T") for t in texts], dtype="datetime64[ns]")
             if panel.times.dtype.kind == "M" else np.asarray(texts, dtype=np.int64))
    rows = forecast.training_rows(loaded, panel)[scored.series]  # (P,) -1: never trained on
    return int(((rows >= 0) & (scored.origin <= until[np.maximum(rows, 0)])).sum())
