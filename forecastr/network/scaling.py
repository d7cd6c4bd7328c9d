"""Scaling as pure functions: per-series statistics fitted on each series' training span,
applied to and inverted from the panel; and per-window normalisation of batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from forecastr.data.panel import row_offsets

if TYPE_CHECKING:
    import torch

    from forecastr.data.panel import Panel

# A (near-)constant series would divide by ~0; below this spread it is only shifted.
MIN_SPREAD = 1e-8
# The least spread a window is scaled by, relative to its level (see window_normalise).
RELATIVE_SPREAD = 0.1


@dataclass(frozen=True)
class ScaleStats:
    """Per-series, per-channel affine map: scaled = (value - loc) / scale."""

    kind: str  # standard | minmax | none | window (window: identity here, done per batch)
    loc: np.ndarray  # (S, C) float64
    scale: np.ndarray  # (S, C) float64
    floor: float = 0.0  # window: the least spread of a window, relative to its level


def fit(panel: Panel, kind: str, train_ends: np.ndarray | None = None) -> ScaleStats:
    """Statistics of each series over its first `train_ends[s]` rows (all rows when None)."""
    lengths = panel.lengths
    ends = lengths if train_ends is None else np.minimum(train_ends, lengths)
    shape = (panel.n_series, panel.values.shape[1])
    if kind == "none":
        return ScaleStats(kind, np.zeros(shape), np.ones(shape))
    if kind == "window":  # targets are scaled per batch; features still per series
        standard = fit(panel, "standard", train_ends)
        loc, scale = standard.loc.copy(), standard.scale.copy()
        loc[:, :panel.schema.n_targets], scale[:, :panel.schema.n_targets] = 0.0, 1.0
        return ScaleStats(kind, loc, scale, RELATIVE_SPREAD)
    assert np.all(ends >= 1), "every series needs at least one training row"
    values = panel.values.astype(np.float64)
    starts = panel.indptr[:-1]
    # (T_total, 1) the rows in the spans; every row when the spans are whole series
    used = None if train_ends is None else \
        (row_offsets(lengths) < np.repeat(ends, lengths))[:, None]

    def spans(rows: np.ndarray, outside: float) -> np.ndarray:
        return rows if used is None else np.where(used, rows, outside)

    if kind == "standard":
        count = ends[:, None].astype(np.float64)
        mean = np.add.reduceat(spans(values, 0.0), starts, axis=0) / count
        centred = spans(values - np.repeat(mean, lengths, axis=0), 0.0)
        std = np.sqrt(np.add.reduceat(centred**2, starts, axis=0) / count)
        return ScaleStats(kind, mean, np.where(std > MIN_SPREAD, std, 1.0))
    if kind == "minmax":
        low = np.minimum.reduceat(spans(values, np.inf), starts, axis=0)
        high = np.maximum.reduceat(spans(values, -np.inf), starts, axis=0)
        spread = high - low
        return ScaleStats(kind, low, np.where(spread > MIN_SPREAD, spread, 1.0))
    raise ValueError(f"unknown scaler {kind!r}")


def window_floor(stats: ScaleStats) -> float | None:
    """The floor (ScaleStats.floor) that window_normalise scales each window's targets
    with, when the scaler is "window"; None when the targets are scaled per series."""
    return stats.floor if stats.kind == "window" else None


def apply(panel: Panel, stats: ScaleStats) -> np.ndarray:
    """A scaled float32 copy of the panel's values, (T_total, C)."""
    lengths = panel.lengths
    loc = np.repeat(stats.loc, lengths, axis=0)
    scale = np.repeat(stats.scale, lengths, axis=0)
    return ((panel.values - loc) / scale).astype(np.float32)


def invert(scaled: np.ndarray, stats: ScaleStats, series: np.ndarray,
           channels: slice = slice(None)) -> np.ndarray:
    """Back to data units: `scaled` is (N, ..., C') for rows of `series` (N,), C' = channels."""
    loc = stats.loc[series][:, channels]
    scale = stats.scale[series][:, channels]
    extra = (1,) * (scaled.ndim - 2)
    return scaled * scale.reshape(len(series), *extra, -1) + loc.reshape(len(series), *extra, -1)


def window_normalise(x: torch.Tensor, y: torch.Tensor | None, mask: torch.Tensor,
                     n_targets: int, floor: float) -> tuple[torch.Tensor, torch.Tensor | None,
                                                            torch.Tensor, torch.Tensor]:
    """Standardise each window's target channels by the mean and spread of its observed
    input steps only (never the horizon, which would leak the answer).

    x (B, L, C), y (B, H, n_targets) or None, mask (B, L) -> x, y, loc (B, 1, n_targets),
    scale (B, 1, n_targets), the last two in float64; invert with `prediction * scale +
    loc`. The spread is at least `floor` times the window's level (ScaleStats.floor; 0 in
    models of format 2 and older).
    """
    import torch  # here, so that the per-series scalers do not load it

    # statistics in float64: the squares of float32 values near 1e20 would overflow, and
    # those near 1e-30 vanish, in float32
    weight = mask.unsqueeze(-1).double()  # (B, L, 1)
    count = weight.sum(dim=1, keepdim=True).clamp(min=1.0)  # (B, 1, 1)
    target = x[..., :n_targets].double()
    loc = (target * weight).sum(dim=1, keepdim=True) / count  # (B, 1, n_targets)
    var = (((target - loc) * weight) ** 2).sum(dim=1, keepdim=True) / count
    # a window with one observed step (or a flat one) has no spread of its own: a share of
    # its level sets the scale instead, so that its targets are relative changes rather
    # than raw units, which would swamp the loss of every other window
    spread = torch.maximum(var.sqrt(), floor * loc.abs())
    # any spread above zero scales, however small the series' units (3e-9 is data too); an
    # all-zero window is only shifted (and forecast as zero: see forecast.forward)
    scale = spread.where(spread > 0, spread.new_ones(()))
    x = x.clone()
    x[..., :n_targets] = ((target - loc) / scale * weight).to(x.dtype)  # padding stays 0
    return x, None if y is None else in_window_units(y, loc, scale), loc, scale


def in_window_units(y: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Targets (B, H, K) scaled like the window they follow (loc, scale from
    window_normalise)."""
    return ((y.double() - loc) / scale).to(y.dtype)
