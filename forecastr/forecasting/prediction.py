"""Forecasting with a model file loaded once: the one code path behind `predict`, its chunked
form, and `forecast_frame` on Dask or Spark workers. A panel goes in; its forecast table
comes out with a tally of what was passed over, which the caller reports once, however many
chunks the data came in."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import numpy as np

from forecastr.config import at_least_one, one_of
from forecastr.data.panel import Panel, select, shown_id
from forecastr.errors import ConfigError, DataError, out_of_memory
from forecastr.network.outputs import extra_outputs
from forecastr.network.threads import ThreadPlan, limited, plan

if TYPE_CHECKING:
    import pandas as pd

    from forecastr.modelfile.contents import Artifact

log = logging.getLogger(__name__)

NewSeries = Literal["forecast", "skip", "error"]
FEWER_SERIES = "forecast fewer series at a time (--chunk-series N reads N at a time)"


@dataclass(frozen=True)
class Predictor:
    """A model file read, checked and built once, on the device it forecasts on."""

    path: str
    artifact: Artifact
    network: Any  # forecastr.network.model.Ensemble
    device: Any  # torch.device
    threads: ThreadPlan  # the CPU threads of its forward passes


def load(model_path: str | Path, device_spec: str = "auto", threads: int | None = None
         ) -> Predictor:
    """The model file read and built on `device_spec`; `threads`: --threads (None: the
    policy of forecastr.network.threads)."""
    from forecastr.modelfile import artifact
    from forecastr.network import device

    loaded = artifact.load(model_path)
    target = device.resolve_device(device_spec)
    network = artifact.build_model(loaded, str(model_path)).to(target)
    used = plan(threads)
    log.info("threads: %s", used.describe())
    return Predictor(str(model_path), loaded, network, target, used)


def cached(model_path: str | Path, device_spec: str = "auto", threads: int | None = None
           ) -> Predictor:
    """`load`, once per process for each model file as it is on disk: a Dask or Spark worker
    forecasting many partitions reads the file once; a file replaced is read again."""
    try:
        stat = os.stat(model_path)
    except OSError:  # load names what is wrong with the path, in one line
        return load(model_path, device_spec, threads)
    return _cached(os.path.realpath(model_path), stat.st_mtime_ns, stat.st_size, device_spec,
                   threads)


@functools.lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int, size: int, device_spec: str, threads: int | None
            ) -> Predictor:
    return load(path, device_spec, threads)


def check_options(horizon: int | None, new_series: str, threads: int | None) -> None:
    """What every entry point that forecasts checks before it loads a model."""
    one_of(new_series=(new_series, NewSeries))
    at_least_one(horizon=horizon, threads=threads)


def check_horizon(predictor: Predictor, horizon: int | None) -> None:
    loaded = predictor.artifact
    if horizon is not None and not 1 <= horizon <= loaded.horizon:
        raise ConfigError(f"--horizon must be between 1 and {loaded.horizon}, the horizon "
                          f"{predictor.path} was fitted for; got {horizon} (fit a model with "
                          f"a longer --horizon to forecast further)")


@dataclass
class Tally:
    """What forecasts passed over or made do with, summed over the chunks of one DATA."""

    series: int = 0  # series read
    unseen: int = 0  # of them, not in the training data
    first_unseen: str | None = None
    skipped: int = 0  # unseen series left out (--new-series skip)
    short: int = 0  # series with less history than the window, left-padded
    forecast_series: int = 0

    def report(self, source: str, predictor: Predictor, new_series: NewSeries) -> None:
        """The warnings of a finished DATA, once; no series to forecast is an error."""
        if new_series == "skip" and self.series and not self.forecast_series:
            raise DataError(f"{source}: no series of the training data is in this file; pass "
                            f"--new-series forecast to forecast them anyway")
        if self.skipped:
            log.warning("%s: skipped %d series unseen in training", source, self.skipped)
        elif self.unseen:  # the model is global, but the user should know which it never saw
            log.warning("%s: forecast %d series unseen in training (e.g. %s), scaled on their "
                        "own history; --new-series skip or error says otherwise", source,
                        self.unseen, shown_id(self.first_unseen))
        if self.short:
            log.warning("%s: left-padded %d series with less history than the window (%d)",
                        source, self.short, predictor.artifact.window)


class OncePerKind(logging.Filter):
    """Lets the first warning of each kind (its message template) through and counts the
    rest: DATA read in a thousand chunks warns as DATA read whole does, not a thousand
    times."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()
        self.held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        if str(record.msg) in self.seen:
            self.held += 1
            return False
        self.seen.add(str(record.msg))
        return True


@contextlib.contextmanager
def warnings_once_per_kind(source: Callable[[], str]) -> Iterator[None]:
    """Within: every forecastr logger warns once per kind; afterwards, how many more there
    were (in later chunks of `source()`)."""
    once = OncePerKind()
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name == "forecastr" or name.startswith("forecastr.")]
    for logger in loggers:
        logger.addFilter(once)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(once)
    if once.held:
        log.warning("%s: %d more warning(s) like those above, from later chunks", source(),
                    once.held)


def forecast_panel(predictor: Predictor, panel: Panel, tally: Tally, *,
                   horizon: int | None = None, with_history: bool = False,
                   mark_forecasts: bool = False, new_series: NewSeries = "forecast",
                   future: str | Path | BinaryIO | None = None, separate: bool = False,
                   clock: Any = None) -> pd.DataFrame:
    """The forecast table of `panel` (in its layout; `with_history` and `mark_forecasts` as
    table.to_frame takes them), counting in `tally` what it passed over. A model with
    future features reads them from `future`: DATA itself (rows past each series' end) or,
    `separate`, a --future file."""
    from forecastr.forecasting import forecast, table

    loaded = predictor.artifact
    if panel.empty:  # a series the user expects a forecast for cannot get one
        raise DataError(f"{panel.source}: series {shown_id(panel.empty[0])} has no usable history "
                        f"(every value is empty); {len(panel.empty)} such series; give it "
                        f"values or drop it")
    panel = _series_to_forecast(panel, loaded, tally, new_series)
    if not panel.n_series:  # all skipped, a shard that holds none of them, or no data
        return _no_forecasts(panel, loaded, horizon, with_history, mark_forecasts)
    tally.short += int((panel.lengths < loaded.window).sum())
    known = _future_values(predictor, panel, horizon, future, separate) \
        if loaded.dimensions.n_future else None
    inputs = forecast.model_inputs(loaded, panel, predictor.device, horizon, known)
    _lap(clock, "windows")
    with out_of_memory(f"forecasting {panel.n_series:,} series", FEWER_SERIES), \
            limited(predictor.threads):
        values, times = forecast.forward(predictor.network, loaded, inputs,
                                         horizon or loaded.horizon, predictor.device)
    _check_finite(values, panel, loaded)
    _lap(clock, "forward")
    frame = table.to_frame(panel, values, times, with_history, extra_outputs(loaded.config),
                           loaded.dimensions.point, mark_forecasts)
    _lap(clock, "table")
    return frame


def _series_to_forecast(panel: Panel, loaded: Artifact, tally: Tally, new_series: NewSeries
                        ) -> Panel:
    """`panel`'s series, less those the model never saw under new_series "skip" (and an
    error under "error"), counted in `tally`."""
    tally.series += panel.n_series
    trained = set(loaded.series["ids"])
    unseen = [i for i in panel.ids if i not in trained]
    if unseen and new_series == "error":
        raise DataError(f"{panel.source}: series {shown_id(unseen[0])} was not in the training "
                        f"data ({len(unseen)} such series); pass --new-series forecast or skip")
    tally.unseen += len(unseen)
    tally.first_unseen = tally.first_unseen or (unseen[0] if unseen else None)
    if unseen and new_series == "skip":
        tally.skipped += len(unseen)
        panel = select(panel, np.flatnonzero([i in trained for i in panel.ids]))
    tally.forecast_series += panel.n_series
    return panel


def _no_forecasts(panel: Panel, loaded: Artifact, horizon: int | None, with_history: bool,
                  mark_forecasts: bool) -> pd.DataFrame:
    """The table of a panel with no series to forecast: its columns alone."""
    from forecastr.forecasting import table

    frame = table.to_frame(panel, *_nothing(loaded, horizon), with_history,
                           extra_outputs(loaded.config), loaded.dimensions.point,
                           mark_forecasts)
    if loaded.schema.id_col is not None:  # the dtype this pandas gives ids, not object
        frame[loaded.schema.id_col] = frame[loaded.schema.id_col].astype(str)
    return frame


def _future_values(predictor: Predictor, panel: Panel, horizon: int | None,
                   future: str | Path | BinaryIO | None, separate: bool) -> np.ndarray:
    """The future features' values at the forecast steps of each series, from `future`."""
    from forecastr.data import future_values
    from forecastr.forecasting import forecast

    if hasattr(future, "seek"):
        future.seek(0)
    return future_values.read(future, predictor.artifact.config, panel,
                              forecast.future_steps(predictor.artifact, horizon),
                              predictor.path, separate=separate)


def _check_finite(values: np.ndarray, panel: Panel, loaded: Artifact) -> None:
    """Never a forecast of inf or NaN with exit 0."""
    broken = ~np.isfinite(values).all(axis=(1, 2, 3))
    if broken.any():
        s = int(np.argmax(broken))
        largest = float(np.nanmax(np.abs(panel.series(s)[0][:, :loaded.dimensions.n_targets])))
        raise DataError(f"{panel.source}: the forecast of series {shown_id(panel.ids[s])} is not a "
                        f"finite number ({int(broken.sum())} such series); its values reach "
                        f"{largest:.3g}; scale the data (e.g. to thousands or millions) "
                        f"and refit")


def _nothing(loaded: Artifact, horizon: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The forecast values and times of no series at all."""
    steps, dims = horizon or loaded.horizon, loaded.dimensions
    quantities = 1 + max([dims.point, *[o.index for o in extra_outputs(loaded.config)]])
    return (np.zeros((0, steps, dims.n_targets, quantities)),
            np.zeros((0, steps), "datetime64[ns]" if loaded.schema.time_kind == "datetime"
                     else np.int64))


def _lap(clock: Any, phase: str) -> None:
    if clock is not None:
        clock.lap(phase)
