"""Where CSV bytes come from: a path, stdin or a file object, plain or gzip-compressed. The
bytes are scanned once as a stream (binary data refused on the first block, UTF-8 checked
throughout) and opened again for each later pass, so compressed input is never held
decompressed: a small .gz of zeros is refused after one block, not after gigabytes."""

from __future__ import annotations

import codecs
import gzip
import io
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from forecastr.errors import DataError, out_of_memory

FIRST_BLOCK = 1 << 16  # what the binary check and the delimiter sniffing read
BLOCK = 1 << 20
BOM = codecs.BOM_UTF8
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Source:
    """A CSV input, scanned: what parsing needs to know before it reads the whole."""

    name: str  # the path, "<stdin>" or the stream's name, for messages
    open: Callable[[], BinaryIO]  # a new stream of the CSV's bytes, without a BOM
    sample: str  # the text of the first block
    quoted: bool  # a double quote occurs somewhere (a record may then span lines)
    blank: bool  # nothing but white space
    size: int  # bytes of CSV text (decompressed)


def open_source(source: str | Path | BinaryIO) -> Source:
    """Read a path, "-" (stdin) or a binary file object, and scan it as CSV text.

    Raises:
        DataError: unreadable, binary, corrupt gzip, or not UTF-8 (naming the line).
    """
    name, raw = _stored_bytes(source)
    compressed = raw[:2] == GZIP_MAGIC

    def reopen() -> BinaryIO:
        stream = gzip.GzipFile(fileobj=io.BytesIO(raw)) if compressed else io.BytesIO(raw)
        if stream.read(len(BOM)) != BOM:
            stream.seek(0)
        return stream

    with out_of_memory(f"reading {name} ({len(raw):,} bytes{' of gzip' if compressed else ''})",
                       "give a smaller file, or run where there is more memory"):
        try:
            sample, quoted, blank, size = _scan(reopen(), name)
        except (EOFError, OSError, zlib.error):  # gzip's ways of saying it is damaged
            raise DataError(f"{name}: truncated or corrupt gzip data; compress it again "
                            f"(gzip -t tests a .gz file)") from None
    return Source(name, reopen, sample, quoted, blank, size)


def _stored_bytes(source: str | Path | BinaryIO) -> tuple[str, bytes]:
    """The bytes as stored (compressed or not) and the name to give in messages."""
    if hasattr(source, "read"):
        return getattr(source, "name", "<stream>"), source.read()
    if str(source) == "-":
        return "<stdin>", sys.stdin.buffer.read()
    name, path = str(source), Path(source)
    if path.is_dir():
        raise DataError(f"{name}: is a directory, not a CSV file; give the path of a file")
    try:
        return name, path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{name}: no such file; check the path") from None
    except OSError as exc:
        raise DataError(f"{name}: cannot read file ({exc.strerror or exc}); check the path "
                        f"and its permissions") from None


def _scan(stream: BinaryIO, name: str) -> tuple[str, bool, bool, int]:
    """One pass over the bytes: (first block's text, any quote, all blank, size)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    sample, quoted, blank, size, lines = None, False, True, 0, 0
    while chunk := stream.read(FIRST_BLOCK if sample is None else BLOCK):
        if sample is None and b"\x00" in chunk:
            raise DataError(f"{name}: binary data, not CSV text; give a CSV file, plain or "
                            f"gzipped")
        pending = len(decoder.getstate()[0])  # a character cut by the previous block
        try:  # ASCII is UTF-8: most blocks of most files need no decoding
            text = "" if sample is not None and not pending and chunk.isascii() \
                else decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            at = max(exc.start - pending, 0)
            line = lines + chunk[:at].count(b"\n") + 1
            raise DataError(f"{name}, line {line}: not UTF-8 text (byte 0x{chunk[at]:02x}); "
                            f"convert it, e.g. iconv -f latin1 -t utf-8") from None
        sample = text if sample is None else sample
        quoted = quoted or b'"' in chunk
        blank = blank and not chunk.strip()
        size, lines = size + len(chunk), lines + chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise DataError(f"{name}, line {lines + 1}: not UTF-8 text (the file ends inside a "
                        f"character); convert it, e.g. iconv -f latin1 -t utf-8") from None
    return sample or "", quoted, blank, size
