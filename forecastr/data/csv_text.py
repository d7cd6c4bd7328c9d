"""CSV text as pandas reads it, read the one way for every caller (whole files, chunks
and shards): blank lines above the header, the delimiter and decimal mark sniffed, the line
each record starts on, numbers with thousands separators, and pandas' tokenizer errors as
one line that names the file's line."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from forecastr.config import FitConfig
from forecastr.data.arrow_csv import arrow_frame
from forecastr.data.source import Source
from forecastr.errors import DataError

# the column names of the long layout (Nixtla's convention)
LONG_ID, LONG_TIME, LONG_TARGET = "unique_id", "ds", "y"


def decimal_mark(sep: str, sample: str) -> str:
    """The decimal mark of a CSV whose text from the header on begins with `sample`: a comma
    in a semicolon file whose numbers show one, else a point."""
    return "," if sep == ";" and re.search(r"\d,\d", sample) else "."


def parse_csv(source: Source, text_columns: tuple[str, ...] = (), cfg: FitConfig | None = None
              ) -> tuple[pd.DataFrame, np.ndarray]:
    """Parse CSV text with a sniffed delimiter; return the data rows (blank lines dropped) and
    the line of the file each row starts on (the header is line 1 after any blank lines).
    `text_columns` (series ids) are read as written: 007 is no number and NA no gap. With
    the data options `cfg`, the time column may come as datetime64 (parse_times reads it
    the same), where pyarrow reads it as plain ISO 8601 (arrow_csv)."""
    name = source.name
    if source.blank:
        raise DataError(f"{name}: file is empty; give a CSV with a header line and data rows")
    skip, sample = above_header(source.sample)
    sep = sniff_delimiter(sample)
    header = _header(name, sample, sep)
    decimal = source.decimal or decimal_mark(sep, sample)
    # starts[r]: line of record r (0-based, header included)
    starts = _record_lines(source, sep) if source.quoted else None
    options = dict(sep=sep, skip_blank_lines=False, skipinitialspace=True, skiprows=skip,
                   encoding="utf-8")
    ids = [c.lstrip() for c in header if c.strip() in text_columns]  # as pandas names them
    # pyarrow, where installed, reads a plain file on every core into the same table
    frame = arrow_frame(source, skip, sample, sep, text_columns, _time_column(
        cfg, [c.strip() for c in header])) if decimal == "." else None
    if frame is None:
        frame = _pandas_frame(source, decimal, ids, starts, options)
    lines = _row_lines(source, starts, skip, len(frame))
    if not isinstance(frame.index, pd.RangeIndex):  # pandas took the first column as index
        raise DataError(f"{name}, line {lines[0]}: one field more than the header names; add "
                        f"the missing column name or drop the trailing delimiter")
    for column in frame.columns.intersection(ids):  # ids such as NA or None are names, not gaps
        if frame[column].isna().any():
            with source.open() as stream:
                frame[column] = pd.read_csv(stream, usecols=[column], dtype="str",
                                            keep_default_na=False, na_values=[""],
                                            **options)[column]
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in frame.columns.difference([c.strip() for c in ids]):
        if frame[column].dtype.kind not in "biufcmM":  # text (times read by pyarrow are not)
            grouped = _grouped_numbers(frame[column], decimal)
            if grouped is not None:
                frame[column] = grouped
    return _without_blank_rows(frame, lines, name)


def _header(name: str, sample: str, sep: str) -> list[str]:
    """The header's column names as written; a name given twice is a DataError."""
    try:
        header = next(csv.reader(io.StringIO(sample, newline=""), delimiter=sep))
    except csv.Error:  # pandas reports it when it reads the file
        header = []
    names = Counter(c.strip() for c in header if c.strip())  # pandas names empty ones itself
    if twice := [c for c, count in names.items() if count > 1]:
        raise DataError(f"{name}: duplicate column name {twice[0]!r} in the header; rename "
                        f"one of them")
    return header


def _pandas_frame(source: Source, decimal: str, ids: list[str], starts: np.ndarray | None,
                  options: dict[str, Any]) -> pd.DataFrame:
    """The file read by pandas, its bytes streamed: pandas' C tokenizer reads them twice as
    fast as text; its errors as one line naming the file's line."""
    try:
        with source.open() as stream:
            return pd.read_csv(stream, decimal=decimal, low_memory=False,
                               dtype=dict.fromkeys(ids, "str"), **options)
    except pd.errors.EmptyDataError:
        raise DataError(f"{source.name}: file is empty; give a CSV with a header line and data "
                        f"rows") from None
    except pd.errors.ParserError as exc:
        raise parser_error(exc, source.name, starts) from None


def _row_lines(source: Source, starts: np.ndarray | None, skip: int, rows: int) -> np.ndarray:
    """The line of the file each of `rows` data rows starts on."""
    if source.lines is not None and len(source.lines) == rows:  # an excerpt of a file
        return source.lines
    if starts is not None and len(starts) == skip + 1 + rows:  # else csv and pandas differ
        return starts[skip + 1:]
    return np.arange(skip + 2, skip + 2 + rows)


def _without_blank_rows(frame: pd.DataFrame, lines: np.ndarray, name: str
                        ) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows that hold any value, and their lines; no such row is a DataError."""
    numeric = frame.select_dtypes("number")  # a row with a number is no blank line; checking
    # those first spares the slow isna of text columns in the usual case
    if numeric.shape[1] and numeric.notna().to_numpy().any(axis=1).all():
        return frame, lines
    keep = frame.notna().any(axis=1).to_numpy()
    if not keep.any():
        raise DataError(f"{name}: has a header but no data rows; add the data below it")
    return (frame, lines) if keep.all() else (frame[keep], lines[keep])


def _time_column(cfg: FitConfig | None, names: list[str]) -> str | None:
    """The column detect_columns is sure to take as the time column (the one named, or ds
    in a long file), when parse_times would read it as ISO 8601 first (no --date-format)."""
    if cfg is None or cfg.date_format is not None:
        return None
    long = cfg.id_col is not None or LONG_ID in names
    return cfg.time_col or (LONG_TIME if long and LONG_TIME in names else None)


# numbers written with thousands separators, strictly in groups of three digits: 2,710.349
# with a decimal point, 2.710,349 with a decimal comma (never 1,5 or a date like 01.02.2020)
GROUPED = {".": re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?|[+-]?\d+(\.\d+)?"),
           ",": re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?|[+-]?\d+(,\d+)?")}


def above_header(sample: str) -> tuple[int, str]:
    """How many blank lines come before the header, and the text from the header on."""
    blank = re.match(r"(?:[ \t]*(?:\r\n|\r|\n))*", sample)
    return blank[0].count("\n") or blank[0].count("\r"), sample[blank.end():]


def _grouped_numbers(column: pd.Series, decimal: str) -> pd.Series | None:
    """A text column whose every cell is a number with thousands separators (or none), for
    the file's decimal mark, as float64; None when it is anything else."""
    head = column.dropna().head(100).astype("string").str.strip()  # text columns (times,
    if not head[head != ""].str.fullmatch(GROUPED[decimal]).all():  # names) end here, cheaply
        return None
    text = column.astype("string").str.strip()
    present = text.dropna()
    present = present[present != ""]
    separator = "," if decimal == "." else "."
    if present.empty or not present.str.contains(separator, regex=False).any() or \
            not present.str.fullmatch(GROUPED[decimal]).all():
        return None
    plain = text.str.replace(separator, "", regex=False).str.replace(decimal, ".", regex=False)
    return pd.to_numeric(plain.mask(plain == ""), errors="coerce").astype("float64")


def _record_lines(source: Source, sep: str) -> np.ndarray | None:
    """The line each CSV record starts on, where quoted fields may hold line breaks (read as
    a stream); None when the csv module cannot read the file (pandas then reports it)."""
    with io.TextIOWrapper(source.open(), encoding="utf-8", newline="") as text:
        reader, starts = csv.reader(text, delimiter=sep), [1]
        try:
            for _ in reader:
                starts.append(reader.line_num + 1)
        except csv.Error:  # a file pandas reads anyway; keep the plain count
            return None
    return np.asarray(starts[:-1])


def parser_error(exc: Exception, name: str, starts: np.ndarray | None) -> DataError:
    """pandas' tokenizer error as one line; it counts records, not lines (a quoted field may
    span lines), so its numbers go through `starts`."""
    detail = str(exc).strip().splitlines()[-1].replace("Error tokenizing data. C error: ", "")
    ragged = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", detail)
    unclosed = re.search(r"EOF inside string starting at row (\d+)", detail)
    record = int(ragged[2]) - 1 if ragged else int(unclosed[1]) if unclosed else -1
    line = int(starts[record]) if starts is not None and record < len(starts) else record + 1
    if ragged:
        return DataError(f"{name}, line {line}: {ragged[3]} fields, but the header names "
                         f"{ragged[1]} columns; fix that row or the header")
    if unclosed:
        return DataError(f"{name}, line {line}: a quoted field is never closed; add the "
                         f"closing quote")
    return DataError(f"{name}: malformed CSV: {detail}; check its delimiters and quotes")


def sniff_delimiter(sample: str) -> str:
    """Comma, semicolon, tab or pipe, whichever splits the first lines consistently."""
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    best, best_count = ",", 0
    for sep in (",", ";", "\t", "|"):
        counts = {line.count(sep) for line in lines[:-1] or lines}
        if len(counts) == 1 and (count := counts.pop()) > best_count:
            best, best_count = sep, count
    return best
