"""Time a default `forecastr fit` on a panel of 1,000 monthly series x 150 points.

The panel is generated here (seeded: trend + yearly season + noise, different levels), so the
benchmark downloads nothing. Run: python bench/fit_budget.py [--series N] [--length T] [flags]
Prints wall time, epochs, and training throughput in windows per second.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_panel(series: int, length: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    steps = np.arange(length)
    frames = []
    for s in range(series):
        level = rng.uniform(10, 1000)
        trend = rng.normal(0, 0.004) * level * steps
        season = rng.uniform(0.05, 0.3) * level * np.sin(2 * np.pi * steps / 12 + rng.uniform(0, 6))
        noise = rng.normal(0, 0.05 * level, length)
        frames.append(pd.DataFrame({"unique_id": f"s{s:04d}",
                                    "ds": pd.date_range("2000-01-01", periods=length, freq="MS"),
                                    "y": np.round(level + trend + season + noise, 3)}))
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--length", type=int, default=150)
    parser.add_argument("--set", action="append", default=[],
                        help="a FitConfig override as key=value (JSON value), repeatable")
    args = parser.parse_args()
    from forecastr import api
    from forecastr.config import FitConfig

    overrides = {k: json.loads(v) if v[:1] in "0123456789[{tf-." else v
                 for k, v in (item.split("=", 1) for item in args.set)}
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "panel.csv"
        make_panel(args.series, args.length).to_csv(data, index=False)
        started = time.perf_counter()
        result = api.fit(data, FitConfig(**overrides), Path(folder) / "panel.fcst")
        wall = time.perf_counter() - started
    training = result.artifact.training
    print(json.dumps({"series": args.series, "length": args.length, "overrides": overrides,
                      "wall_seconds": round(wall, 1), "epochs": training["epochs_run"],
                      "best_epoch": training["best_epoch"], "stopped": training["stopped"],
                      "train_windows": training["train_windows"],
                      "windows_per_second": round(training["windows_per_second"]),
                      "best_loss": round(training["best_loss"], 4)}))


if __name__ == "__main__":
    main()
