"""The `forecastr` command and `python -m forecastr`: quiet about an interrupt from the very
start, then the command-line interface."""

import atexit
import contextlib
import os
import signal
import sys


def _interrupted(signum: int, _frame: object) -> None:
    """Until the CLI handles signals itself: Ctrl-C while Python is still importing it would
    otherwise print a traceback from the middle of an import."""
    os.write(2, b"forecastr: interrupted\n")
    os._exit(128 + signum)


def main() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not if ignored
        signal.signal(signal.SIGINT, _interrupted)
    from forecastr.cli.commands import main as run  # the CLI installs its own handlers

    code = 0
    try:
        run()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
        if isinstance(done.code, str):
            sys.stderr.write(done.code + "\n")
    _exit_now(code)


def _exit_now(code: int) -> None:
    """End the process without the interpreter's teardown, which torch alone makes 0.3-0.4 s
    of every command (its modules and C++ destructors). Everything the process owes the world
    happens first: the atexit handlers (logging, temporary files) and the flush of stdout and
    stderr, where a reader that went away means 141, quietly, as elsewhere."""
    from forecastr.cli.stdout import EXIT_BROKEN_PIPE

    atexit._run_exitfuncs()  # noqa: SLF001 - the registered handlers, run as exit runs them
    try:
        if sys.stdout is not None:  # None: started with stdout closed
            sys.stdout.flush()
    except BrokenPipeError:
        code = code or EXIT_BROKEN_PIPE
    except (OSError, ValueError):
        code = code or 1
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
