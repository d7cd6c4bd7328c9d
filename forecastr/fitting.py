"""Fitting: a panel settled, windowed and scaled for training (prepare), the network trained
on it with checkpoints on request, conformal widths calibrated, and the model file written
(fit)."""

from __future__ import annotations

import dataclasses
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from forecastr import calendar, scaling, static
from forecastr.calendar import rhythm
from forecastr.clock import Clock
from forecastr.config import FitConfig
from forecastr.errors import ConfigError, Interrupted, out_of_memory
from forecastr.outputs import quantile_levels
from forecastr.panel import Panel, time_text
from forecastr.reader import read_panel
from forecastr.resume import UnfitState
from forecastr.stopping import StopRequest
from forecastr.windows import Split, build
from forecastr.writer import check_writable

if TYPE_CHECKING:
    from forecastr.artifact import Artifact

log = logging.getLogger(__name__)
FEWER_SERIES = "split DATA into files of fewer series, or run where there is more memory"


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
    static_stats: static.StaticStats
    static_codes: np.ndarray  # (S, G) int64 levels of the categorical features (and the id)
    static_numbers: np.ndarray  # (S, Z) float32 scaled numeric static features


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
    static_stats = static.fit(panel)
    codes, numbers = static.encode(panel, static_stats, np.arange(panel.n_series)
                                   if cfg.id_embedding else None)
    return Prepared(cfg, panel, split, stats, names, values,
                    rhythm(panel.schema.freq).season, static_stats, codes, numbers)


def fit(source: str | Path | BinaryIO | Panel, cfg: FitConfig | None = None,
        output: str | Path | None = None,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        stop: StopRequest | None = None, resume: bool = False,
        checkpoint: str | Path | None = None) -> FitResult:
    """Train a recurrent forecaster on a CSV (or a panel already read) and, when `output` is
    given, write its model file.

    The output folder is checked before reading or training, so a bad path fails at once.
    When `stop` is requested during training, the state is written to `checkpoint` (by
    default OUTPUT.ckpt) and Interrupted is raised; `resume=True` continues from it and ends
    where an uninterrupted run would have. A resumed run removes its checkpoint when it
    finishes; a fresh run leaves one it finds (another run's) and says so.
    """
    import torch

    from forecastr import artifact, container, device, distributed, train
    from forecastr import checkpoint as checkpoints
    from forecastr.model import Dimensions, Ensemble, static_inputs

    group = distributed.from_environment()  # one of several processes (torchrun)
    main = group is None or group.main
    if group is not None and not isinstance(source, Panel) and str(source) == "-":
        raise ConfigError("a distributed fit reads DATA on every process: give a file, not "
                          "stdin")

    if checkpoint is None and output is not None:
        checkpoint = checkpoints.path_for(output)
    if output is not None:
        check_writable(output, inputs={} if isinstance(source, Panel) else {"DATA": source})
    if not resume and checkpoint is not None and Path(checkpoint).is_file():
        log.warning("%s: an interrupted run's checkpoint is there; this fit starts afresh and "
                    "leaves it unless it is interrupted too (pass --resume to continue that "
                    "run instead)", checkpoint)
    if resume and (checkpoint is None or not Path(checkpoint).is_file()):
        raise ConfigError(f"--resume: no checkpoint {checkpoint or '(no output given)'} to "
                          f"continue from; run without --resume to start")
    cfg = cfg or FitConfig()
    target_device = device.resolve_device(cfg.device)
    if group is not None:
        target_device = distributed.start(group, target_device)
    precision = device.resolve_precision(cfg.precision, target_device)
    clock = Clock()
    panel = source if isinstance(source, Panel) else read_panel(source, cfg)
    clock.lap("read")
    with out_of_memory(f"building the windows of {panel.n_series:,} series "
                       f"({int(panel.lengths.sum()):,} points)", FEWER_SERIES):
        ready = prepare(panel, cfg)
    clock.lap("windows")
    cfg, panel, split, values = ready.cfg, ready.panel, ready.split, ready.values
    _check_conformal(cfg, len(split.val), panel.source)
    digest = checkpoints.fingerprint(values, panel.indptr, split.train.origins,
                                     split.train.series, split.val.origins)
    state = checkpoints.load(checkpoint, cfg, digest, _world(group)) if resume else None
    levels = quantile_levels(cfg)
    # + 1: the observed-step mask is an input channel too (inputs.encoder_inputs)
    dims = Dimensions(n_inputs=values.shape[1] + 1, n_targets=panel.schema.n_targets,
                      n_calendar=values.shape[1] - panel.values.shape[1],
                      n_quantiles=len(levels) or 1, point=levels.index(0.5) if levels else 0,
                      season=ready.season, n_future=len(panel.schema.future_features),
                      static_levels=static.embedding_levels(
                          ready.static_stats, panel.n_series if cfg.id_embedding else None),
                      n_static_numbers=ready.static_numbers.shape[1])
    torch.manual_seed(cfg.seed)  # weights and dropout: the same seed, the same CPU run
    model = Ensemble(cfg, dims).to(target_device)
    if group is not None and group.rank:  # the same weights, each rank its own dropout
        torch.manual_seed(cfg.seed + group.rank)  # masks (rank 0 draws as one process does)
    parameters = sum(p.numel() for p in model.parameters())
    if output is not None:  # a full disk fails now, not after training
        check_writable(output, _bytes_to_write(parameters, panel))
    data = train.TrainingData(
        values=torch.from_numpy(values).to(target_device),
        indptr=torch.from_numpy(panel.indptr).to(target_device), window=cfg.window,
        horizon=cfg.horizon, n_targets=panel.schema.n_targets,
        known_from=panel.schema.future_from,
        window_floor=scaling.window_floor(ready.stats),
        static=static_inputs(ready.static_codes, ready.static_numbers, target_device))
    stop = stop or StopRequest()
    asked = stop.requested if group is None else (  # which signal, for the other ranks
        lambda: (getattr(stop, "signal", None) or signal.SIGTERM) if stop.requested()
        else None)
    val_windows = train.Windows.from_index(split.val, target_device)
    try:
        with stop.deferred(), device.flush_denormals(target_device), \
                distributed.peers_watched(group), out_of_memory(
                f"training {parameters:,} parameters on batches of {cfg.batch_size} windows "
                f"of {cfg.window} steps", "lower --batch-size, --window or --hidden"):
            result = train.train(
                model, data, train.Windows.from_index(split.train, target_device),
                val_windows, cfg, target_device, precision, on_epoch if main else None, asked,
                state, group)
        clock.lap("training")
    except UnfitState as exc:
        raise ConfigError(f"{checkpoint}: corrupt checkpoint ({exc}); run without --resume to "
                          f"start over") from None
    except train.Paused as paused:
        if checkpoint is not None and main:
            checkpoints.save(checkpoint, paused.state, cfg, digest, _world(group))
        if group is not None:  # every rank exits as the one that was sent a signal, and only
            # once the checkpoint is written (the launcher stops the rest when one exits)
            if isinstance(stop, StopRequest) and stop.signal is None:
                stop.signal = paused.signal
            group.wait()
        raise Interrupted(f"training stopped at {paused.where}; " + (
            f"checkpoint written to {checkpoint}" if checkpoint is not None
            else "no checkpoint written (no output path)"),
            None if checkpoint is None else str(checkpoint)) from None
    if result.stopped.startswith("diverged"):
        log.warning("training %s (loss not finite); kept the weights of epoch %d",
                    result.stopped, result.best_epoch)
    summary = {**dataclasses.asdict(result), "device": str(target_device),
               "processes": _world(group),
               "precision": precision, "train_windows": len(split.train),
               "val_windows": len(split.val), "monitored": "validation" if len(split.val)
               else "training", "parameters": parameters, "padded_series": len(split.padded),
               "skipped_series": list(split.skipped), "resumed": resume,
               "data": panel.source}
    calibrated = None
    if cfg.intervals and cfg.interval_method == "conformal":
        with device.flush_denormals(target_device):
            errors = train.residuals(model, data, val_windows, cfg, target_device, precision)
        calibrated = calibrate_intervals(errors.numpy(), split.val.series, panel.n_series,
                                         cfg.intervals)
    fitted = artifact.Artifact(
        config=cfg, schema=panel.schema,
        dimensions=dims, calendar=ready.calendar, scaling=ready.stats,
        series=_series_record(panel), state_dict=model.state_dict(), training=summary,
        versions=container.versions(), conformal=calibrated,
        static=ready.static_stats if panel.schema.static_features else None)
    if output is not None and main:
        artifact.save(output, fitted)
        clock.lap("saving")
    if resume and main:  # finished: the interrupted run its checkpoint held is over
        Path(checkpoint).unlink(missing_ok=True)
    if group is not None:
        group.wait()  # the model file is there before any rank says it is done
    log.info("timings: %s", clock)
    return FitResult(fitted, Path(output) if output is not None else None, clock.seconds)


def _world(group: Any) -> int:
    return 1 if group is None else group.world


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
    as_text = [time_text(t, True) for t in last]
    return {"ids": list(panel.ids), "last_times": as_text,
            "lengths": [int(n) for n in panel.lengths]}
