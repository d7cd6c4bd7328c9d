"""A long CSV read a few whole series at a time, so that predicting over more series than fit
in memory holds one chunk at a time. The rows of each series must be together (the file
grouped by id, as most exports and `sort` leave it); a series that comes back after another
one is an error, never a forecast of part of its history. Or read for the series of one
shard only, in any row order (each process of `fit --shard-series`).

Each chunk (or shard) is CSV text again (the header and the rows as written), so that it is
read by the reader exactly as a whole file is, and it remembers the file's line of each row
for messages."""

from __future__ import annotations

import contextlib
import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from forecastr.data.csv_text import above_header, decimal_mark, parser_error, sniff_delimiter
from forecastr.data.panel import shown_id
from forecastr.data.shards import BY_ID, Shard, nothing_held
from forecastr.data.source import FIRST_BLOCK, GZIP_MAGIC, Excerpt, gzip_damaged, opened
from forecastr.errors import DataError

ROWS_PER_READ = 100_000  # rows pandas parses at a time, whatever the chunk's size


def series_chunks(source: str | Path | BinaryIO, id_col: str, per_chunk: int,
                  keep: Callable[[str], bool] | None = None) -> Iterator[Excerpt]:
    """CSV excerpts of `source` holding `per_chunk` whole series each (the last fewer), in the
    file's order; `keep` chooses series by id (the others are passed over unread).

    Raises:
        DataError: no `id_col` column, or a series whose rows are not together.
    """
    with _csv_bytes(source) as (name, stream):
        yield from _chunks(stream, name, id_col, per_chunk, keep)


@contextlib.contextmanager
def _csv_bytes(source: str | Path | BinaryIO) -> Iterator[tuple[str, io.BufferedReader]]:
    """The name of `source` and a peekable stream of its CSV bytes, gzip or not; damaged
    gzip data, wherever it is met within, is a one-line error."""
    with opened(source) as (name, stored):
        try:
            raw = io.BufferedReader(stored, FIRST_BLOCK) if not hasattr(stored, "peek") \
                else stored
            if raw.peek(2)[:2] == GZIP_MAGIC:
                raw = io.BufferedReader(gzip.GzipFile(fileobj=raw), FIRST_BLOCK)
            yield name, raw
        except (EOFError, zlib.error, gzip.BadGzipFile):
            raise gzip_damaged(name) from None


def shard_rows(source: str | Path | BinaryIO, id_col: str, shard: Shard) -> Excerpt:
    """The rows of the series of `source` whose id falls to `shard`, in the file's order
    (which need not be grouped by id), as one CSV excerpt: what one process of a
    `fit --shard-series` run reads, without ever holding the other series.

    Raises:
        DataError: no `id_col` column, or no series at all falls to the shard.
    """
    with _csv_bytes(source) as (name, stream):
        return _shard_rows(stream, name, id_col, shard)


def _shard_rows(stream: io.BufferedReader, name: str, id_col: str, shard: Shard) -> Excerpt:
    held: dict[str, bool] = {}  # id -> whether it falls to the shard, hashed once per id
    excerpt, lines = Excerpt(b"", name, np.zeros(0, np.int64)), []
    for rows, sep, decimal in _row_reads(stream, name):
        excerpt.decimal = decimal
        ids = _reader_ids(rows[_id_column(rows, name, id_col, BY_ID)])
        for series_id in ids.unique():
            if series_id not in held:  # an empty id too: its process's reader names its line
                held[series_id] = shard.holds(series_id)
        kept = rows[ids.map(held).to_numpy(dtype=bool)]
        if len(kept):  # written as it comes: the shard's text is held once, as bytes
            excerpt.write(kept.drop(columns="_line").to_csv(
                index=False, header=not lines, sep=sep, lineterminator="\n").encode("utf-8"))
            lines.append(kept["_line"].to_numpy())
    if not lines:
        raise nothing_held(name, len(held), shard)
    excerpt.lines = np.concatenate(lines)
    excerpt.seek(0)
    return excerpt


def _row_reads(stream: io.BufferedReader, name: str
               ) -> Iterator[tuple[pd.DataFrame, str, str]]:
    """The file's rows as written, every field text, a read at a time, each row with the
    file's line (`_line`) and blank lines left out; and the file's delimiter and decimal
    mark, decided on its first block as a whole file's are (a chunk's own rows could decide
    otherwise: 2.500 is 2500 in a file of decimal commas)."""
    sample = stream.peek(FIRST_BLOCK).decode("utf-8-sig", errors="replace")
    skip, header = above_header(sample)
    sep = sniff_delimiter(header)
    decimal = decimal_mark(sep, header)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        # blank lines kept as rows, so that row r is line r + 2 + skip
        reads = pd.read_csv(text, sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                            skip_blank_lines=False, skiprows=skip, chunksize=ROWS_PER_READ)
        next_line = skip + 2
        for rows in reads:
            lines = np.arange(next_line, next_line + len(rows))
            next_line += len(rows)
            yield rows.assign(_line=lines)[(rows != "").any(axis=1).to_numpy()], sep, decimal
    except UnicodeDecodeError:
        raise DataError(f"{name}: not UTF-8 text; convert it, e.g. iconv -f latin1 -t "
                        f"utf-8") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: file is empty; give a CSV with a header line and data "
                        f"rows") from None
    except pd.errors.ParserError as exc:
        raise parser_error(exc, name, None) from None


def _reader_ids(column: pd.Series) -> pd.Series:
    """The ids as the reader reads them (skipinitialspace: leading spaces dropped), so that
    rows `s1,...` and ` s1,...` are one series in a chunk or a shard as in the whole file;
    the rows themselves are passed on as written, for the reader to read."""
    return column.str.lstrip(" ")


def _id_column(rows: pd.DataFrame, name: str, id_col: str, why: str) -> str:
    """The id column as pandas named it (a header may pad names with spaces)."""
    names = [c for c in rows.columns if c.strip() == id_col]
    if not names:
        raise DataError(f"{name}: no column {id_col!r} (the series id); {why}")
    return names[0]


def _chunks(stream: io.BufferedReader, name: str, id_col: str, per_chunk: int,
            keep: Callable[[str], bool] | None) -> Iterator[Excerpt]:
    grouping = _Grouping(name, id_col, per_chunk, keep)
    for rows, sep, decimal in _row_reads(stream, name):
        yield from grouping.add(rows, sep, decimal)
    yield from grouping.finish()


class _Grouping:
    """Rows in, chunks of whole series out: it holds the series being read and the whole
    ones not yet given out, and the ids already read, to catch one that comes back."""

    def __init__(self, name: str, id_col: str, per_chunk: int,
                 keep: Callable[[str], bool] | None) -> None:
        self.name, self.id_col, self.per_chunk, self.keep = name, id_col, per_chunk, keep
        self.sep, self.decimal = ",", "."
        self.finished: set[str] = set()
        self.whole: list[pd.DataFrame] = []  # whole series kept, not yet given out
        self.run_id: str | None = None  # the series being read
        self.run_kept = False
        self.run: list[pd.DataFrame] = []  # its rows so far (when kept)

    def add(self, rows: pd.DataFrame, sep: str, decimal: str) -> Iterator[Excerpt]:
        self.sep, self.decimal = sep, decimal
        ids = _reader_ids(rows[_id_column(rows, self.name, self.id_col, "give DATA in the long "
                                          "layout the model was fitted on")]
                          ).to_numpy(dtype=object)
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else []
        bounds = [*starts, len(ids)]
        for a, b in zip(bounds[:-1], bounds[1:]):
            if ids[a] != self.run_id:
                yield from self._close()
                self._start(str(ids[a]), int(rows["_line"].iat[a]))
            if self.run_kept:
                self.run.append(rows.iloc[a:b])

    def finish(self) -> Iterator[Excerpt]:
        yield from self._close()
        if self.whole:
            yield self._excerpt()

    def _close(self) -> Iterator[Excerpt]:
        """The series being read is whole: keep it, and give out a full chunk."""
        if self.run_id is not None:
            self.finished.add(self.run_id)
        if self.run:
            self.whole.append(pd.concat(self.run) if len(self.run) > 1 else self.run[0])
        self.run_id, self.run = None, []
        if len(self.whole) >= self.per_chunk:
            yield self._excerpt()

    def _start(self, series_id: str, line: int) -> None:
        if series_id in self.finished:
            raise DataError(f"{self.name}, line {line}: the rows of series "
                            f"{shown_id(series_id)} are not together (it came before, then "
                            f"other series); chunked predict reads a file grouped by id: "
                            f"sort it first, keeping "
                            f"the header and each series' order, e.g. (head -n 1 FILE; "
                            f"tail -n +2 FILE | sort -t, -k1,1 -s) > sorted.csv")
        self.run_id = series_id
        self.run_kept = self.keep is None or self.keep(series_id)

    def _excerpt(self) -> Excerpt:
        rows = pd.concat(self.whole) if len(self.whole) > 1 else self.whole[0]
        self.whole = []
        data = rows.drop(columns="_line").to_csv(index=False, sep=self.sep,
                                                 lineterminator="\n")
        return Excerpt(data.encode("utf-8"), self.name, rows["_line"].to_numpy(),
                       self.decimal)
