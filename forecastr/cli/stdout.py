"""Writing to stdout, whatever it is: every byte or a one-line error naming stdout, and a
reader that has gone (`| head`) ends the command quietly with exit status 141."""

from __future__ import annotations

import codecs
import io
import os
import sys
from typing import BinaryIO

import click

from forecastr.errors import OutputError

EXIT_BROKEN_PIPE = 141  # what a shell reports for a process ended by SIGPIPE


def emit(text: str) -> None:
    """Write all of `text` to stdout, or fail: a short write of the file descriptor (which
    an unbuffered stdout would drop) is written on until every byte is out. When the reader
    has gone (`| head`), stop quietly with 141; any other failure (a full disk, a closed
    stdout) is a one-line error naming stdout."""
    if sys.stdout is None:  # started with stdout closed (`>&-`)
        raise OutputError("stdout: closed, so there is nowhere to write the output; redirect "
                          "it to a file, or give -o")
    try:
        try:
            descriptor = sys.stdout.fileno()
        except (AttributeError, ValueError, io.UnsupportedOperation):
            descriptor = None  # a stream that is no file (a test runner, an IDE)
        if descriptor is None:
            sys.stdout.write(text)
        else:
            sys.stdout.flush()
            pending = memoryview(text.encode(sys.stdout.encoding or "utf-8"))
            while pending:
                pending = pending[os.write(descriptor, pending):]
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None
    except OSError as exc:
        silence_stdout()
        raise OutputError(f"stdout: cannot write ({exc.strerror or exc}); the output is "
                          f"incomplete; write to a file with -o, or fix what stdout goes "
                          f"to") from None


def emit_stream(stream: BinaryIO, block: int = 1 << 20) -> None:
    """Copy a binary stream of UTF-8 text to stdout a block at a time, as emit writes."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    while data := stream.read(block):
        emit(decoder.decode(data))
    emit(decoder.decode(b"", final=True))


def stdout_is_terminal() -> bool:
    return sys.stdout is not None and sys.stdout.isatty()


def silence_stdout() -> None:
    """After the reader of our stdout went away, stop Python's exit-time flush complaining."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
