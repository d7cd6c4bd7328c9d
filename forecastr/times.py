"""Time columns parsed: dates and times (their one time zone kept apart) or integer steps,
with one-line errors naming the line of a value that is neither."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecastr.errors import DataError

DATE_RANGE = f"({pd.Timestamp.min:%Y-%m-%d} to {pd.Timestamp.max:%Y-%m-%d})"


@dataclass(frozen=True)
class Parsed:
    """A time column after parsing: int64 nanoseconds (datetime) or plain integers."""

    values: np.ndarray  # (n,) datetime64[ns] or int64
    kind: str  # "datetime" | "integer"
    tz: str | None


def parse_times(raw: pd.Series, where: str, lines: np.ndarray, utc: bool) -> Parsed:
    """Parse a time column; integers stay integer steps, strings become datetimes."""
    missing = raw.isna().to_numpy()
    if missing.any():
        raise DataError(f"{where}, line {lines[missing.argmax()]}: empty time value; fill it "
                        f"in or drop the row")
    if pd.api.types.is_bool_dtype(raw):
        raise DataError(f"{where}: time column holds true/false values, not times; check "
                        f"which column holds the times")
    if pd.api.types.is_numeric_dtype(raw):
        numbers = raw.to_numpy()  # bounded so that differences of two cannot overflow int64
        ok = np.isfinite(numbers) & (numbers == np.round(numbers)) & (abs(numbers / 1e18) <= 1)
        if not ok.all():
            bad = int(np.argmax(~ok))
            raise DataError(f"{where}, line {lines[bad]}: time step {numbers[bad]} is neither a "
                            f"date nor a whole number of at most 18 digits")
        return Parsed(numbers.astype(np.int64), "integer", None)
    stamps = _to_datetime(raw, where, lines, utc)
    if not isinstance(stamps.dtype, (pd.DatetimeTZDtype, np.dtype)) or stamps.dtype == object:
        raise DataError(f"{where}: timestamps mix time zones; pass --utc to convert them to UTC",
                        fit_option="--utc")
    tz = str(stamps.dt.tz) if stamps.dt.tz is not None else None
    if tz is not None:
        stamps = stamps.dt.tz_localize(None)  # keep local wall time; tz is restored on output
    try:  # astype checks the range; numpy's to_numpy(dtype=...) would wrap silently
        return Parsed(stamps.astype("datetime64[ns]").to_numpy(), "datetime", tz)
    except pd.errors.OutOfBoundsDatetime:
        bad = int(np.argmax((stamps < pd.Timestamp.min) | (stamps > pd.Timestamp.max)))
        raise DataError(f"{where}, line {lines[bad]}: {raw.iloc[bad]!r} is outside the dates "
                        f"pandas supports {DATE_RANGE}") from None


def _to_datetime(raw: pd.Series, where: str, lines: np.ndarray, utc: bool) -> pd.Series:
    """ISO 8601 first (pandas' fastest parser, and it reads columns that mix ISO forms such
    as 2020-01-01 beside 2020-01-01 12:00), then pandas' format inferred from the first value."""
    errors = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": the result is checked
        for options in ({"format": "ISO8601"}, {}):
            try:
                return pd.to_datetime(raw, utc=utc, **options)
            except (ValueError, TypeError, OverflowError) as exc:
                errors.append(str(exc).split("\n")[0] or type(exc).__name__)
    if any(word in text.lower() for text in errors for word in ("timezone", "tz-aware", "offset")):
        raise DataError(f"{where}: timestamps mix time zones; pass --utc to convert them to UTC",
                        fit_option="--utc")
    with warnings.catch_warnings():  # NaT marks the values unlike the first one, or no date
        warnings.simplefilter("ignore")
        bad = pd.to_datetime(raw, errors="coerce", utc=True).isna().to_numpy()
    if bad.any():
        i = int(bad.argmax())
        like = f" in the format of line {lines[0]} ({raw.iloc[0]!r})" if i else ""
        raise DataError(f"{where}, line {lines[i]}: cannot parse {raw.iloc[i]!r} as a date or "
                        f"time{like}; fix the cell, or write every time in one format")
    raise DataError(f"{where}: cannot parse the time column ({errors[0]}); write every time "
                    f"in one format, e.g. 2020-01-31 or 2020-01-31 13:00")
