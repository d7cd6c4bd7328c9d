"""What a model forecasts besides its point: the quantiles its head is trained on, and the
extra outputs (quantiles and interval bounds) that predict writes as columns and evaluate
scores, each with its name, its order and its index in forecast()'s output axis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from forecastr.config import FitConfig


@dataclass(frozen=True)
class Output:
    """One forecast column beyond the point."""

    index: int  # along the last axis of forecast()'s (S, H, K, Q [+ 2J]) output
    quantile: float  # the quantile it forecasts: an interval's bounds are quantiles too
    level: float | None = None  # an interval's bound: its level in percent (80)
    side: Literal["lo", "hi"] | None = None

    @property
    def suffix(self) -> str:
        """What is added to the target's name: `q0.1`, `lo-80`, `hi-80`."""
        return f"q{self.quantile:g}" if self.level is None else f"{self.side}-{self.level:g}"


def quantile_levels(cfg: FitConfig) -> tuple[float, ...]:
    """The quantiles a model trains: those asked for, the bounds of quantile intervals, and
    the median (the point forecast); none for a point model."""
    bounds = {b for level in cfg.intervals for b in interval_quantiles(level)} \
        if cfg.interval_method == "quantile" else set()
    wanted = {*cfg.quantiles, *bounds}
    return tuple(sorted({*wanted, 0.5})) if wanted else ()


def interval_quantiles(level: float) -> tuple[float, float]:
    """The quantiles that bound a central interval of `level` percent: 80 -> 0.1, 0.9."""
    tail = round((100 - level) / 200, 10)
    return tail, round(1 - tail, 10)


def extra_outputs(cfg: FitConfig) -> list[Output]:
    """The outputs beyond the point, in column order: quantiles asked for, by quantile, then
    each interval's two bounds, narrowest level first. A quantile interval reads the outputs
    of the quantiles that bound it; conformal bounds follow the head's outputs, all lower
    bounds first."""
    levels = quantile_levels(cfg)
    n_head = len(levels) or 1
    found = [Output(levels.index(q), q) for q in sorted(cfg.quantiles)]
    for level in sorted(cfg.intervals):
        j = cfg.intervals.index(level)
        low, high = interval_quantiles(level)
        if cfg.interval_method == "quantile":
            indices = levels.index(low), levels.index(high)
        else:
            indices = n_head + j, n_head + len(cfg.intervals) + j
        found += [Output(indices[0], low, level, "lo"), Output(indices[1], high, level, "hi")]
    return found


def intervals(outputs: list[Output]) -> list[tuple[Output, Output]]:
    """The (lower, upper) bounds of each interval among `outputs`, in their order."""
    lows = [o for o in outputs if o.side == "lo"]
    return [(low, next(o for o in outputs if o.side == "hi" and o.level == low.level))
            for low in lows]
