"""The time axis of a panel: infer the frequency, put every series on a regular grid,
resolve duplicate timestamps, and fill or trim missing values (times.py parses them)."""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecastr.data.panel import row_offsets, row_owners, run_starts, shown_id
from forecastr.data.times import DATE_RANGE, Parsed
from forecastr.errors import DataError, UnknownFrequency

log = logging.getLogger(__name__)

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


@dataclass(frozen=True)
class Grid:
    """Rows of a panel after regularisation, sorted by series then time, gaps filled."""

    codes: np.ndarray  # (T,) int64 series code
    times: np.ndarray  # (T,) datetime64[ns] or int64
    values: np.ndarray  # (T, C) float64
    filled: np.ndarray  # (S,) int64 rows filled per series code
    freq: str | None
    step: int
    starts: np.ndarray  # (S_left,) int64: the row where each series left begins


def regularise(codes: np.ndarray, times: Parsed, values: np.ndarray, lines: np.ndarray,
               ids: list[str], where: str, freq: str | None, duplicates: str,
               fill: str, long: bool = False) -> Grid:
    """Sort rows, resolve duplicates, align each series to one grid and fill its gaps;
    `long`: the series come from an id column (so one series is no hint of a missing one)."""
    if freq is not None and times.kind != "datetime":
        raise DataError(f"{where}: --freq applies to date/time columns, not to integer steps "
                        f"or row order", fit_option="--freq")
    try:
        stamps = times.values if freq is None else floor_to(times.values, freq, where)
        firsts = run_starts(codes)
        if not _sorted(codes, stamps, firsts):  # files are usually in order; sorting costs
            order = np.lexsort((stamps, codes))  # more (stable: duplicates keep their order)
            codes, stamps, values, lines = (codes[order], stamps[order], values[order],
                                            lines[order])
            # (rows in order, each later than the one before, have no duplicates)
            codes, stamps, values = _resolve_duplicates(codes, stamps, values, lines, ids,
                                                        where, duplicates, long)
            firsts = run_starts(codes)
        if times.kind == "datetime" and freq is None:  # inferring puts the rows on its grid
            freq, positions = _infer_freq(codes, stamps, firsts, ids, where)
            step = 1
        elif times.kind == "datetime":
            positions, step = _grid_positions(stamps, firsts, codes, freq, ids, where), 1
        else:
            step = _integer_step(stamps, codes)
            positions = (stamps - stamps[firsts][_owners(firsts, len(codes))]) // step
        return _expand_and_fill(codes, stamps, values, positions, firsts, freq, step, ids,
                                where, fill)
    except (pd.errors.OutOfBoundsDatetime, OverflowError):
        raise DataError(f"{where}: the time grid runs past the dates pandas supports "
                        f"{DATE_RANGE}, or one series spans centuries at a fine step; check "
                        f"the time column") from None


def _sorted(codes: np.ndarray, stamps: np.ndarray, firsts: np.ndarray) -> bool:
    """True when rows are ordered by series, then strictly by time (no duplicates either):
    each series one run of rows (`firsts`: where the runs of one code begin), the runs in
    ascending order, the times of each run increasing."""
    if (np.diff(codes[firsts]) <= 0).any():
        return False
    later = stamps[1:] > stamps[:-1]
    later[firsts[1:] - 1] = True  # a series' first row may be earlier than the last one's
    return bool(later.all())


def fixed_step(offset: pd.DateOffset) -> int | None:
    """The step of a frequency in nanoseconds when every step has the same length (hours,
    minutes, days on naive timestamps), None for calendar steps (weeks, months, business
    days). pandas 3 no longer counts Day as a fixed `Tick`, so it is recognised by name."""
    if isinstance(offset, pd.offsets.Tick):
        return int(offset.nanos)
    if type(offset) is pd.offsets.Day:
        return int(offset.n) * 86_400 * 10**9
    return None


def floor_to(stamps: np.ndarray, freq: str, where: str) -> np.ndarray:
    offset = _offset(freq, where)
    index = pd.DatetimeIndex(stamps)
    if (step := fixed_step(offset)) is not None:
        return index.floor(pd.Timedelta(step, "ns")).to_numpy()
    start = offset.rollback(index.min().as_unit("us").normalize())  # ns would overflow at 1677
    grid = pd.date_range(start, index.max(), freq=offset).as_unit("ns").to_numpy()
    return grid[np.searchsorted(grid, stamps, side="right") - 1]


def _offset(freq: str, where: str) -> pd.DateOffset:
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        offset = None
    if offset is None or offset.n <= 0:  # a zero or negative step never reaches the next row
        raise DataError(f"{where}: --freq {freq!r} is not a pandas frequency alias with a "
                        f"positive step (examples: D, h, 15min, W-SUN, MS, QS)",
                        fit_option="--freq")
    return offset


def _resolve_duplicates(codes, stamps, values, lines, ids, where, policy, long):
    same = (codes[1:] == codes[:-1]) & (stamps[1:] == stamps[:-1])
    if not same.any():
        return codes, stamps, values
    if policy == "error":
        i = int(np.argmax(same))
        when = pd.Timestamp(stamps[i]) if stamps.dtype.kind == "M" else stamps[i]
        hint = "" if len(ids) > 1 or long else " (a long file? name its id column with --id-col)"
        raise DataError(f"{where}, lines {lines[i]} and {lines[i + 1]}: series "
                        f"{shown_id(ids[codes[i]])} has two rows at {when}; pass "
                        f"--duplicates first|last|mean|sum{hint}",
                        fit_option="--duplicates")
    frame = pd.DataFrame(values)
    frame["code"], frame["time"] = codes, stamps
    groups = frame.groupby(["code", "time"], sort=True)
    # min_count: a sum of empty cells stays empty (pandas makes it 0) and is filled later
    merged = groups.sum(min_count=1) if policy == "sum" else groups.agg(policy)
    log.warning("%s: combined %d rows that share a timestamp (--duplicates %s)",
                where, int(same.sum()), policy)
    return (merged.index.get_level_values(0).to_numpy(np.int64),
            merged.index.get_level_values(1).to_numpy(), merged.to_numpy(np.float64))


def _pandas_freq(index: pd.DatetimeIndex) -> str | None:
    """pandas.infer_freq as an alias string (pandas 4 is to return an offset object)."""
    if len(index) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = pd.infer_freq(index)
    return getattr(found, "freqstr", found)


def _infer_freq(codes, stamps, firsts, ids, where) -> tuple[str, np.ndarray | None]:
    """Vote over per-series pandas.infer_freq, then keep the first candidate that fits all;
    return it with the rows' positions on its grid (_grid_positions)."""
    bounds = np.r_[firsts, len(codes)]
    votes: Counter[str] = Counter()
    cast: dict[bytes, Counter[str]] = {}  # series with the same times vote alike: ask once
    for s in range(min(len(firsts), 200)):
        run = stamps[bounds[s]:bounds[s + 1]]
        if (key := run.tobytes()) not in cast:
            cast[key] = _votes(pd.DatetimeIndex(run))
        votes.update(cast[key])
    voted = [candidate for candidate, _ in votes.most_common()]
    for rank, candidate in enumerate(_candidates(voted, codes, stamps)):
        try:
            positions = _grid_positions(stamps, firsts, codes, candidate, ids, where)
        except DataError:
            continue
        spans = np.diff(bounds) if positions is None else (
            positions[bounds[1:] - 1] - positions[firsts] + 1)
        if rank < len(voted) or spans.sum() <= 2 * len(stamps):  # guesses: at most half filled
            return candidate, positions
    longest = int(np.argmax(np.diff(bounds)))
    raise UnknownFrequency(f"{where}: cannot infer a regular frequency from the timestamps "
                           f"(series {shown_id(ids[codes[bounds[longest]]])} has "
                           f"{np.diff(bounds)[longest]} points); pass --freq, e.g. "
                           f"{_suggested_freq(codes, stamps)}", fit_option="--freq")


# calendar frequencies whose steps vary in length: the range of a step, in days, and the
# frequency a typical step in that range suggests
_CALENDAR_STEPS = (((27, 32), "MS"), ((88, 93), "QS"), ((364, 367), "YS"))


def _suggested_freq(codes: np.ndarray, stamps: np.ndarray) -> str:
    """A --freq to suggest for times that fit no grid, from their typical step: a calendar
    frequency where the step is about a month, quarter or year (dates on the 5th of each
    month, floored onto month starts), else that step itself (times a few seconds off)."""
    diffs = _steps(codes, stamps)
    diffs = diffs[diffs > 0]
    if not len(diffs):
        return "--freq D"
    typical = pd.Timedelta(int(np.median(diffs)), "ns")
    for (shortest, longest), freq in _CALENDAR_STEPS:
        if pd.Timedelta(days=shortest) <= typical <= pd.Timedelta(days=longest):
            return f"--freq {freq} (the typical step is {typical.days} days; --freq floors " \
                   f"each time onto its grid)"
    rounded = [near for unit in ("D", "h", "min", "s") if (near := typical.round(unit))
               and abs(typical - near) <= near / 50]  # within 2% of whole units
    step = pd.tseries.frequencies.to_offset(rounded[0] if rounded else typical).freqstr
    return f"--freq {step} (the typical step; --freq floors each time onto its grid)"


def _votes(run: pd.DatetimeIndex) -> Counter[str]:
    """One series' votes: 10 for the frequency pandas finds in the whole of it, else 1 for
    each found in runs of three (the fewest pandas needs), which find the step between
    its gaps."""
    found = _pandas_freq(run)
    if found:
        return Counter({found: 10})
    votes: Counter[str] = Counter()
    for lo in np.linspace(0, max(len(run) - 3, 0), num=min(12, len(run)), dtype=int):
        found = _pandas_freq(run[lo:lo + 3])
        if found:
            votes[found] += 1
    return votes


def _candidates(voted: list[str], codes: np.ndarray, stamps: np.ndarray) -> Iterator[str]:
    yield from voted
    yield from _fallback_freqs(codes, stamps)  # worked out only when no voted one fits


def _fallback_freqs(codes: np.ndarray, stamps: np.ndarray) -> list[str]:
    """Candidates for series too short or gappy for pandas (two points, gaps everywhere):
    calendar steps anchored on the first timestamp, coarsest first, then the largest fixed
    step dividing every difference."""
    diffs = _steps(codes, stamps)
    if not len(diffs) or diffs.min() <= 0:  # <= 0: int64 wrapped, rows centuries apart
        return []
    first = pd.Timestamp(stamps[0])
    m = first.month - 1
    calendar = [f"YS-{MONTHS[m]}", f"YE-{MONTHS[m]}", f"QS-{MONTHS[m % 3]}",
                f"QE-{MONTHS[9 + m % 3]}", "MS", "ME", f"W-{DAYS[first.weekday()]}"]
    step = pd.Timedelta(int(np.gcd.reduce(diffs)), "ns")
    if step != pd.Timedelta(days=step.days):
        return [*calendar, pd.tseries.frequencies.to_offset(step).freqstr]
    return [*calendar, "D" if step.days == 1 else f"{step.days}D"]


def _steps(codes: np.ndarray, stamps: np.ndarray) -> np.ndarray:
    """The nanoseconds between consecutive rows of the same series."""
    return np.diff(stamps.view(np.int64))[np.diff(codes) == 0]


def _grid_positions(stamps, firsts, codes, freq, ids, where) -> np.ndarray | None:
    """Integer position of every timestamp on the grid of `freq` (from its series' first),
    or None when every series is complete on it (a series' row i at position i, as in most
    files: then no position is worked out); off-grid is an error."""
    offset = _offset(freq, where)
    if (step := fixed_step(offset)) is not None:
        # in int64 nanoseconds: numpy's divmod of timedelta64 is several times slower
        nanos = stamps.astype("datetime64[ns]", copy=False).view(np.int64)
        following = np.diff(nanos) == step
        following[firsts[1:] - 1] = True  # a series' first row follows another series
        if following.all():
            return None
        since = np.repeat(nanos[firsts], np.diff(np.r_[firsts, len(stamps)]))
        np.subtract(nanos, since, out=since)  # in place: each array of these is 8 bytes a row
        if since.min(initial=0) < 0:
            raise OverflowError("int64 nanoseconds wrapped: rows centuries apart")
        positions, rest = np.divmod(since, step, out=(None, since))
        off = rest != 0
    else:
        positions = _anchored_grid(stamps, offset).get_indexer(
            pd.DatetimeIndex(stamps)).astype(np.int64)
        off = positions < 0
    if off.any():
        i = int(np.argmax(off))
        raise DataError(f"{where}: series {shown_id(ids[codes[i]])} has a timestamp "
                        f"({pd.Timestamp(stamps[i])}) off the {freq} grid; pass --freq to "
                        f"floor timestamps onto a grid", fit_option="--freq")
    return positions


def _owners(firsts: np.ndarray, n_rows: int) -> np.ndarray:
    """Series number of each of the sorted rows, from each series' first row."""
    return row_owners(np.diff(np.r_[firsts, n_rows]))


def _anchored_grid(stamps: np.ndarray, offset: pd.DateOffset) -> pd.DatetimeIndex:
    """The calendar grid of a non-fixed offset (MS, W-SUN, ...) over all the timestamps."""
    return pd.date_range(offset.rollback(pd.Timestamp(stamps.min())), stamps.max(),
                         freq=offset)


def _integer_step(stamps: np.ndarray, codes: np.ndarray) -> int:
    diffs = np.diff(stamps)[np.diff(codes) == 0]
    step = int(np.gcd.reduce(diffs)) if len(diffs) else 0
    return step if step > 0 else 1


def _expand_and_fill(codes, stamps, values, positions, firsts, freq, step, ids, where,
                     fill) -> Grid:
    """Scatter rows onto each series' full grid, trim NaN edges, then fill interior gaps."""
    bounds = np.r_[firsts, len(codes)]
    rows = np.diff(bounds)
    # (S_present,) grid steps each series spans; positions None: every series complete
    spans = rows if positions is None else positions[bounds[1:] - 1] - positions[firsts] + 1
    sparse = spans > 100 * rows + 100_000  # a grid this empty is a wrong time column, not gaps
    if sparse.any():
        s = int(np.argmax(sparse))
        raise DataError(f"{where}: series {shown_id(ids[codes[firsts[s]]])} has {rows[s]} rows "
                        f"spread over {spans[s]} steps of {freq or step}; check the time column")
    indptr = np.r_[0, np.cumsum(spans)]
    offset = pd.tseries.frequencies.to_offset(freq) if freq else None
    if (spans == rows).all():  # no missing rows: every row is on the grid already
        # a copy, since gaps in cells are filled in place
        full, new_codes, new_times = values.astype(np.float64), codes, stamps
    else:
        full, new_codes, new_times = _scatter(codes, stamps, values, positions, bounds, spans,
                                              indptr, offset, step)
    filled = np.zeros(len(ids), dtype=np.int64)
    gappy = np.logical_or.reduceat(np.isnan(full).any(axis=1), indptr[:-1])  # (S_present,)
    if not gappy.any():  # the usual file: nothing to fill or trim
        return Grid(new_codes, new_times, full, filled, freq, step, indptr[:-1])
    keep = np.ones(len(full), dtype=bool)
    for s in np.flatnonzero(gappy):
        lo, hi = indptr[s], indptr[s + 1]
        keep[lo:hi], count = _fill_series(full[lo:hi], fill, ids[codes[firsts[s]]], where,
                                          new_times[lo:hi])
        filled[codes[firsts[s]]] = count
    if keep.all():
        return Grid(new_codes, new_times, full, filled, freq, step, indptr[:-1])
    kept = new_codes[keep]  # a series may be left out whole
    return Grid(kept, new_times[keep], full[keep], filled, freq, step, run_starts(kept))


def _scatter(codes, stamps, values, positions, bounds, spans, indptr, offset, step):
    """Rows placed on each series' full grid, missing rows as NaN: values, codes, times."""
    firsts, start_pos = bounds[:-1], positions[bounds[:-1]]
    series_of_row = row_owners(np.diff(bounds))
    dest = indptr[series_of_row] + positions - start_pos[series_of_row]
    full = np.full((indptr[-1], values.shape[1]), np.nan)
    full[dest] = values
    new_codes = np.repeat(codes[firsts], spans)
    offsets = row_offsets(spans)
    if offset is None:
        new_times = np.repeat(stamps[firsts], spans) + offsets * step
    elif (fixed := fixed_step(offset)) is not None:
        new_times = np.repeat(stamps[firsts], spans) + offsets * np.timedelta64(fixed, "ns")
    else:
        grid = _anchored_grid(stamps, offset).to_numpy()  # the grid the positions index
        new_times = grid[np.repeat(start_pos, spans) + offsets]
    return full, new_codes, new_times


def _fill_series(block: np.ndarray, fill: str, series: str, where: str,
                 times: np.ndarray) -> tuple[np.ndarray, int]:
    """Fill one series in place; return the rows kept (NaN edges trimmed) and rows filled."""
    observed = ~np.isnan(block).any(axis=1)
    keep = np.zeros(len(block), dtype=bool)
    if not observed.any():
        return keep, 0
    first, last = np.argmax(observed), len(observed) - 1 - np.argmax(observed[::-1])
    keep[first:last + 1] = True
    inner = block[first:last + 1]
    gaps = int((~observed[first:last + 1]).sum())
    if gaps == 0:
        return keep, 0
    if fill == "error":
        at = times[first + int(np.argmax(~observed[first:last + 1]))]
        when = pd.Timestamp(at) if np.asarray(at).dtype.kind == "M" else at
        raise DataError(f"{where}: series {shown_id(series)} has {gaps} missing point(s), the "
                        f"first at {when}; choose --fill linear, ffill or zero",
                        fit_option="--fill")
    steps = np.arange(len(inner))
    for c in range(inner.shape[1]):
        column = inner[:, c]
        hole = np.isnan(column)
        if fill == "linear":  # a column cannot be all holes: the edge rows are complete
            column[hole] = np.interp(steps[hole], steps[~hole], column[~hole])
        elif fill == "ffill":
            column[:] = pd.Series(column).ffill().to_numpy()
        else:
            column[hole] = 0.0
    return keep, gaps
