"""Forecasts as a table in DATA's own layout: long (id, time, one column per target) or
single and wide (time, one column per series), with the extra output columns beside each
forecast, the history first when asked for, and numbers to the digits they carry."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecastr.data.panel import Panel, row_owners
from forecastr.errors import ConfigError
from forecastr.network.outputs import Output

# significant digits of a forecast as written: float32's 24-bit mantissa holds 7.2 decimal
# digits, so an eighth is noise (139.35001 for 139.35, 0.99999996 for 1)
FORECAST_DIGITS = 7
# the column --mark-forecasts adds: True on forecast rows, False on history rows
MARK = "is_forecast"


def to_frame(panel: Panel, values: np.ndarray, times: np.ndarray, with_history: bool = False,
             extra: list[Output] | None = None, point: int = 0,
             mark_forecasts: bool = False) -> pd.DataFrame:
    """Forecasts (S, H, K, Q) in the input's layout: long gives id, time and target columns;
    single and wide give the time column and one column per target series. The point
    forecast (output `point`) keeps the target's name; each output of `extra` adds a column
    named `<target>-<suffix>` beside it (see outputs.extra_outputs). `mark_forecasts` adds
    MARK after the time column: True on forecast rows, False on history rows (a wide row
    that holds any series' forecast is one)."""
    schema = panel.schema
    horizon, k = values.shape[1], values.shape[2]
    outputs = [(point, ""), *[(o.index, f"-{o.suffix}") for o in extra or []]]
    time_col = schema.time_col or "step"
    stamps = times.reshape(-1)
    ids = np.repeat(np.asarray(panel.ids, dtype=object), horizon)
    # (S * H, K * outputs), to the digits the network's float32 arithmetic carries (more
    # would be noise), in float64 so that forecasts past float32's range are still numbers
    flat = significant(np.concatenate([values[..., q].reshape(-1, k) for q, _ in outputs],
                                      axis=1), FORECAST_DIGITS)
    forecasts = np.ones(len(stamps), dtype=bool)
    if with_history:  # written as read: float64, integers above 2**24 included
        forecasts = np.r_[np.zeros(len(panel.values), dtype=bool), forecasts]
        history = np.full((len(panel.values), flat.shape[1]), np.nan)
        history[:, :k] = panel.values[:, :k]  # quantile columns stay empty for the past
        ids = np.concatenate([np.repeat(np.asarray(panel.ids, dtype=object), panel.lengths),
                              ids])
        stamps = np.concatenate([panel.times, stamps])
        flat = np.concatenate([history, flat])
        owner = np.concatenate([row_owners(panel.lengths),
                                row_owners(np.full(panel.n_series, horizon))])
        order = np.argsort(owner, kind="stable")  # each series: its history, then forecasts
        ids, stamps, flat, forecasts = ids[order], stamps[order], flat[order], forecasts[order]
    when = _time_column(stamps, schema.tz)
    if schema.layout == "long":
        frame = pd.DataFrame({schema.id_col: ids, time_col: when})
        if mark_forecasts:
            frame[_mark(frame.columns, schema.targets)] = forecasts
        for c, name in enumerate(schema.targets):
            for o, (_, suffix) in enumerate(outputs):
                frame[name + suffix] = flat[:, o * k + c]
        return frame
    wide = pd.DataFrame({"series": ids, time_col: when})
    for o, (_, suffix) in enumerate(outputs):
        wide["value" + suffix] = flat[:, o * k]
    wide = wide.pivot(index=time_col, columns="series")  # columns: (value+suffix, series)
    columns = {(f"value{suffix}", series): f"{series}{suffix}"
               for series in panel.ids for _, suffix in outputs}
    wide = wide.reindex(columns=list(columns))
    wide.columns = list(columns.values())
    if mark_forecasts:
        marks = pd.Series(forecasts).groupby(pd.Index(when, name=time_col)).any()
        wide.insert(0, _mark(wide.columns, ()), marks.reindex(wide.index).to_numpy(bool))
    return wide.reset_index()


def _mark(columns: Any, targets: tuple[str, ...]) -> str:
    """MARK, the column --mark-forecasts adds, unless DATA's columns hold that name."""
    if MARK in set(columns) | set(targets):
        raise ConfigError(f"--mark-forecasts adds a column {MARK!r}, which the forecasts have "
                          f"already (a series or target of that name); rename it in DATA")
    return MARK


def significant(values: np.ndarray, digits: int) -> np.ndarray:
    """float64 values rounded to `digits` significant decimal digits, so that CSV and JSON
    show 1234.5679 rather than 1234.5678710937500; zero and non-finite values pass as they
    are."""
    magnitude = np.abs(values)
    usable = np.isfinite(values) & (magnitude > 0)
    exponent = np.floor(np.log10(np.where(usable, magnitude, 1.0)))
    shift = digits - 1 - exponent  # decimal places to keep: negative above 10**digits
    with np.errstate(over="ignore", invalid="ignore"):
        # dividing by an exact power of ten (up to 10**22) gives the nearest float64 to the
        # rounded decimal, whose shortest repr is the short text wanted
        rounded = np.where(shift >= 0, np.round(values * 10.0**shift) / 10.0**shift,
                           np.round(values / 10.0**-shift) * 10.0**-shift)
    rounded = np.where(usable & np.isfinite(rounded), rounded, values)
    far = usable & (np.abs(shift) > 22)  # rare: rounded through text instead
    rounded[far] = [float(f"{value:.{digits - 1}e}") for value in values[far]]
    return rounded


def _time_column(stamps: np.ndarray, tz: str | None) -> pd.Series | np.ndarray:
    if stamps.dtype.kind != "M":
        return stamps.astype(np.int64)
    index = pd.DatetimeIndex(stamps)
    # only dates reach here in a zone with daylight saving (times.parse_times refuses times
    # of day there); the few zones that change clocks at midnight skip or repeat one
    return index.tz_localize(tz, ambiguous=np.zeros(len(index), dtype=bool),
                             nonexistent="shift_forward") if tz else index
