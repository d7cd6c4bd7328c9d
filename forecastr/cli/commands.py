"""The `forecastr` command: Click options built from FitConfig, one call into forecastr.api
per command, and the one place where exceptions become exit statuses.

Only click and forecastr.config are imported at module level, so `forecastr --help` and
shell completion never load torch or pandas.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click

from forecastr.cli.launch import EXIT_BY_SIGNAL, launch, report_status
from forecastr.cli.options import build_config, config_options, field_options, output_options
from forecastr.cli.stdout import (
    EXIT_BROKEN_PIPE,
    emit,
    emit_stream,
    silence_stdout,
    stdout_is_terminal,
)
from forecastr.errors import DataError, ForecastrError, Interrupted
from forecastr.training.stopping import (
    SignalInterrupt,
    StopRequest,
    end_with_launcher,
    handle_signals,
)
from forecastr.version import __version__

EXIT_INTERRUPTED = EXIT_BY_SIGNAL + 2  # SIGINT
_ARGUMENTS: list[str] = []  # the command line main() runs


@click.group(context_settings={"help_option_names": ["-h", "--help"],
                               "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="forecastr")
def cli() -> None:
    """Forecast time series from CSV or Parquet files with recurrent neural networks.

    Series are read from a CSV file, a .gz, stdin (-) or a Parquet file: one series (time +
    value), wide (time + one column per series) or long (unique_id, ds, y).
    """


@cli.command()
@click.argument("data", type=click.Path(allow_dash=True, dir_okay=True))
@config_options("data", "windows")
@click.option("--json", "as_json", is_flag=True, help="Write the report as JSON to stdout.")
@output_options
@click.pass_context
def inspect(ctx: click.Context, data: str, as_json: bool, quiet: bool, verbose: bool,
            debug: bool, **params: Any) -> None:
    """Show what forecastr sees in DATA: layout, time axis, series and windows.

    Exits with status 2 when DATA cannot be read or cannot make a single window.
    """
    from forecastr import api
    from forecastr.cli import ui

    ui.setup_logging(quiet, verbose)
    report = api.inspect(data, build_config(ctx, params))
    emit(ui.json_text(report) if as_json else ui.table_text(ui.show_inspect, report,
                                                            stdout_is_terminal()))
    if "error" in report["windows"]:
        raise DataError(report["windows"]["error"])


@cli.command()
@click.argument("data", type=click.Path(allow_dash=True), required=False)
@config_options("data", "windows", "model", "training", "system")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Model file to write [default: DATA's name with .fcst, here].")
@click.option("--resume", is_flag=True,
              help="Continue the interrupted run whose checkpoint (OUTPUT.ckpt) Ctrl-C or "
                   "SIGTERM left; give the same data and options.")
@click.option("--print-config", is_flag=True,
              help="Print the effective configuration as YAML and exit.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, metavar="N",
              help="Train one model on N processes of this machine (torch's launcher, as "
                   "torchrun --standalone --nproc-per-node N does) [default: 1].")
@click.option("--shard-series", is_flag=True,
              help="Of several processes, each reads only the series whose id hashes to it, "
                   "for a long file larger than one machine's memory.")
@output_options
@click.pass_context
def fit(ctx: click.Context, data: str | None, output: str | None, resume: bool,
        print_config: bool, nproc: int, shard_series: bool, quiet: bool, verbose: bool,
        debug: bool, **params: Any) -> None:
    """Train a recurrent forecaster on DATA and write it to a model file.

    DATA is a CSV path, a .gz, a .parquet, or - for stdin. Options can come from
    --config FILE.yaml; flags override the file.
    """
    cfg = build_config(ctx, params)
    if print_config:
        from forecastr.config_values import to_yaml

        click.echo(to_yaml(cfg), nl=False)
        return
    if data is None:
        raise click.UsageError("Missing argument 'DATA'.", ctx)
    if output == "-":  # a model file is binary, and a checkpoint needs a place beside it
        raise click.UsageError("-o -: a model file cannot go to stdout; give a file path")
    if nproc > 1:
        launch(nproc, data, cfg.threads, _ARGUMENTS)
        return
    from forecastr import api
    from forecastr.cli import ui

    quiet = quiet or os.environ.get("RANK", "0") != "0"  # one rank of several speaks
    ui.setup_logging(quiet, verbose)
    output = output or default_output(data)
    bar = sys.stderr.isatty() and not quiet
    with ui.training_progress(bar, verbose) as on_epoch:
        result = api.fit(data, cfg, output, on_epoch=on_epoch,
                         stop=ctx.find_object(StopRequest), resume=resume,
                         shard_series=shard_series)
    if not quiet:
        click.echo("forecastr: " + ui.fit_summary(result.artifact.training,
                                                  result.artifact.config, output),
                   err=True)


def _resume_command(args: list[str]) -> str:
    """The command that continues an interrupted fit: the same, with --resume (and, for one
    process of a distributed run, the launch it needs)."""
    again = args if "--resume" in args else [*args, "--resume"]
    if os.environ.get("WORLD_SIZE", "1") == "1":
        return f"forecastr {shlex.join(again)}"
    if "FORECASTR_NPROC" in os.environ:  # started by fit --nproc N, which it does not see
        return f"forecastr {shlex.join([*again, '--nproc', os.environ['FORECASTR_NPROC']])}"
    return f"torchrun (the same options) -m forecastr {shlex.join(again)}"


def default_output(data: str) -> str:
    """sales.csv.gz -> sales.fcst, in the current folder."""
    if data == "-":
        raise click.UsageError("reading DATA from stdin needs -o/--output for the model file")
    name = Path(data).name
    for suffix in (".gz", ".csv", ".tsv", ".txt"):
        name = name.removesuffix(suffix)
    return f"{name or 'model'}.fcst"


@cli.command()
@click.argument("data", type=click.Path(allow_dash=True))
@config_options("data", "windows", "model", "training", "system", leaving=("max_time",))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Model file of the best options [default: DATA's name with .fcst, here]; "
                   "the trials are kept in OUTPUT.tune.")
@click.option("--space", "space_path", type=click.Path(dir_okay=False),
              help="YAML file of the options to search: 'option: [values]' or 'option: "
                   "{low: L, high: H, log: true}' [default: cell, window, hidden, layers, "
                   "dropout, lr, loss and baseline].")
@click.option("--trials", type=click.IntRange(min=1), default=20, show_default=True,
              help="Trials to run (a resumed search counts the earlier ones).")
@click.option("--max-time", "search_seconds", type=click.FloatRange(min=0), default=0.0,
              metavar="SECONDS", help="Bound on the search's time: no trial starts after it, "
                                      "and the one under way stops at it (0 = no bound).")
@click.option("--folds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Origins at the tail of every series that each trial is scored on.")
@click.option("--step", type=click.IntRange(min=1), default=None,
              help="Steps between those origins [default: the horizon].")
@click.option("--table", type=click.Path(dir_okay=False),
              help="Table of every trial (.csv, or .json) [default: OUTPUT's name with "
                   ".trials.csv].")
@click.option("--refit/--no-refit", default=True, show_default=True,
              help="Fit the best options on every series' whole history, or keep them as "
                   "the trial trained (on the history before the scored origins).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Trials run at once, each in its own process (use as many as idle "
                   "cores); which options they draw then depends on which finishes first.")
@click.option("--resume", is_flag=True,
              help="Continue the search that OUTPUT.tune holds (interrupted, or for more "
                   "--trials); give the same data and options.")
@output_options
@click.pass_context
def tune(ctx: click.Context, data: str, output: str | None, space_path: str | None,
         trials: int, search_seconds: float, folds: int, step: int | None,
         table: str | None, refit: bool, jobs: int, resume: bool, quiet: bool, verbose: bool,
         debug: bool, **params: Any) -> None:
    """Search fit's options for DATA, scoring each trial on rolling origins at the tail of
    every series that it never trained on, and write the best as a model file.

    Needs Optuna: pip install 'forecastr[tune]'. The first trial is the defaults'.
    """
    cfg = build_config(ctx, params)
    if output == "-":
        raise click.UsageError("-o -: a model file cannot go to stdout; give a file path")
    from forecastr import api
    from forecastr.cli import ui
    from forecastr.tuning.space import load_space

    ui.setup_logging(quiet, verbose)
    output = output or default_output(data)
    space = load_space(space_path) if space_path else None
    shown = (sys.stderr.isatty() or verbose) and not quiet
    result = api.tune(data, cfg, output, space=space, trials=trials,
                      max_time=search_seconds, folds=folds, step=step, resume=resume,
                      table=table, refit=refit, jobs=jobs, stop=ctx.find_object(StopRequest),
                      on_trial=ui.trial_line if shown else None)
    if not quiet:
        click.echo("forecastr: " + ui.tune_summary(result, output), err=True)


@cli.command()
@click.argument("model", type=click.Path(dir_okay=True))
@click.option("--json", "as_json", is_flag=True, help="Write the report as JSON to stdout.")
@output_options
def info(model: str, as_json: bool, quiet: bool, verbose: bool, debug: bool) -> None:
    """Show what a model file holds: architecture, data, configuration and training summary."""
    from forecastr import api
    from forecastr.cli import ui

    ui.setup_logging(quiet, verbose)
    report = api.info(model)
    emit(ui.json_text(report) if as_json else ui.table_text(ui.show_info, report,
                                                            stdout_is_terminal()))


@cli.command()
@click.argument("model", type=click.Path(dir_okay=True))
@click.argument("data", type=click.Path(allow_dash=True, dir_okay=True), required=False)
@click.option("--horizon", type=click.IntRange(min=1),
              help="Steps to forecast, at most the trained horizon [default: the trained one].")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the forecasts to this file (atomically) instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "parquet"]),
              help="CSV in DATA's layout, JSON lines, or Parquet (needs -o and pyarrow) "
                   "[default: parquet for an -o ending in .parquet or .pq, else csv].")
@click.option("--with-history", is_flag=True, help="Put each series' history before its forecasts.")
@click.option("--mark-forecasts", is_flag=True,
              help="Add a column is_forecast after the time column: true on forecast rows, "
                   "false on --with-history's history rows (in a wide file, true on rows that "
                   "hold any series' forecast).")
@click.option("--new-series", type=click.Choice(["forecast", "skip", "error"]),
              default="forecast", show_default=True,
              help="What to do with series the model was not trained on.")
@click.option("--future", type=click.Path(dir_okay=False),
              help="A file in DATA's layout holding the future features' values at the "
                   "forecast steps [default: the rows past each series' end in DATA].")
@click.option("--chunk-series", type=click.IntRange(min=1), metavar="N",
              help="Read a long DATA N whole series at a time and write each chunk's "
                   "forecasts before reading on, so that memory holds one chunk; DATA must "
                   "keep the rows of each series together.")
@click.option("--shard", metavar="I/N",
              help="Forecast only the series whose id hashes to shard I of N (1 to N); the N "
                   "outputs together hold every series once.")
@field_options("device", "threads")
@output_options
def predict(model: str, data: str | None, horizon: int | None, output: str | None,
            fmt: str | None, with_history: bool, mark_forecasts: bool, new_series: str,
            future: str | None, chunk_series: int | None, shard: str | None, device: str,
            threads: int | None, quiet: bool, verbose: bool, debug: bool) -> None:
    """Forecast the steps after the end of every series in DATA (a CSV path, a .gz, a
    .parquet, or - / absent for stdin) with MODEL, and write them as CSV to stdout."""
    from forecastr import api
    from forecastr.cli import ui
    from forecastr.data import writer

    ui.setup_logging(quiet, verbose)
    if data is None and sys.stdin.isatty():  # would wait silently for typed CSV
        raise click.UsageError("Missing argument 'DATA' (or pipe the data to stdin).")
    output = None if output == "-" else output  # the convention: - is stdout
    if future == "-" and (data or "-") == "-":  # one stream cannot hold both
        raise click.UsageError("DATA and --future cannot both be stdin: give one of them as "
                               "a file")
    fmt = writer.output_format(fmt, output)
    if fmt == "parquet" and output is None:
        raise click.UsageError("--format parquet writes a binary file: give -o PATH")
    options = dict(horizon=horizon, with_history=with_history,
                   mark_forecasts=mark_forecasts, new_series=new_series,
                   device_spec=device, shard=shard, threads=threads)
    if chunk_series is not None:
        if future is not None:
            raise click.UsageError("--chunk-series reads the future features from the rows "
                                   "past each series' end in DATA; put them there instead of "
                                   "in --future")
        tables = api.predict_chunks(model, data or "-", chunk_series=chunk_series,
                                    output=output, fmt=fmt, **options)
        if output is None:
            _emit_spooled(tables, fmt)
        return
    frame = api.predict(model, data or "-", output=output, fmt=fmt, future=future, **options)
    if output is None:
        emit(writer.render(frame, fmt))


def _emit_spooled(tables: Any, fmt: str) -> None:
    """Chunked predict's tables to stdout, spooled on disk rather than held in memory: all
    forecasts or, on an error in a later chunk (a series that comes back, a bad value),
    none, as without chunks."""
    from forecastr.data import writer

    try:
        spool = tempfile.TemporaryFile()
    except OSError as exc:
        raise _spool_error(exc) from None
    with spool:
        writer.write_tables(tables, fmt, _Spool(spool))
        spool.seek(0)
        emit_stream(spool)


class _Spool:
    """The temporary file chunked CSV or JSON forecasts gather in before stdout (Parquet
    needs -o): a write it cannot take (a full or read-only $TMPDIR) is a one-line error
    that names it."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, data: bytes) -> int:
        try:
            return self.stream.write(data)
        except OSError as exc:
            raise _spool_error(exc) from None


def _spool_error(exc: OSError) -> Exception:
    from forecastr.errors import OutputError

    return OutputError(f"cannot spool the chunked forecasts for stdout in "
                       f"{tempfile.gettempdir()} ({exc.strerror or exc}); give -o PATH to "
                       f"write them to a file instead, or point TMPDIR at a folder with room")


@cli.command()
@click.argument("models", nargs=-1, metavar="MODEL...",
                type=click.Path(dir_okay=True))
@click.argument("data", type=click.Path(allow_dash=True, dir_okay=True))
@click.option("--folds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Forecast origins, stepping back from the end of each series.")
@click.option("--step", type=click.IntRange(min=1),
              help="Steps between origins [default: the horizon].")
@click.option("--horizon", type=click.IntRange(min=1),
              help="Steps scored after each origin [default: the trained horizon].")
@click.option("--season", type=click.IntRange(min=1),
              help="Seasonal period for seasonal naive and MASE [default: from the frequency].")
@click.option("--json", "as_json", is_flag=True,
              help="Write the whole report (overall, per series, per fold, per step) as JSON.")
@click.option("--plot", type=click.Path(dir_okay=False),
              help="Draw history, forecasts and actuals of a few series to this PNG "
                   "(needs matplotlib: pip install -e '.[plot]' from a checkout).")
@click.option("--refit", is_flag=True,
              help="Fit a model of MODEL's configuration on the history before each origin "
                   "and score its forecasts (slower; no score is then in-sample) instead of "
                   "forecasting with MODEL as it is.")
@field_options("device", "threads")
@output_options
def evaluate(models: tuple[str, ...], data: str, folds: int, step: int | None,
             horizon: int | None, season: int | None, as_json: bool, plot: str | None,
             refit: bool, device: str, threads: int | None, quiet: bool, verbose: bool,
             debug: bool) -> None:
    """Backtest MODEL on the tail of DATA from rolling origins and compare it with the naive
    and seasonal naive forecasts and the Theta method's (MAE, RMSE, MAPE, sMAPE, MASE,
    bias). Several models are scored on the same origins, side by side in one table."""
    from forecastr import api
    from forecastr.cli import ui

    if not models:  # one path given: click took it for DATA, the last argument
        raise click.UsageError("Missing argument 'DATA'.")
    if plot == "-":
        raise click.UsageError("--plot -: a PNG cannot go to stdout; give a file path")
    if plot is not None and len(models) > 1:
        raise click.UsageError("--plot draws one model's forecasts: evaluate one MODEL")
    ui.setup_logging(quiet, verbose)
    bar = refit and sys.stderr.isatty() and not quiet  # refits train: as long as a fit
    with ui.training_progress(bar, verbose and refit, folds * len(models)) as on_epoch:
        options = {"folds": folds, "step": step, "season": season, "horizon": horizon,
                   "device_spec": device, "refit": refit, "threads": threads,
                   "on_epoch": on_epoch if refit else None}
        report = api.evaluate(models[0], data, plot_path=plot, **options) \
            if len(models) == 1 else api.compare(list(models), data, **options)
    show = ui.show_evaluation if len(models) == 1 else ui.show_comparison
    emit(ui.json_text(report) if as_json else ui.table_text(show, report,
                                                            stdout_is_terminal()))


def main(argv: list[str] | None = None) -> NoReturn:
    """Run the CLI and turn every outcome into an exit status: 0 ok, 2 bad input or usage,
    1 anything else, 130 interrupted (143 on SIGTERM, 129 on SIGHUP), 141 (quietly) when the
    reader of stdout went away."""
    args = sys.argv[1:] if argv is None else list(argv)
    _ARGUMENTS[:] = args  # fit --nproc starts the same command on each process
    # from the raw arguments: an error in parsing them must show its traceback too
    debug = "--debug" in args or bool(os.environ.get("FORECASTR_DEBUG"))
    several = os.environ.get("WORLD_SIZE", "1") not in ("", "1")  # one of several processes
    if several:
        end_with_launcher()
    stop = StopRequest()
    try:
        with handle_signals(stop):
            code = cli.main(args=args, prog_name="forecastr", standalone_mode=False, obj=stop)
    except click.ClickException as exc:
        code = _click_failed(exc, args)
    except (click.Abort, KeyboardInterrupt, SignalInterrupt):
        code = _stopped(stop, several)
    except Interrupted as exc:
        code = _interrupted(exc, stop, args)
    except ForecastrError as exc:
        code = _failed(_error_line(exc), debug, exc.exit_code)
    except BrokenPipeError:
        silence_stdout()
        code = EXIT_BROKEN_PIPE
    except MemoryError:  # outside the places that say what they were doing
        code = _failed("forecastr: error: out of memory; give less data (fewer or shorter "
                       "series) or smaller options, or run where there is more memory (run "
                       "again with --debug for where)", debug)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for cron users
        code = _failed(f"forecastr: internal error: {type(exc).__name__}: {exc} "
                       f"(run again with --debug for a traceback)", debug)
    _exit(code if isinstance(code, int) else 0, several)


def _click_failed(exc: click.ClickException, args: list[str]) -> int:
    """Click's error in one line like every other error, so that a log shows the whole of
    it; a usage error says where the help is."""
    message = " ".join(exc.format_message().split())
    if isinstance(exc, click.UsageError):
        command = args[0] if args and args[0] in cli.commands else None
        path = exc.ctx.command_path if exc.ctx else " ".join(filter(None, (
            "forecastr", command)))
        message += f" (see '{path} --help')"
    click.echo(f"forecastr: error: {message}", err=True)
    return exc.exit_code


def _stopped(stop: StopRequest, several: bool) -> int:
    """Ctrl-C or a signal outside a fit's own stop."""
    if several:  # most often the launcher, stopping it when another one failed: one
        # line like that one's, and not one that looks like the end of the whole run
        click.echo(f"forecastr: error: rank {os.environ.get('RANK', '0')}: stopped by "
                   f"{signal.Signals(stop.signal or signal.SIGINT).name}, as the "
                   f"launcher stops every process when one fails or when it is stopped "
                   f"itself", err=True)
    else:
        click.echo("forecastr: interrupted" if stop.signal in (None, signal.SIGINT)
                   else "forecastr: terminated", err=True)
    return EXIT_BY_SIGNAL + stop.signal if stop.signal else EXIT_INTERRUPTED


def _interrupted(exc: Interrupted, stop: StopRequest, args: list[str]) -> int:
    """A fit that stopped between batches: how to continue it, when it left a checkpoint."""
    hint = f"; to continue: {_resume_command(args)}" if exc.checkpoint else ""
    if os.environ.get("RANK", "0") == "0":  # of several processes, rank 0 says it
        click.echo(f"forecastr: interrupted: {exc}{hint}", err=True)
    return EXIT_BY_SIGNAL + stop.signal if stop.signal else exc.exit_code


def _failed(message: str, debug: bool, code: int = 1) -> int:
    """`message` on stderr, after the traceback of the exception being handled under
    --debug."""
    if debug:
        traceback.print_exc()
    click.echo(message, err=True)
    return code


def _error_line(exc: ForecastrError) -> str:
    """The library's one-line message; one of several processes names its rank."""
    from forecastr.cli.ui import visible  # messages quote data: never let it steer a terminal

    rank = os.environ.get("RANK", "0")
    return f"forecastr: error: {'' if rank == '0' else f'[rank {rank}] '}{visible(str(exc))}"


def _exit(code: int, several: bool) -> NoReturn:
    if several:  # its output flushed, it ends without C++'s exit-time destructors, where
        # gloo's threads abort the process now and then on a busy machine (std::terminate,
        # SIGABRT)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        if code:  # for the launcher, which cannot tell the order of its processes' ends
            report_status(code)
        os._exit(code)
    sys.exit(code)
