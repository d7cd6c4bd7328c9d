"""The `forecastr` command and `python -m forecastr`: quiet about an interrupt from the very
start, then the command-line interface."""

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
    from forecastr.cli import main as run  # the CLI installs its own handlers

    run()


if __name__ == "__main__":
    sys.exit(main())
