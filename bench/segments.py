"""The study behind the sub-daily default of `--segment`: step-by-step recurrence against
segments of a day, from four origins per series so that no one season or holiday decides.

The series: Victoria's half-hourly demand of 2014 and its hourly means (fpp2's elecdemand,
bundled; origins at the ends of March, June, September and December), and England and Wales'
half-hourly demand of June to August 2000 (forecast's taylor, the accuracy benchmark's
half-hourly set; origins two weeks apart). At each origin a model is fitted on the data up to
one horizon before it and scored on that horizon by `evaluate`, beside seasonal naive. Only
`--segment` differs from forecastr's defaults.

Run: python bench/segments.py [--seeds 1]; writes bench/results/segments.md and .json.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from bench.accuracy_data import taylor  # noqa: E402
from bench.subdaily import series  # noqa: E402
from forecastr import api  # noqa: E402
from forecastr.config import FitConfig  # noqa: E402

ELECDEMAND_ORIGINS = ("2014-04-01", "2014-07-01", "2014-10-01", "2014-12-31")
# series -> (frame of `time, demand`, steps per day, origins)
STUDIES = {
    "half-hourly": (lambda: series("half-hourly"), 48, ELECDEMAND_ORIGINS),
    "hourly": (lambda: series("hourly"), 24, ELECDEMAND_ORIGINS),
    "taylor (half-hourly)": (
        lambda: taylor().rename(columns={"ds": "time", "y": "demand"})[["time", "demand"]],
        48, ("2000-07-31", "2000-08-14", "2000-08-21", "2000-08-28")),
}


def variants(day: int) -> dict[str, dict]:
    return {"step by step": {"segment": 1}, "segments of a day": {"segment": day}}


def run(name: str, seeds: int, folder: Path) -> list[dict]:
    load, day, origins = STUDIES[name]
    frame = load()
    horizon = api.inspect(io.BytesIO(frame.to_csv(index=False).encode()),
                          FitConfig(targets=("demand",)))["windows"]["horizon"]
    rows = []
    for variant, options in variants(day).items():
        scores, naive, seconds = [], [], 0.0
        for origin in origins:
            upto = frame[frame.time < pd.Timestamp(origin)]  # the origin's horizon at its end
            scored = folder / "scored.csv"
            upto.to_csv(scored, index=False)
            head = upto.iloc[:-horizon].to_csv(index=False).encode()
            for seed in range(seeds):
                started = time.perf_counter()
                api.fit(io.BytesIO(head), FitConfig(targets=("demand",), seed=seed, **options),
                        folder / "m.fcst")
                seconds += time.perf_counter() - started
                overall = api.evaluate(folder / "m.fcst", scored, folds=1)["overall"]
                scores.append(overall["model"]["mase"])
                naive.append(overall["seasonal_naive"]["mase"])
        row = {"series": name, "variant": variant, "horizon": horizon, "origins": origins,
               "mase": statistics.mean(scores), "seasonal_naive_mase": statistics.mean(naive),
               "mase_per_fit": scores, "fit_seconds": seconds / len(scores)}
        row["relative_mase"] = row["mase"] / row["seasonal_naive_mase"]
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--series", default=",".join(STUDIES),
                        help=f"comma-separated, of: {', '.join(STUDIES)}")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = [row for name in args.series.split(",")
                for row in run(name, args.seeds, Path(folder))]
    lines = ["# Segments for sub-daily data (`python bench/segments.py`)", "",
             f"Four origins per series ({', '.join(ELECDEMAND_ORIGINS)} for elecdemand, "
             f"{', '.join(STUDIES['taylor (half-hourly)'][2])} for taylor); {args.seeds} "
             "seed(s); MASE averaged over origins and seeds, seasonal naive's on the same "
             "horizons; mean fit time.", "",
             "| series | variant | MASE | seasonal naive | relative | per origin | fit s |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['series']} | {r['variant']} | {r['mase']:.3f} | "
              f"{r['seasonal_naive_mase']:.3f} | {r['relative_mase']:.3f} | "
              f"{', '.join(f'{m:.2f}' for m in r['mase_per_fit'])} | {r['fit_seconds']:.1f} |"
              for r in rows]
    report.save(args.out, "segments", rows, lines)


if __name__ == "__main__":
    main()
