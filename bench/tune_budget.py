"""What `forecastr tune` of a fixed budget gains over the defaults, against the same time spent
on a larger ensemble of defaults (issue 28), set by set on a half of bench/accuracy.py.

For each set, on the same held-out horizon as bench/accuracy.py, in this one process:
1. the defaults, fitted with seeds 0 and 1 (the spread of the defaults with the seed alone);
2. `forecastr tune` of --trials trials or --max-time seconds (whichever ends first; its time
   includes the refit of the best options on the whole history);
3. the defaults with `ensemble` K, K the tune's time over the seed-0 fit's time (at least 2, at
   most --max-ensemble): an ensemble trains its networks side by side on the same batches, so
   it usually takes less than K fits' time; its measured time is reported beside the tune's.

Run: python bench/tune_budget.py [--half development] [--sets a,b] [--trials 20]
     [--max-time 300] [--out DIR] [--join A.json B.json ...]
Writes DIR/tune_budget.md and .json (default bench/out/tune_budget); runs of some sets each
(e.g. two processes, a core each) are joined with --join. Needs forecastr[bench,tune].
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, bench/ is not a package on the path

from bench.accuracy import REFERENCES, WORK, geometric_mean, run_set  # noqa: E402
from bench.accuracy_data import SETS, in_half  # noqa: E402
from bench.accuracy_report import environment  # noqa: E402
from forecastr.config import FitConfig  # noqa: E402

SEEDS = (0, 1)
RUNS = ("seed0", "seed1", "tune", "ensemble")


def measure_set(name: str, trials: int, max_time: float, max_ensemble: int,
                folder: Path) -> dict[str, Any]:
    """One set's row: each run's MASE, fit seconds and the details of the tune and ensemble."""
    base = dataclasses.replace(FitConfig(), device="cpu")
    runs: dict[str, dict[str, Any]] = {}
    for run in RUNS:
        (folder / run).mkdir(parents=True, exist_ok=True)
    for seed in SEEDS:
        runs[f"seed{seed}"] = run_set(name, dataclasses.replace(base, seed=seed), True, False,
                                      folder / f"seed{seed}")
    for stale in (folder / "tune").glob(f"{name}.fcst*"):  # a search starts afresh
        stale.unlink()
    runs["tune"] = run_set(name, base, True, False, folder / "tune", (trials, max_time))
    seconds = {run: row["methods"]["forecastr"]["fit_seconds"] for run, row in runs.items()}
    members = min(max_ensemble, max(2, round(seconds["tune"] / seconds["seed0"])))
    runs["ensemble"] = run_set(name, dataclasses.replace(base, ensemble=members), True, False,
                               folder / "ensemble")
    methods = runs["seed0"]["methods"]
    tune = runs["tune"]["forecastr"]["tune"]
    return {"name": name, "half": runs["seed0"]["half"], "freq": runs["seed0"]["freq"],
            "series": runs["seed0"]["series"], "horizon": runs["seed0"]["horizon"],
            "references": {m: methods[m]["mase"] for m in ("snaive", "theta", *REFERENCES)},
            "runs": {run: {"mase": row["methods"]["forecastr"]["mase"],
                           "fit_seconds": row["methods"]["forecastr"]["fit_seconds"]}
                     for run, row in runs.items()},
            "tune": {key: tune[key] for key in ("trials", "stopped", "best_trial",
                                                 "best_options", "best_score",
                                                 "defaults_score")},
            "ensemble_members": members}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Geometric means over sets of each run's MASE over the defaults' (the geometric mean of
    seeds 0 and 1) and over the better of AutoETS and AutoTheta; where the tune won."""
    def defaults(row: dict[str, Any]) -> float:
        return geometric_mean([row["runs"][f"seed{s}"]["mase"] for s in SEEDS])

    def best(row: dict[str, Any]) -> float:
        return min(row["references"][r] for r in REFERENCES)

    over_defaults = {run: geometric_mean([r["runs"][run]["mase"] / defaults(r) for r in rows])
                     for run in RUNS}
    over_best = {run: geometric_mean([r["runs"][run]["mase"] / best(r) for r in rows])
                 for run in RUNS}
    over_best["defaults"] = geometric_mean([defaults(r) / best(r) for r in rows])
    return {"sets": len(rows), "over_defaults": over_defaults, "over_best_reference": over_best,
            "tune_beats_defaults": sum(r["runs"]["tune"]["mase"] < defaults(r) for r in rows),
            "ensemble_beats_defaults": sum(r["runs"]["ensemble"]["mase"] < defaults(r)
                                           for r in rows),
            "tune_beats_ensemble": sum(r["runs"]["tune"]["mase"] < r["runs"]["ensemble"]["mase"]
                                       for r in rows),
            "tune_holdout_beats_defaults_holdout": sum(
                r["tune"]["defaults_score"] is not None
                and r["tune"]["best_score"] < r["tune"]["defaults_score"] for r in rows),
            "seconds": {run: round(sum(r["runs"][run]["fit_seconds"] for r in rows), 1)
                        for run in RUNS}}


def markdown(result: dict[str, Any]) -> str:
    total, budget = result["summary"], result["budget"]
    lines = [
        "# forecastr tune against the defaults and a same-time ensemble", "",
        f"{result['environment']['date']}, `{result['environment']['command']}`", "",
        f"Tune: {budget['trials']} trials or {budget['max_time']:g} s of search per set (its "
        "time includes the refit), one thread in one process; ensemble: the defaults with K "
        "networks, K = the tune's time over the seed-0 fit's (2 to "
        f"{budget['max_ensemble']}). MASE on the last horizon of every series, as in "
        "bench/accuracy.py; *defaults* is the geometric mean of seeds 0 and 1.", "",
        "| set | series | defaults s0 / s1 | tune | ensemble (K) | tune / defaults | "
        "ensemble / defaults | best reference | fit s: s0, tune, ensemble | tune trials |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in result["sets"]:
        runs = row["runs"]
        defaults = geometric_mean([runs[f"seed{s}"]["mase"] for s in SEEDS])
        best = min(row["references"][r] for r in REFERENCES)
        lines.append(
            f"| {row['name']} | {row['series']} | {runs['seed0']['mase']:.3f} / "
            f"{runs['seed1']['mase']:.3f} | {runs['tune']['mase']:.3f} | "
            f"{runs['ensemble']['mase']:.3f} ({row['ensemble_members']}) | "
            f"{runs['tune']['mase'] / defaults:.3f} | {runs['ensemble']['mase'] / defaults:.3f}"
            f" | {best:.3f} | {runs['seed0']['fit_seconds']:.0f}, "
            f"{runs['tune']['fit_seconds']:.0f}, {runs['ensemble']['fit_seconds']:.0f} | "
            f"{row['tune']['trials']} ({row['tune']['stopped']}) |")
    over, best = total["over_defaults"], total["over_best_reference"]
    lines += [
        "", f"Over {total['sets']} sets (geometric means):", "",
        f"- over the defaults: seed 0 {over['seed0']:.3f}, seed 1 {over['seed1']:.3f}, "
        f"tune {over['tune']:.3f}, ensemble {over['ensemble']:.3f};",
        f"- over the better of AutoETS and AutoTheta: defaults {best['defaults']:.3f}, tune "
        f"{best['tune']:.3f}, ensemble {best['ensemble']:.3f};",
        f"- tune better than the defaults on {total['tune_beats_defaults']} sets, the ensemble "
        f"on {total['ensemble_beats_defaults']}; tune better than the ensemble on "
        f"{total['tune_beats_ensemble']};",
        f"- the tune's own validation score beat the defaults' trial on "
        f"{total['tune_holdout_beats_defaults_holdout']} sets;",
        f"- fit seconds in all: seed 0 {total['seconds']['seed0']:.0f}, tune "
        f"{total['seconds']['tune']:.0f}, ensemble {total['seconds']['ensemble']:.0f}.", ""]
    return "\n".join(lines)


def write(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "tune_budget.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "tune_budget.md").write_text(markdown(result))
    print(f"wrote {out / 'tune_budget'}.md and .json", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python bench/tune_budget.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--half", choices=("development", "held-out"), default="development")
    parser.add_argument("--sets", help="comma-separated sets [default: every set of --half]")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--max-time", type=float, default=300.0, help="tune's search bound")
    parser.add_argument("--max-ensemble", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "tune_budget")
    parser.add_argument("--join", nargs="+", type=Path, metavar="JSON",
                        help="join runs of some sets each into one report; nothing is fitted")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "bench/tune_budget.py", *argv])
    if args.join:
        runs = [json.loads(path.read_text()) for path in args.join]
        rows = [row for run in runs for row in run["sets"]]
        write({**runs[0], "environment": {**runs[0]["environment"], "command": command},
               "summary": summarise(rows), "sets": rows}, args.out)
        return
    names = args.sets.split(",") if args.sets else [n for n in SETS if in_half(n, args.half)]
    unknown = [n for n in names if n not in SETS or not in_half(n, args.half)]
    if unknown:
        parser.error(f"--sets: {unknown} are not sets of the {args.half} half")
    header = {"environment": {**environment({}, argv), "command": command},
              "budget": {"trials": args.trials, "max_time": args.max_time,
                         "max_ensemble": args.max_ensemble}}
    rows = []
    for name in names:  # the report is written after each set: a set that fails loses no other
        started = time.perf_counter()
        rows.append(measure_set(name, args.trials, args.max_time, args.max_ensemble,
                                WORK / "models" / "tune_budget"))
        runs = rows[-1]["runs"]
        print(f"{name}: defaults {runs['seed0']['mase']:.3f}/{runs['seed1']['mase']:.3f}, tune "
              f"{runs['tune']['mase']:.3f}, ensemble {runs['ensemble']['mase']:.3f} "
              f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
        write({**header, "summary": summarise(rows), "sets": rows}, args.out)


if __name__ == "__main__":
    main()
