"""The library API behind every command: plain functions that take a source and a FitConfig
and return plain data. It never prints; warnings go to the `forecastr` logger."""

from __future__ import annotations

import dataclasses
import logging
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import numpy as np

from forecastr import calendar, scaling
from forecastr.calendar import rhythm
from forecastr.config import FitConfig
from forecastr.errors import ConfigError, DataError, Interrupted, out_of_memory
from forecastr.outputs import extra_outputs, quantile_levels
from forecastr.panel import Panel, select
from forecastr.reader import read_panel
from forecastr.stopping import StopRequest
from forecastr.windows import Split, build
from forecastr.writer import check_writable

if TYPE_CHECKING:
    import pandas as pd

    from forecastr.artifact import Artifact

log = logging.getLogger(__name__)
FEWER_SERIES = "split DATA into files of fewer series, or run where there is more memory"


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
        "n_series": panel.n_series,
        "n_points": int(panel.lengths.sum()),
        "filled": int(panel.filled.sum()),
    }
    clock = _has_clock_times(panel.times)
    report["series"] = [_describe_series(panel, s, clock) for s in range(panel.n_series)]
    report["windows"] = _describe_windows(panel, cfg)
    return report


def _has_clock_times(times: np.ndarray) -> bool:
    """True when some timestamp is not at midnight, so times of day must be shown."""
    return times.dtype.kind == "M" and bool((times != times.astype("datetime64[D]")).any())


def _describe_series(panel: Panel, s: int, clock: bool) -> dict[str, Any]:
    _, times = panel.series(s)
    return {"id": panel.ids[s], "length": len(times), "start": _time_text(times[0], clock),
            "end": _time_text(times[-1], clock), "filled": int(panel.filled[s])}


def _time_text(value: np.generic, clock: bool) -> str | int:
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="s" if clock else "D")).replace("T", " ")
    return int(value)


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


@dataclass(frozen=True)
class FitResult:
    """A trained model: its artifact (what the model file holds) and where it was written."""

    artifact: Artifact
    output: Path | None
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)  # per phase


@dataclass(frozen=True)
class Prepared:
    """A panel made ready for training: its windows, its scaling, and the scaled values with
    calendar channels, under a config whose data-dependent choices are settled."""

    cfg: FitConfig  # settled: window, horizon, calendar and highway are set
    panel: Panel
    split: Split
    stats: scaling.ScaleStats
    calendar: tuple[str, ...]
    values: np.ndarray  # (T_total, C + A) float32: scaled targets and features, calendar
    season: int  # steps per seasonal cycle, for the seasonal-naive baseline


def prepare(panel: Panel, cfg: FitConfig) -> Prepared:
    """Settle the config for the panel's frequency, then window and scale it, as fit does."""
    cfg = calendar.settle(cfg, panel.schema.freq)
    split = build(panel, cfg.window, cfg.horizon, cfg.stride, cfg.val_windows)
    if cfg.val_windows and not len(split.val):
        log.warning("%s: no series is long enough to hold out validation windows; early "
                    "stopping watches the training loss", panel.source)
    stats = scaling.fit(panel, cfg.scaler, split.train_ends)
    names = calendar.names(cfg, panel.schema.freq)
    values = np.concatenate([scaling.apply(panel, stats),
                             calendar.features(panel.times, names)], axis=1)
    return Prepared(cfg, panel, split, stats, names, values,
                    rhythm(panel.schema.freq).season)


def fit(source: str | Path | BinaryIO, cfg: FitConfig | None = None,
        output: str | Path | None = None,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        stop: StopRequest | None = None, resume: bool = False,
        checkpoint: str | Path | None = None) -> FitResult:
    """Train a recurrent forecaster on a CSV and, when `output` is given, write its model file.

    The output folder is checked before reading or training, so a bad path fails at once.
    When `stop` is requested during training, the state is written to `checkpoint` (by
    default OUTPUT.ckpt) and Interrupted is raised; `resume=True` continues from it and ends
    where an uninterrupted run would have. A resumed run removes its checkpoint when it
    finishes; a fresh run leaves one it finds (another run's) and says so.
    """
    import torch

    from forecastr import artifact, container, device, train
    from forecastr import checkpoint as checkpoints
    from forecastr.model import Dimensions, Ensemble

    if checkpoint is None and output is not None:
        checkpoint = checkpoints.path_for(output)
    if output is not None:
        check_writable(output, inputs={"DATA": source})
    if not resume and checkpoint is not None and Path(checkpoint).is_file():
        log.warning("%s: an interrupted run's checkpoint is there; this fit starts afresh and "
                    "leaves it unless it is interrupted too (pass --resume to continue that "
                    "run instead)", checkpoint)
    if resume and (checkpoint is None or not Path(checkpoint).is_file()):
        raise ConfigError(f"--resume: no checkpoint {checkpoint or '(no output given)'} to "
                          f"continue from; run without --resume to start")
    cfg = cfg or FitConfig()
    target_device = device.resolve_device(cfg.device)
    precision = device.resolve_precision(cfg.precision, target_device)
    clock = Clock()
    panel = read_panel(source, cfg)
    clock.lap("read")
    with out_of_memory(f"building the windows of {panel.n_series:,} series "
                       f"({int(panel.lengths.sum()):,} points)", FEWER_SERIES):
        ready = prepare(panel, cfg)
    clock.lap("windows")
    cfg, panel, split, values = ready.cfg, ready.panel, ready.split, ready.values
    _check_conformal(cfg, len(split.val), panel.source)
    digest = checkpoints.fingerprint(values, panel.indptr, split.train.origins,
                                     split.train.series, split.val.origins)
    state = checkpoints.load(checkpoint, cfg, digest) if resume else None
    levels = quantile_levels(cfg)
    dims = Dimensions(n_inputs=values.shape[1] + 1, n_targets=panel.schema.n_targets,
                      n_calendar=values.shape[1] - panel.values.shape[1],
                      n_quantiles=len(levels) or 1, point=levels.index(0.5) if levels else 0,
                      season=ready.season)
    torch.manual_seed(cfg.seed)  # weights and dropout: the same seed, the same CPU run
    model = Ensemble(cfg, dims).to(target_device)
    parameters = sum(p.numel() for p in model.parameters())
    if output is not None:  # a full disk fails now, not after training
        check_writable(output, _bytes_to_write(parameters, panel))
    data = train.TrainingData(
        values=torch.from_numpy(values).to(target_device),
        indptr=torch.from_numpy(panel.indptr).to(target_device), window=cfg.window,
        horizon=cfg.horizon, n_targets=panel.schema.n_targets,
        calendar_from=panel.values.shape[1], per_window=cfg.scaler == "window",
        window_floor=ready.stats.floor)
    stop = stop or StopRequest()
    val_windows = train.Windows.from_index(split.val, target_device)
    try:
        with stop.deferred(), out_of_memory(
                f"training {parameters:,} parameters on batches of {cfg.batch_size} windows "
                f"of {cfg.window} steps", "lower --batch-size, --window or --hidden"):
            result = train.train(
                model, data, train.Windows.from_index(split.train, target_device),
                val_windows, cfg, target_device, precision, on_epoch, stop.requested, state)
        clock.lap("training")
    except train.UnfitState as exc:
        raise ConfigError(f"{checkpoint}: corrupt checkpoint ({exc}); run without --resume to "
                          f"start over") from None
    except train.Paused as paused:
        if checkpoint is not None:
            checkpoints.save(checkpoint, paused.state, cfg, digest)
        raise Interrupted(f"training stopped at {paused.where}; " + (
            f"checkpoint written to {checkpoint}" if checkpoint is not None
            else "no checkpoint written (no output path)"),
            None if checkpoint is None else str(checkpoint)) from None
    if result.stopped.startswith("diverged"):
        log.warning("training %s (loss not finite); kept the weights of epoch %d",
                    result.stopped, result.best_epoch)
    summary = {**dataclasses.asdict(result), "device": str(target_device),
               "precision": precision, "train_windows": len(split.train),
               "val_windows": len(split.val), "monitored": "validation" if len(split.val)
               else "training", "parameters": parameters, "padded_series": len(split.padded),
               "skipped_series": list(split.skipped), "resumed": resume}
    calibrated = None
    if cfg.intervals and cfg.interval_method == "conformal":
        errors = train.residuals(model, data, val_windows, cfg, target_device, precision)
        calibrated = calibrate_intervals(errors.numpy(), split.val.series, panel.n_series,
                                         cfg.intervals)
    fitted = artifact.Artifact(
        config=cfg, schema=panel.schema,
        dimensions=dims, calendar=ready.calendar, scaling=ready.stats,
        series=_series_record(panel), state_dict=model.state_dict(), training=summary,
        versions=container.versions(), conformal=calibrated)
    if output is not None:
        artifact.save(output, fitted)
        clock.lap("saving")
    if resume:  # finished: the interrupted run its checkpoint held is over
        Path(checkpoint).unlink(missing_ok=True)
    log.info("timings: %s", clock)
    return FitResult(fitted, Path(output) if output is not None else None, clock.seconds)


def _check_conformal(cfg: FitConfig, n_val: int, source: str) -> None:
    """Conformal intervals need enough held-out windows for their level; say so before
    training, not after."""
    from forecastr.conformal import needed

    if not cfg.intervals or cfg.interval_method != "conformal":
        return
    widest = max(cfg.intervals)
    if n_val < needed(widest / 100):
        raise ConfigError(f"{source}: {n_val} validation windows are too few for a {widest:g}% "
                          f"conformal interval (at least {needed(widest / 100)} are needed); "
                          f"raise --val-windows or use --interval-method quantile")


def calibrate_intervals(errors: np.ndarray, series: np.ndarray, n_series: int,
                        levels: tuple[float, ...]) -> dict[str, np.ndarray]:
    """Conformal half-widths from validation errors (N, H, K) in the model's scaled units:
    per series where it has enough, pooled otherwise, and pooled for new series."""
    from forecastr import conformal

    widths, pooled = conformal.calibrate(errors, series, n_series,
                                         [level / 100 for level in levels])
    return {"widths": widths, "pooled": pooled}  # (S, J, H, K) and (J, H, K)


def _bytes_to_write(parameters: int, panel: Panel) -> int:
    """About the most that fit writes: the model file and a checkpoint (weights, best
    weights and Adam's two moments) in float32, the series record, room for metadata."""
    return 6 * 4 * parameters + 100 * panel.n_series + sum(map(len, panel.ids)) + 10**6


def _series_record(panel: Panel) -> dict[str, list]:
    last = panel.times[panel.indptr[1:] - 1]
    as_text = [_time_text(t, True) for t in last]
    return {"ids": list(panel.ids), "last_times": as_text,
            "lengths": [int(n) for n in panel.lengths]}


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
        "data": {**{k: v for k, v in dataclasses.asdict(loaded.schema).items()},
                 "calendar": list(loaded.calendar), "scaler": loaded.scaling.kind,
                 "n_series": len(loaded.series["ids"])},
        "training": {k: v for k, v in loaded.training.items() if k != "history"},
        "config": dataclasses.asdict(cfg),
    }


NewSeries = Literal["forecast", "skip", "error"]
OutputFormat = Literal["csv", "json"]


def evaluate(model_path: str | Path, source: str | Path | BinaryIO, *, folds: int = 3,
             step: int | None = None, season: int | None = None, horizon: int | None = None,
             device_spec: str = "auto", plot_path: str | Path | None = None) -> dict[str, Any]:
    """Backtest a model on the tail of DATA with rolling origins, beside naive baselines.

    Each origin's forecast uses only the history before it; the model is not refitted.
    `folds` origins, `step` steps apart (default: the horizon), score `horizon` steps each
    (default: the trained horizon) against seasonal naive at `season` (default: from the
    frequency). `plot_path` draws a few series to a PNG (needs matplotlib).
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

    def predict(history: Panel) -> np.ndarray:  # (S, H, K, 1 + E): point, then extras
        return forecast.forecast(model, loaded, history, horizon, target_device)[0][..., read]

    with out_of_memory(f"backtesting {panel.n_series:,} series", FEWER_SERIES):
        scored = backtest.run(panel, predict, horizon, folds, step or horizon, season,
                              extra)
    if plot_path is not None:
        plot.draw(panel, scored, plot_path)
    clock = _has_clock_times(panel.times)
    result = backtest.report(scored, panel.ids, lambda t: _time_text(t, clock))
    return {"model": str(model_path), "data": panel.source, "horizon": horizon,
            "folds": folds, "step": step or horizon, "season": season, **result}


def predict(model_path: str | Path, source: str | Path | BinaryIO, *,
            horizon: int | None = None, with_history: bool = False,
            new_series: NewSeries = "forecast", device_spec: str = "auto",
            output: str | Path | None = None, fmt: OutputFormat = "csv") -> pd.DataFrame:
    """Forecast the steps after the end of every series in DATA, in DATA's own layout.

    new_series: what to do with series the model never saw: "forecast" (the model is
    global), "skip" them, or raise an "error". `output`, when given, is written atomically
    as `fmt` (CSV or JSON lines); it is checked before any work, and may not be an input.
    """
    from forecastr import artifact, device, forecast, model_data, table, writer

    _one_of(new_series=(new_series, NewSeries), fmt=(fmt, OutputFormat))
    _at_least_one(horizon=horizon)
    if output is not None:
        check_writable(output, inputs={"MODEL": model_path, "DATA": source})
    loaded = artifact.load(model_path)
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
    short = int((panel.lengths < loaded.window).sum())
    if short:
        log.warning("%s: left-padded %d series with less history than the window (%d)",
                    panel.source, short, loaded.window)
    model = artifact.build_model(loaded, str(model_path))
    inputs = forecast.model_inputs(loaded, panel, target_device, horizon)
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
        writer.write_text(writer.render(frame, fmt), output)
        clock.lap("writing")
    log.info("timings: %s", clock)
    return frame


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


@dataclass
class Clock:
    """Seconds spent in each phase of a command, for --verbose and the benchmarks."""

    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    last: float = dataclasses.field(default_factory=time.perf_counter)

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self.last
        self.last = now

    def __str__(self) -> str:
        return ", ".join(f"{phase} {seconds:.3f} s" for phase, seconds in self.seconds.items())
