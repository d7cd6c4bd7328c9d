"""The defaults study: how candidate configurations forecast real sample series.

For each dataset the last H steps of every series are held out; a model is fitted on the rest
and scored on the held-out steps (evaluate with one origin) beside seasonal naive. The score is
MASE relative to seasonal naive (below 1: the network earns its keep) and the fit time.

Run: python bench/defaults.py [--datasets a,b] [--candidates x,y] [--out bench/results]
Nothing is downloaded: every dataset is in sample_data/.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "sample_data"

# name -> (file, fit options that describe the file, horizon held out)
DATASETS: dict[str, tuple[str, dict, int]] = {
    "a10": ("single.csv", {}, 18),
    "visnights": ("wide.csv", {}, 8),
    "employment": ("employment.csv.gz", {}, 18),
    "prison": ("prison.csv.gz", {}, 8),
    "hourly": ("hourly.csv", {"targets": ("demand",),
                              "features": ("temperature", "workday")}, 48),
    "elecdemand": ("elecdemand.csv.gz", {"targets": ("demand",),
                                         "features": ("temperature", "workday")}, 96),
}

# name -> overrides of FitConfig's defaults
CANDIDATES: dict[str, dict] = {
    "defaults": {},
    "standard": {"scaler": "standard"},
    "batch64": {"batch_size": 64},
    "lr3e-3": {"lr": 3e-3},
    "calendar": {"calendar": True},
    "one-layer": {"layers": 1},
    "hidden32": {"hidden": 32},
    "lstm": {"cell": "lstm"},
    "many-to-many": {"mode": "many-to-many"},
    "no-highway": {"highway": False},
    "no-calendar": {"calendar": False},
    "small-data": {"batch_size": 64, "lr": 3e-3},
    "epoch4096": {"epoch_size": 4096},
}


def held_out(path: Path, horizon: int, options: dict) -> pd.DataFrame:
    """The file without the last `horizon` rows of each series."""
    frame = pd.read_csv(path)
    if "unique_id" in frame.columns:
        return frame[frame.groupby("unique_id").cumcount(ascending=False) >= horizon]
    return frame.iloc[:-horizon]


def study(datasets: list[str], candidates: list[str]) -> list[dict]:
    from forecastr import api
    from forecastr.config import FitConfig

    rows = []
    for name in datasets:
        file, options, horizon = DATASETS[name]
        with tempfile.TemporaryDirectory() as folder:
            history = Path(folder) / "history.csv"
            held_out(DATA / file, horizon, options).to_csv(history, index=False)
            for candidate in candidates:
                cfg = FitConfig(**{**options, "horizon": horizon, **CANDIDATES[candidate]})
                model = Path(folder) / f"{candidate}.fcst"
                started = time.perf_counter()
                fitted = api.fit(history, cfg, model)
                seconds = time.perf_counter() - started
                report = api.evaluate(model, DATA / file, folds=1)
                overall = report["overall"]
                rows.append({
                    "dataset": name, "candidate": candidate,
                    "relative_mase": round(overall["relative_mase"], 3),
                    "mase": round(overall["model"]["mase"], 3),
                    "seasonal_naive_mase": round(overall["seasonal_naive"]["mase"], 3),
                    "naive_mase": round(overall["naive"]["mase"], 3),
                    "smape": round(overall["model"]["smape"], 2),
                    "fit_seconds": round(seconds, 1),
                    "epochs": fitted.artifact.training["epochs_run"],
                    "windows_per_second": round(fitted.artifact.training["windows_per_second"]),
                    "overall": {method: {k: round(v, 4) for k, v in overall[method].items()}
                                for method in ("model", "naive", "seasonal_naive")},
                })
                print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    frame = pd.DataFrame(rows)
    relative = frame.pivot(index="candidate", columns="dataset", values="relative_mase")
    relative["mean"] = relative.mean(axis=1)
    seconds = frame.pivot(index="candidate", columns="dataset", values="fit_seconds")
    text = ("MASE relative to seasonal naive (lower is better; below 1 beats it)\n\n"
            + _table(relative.round(3)) + "\nFit seconds (2 CPU cores)\n\n" + _table(seconds))
    for row in rows:  # the evaluate table of every dataset with the default configuration
        if row["candidate"] == "defaults":
            metrics = pd.DataFrame(row["overall"]).rename_axis("metric")
            text += f"\n{row['dataset']}: the held-out last {DATASETS[row['dataset']][2]} " \
                    f"steps of every series\n\n" + _table(metrics.round(3))
    return text


def _table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join([frame.index.name or "", *map(str, frame.columns)]) + " |"
    rule = "|" + "---|" * (len(frame.columns) + 1)
    lines = [f"| {index} | " + " | ".join(str(v) for v in row) + " |"
             for index, row in zip(frame.index, frame.to_numpy())]
    return "\n".join([header, rule, *lines]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    rows = study(args.datasets.split(","), args.candidates.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "defaults.json").write_text(json.dumps(rows, indent=1) + "\n")
    (args.out / "defaults.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
