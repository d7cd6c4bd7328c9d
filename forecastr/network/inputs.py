"""The one path from windows to what the network reads, for training, validation, backtests
and predict alike: a window's rows (zeros before a series starts), the observed-step mask,
per-window scaling of the targets, and the mask as one more input channel."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from forecastr.network.scaling import window_normalise
from forecastr.network.windows import input_rows


@dataclass(frozen=True)
class Encoded:
    """Windows made into network inputs."""

    inputs: torch.Tensor  # (B, L, C + 1) what the encoder reads
    raw: torch.Tensor  # (B, L, C) the windows as the values hold them, padding zeroed
    mask: torch.Tensor  # (B, L) True where a step is observed
    loc: torch.Tensor | None  # (B, 1, K) per-window scaling (float64), None: per series
    scale: torch.Tensor | None  # (B, 1, K)


def encode(values: torch.Tensor, indptr: torch.Tensor, origins: torch.Tensor,
           series: torch.Tensor, window: int, n_targets: int, floor: float | None
           ) -> Encoded:
    """The windows of `series` that end just before `origins` (see windows.input_rows),
    with their targets scaled by their own mean and spread when `floor` (the least spread
    relative to the level, ScaleStats.floor) is given, as with the window scaler."""
    raw, mask = input_rows(values, indptr, origins, series, window)
    x, loc, scale = raw, None, None
    if floor is not None:
        x, _, loc, scale = window_normalise(raw, None, mask, n_targets, floor)
    return Encoded(encoder_inputs(x, mask), raw, mask, loc, scale)


def encoder_inputs(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x (B, L, C) and mask (B, L) -> (B, L, C + 1): the mask tells padded steps from zeros
    (a series at zero and a step before it began would otherwise read the same)."""
    return torch.cat([x, mask.unsqueeze(-1).to(x.dtype)], dim=-1)
