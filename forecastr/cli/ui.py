"""Everything the user reads: rich tables on a terminal, JSON for scripts, and the stderr
log handler. Imported only by cli/commands.py; the library never prints."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import shutil
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

SERIES_SHOWN = 20  # longer panels are summarised; --json lists every series


def setup_logging(quiet: bool, verbose: bool) -> None:
    """Send the library's log records to stderr as `forecastr: warning: ...` lines."""
    logger = logging.getLogger("forecastr")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("forecastr: %(levelname_lower)s: %(message)s"))
    handler.addFilter(_lowercase_level)
    logger.addHandler(handler)
    logger.setLevel(logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


def _lowercase_level(record: logging.LogRecord) -> bool:
    record.levelname_lower = record.levelname.lower()
    return True


def table_text(show: Callable[[dict[str, Any], Console], None], report: dict[str, Any],
               terminal: bool) -> str:
    """What `show` prints for `report`, as text: laid out for the terminal's width, with
    styles, when stdout is one. The CLI writes that text itself, because rich writing to a
    pipe exits 1 when the reader has gone (`| head -1`) instead of the 141 of every command."""
    buffer = io.StringIO()
    look = {"force_terminal": True, "width": shutil.get_terminal_size().columns} \
        if terminal else {}
    # ids, columns and paths are data: shown as they are, never read as rich markup
    show(visible(report), Console(file=buffer, highlight=False, markup=False, **look))
    return buffer.getvalue()


def visible(value: Any) -> Any:
    """Text (and the texts inside dicts and lists) with control characters written as escapes
    (an ESC as \\x1b, a carriage return as \\r), so that data cannot steer the terminal."""
    if isinstance(value, str):
        return "".join(c if c.isprintable() else c.encode("unicode_escape").decode()
                       for c in value)
    if isinstance(value, dict):
        return {key: visible(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [visible(item) for item in value]
    return value


def json_text(data: Any) -> str:
    """Indented strict JSON: NaN and infinities (which JSON has no words for) become null."""
    return json.dumps(_finite_or_none(data), indent=2, allow_nan=False) + "\n"


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def show_inspect(report: dict[str, Any], console: Console) -> None:
    """Two tables: what the file is, then one row per series (the first SERIES_SHOWN)."""
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    time_axis = report["time_col"] or "(none: row order)"
    if report["time_kind"] == "datetime":
        time_axis += f", frequency {report['freq']}" + (f", {report['tz']}" if report["tz"] else "")
    elif report["time_kind"] == "integer":
        time_axis += f", integer steps of {report['step']}"
    rows = [("source", report["source"]), ("layout", report["layout"]), ("time", time_axis)]
    if report["id_col"]:
        rows.append(("id column", report["id_col"]))
    rows += [("targets", ", ".join(report["targets"])),
             ("features", ", ".join(report["features"]) or "(none)"),
             *[(label, ", ".join(report[key])) for key, label in
               (("future_features", "future features"), ("static_features", "static features"))
               if report[key]],
             ("series", f"{report['n_series']} with {report['n_points']:,} points"),
             ("gaps filled", f"{report['filled']:,} points"),
             ("windows", _windows_text(report["windows"]))]
    for key, value in rows:
        summary.add_row(key, value)
    console.print(summary)
    table = Table(title=None, show_lines=False)
    for name, justify in [("series", "left"), ("length", "right"), ("start", "left"),
                          ("end", "left"), ("filled", "right")]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for item in report["series"][:SERIES_SHOWN]:
        table.add_row(item["id"], f"{item['length']:,}", str(item["start"]), str(item["end"]),
                      f"{item['filled']:,}")
    console.print(table)
    if report["n_series"] > SERIES_SHOWN:
        console.print(f"... and {report['n_series'] - SERIES_SHOWN} more series (--json lists all)")


def _windows_text(windows: dict[str, Any]) -> str:
    shape = f"window {windows['window']} + horizon {windows['horizon']}"
    if "error" in windows:
        return f"{shape}: none possible"
    text = f"{shape}: {windows['train']:,} training, {windows['val']:,} validation"
    if windows["padded"]:
        text += f"; {len(windows['padded'])} series left-padded"
    if windows["skipped"]:
        text += f"; {len(windows['skipped'])} series too short, skipped"
    return text


@contextlib.contextmanager
def training_progress(bar: bool, per_epoch_lines: bool, fits: int = 1
                      ) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Yield an on_epoch callback: a rich bar of optimizer steps on a terminal (its bound is
    the smaller of --max-steps and --epochs' steps), else optional log lines. Of several
    `fits` (evaluate --refit), the stats' `fit` says which one an epoch belongs to."""
    log = logging.getLogger("forecastr")

    def which(stats: dict[str, Any]) -> str:
        return f"refit {stats['fit']}/{stats['fits']}, " if "fit" in stats else ""

    if not bar:
        def report(stats: dict[str, Any]) -> None:
            if per_epoch_lines:
                log.info("%sepoch %d/%d, step %d/%d: %s; %s", which(stats), stats["epoch"],
                         stats["epochs"], stats["step"], stats["steps"], _epoch_text(stats),
                         time_left(stats))

        yield report
        return
    # the step count as text of its own: the bar's total is unknown until an epoch ends
    columns = (TextColumn("{task.fields[steps]}"), BarColumn(),
               TextColumn("{task.fields[status]}"), TimeRemainingColumn())
    waiting = f"refit 1/{fits}, first epoch" if fits > 1 else "first epoch"
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task("fit", total=None, status="", steps=waiting)

        def advance(stats: dict[str, Any]) -> None:
            progress.update(task, completed=stats["step"], total=stats["steps"],
                            status=_epoch_text(stats),
                            steps=f"{which(stats)}step {stats['step']:,}/{stats['steps']:,}")

        yield advance
        progress.update(task, total=progress.tasks[0].completed)  # stopped early: a full bar


def time_left(stats: dict[str, Any]) -> str:
    """The time the remaining steps take at the pace so far: an upper bound, since early
    stopping may end training sooner."""
    left = stats["seconds"] / max(stats["step"], 1) * (stats["steps"] - stats["step"])
    minutes, seconds = divmod(round(left), 60)
    shown = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
    return f"at most {shown} left" if stats["step"] < stats["steps"] else "no steps left"


def _epoch_text(stats: dict[str, Any]) -> str:
    val = "-" if stats["val_loss"] is None else f"{stats['val_loss']:.4f}"
    return (f"train {stats['train_loss']:.4f}  val {val}  best {stats['best_epoch']}  "
            f"lr {stats['lr']:.2g}  {stats['windows_per_second']:,.0f} windows/s")


# why training ended, as the summary line says it
STOP_TEXT = {"epochs": "reached --epochs {epochs}", "max_steps": "reached --max-steps {steps}",
             "max_time": "reached --max-time {max_time:g} s",
             "patience": "no better {monitored} loss for --patience {patience}"}


def counted(n: int, thing: str) -> str:
    """'1 epoch', '2 epochs', '1,000 steps'."""
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def fit_summary(training: dict[str, Any], cfg: Any, output: str | None) -> str:
    """One line that says what was trained, how it went, why it stopped and where it went."""
    members = f"ensemble of {cfg.ensemble} " if cfg.ensemble > 1 else ""
    reason = STOP_TEXT.get(training["stopped"], training["stopped"]).format(
        epochs=cfg.epochs, steps=training.get("steps", 0), max_time=cfg.max_time,
        monitored=training["monitored"], patience=counted(cfg.patience, "epoch"))
    text = (f"trained {members}{cfg.cell} {cfg.mode} ({training['parameters']:,} parameters) "
            f"for {counted(training['epochs_run'], 'epoch')} "
            f"({counted(training.get('steps', 0), 'step')}) in "
            f"{training['seconds']:.1f} s on {training['device']}{_threads(training)} "
            f"({training['windows_per_second']:,.0f} windows/s), stopped: {reason}; best "
            f"{training['monitored']} loss {training['best_loss']:.4f} at epoch "
            f"{training['best_epoch']}{kept(training, cfg.baseline)}")
    return text + (f"; wrote {output}" if output else "")


def kept(training: dict[str, Any], baseline: str) -> str:
    """What the model forecasts with, against its starting point: ' (the theta starting
    point's: 0.0102; 11% lower)', or, when no epoch beat it, that the model is that
    starting point; nothing for a model without one (or a file that predates the record)."""
    start = training.get("baseline_loss")
    if start is None:
        return ""
    if training["best_epoch"] == 0:
        return (f": no epoch beat the {baseline} starting point, so the model forecasts "
                f"{baseline} alone")
    better = _share_below(training["best_loss"], start)
    return f" (the {baseline} starting point's: {start:.4f}; {better:.0%} lower)"


def _share_below(best: float, start: float) -> float:
    """How much lower the kept network's validation loss is than its starting point's, as a
    share of the latter (0 where the start's is 0: nothing is below it)."""
    return 1 - best / start if start > 0 else 0.0


def starting_point_text(start: dict[str, Any] | None) -> str | None:
    """What a model forecasts with, from its starting-point record (Artifact.starting_point),
    as info and evaluate say it; None where the file does not say."""
    start = start or {}
    baseline, kept = start.get("baseline"), start.get("kept")
    if kept == "baseline":
        return (f"the model forecasts its {baseline} starting point alone: no epoch of its "
                f"training beat it on validation")
    if kept == "network":
        base, best = start["baseline_loss"], start["best_loss"]
        lower = f", {_share_below(best, base):.0%} lower" if base > 0 else ""
        # four decimals, as the fit's summary line gives the same two losses
        return (f"the model forecasts with its trained network: validation loss {best:.4f} "
                f"against its {baseline} starting point's {base:.4f}{lower}")
    return None


def _threads(training: dict[str, Any]) -> str:
    """' with 1 thread' on the CPU (where the count matters); nothing where a file predates
    the count or the model trained on a GPU."""
    count = training.get("threads")
    if count is None or not training["device"].startswith("cpu"):
        return ""
    return f" with {count} thread{'s' if count > 1 else ''}"


def show_info(report: dict[str, Any], console: Console) -> None:
    """The model file as four small tables (architecture, data, training, configuration) and
    a line on what it forecasts with."""
    for title in ("architecture", "data", "training", "config"):
        table = Table(title="configuration" if title == "config" else title, show_header=False,
                      title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        for key, value in report[title].items():
            if value is None or isinstance(value, (list, tuple)):
                value = ", ".join(str(v) for v in value or ()) or "(none)"
            elif isinstance(value, float):
                value = f"{value:.4g}"
            table.add_row(key, str(value))
        console.print(table)
    if said := starting_point_text(report.get("starting_point")):
        console.print(said)
    console.print(f"written by forecastr {report['versions'].get('forecastr')} with torch "
                  f"{report['versions'].get('torch')}")


METRICS = ("mae", "rmse", "mape", "smape", "mase", "bias")
LABELS = {"smape": "sMAPE %", "mape": "MAPE %"}  # percentages; the others are in data units


def verdict(to_seasonal: float, to_naive: float, to_theta: float = float("nan")) -> str:
    """The model's MASE beside the references', judged against the best of them."""
    ratios = {"seasonal naive": to_seasonal, "naive": to_naive, "theta": to_theta}
    known = {name: r for name, r in ratios.items() if r == r}
    if not known:
        return "MASE relative to the baselines: undefined (see below)"
    shown = ", ".join(f"{r:.3f} to {name}" for name, r in known.items())
    best = max(known, key=known.get)  # the best reference has the largest ratio against it
    word = "better than" if known[best] < 1 else "no better than"
    return (f"MASE relative to the references: {shown} (the model is {word} the best of "
            f"them, {best})" if len(known) > 1 else
            f"MASE relative to {best}: {known[best]:.3f} (the model is {word} {best})")


def show_evaluation(report: dict[str, Any], console: Console) -> None:
    """The overall metrics of the model beside the baselines, and the verdict in one line."""
    overall = report["overall"]
    console.print(f"{report['data']}: {report['forecasts']} forecasts of {report['horizon']} "
                  f"steps from {report['folds']} origin(s), {report['step']} steps apart; "
                  f"season {report['season']}"
                  f"{'; refitted on the history before each origin' if report['refit'] else ''}")
    table = Table()
    table.add_column("metric")
    for name in ("model", "naive", "seasonal naive", "theta"):
        table.add_column(name, justify="right")
    for metric in METRICS:
        cells = [overall[m][metric] for m in ("model", "naive", "seasonal_naive", "theta")
                 if m in overall]  # a report of an older forecastr has no theta
        best = min((abs(c) for c in cells if c == c), default=None)
        table.add_row(LABELS.get(metric, metric.upper()),
                      *[_metric_text(c, best) for c in cells])
    console.print(table)
    relative = overall["relative_mase"]
    console.print(verdict(relative, overall["relative_mase_naive"],
                          overall.get("relative_mase_theta", float("nan"))))
    if said := starting_point_text(report.get("starting_point")):
        console.print(said)
    if inside := report.get("in_sample_forecasts"):
        console.print(f"{inside} of {report['forecasts']} forecasts start inside the data the "
                      f"model was trained on: their scores are in-sample and flatter it; "
                      f"evaluate on data that goes on past its training, or pass --refit")
    if report["mape_skipped_zeros"]:
        console.print(f"MAPE skipped {report['mape_skipped_zeros']} zero actual(s)")
    if flat := report["mase_skipped_series"]:
        console.print(f"MASE left out {len(flat)} series ({visible(repr(flat[0]))}"
                      f"{', ...' if len(flat) > 1 else ''}) whose history never changed: "
                      f"seasonal naive's in-sample error is 0, so their MASE is undefined"
                      f"{' (shown as -)' if relative != relative else ''}")
    _show_probabilistic(overall["model"], console)


def show_comparison(report: dict[str, Any], console: Console) -> None:
    """Several models' overall metrics on the same origins, the references once, and a
    verdict for each model."""
    console.print(f"{report['data']}: {report['forecasts']} forecasts of {report['horizon']} "
                  f"steps per model from {report['folds']} origin(s), {report['step']} steps "
                  f"apart; season {report['season']}"
                  f"{'; refitted on the history before each origin' if report['refit'] else ''}")
    rows = [(visible(m["model"]), m["scores"]) for m in report["models"]]
    rows += [(name.replace("_", " "), scores) for name, scores in report["references"].items()]
    table = Table()
    table.add_column("forecast")
    for metric in METRICS:
        table.add_column(LABELS.get(metric, metric.upper()), justify="right")
    best = {metric: min((abs(s[metric]) for _, s in rows if s[metric] == s[metric]),
                        default=None) for metric in METRICS}
    for name, scores in rows:
        table.add_row(name, *[_metric_text(scores[metric], best[metric]) for metric in METRICS])
    console.print(table)
    for model in report["models"]:
        line = verdict(model["relative_mase"], model["relative_mase_naive"],
                       model["relative_mase_theta"])
        notes = []
        start = model["starting_point"] or {}
        if start.get("kept") == "baseline":
            notes.append(f"forecasts its {start['baseline']} starting point alone")
        elif start.get("kept") == "network" and start["baseline_loss"] > 0:
            below = _share_below(start["best_loss"], start["baseline_loss"])
            notes.append(f"its network's validation loss {below:.0%} below its "
                         f"{start['baseline']} starting point's")
        if model["in_sample_forecasts"]:
            notes.append(f"{model['in_sample_forecasts']} forecasts in-sample")
        console.print(f"{visible(model['model'])}: {line}"
                      + (f" ({'; '.join(notes)})" if notes else ""))
    if report["best"] is not None and len(report["models"]) > 1:
        console.print(f"best by MASE: {visible(report['best'])}")


def _show_probabilistic(model: dict[str, Any], console: Console) -> None:
    """Quantile losses and interval coverage, with intervals off their level flagged."""
    if model.get("quantiles"):
        table = Table(title="quantiles")
        for column in ("quantile", "pinball loss", "scaled pinball"):
            table.add_column(column, justify="right")
        for q, scores in model["quantiles"].items():
            table.add_row(q, _metric_text(scores["pinball"], None),
                          _metric_text(scores["scaled_pinball"], None))
        console.print(table)
    if model.get("intervals"):
        table = Table(title="intervals")
        for column in ("level", "coverage", "width", "scaled width"):
            table.add_column(column, justify="right")
        for level, scores in model["intervals"].items():
            coverage = f"{100 * scores['coverage']:.1f}%"
            if scores["off"]:  # more than 5 points from the nominal level
                coverage = Text(f"{coverage} (off)", style="bold red")
            table.add_row(f"{level}%", coverage, _metric_text(scores["width"], None),
                          _metric_text(scores["scaled_width"], None))
        console.print(table)
        if any(scores["off"] for scores in model["intervals"].values()):
            console.print("(off): coverage more than 5 points from the nominal level")


def _metric_text(value: float, best: float | None) -> str | Text:
    if value != value:
        return "-"
    text = f"{value:,.4g}"
    return Text(text, style="bold") if best is not None and abs(value) == best else text


def trial_line(record: Any, trials: int) -> None:
    """A finished trial on stderr: its number, score, time and options."""
    score = f"MASE {record.score:.4f}" if record.score is not None else record.state
    why = f" ({record.error})" if record.error else ""
    options = ", ".join(f"{k}={_short(v)}" for k, v in record.options.items())
    click.echo(f"forecastr: trial {record.number} of {trials}: {score}{why} in "
               f"{record.seconds or 0:.1f} s; {options}", err=True)


def tune_summary(result: Any, output: str) -> str:
    """One line: how the search went, the best trial against the defaults and the
    references on the same origins, its options and where it all went."""
    done = sum(r.state == "complete" for r in result.trials)
    refs = ", ".join(f"{name.replace('_', ' ')} {value:.4f}"
                     for name, value in result.references.items())
    defaults = result.defaults
    against = (f", the defaults' {defaults.score:.4f}" if defaults is not None
               and defaults.score is not None else "")
    options = ", ".join(f"{k}={_short(v)}" for k, v in result.best.options.items())
    stopped = "the --max-time bound" if result.stopped == "max_time" else "--trials done"
    return (f"tuned: {counted(done, 'trial')} scored ({len(result.trials)} run, stopped: "
            f"{stopped}); best MASE {result.best.score:.4f} (trial {result.best.number})"
            f"{against}; {refs} on the same origins; best options {options}; wrote {output}"
            + (f", trials in {result.table}" if result.table else ""))


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
