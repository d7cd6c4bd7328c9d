"""`forecastr tune`: a search over fit's options with Optuna's TPE sampler, each trial scored
on rolling origins it never trained on (tuning.holdout); the trials kept in a journal beside
the model file, so that an interrupted search resumes, and in a table; the best options
fitted into an ordinary model file."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from forecastr.config import FitConfig
from forecastr.data import calendar
from forecastr.data.calendar import rhythm
from forecastr.data.panel import Panel
from forecastr.data.reader import read_panel
from forecastr.data.writer import check_writable
from forecastr.errors import ConfigError, ForecastrError, Interrupted
from forecastr.training import checkpoint as checkpoints
from forecastr.training.fitting import FitResult, fit
from forecastr.training.stopping import StopRequest
from forecastr.tuning import holdout as scoring
from forecastr.tuning.space import Space, default_space, describe, starting_options, suggest

log = logging.getLogger(__name__)
STUDY = "forecastr-tune"


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the table shows it."""

    number: int  # from 1, in the order the trials started
    state: str  # complete, failed, cut short (run again on resuming), or running
    score: float | None  # MASE over the held-out origins
    seconds: float | None
    options: dict[str, Any]
    error: str | None = None
    defaults: bool = False  # the defaults' options (the first trial of a search)


@dataclass(frozen=True)
class TuneResult:
    best: TrialRecord
    defaults: TrialRecord | None
    references: dict[str, float]  # naive, seasonal_naive, theta: MASE on the same origins
    trials: list[TrialRecord]
    stopped: str  # "trials" (the number asked for is done) or "max_time"
    fitted: FitResult  # the best options fitted on every series' whole history
    journal: Path | None
    table: Path | None


@dataclass(frozen=True)
class Search:
    """What every trial of one search reads."""

    base: FitConfig  # settled for the data
    space: Space
    holdout: scoring.Holdout
    training: Panel  # the series up to the earliest held-out origin
    seed: int
    stop: StopRequest
    journal: Path | None  # where the trials are kept, for a resumed search


def journal_path(output: str | Path) -> Path:
    return Path(f"{output}.tune")


def table_path(output: str | Path) -> Path:
    return Path(output).with_suffix(".trials.csv")


def tune(source: str | Path | BinaryIO | Panel, cfg: FitConfig | None = None,
         output: str | Path | None = None, *, space: Space | None = None, trials: int = 20,
         max_time: float = 0.0, folds: int = 3, step: int | None = None,
         resume: bool = False, table: str | Path | None = None, refit: bool = True,
         on_trial: Callable[[TrialRecord, int], None] | None = None,
         stop: StopRequest | None = None, jobs: int = 1) -> TuneResult:
    """Search fit's options for DATA and fit the best into OUTPUT.

    Trials run until `trials` are done (a resumed search counts the earlier ones) or
    `max_time` seconds have passed (0: no bound; a trial under way is cut short at it). The
    first trial of a search is the defaults' options (those in the space). With an
    `output`, the trials are kept in OUTPUT.tune and `resume=True` goes on from them; the
    table goes to `table` (default OUTPUT's name with .trials.csv; .json for JSON). The
    best options are fitted on every series' whole history (`refit`), or as the trial was
    (on the history before the held-out origins). `stop` stops the search between two
    batches: Interrupted, with the finished trials kept. `jobs` > 1 runs that many trials
    at once in as many processes (each on one thread, sharing the journal: an output is
    needed); the trials they draw then depend on which finishes first.
    """
    optuna = _optuna()
    cfg, stop = cfg or FitConfig(), stop or StopRequest()
    journal = journal_path(output) if output is not None else None
    table = Path(table) if table is not None else table_path(output) if output else None
    if jobs > 1 and journal is None:
        raise ConfigError("--jobs: processes share the trials through OUTPUT.tune; give an "
                          "output")
    _check_files(source, output, journal, table, resume)
    panel = source if isinstance(source, Panel) else read_panel(source, cfg)
    base = calendar.settle(cfg, panel.schema.freq)
    if base.dayfirst is None and panel.dayfirst is not None:
        base = dataclasses.replace(base, dayfirst=panel.dayfirst)
    held = scoring.Holdout(panel, base.horizon, folds, step or base.horizon,
                           rhythm(panel.schema.freq).season)
    search = Search(base, space or default_space(base), held, held.training_panel(),
                    base.seed, stop, journal)
    study = _study(optuna, journal, search, resume)
    references = scoring.references(held)
    reported: set[int] = set()
    with _each_message_once():
        try:
            stopped = _run_in_parallel(optuna, study, search, trials, max_time, jobs, table,
                                       on_trial, reported) if jobs > 1 else \
                _run_trials(optuna, study, search, trials, max_time, 0, table, on_trial,
                            reported)
        except Interrupted:  # the table shows the trials cut short too
            _report(study, table, None, reported, trials)
            raise
    records = _report(study, table, on_trial, reported, trials)
    done = [r for r in records if r.state == "complete"]
    if not done:
        failed = next((r.error for r in records if r.error), "no trial finished")
        raise ConfigError(f"tune: every trial failed; the first: {failed}")
    best = min(done, key=lambda r: (r.score, r.number))
    chosen = dataclasses.replace(base, **best.options)
    log.info("tune: fitting trial %d's options on %s", best.number,
             "every series' whole history" if refit else "the history before the origins")
    checkpoint = checkpoints.path_for(output) if output is not None else None
    fitted = fit(panel if refit else search.training, chosen, output, stop=stop,
                 resume=resume and checkpoint is not None and checkpoint.is_file())
    return TuneResult(best, next((r for r in records if r.defaults), None),
                      references, records, stopped, fitted, journal, table)


@contextlib.contextmanager
def _each_message_once() -> Iterator[None]:
    """Within, a log message said before is not said again: every trial reads the same data,
    and its fit would repeat the same warnings."""
    said: set[tuple[int, str]] = set()

    def first_time(record: logging.LogRecord) -> bool:
        key = (record.levelno, record.getMessage())
        new = key not in said
        said.add(key)
        return new

    logger = logging.getLogger("forecastr")
    # where the messages go: the logger's handlers, the root's, or Python's last resort
    handlers = logger.handlers or logging.getLogger().handlers or [logging.lastResort]
    for handler in handlers:
        handler.addFilter(first_time)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(first_time)


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError("forecastr tune needs Optuna, an optional extra: pip install "
                          "'forecastr[tune]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _check_files(source: Any, output: str | Path | None, journal: Path | None,
                 table: Path | None, resume: bool) -> None:
    inputs = {} if isinstance(source, Panel) else {"DATA": source}
    for path in (output, table):
        if path is not None:
            check_writable(path, inputs=inputs)
    if resume and (journal is None or not journal.is_file()):
        raise ConfigError(f"--resume: no search {journal or '(no output given)'} to continue; "
                          f"run without --resume to start one")
    if not resume and journal is not None and journal.is_file():
        log.warning("%s: an earlier search's trials are there; this search starts afresh and "
                    "replaces them (pass --resume to continue that search instead)", journal)
        journal.unlink()


def _study(optuna: Any, journal: Path | None, search: Search, resume: bool) -> Any:
    """A new study (its first trial the defaults'), or the one the journal holds, checked to
    be a search of the same space and scoring."""
    study = optuna.create_study(study_name=STUDY, storage=_storage(journal),
                                direction="minimize", load_if_exists=resume)
    held = search.holdout
    identity = {"space": describe(search.space), "horizon": held.horizon,
                "folds": held.folds, "step": held.step, "seed": search.seed,
                "data": held.panel.source, "series": held.panel.n_series}
    if not resume:
        for key, value in identity.items():
            study.set_user_attr(key, value)
        study.enqueue_trial(starting_options(search.base, search.space),
                            user_attrs={"defaults": True})
        return study
    for key, value in identity.items():
        if study.user_attrs.get(key) != value and key != "data":
            raise ConfigError(f"--resume: {journal} is a search with another {key} "
                              f"({study.user_attrs.get(key)!r}, here {value!r}); run it "
                              f"with the same options, or start afresh without --resume")
    for trial in study.get_trials(deepcopy=False):  # cut short: run again
        if trial.state == optuna.trial.TrialState.RUNNING:
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            study.enqueue_trial(trial.params, user_attrs=trial.user_attrs)
    return study


def _storage(journal: Path | None) -> Any:
    """Optuna's journal file (processes share it, and a search resumes from it), or memory."""
    from optuna.storages import InMemoryStorage, JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(journal))) if journal is not None \
        else InMemoryStorage()


def _run_trials(optuna: Any, study: Any, search: Search, trials: int, max_time: float,
                worker: int = 0, table: Path | None = None,
                on_trial: Callable[[TrialRecord, int], None] | None = None,
                reported: set[int] | None = None) -> str:
    """Trials until `trials` are done or under way, or `max_time` is spent; why it stopped.
    Several processes (`worker` 0, 1, ...) may run this on one study at once; after each of
    its trials, this one writes the table and reports every trial finished since."""
    started, reported = time.monotonic(), set() if reported is None else reported
    while True:
        left = max_time - (time.monotonic() - started) if max_time else math.inf
        if left <= 0:
            return "max_time"
        with _in_turn(search.journal):  # no two processes count and start at once
            counted = [t for t in study.get_trials(deepcopy=False) if not _cut_short(t)]
            if sum(t.state.name != "WAITING" for t in counted) >= trials:
                return "trials"
            # seeded by the number of trials before it, not counting those cut short (run
            # again), the sampler draws in a resumed search as in one never interrupted
            study.sampler = optuna.samplers.TPESampler(seed=int(np.random.SeedSequence(
                [search.seed, len(counted), worker]).generate_state(1)[0]))
            trial = study.ask()
        _trial(optuna, study, trial, search, left)
        _report(study, table, on_trial, reported, trials)


@contextlib.contextmanager
def _in_turn(journal: Path | None) -> Iterator[None]:
    """Within, this process alone among those sharing the journal (an exclusive flock on
    it; Optuna's own lock is another file)."""
    if journal is None:
        yield
        return
    import fcntl

    with open(journal, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


def _report(study: Any, table: Path | None,
            on_trial: Callable[[TrialRecord, int], None] | None, reported: set[int],
            trials: int) -> list[TrialRecord]:
    """Rewrite the table, and report the trials finished since the last report."""
    records = _records(study)
    if table is not None:
        write_table(records, table)
    for record in records:
        if record.state in ("complete", "failed") and record.number not in reported:
            reported.add(record.number)
            if on_trial is not None:
                on_trial(record, trials)
    return records


def _run_in_parallel(optuna: Any, study: Any, search: Search, trials: int,
                     max_time: float, jobs: int, table: Path | None,
                     on_trial: Callable[[TrialRecord, int], None] | None,
                     reported: set[int]) -> str:
    """This process runs trials as worker 0 while jobs - 1 others run theirs on the same
    journal; a stop asked of this one is passed on to them, and each stops its trial at the
    next batch. They are waited for before the result is read."""
    import multiprocessing
    import signal

    context = multiprocessing.get_context("spawn")  # torch and forked threads do not mix
    others = [context.Process(target=_worker, args=(search, trials, max_time, number),
                              daemon=True) for number in range(1, jobs)]
    for process in others:
        process.start()
    try:
        stopped = _run_trials(optuna, study, search, trials, max_time, 0, table, on_trial,
                              reported)
    except BaseException:
        for process in others:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGINT)
        raise
    finally:
        for process in others:
            process.join(timeout=600)
            if process.is_alive():
                process.terminate()
                process.join()
    failed = [p.exitcode for p in others if p.exitcode]
    if failed:
        raise ForecastrError(f"tune: a trial process ended with status {failed[0]}; the "
                             f"finished trials are kept in {search.journal}")
    return stopped


def _worker(search: Search, trials: int, max_time: float, number: int) -> None:
    """A process that runs trials beside the first: quiet but for errors, stopped by the
    first (SIGINT) at its next batch, its trial then cut short and run again on --resume."""
    from forecastr.training.stopping import handle_signals

    logging.getLogger("forecastr").setLevel(logging.ERROR)
    optuna = _optuna()
    study = optuna.load_study(study_name=STUDY, storage=_storage(search.journal))
    stop = StopRequest()
    with handle_signals(stop):
        try:
            _run_trials(optuna, study, dataclasses.replace(search, stop=stop), trials,
                        max_time, number)
        except Interrupted:
            pass


def _trial(optuna: Any, study: Any, trial: Any, search: Search, left: float) -> None:
    """Fit and score one trial, and tell the study."""
    options = suggest(trial, search.space)
    cfg = dataclasses.replace(search.base, **options)
    if math.isfinite(left):
        cfg = dataclasses.replace(cfg, max_time=min(cfg.max_time or left, left))
    begun = time.perf_counter()
    try:
        fitted = fit(search.training, cfg, stop=search.stop).artifact
        from forecastr.network import device

        scored = scoring.score(search.holdout, fitted, device.resolve_device(cfg.device))
    except Interrupted:  # run again first when the search resumes
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs=dict(trial.user_attrs))
        kept = f"kept in {search.journal}" if search.journal else "lost (no output given)"
        raise Interrupted(f"tune stopped during trial {trial.number + 1}; the finished trials "
                          f"are {kept}", None if search.journal is None
                          else str(search.journal)) from None
    except ForecastrError as exc:
        trial.set_user_attr("error", str(exc))
        trial.set_user_attr("seconds", time.perf_counter() - begun)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        log.warning("tune: trial %d failed: %s", trial.number + 1, exc)
        return
    trial.set_user_attr("seconds", time.perf_counter() - begun)
    study.tell(trial, scoring.mase(scored))


def _cut_short(trial: Any) -> bool:
    """A trial stopped by a signal or a killed process: failed without an error."""
    return trial.state.name == "FAIL" and "error" not in trial.user_attrs


def _records(study: Any) -> list[TrialRecord]:
    states = {"COMPLETE": "complete", "FAIL": "failed", "RUNNING": "running",
              "PRUNED": "failed"}
    return [TrialRecord(t.number + 1, "cut short" if _cut_short(t) else states[t.state.name],
                        t.value, t.user_attrs.get("seconds"),
                        dict(t.params), t.user_attrs.get("error"),
                        bool(t.user_attrs.get("defaults")))
            for t in study.get_trials(deepcopy=False) if t.state.name != "WAITING"]


def write_table(records: list[TrialRecord], path: str | Path) -> None:
    """Every trial, one row each (its number, state, score, seconds, error, then its
    options), atomically as CSV, or as JSON lines (one object per trial, as predict
    writes JSON) where the name ends in .json."""
    import pandas as pd

    from forecastr.data.writer import render_bytes, write_bytes

    rows = [{"trial": r.number, "state": r.state, "mase": r.score, "seconds": r.seconds,
             "defaults": r.defaults, "error": r.error or "", **r.options} for r in records]
    fmt = "json" if str(path).endswith(".json") else "csv"
    write_bytes(render_bytes(pd.DataFrame(rows), fmt), path)
