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
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn

import numpy as np

from forecastr.clock import Clock
from forecastr.config import FitConfig
from forecastr.data import calendar
from forecastr.data.calendar import rhythm
from forecastr.data.panel import Panel, time_text
from forecastr.data.reader import read_panel
from forecastr.data.shards import Shard
from forecastr.data.writer import check_writable
from forecastr.errors import ConfigError, Interrupted, PeerFailed, out_of_memory
from forecastr.network import scaling, static, threads
from forecastr.network.outputs import quantile_levels
from forecastr.network.windows import Split, build
from forecastr.training import sharded_panel
from forecastr.training.resume import UnfitState
from forecastr.training.stopping import StopRequest

if TYPE_CHECKING:
    from forecastr.modelfile.contents import Artifact
    from forecastr.network.model import Ensemble
    from forecastr.training.distributed import Alone, Group
    from forecastr.training.train import Paused, TrainingData, TrainResult

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


def prepare(panel: Panel, cfg: FitConfig, shares: sharded_panel.PanelShares | None = None
            ) -> Prepared:
    """Settle the config for the panel's frequency, then window and scale it, as fit does.
    `shares`: the panel is one process's share of the series (--shard-series), and its
    static features and ids are encoded as the whole panel's."""
    cfg = calendar.settle(cfg, panel.schema.freq)
    decided = panel.dayfirst if shares is None else shares.dayfirst
    if cfg.dayfirst is None and decided is not None:  # the order the data decided, kept,
        # so that predict reads dates such as 01/02/2020 alike in any file or chunk
        cfg = dataclasses.replace(cfg, dayfirst=decided)
    split = build(panel, cfg.window, cfg.horizon, cfg.stride, cfg.val_windows)
    stats = scaling.fit(panel, cfg.scaler, split.train_ends)
    names = calendar.names(cfg, panel.schema.freq)
    values = np.concatenate([scaling.apply(panel, stats),
                             calendar.features(panel.times, names)], axis=1)
    static_stats = static.fit(panel) if shares is None else shares.static
    first = 0 if shares is None else shares.first
    codes, numbers = static.encode(panel, static_stats, first + np.arange(panel.n_series)
                                   if cfg.id_embedding else None)
    return Prepared(cfg, panel, split, stats, names, values,
                    rhythm(panel.schema.freq).season, static_stats, codes, numbers)


def fit(source: str | Path | BinaryIO | Panel, cfg: FitConfig | None = None,
        output: str | Path | None = None, *,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
        stop: StopRequest | None = None, resume: bool = False,
        checkpoint: str | Path | None = None, shard_series: bool = False) -> FitResult:
    """Train a recurrent forecaster on a CSV (or a panel already read) and, when `output` is
    given, write its model file.

    The output folder is checked before reading or training, so a bad path fails at once.
    When `stop` is requested during training, the state is written to `checkpoint` (by
    default OUTPUT.ckpt) and Interrupted is raised; `resume=True` continues from it and ends
    where an uninterrupted run would have. A resumed run removes its checkpoint when it
    finishes; a fresh run leaves one it finds (another run's) and says so. `shard_series`:
    of several processes (torchrun), each reads only the series whose id hashes to it.
    """
    from forecastr.training import distributed

    cfg = cfg or FitConfig()
    try:
        with threads.limited(threads.plan(cfg.threads)) as used:
            log.info("threads: %s", used.describe())
            result = _fit(source, cfg, output, on_epoch, stop, resume, checkpoint,
                          shard_series, used)
    except (PeerFailed, Interrupted):  # of several processes: all stop; a group left to
        distributed.finish()  # the interpreter's exit can abort it (SIGABRT)
        raise
    # a process failing on its own leaves the group by exiting, once it has said why, so
    # that the launcher hears of its failure first, not of the others' that follow from it
    distributed.finish()
    return result


@dataclass(frozen=True)
class Gathered:
    """The panel a fit trains on: this process's prepared series and, when each process
    holds only its own (--shard-series), what the processes told each other of theirs."""

    ready: Prepared
    digest: str  # of the training data of every process, for checkpoints
    shares: sharded_panel.PanelShares | None = None
    all_series: sharded_panel.AllSeries | None = None

    @property
    def n_series(self) -> int:
        return self.ready.panel.n_series if self.shares is None else self.shares.total

    @property
    def n_val(self) -> int:
        split, every = self.ready.split, self.all_series
        return len(split.val) if every is None else every.val_windows

    @property
    def n_train(self) -> int:
        split, every = self.ready.split, self.all_series
        return len(split.train) if every is None else sum(every.held)

    @property
    def scale_stats(self) -> scaling.ScaleStats:
        return self.ready.stats if self.all_series is None else self.all_series.scaling

    def record(self) -> dict[str, list]:
        """Every series' id, last time and length, for the model file."""
        every = self.all_series
        return _series_record(self.ready.panel) if every is None else every.series


def _fit(source: str | Path | BinaryIO | Panel, cfg: FitConfig,
         output: str | Path | None, on_epoch: Callable[[dict[str, Any]], None] | None,
         stop: StopRequest | None, resume: bool, checkpoint: str | Path | None,
         shard_series: bool, used: threads.ThreadPlan) -> FitResult:
    """The steps of a fit: check, read and prepare, build, train, calibrate, save."""
    from forecastr.modelfile import artifact, container
    from forecastr.network import device
    from forecastr.training import distributed

    group = distributed.from_environment()  # one of several processes (torchrun), or Alone
    sharded = _check_processes(source, group, shard_series)
    checkpoint = _check_files(source, output, checkpoint, resume)
    target_device = distributed.start(group, device.resolve_device(cfg.device))
    precision = device.resolve_precision(cfg.precision, target_device)
    clock = Clock()
    gathered, group = _read(source, cfg, group, sharded, clock)
    ready, cfg = gathered.ready, gathered.ready.cfg
    if cfg.val_windows and not gathered.n_val:
        log.warning("%s: no series is long enough to hold out validation windows; early "
                    "stopping watches the training loss", ready.panel.source)
    _check_conformal(cfg, gathered.n_val, ready.panel.source)
    model, data = _build(gathered, target_device, group)
    if output is not None:  # a full disk fails now, not after training
        check_writable(output, _bytes_to_write(_parameters(model), gathered.record()["ids"]))
    state = _resume_state(checkpoint, gathered, group, sharded) if resume else None
    result = _train(model, data, gathered, precision, on_epoch, stop, state, checkpoint,
                    group, sharded)
    clock.lap("training")
    summary = _summary(result, gathered, model, target_device, precision, group, used,
                       resume)
    fitted = artifact.Artifact(
        config=cfg, schema=ready.panel.schema, dimensions=model.dims, calendar=ready.calendar,
        scaling=gathered.scale_stats,
        series=gathered.record(), state_dict=model.state_dict(), training=summary,
        versions=container.versions(),
        conformal=_calibrate(model, data, gathered, precision, group),
        static=ready.static_stats if ready.panel.schema.static_features else None)
    if output is not None and group.main:
        artifact.save(output, fitted)
        clock.lap("saving")
    if resume and group.main:  # finished: the interrupted run its checkpoint held is over
        Path(checkpoint).unlink(missing_ok=True)
    group.wait()  # the model file is there before any rank says it is done
    log.info("timings: %s", clock)
    return FitResult(fitted, Path(output) if output is not None else None, clock.seconds)


def _check_processes(source: str | Path | BinaryIO | Panel, group: Group | Alone,
                     shard_series: bool) -> bool:
    """Whether each process reads only its own series; a source that every process cannot
    read for itself is refused."""
    if not group.alone and not isinstance(source, Panel) and str(source) == "-":
        raise ConfigError("a distributed fit reads DATA on every process: give a file, not "
                          "stdin")
    if shard_series and group.alone:
        log.info("--shard-series: one process reads every series (start several with --nproc "
                 "or torchrun to split them)")
    if shard_series and not group.alone and isinstance(source, Panel):
        raise ConfigError("--shard-series: each process reads its own series from DATA; give "
                          "a file, not a panel already read")
    return shard_series and not group.alone


def _check_files(source: str | Path | BinaryIO | Panel, output: str | Path | None,
                 checkpoint: str | Path | None, resume: bool) -> str | Path | None:
    """The checkpoint's path; before any reading or training, the output must be writable
    and a run to resume must have its checkpoint."""
    from forecastr.training import checkpoint as checkpoints

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
    return checkpoint


def _read(source: str | Path | BinaryIO | Panel, cfg: FitConfig, group: Group | Alone,
          sharded: bool, clock: Clock) -> tuple[Gathered, Group | Alone]:
    """Read the panel (each process its own series when sharded) and prepare it; sharded,
    gather what the loop and the model file need of every process's series, and return the
    group that knows each one's windows."""
    from forecastr.training import checkpoint as checkpoints
    from forecastr.training import distributed

    reading = group if sharded else distributed.ALONE  # each process its own series, or all
    with sharded_panel.held_warnings(reading) as notes, distributed.peers_watched(reading):
        panel = source if isinstance(source, Panel) else read_panel(
            source, cfg, shard=Shard(group.rank + 1, group.world) if sharded else None)
        shares = sharded_panel.agree_on_panel(panel, group) if sharded else None
        clock.lap("read")
        with out_of_memory(f"building the windows of {panel.n_series:,} series "
                           f"({int(panel.lengths.sum()):,} points)", FEWER_SERIES):
            ready = prepare(panel, cfg, shares)
    clock.lap("windows")
    split = ready.split
    digest = checkpoints.fingerprint(ready.values, panel.indptr, split.train.origins,
                                     split.train.series, split.val.origins)
    if not sharded:
        return Gathered(ready, digest), group
    with distributed.peers_watched(group):
        sharded_panel.log_held_warnings(notes, group)
        all_series = sharded_panel.gather_all_series(
            split, ready.stats, _series_record(panel), digest, group, ready.cfg.batch_size,
            panel.source)
    return (Gathered(ready, all_series.digest, shares, all_series),
            dataclasses.replace(group, held=all_series.held,
                                val_windows=all_series.val_windows))


def _build(gathered: Gathered, target_device: Any, group: Group | Alone
           ) -> tuple[Ensemble, TrainingData]:
    """The network, with its weights drawn from the seed, and the data on its device."""
    import torch

    from forecastr.network.model import Dimensions, Ensemble, static_inputs
    from forecastr.training.train import TrainingData

    ready = gathered.ready
    cfg, panel, values = ready.cfg, ready.panel, ready.values
    levels = quantile_levels(cfg)
    # + 1: the observed-step mask is an input channel too (inputs.encoder_inputs)
    dims = Dimensions(n_inputs=values.shape[1] + 1, n_targets=panel.schema.n_targets,
                      n_calendar=values.shape[1] - panel.values.shape[1],
                      n_quantiles=len(levels) or 1, point=levels.index(0.5) if levels else 0,
                      season=ready.season, n_future=len(panel.schema.future_features),
                      static_levels=static.embedding_levels(
                          ready.static_stats, gathered.n_series if cfg.id_embedding else None),
                      n_static_numbers=ready.static_numbers.shape[1])
    torch.manual_seed(cfg.seed)  # weights and dropout: the same seed, the same CPU run
    model = Ensemble(cfg, dims).to(target_device)
    if group.rank:  # the same weights, each rank its own dropout
        torch.manual_seed(cfg.seed + group.rank)  # masks (rank 0 draws as one process does)
    data = TrainingData(
        values=torch.from_numpy(values).to(target_device),
        indptr=torch.from_numpy(panel.indptr).to(target_device), window=cfg.window,
        horizon=cfg.horizon, n_targets=panel.schema.n_targets,
        known_from=panel.schema.future_from,
        window_floor=scaling.window_floor(ready.stats),
        static=static_inputs(ready.static_codes, ready.static_numbers, target_device))
    return model, data


def _parameters(model: Ensemble) -> int:
    return sum(p.numel() for p in model.parameters())


def _resume_state(checkpoint: str | Path, gathered: Gathered, group: Group | Alone,
                  sharded: bool) -> dict[str, Any]:
    """The interrupted run's state, checked against this run's config and data, with this
    rank's random states (alone: the one there is)."""
    from forecastr.training import checkpoint as checkpoints
    from forecastr.training import distributed

    state = checkpoints.load(checkpoint, gathered.ready.cfg, gathered.digest, group.world,
                             sharded)
    return distributed.own_random(state, group)


def _train(model: Ensemble, data: TrainingData, gathered: Gathered, precision: str,
           on_epoch: Callable[[dict[str, Any]], None] | None, stop: StopRequest | None,
           state: dict[str, Any] | None, checkpoint: str | Path | None,
           group: Group | Alone, sharded: bool) -> TrainResult:
    """Train the network; a stop asked for writes the checkpoint and raises Interrupted."""
    from forecastr.network import device
    from forecastr.training import distributed, train

    cfg, split = gathered.ready.cfg, gathered.ready.split
    target_device = data.values.device
    stop = stop or StopRequest()

    def asked() -> int | None:  # which signal, for the other ranks
        return (getattr(stop, "signal", None) or signal.SIGTERM) if stop.requested() else None

    try:
        with stop.deferred(), device.flush_denormals(target_device), \
                distributed.peers_watched(group), out_of_memory(
                f"training {_parameters(model):,} parameters on batches of {cfg.batch_size} "
                f"windows of {cfg.window} steps", "lower --batch-size, --window or --hidden"):
            result = train.train(
                model, data, train.Windows.from_index(split.train, target_device),
                train.Windows.from_index(split.val, target_device), cfg, target_device,
                precision, on_epoch if group.main else None, asked, state, group)
    except UnfitState as exc:
        raise ConfigError(f"{checkpoint}: corrupt checkpoint ({exc}); run without --resume to "
                          f"start over") from None
    except train.Paused as paused:
        _pause(paused, stop, checkpoint, gathered, group, sharded)
    if result.stopped.startswith("diverged"):
        log.warning("training %s (loss not finite); kept the weights of epoch %d",
                    result.stopped, result.best_epoch)
    return result


def _pause(paused: Paused, stop: StopRequest, checkpoint: str | Path | None,
           gathered: Gathered, group: Group | Alone, sharded: bool) -> NoReturn:
    """Write the checkpoint of a run asked to stop (rank 0, with every rank's random
    states), then raise Interrupted on every rank."""
    from forecastr.training import checkpoint as checkpoints
    from forecastr.training import distributed

    if not group.alone:  # each rank's dropout masks go on as they would have
        with distributed.peers_watched(group):
            paused.state = distributed.with_every_ranks_random(paused.state, group)
    if checkpoint is not None and group.main:
        checkpoints.save(checkpoint, paused.state, gathered.ready.cfg, gathered.digest,
                         group.world, sharded)
    # every rank exits as the one that was sent a signal, and only once the checkpoint is
    # written (the launcher stops the rest when one exits)
    if isinstance(stop, StopRequest) and stop.signal is None:
        stop.signal = paused.signal
    group.wait()
    raise Interrupted(f"training stopped at {paused.where}; " + (
        f"checkpoint written to {checkpoint}" if checkpoint is not None
        else "no checkpoint written (no output path)"),
        None if checkpoint is None else str(checkpoint)) from None


def _summary(result: TrainResult, gathered: Gathered, model: Ensemble, target_device: Any,
             precision: str, group: Group | Alone, used: threads.ThreadPlan, resume: bool
             ) -> dict[str, Any]:
    """The training record the model file keeps (and `info` shows)."""
    split, every = gathered.ready.split, gathered.all_series
    summary = {**dataclasses.asdict(result), "device": str(target_device),
               "processes": group.world, "threads": used.count,
               "threads_reason": used.reason, "precision": precision,
               "train_windows": gathered.n_train, "val_windows": gathered.n_val,
               "monitored": "validation" if gathered.n_val else "training",
               "parameters": _parameters(model),
               "padded_series": len(split.padded) if every is None else every.padded,
               "skipped_series": list(split.skipped if every is None else every.skipped),
               "resumed": resume, "data": gathered.ready.panel.source}
    if gathered.shares is not None:  # each process read only its own series
        summary["series_per_process"] = list(gathered.shares.series)
    return summary


def _calibrate(model: Ensemble, data: TrainingData, gathered: Gathered, precision: str,
               group: Group | Alone) -> dict[str, np.ndarray] | None:
    """Conformal widths from the validation windows' errors, when conformal intervals are
    asked for; sharded, from every process's windows."""
    import torch

    from forecastr.network import device
    from forecastr.training import distributed, train

    cfg, split, shares = gathered.ready.cfg, gathered.ready.split, gathered.shares
    if not cfg.intervals or cfg.interval_method != "conformal":
        return None
    val_windows = train.Windows.from_index(split.val, data.values.device)
    with device.flush_denormals(data.values.device):
        errors = train.residuals(model, data, val_windows, cfg, data.values.device, precision
                                 ) if len(val_windows) else torch.zeros(
            (0, cfg.horizon, data.n_targets))
    errors, series = errors.numpy(), split.val.series
    if shares is not None:  # widths from every process's windows
        with distributed.peers_watched(group):
            errors, series = sharded_panel.gather_residuals(errors, series, shares.first,
                                                            group)
    return calibrate_intervals(errors, series, gathered.n_series, cfg.intervals)


def _check_conformal(cfg: FitConfig, n_val: int, source: str) -> None:
    """Conformal intervals need enough held-out windows for their level; say so before
    training, not after."""
    from forecastr.network.conformal import needed

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
    from forecastr.network import conformal

    widths, pooled = conformal.calibrate(errors, series, n_series,
                                         [level / 100 for level in levels])
    return {"widths": widths, "pooled": pooled}  # (S, J, H, K) and (J, H, K)


def _bytes_to_write(parameters: int, ids: list[str]) -> int:
    """About the most that fit writes: the model file and a checkpoint (weights, best
    weights and Adam's two moments) in float32, the series record, room for metadata."""
    return 6 * 4 * parameters + 100 * len(ids) + sum(map(len, ids)) + 10**6


def _series_record(panel: Panel) -> dict[str, list]:
    last = panel.times[panel.indptr[1:] - 1]
    as_text = [time_text(t, True) for t in last]
    return {"ids": list(panel.ids), "last_times": as_text,
            "lengths": [int(n) for n in panel.lengths]}
