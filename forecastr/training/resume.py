"""The state of a training run between two batches, as plain tensors and values (so that a
checkpoint loads with weights_only=True), and that state put back into a run, checked first
against the network and data it resumes on."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from forecastr.network.model import Ensemble


@dataclass
class Progress:
    """Where training stands between two batches; with the model, optimiser, scheduler,
    gradient scaler and random states it is all that is needed to carry on exactly."""

    epoch: int = 1  # the epoch under way
    order: torch.Tensor | None = None  # (per_epoch,) its windows, once drawn
    next_batch: int = 0  # its batches already done
    total: torch.Tensor | None = None  # () the sum of their losses, weighted by batch size
    train_seconds: float = 0.0
    best_loss: float = math.inf
    best_epoch: int = 0
    # the starting point's (the baseline forecast's) validation loss, the first to beat
    baseline_loss: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    history: list[dict[str, float | None]] = field(default_factory=list)
    steps: int = 0  # optimizer steps so far, over all epochs
    windows: int = 0  # training windows seen so far, over all epochs


def snapshot(progress: Progress, parts: dict[str, Any], generator: torch.Generator,
             device: torch.device) -> dict[str, Any]:
    """Everything that decides the rest of the run, as tensors and plain values (so that a
    checkpoint loads with weights_only=True), on the CPU."""
    state = {name: part.state_dict() for name, part in parts.items()}
    state["model"] = {k: v.detach().cpu().clone() for k, v in state["model"].items()}
    state["progress"] = {f.name: getattr(progress, f.name) for f in fields(Progress)}
    state["progress"]["order"] = progress.order.cpu() if progress.order is not None else None
    state["progress"]["total"] = progress.total.cpu() if progress.total is not None else None
    if progress.best_state is not None:
        state["progress"]["best_state"] = {k: v.cpu() for k, v in progress.best_state.items()}
    state["random"] = {"generator": generator.get_state(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["random"]["cuda"] = torch.cuda.get_rng_state(device)
    return state


class UnfitState(ValueError):
    """A snapshot that does not fit the model and data it is resumed on (a damaged or
    crafted checkpoint): raised before any of it is used."""


def restore(state: dict[str, Any], parts: dict[str, Any], generator: torch.Generator,
            device: torch.device, n_windows: int) -> Progress:
    """Put a snapshot back into the parts and random generators; return the progress."""
    try:
        _check_weights(state["model"], parts["model"], "model")
        for name, part in parts.items():
            part.load_state_dict(state[name])
        for p in parts["model"].parameters():  # Adam's moments, shaped like their weight
            moments = parts["optimiser"].state.get(p, {})
            if any(moments[k].shape != p.shape for k in ("exp_avg", "exp_avg_sq")
                   if k in moments):
                raise UnfitState("optimiser moments do not fit the weights")
        generator.set_state(state["random"]["generator"])
        torch.set_rng_state(state["random"]["torch"])
        if device.type == "cuda" and "cuda" in state["random"]:
            torch.cuda.set_rng_state(state["random"]["cuda"], device)
        progress = Progress(**state["progress"])
    except (RuntimeError, KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise UnfitState(str(exc).strip().splitlines()[0] if str(exc).strip()
                         else type(exc).__name__) from None
    _check_progress(progress, parts["model"], n_windows)
    if progress.order is not None:
        progress.order = progress.order.to(device)
        progress.total = progress.total.to(device)
    return progress


def _check_weights(weights: Any, model: Ensemble, name: str) -> None:
    expected = model.state_dict()
    if not isinstance(weights, dict) or weights.keys() != expected.keys() or any(
            not isinstance(weights[k], torch.Tensor) or weights[k].shape != v.shape
            or not torch.isfinite(weights[k]).all() for k, v in expected.items()):
        raise UnfitState(f"{name} weights do not fit the network")


def _check_progress(progress: Progress, model: Ensemble, n_windows: int) -> None:
    counts = (progress.epoch, progress.next_batch, progress.best_epoch, progress.steps,
              progress.windows)
    if not all(type(n) is int and n >= 0 for n in counts) or progress.epoch < 1:
        raise UnfitState("its epoch, batch or step counts are not counts")
    if not all(isinstance(x, float) and not math.isnan(x)
               for x in (progress.train_seconds, progress.best_loss)) \
            or not (progress.baseline_loss is None or isinstance(progress.baseline_loss, float)) \
            or not isinstance(progress.history, list):
        raise UnfitState("its losses or times are not numbers")
    if progress.best_state is not None:
        _check_weights(progress.best_state, model, "best")
    order, total = progress.order, progress.total
    if (order is None) != (total is None) or order is not None and (
            not isinstance(order, torch.Tensor) or order.dtype != torch.int64
            or order.dim() != 1 or not isinstance(total, torch.Tensor) or total.dim() != 0
            or len(order) and not 0 <= int(order.min()) <= int(order.max()) < n_windows):
        raise UnfitState("its drawn windows are not windows of these data")
