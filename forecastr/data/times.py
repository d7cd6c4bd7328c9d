"""Time columns parsed: dates and times (their one time zone kept apart) or integer steps,
with one-line errors naming the line of a value that is neither."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecastr.errors import DataError

log = logging.getLogger(__name__)

DATE_RANGE = f"({pd.Timestamp.min:%Y-%m-%d} to {pd.Timestamp.max:%Y-%m-%d})"


@dataclass(frozen=True)
class Parsed:
    """A time column after parsing: int64 nanoseconds (datetime) or plain integers."""

    values: np.ndarray  # (n,) datetime64[ns] or int64
    kind: str  # "datetime" | "integer"
    tz: str | None
    # the order dates such as 01/02/2020 were read in, day first or not (None: no date has
    # that form, or a --date-format gave it), which predict must read them in again
    dayfirst: bool | None = None


def parse_times(raw: pd.Series, where: str, lines: np.ndarray, utc: bool,
                dayfirst: bool | None = None, date_format: str | None = None) -> Parsed:
    """Parse a time column; integers stay integer steps, strings become datetimes (read day
    first or month first as `dayfirst` says, or as the column decides when it is None)."""
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
    if raw.dtype.kind == "M" or isinstance(raw.dtype, pd.DatetimeTZDtype):  # times already
        codes, texts = None, raw  # (pyarrow's reading of ISO 8601, Parquet)

        def line(row: int) -> int:
            return int(lines[row])
    else:
        # each distinct text is parsed once: a long file repeats every time once per series,
        # and pandas' own cache of to_datetime skips columns whose first 500 values are all
        # distinct. The texts keep the order they first appear in, and a message names a
        # text's first line, so every message names the value and line that parsing every
        # row would.
        codes, texts = pd.factorize(raw)
        texts = pd.Series(texts)

        def line(text: int) -> int:
            return int(lines[np.argmax(codes == text)])

    # times already parsed are what to_datetime would give back (but for a copy), in UTC
    stamps, order = (texts, None) if codes is None and not utc else _to_datetime(
        texts, where, line, utc, dayfirst, date_format)
    if not isinstance(stamps.dtype, (pd.DatetimeTZDtype, np.dtype)) or stamps.dtype == object:
        raise DataError(f"{where}: timestamps mix time zones; pass --utc to convert them to UTC",
                        fit_option="--utc")
    tz = str(stamps.dt.tz) if stamps.dt.tz is not None else None
    if tz is not None:
        stamps = stamps.dt.tz_localize(None)  # keep local wall time; tz is restored on output
        _refuse_times_of_day_across_daylight_saving(stamps, tz, where)
    try:  # astype checks the range; numpy's to_numpy(dtype=...) would wrap silently
        stamps_ns = stamps.astype("datetime64[ns]").to_numpy()
        return Parsed(stamps_ns if codes is None else stamps_ns[codes], "datetime", tz, order)
    except pd.errors.OutOfBoundsDatetime:
        bad = int(np.argmax((stamps < pd.Timestamp.min) | (stamps > pd.Timestamp.max)))
        raise DataError(f"{where}, line {line(bad)}: {texts.iloc[bad]!r} is outside the "
                        f"dates pandas supports {DATE_RANGE}") from None


def _refuse_times_of_day_across_daylight_saving(wall: pd.Series, tz: str, where: str) -> None:
    """forecastr works on the wall clock of a time column's zone, which is one clock only in
    a zone without daylight saving, or for dates (at midnight): where clocks change, an hour
    of wall time is missing in spring and twice in autumn, so that a grid of hours breaks.
    Refused in such a zone, whether or not these times cross a change, so that a fit that
    works in July does not fail in a cron job in November."""
    if not len(wall) or (wall == wall.dt.normalize()).all():
        return
    year = int(wall.iloc[-1].year)
    winter, summer = (pd.Timestamp(f"{year}-{month}-15", tz=tz).utcoffset()
                      for month in ("01", "07"))
    if winter != summer:
        raise DataError(f"{where}: times of day in time zone {tz}, whose clocks change for "
                        f"daylight saving (an hour missing in spring, one twice in autumn); "
                        f"pass --utc to read them in UTC, or give them in a zone or offset "
                        f"without daylight saving", fit_option="--utc")


def _to_datetime(raw: pd.Series, where: str, line: Callable[[int], int], utc: bool,
                 dayfirst: bool | None, date_format: str | None
                 ) -> tuple[pd.Series, bool | None]:
    """`raw` parsed in the given format; else ISO 8601 first (pandas' fastest parser, and it
    reads columns that mix ISO forms such as 2020-01-01 beside 2020-01-01 12:00), then
    pandas' format inferred from the first value, day first or month first as decided
    (_day_first), and that day order (None where ISO 8601 or the format read them, or no
    date has a day and a month to tell apart). `line(i)`: the line of value i, for
    messages."""
    errors = []
    order: bool | None = None

    def day_order() -> dict[str, bool]:
        nonlocal order
        order = _day_first(raw, where, dayfirst)
        return {"dayfirst": bool(order)}

    # the day order is decided only when ISO 8601 fails: it reads the whole column again
    attempts = [lambda: {"format": date_format}] if date_format is not None else [
        lambda: {"format": "ISO8601"}, day_order]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": the result is checked
        for options in attempts:
            try:
                return pd.to_datetime(raw, utc=utc, **options()), order
            except (ValueError, TypeError, OverflowError) as exc:
                errors.append(str(exc).split("\n")[0] or type(exc).__name__)
    if any(word in text.lower() for text in errors for word in ("timezone", "tz-aware", "offset")):
        raise DataError(f"{where}: timestamps mix time zones; pass --utc to convert them to UTC",
                        fit_option="--utc")
    with warnings.catch_warnings():  # NaT marks the values unlike the first one, or no date
        warnings.simplefilter("ignore")
        bad = pd.to_datetime(raw, errors="coerce", utc=True).isna().to_numpy()
    if date_format is not None:
        raise DataError(f"{where}: cannot read the times with --date-format {date_format!r} "
                        f"({errors[0]}); give the format of every cell, e.g. %d/%m/%Y",
                        fit_option="--date-format")
    if bad.any():
        i = int(bad.argmax())
        like = f" in the format of line {line(0)} ({raw.iloc[0]!r})" if i else ""
        raise DataError(f"{where}, line {line(i)}: cannot parse {raw.iloc[i]!r} as a date or "
                        f"time{like}; fix the cell, or write every time in one format")
    raise DataError(f"{where}: cannot parse the time column ({errors[0]}); write every time "
                    f"in one format, e.g. 2020-01-31 or 2020-01-31 13:00")


# a date with its day and month as the first two numeric fields, in either order
DAY_MONTH = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}\b"


def _day_first(raw: pd.Series, where: str, dayfirst: bool | None) -> bool | None:
    """Whether dates such as 01/02/2020 are day first. Given, or decided by the whole
    column: a first field above 12 can only be a day, a second one only a day too. When no
    value decides, the reading whose dates lie the more regularly (_spread) wins, with a
    warning: pandas would read them month first, turning monthly dd/mm data into daily data
    full of gaps."""
    if dayfirst is not None:
        return dayfirst
    fields = raw.astype(str).str.extract(DAY_MONTH).dropna()
    if fields.empty:
        return None  # no date of that form: nothing to decide (pandas reads month first)
    first, second = fields[0].astype(int), fields[1].astype(int)
    if (first > 12).any() and (second > 12).any():
        raise DataError(f"{where}: dates have their day first in some rows and second in "
                        f"others (e.g. {raw[first.idxmax()]!r} and {raw[second.idxmax()]!r}); "
                        f"write them in one order, or pass --date-format",
                        fit_option="--date-format")
    if (first > 12).any() or (second > 12).any():
        return bool((first > 12).any())
    spread = {order: _spread(raw, order) for order in (True, False)}
    if spread[True] == spread[False]:
        return False  # both readings as regular: pandas' own, month first
    chosen = spread[True] < spread[False]
    log.warning("%s: dates such as %r read %s first, which gives the more regular series "
                "(pass --%sdayfirst to read them the other way)", where, raw.iloc[0],
                "day" if chosen else "month", "no-" if chosen else "")
    return chosen


def _spread(raw: pd.Series, dayfirst: bool) -> float:
    """How much a reading spreads the distinct times beyond a regular grid: the points a
    grid at their median step would hold over the points there are (1 when regular, 30 for
    monthly dates misread as days); a reading that fails spreads without bound."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            stamps = np.unique(pd.to_datetime(raw, dayfirst=dayfirst).to_numpy())
        except (ValueError, TypeError, OverflowError):
            return np.inf
    if len(stamps) < 3:
        return 1.0
    step = np.median(np.diff(stamps).astype(np.int64))
    return float((stamps[-1] - stamps[0]).astype(np.int64) / step + 1) / len(stamps)
