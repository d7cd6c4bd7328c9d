"""CSV or Parquet (file, .gz or stdin) -> Panel: layout and column detection, numbers, time
columns, static features and the panel; every message about a malformed file. The CSV text
itself is parsed by csv_text."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from forecastr.config import FitConfig
from forecastr.data.chunks import shard_rows
from forecastr.data.csv_text import LONG_ID, LONG_TARGET, LONG_TIME, parse_csv
from forecastr.data.panel import Layout, Panel, Schema, row_owners, run_starts, shown_id
from forecastr.data.shards import BY_ID, Shard, nothing_held
from forecastr.data.source import open_source
from forecastr.data.timegrid import regularise
from forecastr.data.times import Parsed, parse_times
from forecastr.errors import DataError, out_of_memory

log = logging.getLogger(__name__)

TIME_NAMES = ("ds", "date", "time", "timestamp", "datetime", "date_time", "period", "month",
              "week", "day", "hour", "year", "quarter", "t", "step")
PARQUET = (".parquet", ".pq")
MOSTLY_FILLED = 0.5  # a larger share of filled points is warned about with its likely causes


@dataclass(frozen=True)
class Columns:
    """Which CSV column plays which part."""

    layout: Layout
    time_col: str | None
    id_col: str | None
    targets: tuple[str, ...]
    features: tuple[str, ...]
    future_features: tuple[str, ...] = ()

    @property
    def inputs(self) -> tuple[str, ...]:
        """The columns beside the targets, in channel order."""
        return self.features + self.future_features


def read_panel(source: str | Path | BinaryIO, cfg: FitConfig | None = None,
               model: str | None = None, shard: Shard | None = None) -> Panel:
    """Read a CSV of one series, wide series or long (`unique_id, ds, y`) series into a Panel.

    Args:
        source: a path (plain or gzip), "-" for stdin, or a binary file object.
        cfg: the data options (time_col, id_col, targets, features, freq, fill, duplicates,
            utc); defaults when None.
        model: the model file whose columns `cfg` names, when reading for one; a missing
            column is then the model's, not a flag's.
        shard: read only the series whose id falls to it (a long file; its rows in any
            order), never holding the others.

    Raises:
        DataError: with a one-line message naming the file, column and line of the problem.
    """
    cfg = cfg or FitConfig()
    frame, lines, name = read_frame(source, cfg, shard)
    with out_of_memory(f"reading {name} ({len(frame):,} rows)", "give a smaller file (fewer "
                       "or shorter series), or run where there is more memory"):
        return _read(frame, lines, name, cfg, model)


def read_frame(source: str | Path | BinaryIO, cfg: FitConfig, shard: Shard | None = None
               ) -> tuple[pd.DataFrame, np.ndarray, str]:
    """A CSV or Parquet file's table as pandas parsed it (series ids as written), the line
    each row starts on, and the file's name for messages; only the rows of the series that
    fall to `shard`, when given."""
    ids = (cfg.id_col or LONG_ID, *cfg.static_features)  # read as written
    if is_parquet(source):
        name = str(source)
        with out_of_memory(f"reading {name} (Parquet)", "give a smaller file"):
            frame, lines = parquet_frame(name, ids, shard)
        return frame, lines, name
    if shard is not None:
        source = shard_rows(source, ids[0], shard)
    text = open_source(source)
    with out_of_memory(f"reading {text.name} ({text.size:,} bytes of CSV)",
                       "give a smaller file (fewer or shorter series), or run where there is "
                       "more memory"):
        frame, lines = parse_csv(text, text_columns=ids, cfg=cfg)
    return frame, lines, text.name


@dataclass(frozen=True)
class Rows:
    """Some numeric columns of a file's rows as read, before they are put on a time grid."""

    ids: np.ndarray | None  # (N,) series id of each row (long files), None: every series
    times: Parsed  # (N,)
    values: np.ndarray  # (N, C) float64, NaN where a cell is empty
    lines: np.ndarray  # (N,) line of the file each row starts on
    name: str


def read_rows(source: str | Path | BinaryIO, cfg: FitConfig, columns: tuple[str, ...],
              model: str | None = None) -> Rows:
    """The `columns` (a model's future features) of every row, with their series ids and
    times read as read_panel reads them (the data options of `cfg`); the target columns need
    not be there."""
    frame, lines, name = read_frame(source, cfg)
    frame = _with_year_periods(frame, cfg.time_col, name)
    for column in columns:  # named as what they are, not as the targets they stand in for
        if column not in frame.columns:
            raise DataError(f"{name}: no column {column!r} (a future feature"
                            f"{f' of model {model}' if model else ''}); the columns are "
                            f"{', '.join(map(str, frame.columns))}")
    found = detect_columns(frame, dataclasses.replace(
        cfg, targets=columns, features=(), future_features=(), static_features=()), name,
        model)
    values = np.column_stack([to_numbers(frame[c], name, c, lines) for c in columns])
    ids = codes = None
    if found.layout == "long":
        ids = frame[found.id_col].astype(str).to_numpy()
        codes = pd.factorize(ids)[0]
    times = _times(frame, found, name, lines, cfg.utc, codes, cfg.dayfirst, cfg.date_format)
    return Rows(ids, times, values, lines, name)


def is_parquet(source: str | Path | BinaryIO) -> bool:
    """A path whose name says Parquet (.parquet, .pq); everything else is read as CSV."""
    return isinstance(source, (str, Path)) and Path(source).suffix.lower() in PARQUET


def parquet_frame(path: str, id_columns: tuple[str, ...], shard: Shard | None = None
                  ) -> tuple[pd.DataFrame, np.ndarray]:
    """A Parquet file's table, its series ids as text, and each row's number (a row of it
    counts as a line); only the rows of the series that fall to `shard`, when given."""
    rows = None
    try:
        if shard is None:
            frame = pd.read_parquet(path)
        else:
            frame, rows = _shard_of_parquet(path, id_columns[0], shard)
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow: pip install pyarrow (or, from "
                        f"a checkout of forecastr, pip install -e '.[parquet]')") from None
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; check the path") from None
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - pyarrow has many error types for damage
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable Parquet file ({detail})") from None
    frame = frame.reset_index(drop=isinstance(frame.index, pd.RangeIndex))
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in frame.columns.intersection(id_columns):
        frame[column] = frame[column].astype("string")
    if frame.empty:
        raise DataError(f"{path}: has no rows; give a table with data")
    return frame, rows if rows is not None else np.arange(1, len(frame) + 1)


def _shard_of_parquet(path: str, id_col: str, shard: Shard
                      ) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The rows of the series whose id falls to `shard`, and their numbers in the file: the
    id column is read first, then only those rows (pyarrow filters each row group as it
    reads it)."""
    import pyarrow.parquet as pq

    if id_col not in pq.read_schema(path).names:
        raise DataError(f"{path}: no column {id_col!r} (the series id); {BY_ID}")
    ids = pd.read_parquet(path, columns=[id_col])[id_col]
    held = [i for i in ids.unique() if shard.holds("" if pd.isna(i) else str(i))]
    if not held:
        raise nothing_held(path, ids.nunique(), shard)
    rows = np.flatnonzero(ids.isin(held).to_numpy()) + 1
    frame = pd.read_parquet(path, filters=[(id_col, "in", held)])
    return frame, rows if len(frame) == len(rows) else None


def _read(frame: pd.DataFrame, lines: np.ndarray, name: str, cfg: FitConfig,
          model: str | None) -> Panel:
    frame = _with_year_periods(frame, cfg.time_col, name)
    columns = detect_columns(frame, cfg, name, model)
    channels = columns.targets if columns.layout != "wide" else ("value",)
    numbers = {c: to_numbers(frame[c], name, c, lines) for c in columns.targets + columns.inputs}
    if columns.layout == "long":
        ids_raw = frame[columns.id_col]
        if ids_raw.isna().any():
            raise DataError(f"{name}, line {lines[ids_raw.isna().to_numpy().argmax()]}: "
                            f"empty series id in column {columns.id_col!r}; fill it in or "
                            f"drop the row")
        codes, ids = series_codes(ids_raw)
        static = {c: _per_series(frame[c], codes, ids, name, c, lines)
                  for c in cfg.static_features}
        arrays = [numbers[c] for c in columns.targets + columns.inputs]
        # one column is a view: a copy of every value costs its time (regularise copies)
        values = arrays[0][:, None] if len(arrays) == 1 else np.column_stack(arrays)
        row_lines = lines
    else:  # each target column is a series; features are repeated beside every one of them
        static = {}
        ids = list(columns.targets)
        codes = row_owners(np.full(len(ids), len(frame)))
        feats = [numbers[c] for c in columns.inputs]
        values = np.concatenate([np.column_stack([numbers[t], *feats]) for t in columns.targets])
        row_lines = np.tile(lines, len(ids))
    times = _times(frame, columns, name, lines, cfg.utc, codes, cfg.dayfirst, cfg.date_format)
    if columns.layout != "long":
        times = Parsed(np.tile(times.values, len(ids)), times.kind, times.tz, times.dayfirst)
    where = f"{name}: column {columns.time_col!r}" if columns.time_col else name
    grid = regularise(np.asarray(codes, np.int64), times, values, row_lines, ids, where,
                      cfg.freq, cfg.duplicates, cfg.fill, long=columns.layout == "long")
    return _to_panel(grid, ids, columns, times, channels, name, cfg.fill, static)


def series_codes(ids: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's series number and the series ids, in the order they first appear (as
    pd.factorize gives them); a series' rows usually come together, so only the first row
    of each run of one id is looked up."""
    text = ids.astype(str).array
    firsts = run_starts(text)
    # the first rows picked by a mask, which pyarrow applies chunk by chunk (taking them by
    # number would join the chunks of the whole column first)
    heads = np.zeros(len(text), dtype=bool)
    heads[firsts] = True
    # in an Index: pandas 2 warns of factorizing its numpy-backed arrays bare
    codes, uniques = pd.factorize(pd.Index(text[heads]), sort=False)
    lengths = np.diff(np.r_[firsts, len(text)])
    return np.repeat(codes, lengths), [str(u) for u in uniques.tolist()]


def detect_columns(frame: pd.DataFrame, cfg: FitConfig, name: str,
                   model: str | None = None) -> Columns:
    """Decide layout, time, id, target and feature columns from names, dtypes and flags
    (or, reading for `model`, from the columns it was fitted on)."""
    names = list(frame.columns)
    for given, role, flag in [(cfg.time_col, "time column", "--time-col"),
                              (cfg.id_col, "id column", "--id-col"),
                              *[(t, "target", "--target") for t in cfg.targets],
                              *[(f, "feature", "--features") for f in cfg.features],
                              *[(f, "future feature", "--future-features")
                                for f in cfg.future_features],
                              *[(f, "static feature", "--static-features")
                                for f in cfg.static_features]]:
        if given is not None and given not in names and model is not None:
            raise DataError(f"{name}: no column {given!r} (the {role} of model {model}); the "
                            f"columns are {', '.join(names)}; give DATA the columns the model "
                            f"was fitted on")
        if given is not None and given not in names:
            raise DataError(f"{name}: no column {given!r} (the {role}, {flag}); the columns "
                            f"are {', '.join(names)}", fit_option=flag)
    long = cfg.id_col is not None or LONG_ID in names
    id_col = cfg.id_col or (LONG_ID if long else None)
    time_col = cfg.time_col or (LONG_TIME if long and LONG_TIME in names else None)
    time_col = time_col or _guess_time_column(frame, exclude={id_col})
    taken = {id_col, time_col, *cfg.features, *cfg.future_features, *cfg.static_features}
    if cfg.targets:
        targets = cfg.targets
    elif long and LONG_TARGET in names and LONG_TARGET not in taken:
        targets = (LONG_TARGET,)
    else:
        targets = tuple(c for c in names if c not in taken and _looks_numeric(frame[c]))
        left_out = [c for c in names if c not in taken and c not in targets]
        if left_out and targets:  # a column of odd numbers must not vanish without a word
            example = frame[left_out[0]].dropna().astype(str).head(1).tolist()
            log.warning("%s: left out %d column(s) that do not hold numbers: %s (e.g. %r); "
                        "they are not forecast (--target chooses the targets)", name, len(left_out),
                        ", ".join(left_out), example[0] if example else "")
    if not targets:
        raise DataError(f"{name}: no numeric value column to forecast "
                        f"(columns: {', '.join(names)}); add one, or name it with --target",
                        fit_option="--target")
    if long and len(targets) > 1 and not cfg.targets:
        raise DataError(f"{name}: several value columns ({', '.join(targets)}); choose the one "
                        f"to forecast with --target", fit_option="--target")
    unused = [c for c in names if c not in taken and c not in targets]
    if long and unused and model is None:  # a forgotten --future-features costs accuracy
        log.warning("%s: %d column(s) not used: %s; to use them, name them with --features "
                    "(known up to each time), --future-features (known ahead too) or "
                    "--static-features (one value per series)", name, len(unused),
                    ", ".join(unused))
    layout: Layout = "long" if long else ("single" if len(targets) == 1 else "wide")
    if cfg.static_features and layout != "long":
        raise DataError(f"{name}: --static-features need a long file (unique_id, ds, y and "
                        f"the static columns, or --id-col): a {layout} file has no series "
                        f"ids to give them to", fit_option="--static-features")
    return Columns(layout, time_col, id_col, tuple(targets), tuple(cfg.features),
                   tuple(cfg.future_features))


# a year column beside a column of the quarter or month within it (statsmodels' macrodata,
# many statistics offices' files): one time column, at the start of each period
PERIODS = {"quarter": ("year_quarter", 4), "qtr": ("year_quarter", 4),
           "month": ("year_month", 12)}


def _with_year_periods(frame: pd.DataFrame, time_col: str | None, name: str) -> pd.DataFrame:
    """The frame with `year` and a `quarter` or `month` column (of whole numbers 1..4 or
    1..12) combined into one time column named `year_quarter` or `year_month`, when no other
    time column is named (or that one is, as a model fitted on such a file names it)."""
    lower = {str(c).lower(): c for c in frame.columns}
    for period, (combined, count) in PERIODS.items():
        year, part = lower.get("year"), lower.get(period)
        if year is None or part is None or time_col not in (None, combined) \
                or combined in frame.columns:
            continue
        years, parts = (pd.to_numeric(frame[c], errors="coerce") for c in (year, part))
        if years.isna().any() or parts.isna().any() or not parts.between(1, count).all() \
                or (years % 1).any() or (parts % 1).any():
            continue
        months = (parts.astype(int) - 1) * (12 // count) + 1
        stamps = pd.to_datetime({"year": years.astype(int), "month": months, "day": 1})
        log.info("%s: columns %r and %r are one time column, %r", name, year, part, combined)
        rest = frame.drop(columns=[year, part])
        rest.insert(0, combined, stamps.dt.strftime("%Y-%m-%d"))
        return rest
    return frame


def _guess_time_column(frame: pd.DataFrame, exclude: set[str | None]) -> str | None:
    candidates = [c for c in frame.columns if c not in exclude]
    for column in candidates:
        if column.lower() in TIME_NAMES:
            return column
    first = candidates[0] if candidates else None
    if first is not None and not pd.api.types.is_numeric_dtype(frame[first]):
        head = frame[first].dropna().astype(str).head(20)
        if len(head) and not _looks_numeric(head):
            parsed = pd.to_datetime(head, errors="coerce", format="mixed", utc=True)  # any tz
            if parsed.notna().all():
                return first
    return None


def _looks_numeric(column: pd.Series) -> bool:
    """Numeric dtype, or text of which most non-empty cells parse as numbers."""
    if pd.api.types.is_bool_dtype(column):
        return False
    if pd.api.types.is_numeric_dtype(column):
        return True
    present = column.dropna().astype(str).str.strip()
    present = present[present != ""]
    return not present.empty and pd.to_numeric(present, errors="coerce").notna().mean() > 0.5


def to_numbers(column: pd.Series, name: str, col: str, lines: np.ndarray) -> np.ndarray:
    """float64 values of a value column; text cells and infinities are errors naming the line."""
    if pd.api.types.is_bool_dtype(column):
        raise DataError(f"{name}: column {col!r} holds true/false values, not numbers; "
                        f"write them as 1 and 0")
    if pd.api.types.is_numeric_dtype(column):
        numbers = column.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        text = column.astype("string").str.strip()
        text = text.mask(text == "")
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(numbers) & text.notna().to_numpy()
        if bad.any():
            i = int(bad.argmax())
            raise DataError(f"{name}, line {lines[i]}: column {col!r} holds {text.iloc[i]!r}, "
                            f"not a number; fix the cell, or empty it to fill it as a gap")
    limit = np.finfo(np.float32).max
    infinite = (numbers > limit) | (numbers < -limit)  # infinities too
    if infinite.any():
        i = int(infinite.argmax())
        raise DataError(f"{name}, line {lines[i]}: column {col!r} holds an infinite or "
                        f"too-large value ({numbers[i]}); fix the cell, or empty it to fill "
                        f"it as a gap")
    return numbers


def _times(frame: pd.DataFrame, columns: Columns, name: str, lines: np.ndarray, utc: bool,
           codes: np.ndarray, dayfirst: bool | None = None, date_format: str | None = None
           ) -> Parsed:
    if columns.time_col is None:  # no time column: row order is time, in plain steps
        rank = pd.Series(codes).groupby(codes).cumcount() if columns.layout == "long" else (
            np.arange(len(frame)))
        return Parsed(np.asarray(rank, dtype=np.int64), "integer", None)
    return parse_times(frame[columns.time_col], f"{name}: column {columns.time_col!r}", lines,
                       utc, dayfirst, date_format)


def _per_series(column: pd.Series, codes: np.ndarray, ids: list[str], name: str, col: str,
                lines: np.ndarray) -> np.ndarray:
    """(S,) object: the one value of a static column in each series' rows (None where all
    are empty); a series with two different values is an error naming both."""
    text = column.astype("string").str.strip()
    text = text.mask(text == "")
    present = text.notna().to_numpy()
    pairs = pd.DataFrame({"code": codes[present], "value": text[present].to_numpy()})
    firsts = pairs.drop_duplicates()
    if firsts["code"].duplicated().any():
        second = firsts.index[firsts["code"].duplicated()][0]
        code = firsts.loc[second, "code"]
        first = firsts[firsts["code"] == code].iloc[0]["value"]
        row = np.flatnonzero(present)[second]
        raise DataError(f"{name}, line {lines[row]}: static column {col!r} holds "
                        f"{firsts.loc[second, 'value']!r} for series {shown_id(ids[code])}, which "
                        f"holds {first!r} elsewhere; a static feature has one value per series")
    values = np.full(len(ids), None, dtype=object)
    values[firsts["code"].to_numpy()] = firsts["value"].to_numpy()
    return values


def _to_panel(grid, ids: list[str], columns: Columns, times: Parsed,
              channels: tuple[str, ...], name: str, fill: str,
              static: dict[str, np.ndarray]) -> Panel:
    firsts = grid.starts  # of the series left after trimming empty ones
    present = grid.codes[firsts]
    empty = [ids[c] for c in np.setdiff1d(np.arange(len(ids)), present)]
    if empty and len(empty) == len(ids):
        raise DataError(f"{name}: no values in {', '.join(repr(c) for c in columns.targets)} "
                        f"(every cell is empty); check the file")
    for series in empty:
        log.warning("%s: series %s has no values and is left out", name, shown_id(series))
    filled = grid.filled[present]
    counts = np.diff(np.r_[firsts, len(grid.codes)])
    if filled.sum():
        share = filled.sum() / max(counts.sum(), 1)
        # most of a series made up is rarely what the file meant: say the likely causes
        cause = (f"; {share:.0%} of the points are made up: are the times read right (day "
                 f"first? --dayfirst, --date-format) and is the frequency right (--freq)?"
                 if share > MOSTLY_FILLED else "")
        log.warning("%s: filled %d missing point(s) in %d series (--fill %s)%s", name,
                    int(filled.sum()), int((filled > 0).sum()), fill, cause)
    schema = Schema(layout=columns.layout, time_col=columns.time_col, time_kind=(
        times.kind if columns.time_col else "none"), freq=grid.freq, step=grid.step,
        tz=times.tz, id_col=columns.id_col, targets=columns.targets, features=columns.features,
        channels=channels + columns.inputs, future_features=columns.future_features,
        static_features=tuple(static))
    return Panel(values=grid.values.astype(np.float64, copy=False), times=grid.times,
                 indptr=np.r_[0, np.cumsum(counts)].astype(np.int64),
                 ids=tuple(ids[c] for c in present), schema=schema,
                 filled=filled.astype(np.int64), source=name, empty=tuple(empty),
                 static={c: values[present] for c, values in static.items()},
                 dayfirst=times.dayfirst)
