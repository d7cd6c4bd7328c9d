"""`forecastr tune`: a search over fit's options with Optuna's TPE sampler, each trial scored
on rolling origins it never trained on (tuning.holdout); the trials kept in a journal beside
the model file, so that an interrupted search resumes, and in a table; the best options
fitted into an ordinary model file."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from forecastr.config import FitConfig
from forecastr.data import calendar
from forecastr.data.calendar import rhythm
from forecastr.data.panel import Panel
from forecastr.data.reader import read_panel
from forecastr.data.writer import check_writable
from forecastr.errors import ConfigError, Interrupted
from forecastr.training import checkpoint as checkpoints
from forecastr.training.fitting import FitResult, fit
from forecastr.training.stopping import StopRequest
from forecastr.tuning import holdout as scoring
from forecastr.tuning.space import Space, default_space, describe, starting_options
from forecastr.tuning.trial_loop import (
    STUDY,
    Search,
    load_optuna,
    report,
    run_in_parallel,
    run_trials,
    search_interrupted,
    storage,
)
from forecastr.tuning.trials import TrialRecord

log = logging.getLogger(__name__)
# below this many scored forecasts the best trial's edge is mostly noise: on one series and
# 3 origins a tune did worse than the defaults on 6 of 10 benchmark sets, on panels better
# on 7 of 9 (bench/results/tune_budget.md)
FEW_FORECASTS = 6


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
    optuna = load_optuna()
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
                           rhythm(panel.schema.freq).season).within_history()
    search = Search(base, space or default_space(base), held, held.training_panel(),
                    base.seed, stop, journal)
    if (forecasts := held.forecasts) < FEW_FORECASTS:
        log.warning("%s: trials are scored on %d forecasts only (series x origins); the "
                    "best of them on so few often does worse than the defaults on new data: "
                    "give more --folds, or compare the model with a default fit in evaluate",
                    panel.source, forecasts)
    study = _study(optuna, journal, search, resume)
    references = scoring.references(held)
    reported: set[int] = set()
    with _each_message_once():  # the final fit reads the same data as the trials
        try:
            with stop.deferred():  # a signal stops the search at a batch or a trial's end
                stopped = run_in_parallel(optuna, study, search, trials, max_time, jobs,
                                          table, on_trial, reported) if jobs > 1 else \
                    run_trials(optuna, study, search, trials, max_time, 0, table, on_trial,
                               reported)
                if stop.requested():  # asked while the last trials ended elsewhere
                    raise search_interrupted(search, "after its trials, before the final fit")
        except Interrupted:  # the table shows the trials cut short too
            report(study, table, None, reported, trials)
            raise
        records = report(study, table, on_trial, reported, trials)
        best, fitted = _fit_best(records, search, output, refit, resume)
    return TuneResult(best, next((r for r in records if r.defaults), None),
                      references, records, stopped, fitted, journal, table)


def _fit_best(records: list[TrialRecord], search: Search, output: str | Path | None,
              refit: bool, resume: bool) -> tuple[TrialRecord, FitResult]:
    """The best trial (the earliest of equal scores), and its options fitted on every
    series' whole history (`refit`) or on the history its trial trained on; a final fit
    interrupted before resumes from its checkpoint."""
    done = [r for r in records if r.state == "complete"]
    if not done:
        failed = next((r.error for r in records if r.error), "no trial finished")
        raise ConfigError(f"tune: every trial failed; the first: {failed}")
    best = min(done, key=lambda r: (r.score, r.number))
    log.info("tune: fitting trial %d's options on %s", best.number,
             "every series' whole history" if refit else "the history before the origins")
    checkpoint = checkpoints.path_for(output) if output is not None else None
    fitted = fit(search.holdout.panel if refit else search.training,
                 dataclasses.replace(search.base, **best.options), output, stop=search.stop,
                 resume=resume and checkpoint is not None and checkpoint.is_file())
    return best, fitted


@contextlib.contextmanager
def _each_message_once() -> Iterator[None]:
    """Within, a log message said before is not said again: every trial and the final fit
    read the same data, and each fit would repeat the same warnings."""
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
    study = optuna.create_study(study_name=STUDY, storage=storage(journal),
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
