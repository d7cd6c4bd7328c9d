"""`fit --nproc N`: the launcher that runs the same fit on N processes with torch's own
launcher (what torchrun runs), the exit status it gives when the run ends badly (the cause
among the ranks' failures), and each rank's report of its status to it."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import click

from forecastr.training.stopping import LAUNCHER_PID

EXIT_BY_SIGNAL = 128  # a process ended by signal N reports 128 + N in the shell


def launch(nproc: int, data: str, threads_asked: int | None, arguments: list[str]) -> None:
    """`fit --nproc N`: this same command on N processes, started by torch's own launcher
    (torch.distributed.run, what torchrun runs) on this machine; exits with the status of
    the rank whose failure ended the run (143 when one was sent SIGTERM). `arguments`: the
    command line, which each process runs again without --nproc."""
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    from forecastr.network import threads

    if os.environ.get("WORLD_SIZE", "1") != "1":
        raise click.UsageError("--nproc inside a distributed launch: torchrun starts the "
                               "processes already")
    if data == "-":
        raise click.UsageError("--nproc: every process reads DATA, so it must be a file, not "
                               "stdin")
    rest, skip = [], False
    for argument in arguments:  # the same command, without --nproc
        if skip or argument == "--nproc" or argument.startswith("--nproc="):
            skip = argument == "--nproc"
            continue
        rest.append(argument)
    if "OMP_NUM_THREADS" not in os.environ:  # the user's wins; else each process's share of
        # the CPUs, set before torch starts in the processes (torchrun would set 1 otherwise)
        share = str(threads.plan(threads_asked, processes=nproc).count)
        os.environ["OMP_NUM_THREADS"] = os.environ[threads.LAUNCHER_MARK] = share
    # the ranks say what went wrong; the launcher's own log of it would say it again. Each
    # of torch's elastic modules sets its logger's level itself, so the parent's is not enough
    for name in [*logging.root.manager.loggerDict, "torch.distributed.elastic"]:
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    os.environ["FORECASTR_NPROC"] = str(nproc)  # so that rank 0's hint to resume has it
    os.environ[LAUNCHER_PID] = str(os.getpid())  # the ranks end with it (stopping.py)
    try:
        torchrun.run(torchrun.parse_args(["--standalone", "--nnodes", "1", "--nproc-per-node",
                                          str(nproc), "-m", "forecastr", *rest]))
    except SignalException as exc:  # Ctrl-C, SIGTERM or SIGHUP to the launcher: torch's
        # launcher passed it on to the ranks and waited for them; rank 0 said what was kept
        raise click.exceptions.Exit(EXIT_BY_SIGNAL + int(exc.sigval)) from None
    except ChildFailedError as exc:
        rank, failure = cause(exc.failures)
        if failure.exitcode < 0:  # killed: it could not say so itself
            click.echo(f"forecastr: error: process {rank} of {nproc} was killed by "
                       f"{signal.Signals(-failure.exitcode).name}", err=True)
        raise click.exceptions.Exit(EXIT_BY_SIGNAL - failure.exitcode if failure.exitcode < 0
                                    else failure.exitcode) from None


def cause(failures: dict[int, Any]) -> tuple[int, Any]:
    """The rank whose failure ended a distributed run, and its failure (torch's
    ProcessFailure: exitcode, timestamp, error_file_data). The others exit 1 (PeerFailed)
    when they notice, or are stopped by the launcher: killed by its SIGTERM, or exiting 143
    from their own handler of it. A more telling status than 1 or -SIGTERM (2 for bad
    input, a signal) is the cause; among those, the one that ended first (a 143 that the
    launcher's stopping gave ends after the failure that made it stop), then the lowest
    rank."""
    following = (1, -signal.SIGTERM)
    telling = {r: f for r, f in failures.items() if f.exitcode not in following} or failures
    return min(telling.items(), key=lambda item: (_ended(item[1]), item[0]))


def _ended(failure: Any) -> float:
    """When a failed rank ended: as it reported itself (report_status), else when torch's
    launcher saw it, in whole seconds rounded down. That clock alone puts a rank that the
    launcher stopped (143) in the same second as the one whose end made it stop it, and the
    lower rank won the tie; the reports keep their order, since one reports before it
    exits and the launcher stops the others only after it sees that exit."""
    reported = (getattr(failure, "error_file_data", None) or {}).get("timestamp")
    return float(reported) if isinstance(reported, (int, float)) else failure.timestamp


def report_status(code: int) -> None:
    """Leave this process's exit status, and the time it ends, in the reply file that
    torch's launcher gives each process it starts (TORCHELASTIC_ERROR_FILE), for `cause`;
    in torch's own format for a message without a traceback, so that torchrun shows it."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if path:
        report = {"message": f"forecastr exited with status {code}; its own message is on "
                             f"its stderr", "timestamp": time.time()}
        with contextlib.suppress(OSError):
            Path(path).write_text(json.dumps(report))
