"""The training loop: backpropagation through time over gathered batches, Adam, gradient
clipping, learning rate halved on plateaus, early stopping with the best weights restored.
It never prints; progress goes to the on_epoch callback."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import nn

from forecastr.config import FitConfig
from forecastr.errors import ForecastrError
from forecastr.network.device import autocast
from forecastr.network.inputs import encode
from forecastr.network.model import Ensemble, Static
from forecastr.network.outputs import quantile_levels
from forecastr.network.scaling import in_window_units
from forecastr.network.windows import WindowIndex, horizon_rows
from forecastr.training.distributed import ALONE, Alone, Group, Members
from forecastr.training.resume import Progress, restore, snapshot
from forecastr.training.sampling import epoch_batches, epoch_order

LOSSES = {"mse": nn.functional.mse_loss, "mae": nn.functional.l1_loss,
          "huber": nn.functional.huber_loss}


def loss_function(cfg: FitConfig, model: Ensemble, device: torch.device
                  ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """output (..., B, H, K, Q), target (B, H, K) -> the training loss: cfg.loss on the point
    output, or for a quantile model the pinball loss averaged over its quantiles. Leading
    dimensions (the members of an ensemble) are averaged, so each member learns on its own."""
    levels = quantile_levels(cfg)
    if not levels:
        point_loss = LOSSES[cfg.loss]
        return lambda output, target: point_loss(output[..., model.dims.point].float(),
                                                 target.expand_as(output[..., 0]))
    q = torch.tensor(levels, device=device)  # (Q,)

    def pinball(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        error = target.unsqueeze(-1) - output.float()  # (..., B, H, K, Q)
        return torch.maximum(q * error, (q - 1) * error).mean()

    return pinball


class TrainingError(ForecastrError):
    """Training could not produce a usable model (the loss diverged before any good epoch)."""


@dataclass(frozen=True)
class Windows:
    """A split's windows as device tensors, ready for gathering batches."""

    origins: torch.Tensor  # (N,) int64
    series: torch.Tensor  # (N,) int64

    @staticmethod
    def from_index(index: WindowIndex, device: torch.device) -> Windows:
        return Windows(torch.from_numpy(index.origins).to(device),
                       torch.from_numpy(index.series).to(device))

    def __len__(self) -> int:
        return len(self.origins)

    def spread_sample(self, step: int) -> Windows:
        """About one window in `step`, spread over series and origins: the k-th taken is
        window k * step + k % step, so that series of the same number of windows do not all
        give the same origin."""
        if step <= 1:
            return self
        k = torch.arange(-(-len(self) // step), device=self.origins.device)
        taken = k * step + k % step
        taken = taken[taken < len(self)]
        return Windows(self.origins[taken], self.series[taken])


def validation_step(cfg: FitConfig, n_val: int) -> int:
    """Every how many validation windows one is scored after each epoch: all of them (1)
    unless they outnumber the windows an epoch trains on (--epoch-size), where scoring them
    all would cost more than the epoch's training (forward and backward) itself; a large
    panel's validation is then an evenly spread sample of that size."""
    return -(-n_val // cfg.epoch_size) if cfg.epoch_size and n_val > cfg.epoch_size else 1


@dataclass(frozen=True)
class TrainingData:
    """The scaled panel on the device and what is needed to cut model inputs from it."""

    # (T_total, C + A) scaled targets, features, future features, then calendar channels
    values: torch.Tensor
    indptr: torch.Tensor  # (S + 1,) int64
    window: int
    horizon: int
    n_targets: int
    known_from: int  # first channel known ahead: future features, then calendar
    # per-window scaling of the targets: the least spread of a window relative to its level
    # (scaling.window_floor), or None when they are scaled per series
    window_floor: float | None
    static: Static | None = None  # (S, ...) every series' static features

    def batch(self, windows: Windows, chosen: torch.Tensor) -> Batch:
        """Everything one forward pass and its loss need."""
        origins, series = windows.origins[chosen], windows.series[chosen]
        encoded = encode(self.values, self.indptr, origins, series, self.window,
                         self.n_targets, self.window_floor)
        y, future = horizon_rows(self.values, origins, self.horizon, self.n_targets,
                                 self.known_from)
        if encoded.loc is not None:
            y = in_window_units(y, encoded.loc, encoded.scale)
        return Batch(encoded.inputs, future, y,
                     None if self.static is None else self.static.of(series))


class Batch(NamedTuple):
    """One batch of windows as the network and its loss read them."""

    inputs: torch.Tensor  # (B, L, N)
    known: torch.Tensor  # (B, H, F + A)
    target: torch.Tensor  # (B, H, K)
    static: Static | None


@dataclass
class TrainResult:
    best_epoch: int
    best_loss: float
    epochs_run: int
    stopped: str  # epochs, max_steps, max_time, patience, or "diverged at epoch N"
    seconds: float
    windows_per_second: float
    history: list[dict[str, float | None]] = field(default_factory=list)
    steps: int = 0  # optimizer steps taken
    # the starting point's validation loss (None: no baseline, or no validation windows);
    # best_epoch 0 with one means training never beat it, and the baseline was kept
    baseline_loss: float | None = None


class Paused(Exception):
    """Training stopped between two batches because it was asked to; `state` resumes it.
    `signal`: the signal any rank of a distributed run was sent, which all of them stop on."""

    def __init__(self, state: dict[str, Any], where: str, signal: int | None = None) -> None:
        super().__init__(where)
        self.state = state
        self.where = where
        self.signal = signal


def budget_spent(cfg: FitConfig, progress: Progress, seconds: float) -> str | None:
    """The bound on steps or time that training has reached, if any."""
    if cfg.max_steps and progress.steps >= cfg.max_steps:
        return "max_steps"
    if cfg.max_time and seconds >= cfg.max_time:
        return "max_time"
    return None


@dataclass(frozen=True)
class Run:
    """What every epoch and batch of one training run reads: the network and the parts that
    optimise it, the data, the config, and the processes it shares batches with."""

    model: Ensemble
    data: TrainingData
    train_windows: Windows
    val_windows: Windows  # those scored after each epoch (a spread sample of a large set)
    n_val: int  # validation windows of all processes
    cfg: FitConfig
    device: torch.device
    precision: str
    group: Group | Alone
    generator: torch.Generator  # shuffles and teacher forcing
    parts: dict[str, Any]  # model, optimiser, plateau (the scheduler) and gradient scaler
    forward: Callable[..., torch.Tensor]  # the members' outputs (M, B, H, K, Q)
    loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def train(model: Ensemble, data: TrainingData, train_windows: Windows, val_windows: Windows,
          cfg: FitConfig, device: torch.device, precision: str,
          on_epoch: Callable[[dict[str, float | int | None]], None] | None = None,
          stop: Callable[[], bool | int | None] | None = None,
          resume: dict[str, Any] | None = None, group: Group | Alone = ALONE) -> TrainResult:
    """Fit `model` in place and leave it holding the weights of its best epoch.

    Training ends at the first bound it reaches: --epochs, --max-steps, --max-time, or
    --patience epochs without a better monitored loss. `stop` is polled after every batch;
    when it returns a true value (the signal's number, or True), training raises Paused
    with a state that, passed back as `resume` (to the same model, data and config),
    continues exactly where it stopped: on the CPU the result equals an uninterrupted
    run's. With a Group, this is one rank of a distributed run: it trains on its share of
    each batch, and the ranks stop together (see forecastr.training.distributed); Alone,
    the same steps have no one to share with.
    """
    # the time training takes, as the summary line says it: building the optimiser (its
    # first call imports torch._dynamo, about a second) and scoring the starting point too,
    # so that it agrees with --verbose's timings
    started = time.perf_counter()
    run = _start(model, data, train_windows, val_windows, cfg, device, precision, group)
    # the saved order is rank 0's: when each rank holds its own windows, each draws its own
    # again (from the epoch's seed: the same as before it stopped)
    progress = Progress() if resume is None else restore(
        resume, run.parts, run.generator, device,
        group.held[0] if group.sharded else len(train_windows))
    if resume is None and run.n_val and cfg.baseline != "none":
        _score_starting_point(run, progress)
    n_windows = sum(group.held) if group.sharded else len(train_windows)  # of all ranks
    batch_size = min(cfg.batch_size, n_windows)
    per_epoch = cfg.epoch_size or n_windows
    if group.sharded and progress.order is not None:
        progress.order = epoch_order(len(train_windows), per_epoch, batch_size, run.generator,
                                     group, cfg.seed, progress.epoch).to(device)
    most_steps = cfg.epochs * -(-per_epoch // batch_size)
    most_steps = min(most_steps, cfg.max_steps) if cfg.max_steps else most_steps
    stopped = None
    while stopped is None:
        if progress.order is None:  # a new epoch, unless a bound is reached (a resumed
            # epoch is finished first)
            stopped = budget_spent(cfg, progress, progress.train_seconds) or (
                "epochs" if progress.epoch > cfg.epochs else None)
            if stopped:
                break
            progress.order = epoch_order(len(train_windows), per_epoch, batch_size,
                                         run.generator, group, cfg.seed,
                                         progress.epoch).to(device)
            progress.total, progress.next_batch = torch.zeros((), device=device), 0
        train_loss = _train_epoch(run, progress, per_epoch, batch_size, stop)
        stopped = _end_epoch(run, progress, train_loss, most_steps, started, on_epoch)
    if progress.best_state is None:
        raise TrainingError(f"training {stopped}: the loss became infinite or NaN before any "
                            f"epoch finished; try a lower --lr, a --clip value, or check the "
                            f"data's scale")
    model.load_state_dict(progress.best_state)
    return TrainResult(progress.best_epoch, progress.best_loss, len(progress.history), stopped,
                       time.perf_counter() - started,
                       progress.windows / max(progress.train_seconds, 1e-9),
                       progress.history, progress.steps, progress.baseline_loss)


def _start(model: Ensemble, data: TrainingData, train_windows: Windows, val_windows: Windows,
           cfg: FitConfig, device: torch.device, precision: str, group: Group | Alone) -> Run:
    """A run's optimiser, scheduler, gradient scaler, random generator and loss, built."""
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    # the rate is halved after a third of early stopping's patience without progress, so
    # that a stalled run gets two or three smaller steps before it is stopped
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.5,
                                                         patience=max(1, cfg.patience // 3))
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "16")
    n_val = group.val_windows if group.sharded else len(val_windows)  # of all ranks
    # every rank takes the same step through its windows; when sharded, each its own
    sampled = val_windows.spread_sample(validation_step(cfg, n_val))
    return Run(model, data, train_windows, sampled, n_val, cfg, device, precision, group,
               torch.Generator().manual_seed(cfg.seed),
               {"model": model, "optimiser": optimiser, "plateau": plateau, "scaler": scaler},
               group.wrap(Members(model), device),  # DDP's, over several processes
               loss_function(cfg, model, device))


def _score_starting_point(run: Run, progress: Progress) -> None:
    """The starting point, the baseline forecast (what the untrained network adds nothing
    to), competes too: training must beat its validation loss to be kept."""
    progress.best_loss = validation_loss(run.model, run.data, run.val_windows, run.cfg,
                                         run.device, run.precision, run.group)
    progress.baseline_loss = progress.best_loss
    progress.best_state = {k: v.detach().clone() for k, v in run.model.state_dict().items()}


def _train_epoch(run: Run, progress: Progress, per_epoch: int, batch_size: int,
                 stop: Callable[[], bool | int | None] | None) -> float:
    """The drawn epoch's batches from where it stands: a step each, until the epoch ends or
    a bound on time or steps is reached; its mean training loss. A stop asked for raises
    Paused, with the state that resumes the epoch at its next batch."""
    cfg, group = run.cfg, run.group
    run.model.train()
    epoch_start = time.perf_counter()
    batches, sizes = epoch_batches(progress.order, per_epoch, batch_size, group)
    for number in range(progress.next_batch, len(batches)):
        if budget_spent(cfg, progress, progress.train_seconds):
            break  # resumed at the bound
        mine, weight = group.share(batches[number], int(sizes[number]))
        loss = _step(run, run.data.batch(run.train_windows, mine), weight)
        progress.next_batch, progress.steps = number + 1, progress.steps + 1
        progress.windows += int(sizes[number])
        asked = stop is not None and stop()
        time_up = budget_spent(cfg, progress,
                               progress.train_seconds + time.perf_counter() - epoch_start)
        # the ranks stop, and count the loss, alike
        signum, time_up, summed = group.agree(asked or None, bool(time_up),
                                              loss.detach() * len(mine) * (weight > 0))
        progress.total += summed
        if signum is not None:
            progress.train_seconds += time.perf_counter() - epoch_start
            raise Paused(snapshot(progress, run.parts, run.generator, run.device),
                         f"epoch {progress.epoch}, batch {number + 1} of {len(batches)}",
                         signum)
        if time_up:
            break  # the epoch ends here and is validated like a whole one
    done = int(sum(sizes[:progress.next_batch]))  # windows this epoch
    progress.train_seconds += time.perf_counter() - epoch_start
    progress.train_seconds = group.latest(progress.train_seconds)  # bounds agree
    return (progress.total / max(done, 1)).item()


def _step(run: Run, batch: Batch, weight: float) -> torch.Tensor:
    """One optimiser step on a batch (this rank's share of it, `weight` its part of the
    whole); the members' mean loss."""
    model, cfg, optimiser, scaler = run.model, run.cfg, run.parts["optimiser"], \
        run.parts["scaler"]
    use_teacher = (model.mode == "many-to-many"
                   and torch.rand((), generator=run.generator).item() < cfg.teacher_forcing)
    with autocast(run.device, run.precision):
        output = run.forward(batch.inputs, batch.known,
                             batch.target if use_teacher else None, batch.static)
    loss = run.loss_of(output, batch.target)  # the members' mean
    optimiser.zero_grad(set_to_none=True)
    # summed over members, so that each gets the gradient it would get alone
    scaler.scale(loss * len(output) * weight).backward()
    if cfg.clip > 0:
        scaler.unscale_(optimiser)
        for member in model.nets:  # each member clipped as if trained alone
            nn.utils.clip_grad_norm_(member.parameters(), cfg.clip)
    scaler.step(optimiser)
    scaler.update()
    return loss


def _end_epoch(run: Run, progress: Progress, train_loss: float, most_steps: int,
               started: float, on_epoch: Callable[[dict[str, float | int | None]], None] | None
               ) -> str | None:
    """Validate the epoch just trained, keep its weights if they are the best yet, adjust
    the learning rate and report; why training stops here, if it does."""
    epoch = progress.epoch
    progress.order, progress.epoch = None, epoch + 1
    if not math.isfinite(train_loss):
        return f"diverged at epoch {epoch}"
    val_loss = validation_loss(run.model, run.data, run.val_windows, run.cfg, run.device,
                               run.precision, run.group) if run.n_val else None
    monitored = val_loss if val_loss is not None else train_loss
    if not math.isfinite(monitored):
        return f"diverged at epoch {epoch}"
    run.parts["plateau"].step(monitored)
    if monitored < progress.best_loss:
        progress.best_loss, progress.best_epoch = monitored, epoch
        progress.best_state = {k: v.detach().clone()
                               for k, v in run.model.state_dict().items()}
    stats = {"epoch": epoch, "epochs": run.cfg.epochs, "step": progress.steps,
             "steps": most_steps, "train_loss": train_loss,
             "val_loss": val_loss, "best_epoch": progress.best_epoch,
             "best_loss": progress.best_loss,
             "lr": run.parts["optimiser"].param_groups[0]["lr"],
             "windows_per_second": progress.windows / max(progress.train_seconds, 1e-9),
             "seconds": time.perf_counter() - started}
    progress.history.append({k: stats[k] for k in ("epoch", "step", "train_loss",
                                                   "val_loss", "lr")})
    if on_epoch is not None:
        on_epoch(stats)
    return "patience" if epoch - progress.best_epoch >= run.cfg.patience else None


def free_running(model: Ensemble, data: TrainingData, windows: Windows, cfg: FitConfig,
                 device: torch.device, precision: str, group: Group | Alone = ALONE
                 ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(output (B, H, K, Q), target (B, H, K)) batch by batch over `windows` (this rank's
    share of them, with a `group`), in evaluation mode and without teacher forcing; the
    caller holds torch.no_grad."""
    model.eval()
    every = torch.arange(len(windows), device=device)
    if not group.sharded:  # a share of the same windows on each rank (all of them alone)
        every = every.tensor_split(group.world)[group.rank]
    for chosen in every.split(cfg.batch_size):
        batch = data.batch(windows, chosen)
        with autocast(device, precision):
            output = model(batch.inputs, batch.known, static=batch.static)
        yield output, batch.target  # the loss is the caller's, outside autocast


@torch.no_grad()
def residuals(model: Ensemble, data: TrainingData, windows: Windows, cfg: FitConfig,
              device: torch.device, precision: str) -> torch.Tensor:
    """Target minus point forecast (N, H, K) of every window, in the scaled units the model
    works in: the scores that conformal intervals are calibrated on."""
    return torch.cat([(target - output[..., model.dims.point].float()).cpu() for output, target
                      in free_running(model, data, windows, cfg, device, precision)])


@torch.no_grad()
def validation_loss(model: Ensemble, data: TrainingData, windows: Windows, cfg: FitConfig,
                    device: torch.device, precision: str, group: Group | Alone = ALONE
                    ) -> float:
    """Mean loss over windows, free-running (no teacher forcing), in evaluation mode; with
    a `group`, each rank scores its share and the sums are added up, so that every rank
    decides early stopping and the learning rate on the same number."""
    total = torch.zeros((), device=device)
    loss_of = loss_function(cfg, model, device)
    for output, target in free_running(model, data, windows, cfg, device, precision, group):
        total += loss_of(output, target) * len(target)
    count = len(windows)
    total = group.total(total)
    if group.sharded:  # each rank scored its own windows (unsharded: a share of the same)
        count = int(group.total(torch.tensor(count, dtype=torch.float64, device=device)
                                ).item())
    return (total / count).item()
