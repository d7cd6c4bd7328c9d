"""The training loop: backpropagation through time over gathered batches, Adam, gradient
clipping, learning rate halved on plateaus, early stopping with the best weights restored.
It never prints; progress goes to the on_epoch callback."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from forecastr.config import FitConfig
from forecastr.device import autocast
from forecastr.errors import ForecastrError
from forecastr.model import Forecaster, encoder_inputs
from forecastr.scaling import window_normalise
from forecastr.windows import WindowIndex, gather

LOSSES = {"mse": nn.functional.mse_loss, "mae": nn.functional.l1_loss,
          "huber": nn.functional.huber_loss}


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


@dataclass(frozen=True)
class TrainingData:
    """The scaled panel on the device and what is needed to cut model inputs from it."""

    values: torch.Tensor  # (T_total, C) scaled targets, features, then calendar channels
    indptr: torch.Tensor  # (S + 1,) int64
    window: int
    horizon: int
    n_targets: int
    calendar_from: int  # first calendar channel of values (== C when there is none)
    per_window: bool  # scaler == "window": normalise each batch by its own inputs

    def batch(self, windows: Windows, chosen: torch.Tensor):
        """inputs (B, L, N), calendar (B, H, A), target (B, H, K), loc and scale (B, 1, K)
        or None: everything one forward pass and its loss need."""
        x, y, mask, future = gather(self.values, self.indptr, windows.origins[chosen],
                                    windows.series[chosen], self.window, self.horizon,
                                    self.n_targets, self.calendar_from)
        loc = scale = None
        if self.per_window:
            x, y, loc, scale = window_normalise(x, y, mask, self.n_targets)
        return encoder_inputs(x, mask), future, y, loc, scale


@dataclass
class TrainResult:
    best_epoch: int
    best_loss: float
    epochs_run: int
    stopped: str  # "patience", "epochs", or "diverged at epoch N"
    seconds: float
    windows_per_second: float
    history: list[dict[str, float | None]] = field(default_factory=list)


def train(model: Forecaster, data: TrainingData, train_windows: Windows, val_windows: Windows,
          cfg: FitConfig, device: torch.device, precision: str,
          on_epoch: Callable[[dict[str, float | int | None]], None] | None = None) -> TrainResult:
    """Fit `model` in place and leave it holding the weights of its best epoch."""
    generator = torch.Generator().manual_seed(cfg.seed)  # shuffles and teacher forcing
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.5,
                                                         patience=max(1, cfg.patience // 3))
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "16")
    loss_of = LOSSES[cfg.loss]
    point = model.dims.n_quantiles // 2
    best_loss, best_epoch, best_state = math.inf, 0, None
    per_epoch = min(cfg.epoch_size or len(train_windows), len(train_windows))
    history: list[dict[str, float | None]] = []
    started, train_seconds, stopped = time.perf_counter(), 0.0, "epochs"
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        epoch_start = time.perf_counter()
        total = torch.zeros((), device=device)
        order = torch.randperm(len(train_windows), generator=generator)[:per_epoch].to(device)
        for chosen in order.split(cfg.batch_size):
            inputs, calendar, target, _, _ = data.batch(train_windows, chosen)
            use_teacher = (model.mode == "many-to-many"
                           and torch.rand((), generator=generator).item() < cfg.teacher_forcing)
            with autocast(device, precision):
                output = model(inputs, calendar, target if use_teacher else None)
            loss = loss_of(output[..., point].float(), target)
            optimiser.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.clip > 0:
                scaler.unscale_(optimiser)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            scaler.step(optimiser)
            scaler.update()
            total += loss.detach() * len(chosen)
        train_loss = (total / per_epoch).item()
        train_seconds += time.perf_counter() - epoch_start
        if not math.isfinite(train_loss):
            stopped = f"diverged at epoch {epoch}"
            break
        val_loss = evaluate(model, data, val_windows, cfg, device, precision) \
            if len(val_windows) else None
        monitored = val_loss if val_loss is not None else train_loss
        if not math.isfinite(monitored):
            stopped = f"diverged at epoch {epoch}"
            break
        plateau.step(monitored)
        if monitored < best_loss:
            best_loss, best_epoch = monitored, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        stats = {"epoch": epoch, "epochs": cfg.epochs, "train_loss": train_loss,
                 "val_loss": val_loss, "best_epoch": best_epoch, "best_loss": best_loss,
                 "lr": optimiser.param_groups[0]["lr"],
                 "windows_per_second": per_epoch * epoch / max(train_seconds, 1e-9),
                 "seconds": time.perf_counter() - started}
        history.append({k: stats[k] for k in ("epoch", "train_loss", "val_loss", "lr")})
        if on_epoch is not None:
            on_epoch(stats)
        if epoch - best_epoch >= cfg.patience:
            stopped = "patience"
            break
    if best_state is None:
        raise TrainingError(f"training {stopped}: the loss became infinite or NaN before any "
                            f"epoch finished; try a lower --lr, a --clip value, or check the "
                            f"data's scale")
    model.load_state_dict(best_state)
    return TrainResult(best_epoch, best_loss, len(history), stopped,
                       time.perf_counter() - started,
                       per_epoch * len(history) / max(train_seconds, 1e-9), history)


@torch.no_grad()
def evaluate(model: Forecaster, data: TrainingData, windows: Windows, cfg: FitConfig,
             device: torch.device, precision: str) -> float:
    """Mean loss over windows, free-running (no teacher forcing), in evaluation mode."""
    model.eval()
    total = torch.zeros((), device=device)
    point = model.dims.n_quantiles // 2
    for chosen in torch.arange(len(windows), device=device).split(cfg.batch_size * 4):
        inputs, calendar, target, _, _ = data.batch(windows, chosen)
        with autocast(device, precision):
            output = model(inputs, calendar)
        total += LOSSES[cfg.loss](output[..., point].float(), target) * len(chosen)
    return (total / len(windows)).item()
