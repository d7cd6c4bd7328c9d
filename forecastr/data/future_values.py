"""The values of future-known features at the steps a model forecasts: read from rows past
the end of each series in DATA (their target left empty) or from a separate --future file,
and refused, naming the series and the first missing time, where any is missing."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from forecastr.config import FitConfig
from forecastr.data.future import future_times
from forecastr.data.panel import Panel, has_clock_times, shown_id, time_text
from forecastr.data.reader import Rows, read_rows
from forecastr.data.timegrid import floor_to
from forecastr.errors import DataError


def read(source: str | Path | BinaryIO, cfg: FitConfig, panel: Panel, steps: int,
         model: str, separate: bool) -> np.ndarray:
    """(S, steps, F) the future features of `cfg` at the `steps` times after each series of
    `panel` ends, in data units; `separate`: `source` is a --future file, not DATA."""
    names = cfg.future_features
    if separate and panel.schema.time_col is None:
        raise DataError(f"{source}: --future needs a time column to match its rows to the "
                        f"series' ends; DATA has none, so give the future rows in DATA itself")
    rows = read_rows(source, cfg, names, model)
    times = future_times(panel, steps)  # (S, steps)
    stamps = _in_zone(rows, panel.schema.tz) if rows.times.tz != panel.schema.tz \
        else rows.times.values
    given = stamps
    if panel.schema.freq is not None and rows.times.kind == "datetime":
        stamps = floor_to(stamps, panel.schema.freq, rows.name)  # as the history was read
    table = _one_row_per_time(rows, stamps, given, panel.schema.freq, cfg.duplicates)
    keys = (pd.MultiIndex.from_arrays([np.repeat(panel.ids, steps), times.reshape(-1)])
            if rows.ids is not None else pd.Index(times.reshape(-1)))
    found = table.reindex(keys).to_numpy(np.float64).reshape(len(times), steps, len(names))
    missing = np.isnan(found).any(axis=2)  # (S, steps)
    if missing.any():
        s = int(np.argmax(missing.any(axis=1)))
        h = int(np.argmax(missing[s]))
        column = names[int(np.argmax(np.isnan(found[s, h])))]
        where = ("in --future " + rows.name) if separate else (
            f"in {rows.name} (rows after the series' last value, with an empty target)")
        lacking = int(missing.any(axis=1).sum())
        raise DataError(
            f"{rows.name}: series {shown_id(panel.ids[s])} has no future value of {column!r} at "
            f"{_shown(times[s, h], times)} ({h} of the {steps} steps after its end are there"
            f"{f'; {lacking} series lack some' if lacking > 1 else ''}); the model reads its "
            f"future features for {steps} steps: give them {where}")
    return found


def _in_zone(rows: Rows, zone: str | None) -> np.ndarray:
    """The rows' times as wall-clock times of `zone`, DATA's (and the model's) time zone, so
    that a --future file in another zone is matched by the instant, not by the clock; times
    with a zone and times without one name no common instant and are refused."""
    if rows.times.tz is None or zone is None:
        raise DataError(f"{rows.name}: times are "
                        f"{f'in time zone {rows.times.tz}' if rows.times.tz else 'without a zone'}"
                        f" but DATA's are {f'in time zone {zone}' if zone else 'without one'}, "
                        f"as the model's; give the future rows' times as DATA gives them")
    local = pd.DatetimeIndex(rows.times.values).tz_localize(
        rows.times.tz, ambiguous="NaT", nonexistent="NaT")  # a clock time that is not one
    return local.tz_convert(zone).tz_localize(None).as_unit("ns").to_numpy()


def _one_row_per_time(rows: Rows, stamps: np.ndarray, given: np.ndarray, freq: str | None,
                      policy: str) -> pd.DataFrame:
    """The rows indexed by (series, time), or by time alone for a single or wide file, with
    repeated times combined by the --duplicates policy the model was fitted with. `stamps`:
    the times on the model's grid (`freq`), `given`: as the file gives them."""
    index = (pd.MultiIndex.from_arrays([rows.ids, stamps]) if rows.ids is not None
             else pd.Index(stamps))
    table = pd.DataFrame(rows.values, index=index)
    if table.index.is_unique:
        return table
    if policy == "error":
        i = int(np.argmax(table.index.duplicated()))
        first = int(np.argmax(index == index[i]))
        series = f"series {shown_id(rows.ids[i])} " if rows.ids is not None else ""
        if given[i] == stamps[i] and given[first] == stamps[first]:
            raise DataError(f"{rows.name}, line {rows.lines[i]}: {series}has a second row at "
                            f"{_shown(stamps[i], stamps)}; give one row per time")
        raise DataError(  # times off the model's grid, floored onto it as DATA's are
            f"{rows.name}, line {rows.lines[i]}: the time {_shown(given[i], given)}"
            f"{f' ({series.strip()})' if series else ''} falls in the same step of the "
            f"model's frequency {freq} ({_shown(stamps[i], stamps)}) as line {rows.lines[first]} "
            f"({_shown(given[first], given)}); give one row per {freq} step")
    grouped = table.groupby(level=list(range(index.nlevels)), sort=False)
    return grouped.agg(policy) if policy != "sum" else grouped.sum(min_count=1)


def _shown(stamp: np.generic, among: np.ndarray) -> str:
    return str(time_text(stamp, has_clock_times(among.reshape(-1))))
