"""The trials of a search as `forecastr tune` shows them: a record per trial read from the
study, the table of every trial (CSV or JSON lines), and the report of those finished."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forecastr.data.writer import render_bytes, write_bytes


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


def cut_short(trial: Any) -> bool:
    """A trial stopped by a signal or a killed process: failed without an error."""
    return trial.state.name == "FAIL" and "error" not in trial.user_attrs


def records(study: Any) -> list[TrialRecord]:
    states = {"COMPLETE": "complete", "FAIL": "failed", "RUNNING": "running",
              "PRUNED": "failed"}
    return [TrialRecord(t.number + 1, "cut short" if cut_short(t) else states[t.state.name],
                        t.value, t.user_attrs.get("seconds"),
                        dict(t.params), t.user_attrs.get("error"),
                        bool(t.user_attrs.get("defaults")))
            for t in study.get_trials(deepcopy=False) if t.state.name != "WAITING"]


def report(study: Any, table: Path | None,
           on_trial: Callable[[TrialRecord, int], None] | None, reported: set[int],
           trials: int) -> list[TrialRecord]:
    """Rewrite the table, and report the trials finished since the last report."""
    every = records(study)
    if table is not None:
        write_table(every, table)
    for record in every:
        if record.state in ("complete", "failed") and record.number not in reported:
            reported.add(record.number)
            if on_trial is not None:
                on_trial(record, trials)
    return every


def write_table(records: list[TrialRecord], path: str | Path) -> None:
    """Every trial, one row each (its number, state, score, seconds, error, then its
    options), atomically as CSV, or as JSON lines (one object per trial, as predict
    writes JSON) where the name ends in .json."""
    import pandas as pd

    rows = [{"trial": r.number, "state": r.state, "mase": r.score, "seconds": r.seconds,
             "defaults": r.defaults, "error": r.error or "", **r.options} for r in records]
    fmt = "json" if str(path).endswith(".json") else "csv"
    write_bytes(render_bytes(pd.DataFrame(rows), fmt), path)
