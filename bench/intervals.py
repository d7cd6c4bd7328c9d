"""The study behind --interval-method's default: on every sample data set, hold out the last
two horizons of each series, fit with --intervals 80,95 by each method, and score the
intervals on the held-out tail with `evaluate` (two origins, one horizon apart).

Run: python bench/intervals.py [--epochs 30]; writes bench/results/intervals.md and .json.
Each series holds out at least 4 validation windows, more where the file has too few series
for the 19 windows that a 95 % conformal interval needs; both methods get the same options,
so only the way intervals are made differs.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forecastr import api  # noqa: E402
from forecastr.config import FitConfig  # noqa: E402
from forecastr.modelfile import artifact  # noqa: E402

DATASETS = ["single.csv", "wide.csv", "long.csv", "gaps.csv", "hourly.csv", "employment.csv.gz",
            "prison.csv.gz", "elecdemand.csv.gz"]


def held_out(path: Path, steps: int) -> bytes:
    """The file without the last `steps` rows of each series, as CSV bytes."""
    frame = pd.read_csv(path)
    if "unique_id" in frame.columns:
        frame = frame[frame.groupby("unique_id").cumcount(ascending=False) >= steps]
    else:
        frame = frame.iloc[:-steps]
    return frame.to_csv(index=False).encode()


def study(name: str, epochs: int, folder: Path) -> dict:
    path = ROOT / "sample_data" / name
    info = api.inspect(path)
    horizon = info["windows"]["horizon"]
    rows = {}
    for method in ("conformal", "quantile"):
        cfg = FitConfig(intervals=(80, 95), interval_method=method, epochs=epochs,
                        val_windows=max(4, -(-19 // info["n_series"])), device="cpu")
        started = time.perf_counter()
        fitted = api.fit(io.BytesIO(held_out(path, 2 * horizon)), cfg)
        model = folder / f"{name}.{method}.fcst"
        artifact.save(model, fitted.artifact)
        report = api.evaluate(model, path, folds=2, step=horizon, horizon=horizon)
        scores = report["overall"]["model"]
        rows[method] = {"seconds": time.perf_counter() - started, "mase": scores["mase"],
                        "intervals": scores["intervals"], "quantiles": scores["quantiles"],
                        "forecasts": report["forecasts"]}
        print(name, method, {k: (v["coverage"], v["scaled_width"])
                             for k, v in scores["intervals"].items()}, file=sys.stderr,
              flush=True)
    return {"horizon": horizon, "series": info["n_series"], **rows}


def markdown(results: dict) -> str:
    lines = ["# Interval methods on the sample data", "",
             "Coverage of the held-out tail (two origins per series) and mean width scaled by "
             "the seasonal naive MAE.", "",
             "| data | series x origins | method | 80 % coverage | 80 % width | 95 % coverage "
             "| 95 % width | MASE |", "|---|---|---|---|---|---|---|---|"]
    for name, result in results.items():
        for method in ("conformal", "quantile"):
            r = result[method]
            i80, i95 = r["intervals"]["80"], r["intervals"]["95"]
            lines.append(f"| {name} | {r['forecasts']} | {method} | {100 * i80['coverage']:.1f}"
                         f" | {i80['scaled_width']:.2f} | {100 * i95['coverage']:.1f} | "
                         f"{i95['scaled_width']:.2f} | {r['mase']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--only", default=",".join(DATASETS))
    args = parser.parse_args()
    folder = ROOT / "bench" / "out" / "intervals"
    folder.mkdir(parents=True, exist_ok=True)
    out = ROOT / "bench" / "results"
    saved = out / "intervals.json"
    results = json.loads(saved.read_text()) if saved.exists() else {}
    for name in args.only.split(","):
        results[name] = study(name, args.epochs, folder)
        saved.write_text(json.dumps(results, indent=2) + "\n")  # each set as it finishes
    results = {name: results[name] for name in DATASETS if name in results}
    (out / "intervals.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "intervals.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
