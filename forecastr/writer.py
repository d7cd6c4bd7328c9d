"""Rendering tables as CSV or JSON lines, and output files that are either the old complete
file or the new complete file, never half.

atomic_write writes to a temporary file in the target's folder, fsyncs it, and renames it over
the target; on any error the temporary file is removed and the target is left untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from forecastr.errors import OutputError

if TYPE_CHECKING:
    import pandas as pd


def render(frame: pd.DataFrame, fmt: str) -> str:
    """A table as CSV (with a header) or as JSON lines, one object per row."""
    if fmt == "json":
        if not len(frame):
            return ""
        text = frame.to_json(orient="records", lines=True, date_format="iso", date_unit="s")
        return text.rstrip("\n") + "\n"  # pandas versions differ on the final newline
    return frame.to_csv(index=False, lineterminator="\n")


def write_text(text: str, path: str | Path) -> None:
    """Write text to `path` atomically, as UTF-8."""
    with atomic_write(path) as stream:
        stream.write(text.encode("utf-8"))


def check_writable(path: str | Path, needed_bytes: int = 0,
                   inputs: dict[str, object] | None = None) -> None:
    """Fail before hours of work, not after: the output must not be one of the command's
    `inputs` (name -> path, or "-" for stdin), and its folder must exist, accept a new file
    and have about `needed_bytes` free (an estimate of the output's size, 0 for unknown)."""
    target = Path(path)
    folder = target.parent  # Path("m.fcst").parent is Path(".")
    if target.is_dir():
        raise OutputError(f"{path}: is a directory; give a file name for the output")
    for name, source in (inputs or {}).items():
        if _same_file(target, source):
            shown = "stdin" if source == "-" else str(source)
            raise OutputError(f"{path}: is {name} ({shown}) as well; writing it would destroy "
                              f"the input, so nothing was done; give another output path")
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


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """Yield a binary file; on success it replaces `path` in one rename."""
    target = Path(path)
    folder = target.parent  # Path("m.fcst").parent is Path(".")
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
        os.chmod(temporary, 0o644 & ~_umask())
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


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
