"""Rendering tables as CSV or JSON lines, and output files that are either the old complete
file or the new complete file, never half.

atomic_write writes to a temporary file in the target's folder, fsyncs it, and renames it over
the target; on any error the temporary file is removed and the target is left untouched.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from forecastr.errors import OutputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


NO_PYARROW = ("writing Parquet needs pyarrow: pip install pyarrow (or, from a checkout of "
              "forecastr, pip install -e '.[parquet]')")


def render(frame: pd.DataFrame, fmt: str, header: bool = True) -> str:
    """A table as CSV (with a header unless told) or as JSON lines, one object per row."""
    if fmt == "json":
        if not len(frame):
            return ""
        text = frame.to_json(orient="records", lines=True, date_format="iso", date_unit="s")
        return text.rstrip("\n") + "\n"  # pandas versions differ on the final newline
    fast = _csv_by_columns(frame, header)
    if fast is not None:
        return fast
    # the csv module quotes a field holding a line break only when it is the line terminator
    # ("\n" here), so a carriage return in an id would end a row for other readers
    texts = frame.select_dtypes(exclude=["number", "datetime", "datetimetz", "bool"])
    carriage = any(texts[c].astype(str).str.contains("\r", regex=False).any() for c in texts)
    return frame.to_csv(index=False, lineterminator="\n", header=header,
                        quoting=csv.QUOTE_NONNUMERIC if carriage else csv.QUOTE_MINIMAL)


def _csv_by_columns(frame: pd.DataFrame, header: bool) -> str | None:
    """The CSV text pandas' to_csv writes (QUOTE_MINIMAL), built a column at a time: each
    distinct id and time formatted once, numbers by repr. Two to five times as fast on a
    forecast's columns; None for a table with a kind of column (or a carriage return in a
    text) left to pandas."""
    if frame.shape[1] < 2 or not len(frame):  # a lone empty field is written quoted
        return None
    columns = []
    for name in frame.columns:
        text = _column_text(frame[name])
        if text is None:
            return None
        columns.append(text)
    names = [_quoted(str(name)) for name in frame.columns]
    if any(name is None for name in names):
        return None
    rows = "\n".join(map(",".join, zip(*columns))) + "\n"
    return ",".join(names) + "\n" + rows if header else rows  # type: ignore[arg-type]


def _column_text(column: pd.Series) -> list[str] | None:
    """A column's fields as to_csv writes them ('' for a missing value), or None."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(column):  # to_csv writes True, False
        return None
    if pd.api.types.is_float_dtype(column) and isinstance(column.dtype, np.dtype):
        values = column.to_numpy()
        if values.dtype == np.float64:
            return _float64_texts(values)
        text = values.astype(str).tolist()  # float32's own shortest text, as to_csv writes
        for row in np.flatnonzero(np.isnan(values)).tolist():
            text[row] = ""
        return text
    if pd.api.types.is_integer_dtype(column) and isinstance(column.dtype, np.dtype):
        return list(map(str, column.to_numpy().tolist()))
    codes, distinct = pd.factorize(column)  # a missing value's code is -1
    if pd.api.types.is_datetime64_any_dtype(column):
        shown = pd.Series(distinct).astype(str).tolist()
    elif pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
        if not all(isinstance(value, str) for value in distinct):
            return None
        shown = [_quoted(value) for value in distinct]  # type: ignore[misc]
        if any(value is None for value in shown):
            return None
    else:
        return None
    return np.array([*shown, ""], dtype=object)[codes].tolist()


def _float64_texts(values: np.ndarray) -> list[str]:
    """Each float64 as to_csv writes it: its repr (the shortest text that reads back as the
    same number), '' for NaN. pyarrow's cast gives the same digits three times as fast, but
    writes a whole number without '.0' and switches to an exponent at other bounds: those
    values, and anything outside plain decimals, go through repr."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    cast = pc.cast(pa.array(values), pa.string())
    text = cast.to_numpy(zero_copy_only=False).astype(object)
    magnitude = np.abs(values)
    with np.errstate(invalid="ignore"):
        plain = (magnitude >= 1e-4) & (magnitude < 1e15) & (values != np.floor(values))
    plain &= ~pc.match_substring(cast, "e").to_numpy(zero_copy_only=False)
    for row in np.flatnonzero(~plain).tolist():
        value = float(values[row])
        text[row] = "" if value != value else repr(value)  # NaN is not equal to itself
    return text.tolist()


def _quoted(text: str) -> str | None:
    """A field quoted as the csv module quotes it (QUOTE_MINIMAL, "\n" ending rows); None for
    one holding a carriage return, which render quotes its own way."""
    if "\r" in text:
        return None
    if "," in text or '"' in text or "\n" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def render_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """A table as the bytes of a file: CSV or JSON lines as UTF-8 (render), or Parquet."""
    if fmt != "parquet":
        return render(frame, fmt).encode("utf-8")
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, index=False)
    except ImportError:
        raise OutputError(NO_PYARROW) from None
    return buffer.getvalue()


def output_format(fmt: str | None, output: str | Path | None) -> str:
    """The format forecasts are written in: `fmt` when given, else Parquet for an `output`
    whose name says so (.parquet, .pq), else CSV."""
    from forecastr.data.reader import is_parquet  # the one place the suffixes are known

    return fmt or ("parquet" if output is not None and is_parquet(output) else "csv")


def write_tables(frames: Iterable[pd.DataFrame], fmt: str, stream: BinaryIO) -> int:
    """Tables of the same columns written one after another as one CSV (one header), JSON
    lines, or Parquet (a row group each) to `stream`, so that only one is held at a time;
    returns the rows written."""
    rows, parquet, first = 0, None, None
    for frame in frames:
        rows += len(frame)
        if fmt != "parquet":
            stream.write(render(frame, fmt, header=first is None).encode("utf-8"))
        elif len(frame):
            parquet = parquet or _parquet_writer(frame, stream)
            parquet.write_table(_arrow(frame, parquet.schema))
        first = frame if first is None else first
    if parquet is not None:
        parquet.close()
    elif fmt == "parquet" and first is not None:  # every table empty: the columns alone
        stream.write(render_bytes(first, fmt))
    return rows


def _parquet_writer(frame: pd.DataFrame, stream: BinaryIO) -> Any:
    try:
        import pyarrow.parquet
    except ImportError:
        raise OutputError(NO_PYARROW) from None
    return pyarrow.parquet.ParquetWriter(stream, _arrow(frame).schema)


def _arrow(frame: pd.DataFrame, schema: Any = None) -> Any:
    import pyarrow

    return pyarrow.Table.from_pandas(frame, schema=schema, preserve_index=False)


def write_bytes(data: bytes, path: str | Path) -> None:
    """Write bytes to `path` atomically."""
    with atomic_write(path) as stream:
        stream.write(data)


def write_text(text: str, path: str | Path) -> None:
    """Write text to `path` atomically, as UTF-8."""
    with atomic_write(path) as stream:
        stream.write(text.encode("utf-8"))


def check_writable(path: str | Path, needed_bytes: int = 0,
                   inputs: dict[str, object] | None = None) -> None:
    """Fail before hours of work, not after: the output must not be one of the command's
    `inputs` (name -> path, or "-" for stdin), and its folder must exist, accept a new file
    and have about `needed_bytes` free (an estimate of the output's size, 0 for unknown)."""
    target = output_target(path)
    folder = target.parent  # Path("m.fcst").parent is Path(".")
    if target.is_dir():
        raise OutputError(f"{path}: is a directory; give a file name for the output")
    for name, source in (inputs or {}).items():
        if _same_file(target, source):
            shown = "stdin" if source == "-" else str(source)
            raise OutputError(f"{path}: is {name} ({shown}) as well; writing it would destroy "
                              f"the input, so nothing was done; give another output path")
    if target.exists() and not target.is_file():  # a device or FIFO, written in place
        if not os.access(target, os.W_OK):
            raise OutputError(f"{path}: cannot write (permission denied)")
        return
    if not folder.exists():
        raise OutputError(f"{path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputError(f"{path}: {folder} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".check")
        try:
            os.write(handle, b"\0")  # an empty file still fits on a full disk; a byte does not
        finally:
            os.close(handle)
            os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write in {folder} ({exc.strerror or exc})") from None
    free = shutil.disk_usage(folder).free
    if needed_bytes > free:
        raise OutputError(f"{path}: only {_megabytes(free)} MB free in {folder}, need about "
                          f"{_megabytes(needed_bytes)} MB; free some space or choose another "
                          f"folder")


def _same_file(target: Path, source: object) -> bool:
    """True when `source` (a path, "-" for stdin, or a stream) is the file at `target`: the
    same device and inode, so through symbolic and hard links too."""
    try:
        written = target.stat()
        if source == "-":
            read = os.fstat(sys.stdin.fileno())
        elif isinstance(source, (str, Path)):
            read = Path(source).stat()
        else:
            return False  # an in-memory stream is no file
    except (OSError, ValueError, AttributeError):  # no such file yet, or no real stdin
        return False
    return (written.st_dev, written.st_ino) == (read.st_dev, read.st_ino)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f}" if size < 10**7 else f"{size / 1e6:,.0f}"


def output_target(path: str | Path) -> Path:
    """The file an output path writes: a symbolic link is followed to the file it names, so
    that the link survives and its target is updated. A path that cannot name a file is an
    OutputError."""
    text = str(path)
    if not text:
        raise OutputError("the output path is empty; give a file name")
    if text.endswith(("/", os.sep)):
        raise OutputError(f"{path}: ends in '/', so it names a folder; give a file name for "
                          f"the output")
    return Path(os.path.realpath(text))


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """Yield a binary file; on success it replaces the file at `path` in one rename, with the
    mode (and, where permitted, the owner) of the file it replaces. A device, FIFO or other
    file that is not a regular one cannot be renamed over: it is written in place."""
    target = output_target(path)
    existing = target.stat() if target.exists() else None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        with _written_in_place(path, target) as stream:
            yield stream
        return
    folder = target.parent
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.",
                                             suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write in {folder} ({exc.strerror or exc})") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        _take_over(temporary, existing)
        os.replace(temporary, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            raise OutputError(f"{path}: cannot write ({exc.strerror or exc}); the previous "
                              f"file, if any, is unchanged") from exc
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where supported
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _take_over(temporary: str, existing: os.stat_result | None) -> None:
    """Give the new file the old one's permissions (a private file stays private) and, where
    the process may, its owner; a new file gets the usual 0644 less the umask."""
    if existing is None:
        os.chmod(temporary, 0o644 & ~_umask())
        return
    os.chmod(temporary, stat.S_IMODE(existing.st_mode))
    with contextlib.suppress(OSError):  # only root may give a file away
        os.chown(temporary, existing.st_uid, existing.st_gid)


@contextlib.contextmanager
def _written_in_place(path: str | Path, target: Path) -> Iterator[BinaryIO]:
    """Write straight into a device or FIFO; a failed write (a full device) is an error."""
    try:
        with open(target, "wb") as stream:
            yield stream
            stream.flush()
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
