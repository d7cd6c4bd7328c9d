"""The product's time budgets, measured on this machine:

1. a default `forecastr fit` on 1,000 monthly series x 150 points (budget: 3 minutes on 2 cores),
2. `forecastr predict` of 10,000 series (budget: seconds, dominated by reading the CSV),
3. the start-up cost of `forecastr --help` (what cron jobs and shell completion pay).

The panels are generated here (seeded: level, trend, yearly season, noise), so nothing is
downloaded. Run: python bench/budgets.py [--series 1000] [--set key=value ...]
Writes bench/results/budgets.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def make_panel(series: int, length: int, seed: int = 0) -> pd.DataFrame:
    """Long-format monthly panel: every series has its own level, trend, season and noise."""
    rng = np.random.default_rng(seed)
    steps = np.arange(length)
    level = rng.uniform(10, 1000, (series, 1))
    trend = rng.normal(0, 0.004, (series, 1)) * level * steps
    phase = rng.uniform(0, 2 * np.pi, (series, 1))
    season = rng.uniform(0.05, 0.3, (series, 1)) * level * np.sin(2 * np.pi * steps / 12 + phase)
    values = level + trend + season + rng.normal(0, 0.05, (series, length)) * level
    return pd.DataFrame({
        "unique_id": np.repeat([f"s{s:05d}" for s in range(series)], length),
        "ds": np.tile(pd.date_range("2000-01-01", periods=length, freq="MS"), series),
        "y": values.reshape(-1).round(3)})


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--length", type=int, default=150)
    parser.add_argument("--predict-series", type=int, default=10_000)
    parser.add_argument("--set", action="append", default=[],
                        help="a FitConfig override as key=value (a JSON value), repeatable")
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        key, value = item.split("=", 1)
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    forecastr = [sys.executable, "-m", "forecastr"]
    with tempfile.TemporaryDirectory() as folder:
        data, model = Path(folder) / "panel.csv", Path(folder) / "panel.fcst"
        make_panel(args.series, args.length).to_csv(data, index=False)
        from forecastr import api
        from forecastr.config import FitConfig

        started = time.perf_counter()
        fitted = api.fit(data, FitConfig(**overrides), model)
        fit_seconds = time.perf_counter() - started
        big = Path(folder) / "many.csv"
        make_panel(args.predict_series, args.length, seed=1).to_csv(big, index=False)
        predict_seconds = timed([*forecastr, "predict", str(model), str(big), "-o",
                                 str(Path(folder) / "out.csv")])
        inspect_seconds = timed([*forecastr, "inspect", str(big), "--json"])
        help_seconds = min(timed([*forecastr, "--help"]) for _ in range(3))
    training = fitted.artifact.training
    result = {
        "fit": {"series": args.series, "length": args.length, "overrides": overrides,
                "wall_seconds": round(fit_seconds, 1), "epochs": training["epochs_run"],
                "best_epoch": training["best_epoch"], "stopped": training["stopped"],
                "train_windows": training["train_windows"],
                "windows_per_second": round(training["windows_per_second"]),
                "parameters": training["parameters"]},
        "predict": {"series": args.predict_series, "rows": args.predict_series * args.length,
                    "wall_seconds": round(predict_seconds, 2),
                    "inspect_same_file_seconds": round(inspect_seconds, 2)},
        "help_seconds": round(help_seconds, 3),
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "budgets.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
