"""A picture of a backtest: history, actuals and each origin's forecasts for a few series.
matplotlib is an optional extra (pip install -e '.[plot]' from a checkout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forecastr.data.panel import Panel
from forecastr.data.writer import atomic_write
from forecastr.errors import ConfigError
from forecastr.evaluation.backtest import Scored
from forecastr.network import outputs

SERIES_DRAWN = 4


def require_matplotlib() -> None:
    """Fail before the work when the picture cannot be drawn."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("--plot needs matplotlib: pip install matplotlib (or, from a checkout "
                          "of forecastr, pip install -e '.[plot]')") from None


def draw(panel: Panel, scored: Scored, path: str | Path) -> None:
    """One panel per series (the first few), written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display in cron or CI
    from matplotlib import pyplot as plt

    chosen = np.unique(scored.series)[:SERIES_DRAWN]
    figure, axes = plt.subplots(len(chosen), 1, figsize=(10, 2.6 * len(chosen)), squeeze=False)
    horizon = scored.actual.shape[1]
    for axis, s in zip(axes[:, 0], chosen):
        values, times = panel.series(int(s))
        span = min(len(times), horizon * (int(scored.fold.max()) + 4))
        axis.plot(times[-span:], values[-span:, 0], color="0.3", linewidth=1, label="actual")
        for i in np.flatnonzero(scored.series == s):
            start = int(np.searchsorted(times, scored.origin[i]))
            steps = times[start:start + horizon]
            for low, high in outputs.intervals(scored.extra):  # intervals as shaded bands
                lower, upper = scored.extra.index(low), scored.extra.index(high)
                axis.fill_between(steps, scored.bands[i, :len(steps), 0, lower],
                                  scored.bands[i, :len(steps), 0, upper], color="tab:blue",
                                  alpha=0.15, linewidth=0)
            for name, colour in (("model", "tab:blue"), ("seasonal_naive", "tab:orange")):
                axis.plot(steps, scored.forecasts[name][i, :len(steps), 0], color=colour,
                          linewidth=1.4, label=name.replace("_", " ") if i == np.flatnonzero(
                              scored.series == s)[0] else None)
        axis.set_title(str(panel.ids[s]), fontsize=9, loc="left")
        axis.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    with atomic_write(path) as stream:
        figure.savefig(stream, format="png", dpi=110)
    plt.close(figure)
