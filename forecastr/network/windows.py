"""Windows as index arithmetic: a window is the row of its first target step (its origin)
and its series; batches are gathered from the panel tensor by indexing, never copied ahead.

Shapes: B batch, L window (input steps), H horizon, C channels (targets first), K targets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from forecastr.data.panel import Panel, row_offsets, row_owners, shown_id
from forecastr.errors import DataError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WindowIndex:
    """16 bytes per window: where its horizon starts and which series it belongs to."""

    origins: np.ndarray  # (N,) int64 panel row of the first target step
    series: np.ndarray  # (N,) int64 series number

    def __len__(self) -> int:
        return len(self.origins)


@dataclass(frozen=True)
class Split:
    """Training and validation windows of a panel, and what building them had to do."""

    train: WindowIndex
    val: WindowIndex
    train_ends: np.ndarray  # (S,) rows of each series before its first validation target
    padded: tuple[str, ...]  # series shorter than window + horizon (left-padded)
    skipped: tuple[str, ...]  # series shorter than horizon + 1 (no window at all)


def build(panel: Panel, window: int, horizon: int, stride: int = 1,
          val_windows: int = 0) -> Split:
    """Cut every series into windows, the last `val_windows` of each for validation.

    Validation targets of a series start at its cut; every training window ends (inputs and
    targets) before that cut, so no validation target is ever seen in training. A series with
    room for no training window before the cut gives all its windows to training.
    """
    lengths = panel.lengths
    usable = lengths >= horizon + 1  # at least one observed input step before the horizon
    if not usable.any():
        longest = int(np.argmax(lengths))
        raise DataError(
            f"{panel.source}: no series is long enough for a window of horizon {horizon}: the "
            f"longest, {shown_id(panel.ids[longest])}, has {lengths[longest]} points; at least "
            f"{horizon + 1} are needed ({window + horizon} for an unpadded window + horizon); "
            f"give a smaller --horizon (and --window) or longer series")
    last = lengths - horizon  # relative origin of each series' latest window
    val_count = np.where(usable, np.minimum(val_windows, (last - 1) // stride + 1), 0)
    cut = np.where(val_count > 0, last - (val_count - 1) * stride, lengths)  # first val target
    train_last = cut - horizon  # latest training origin: its targets end at the cut
    lonely = usable & (val_count > 0) & (train_last < 1)  # no room for training windows
    val_count[lonely], cut[lonely], train_last[lonely] = 0, lengths[lonely], last[lonely]
    train_first = np.where(train_last >= window, window, 1)  # pad only if no full window fits
    train_count = np.where(usable & (train_last >= 1), (train_last - train_first) // stride + 1, 0)
    train = _index(panel.indptr, train_last - (train_count - 1) * stride, train_count, stride)
    val = _index(panel.indptr, cut, val_count, stride)
    padded = tuple(panel.ids[s] for s in np.flatnonzero(usable & (lengths < window + horizon)))
    skipped = tuple(panel.ids[s] for s in np.flatnonzero(~usable))
    if skipped:
        log.warning("%s: skipped %d series shorter than horizon + 1 = %d points: %s",
                    panel.source, len(skipped), horizon + 1, _names(skipped))
    if padded:
        log.warning("%s: left-padded %d series shorter than window + horizon = %d points",
                    panel.source, len(padded), window + horizon)
    return Split(train, val, np.where(usable, cut, lengths), padded, skipped)


def _index(indptr: np.ndarray, first: np.ndarray, count: np.ndarray, stride: int) -> WindowIndex:
    """Windows of each series s at origins first[s] + k * stride for k < count[s]."""
    count = np.maximum(count, 0)
    series = row_owners(count)
    origins = indptr[:-1][series] + first[series] + row_offsets(count) * stride
    return WindowIndex(origins.astype(np.int64), series)


def _names(ids: tuple[str, ...], limit: int = 5) -> str:
    shown = ", ".join(shown_id(i) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def input_rows(values: torch.Tensor, indptr: torch.Tensor, origins: torch.Tensor,
               series: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The input steps of windows by tensor indexing, on whatever device `values` lives:
    values (T_total, C); origins, series (B,) int64 (an origin is the row of the first
    forecast step, one past the series' end for a forecast) -> x (B, L, C) with the steps
    before a series starts zeroed, and mask (B, L) True where a step is observed."""
    import torch  # here, so that building windows (inspect) does not load torch

    rows = origins.unsqueeze(1) + torch.arange(-window, 0, device=values.device)  # (B, L)
    first_row = indptr[series].unsqueeze(1)  # (B, 1)
    mask = rows >= first_row
    x = values[torch.where(mask, rows, first_row)] * mask.unsqueeze(-1).to(values.dtype)
    return x, mask


def horizon_rows(values: torch.Tensor, origins: torch.Tensor, horizon: int, n_targets: int,
                 known_from: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """What follows windows (origins (B,)): y (B, H, K) targets, and known (B, H, F + A), the
    channels from `known_from` on, which are known in advance (none when None)."""
    import torch

    ahead = values[origins.unsqueeze(1) + torch.arange(horizon, device=values.device)]
    y = ahead[..., :n_targets]  # horizon rows are always inside the series
    return y, ahead[..., values.shape[1] if known_from is None else known_from:]


def gather(values: torch.Tensor, indptr: torch.Tensor, origins: torch.Tensor,
           series: torch.Tensor, window: int, horizon: int, n_targets: int,
           known_from: int | None = None
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One batch of windows and what follows them: x, mask (input_rows), y, known
    (horizon_rows)."""
    x, mask = input_rows(values, indptr, origins, series, window)
    y, known = horizon_rows(values, origins, horizon, n_targets, known_from)
    return x, y, mask, known
