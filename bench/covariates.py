"""What covariates are worth on real data. Victoria's electricity demand (fpp2's elecdemand,
bundled as sample_data/elecdemand.csv.gz) with temperature and a working-day flag, fitted
without covariates, with them as past features only, and with them known ahead
(--future-features), in both modes and over several seeds. And two panels with per-series
attributes (fpp3's prison: state, gender, legal status; us_employment: the BLS supersector),
fitted with and without --static-features and --id-embedding.

The half-hourly data are aggregated to days (demand summed, temperature at its daily
maximum, the working-day flag as it is) and to hours (means); the last weeks are held out,
never seen by fit, and scored with `evaluate` from rolling origins inside them. Temperature
known ahead stands for a perfect weather forecast (as the fpp textbooks use it); the
working-day flag is truly known ahead.

Run: python bench/covariates.py [--seeds 2] [--sets daily,hourly,prison,employment];
writes bench/results/covariates.md and .json (covariates_<sets>.* for a subset).
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

from bench import report  # noqa: E402
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
ALL = "daily,hourly,prison,employment"


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


def prison() -> pd.DataFrame:
    """fpp3's prison: 32 quarterly series whose ids are state/gender/legal status."""
    frame = pd.read_csv(ROOT / "sample_data" / "prison.csv.gz")
    parts = frame.unique_id.str.split("/", expand=True)
    return frame.assign(state=parts[0], gender=parts[1], legal=parts[2])


def employment() -> pd.DataFrame:
    """fpp3's us_employment: 148 monthly industries; a BLS series id CEUssiiiiiiDD holds its
    supersector in digits 4-5."""
    frame = pd.read_csv(ROOT / "sample_data" / "employment.csv.gz")
    return frame.assign(supersector="ss" + frame.unique_id.str[3:5])


# panel -> (data, its static columns, held-out steps per series, id embedding width)
PANELS = {"prison": (prison, ("state", "gender", "legal"), 8, 4),
          "employment": (employment, ("supersector",), 18, 8)}


def run_panel(name: str, seeds: int, folder: Path) -> dict:
    """No statics, the static features, an id embedding, both: scored on a held-out tail."""
    make, columns, held, width = PANELS[name]
    frame = make()
    full = folder / f"{name}.csv"
    frame.to_csv(full, index=False)
    head = frame[frame.groupby("unique_id").cumcount(ascending=False) >= held]
    head = head.to_csv(index=False).encode()
    variants = {"none": {}, "static": {"static_features": columns},
                "id embedding": {"id_embedding": width},
                "static + id": {"static_features": columns, "id_embedding": width}}
    rows = []
    for variant, options in variants.items():
        scores, seconds, naive = [], [], None
        for seed in range(seeds):
            cfg = FitConfig(seed=seed, device="cpu", **options)
            started = time.perf_counter()
            api.fit(io.BytesIO(head), cfg, folder / "m.fcst")
            seconds.append(time.perf_counter() - started)
            report = api.evaluate(folder / "m.fcst", full, folds=1)
            assert report["in_sample_forecasts"] == 0
            scores.append(report["overall"]["model"]["mase"])
            naive = report["overall"]["seasonal_naive"]["mase"]
        row = {"set": name, "mode": "many-to-one", "covariates": variant,
               "mase": statistics.mean(scores), "mase_per_seed": scores,
               "seasonal_naive_mase": naive, "fit_seconds": statistics.mean(seconds)}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return {"rows": rows, "points": len(frame), "held_out": held, "folds": 1, "step": held}


def run(name: str, seeds: int, folder: Path, modes: tuple[str, ...] = MODES) -> dict:
    make, shared, held, folds, step = SETS[name]
    frame = make()
    full = folder / f"{name}.csv"
    frame.to_csv(full, index=False)
    head = frame.iloc[:-held].to_csv(index=False).encode()
    rows = []
    for mode in modes:
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
    lines = ["# Covariates on real data (`python bench/covariates.py`)", "",
             f"{results['seeds']} seed{'s' if results['seeds'] != 1 else ''} per cell; MASE "
             "on the held-out tail (mean over seeds), "
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
    parser.add_argument("--sets", default=ALL)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    results = {"seeds": args.seeds, "sets": {}}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.sets.split(","):
            results["sets"][name] = (run_panel(name, args.seeds, Path(folder))
                                     if name in PANELS else
                                     run(name, args.seeds, Path(folder), tuple(args.modes)))
    stem = "covariates" if args.sets == ALL else f"covariates_{args.sets.replace(',', '_')}"
    if tuple(args.modes) != MODES:
        stem += "_" + "_".join(args.modes)
    report.save(args.out, stem, results, markdown(results).splitlines())


if __name__ == "__main__":
    main()
