"""Default fits of sub-daily public series, step by step and in segments: how long fit takes
on this machine, and the MASE of the held-out horizon against seasonal naive.

The series: Victoria's half-hourly electricity demand of 2014 (fpp2's elecdemand, bundled as
sample_data/elecdemand.csv.gz, 17,520 points) and its hourly means (8,760 points). Each is
fitted with forecastr's defaults on all but its last horizon, then scored on that horizon by
`evaluate` (one origin), beside seasonal naive; `--segment` is the only option that varies.

Run: python bench/subdaily.py [--segments 1,day]; writes bench/results/subdaily_fit.md and
.json.
"""

from __future__ import annotations

import argparse
import io
import json
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
STEPS_PER_DAY = {"half-hourly": 48, "hourly": 24}


def series(name: str) -> pd.DataFrame:
    frame = pd.read_csv(SOURCE, parse_dates=["time"])
    if name == "hourly":
        hours = frame.time.dt.floor("h")
        frame = frame.drop(columns="time").groupby(hours).mean().rename_axis("time")
        frame = frame.reset_index()
    return frame


def run(name: str, segment: int, folder: Path) -> dict:
    frame = series(name)
    full = folder / f"{name}.csv"
    frame.to_csv(full, index=False)
    horizon = api.inspect(full, FitConfig(targets=("demand",)))["windows"]["horizon"]
    head = frame.iloc[:-horizon].to_csv(index=False).encode()
    cfg = FitConfig(targets=("demand",), segment=segment)
    started = time.perf_counter()
    fitted = api.fit(io.BytesIO(head), cfg, folder / "m.fcst")
    seconds = time.perf_counter() - started
    report = api.evaluate(folder / "m.fcst", full, folds=1)
    overall = report["overall"]
    return {"series": name, "points": len(frame), "window": fitted.artifact.window,
            "horizon": horizon, "segment": segment, "fit_seconds": seconds,
            "steps": fitted.artifact.training["steps"],
            "stopped": fitted.artifact.training["stopped"],
            "windows_per_second": fitted.artifact.training["windows_per_second"],
            "mase": overall["model"]["mase"],
            "seasonal_naive_mase": overall["seasonal_naive"]["mase"],
            "relative_mase": overall["relative_mase"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", default="1,day",
                        help="segment lengths to fit with; 'day' is a day of steps")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, day in STEPS_PER_DAY.items():
            for text in args.segments.split(","):
                row = run(name, day if text == "day" else int(text), Path(folder))
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    lines = ["# Default fits of sub-daily series (`python bench/subdaily.py`)", "",
             "Defaults except `--segment`; fitted on all but the last horizon, scored on it.",
             "", "| series | points | window | horizon | segment | fit s | steps | windows/s "
             "| MASE | seasonal naive | relative |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['series']} | {r['points']:,} | {r['window']} | {r['horizon']} | "
              f"{r['segment']} | {r['fit_seconds']:.0f} | {r['steps']} | "
              f"{r['windows_per_second']:,.0f} | {r['mase']:.3f} | "
              f"{r['seasonal_naive_mase']:.3f} | {r['relative_mase']:.3f} |" for r in rows]
    report.save(args.out, "subdaily_fit", rows, lines)


if __name__ == "__main__":
    main()
