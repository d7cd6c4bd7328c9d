"""What a frequency implies: its seasonal period, suggested window and horizon, and calendar
features (hour of day, day of week, ...) that are known for future steps too."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecastr.config import MAX_STEPS, FitConfig
from forecastr.data.timegrid import fixed_step

log = logging.getLogger(__name__)

DAY_NS = 86_400 * 10**9
# the calendar features there are; a model file names those it was fitted with
NAMES = ("hour", "weekday", "week", "month", "quarter")


@dataclass(frozen=True)
class Rhythm:
    """Seasonal period of a frequency and the window and horizon suggested for it."""

    season: int  # steps per seasonal cycle (1 = no seasonality assumed)
    window: int
    horizon: int
    calendar: tuple[str, ...]  # calendar features that vary at this frequency
    high_frequency: bool = False  # daily or finer; the defaults study (bench/defaults.py)
    # found calendar inputs help such data, and the highway helps coarser data
    segment: int = 1  # steps per encoder step; bench/segments.py found a day of steps both
    # faster and more accurate than step by step on half-hourly data, and less accurate hourly
    # the network's starting point: on the accuracy benchmark's development half, starting
    # from Theta scored 0.90x seasonal naive's start on the yearly sets and 0.85x on the
    # sub-daily ones (two seeds), 1.10x and 1.27x on quarterly and monthly (one seed;
    # bench/results/accuracy_halves)
    baseline: str = "seasonal-naive"
    # the training loss: on the accuracy benchmark's four development yearly sets MAE scored
    # 0.93x Huber's error (two seeds; the two yearly panels 0.79x and 0.90x), and worse on
    # monthly and weekly data (bench/results/accuracy_halves/yearly-mae.md)
    loss: str = "huber"


def rhythm(freq: str | None) -> Rhythm:
    """Defaults per frequency. Horizons follow the M4 competition's (hourly 48, daily 14,
    weekly 13, monthly 18, quarterly 8, yearly 6); windows cover a few seasons."""
    if freq is None:
        return Rhythm(1, 24, 12, (), baseline="theta")
    offset = pd.tseries.frequencies.to_offset(freq)
    name = offset.rule_code.split("-")[0]
    step = fixed_step(offset)
    if step is not None and step < DAY_NS:
        per_day = DAY_NS // step if DAY_NS % step == 0 else 1
        # a day of steps longer than any window (250 ms data: 345,600) is no season a model
        # file could hold
        season = per_day if per_day <= MAX_STEPS else 1
        return Rhythm(season, min(7 * per_day, 1024), min(2 * per_day, 512),
                      ("hour", "weekday"), True, season if season >= 48 else 1, "theta")
    if step is not None:  # daily or a multiple of days
        return Rhythm(7 if step == DAY_NS else 1, 56, 14, ("weekday", "month"), True)
    if name in ("B", "C"):
        return Rhythm(5, 40, 10, ("weekday", "month"), True)
    if name == "W":
        return Rhythm(52, 52, 13, ("week",))
    if name in ("MS", "ME", "M", "SMS", "SME", "BMS", "BME"):
        return Rhythm(12, 36, 18, ("month",))
    if name in ("QS", "QE", "Q", "BQS", "BQE"):
        return Rhythm(4, 16, 8, ("quarter",))
    return Rhythm(1, 12, 6, (), baseline="theta", loss="mae")  # yearly and rarer


def settle(cfg: FitConfig, freq: str | None) -> FitConfig:
    """The config with every choice left to the data made for its frequency (None: integer
    steps): window, horizon, calendar inputs, the highway, the segment, the baseline and
    the loss. Fit makes them once, before anything is built, and the model file records
    them."""
    suggested = rhythm(freq)
    wanted = cfg.calendar if cfg.calendar is not None else suggested.high_frequency
    if cfg.calendar and not suggested.calendar:
        log.warning("--calendar: no calendar features vary at this time axis (%s); none added",
                    freq or "integer steps")
    window = cfg.window or suggested.window
    # a window shortened below two segments is cheap step by step and would be mostly padding
    segment = suggested.segment if window >= 2 * suggested.segment else 1
    return dataclasses.replace(
        cfg, window=window, horizon=cfg.horizon or suggested.horizon,
        calendar=bool(wanted and suggested.calendar),
        highway=not suggested.high_frequency if cfg.highway is None else cfg.highway,
        baseline=cfg.baseline or suggested.baseline, loss=cfg.loss or suggested.loss,
        segment=segment if cfg.segment is None else cfg.segment)


def names(cfg: FitConfig, freq: str | None) -> tuple[str, ...]:
    """The calendar features of a settled config at its frequency, in channel order."""
    return rhythm(freq).calendar if cfg.calendar else ()


def features(times: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(T, 2 * len(names)) float32: a sine and cosine per cyclic calendar feature."""
    if not names:
        return np.zeros((len(times), 0), np.float32)
    # the series of a panel mostly share their times: each distinct one computed once
    codes, distinct = pd.factorize(np.asarray(times))
    return _features(distinct, names)[codes]


def _features(times: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    index = pd.DatetimeIndex(times)
    cycles = {
        "hour": (index.hour + index.minute / 60, 24),
        "weekday": (index.day_of_week, 7),
        "week": (index.isocalendar().week.to_numpy(np.float64) - 1, 53),
        "month": (index.month - 1, 12),
        "quarter": (index.quarter - 1, 4),
    }
    columns = []
    for name in names:
        value, period = cycles[name]
        angle = 2 * np.pi * np.asarray(value, np.float64) / period
        columns += [np.sin(angle), np.cos(angle)]
    return np.column_stack(columns).astype(np.float32)
