"""The times that follow each series' last one: at its frequency, or its integer step;
refused where they would pass the last time pandas holds or the largest int64."""

from __future__ import annotations

from typing import NoReturn

import numpy as np
import pandas as pd

from forecastr.data.panel import Panel, shown_id
from forecastr.data.timegrid import fixed_step
from forecastr.errors import DataError

INT64_MAX = np.iinfo(np.int64).max  # also the last nanosecond pandas' times can hold
LAST_TIME = f"{pd.Timestamp.max:%Y-%m-%d %H:%M:%S}, the last time pandas holds"


def future_times(panel: Panel, horizon: int) -> np.ndarray:
    """(S, H) timestamps (or integer steps) that follow each series' last one.

    Raises:
        DataError: when they would pass the last time pandas holds (2262-04-11) or the
            largest integer step, which would otherwise wrap around silently.
    """
    last = panel.times[panel.indptr[1:] - 1]  # (S,)
    steps = np.arange(1, horizon + 1)
    schema = panel.schema
    if schema.time_kind != "datetime":
        _check_reach(panel, last, horizon, schema.step, f"{INT64_MAX:,}, the largest step")
        return last[:, None] + steps[None, :] * schema.step
    offset = pd.tseries.frequencies.to_offset(schema.freq)
    if (step := fixed_step(offset)) is not None:
        _check_reach(panel, last.view(np.int64), horizon, step, LAST_TIME)
        return last[:, None] + steps[None, :] * np.timedelta64(step, "ns")
    out = np.empty((len(last), horizon), dtype="datetime64[ns]")
    for stamp in np.unique(last):  # series usually share their last timestamp
        try:
            ahead = pd.date_range(pd.Timestamp(stamp), periods=horizon + 1, freq=offset)[1:]
        except pd.errors.OutOfBoundsDatetime:
            _past_the_end(panel, int(np.argmax(last == stamp)), horizon, LAST_TIME, None)
        out[last == stamp] = ahead.to_numpy()
    return out


def _check_reach(panel: Panel, last: np.ndarray, horizon: int, step: int, end: str) -> None:
    """That `horizon` steps of `step` after each series' last time (as int64) stay in int64."""
    s = int(np.argmax(last))
    room = (INT64_MAX - int(last[s])) // step  # Python ints: this cannot overflow
    if room < horizon:
        _past_the_end(panel, s, horizon, end, room)


def _past_the_end(panel: Panel, s: int, horizon: int, end: str, room: int | None
                  ) -> NoReturn:
    times = panel.series(s)[1]
    shown = pd.Timestamp(times[-1]) if times.dtype.kind == "M" else int(times[-1])
    fewer = ("forecast fewer steps (--horizon)" if room is None else
             f"pass --horizon {room} or less" if room else "no step after it can be forecast")
    raise DataError(f"{panel.source}: series {shown_id(panel.ids[s])} ends at {shown}, and "
                    f"{horizon} steps after it pass {end}; {fewer}")
