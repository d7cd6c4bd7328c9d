"""Where CSV bytes come from: a path, stdin or a file object, plain or gzip-compressed. The
bytes are scanned once as a stream (binary data refused on the first block, UTF-8 checked
throughout) and opened again for each later pass, so compressed input is never held
decompressed (a small .gz of zeros is refused after one block, not after gigabytes) and a
plain file on disk is not held at all."""

from __future__ import annotations

import codecs
import contextlib
import gzip
import io
import os
import stat
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from forecastr.errors import DataError, out_of_memory

FIRST_BLOCK = 1 << 16  # what the binary check and the delimiter sniffing read
BLOCK = 1 << 20
BOM = codecs.BOM_UTF8
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Source:
    """A CSV input, scanned: what parsing needs to know before it reads the whole."""

    name: str  # the path, "<stdin>" or the stream's name, for messages
    open: Callable[[], BinaryIO]  # a new stream of the CSV's bytes, without a BOM; close it
    sample: str  # the text of the first block
    quoted: bool  # a double quote occurs somewhere (a record may then span lines)
    blank: bool  # nothing but white space
    size: int  # bytes of CSV text (decompressed)
    lines: np.ndarray | None = None  # (R,) the line of a larger file each data row was on
    # the decimal mark of that larger file, decided on its first block as a whole file's is
    decimal: str | None = None


class Excerpt(io.BytesIO):
    """CSV bytes cut from a larger file (a header and some of its rows), which remember the
    line of that file each data row was on, so that messages name the file's lines."""

    def __init__(self, data: bytes, name: str, lines: np.ndarray, decimal: str | None = None
                 ) -> None:
        super().__init__(data)
        self.name, self.lines, self.decimal = name, lines, decimal


def open_source(source: str | Path | BinaryIO) -> Source:
    """Read a path, "-" (stdin) or a binary file object, and scan it as CSV text.

    Raises:
        DataError: unreadable, binary, corrupt gzip, or not UTF-8 (naming the line).
    """
    name, raw = _stored_bytes(source)
    compressed = raw is not None and raw[:2] == GZIP_MAGIC

    def reopen() -> BinaryIO:
        if raw is None:
            try:
                stream = open(source, "rb")  # noqa: SIM115 - each reader closes its pass
            except OSError as exc:
                raise _unreadable(name, exc) from None
        else:
            stream = gzip.GzipFile(fileobj=io.BytesIO(raw)) if compressed else io.BytesIO(raw)
        if stream.read(len(BOM)) != BOM:
            stream.seek(0)
        return stream

    stored = os.path.getsize(source) if raw is None else len(raw)
    with out_of_memory(f"reading {name} ({stored:,} bytes{' of gzip' if compressed else ''})",
                       "give a smaller file, or run where there is more memory"):
        try:
            sample, quoted, blank, size = _scan(reopen, name)
        except (EOFError, OSError, zlib.error) as exc:  # gzip's ways of saying it is damaged
            raise (gzip_damaged(name) if compressed else _unreadable(name, exc)) from None
    return Source(name, reopen, sample, quoted, blank, size, getattr(source, "lines", None),
                  getattr(source, "decimal", None))


def gzip_damaged(name: str) -> DataError:
    return DataError(f"{name}: truncated or corrupt gzip data; compress it again (gzip -t "
                     f"tests a .gz file)")


def _stored_bytes(source: str | Path | BinaryIO) -> tuple[str, bytes | None]:
    """The bytes as stored (compressed or not) and the name to give in messages; None for a
    plain file on disk, which each pass opens again: holding it would cost a copy of the
    whole file, and reading it the time of a second pass."""
    with opened(source) as (name, stream):
        try:
            if isinstance(source, (str, Path)) and str(source) != "-" and stat.S_ISREG(
                    os.fstat(stream.fileno()).st_mode) and stream.peek(2)[:2] != GZIP_MAGIC:
                return name, None  # (a pipe such as <(zcat data.gz) reads once: held)
            return name, stream.read()
        except OSError as exc:
            raise _unreadable(name, exc) from None


@contextlib.contextmanager
def opened(source: str | Path | BinaryIO) -> Iterator[tuple[str, BinaryIO]]:
    """The bytes as stored, as a stream not yet read, and the name to give in messages; a
    file it opened is closed afterwards, stdin and a stream given are left open."""
    if hasattr(source, "read"):
        yield getattr(source, "name", "<stream>"), source
        return
    if str(source) == "-":
        yield "<stdin>", sys.stdin.buffer
        return
    name, path = str(source), Path(source)
    if path.is_dir():
        raise DataError(f"{name}: is a directory, not a CSV file; give the path of a file")
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise DataError(f"{name}: no such file; check the path") from None
    except OSError as exc:
        raise _unreadable(name, exc) from None
    with stream:
        yield name, stream


def _unreadable(name: str, exc: OSError) -> DataError:
    return DataError(f"{name}: cannot read file ({exc.strerror or exc}); check the path and "
                     f"its permissions")


def _scan(reopen: Callable[[], BinaryIO], name: str) -> tuple[str, bool, bool, int]:
    """One pass over the bytes: (first block's text, any quote, all blank, size)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    sample, quoted, blank, size = None, False, True, 0
    with reopen() as stream:
        while chunk := stream.read(FIRST_BLOCK if sample is None else BLOCK):
            if sample is None and b"\x00" in chunk:
                raise DataError(f"{name}: binary data, not CSV text; give a CSV file, plain "
                                f"or gzipped")
            pending = len(decoder.getstate()[0])  # a character cut by the previous block
            try:  # ASCII is UTF-8: most blocks of most files need no decoding
                text = "" if sample is not None and not pending and chunk.isascii() \
                    else decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                at = max(exc.start - pending, 0)
                line = _line_at(reopen(), size + at)
                raise DataError(f"{name}, line {line}: not UTF-8 text (byte "
                                f"0x{chunk[at]:02x}); convert it, e.g. iconv -f latin1 -t "
                                f"utf-8") from None
            sample = text if sample is None else sample
            quoted = quoted or b'"' in chunk
            blank = blank and not chunk.strip()
            size += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise DataError(f"{name}, line {_line_at(reopen(), size)}: not UTF-8 text (the file "
                        f"ends inside a character); convert it, e.g. iconv -f latin1 -t "
                        f"utf-8") from None
    return sample or "", quoted, blank, size


def _line_at(stream: BinaryIO, offset: int) -> int:
    """The line of the byte at `offset`: counted only for a message, since counting the
    lines of every block would slow the scan of every file."""
    lines = 0
    with stream:
        while offset > 0 and (chunk := stream.read(min(BLOCK, offset))):
            lines, offset = lines + chunk.count(b"\n"), offset - len(chunk)
    return lines + 1


def rereadable(source: str | Path | BinaryIO) -> str | Path | BinaryIO:
    """A path as it is; stdin or a stream held in memory, so that it can be read twice."""
    if hasattr(source, "read"):
        name, data = getattr(source, "name", "<stream>"), source.read()
    elif str(source) == "-":
        name, data = "<stdin>", sys.stdin.buffer.read()
    else:
        return source
    held = io.BytesIO(data)
    held.name = name
    return held
