"""The Theta method's forecast of each window, vectorised over windows and targets: the
statistical starting point a network can correct (`--baseline theta`), and a reference that
`evaluate` shows beside the naive ones.

Theta (Assimakopoulos & Nikolopoulos, 2000) in the form Hyndman & Billah (2003) showed it to
be: simple exponential smoothing with a drift of half the slope of the least-squares line,
on seasonally adjusted data when the season is significant in the window (a 90% F test of
the seasonal means of the detrended window: the M3 method's autocorrelation test has little
power in windows of two or three seasons). The season is removed additively: windows arrive
standardised (scaling.window_normalise), and every step here commutes with such an affine
map, so the forecast of a standardised window is the standardised forecast of the raw one.
The smoothing weight is chosen per window and target from ALPHAS by the in-window one-step
squared error. Steps outside the mask (a window that starts before its series) are left out
throughout; the observed steps must be the window's last ones.
"""

from __future__ import annotations

import torch

# the candidate smoothing weights: a grid, searched for every window at once
ALPHAS = tuple(round(0.05 * k, 2) for k in range(1, 21))  # 0.05 .. 1.0
# the seasonality test's one-sided level: 90%, as the M3 Theta method's (its normal quantile)
SEASON_TEST_Z = 1.2816


@torch.no_grad()
def forecast(y: torch.Tensor, mask: torch.Tensor, horizon: int, season: int) -> torch.Tensor:
    """y (B, L, K) the windows' targets, mask (B, L) their observed steps -> (B, H, K), each
    window's Theta forecast of the `horizon` steps after it, in y's units and dtype. A window
    with no observed step forecasts 0; with one, its value."""
    with torch.autocast(y.device.type, enabled=False):
        values, weight = y.double(), mask.unsqueeze(-1).double()  # (B, L, K), (B, L, 1)
        steps = torch.arange(y.shape[1], device=y.device, dtype=torch.float64)[None, :, None]
        count = weight.sum(dim=1, keepdim=True)  # (B, 1, 1)
        slope, intercept = _line(values, weight, steps, count)
        detrended = (values - intercept - slope * steps) * weight  # 0 off the mask
        seasonal = _seasonal(detrended, weight, count, season, horizon)
        level, alpha = _smoothed(values - seasonal[:, :y.shape[1]], weight)  # (B, 1, K) each
        ahead = torch.arange(1, horizon + 1, device=y.device, dtype=torch.float64)
        # Hyndman & Billah's drift of the theta = 0 line, halved, as seen from step n
        drift = ahead[None, :, None] - 1 + (1 - (1 - alpha) ** count) / alpha
        out = level + 0.5 * slope * drift + seasonal[:, y.shape[1]:]
        return out.to(y.dtype)


def _line(values: torch.Tensor, weight: torch.Tensor, steps: torch.Tensor,
          count: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Slope and intercept (B, 1, K) of each window's least-squares line over its observed
    steps; a window of fewer than two has slope 0."""
    mean_step = (weight * steps).sum(dim=1, keepdim=True) / count.clamp(min=1)
    mean = (weight * values).sum(dim=1, keepdim=True) / count.clamp(min=1)
    centred = (steps - mean_step) * weight
    spread = (centred * (steps - mean_step)).sum(dim=1, keepdim=True)
    slope = (centred * (values - mean)).sum(dim=1, keepdim=True) / spread.clamp(min=1e-12)
    slope = slope.where(spread > 0, torch.zeros_like(slope))
    return slope, mean - slope * mean_step


def _seasonal(residual: torch.Tensor, weight: torch.Tensor, count: torch.Tensor, season: int,
              horizon: int) -> torch.Tensor:
    """(B, L + H, K): each step's seasonal component, in the window and the horizon after it
    (it repeats): the mean detrended value (`residual`, 0 off the mask) at each position of
    the season, where an F test says those means explain the detrended window
    (SEASON_TEST_Z); 0 (as (B, L + H, 1)) elsewhere and when the window holds fewer than two
    seasons."""
    length = residual.shape[1]
    if season < 2 or length < 2 * season:
        return residual.new_zeros(residual.shape[0], length + horizon, 1)
    phase = torch.arange(length, device=residual.device) % season
    sums = residual.new_zeros(residual.shape[0], season, residual.shape[2]).index_add_(
        1, phase, residual)
    seen = weight.new_zeros(weight.shape[0], season, 1).index_add_(1, phase, weight)
    index = sums / seen.clamp(min=1)  # (B, season, K)
    index = index - index.mean(dim=1, keepdim=True)
    explained = ((index[:, phase] * weight) ** 2).sum(dim=1, keepdim=True)
    unexplained = ((residual - index[:, phase] * weight) ** 2).sum(dim=1, keepdim=True)
    index = index * _significant(explained, unexplained, season - 1, count - season - 1)
    return index[:, torch.arange(length + horizon, device=residual.device) % season]


def _significant(explained: torch.Tensor, unexplained: torch.Tensor, between: int,
                 within: torch.Tensor) -> torch.Tensor:
    """1.0 where F = (explained / between) / (unexplained / within) passes the one-sided
    test at SEASON_TEST_Z's level, by Paulson's normal approximation of the F distribution's
    quantile (vectorised, no table), else 0.0."""
    within = within.clamp(min=1)
    ratio = (explained / between) / (unexplained / within).clamp(min=1e-300)
    cube = ratio.clamp(min=0) ** (1 / 3)
    a, b = 2 / (9 * between), 2 / (9 * within)
    z = ((1 - b) * cube - (1 - a)) / torch.sqrt(a + cube**2 * b)
    return (z > SEASON_TEST_Z).double()


def _smoothed(values: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Simple exponential smoothing of every window with every weight of ALPHAS, started at
    its first observed value: the final level and the weight (B, 1, K) of the least sum of
    squared one-step errors. The observed steps must be the window's last ones (a window
    padded before its series starts), as windows and histories are built: the padding takes
    the first observed value, so that smoothing from the window's first step stays at that
    value, with no error, until the series starts."""
    seen = weight[..., 0] > 0  # (B, L)
    start = seen.to(torch.int64).argmax(dim=1)  # the first observed step
    first = values.gather(1, start[:, None, None].expand(-1, 1, values.shape[2]))
    values = torch.where(seen[..., None], values, first)
    alphas = values.new_tensor(ALPHAS)  # (A,)
    level = values[:, 0, :, None].expand(-1, -1, len(alphas)).clone()  # (B, K, A)
    errors = torch.zeros_like(level)
    for step in range(1, values.shape[1]):
        error = values[:, step, :, None] - level
        errors.addcmul_(error, error)
        level.addcmul_(error, alphas)
    best = errors.argmin(dim=-1, keepdim=True)  # (B, K, 1): the first of equal errors
    return (level.gather(-1, best).transpose(1, 2),  # (B, 1, K)
            alphas[best].transpose(1, 2))
