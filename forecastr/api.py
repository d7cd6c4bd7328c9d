"""The library API behind every command: plain functions that take a source and a FitConfig
and return plain data. It never prints; warnings go to the `forecastr` logger. `fit` lives
in fitting.py and is found here too, with every other command's function."""

from __future__ import annotations

import dataclasses
import io
import logging
import sys
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import numpy as np

from forecastr import calendar
from forecastr.calendar import rhythm
from forecastr.clock import Clock
from forecastr.config import FitConfig
from forecastr.errors import ConfigError, DataError, out_of_memory
from forecastr.fitting import FEWER_SERIES, FitResult, Prepared, fit, prepare  # noqa: F401
from forecastr.outputs import extra_outputs
from forecastr.panel import Panel, has_clock_times, select, time_text
from forecastr.reader import read_panel
from forecastr.windows import build
from forecastr.writer import check_writable

if TYPE_CHECKING:
    import pandas as pd

    from forecastr.artifact import Artifact

log = logging.getLogger(__name__)


def inspect(source: str | Path | BinaryIO, cfg: FitConfig | None = None) -> dict[str, Any]:
    """Describe what forecastr sees in a CSV: layout, time axis, series and windows.

    Returns a JSON-able dict. A file that cannot be read raises DataError; a panel that
    reads but cannot make a single window is reported under `windows.error` instead, so
    that the description is still available.
    """
    cfg = cfg or FitConfig()
    panel = read_panel(source, cfg)
    schema = panel.schema
    report: dict[str, Any] = {
        "source": panel.source,
        "layout": schema.layout,
        "time_col": schema.time_col,
        "time_kind": schema.time_kind,
        "freq": schema.freq if schema.time_kind == "datetime" else None,
        "step": schema.step if schema.time_kind != "datetime" else None,
        "tz": schema.tz,
        "id_col": schema.id_col,
        "targets": list(schema.targets),
        "features": list(schema.features),
        "future_features": list(schema.future_features),
        "static_features": list(schema.static_features),
        "n_series": panel.n_series,
        "n_points": int(panel.lengths.sum()),
        "filled": int(panel.filled.sum()),
    }
    clock = has_clock_times(panel.times)
    report["series"] = [_describe_series(panel, s, clock) for s in range(panel.n_series)]
    report["windows"] = _describe_windows(panel, cfg)
    return report


def _describe_series(panel: Panel, s: int, clock: bool) -> dict[str, Any]:
    _, times = panel.series(s)
    return {"id": panel.ids[s], "length": len(times), "start": time_text(times[0], clock),
            "end": time_text(times[-1], clock), "filled": int(panel.filled[s])}


def _describe_windows(panel: Panel, cfg: FitConfig) -> dict[str, Any]:
    cfg = calendar.settle(cfg, panel.schema.freq)
    settings = {"window": cfg.window, "horizon": cfg.horizon, "stride": cfg.stride,
                "val_windows": cfg.val_windows}
    try:
        split = build(panel, cfg.window, cfg.horizon, cfg.stride, cfg.val_windows)
    except DataError as exc:
        return {**settings, "error": str(exc)}
    return {**settings, "train": len(split.train), "val": len(split.val),
            "padded": list(split.padded), "skipped": list(split.skipped)}


def info(model_path: str | Path) -> dict[str, Any]:
    """What a model file holds: architecture, data schema, config and training summary."""
    from forecastr import artifact

    loaded = artifact.load(model_path)
    cfg = loaded.config
    return {
        "model": str(model_path),
        "versions": loaded.versions,
        "architecture": {"cell": cfg.cell, "mode": cfg.mode, "layers": cfg.layers,
                         "hidden": cfg.hidden, "bidirectional": cfg.bidirectional,
                         "dropout": cfg.dropout, "ensemble": cfg.ensemble,
                         "baseline": cfg.baseline, "window": loaded.window,
                         "horizon": loaded.horizon,
                         "inputs_per_step": loaded.dimensions.n_inputs,
                         "parameters": sum(int(t.numel()) for t in loaded.state_dict.values()),
                         "quantiles": list(cfg.quantiles),
                         "intervals": [f"{level:g}%" for level in cfg.intervals],
                         "interval_method": cfg.interval_method if cfg.intervals else None},
        "data": {"trained_on": loaded.training.get("data"),  # files before 0.1 lack it
                 "last_time": max(loaded.series.get("last_times") or [None]),
                 **{k: v for k, v in dataclasses.asdict(loaded.schema).items()},
                 "calendar": list(loaded.calendar), "scaler": loaded.scaling.kind,
                 "n_series": len(loaded.series["ids"])},
        "training": {k: v for k, v in loaded.training.items() if k != "history"},
        "config": dataclasses.asdict(cfg),
    }


NewSeries = Literal["forecast", "skip", "error"]
OutputFormat = Literal["csv", "json", "parquet"]


def evaluate(model_path: str | Path, source: str | Path | BinaryIO, *, folds: int = 3,
             step: int | None = None, season: int | None = None, horizon: int | None = None,
             device_spec: str = "auto", plot_path: str | Path | None = None,
             refit: bool = False) -> dict[str, Any]:
    """Backtest a model on the tail of DATA with rolling origins, beside naive baselines.

    Each origin's forecast uses only the history before it. The model forecasts as it is,
    or with `refit`, a model of its configuration is fitted on the history before each
    origin first (no forecast then scores data its model was trained on). `folds` origins,
    `step` steps apart (default: the horizon), score `horizon` steps each (default: the
    trained horizon) against seasonal naive at `season` (default: from the frequency).
    `plot_path` draws a few series to a PNG (needs matplotlib).
    """
    from forecastr import artifact, backtest, device, forecast, model_data, plot

    _at_least_one(folds=folds, step=step, season=season, horizon=horizon)
    if plot_path is not None:
        plot.require_matplotlib()
        check_writable(plot_path, inputs={"MODEL": model_path, "DATA": source})
    loaded = artifact.load(model_path)
    if horizon is not None and horizon > loaded.horizon:
        raise ConfigError(f"--horizon must be at most {loaded.horizon}, the horizon "
                          f"{model_path} was fitted for; got {horizon} (fit a model with a "
                          f"longer --horizon to score more steps)")
    target_device = device.resolve_device(device_spec)
    panel = model_data.read_for_model(source, loaded, str(model_path))
    horizon = horizon or loaded.horizon
    season = season or rhythm(panel.schema.freq).season
    model = artifact.build_model(loaded, str(model_path)).to(target_device)

    extra = extra_outputs(loaded.config)
    read = [loaded.dimensions.point, *[output.index for output in extra]]

    def predict(history: Panel, ahead: np.ndarray) -> np.ndarray:  # (S, H, K, 1 + E)
        net, used = _refitted(loaded, history, device_spec, target_device) if refit \
            else (model, loaded)
        return forecast.forecast(net, used, history, horizon, target_device,
                                 future=ahead[..., panel.schema.future_from:])[0][..., read]

    reach = forecast.future_steps(loaded, horizon) if loaded.dimensions.n_future else horizon
    with out_of_memory(f"backtesting {panel.n_series:,} series", FEWER_SERIES):
        scored = backtest.run(panel, predict, horizon, folds, step or horizon, season,
                              extra, reach)
    if plot_path is not None:
        plot.draw(panel, scored, plot_path)
    clock = has_clock_times(panel.times)
    result = backtest.report(scored, panel.ids, lambda t: time_text(t, clock))
    return {"model": str(model_path), "data": panel.source, "horizon": horizon,
            "folds": folds, "step": step or horizon, "season": season, "refit": refit,
            "in_sample_forecasts": 0 if refit else _in_sample(loaded, panel, scored),
            **result}


def _refitted(loaded: Artifact, history: Panel, device_spec: str, target_device: Any
              ) -> tuple[Any, Artifact]:
    """A model of `loaded`'s configuration fitted on `history` alone, and its artifact."""
    from forecastr import artifact

    last = history.times[history.indptr[1:] - 1].max()
    log.info("evaluate --refit: fitting on %d series up to %s", history.n_series,
             time_text(last, has_clock_times(history.times)))
    fitted = fit(history, dataclasses.replace(loaded.config, device=device_spec)).artifact
    return artifact.build_model(fitted).to(target_device), fitted


def _in_sample(loaded: Artifact, panel: Panel, scored: Any) -> int:
    """How many backtest forecasts start at or before the last time the model was trained
    on for their series: their actuals were training data, so their scores flatter it."""
    from forecastr import forecast

    texts = loaded.series.get("last_times") or []
    if not texts:
        return 0
    until = (np.array([t.replace(" ", "T") for t in texts], dtype="datetime64[ns]")
             if panel.times.dtype.kind == "M" else np.asarray(texts, dtype=np.int64))
    rows = forecast.training_rows(loaded, panel)[scored.series]  # (P,) -1: never trained on
    return int(((rows >= 0) & (scored.origin <= until[np.maximum(rows, 0)])).sum())


def predict(model_path: str | Path, source: str | Path | BinaryIO, *,
            horizon: int | None = None, with_history: bool = False,
            new_series: NewSeries = "forecast", device_spec: str = "auto",
            output: str | Path | None = None, fmt: OutputFormat = "csv",
            future: str | Path | BinaryIO | None = None) -> pd.DataFrame:
    """Forecast the steps after the end of every series in DATA, in DATA's own layout.

    new_series: what to do with series the model never saw: "forecast" (the model is
    global), "skip" them, or raise an "error". `output`, when given, is written atomically
    as `fmt` (CSV, JSON lines or Parquet); it is checked before any work, and may not be an
    input. A model fitted with future features reads their values at the forecast steps
    from `future` (a file in DATA's layout) or, by default, from the rows past the end of
    each series in DATA, whose target is empty.
    """
    from forecastr import artifact, device, forecast, future_values, model_data, table, writer

    _one_of(new_series=(new_series, NewSeries), fmt=(fmt, OutputFormat))
    _at_least_one(horizon=horizon)
    if output is not None:
        check_writable(output, inputs={"MODEL": model_path, "DATA": source,
                                       **({"FUTURE": future} if future is not None else {})})
    loaded = artifact.load(model_path)
    if future is not None and not loaded.dimensions.n_future:
        raise ConfigError(f"--future: {model_path} was fitted without future features, so it "
                          f"reads no future values; leave --future out")
    if loaded.dimensions.n_future and future is None:
        source = _rereadable(source)  # read twice: the history, then the future rows
    if horizon is not None and not 1 <= horizon <= loaded.horizon:
        raise ConfigError(f"--horizon must be between 1 and {loaded.horizon}, the horizon "
                          f"{model_path} was fitted for; got {horizon} (fit a model with a "
                          f"longer --horizon to forecast further)")
    target_device = device.resolve_device(device_spec)
    clock = Clock()
    panel = model_data.read_for_model(source, loaded, str(model_path))
    clock.lap("read")
    if panel.empty:  # a series the user expects a forecast for cannot get one
        raise DataError(f"{panel.source}: series {panel.empty[0]!r} has no usable history "
                        f"(every value is empty); {len(panel.empty)} such series; give it "
                        f"values or drop it")
    trained = set(loaded.series["ids"])
    unseen = [i for i in panel.ids if i not in trained]
    if unseen and new_series == "error":
        raise DataError(f"{panel.source}: series {unseen[0]!r} was not in the training data "
                        f"({len(unseen)} such series); pass --new-series forecast or skip")
    if unseen and new_series == "skip":
        keep = np.array([i in trained for i in panel.ids])
        if not keep.any():
            raise DataError(f"{panel.source}: no series of the training data is in this "
                            f"file; pass --new-series forecast to forecast them anyway")
        panel = select(panel, np.flatnonzero(keep))
        log.warning("%s: skipped %d series unseen in training", panel.source, len(unseen))
    elif unseen:  # the model is global, but the user should know which series it never saw
        log.warning("%s: forecast %d series unseen in training (e.g. %r), scaled on their own "
                    "history; --new-series skip or error says otherwise", panel.source,
                    len(unseen), unseen[0])
    short = int((panel.lengths < loaded.window).sum())
    if short:
        log.warning("%s: left-padded %d series with less history than the window (%d)",
                    panel.source, short, loaded.window)
    model = artifact.build_model(loaded, str(model_path))
    known = None
    if loaded.dimensions.n_future:
        if hasattr(source, "seek"):
            source.seek(0)
        known = future_values.read(future if future is not None else source, loaded.config,
                                   panel, forecast.future_steps(loaded, horizon),
                                   str(model_path), separate=future is not None)
    inputs = forecast.model_inputs(loaded, panel, target_device, horizon, known)
    clock.lap("windows")
    with out_of_memory(f"forecasting {panel.n_series:,} series", FEWER_SERIES):
        values, times = forecast.forward(model, loaded, inputs, horizon or loaded.horizon,
                                         target_device)
    broken = ~np.isfinite(values).all(axis=(1, 2, 3))
    if broken.any():  # never a forecast of inf or NaN with exit 0
        s = int(np.argmax(broken))
        largest = float(np.nanmax(np.abs(panel.series(s)[0][:, :loaded.dimensions.n_targets])))
        raise DataError(f"{panel.source}: the forecast of series {panel.ids[s]!r} is not a "
                        f"finite number ({int(broken.sum())} such series); its values reach "
                        f"{largest:.3g}; scale the data (e.g. to thousands or millions) "
                        f"and refit")
    clock.lap("forward")
    frame = table.to_frame(panel, values, times, with_history,
                              extra_outputs(loaded.config), loaded.dimensions.point)
    clock.lap("table")
    if output is not None:
        writer.write_bytes(writer.render_bytes(frame, fmt), output)
        clock.lap("writing")
    log.info("timings: %s", clock)
    return frame


def _rereadable(source: str | Path | BinaryIO) -> str | Path | BinaryIO:
    """A path as it is; stdin or a stream held in memory, so that it can be read twice."""
    if hasattr(source, "read"):
        name, data = getattr(source, "name", "<stream>"), source.read()
    elif str(source) == "-":
        name, data = "<stdin>", sys.stdin.buffer.read()
    else:
        return source
    held = io.BytesIO(data)
    held.name = name
    return held


def _at_least_one(**counts: int | None) -> None:
    """Counts given as keywords (the flags' names) are at least 1, or None (unset)."""
    for name, count in counts.items():
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                  or count < 1):
            raise ConfigError(f"--{name} must be a whole number of at least 1, got {count!r}")


def _one_of(**choices: tuple[str, Any]) -> None:
    """Each keyword's value is one of its Literal type's choices."""
    for name, (value, allowed) in choices.items():
        if value not in typing.get_args(allowed):
            raise ConfigError(f"--{name.replace('_', '-')} must be one of "
                              f"{', '.join(typing.get_args(allowed))}; got {value!r}")
