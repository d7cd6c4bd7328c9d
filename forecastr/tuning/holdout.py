"""How `forecastr tune` scores a trial: a model of the trial's options is fitted on every
series up to its last few horizons, then forecasts from rolling origins over them, each from
the history before it; its MASE there (never on data it trained on) is the trial's score."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from forecastr.data.panel import Panel, select, truncate
from forecastr.errors import DataError
from forecastr.evaluation import backtest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Holdout:
    """A panel and the tail of it that trials are scored on: `folds` origins, `step` steps
    apart, forecasting `horizon` steps each."""

    panel: Panel
    horizon: int
    folds: int
    step: int
    season: int

    @property
    def reach(self) -> int:
        """Rows after the earliest origin that a trial's model never trains on."""
        return self.horizon + (self.folds - 1) * self.step

    @property
    def history_needed(self) -> int:
        """Points before the earliest origin that a trial's fit needs in some series: one
        window of horizon + 1 (its input padded on the left where shorter)."""
        return self.horizon + 1

    @property
    def forecasts(self) -> int:
        """How many (series, origin) forecasts a trial is scored on: at each origin, the
        series with two points or more before it."""
        lengths = self.panel.lengths - self.horizon
        return sum(int((lengths - fold * self.step >= backtest.MIN_HISTORY).sum())
                   for fold in range(self.folds))

    def within_history(self) -> Holdout:
        """This holdout, or one of fewer origins where even the longest series cannot hold
        out `folds` of them with a training window before (a panel of short yearly series):
        scoring on the origins the data have beats refusing to search."""
        room = int(self.panel.lengths.max()) - self.history_needed - self.horizon
        possible = room // self.step + 1 if room >= 0 else 0
        if possible >= self.folds:
            return self
        if possible < 1:  # not even one: training_panel says so
            return dataclasses.replace(self, folds=1)
        log.warning("%s: the longest series holds %d origin(s) of %d steps, %d apart, "
                    "with history before them, not %d; trials are scored on %d",
                    self.panel.source, possible, self.horizon, self.step, self.folds,
                    possible)
        return dataclasses.replace(self, folds=possible)

    def training_panel(self) -> Panel:
        """Every series up to its earliest scored origin (series too short to keep two
        points before it are left out, as the backtest leaves them out)."""
        cuts = self.panel.lengths - self.reach
        if not (cuts >= self.history_needed).any():
            fewer = "give --folds 1 or more history" if self.folds > 1 else \
                "give a shorter --horizon or more history"
            raise DataError(f"{self.panel.source}: no series is long enough to hold out "
                            f"{self.folds} origin(s) of {self.horizon} steps and train "
                            f"before them ({self.reach + self.history_needed} points are "
                            f"needed); {fewer}")
        keep = np.flatnonzero(cuts >= backtest.MIN_HISTORY)
        return truncate(select(self.panel, keep), cuts[keep])


def score(holdout: Holdout, fitted: Any, device: Any) -> backtest.Scored:
    """The backtest of a fitted model (its Artifact) over the holdout's origins."""
    from forecastr.forecasting import forecast
    from forecastr.modelfile import artifact

    model = artifact.build_model(fitted).to(device)
    schema = holdout.panel.schema

    def predict(history: Panel, ahead: np.ndarray) -> np.ndarray:  # (S, H, K, 1)
        points = forecast.forecast(model, fitted, history, holdout.horizon, device,
                                   future=ahead[..., schema.future_from:])[0]
        return points[..., [fitted.dimensions.point]]

    reach = forecast.future_steps(fitted, holdout.horizon) if fitted.dimensions.n_future \
        else holdout.horizon
    return backtest.run(holdout.panel, predict, holdout.horizon, holdout.folds, holdout.step,
                        holdout.season, None, reach)


def mase(scored: backtest.Scored, method: str = "model") -> float:
    """The mean MASE over every (series, origin) pair and target."""
    return backtest.summarise(scored.actual, scored.forecasts[method], scored.scale)["mase"]


def references(holdout: Holdout) -> dict[str, float]:
    """The references' MASE on the holdout's origins: naive, seasonal naive and Theta."""
    k = holdout.panel.schema.n_targets

    def nothing(history: Panel, ahead: np.ndarray) -> np.ndarray:  # no model to score
        return np.zeros((history.n_series, holdout.horizon, k, 1))

    scored = backtest.run(holdout.panel, nothing, holdout.horizon, holdout.folds,
                          holdout.step, holdout.season)
    return {name: mase(scored, name) for name in backtest.METHODS if name != "model"}

