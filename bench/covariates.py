"""What covariates are worth on real data: Victoria's electricity demand (fpp2's elecdemand,
bundled as sample_data/elecdemand.csv.gz) with temperature and a working-day flag, fitted
without covariates, with them as past features only, and with them known ahead
(--future-features), in both modes and over several seeds.

The half-hourly data are aggregated to days (demand summed, temperature at its daily
maximum, the working-day flag as it is) and to hours (means); the last weeks are held out,
never seen by fit, and scored with `evaluate` from rolling origins inside them. Temperature
known ahead stands for a perfect weather forecast (as the fpp textbooks use it); the
working-day flag is truly known ahead.

Run: python bench/covariates.py [--seeds 3] [--sets daily,hourly]; writes
bench/results/covariates.md and .json.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forecastr import api  # noqa: E402
from forecastr.config import FitConfig  # noqa: E402

SOURCE = ROOT / "sample_data" / "elecdemand.csv.gz"
VARIANTS = {
    "none": {},
    "past": {"features": ("temperature", "workday")},
    "workday ahead": {"features": ("temperature",), "future_features": ("workday",)},
    "both ahead": {"future_features": ("temperature", "workday")},
}
MODES = ("many-to-one", "many-to-many")


def daily() -> pd.DataFrame:
    frame = pd.read_csv(SOURCE, parse_dates=["time"])
    days = frame.groupby(frame.time.dt.floor("D"))
    return pd.DataFrame({"demand": days.demand.sum(), "temperature": days.temperature.max(),
                         "workday": days.workday.first()}).rename_axis("time").reset_index()


def hourly() -> pd.DataFrame:
    frame = pd.read_csv(SOURCE, parse_dates=["time"])
    hours = frame.groupby(frame.time.dt.floor("h"))
    return pd.DataFrame({"demand": hours.demand.mean(),
                         "temperature": hours.temperature.mean(),
                         "workday": hours.workday.first()}).rename_axis("time").reset_index()


# set -> (data, options shared by every fit, held-out steps, folds, step between origins)
SETS = {
    "daily": (daily, {}, 56, 4, 14),
    "hourly": (hourly, {}, 7 * 24, 3, 48),
}


def run(name: str, seeds: int, folder: Path) -> dict:
    make, shared, held, folds, step = SETS[name]
    frame = make()
    full = folder / f"{name}.csv"
    frame.to_csv(full, index=False)
    head = frame.iloc[:-held].to_csv(index=False).encode()
    rows = []
    for mode in MODES:
        for variant, options in VARIANTS.items():
            scores, naive, seconds = [], None, []
            for seed in range(seeds):
                cfg = FitConfig(targets=("demand",), mode=mode, seed=seed, device="cpu",
                                **shared, **options)
                started = time.perf_counter()
                api.fit(io.BytesIO(head), cfg, folder / "m.fcst")
                seconds.append(time.perf_counter() - started)
                report = api.evaluate(folder / "m.fcst", full, folds=folds, step=step)
                assert report["in_sample_forecasts"] == 0
                scores.append(report["overall"]["model"]["mase"])
                naive = report["overall"]["seasonal_naive"]["mase"]
            row = {"set": name, "mode": mode, "covariates": variant,
                   "mase": statistics.mean(scores), "mase_per_seed": scores,
                   "seasonal_naive_mase": naive, "fit_seconds": statistics.mean(seconds)}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return {"rows": rows, "points": len(frame), "held_out": held, "folds": folds,
            "step": step}


def markdown(results: dict) -> str:
    lines = ["# Covariates on Victoria's electricity demand (`python bench/covariates.py`)", "",
             f"{results['seeds']} seeds per cell; MASE on the held-out tail (mean over seeds), "
             "against seasonal naive's on the same origins; mean fit time.", ""]
    for name, block in results["sets"].items():
        lines += [f"## {name}: {block['points']} points, last {block['held_out']} held out, "
                  f"{block['folds']} origins {block['step']} steps apart", "",
                  "| mode | covariates | MASE | per seed | seasonal naive | fit s |",
                  "|---|---|---|---|---|---|"]
        for row in block["rows"]:
            seeds = ", ".join(f"{s:.3f}" for s in row["mase_per_seed"])
            lines.append(f"| {row['mode']} | {row['covariates']} | {row['mase']:.3f} | "
                         f"{seeds} | {row['seasonal_naive_mase']:.3f} | "
                         f"{row['fit_seconds']:.1f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--sets", default="daily,hourly")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    results = {"seeds": args.seeds, "sets": {}}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.sets.split(","):
            results["sets"][name] = run(name, args.seeds, Path(folder))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "covariates" if args.sets == "daily,hourly" else f"covariates_{args.sets}"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
