"""Split-conformal prediction intervals from held-out residuals: the interval at level c
around a point forecast is +- the ceil((n + 1) c)-th smallest of n absolute residuals, which
covers a new actual with probability at least c when residuals are exchangeable (Vovk et al.,
2005; Lei et al., 2018). Residuals are kept apart per horizon step and target, and per series
where a series has enough of them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MIN_PER_SERIES = 30  # fewer residuals than this give a series the pooled widths


def needed(level: float) -> int:
    """The fewest residuals whose corrected quantile at `level` is finite."""
    return math.ceil(level / (1 - level) - 1e-9)


def half_width(scores: np.ndarray, level: float) -> np.ndarray:
    """The ceil((n + 1) level)-th smallest score along axis 0; inf when n is too small.

    scores (n, ...) absolute residuals -> (...)
    """
    n = scores.shape[0]
    rank = math.ceil((n + 1) * level - 1e-9)
    if n == 0 or rank > n:
        return np.full(scores.shape[1:], np.inf)
    return np.partition(scores, rank - 1, axis=0)[rank - 1]


def calibrate(residuals: np.ndarray, series: np.ndarray, n_series: int,
              levels: Sequence[float], min_per_series: int = MIN_PER_SERIES
              ) -> tuple[np.ndarray, np.ndarray]:
    """Half-widths of the intervals at each level, per series, horizon step and target.

    residuals (N, H, K) actual - forecast of N held-out windows; series (N,) the series of
    each -> widths (S, len(levels), H, K) and the pooled ones (len(levels), H, K). A series
    with at least `min_per_series` residuals (and enough for the level) gets its own widths;
    the others, and series never seen, share the pooled ones.
    """
    scores = np.abs(residuals)
    pooled = np.stack([half_width(scores, level) for level in levels])
    out = np.repeat(pooled[None], n_series, axis=0)
    counts = np.bincount(series, minlength=n_series)
    for j, level in enumerate(levels):
        for s in np.flatnonzero(counts >= max(min_per_series, needed(level))):
            out[s, j] = half_width(scores[series == s], level)
    return out, pooled


def bounds(point: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds (S, len(levels), H, K) around point forecasts (S, H, K): numpy
    arrays or torch tensors alike (predict uses tensors)."""
    return point[:, None] - widths, point[:, None] + widths
