"""Ctrl-C, SIGTERM and SIGHUP as requests: while training runs, the first signal asks it to
stop after the current batch (so that a checkpoint can be written); otherwise, and on a second
signal, the process is interrupted at once."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)

# set by `fit --nproc` for the processes it starts: the process id of the launcher
LAUNCHER_PID = "FORECASTR_LAUNCHER_PID"
PR_SET_PDEATHSIG = 1  # prctl(2)

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
        """While inside, a first signal only sets the request (nested: a search defers
        between its fits as each fit defers between its batches)."""
        before, self.deferring = self.deferring, True
        try:
            yield self
        finally:
            self.deferring = before


def on_signal(stop: StopRequest, signum: int, deliveries: int = 1) -> None:
    """What a SIGINT, SIGTERM or SIGHUP does: defer to the next batch boundary the first time
    while training, interrupt at once otherwise (SignalInterrupt unwinds, so that temporary
    files are removed). `deliveries`: how many signals arrived since a handler last ran;
    CPython runs a handler once for signals that arrive together during a long torch call,
    so two Ctrl-C there are a second one too."""
    if stop.deferring and stop.signal is None and deliveries <= 1:
        stop.signal = signum
        log.warning("%s: stopping after this batch to write a checkpoint (send it again to "
                    "quit at once, without one)", signal.Signals(signum).name)
        return
    stop.signal = signum
    raise SignalInterrupt


@contextlib.contextmanager
def handle_signals(stop: StopRequest) -> Iterator[StopRequest]:
    """Route SIGINT, SIGTERM and SIGHUP to `stop` inside the block; the previous handlers come
    back after it. Outside the main thread signals cannot be handled, so nothing changes
    there. CPython's own handler writes a byte to the wakeup pipe for every signal it is
    given, which counts them where its Python-level flag would merge them."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    reading, writing = os.pipe()
    os.set_blocking(reading, False)
    os.set_blocking(writing, False)

    def handler(number: int, _frame: object) -> None:
        on_signal(stop, number, max(1, _drained(reading, SIGNALS)))

    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    previous_wakeup = signal.set_wakeup_fd(writing, warn_on_full_buffer=False)
    for signum in SIGNALS:
        signal.signal(signum, handler)
    try:
        yield stop
    finally:
        for signum, handler_before in previous.items():
            signal.signal(signum, handler_before)
        signal.set_wakeup_fd(previous_wakeup)
        os.close(reading)
        os.close(writing)


def _drained(reading: int, counted: tuple[int, ...]) -> int:
    """Empty the wakeup pipe; how many of its bytes are signals in `counted`."""
    pending = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(reading, 512):
            pending += chunk
    return sum(pending.count(bytes([int(signum)])) for signum in counted)


def end_with_launcher() -> None:
    """In a process that `fit --nproc` started: be killed (SIGKILL) when the launcher dies.
    torch's launcher starts each process in a session of its own, so a launcher killed
    outright (the OOM killer, `timeout -s KILL`) would leave them training, to write a model
    after the run was declared failed, or to hang on the launcher's store when stopped. They
    end without writing: nobody is left to resume or read what they would write. Linux
    only (prctl); elsewhere, and when no `fit --nproc` started this process, nothing."""
    launcher = os.environ.get(LAUNCHER_PID, "")
    if not launcher.isdigit() or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        return
    if os.getppid() != int(launcher):  # it died before the line above took effect
        os.kill(os.getpid(), signal.SIGKILL)
