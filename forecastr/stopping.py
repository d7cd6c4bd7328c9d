"""Ctrl-C, SIGTERM and SIGHUP as requests: while training runs, the first signal asks it to
stop after the current batch (so that a checkpoint can be written); otherwise, and on a second
signal, the process is interrupted at once."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)

# SIGHUP comes when the terminal or ssh session a fit runs in closes (POSIX only)
SIGNALS = (signal.SIGINT, signal.SIGTERM, *[signal.SIGHUP] * hasattr(signal, "SIGHUP"))


class SignalInterrupt(BaseException):
    """Raised by the handler to interrupt at once; a BaseException like KeyboardInterrupt,
    so that cleanup runs and nothing mistakes it for an error, but not one, so that click
    does not catch it and print a blank line first."""


@dataclass
class StopRequest:
    """Polled by the training loop between batches. `signal` is the number of the signal
    that asked to stop (or that interrupted); `deferring` is True while training runs."""

    signal: int | None = None
    deferring: bool = False

    def requested(self) -> bool:
        return self.signal is not None

    @contextlib.contextmanager
    def deferred(self) -> Iterator[StopRequest]:
        """While inside, a first signal only sets the request."""
        self.deferring = True
        try:
            yield self
        finally:
            self.deferring = False


def on_signal(stop: StopRequest, signum: int) -> None:
    """What a SIGINT, SIGTERM or SIGHUP does: defer to the next batch boundary the first time while
    training, interrupt at once otherwise (SignalInterrupt unwinds, so that temporary files
    are removed)."""
    if stop.deferring and stop.signal is None:
        stop.signal = signum
        log.warning("%s: stopping after this batch to write a checkpoint (send it again to "
                    "quit at once, without one)", signal.Signals(signum).name)
        return
    stop.signal = signum
    raise SignalInterrupt


@contextlib.contextmanager
def handle_signals(stop: StopRequest) -> Iterator[StopRequest]:
    """Route SIGINT, SIGTERM and SIGHUP to `stop` inside the block; the previous handlers come back
    after it. Outside the main thread signals cannot be handled, so nothing changes there."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum in SIGNALS:
        signal.signal(signum, lambda number, _frame: on_signal(stop, number))
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
