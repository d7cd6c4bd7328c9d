"""Plain CSV read by pyarrow's multi-threaded reader into the very table pandas' C reader
gives; every file it is not sure of (quotes, a decimal comma, a bad cell, text that pandas
would read otherwise) goes back to pandas, whose messages name the line."""

from __future__ import annotations

import io
from typing import BinaryIO

import pandas as pd

from forecastr.data.source import Source

try:
    import pyarrow as pa
    import pyarrow.compute as compute
    import pyarrow.csv as csv
    from pandas._libs.parsers import STR_NA_VALUES  # pandas' default NA texts
except ImportError:  # pandas reads every file
    pa = None

# below this, pandas reads as fast, and its reading is the one every message was written for
SMALLEST = 1 << 20


def arrow_frame(source: Source, skip: int, sample: str, sep: str,
                text_columns: tuple[str, ...], time_column: str | None = None
                ) -> pd.DataFrame | None:
    """The CSV's table as `pd.read_csv(sep=sep, skipinitialspace=True, skip_blank_lines=False,
    dtype=str for text_columns)` would give it (header still unstripped), or None when
    pyarrow is not installed or the file is one pandas must read.

    Each column's type is the one pandas gives the first rows (`sample`, the text from the
    header on, which `skip` blank lines precede), imposed on the rest: a later cell of
    another type stops pyarrow, so pandas reads the file and names that cell's line.
    `time_column`, when its first rows are plain ISO 8601 (2020-01-31 or 2020-01-31 13:00,
    no zone), is read as datetime64[ns]: pyarrow reads those forms only, each as
    pd.to_datetime(format="ISO8601") does, so parse_times gives what it would from the text
    (a later cell of any other form, and pyarrow reads the column as text)."""
    if pa is None or source.size < SMALLEST or source.quoted or skip:  # quotes may hide
        return None                                                    # delimiters, breaks
    head = _head(sample, sep, text_columns)
    types = None if head is None else _types(head, text_columns)
    if types is None:
        return None
    plans = [types]  # the time column as times, if its first rows are; else as text
    timed = [name for name, kind in types.items() if name.strip() == time_column
             and kind == pa.large_string() and name.strip() not in text_columns]
    if timed:
        with_times = {**types, timed[0]: pa.timestamp("ns")}
        if _read(pa.py_buffer(sample[:sample.rfind("\n") + 1].encode()), sep,
                 with_times) is not None:
            plans.insert(0, with_times)
    for plan in plans:
        with source.open() as stream:
            table = _read(_native(stream), sep, plan)
        if table is not None:
            break
    else:
        return None  # pandas reads it, and says which line is wrong
    if table.column_names != list(types) or not _as_pandas_reads(table, plan, text_columns):
        return None
    return table.to_pandas()


def _head(sample: str, sep: str, text_columns: tuple[str, ...]) -> pd.DataFrame | None:
    """pandas' reading of the whole lines of `sample`, or None when it has no data row or
    pandas cannot read it; the column names must be the header's, as written."""
    text = sample[:sample.rfind("\n") + 1]
    header = text.split("\n", 1)[0].rstrip("\r").split(sep)
    if len(set(header)) != len(header) or not all(name.strip() for name in header):
        return None  # names pandas would make up or mangle
    try:
        head = pd.read_csv(io.StringIO(text), sep=sep, skipinitialspace=True,
                           skip_blank_lines=False, low_memory=False,
                           dtype={name.lstrip(" "): "str" for name in header
                                  if name.strip() in text_columns})
    except (ValueError, pd.errors.ParserError):
        return None
    if head.empty or not isinstance(head.index, pd.RangeIndex) or len(head.columns) != len(header):
        return None
    head.columns = header  # pyarrow names the columns as written; pandas skips initial spaces
    return head


def _types(head: pd.DataFrame, text_columns: tuple[str, ...]) -> dict | None:
    """The pyarrow type of each column, from pandas' dtypes of the first rows; None when
    one is a type whose reading pandas alone knows."""
    types = {}
    for name, dtype in head.dtypes.items():
        if name.strip() in text_columns or not pd.api.types.is_numeric_dtype(dtype):
            types[name] = pa.large_string()  # what pandas' str columns hold: no cast
        elif dtype.kind in "if":  # a later 1.5 or +5 in an int64 column stops pyarrow
            types[name] = pa.int64() if dtype.kind == "i" else pa.float64()
        else:  # true/false (or unsigned) columns
            return None
    return types


def _read(data, sep: str, types: dict) -> pa.Table | None:
    """The table, or None when a cell is not of its column's type or a row is ragged."""
    try:
        return csv.read_csv(data, parse_options=csv.ParseOptions(
            delimiter=sep, quote_char=False, ignore_empty_lines=False),
            convert_options=csv.ConvertOptions(column_types=types,
                                               null_values=sorted(STR_NA_VALUES),
                                               strings_can_be_null=True))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _as_pandas_reads(table: pa.Table, types: dict, text_columns: tuple[str, ...]) -> bool:
    """Whether the text columns hold what pandas would read: no cell starting with a space
    (pandas skips initial spaces, then reads NA as a gap), no empty series id (ids such as
    NA are read again as text by parse_csv, from the file)."""
    for name, kind in types.items():
        if kind != pa.large_string():
            continue
        column = table.column(name)
        if compute.any(compute.starts_with(column, " ")).as_py():
            return False
        if name.strip() in text_columns and column.null_count:
            return False
    return True


def _native(stream: BinaryIO):
    """The stream as pyarrow reads it, past any BOM: bytes in memory without a copy, others
    (a file on disk, gzip) through Python's reads, which cost no more."""
    if isinstance(stream, io.BytesIO):
        return pa.BufferReader(pa.py_buffer(stream.getvalue())[stream.tell():])
    return stream
