"""The loop that runs a search's trials, in this process or in several at once: each trial's
options drawn by Optuna's sampler, fitted before the held-out origins and scored on them,
and told to the study; the study kept in a journal file that the processes share."""

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
from typing import Any

import numpy as np

from forecastr.config import FitConfig
from forecastr.data.panel import Panel
from forecastr.errors import ConfigError, ForecastrError, Interrupted
from forecastr.training.fitting import fit
from forecastr.training.stopping import StopRequest
from forecastr.tuning import holdout as scoring
from forecastr.tuning.space import Space, suggest
from forecastr.tuning.trials import TrialRecord, cut_short, report

log = logging.getLogger(__name__)
STUDY = "forecastr-tune"


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


def load_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError("forecastr tune needs Optuna, an optional extra: pip install "
                          "'forecastr[tune]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def storage(journal: Path | None) -> Any:
    """Optuna's journal file (processes share it, and a search resumes from it), or memory."""
    from optuna.storages import InMemoryStorage, JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(journal))) if journal is not None \
        else InMemoryStorage()


def run_trials(optuna: Any, study: Any, search: Search, trials: int, max_time: float,
                worker: int = 0, table: Path | None = None,
                on_trial: Callable[[TrialRecord, int], None] | None = None,
                reported: set[int] | None = None) -> str:
    """Trials until `trials` are done or under way, or `max_time` is spent; why it stopped.
    Several processes (`worker` 0, 1, ...) may run this on one study at once; after each of
    its trials, this one writes the table and reports every trial finished since."""
    started, reported = time.monotonic(), set() if reported is None else reported
    while True:
        if search.stop.requested():  # asked between two trials, or while one was scored
            raise search_interrupted(search, "between two trials")
        left = max_time - (time.monotonic() - started) if max_time else math.inf
        if left <= 0:
            return "max_time"
        with _in_turn(search.journal):  # no two processes count and start at once
            counted = [t for t in study.get_trials(deepcopy=False) if not cut_short(t)]
            if sum(t.state.name != "WAITING" for t in counted) >= trials:
                return "trials"
            # seeded by the number of trials before it, not counting those cut short (run
            # again), the sampler draws in a resumed search as in one never interrupted
            study.sampler = optuna.samplers.TPESampler(seed=int(np.random.SeedSequence(
                [search.seed, len(counted), worker]).generate_state(1)[0]))
            trial = study.ask()
        _trial(optuna, study, trial, search, left)
        report(study, table, on_trial, reported, trials)


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


def run_in_parallel(optuna: Any, study: Any, search: Search, trials: int,
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
        stopped = run_trials(optuna, study, search, trials, max_time, 0, table, on_trial,
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
    optuna = load_optuna()
    study = optuna.load_study(study_name=STUDY, storage=storage(search.journal))
    stop = StopRequest()
    with handle_signals(stop), stop.deferred():  # never cut off inside a journal write
        try:
            run_trials(optuna, study, dataclasses.replace(search, stop=stop), trials,
                        max_time, number)
        except Interrupted:
            pass


def search_interrupted(search: Search, when: str) -> Interrupted:
    """The interruption of a search, which says where its finished trials are."""
    kept = f"kept in {search.journal}" if search.journal else "lost (no output given)"
    return Interrupted(f"tune stopped {when}; the finished trials are {kept}",
                       None if search.journal is None else str(search.journal))


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
        raise search_interrupted(search, f"during trial {trial.number + 1}") from None
    except ForecastrError as exc:
        trial.set_user_attr("error", str(exc))
        trial.set_user_attr("seconds", time.perf_counter() - begun)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        log.warning("tune: trial %d failed: %s", trial.number + 1, exc)
        return
    trial.set_user_attr("seconds", time.perf_counter() - begun)
    study.tell(trial, scoring.mase(scored))
